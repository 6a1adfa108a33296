"""Loading a plant snapshot into the store: read every table into staging, validate, swap in at once.

    report = load_snapshot(store, "sample_data/plant")          # a folder
    report = load_snapshot(store, "http://erp.example/snapshot/")  # or an http(s) base URL

The load is all or nothing. Each table is read into a typed staging table (Parquet whose types already
match is copied without any cast), the staged snapshot is validated against `contract.py` with set-based
queries (on worker cursors, beside the staging of the next tables: see `_Work`), and only then, in ONE
transaction, the contract's tables are dropped and the staging tables
renamed into their place. A failed load raises `SnapshotError` listing every problem found and leaves
the database exactly as it was; a reader sees the old snapshot or the new one, never half of each.
planner_tui's own tables (event log, triage, store_meta...) are never touched except store_meta's
snapshot keys.
"""

from __future__ import annotations

import csv
import json
import os
import re
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import nullcontext
from pathlib import Path

import duckdb
import pyarrow as pa

from planner_tui.errors import PlannerError, Problem, SnapshotError
from planner_tui.store.contract import TABLES, Table, create_table_sql
from planner_tui.store.db import RAW_PREFIX, STAGE_PREFIX, Store, drop_staging
from planner_tui.store.schema import ensure_schema
from planner_tui.store.sources import (
    HALF_CHARACTER,
    SnapshotFiles,
    is_text,
    open_source,
    shown_source,
)
from planner_tui.store.validate import (
    CheckLog,
    ColumnPlan,
    ProblemList,
    Staged,
    check_key,
    check_parent_loops,
    check_values,
    plan_column,
    probe_references,
    q,
    reference_groups,
    report_references,
)
from planner_tui.timeutil import iso, utcnow

META_KEYS = ("as_of", "plant", "loaded_at", "loaded_from")


class _Unreadable(Exception):
    """A file that cannot be parsed at all (bad CSV, bad JSON, bad Parquet)."""

    def __init__(self, message: str, row: int | None = None):
        super().__init__(message)
        self.row = row


class _SkipTable(_Unreadable):
    """A table whose problems are already recorded (missing columns): nothing more to read or check."""

    def __init__(self):
        super().__init__("")


def load_snapshot(store: Store, source: str | os.PathLike, *, progress: bool = False) -> dict:
    """Replace the store's snapshot with the one at `source` (a folder or an http(s) base URL).

    Returns `{"source", "tables": {name: rows}, "seconds", "as_of", "plant"}`; raises SnapshotError
    (every problem found, the database unchanged) or PlannerError (source unreachable, database error).
    """
    started = time.perf_counter()
    # A folder is recorded as an absolute path (`status` later tells where the snapshot came from), a
    # URL without its credentials: this is what is stored and printed.
    source_text = shown_source(source)
    with store.write_lock:
        cur = store.cursor()
        try:
            with _progress(progress) as bar:
                with open_source(source) as files:
                    drop_staging(cur)
                    work = _Work(store)
                    try:
                        staged = _stage_all(files, bar, work)
                        if bar:
                            bar.update(bar.task_ids[0], description="validating")
                        problems = ProblemList()
                        for p in files.problems:
                            problems.add(p)
                        work.finish(staged, problems)
                        if not problems:  # loops are only meaningful once keys and references hold
                            check_parent_loops(work.cursor(), staged, problems)
                        if problems:
                            raise SnapshotError(problems.listed, more=problems.more)
                        if bar:
                            bar.update(bar.task_ids[0], description="swapping in")
                        _swap(cur, staged, files.meta, source_text)
                    finally:
                        work.close()  # nothing may still read or write a staging table being dropped
                        drop_staging(cur)
        except duckdb.Error as exc:
            raise PlannerError(f"loading {source_text} failed: {_first_line(exc)}; the database was not changed") from None
        finally:
            cur.close()
        ensure_schema(store.con)  # recreates anything a future schema adds beside the contract's tables
    return {
        "source": source_text,
        "tables": {name: s.rows for name, s in staged.items()},
        "seconds": round(time.perf_counter() - started, 3),
        "as_of": files.meta.get("as_of"),
        "plant": files.meta.get("plant"),
    }


# --- staging -------------------------------------------------------------------------------------


def _stage_all(files: SnapshotFiles, bar, work: _Work) -> dict[str, Staged]:
    """Read every table into staging; tables that cannot be read are recorded in files.broken.

    Tables are staged STAGE_LANES at a time (see `_staging_order`) and each table's checks start as
    soon as it is staged (`work.table_done`), beside the staging of the next files. Problems are still
    listed in contract order."""
    staged: dict[str, Staged] = {}
    table_problems: dict[str, list[Problem]] = {}
    lock = threading.Lock()

    def stage(t: Table) -> None:
        problems: list[Problem] = []
        result = None
        broken = t.name in files.broken
        path = files.files.get(t.name)
        if broken:
            pass
        elif path is None:
            result = _stage_empty(work.cursor(), t)
        else:
            try:
                result = _stage_file(work.cursor(), t, path, problems)
            except _SkipTable:
                broken = True  # its problems are recorded: nothing more to read or check
            except _Unreadable as exc:
                problems.append(Problem(path.name, str(exc), row=exc.row))
                broken = True
        with lock:
            if result is not None:
                staged[t.name] = result
            if broken:
                files.broken.add(t.name)
            table_problems[t.name] = problems
            work.table_done(t.name, staged)
            if bar:
                bar.advance(bar.task_ids[0])

    if bar:
        bar.update(bar.task_ids[0], description="reading")
    work.stage_all(stage, _staging_order(files))
    files.problems.extend(p for t in TABLES for p in table_problems.get(t.name, []))
    return dict(sorted(staged.items(), key=lambda item: _TABLE_ORDER[item[0]]))


_TABLE_ORDER = {t.name: i for i, t in enumerate(TABLES)}


def _staging_order(files: SnapshotFiles) -> list[Table]:
    """Files smaller than the average first, smallest first: they are mostly the tables others refer
    to, so reference anti-joins can start early. Then the big ones, largest first, so that the lanes
    finish together instead of one big file staging alone at the end."""
    sizes = {t.name: _file_size(files.files.get(t.name)) for t in TABLES}
    average = sum(max(size, 0) for size in sizes.values()) / len(sizes)
    return sorted(TABLES, key=lambda t: (0, sizes[t.name]) if sizes[t.name] < average else (1, -sizes[t.name]))


def _file_size(path: Path | None) -> int:
    try:
        return path.stat().st_size if path is not None else -1
    except OSError:
        return -1  # reading it will say what is wrong


def _stage_empty(cur: duckdb.DuckDBPyConnection, t: Table) -> Staged:
    """A missing optional table is an empty table."""
    stage = STAGE_PREFIX + t.name
    cur.execute(create_table_sql(t, stage))
    plans = {c.name: ColumnPlan(q(c.name), False, c.type, q(c.name)) for c in t.columns}
    return Staged(t, f"{t.name} (absent)", stage, plans, rows=0, key_collisions=0, absent=True)


def _stage_file(cur: duckdb.DuckDBPyConnection, t: Table, path: Path, problems: list[Problem]) -> Staged:
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        source_from, params, names, types = _parquet_source(cur, path)
        source_row = "file_row_number + 1"
        stage_from = "read_parquet(?)"
        original_names = names
    else:
        raw = RAW_PREFIX + t.name
        names, original_names = _read_text_into(cur, t, path, raw)
        types = {n: "VARCHAR" for n in names}
        source_from, params, source_row, stage_from = q(raw), [], "rowid + 1", q(raw)
    present = [n for n in names if n in set(t.column_names)]
    missing = [c for c in t.columns if c.name not in names and not c.optional]
    by_lower = {n.lower(): n for n in original_names}
    for col in missing:
        message = "required column is missing from the file"
        near = by_lower.get(col.name.lower())
        if near is not None:
            message += f" (there is {near!r}: column names are exact, lower case)"
        problems.append(Problem(path.name, message, column=col.name))
    if missing:
        raise _SkipTable()  # nothing usable: references into this table are not checked either
    plans = {c.name: plan_column(c, types.get(c.name)) for c in t.columns}
    stage = STAGE_PREFIX + t.name
    select = [f"{plans[c.name].expr} AS {q(c.name)}" for c in t.columns]
    extras = _extra_columns(t, names)
    if extras:
        # Extra columns follow the contract's, as they came; only names we generated or the contract's
        # appear in the SQL (EXCLUDE), never a name read from the file.
        excluded = [q(n) for n in present] + [q(n) for n in names if n.startswith(_IGNORED)]
        select.append(f"* EXCLUDE ({', '.join(excluded)})" if excluded else "*")
    stage_params = params[:1] if suffix == ".parquet" else []
    try:
        cur.execute(f"CREATE TABLE {q(stage)} AS SELECT {', '.join(select)} FROM {stage_from}", stage_params)
    except duckdb.Error as exc:
        if suffix != ".parquet":
            raise
        raise _Unreadable(f"cannot read the Parquet file: {_first_line(exc)}") from None
    return Staged(t, path.name, stage, plans, source_from, params, source_row)


_IGNORED = "_ignored_"
# Names DuckDB gives a meaning of its own; a file column named so is ignored rather than shadowing it.
_RESERVED = {"rowid", "file_row_number"}


def _safe_names(header: list[str], t: Table) -> list[str]:
    """The file's column names, with unusable ones (empty, duplicated ignoring case, reserved) renamed
    to our own placeholder so they are ignored."""
    contract = {c.lower(): c for c in t.column_names}
    seen: set[str] = set()
    names = []
    for i, name in enumerate(header):
        key = name.lower()
        clash = contract.get(key) not in (None, name)  # e.g. "Machine_ID" beside the contract's machine_id
        if not name.strip() or key in seen or key in _RESERVED or clash:
            names.append(f"{_IGNORED}{i}")
        else:
            names.append(name)
        seen.add(key)
    return names


def _extra_columns(t: Table, names: list[str]) -> list[str]:
    contract = set(t.column_names)
    return [n for n in names if n not in contract and not n.startswith(_IGNORED)]


def _parquet_source(cur: duckdb.DuckDBPyConnection, path: Path):
    try:
        described = cur.execute("DESCRIBE SELECT * FROM read_parquet(?)", [str(path)]).fetchall()
    except duckdb.Error as exc:
        raise _Unreadable(f"cannot read the Parquet file: {_first_line(exc)}") from None
    names = [r[0] for r in described]
    types = {r[0]: r[1] for r in described}
    if any(n.lower() in _RESERVED for n in names):
        raise _Unreadable("a column is named rowid or file_row_number: rename it in the extract")
    return "read_parquet(?, file_row_number = true)", [str(path)], names, types


def _read_text_into(cur: duckdb.DuckDBPyConnection, t: Table, path: Path, raw: str) -> tuple[list[str], list[str]]:
    """Read a CSV or JSON file as text (every value VARCHAR) into the raw staging table `raw`.

    Returns the raw table's column names and the file's own (they differ where a name is unusable)."""
    suffix = path.suffix.lower()
    header: list[str]  # the file's column names, in its order
    if suffix == ".csv":
        header = _csv_header(path)
        names = _safe_names(header, t)
        sizes, size_params = _csv_sizes(path)
        try:
            cur.execute(
                f"CREATE TABLE {q(raw)} AS SELECT * FROM read_csv(?, columns = ?, header = true, "
                "auto_detect = false, delim = ',', quote = '\"', escape = '\"', skip = 0, "
                f"strict_mode = true, encoding = 'utf-8'{sizes})",
                [str(path), {n: "VARCHAR" for n in names}, *size_params],
            )
        except duckdb.Error as exc:
            raise _Unreadable(_csv_error(exc)) from None
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
        raise _Unreadable("the JSON objects have no fields: each row needs the table's columns")
    for key in header:
        if not is_text(key):
            raise _Unreadable(f"a field name is not valid text ({key!r}): {HALF_CHARACTER}")
    names = _safe_names(header, t)
    columns = {}
    for key, name in zip(header, names):
        values = []
        for row, record in enumerate(records, start=1):
            try:
                values.append(_json_text(record.get(key)))
            except (RecursionError, ValueError):  # a nested value too deep to write back as text
                raise _Unreadable(f"the value of {key!r} is {_TOO_DEEP}", row=row) from None
        try:
            columns[name] = pa.array(values, type=pa.string())
        except UnicodeEncodeError:  # the rare case: find the row for the message
            row = next(i for i, v in enumerate(values, start=1) if v is not None and not is_text(v))
            raise _Unreadable(f"the value of {key!r} is not valid text: {HALF_CHARACTER}", row=row) from None
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
        raise _Unreadable(f"cannot read the CSV header: {exc}") from None
    if not header:
        raise _Unreadable("the CSV file is empty: the first line must name the columns")
    if len(header) == 1:
        for separator, label in ((";", "semicolons"), ("\t", "tabs"), ("|", "bars")):
            if separator in header[0]:
                raise _Unreadable(f"the columns are separated by {label}: a snapshot CSV is comma-separated")
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
    size = _file_size(path)
    if size <= _DUCKDB_MAX_LINE:
        return "", []  # no row can be longer than DuckDB's default
    line = min(size + 2, CSV_MAX_ROW)
    if size > 2 * line and _last_line_length(path, line) > line:
        raise _Unreadable(f"cannot read the CSV: its last line is too long: {_TOO_LONG}")
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
        raise _Unreadable(f"not UTF-8 text: {exc}") from None
    except OSError as exc:
        raise _Unreadable(f"cannot read the file: {exc}") from None
    if lines:
        records = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except RecursionError:
                raise _Unreadable(f"not valid JSON at line {number}: {_TOO_DEEP}", row=len(records) + 1) from None
            except ValueError as exc:
                raise _Unreadable(f"not valid JSON at line {number}: {exc}", row=len(records) + 1) from None
    else:
        try:
            records = json.loads(text)
        except RecursionError:
            raise _Unreadable(f"not valid JSON: {_TOO_DEEP}") from None
        except ValueError as exc:
            raise _Unreadable(f"not valid JSON: {exc}") from None
        if not isinstance(records, list):
            raise _Unreadable("expected a JSON array of objects (one object per row)")
    for i, record in enumerate(records, start=1):
        if not isinstance(record, dict):
            raise _Unreadable("expected a JSON object (one per row)", row=i)
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


# --- validation and swap ---------------------------------------------------------------------------


# Staging and checks run on worker threads, each with its own cursor: DuckDB releases the GIL, and
# a Parquet file of one or two row groups is read by one core only, so a second file (or a check)
# keeps the other core busy. Concurrent CREATE TABLEs of different tables do not conflict.
STAGE_LANES = min(2, os.cpu_count() or 1)  # on one core a second lane only adds switching
# One check at a time: a second one beside two stagings cost more CPU (contention) than it saved
# (bench_load, 2 cores: 1.20-1.23 s against 1.26-1.36 s with two).
CHECK_WORKERS = 1


class _Work:
    """Staging and validation of a snapshot, side by side.

    A table's value and key checks start once it is staged; a reference group's anti-join once its
    target and every table referring to it have been read (or failed to be). `finish` waits for all
    and lists the problems in the sequential order: value checks, then keys, then references, each
    in contract order."""

    def __init__(self, store: Store, lanes: int = STAGE_LANES, workers: int = CHECK_WORKERS):
        self._store = store
        self._local = threading.local()
        self._cursors: list[duckdb.DuckDBPyConnection] = []
        self._lock = threading.Lock()
        self._restore_threads: int | None = None
        if (os.cpu_count() or 1) <= lanes + workers:
            # Our threads already keep every core busy; DuckDB's own workers on top only add switching
            # (bench_load, 2 cores: 2.07 CPU s with one thread per query against 2.22, same wall time).
            # The setting is the database's: it is put back in close().
            threads = int(self.cursor().execute("SELECT current_setting('threads')").fetchall()[0][0])
            if threads > 1:
                self.cursor().execute("SET threads = 1")
                self._restore_threads = threads
        self._lanes = ThreadPoolExecutor(max_workers=lanes, thread_name_prefix="load-stage")
        self._checks = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="load-check")
        self._futures: list[Future] = []
        self._values: dict[str, CheckLog] = {}
        self._keys: dict[str, CheckLog] = {}
        self._found: dict[tuple[str, int], list[tuple]] = {}
        self._groups = reference_groups(TABLES)
        self._waiting = {group: {t.name for t, _ in refs} | {group[0]} for group, refs in self._groups.items()}

    def stage_all(self, stage, tables: list[Table]) -> None:
        """Run `stage(t)` for every table, STAGE_LANES at a time, in the order given; re-raise an error."""
        for future in [self._lanes.submit(stage, t) for t in tables]:
            future.result()

    def table_done(self, name: str, staged: dict[str, Staged]) -> None:
        """Called (under the stager's lock) once per table after it was staged or could not be."""
        s = staged.get(name)
        with self._lock:
            if s is not None and not s.absent:
                values, keys = self._values[name], self._keys[name] = CheckLog(), CheckLog()
                self._submit(self._check_table, s, values, keys)
            for group, waiting in self._waiting.items():
                if name in waiting:
                    waiting.discard(name)
                    if not waiting:
                        # The group sees the tables as they are now: all of its own are read or failed.
                        self._submit(self._probe, dict(staged), group, self._groups[group])

    def finish(self, staged: dict[str, Staged], problems: ProblemList) -> None:
        for future in self._futures:
            future.result()  # re-raises a check's database error
        for logs in (self._values, self._keys):
            for name in staged:
                if name in logs:
                    logs[name].replay(problems)
        report_references(staged, self._found, problems)

    def close(self) -> None:
        self._lanes.shutdown(wait=True, cancel_futures=True)
        self._checks.shutdown(wait=True, cancel_futures=True)
        if self._restore_threads is not None:
            self.cursor().execute(f"SET threads = {self._restore_threads}")
        for cur in self._cursors:
            cur.close()

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """This thread's own cursor."""
        cur = getattr(self._local, "cursor", None)
        if cur is None:
            cur = self._local.cursor = self._store.cursor()
            with self._lock:
                self._cursors.append(cur)
        return cur

    def _submit(self, fn, *args) -> None:
        self._futures.append(self._checks.submit(fn, *args))

    def _check_table(self, s: Staged, values: CheckLog, keys: CheckLog) -> None:
        cur = self.cursor()
        check_values(cur, s, values)
        check_key(cur, s, keys)  # uses the distinct-key count check_values just took

    def _probe(self, staged: dict[str, Staged], group, refs) -> None:
        found = probe_references(self.cursor(), staged, group, refs, CheckLog().per_check)
        with self._lock:
            self._found.update(found)


def _swap(cur: duckdb.DuckDBPyConnection, staged: dict[str, Staged], meta: dict, source: str) -> None:
    """Replace the contract's tables by the staged ones, and record the snapshot, in one transaction."""
    values = {
        "as_of": meta.get("as_of"),
        "plant": meta.get("plant"),
        "loaded_at": iso(utcnow()),
        "loaded_from": source,
    }
    cur.execute("BEGIN TRANSACTION")
    try:
        for t in TABLES:
            cur.execute(f"DROP TABLE IF EXISTS {q(t.name)}")
            cur.execute(f"ALTER TABLE {q(staged[t.name].stage)} RENAME TO {q(t.name)}")
        cur.execute(f"DELETE FROM store_meta WHERE key IN ({', '.join('?' for _ in META_KEYS)})", list(META_KEYS))
        for key, value in values.items():
            if value is not None:
                cur.execute("INSERT INTO store_meta (key, value) VALUES (?, ?)", [key, value])
        cur.execute("COMMIT")
    except BaseException:
        cur.execute("ROLLBACK")
        raise


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _progress(enabled: bool):
    """A rich progress bar on stderr (a step per table), or nothing."""
    if not enabled:
        return nullcontext(None)
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(
        TextColumn("loading snapshot: {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    bar.add_task("starting", total=len(TABLES))
    return bar
