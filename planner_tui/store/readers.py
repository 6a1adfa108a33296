"""Reading a snapshot's table files into DuckDB: CSV and JSON as text into a raw table (the loader casts
them to the contract's types), Parquet described in place; file column names made safe to use in SQL.

Everything here fails with `Unreadable` (the file cannot be parsed at all, with the row when known) or
`SkipTable` (its problems are already recorded); the loader turns both into problems of the snapshot.
"""

from __future__ import annotations

import csv
import json
import os
import re
from pathlib import Path

import duckdb
import pyarrow as pa

from planner_tui.store.contract import Table
from planner_tui.store.sources import HALF_CHARACTER, is_text
from planner_tui.store.validate import q


class Unreadable(Exception):
    """A file that cannot be parsed at all (bad CSV, bad JSON, bad Parquet)."""

    def __init__(self, message: str, row: int | None = None):
        super().__init__(message)
        self.row = row


class SkipTable(Unreadable):
    """A table whose problems are already recorded (missing columns): nothing more to read or check."""

    def __init__(self):
        super().__init__("")


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


IGNORED = "_ignored_"
# Names DuckDB gives a meaning of its own; a file column named so is ignored rather than shadowing it.
RESERVED = {"rowid", "file_row_number"}


def safe_names(header: list[str], t: Table) -> list[str]:
    """The file's column names, with unusable ones (empty, duplicated ignoring case, reserved) renamed
    to our own placeholder so they are ignored."""
    contract = {c.lower(): c for c in t.column_names}
    seen: set[str] = set()
    names = []
    for i, name in enumerate(header):
        key = name.lower()
        clash = contract.get(key) not in (None, name)  # e.g. "Machine_ID" beside the contract's machine_id
        if not name.strip() or key in seen or key in RESERVED or clash:
            names.append(f"{IGNORED}{i}")
        else:
            names.append(name)
        seen.add(key)
    return names


def extra_columns(t: Table, names: list[str]) -> list[str]:
    contract = set(t.column_names)
    return [n for n in names if n not in contract and not n.startswith(IGNORED)]


def parquet_source(cur: duckdb.DuckDBPyConnection, path: Path):
    try:
        described = cur.execute("DESCRIBE SELECT * FROM read_parquet(?)", [str(path)]).fetchall()
    except duckdb.Error as exc:
        raise Unreadable(f"cannot read the Parquet file: {first_line(exc)}") from None
    names = [r[0] for r in described]
    types = {r[0]: r[1] for r in described}
    if any(n.lower() in RESERVED for n in names):
        raise Unreadable("a column is named rowid or file_row_number: rename it in the extract")
    return "read_parquet(?, file_row_number = true)", [str(path)], names, types


def read_text_into(cur: duckdb.DuckDBPyConnection, t: Table, path: Path, raw: str) -> tuple[list[str], list[str]]:
    """Read a CSV or JSON file as text (every value VARCHAR) into the raw staging table `raw`.

    Returns the raw table's column names and the file's own (they differ where a name is unusable)."""
    suffix = path.suffix.lower()
    header: list[str]  # the file's column names, in its order
    if suffix == ".csv":
        header = _csv_header(path)
        names = safe_names(header, t)
        sizes, size_params = _csv_sizes(path)
        try:
            cur.execute(
                f"CREATE TABLE {q(raw)} AS SELECT * FROM read_csv(?, columns = ?, header = true, "
                "auto_detect = false, delim = ',', quote = '\"', escape = '\"', skip = 0, "
                f"strict_mode = true, encoding = 'utf-8'{sizes})",
                [str(path), {n: "VARCHAR" for n in names}, *size_params],
            )
        except duckdb.Error as exc:
            raise Unreadable(_csv_error(exc)) from None
        return names, header
    records = _json_records(path, lines=suffix == ".jsonl")
    if not records:
        # An empty JSON array cannot name its columns: it is an empty table with the contract's.
        cur.execute(f"CREATE TABLE {q(raw)} ({', '.join(f'{q(c)} VARCHAR' for c in t.column_names)})")
        return list(t.column_names), list(t.column_names)
    header = []
    seen: set[str] = set()
    for record in records:
        for key in record:
            if key not in seen:
                seen.add(key)
                header.append(key)
    if not header:
        raise Unreadable("the JSON objects have no fields: each row needs the table's columns")
    for key in header:
        if not is_text(key):
            raise Unreadable(f"a field name is not valid text ({key!r}): {HALF_CHARACTER}")
    names = safe_names(header, t)
    columns = {}
    for key, name in zip(header, names):
        values = []
        for row, record in enumerate(records, start=1):
            try:
                values.append(_json_text(record.get(key)))
            except (RecursionError, ValueError):  # a nested value too deep to write back as text
                raise Unreadable(f"the value of {key!r} is {_TOO_DEEP}", row=row) from None
        try:
            columns[name] = pa.array(values, type=pa.string())
        except UnicodeEncodeError:  # the rare case: find the row for the message
            row = next(i for i, v in enumerate(values, start=1) if v is not None and not is_text(v))
            raise Unreadable(f"the value of {key!r} is not valid text: {HALF_CHARACTER}", row=row) from None
    view = f"{raw}_arrow"
    cur.register(view, pa.table(columns))
    try:
        cur.execute(f"CREATE TABLE {q(raw)} AS SELECT * FROM {q(view)}")
    finally:
        cur.unregister(view)
    return names, header


def _csv_header(path: Path) -> list[str]:
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            header = next(csv.reader(f), None)
    except (UnicodeDecodeError, csv.Error, OSError) as exc:
        raise Unreadable(f"cannot read the CSV header: {exc}") from None
    if not header:
        raise Unreadable("the CSV file is empty: the first line must name the columns")
    if len(header) == 1:
        for separator, label in ((";", "semicolons"), ("\t", "tabs"), ("|", "bars")):
            if separator in header[0]:
                raise Unreadable(f"the columns are separated by {label}: a snapshot CSV is comma-separated")
    return [h.strip() for h in header]


# DuckDB reads a CSV row of at most max_line_size bytes (2 MB by default) through buffers of
# buffer_size; a longer row fails with advice meant for DuckDB's developers ("parallel = false",
# "unterminated quote"), and a last row longer than the buffer is silently dropped. So a row may be as
# long as its file, up to CSV_MAX_ROW, and the buffer is twice that: a longer row is then reported.
CSV_MAX_ROW = 64 << 20
_DUCKDB_MAX_LINE = 2_000_000  # DuckDB's default max_line_size
_TOO_LONG = f"a row is longer than {CSV_MAX_ROW >> 20} MiB, the most one CSV row may hold"


def _csv_sizes(path: Path) -> tuple[str, list[int]]:
    """read_csv's size options for `path` (SQL and parameters); a file whose last row could be lost
    unseen is checked here."""
    size = file_size(path)
    if size <= _DUCKDB_MAX_LINE:
        return "", []  # no row can be longer than DuckDB's default
    line = min(size + 2, CSV_MAX_ROW)
    if size > 2 * line and _last_line_length(path, line) > line:
        raise Unreadable(f"cannot read the CSV: its last line is too long: {_TOO_LONG}")
    return ", max_line_size = ?, buffer_size = ?", [line, 2 * line]


def _last_line_length(path: Path, limit: int) -> int:
    """The length of the file's last line (without its line break), counted up to just over `limit`."""
    step = 1 << 20
    length = 0
    at_end = True  # still in the file's closing line breaks
    with path.open("rb") as f:
        pos = f.seek(0, os.SEEK_END)
        while pos > 0 and length <= limit:
            start = max(0, pos - step)
            f.seek(start)
            chunk = f.read(pos - start)
            pos = start
            if at_end:
                chunk = chunk.rstrip(b"\r\n")
                if not chunk:
                    continue
                at_end = False
            cut = chunk.rfind(b"\n")
            if cut >= 0:
                return length + len(chunk) - cut - 1
            length += len(chunk)
    return length


_CSV_LINE = re.compile(r"CSV Error on Line: (\d+)")


def _csv_error(exc: duckdb.Error) -> str:
    text = str(exc)
    line = _CSV_LINE.search(text)
    where = f" at line {line.group(1)} of the file (the header is line 1)" if line else ""
    if "Maximum line size" in text or "parallel = false" in text:
        return f"cannot read the CSV{where}: {_TOO_LONG}"
    body = text.split("Possible fixes:")[0]
    lines = [ln.strip() for ln in body.splitlines() if ln.strip()]
    reason = next(
        (ln for ln in lines[1:] if not ln.startswith(("Original Line", "CSV Error"))),
        lines[0] if lines else "malformed",
    )
    return f"cannot read the CSV{where}: {reason}"


# Python's parser recurses once per nesting level: "[" * 100000 would end in a RecursionError.
_TOO_DEEP = "nested too deeply (arrays or objects inside each other, hundreds of levels deep)"


def _json_records(path: Path, *, lines: bool) -> list[dict]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise Unreadable(f"not UTF-8 text: {exc}") from None
    except OSError as exc:
        raise Unreadable(f"cannot read the file: {exc}") from None
    if lines:
        records = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except RecursionError:
                raise Unreadable(f"not valid JSON at line {number}: {_TOO_DEEP}", row=len(records) + 1) from None
            except ValueError as exc:
                raise Unreadable(f"not valid JSON at line {number}: {exc}", row=len(records) + 1) from None
    else:
        try:
            records = json.loads(text)
        except RecursionError:
            raise Unreadable(f"not valid JSON: {_TOO_DEEP}") from None
        except ValueError as exc:
            raise Unreadable(f"not valid JSON: {exc}") from None
        if not isinstance(records, list):
            raise Unreadable("expected a JSON array of objects (one object per row)")
    for i, record in enumerate(records, start=1):
        if not isinstance(record, dict):
            raise Unreadable("expected a JSON object (one per row)", row=i)
    return records


def _json_text(value: object) -> str | None:
    """A JSON value as the text a CSV would hold: the loader casts text to the contract's types."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return repr(value)
    return json.dumps(value, ensure_ascii=False)


def file_size(path: Path | None) -> int:
    try:
        return path.stat().st_size if path is not None else -1
    except OSError:
        return -1  # reading it will say what is wrong
