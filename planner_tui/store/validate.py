"""Validating a staged snapshot against the contract, set-based: one scan per table for the value checks,
GROUP BY for keys, anti-joins for references. Details (rows, values) are fetched only for failing checks.

Every check is derived from `contract.py`; nothing here names a table or column of its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import duckdb

from planner_tui.errors import Problem
from planner_tui.store.contract import (
    DATE,
    INT,
    MAX_YEAR,
    META_REFERENCES,
    MIN_YEAR,
    QTY,
    TEXT,
    TS,
    Column,
    Reference,
    Table,
)

MAX_LISTED = 50  # problems listed in one SnapshotError; the rest are counted
MAX_PER_CHECK = 5  # rows listed for one check (one column's one rule, one key, one reference)

_INTEGER_SOURCES = {"TINYINT", "SMALLINT", "INTEGER", "UTINYINT", "USMALLINT"}
_WIDE_INTEGER_SOURCES = {"BIGINT", "HUGEINT", "UINTEGER", "UBIGINT", "UHUGEINT"}
_FLOAT_SOURCES = {"FLOAT", "DOUBLE", "REAL"}
_TIMESTAMP_SOURCES = {
    "TIMESTAMP",
    "TIMESTAMP_NS",
    "TIMESTAMP_MS",
    "TIMESTAMP_S",
    "TIMESTAMP WITH TIME ZONE",
    "TIMESTAMPTZ",
}

_TYPE_WORDS = {
    INT: "not a whole number",
    QTY: "not a number",
    DATE: "not a date (expected YYYY-MM-DD)",
    TS: "not an ISO 8601 timestamp (e.g. 2026-11-25T08:00:00 or 2026-11-25T08:00:00+01:00)",
}


def q(name: str) -> str:
    """Quote an identifier (names come from contract.py or are the loader's own)."""
    return '"' + name.replace('"', '""') + '"'


def literal(value: object) -> str:
    """A SQL literal for a contract constant (enum values, defaults)."""
    if isinstance(value, bool) or value is None:
        raise TypeError(f"unsupported contract constant {value!r}")
    if isinstance(value, (int, float)):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


@dataclass(frozen=True)
class ColumnPlan:
    """How one contract column is produced in the typed staging table from its source column."""

    expr: str  # SQL producing the typed value, the contract's default when empty
    checked: bool  # can the conversion fail? then a cast check runs on the source
    source_type: str | None  # None: the column is absent (optional) and filled with NULL
    converted: str = ""  # `expr` before the default: NULL when empty or unconvertible


def _is_decimal(source_type: str) -> bool:
    return source_type.startswith("DECIMAL")


def plan_column(col: Column, source_type: str | None) -> ColumnPlan:
    """The typed expression for `col` read from a source column of `source_type` (a DuckDB type name)."""
    x = q(col.name)
    target = col.type
    st = source_type.upper() if source_type else None
    if st is None:
        expr, checked = f"CAST(NULL AS {target})", False
    elif st == target:
        # The type already matches (typed Parquet): no cast, only empty text becomes NULL.
        expr, checked = (f"NULLIF({x}, '')" if target == TEXT else x), False
    elif st == "VARCHAR":
        expr, checked = _parse_text(x, target), True
    elif target == TEXT:
        expr, checked = f"CAST({x} AS VARCHAR)", False
    elif target == QTY and (st in _INTEGER_SOURCES | _WIDE_INTEGER_SOURCES | _FLOAT_SOURCES or _is_decimal(st)):
        expr, checked = f"CAST({x} AS DOUBLE)", False
    elif target == INT and st in _INTEGER_SOURCES:
        expr, checked = f"CAST({x} AS INTEGER)", False
    elif target == INT and st in _WIDE_INTEGER_SOURCES:
        expr, checked = f"TRY_CAST({x} AS INTEGER)", True
    elif target == INT and (st in _FLOAT_SOURCES or _is_decimal(st)):
        expr, checked = f"CASE WHEN isfinite({x}) AND {x} = trunc({x}) THEN TRY_CAST({x} AS INTEGER) END", True
    elif target == TS and (st in _TIMESTAMP_SOURCES or st == "DATE"):
        # With the session in UTC, a TIMESTAMP WITH TIME ZONE becomes its UTC wall time.
        expr, checked = f"CAST({x} AS TIMESTAMP)", False
    elif target == DATE and st in _TIMESTAMP_SOURCES:
        expr = f"CASE WHEN CAST({x} AS TIMESTAMP) = CAST(CAST({x} AS DATE) AS TIMESTAMP) THEN CAST({x} AS DATE) END"
        checked = True
    else:
        expr, checked = f"TRY_CAST({x} AS {target})", True
    converted = expr
    if col.default is not None:
        expr = f"coalesce({expr}, {literal(col.default)})"
    return ColumnPlan(expr, checked, source_type, converted)


def _parse_text(x: str, target: str) -> str:
    """Text (CSV, JSON) to the contract type; NULL when empty or malformed (the cast check tells which)."""
    v = f"NULLIF(trim({x}), '')"
    if target == INT:
        # TRY_CAST alone would round 10.5 to 11.
        return rf"CASE WHEN regexp_full_match({v}, '[+-]?\d+(\.0*)?') THEN TRY_CAST({v} AS INTEGER) END"
    if target == QTY:
        return f"CASE WHEN isfinite(TRY_CAST({v} AS DOUBLE)) THEN TRY_CAST({v} AS DOUBLE) END"
    if target == DATE:
        return rf"CASE WHEN regexp_full_match({v}, '\d{{4}}-\d{{2}}-\d{{2}}') THEN TRY_CAST({v} AS DATE) END"
    if target == TS:
        # Through TIMESTAMPTZ so that an offset is applied (a plain TIMESTAMP cast drops it); no offset = UTC.
        # DuckDB takes any offset (+99:99); real ones run from -12:00 to +14:00.
        return (
            rf"CASE WHEN regexp_matches({v}, '^\d{{4}}-\d{{2}}-\d{{2}}([T ]|$)') "
            rf"AND (NOT regexp_matches({v}, ':\d{{2}}(\.\d*)?\s*[+-]\d') "
            rf"OR regexp_matches({v}, ':\d{{2}}(\.\d*)?\s*[+-](0\d|1[0-4])(:?[0-5]\d)?$')) "
            f"THEN CAST(TRY_CAST({v} AS TIMESTAMPTZ) AS TIMESTAMP) END"
        )
    return f"TRY_CAST({v} AS {target})"


# Blanks around a value: spaces, tabs, line breaks. A key of only blanks is as empty as no key.
_BLANKS = "' ' || chr(9) || chr(10) || chr(13)"


def _blank(x: str) -> str:
    """True for text of only blanks. Text of blanks sorts before '!' (every blank is a lower byte): the
    trim, ten times the cost of the comparison, runs only on those few values (CASE is lazy, AND not)."""
    return f"CASE WHEN {x} < '!' THEN trim({x}, {_BLANKS}) = '' ELSE false END"


def _clock_ok(x: str) -> str:
    """A well-formed time of day: HH:MM from 00:00 to 23:59, or 24:00 (the end of the day). Text of that
    shape compares in time order."""
    return rf"regexp_full_match({x}, '([01]\d|2[0-3]):[0-5]\d|24:00')"


def _empty_pred(x: str, source_type: str | None) -> str:
    if source_type and source_type.upper() == "VARCHAR":
        return f"({x} IS NULL OR {_blank(x)})"
    return f"{x} IS NULL"


@dataclass
class Staged:
    """One table read into staging: where its typed rows are and how to look back at its source."""

    table: Table
    file: str  # file name named in problems, e.g. operations.csv
    stage: str  # the typed staging table (contract columns first, then extras)
    plans: dict[str, ColumnPlan] = field(default_factory=dict)
    source_from: str | None = None  # SQL relation of the source rows (raw table or read_parquet)
    source_params: list = field(default_factory=list)
    source_row: str = "rowid + 1"  # SQL for the 1-based data row in the source relation
    rows: int = 0  # set by check_values
    key_collisions: int = 1  # rows minus distinct key hashes, set by check_values; 0 = key is unique
    absent: bool = False  # an optional table not in the snapshot: empty, nothing to check


class ProblemSink(Protocol):
    """Where a check puts what it finds: a ProblemList, or a CheckLog replayed into one afterwards."""

    per_check: int

    def add(self, problem: Problem) -> None: ...

    def add_check(self, examples: list[Problem], total: int) -> None: ...


class ProblemList:
    """Problems found so far, listed up to a cap and counted beyond it."""

    def __init__(self, max_listed: int = MAX_LISTED, per_check: int = MAX_PER_CHECK):
        self.listed: list[Problem] = []
        self.more = 0
        self.max_listed = max_listed
        self.per_check = per_check

    def add(self, problem: Problem) -> None:
        self.add_check([problem], 1)

    def add_check(self, examples: list[Problem], total: int) -> None:
        room = max(0, self.max_listed - len(self.listed))
        shown = examples[: min(self.per_check, room)]
        self.listed.extend(shown)
        self.more += total - len(shown)

    def __bool__(self) -> bool:
        return bool(self.listed) or self.more > 0


class CheckLog:
    """Problems of checks that run concurrently, kept to be added to a ProblemList afterwards in a fixed
    order: which problems are listed (the first MAX_LISTED) must not depend on which check finished first."""

    def __init__(self, per_check: int = MAX_PER_CHECK):
        self.per_check = per_check
        self.calls: list[tuple[list[Problem], int]] = []

    def add(self, problem: Problem) -> None:
        self.add_check([problem], 1)

    def add_check(self, examples: list[Problem], total: int) -> None:
        self.calls.append((examples, total))

    def replay(self, problems: ProblemList) -> None:
        for examples, total in self.calls:
            problems.add_check(examples, total)


@dataclass(frozen=True)
class _RowCheck:
    column: str
    predicate: str  # true for an offending row
    value: str  # SQL for the offending value as text
    message: str  # with `detail`: a template, its {} replaced by the row's detail
    detail: str | None = None  # SQL for a second value of the row the message names (e.g. its start)


def _fmt(value: object) -> str:
    return "" if value is None else str(value)


def _run_row_checks(
    con: duckdb.DuckDBPyConnection,
    staged: Staged,
    relation: str,
    params: list,
    row_sql: str,
    checks: list[_RowCheck],
    problems: ProblemSink,
    extra_aggregates: tuple[str, ...] = (),
) -> list:
    """All checks over one relation in a single scan; then the first offending rows of each failing one.

    `extra_aggregates` ride along in the same scan; their values are returned."""
    if not checks and not extra_aggregates:
        return []
    aggregates = [f"count(*) FILTER (WHERE {c.predicate})" for c in checks] + list(extra_aggregates)
    counts = con.execute(f"SELECT {', '.join(aggregates)} FROM {relation}", params).fetchall()[0]
    for check, total in zip(checks, counts):
        if not total:
            continue
        detail = f", {check.detail}" if check.detail else ""
        rows = con.execute(
            f"SELECT {row_sql} AS r, {check.value}{detail} FROM {relation} WHERE {check.predicate} ORDER BY r LIMIT ?",
            [*params, problems.per_check],
        ).fetchall()
        examples = [
            Problem(
                staged.file,
                check.message.format(_fmt(rest[0])) if check.detail else check.message,
                column=check.column,
                row=r,
                value=_fmt(v),
            )
            for r, v, *rest in rows
        ]
        problems.add_check(examples, total)
    return list(counts[len(checks) :])


def check_values(con: duckdb.DuckDBPyConnection, staged: Staged, problems: ProblemSink) -> None:
    """Types, empties, enums, positives and paired columns of one table."""
    t = staged.table
    source_checks: list[_RowCheck] = []
    typed_checks: list[_RowCheck] = []
    for col in t.columns:
        plan = staged.plans[col.name]
        x = q(col.name)
        if plan.source_type is None:
            continue  # optional column absent from the file: all NULL
        if plan.checked:
            empty = _empty_pred(x, plan.source_type)
            source_checks.append(
                _RowCheck(
                    col.name,
                    f"NOT {empty} AND ({plan.converted}) IS NULL",
                    f"CAST({x} AS VARCHAR)",
                    _TYPE_WORDS.get(col.type, f"not a {col.type}"),
                )
            )
        if not col.nullable and col.default is None:
            required = "empty, but a value is required"
            if plan.checked:  # judged on the source, so that a malformed value is not also called empty
                source_checks.append(_RowCheck(col.name, _empty_pred(x, plan.source_type), "NULL", required))
            elif col.type == TEXT:
                typed_checks.append(_RowCheck(col.name, f"({x} IS NULL OR {_blank(x)})", x, required))
            else:
                typed_checks.append(_RowCheck(col.name, f"{x} IS NULL", "NULL", required))
        if col.enum:
            allowed = ", ".join(literal(v) for v in col.enum)
            typed_checks.append(
                _RowCheck(
                    col.name,
                    f"{x} IS NOT NULL AND NOT {_blank(x)} AND {x} NOT IN ({allowed})",
                    x,
                    f"not an allowed value (allowed: {', '.join(col.enum)})",
                )
            )
        if col.positive:
            typed_checks.append(_RowCheck(col.name, f"{x} <= 0", f"CAST({x} AS VARCHAR)", "must be greater than 0"))
        if col.type == QTY:
            # A float column (Parquet, typed) keeps NaN and infinity through the cast; they are not
            # quantities (every item would show below its safety stock). Judged on the staged rows: no
            # second read of the file.
            typed_checks.append(_RowCheck(col.name, f"NOT isfinite({x})", f"CAST({x} AS VARCHAR)", _TYPE_WORDS[QTY]))
        if col.type in (DATE, TS):
            typed_checks.append(
                _RowCheck(
                    col.name,
                    f"{x} IS NOT NULL AND (NOT isfinite({x}) OR year({x}) NOT BETWEEN {MIN_YEAR} AND {MAX_YEAR})",
                    f"CAST({x} AS VARCHAR)",
                    f"outside the years {MIN_YEAR} to {MAX_YEAR}",
                )
            )
        if col.between is not None:
            low, high = col.between
            typed_checks.append(
                _RowCheck(
                    col.name,
                    f"{x} IS NOT NULL AND {x} NOT BETWEEN {low} AND {high}",
                    f"CAST({x} AS VARCHAR)",
                    f"must be from {low} to {high}" + (f" ({col.doc})" if col.doc else ""),
                )
            )
        if col.clock:
            typed_checks.append(
                _RowCheck(
                    col.name,
                    f"{x} IS NOT NULL AND NOT {_blank(x)} AND NOT {_clock_ok(x)}",
                    x,
                    "not a time of day (expected HH:MM, from 00:00 to 24:00)",
                )
            )
        for other_name, strict in ((col.after, True), (col.not_before, False)):
            if other_name is None:
                continue
            other = q(other_name)
            both = f"{x} IS NOT NULL AND {other} IS NOT NULL"
            if col.clock:
                both += f" AND {_clock_ok(x)} AND {_clock_ok(other)}"  # else: reported as malformed
            message = (
                f"must be after this row's {other_name} ({{}})"
                if strict
                else f"earlier than this row's {other_name} ({{}})"
            )
            if col.clock:
                message += "; a shift past midnight is two rows: up to 24:00, and from 00:00 the next day"
            typed_checks.append(
                _RowCheck(
                    col.name,
                    f"{both} AND {x} {'<=' if strict else '<'} {other}",
                    f"CAST({x} AS VARCHAR)",
                    message,
                    detail=f"CAST({other} AS VARCHAR)",
                )
            )
        if col.differs_from:
            other = q(col.differs_from)
            typed_checks.append(
                _RowCheck(
                    col.name,
                    f"{x} IS NOT NULL AND {x} = {other}",
                    x,
                    f"the same as this row's {col.differs_from}: a row cannot refer to itself",
                )
            )
    for ref in t.references:
        cols = [t.column(c) for c in ref.columns]
        if len(cols) > 1 and all(c.nullable for c in cols):
            # A composite reference of optional columns is all set or all empty (e.g. a made-to-order link).
            names = [q(c.name) for c in cols]
            some_null = " OR ".join(f"{n} IS NULL" for n in names)
            some_set = " OR ".join(f"{n} IS NOT NULL" for n in names)
            value = " || ', ' || ".join(f"coalesce(CAST({n} AS VARCHAR), '(empty)')" for n in names)
            typed_checks.append(
                _RowCheck(
                    ", ".join(ref.columns),
                    f"({some_null}) AND ({some_set})",
                    value,
                    f"{' and '.join(ref.columns)} must be both set or both empty",
                )
            )
    if staged.source_from is not None:
        _run_row_checks(
            con, staged, staged.source_from, staged.source_params, staged.source_row, source_checks, problems
        )
    # The same scan tells whether the key may repeat: fewer distinct key hashes than rows. Equal keys
    # always hash equal, so no duplicate is missed; a (rare) hash collision only costs the exact check.
    where = _key_filter(t)
    keys = ", ".join(q(k) for k in t.key)
    staged.rows, staged.key_collisions = _run_row_checks(
        con,
        staged,
        q(staged.stage),
        [],
        "rowid + 1",
        typed_checks,
        problems,
        ("count(*)", f"count(*) FILTER (WHERE {where}) - count(DISTINCT hash({keys})) FILTER (WHERE {where})"),
    )


def _key_filter(t: Table) -> str:
    """Rows whose key can be compared: an empty required key part is reported as empty instead."""
    return " AND ".join(f"{q(k)} IS NOT NULL" for k in t.key if not t.column(k).nullable) or "TRUE"


def check_key(con: duckdb.DuckDBPyConnection, staged: Staged, problems: ProblemSink) -> None:
    """Duplicate keys; NULL parts compare equal (two unlotted rows of one item and location clash)."""
    t = staged.table
    if not staged.key_collisions:
        return  # check_values found as many distinct key hashes as rows
    key_list = ", ".join(q(k) for k in t.key)
    where = _key_filter(t)
    stage = q(staged.stage)
    duplicated = con.execute(
        f"SELECT count(*) FROM (SELECT 1 FROM {stage} WHERE {where} GROUP BY {key_list} HAVING count(*) > 1)"
    ).fetchall()[0][0]
    if not duplicated:
        return
    rows = con.execute(
        f"""
        WITH d AS (
            SELECT rowid + 1 AS r, {key_list},
                   min(rowid) OVER (PARTITION BY {key_list}) + 1 AS first_r
            FROM {stage} WHERE {where}
        ), extra AS (SELECT * FROM d WHERE r > first_r)
        SELECT r, first_r, {key_list}, count(*) OVER () FROM extra ORDER BY r LIMIT ?
        """,
        [problems.per_check],
    ).fetchall()
    total = rows[0][-1] if rows else 0
    examples = []
    for r, first_r, *rest in rows:
        values = rest[:-1]
        value = ", ".join("(empty)" if v is None else str(v) for v in values)
        examples.append(
            Problem(
                staged.file,
                f"duplicate key: the same {', '.join(t.key)} as row {first_r}",
                column=", ".join(t.key),
                row=r,
                value=value,
            )
        )
    problems.add_check(examples, total)


def reference_groups(tables) -> dict[tuple[str, tuple[str, ...]], list[tuple[Table, Reference]]]:
    """The contract's references grouped by the key they name: one anti-join per group.

    Every reference to one target (lots is named by inventory, genealogy twice, shipment lots and holds)
    is probed against ONE hash table of its key."""
    groups: dict[tuple[str, tuple[str, ...]], list[tuple[Table, Reference]]] = {}
    for t in tables:
        for ref in t.references:
            groups.setdefault((ref.table, ref.target), []).append((t, ref))
    return groups


def probe_references(
    con: duckdb.DuckDBPyConnection,
    staged: dict[str, Staged],
    target: tuple[str, tuple[str, ...]],
    refs: list[tuple[Table, Reference]],
    per_check: int,
) -> dict[tuple[str, int], list[tuple]]:
    """One group's anti-join: the first `per_check` missing rows of each reference and their count.

    Returns {(source table, reference index): [(row, *values, total), ...]}. A target or source that
    could not be read is left out (its own problem is reported); an absent table has nothing to probe."""
    target_name, target_cols = target
    if target_name not in staged:
        return {}
    live = [(staged[t.name], ref) for t, ref in refs if t.name in staged and not staged[t.name].absent]
    if not live:
        return {}
    probes = []
    for i, (source, ref) in enumerate(live):
        keys = ", ".join(f"{q(c)} AS k{j}" for j, c in enumerate(ref.columns))
        set_all = " AND ".join(f"{q(c)} IS NOT NULL" for c in ref.columns)
        probes.append(f"SELECT {i} AS ref, rowid + 1 AS r, {keys} FROM {q(source.stage)} WHERE {set_all}")
    match = " AND ".join(f"x.{q(tc)} = p.k{j}" for j, tc in enumerate(target_cols))
    key_out = ", ".join(f"k{j}" for j in range(len(target_cols)))
    rows = con.execute(
        f"""
        WITH probe AS ({" UNION ALL ".join(probes)}),
        missing AS (
            SELECT * FROM probe p WHERE NOT EXISTS (SELECT 1 FROM {q(staged[target_name].stage)} x WHERE {match})
        )
        SELECT ref, r, {key_out}, count(*) OVER (PARTITION BY ref) FROM missing
        QUALIFY row_number() OVER (PARTITION BY ref ORDER BY r) <= ?
        ORDER BY ref, r
        """,
        [per_check],
    ).fetchall()
    found: dict[tuple[str, int], list[tuple]] = {}
    for ref_index, *rest in rows:
        source, ref = live[ref_index]
        found.setdefault((source.table.name, source.table.references.index(ref)), []).append(tuple(rest))
    return found


def report_references(
    staged: dict[str, Staged], found: dict[tuple[str, int], list[tuple]], problems: ProblemSink
) -> None:
    """The missing references found by `probe_references`, in contract order: table by table, reference
    by reference."""
    for source in staged.values():
        for index, ref in enumerate(source.table.references):
            rows = found.get((source.table.name, index))
            if not rows:
                continue
            examples = [
                Problem(
                    source.file,
                    f"no {ref.table} row has this {', '.join(ref.target)}",
                    column=", ".join(ref.columns),
                    row=r,
                    value=", ".join(str(v) for v in values[:-1]),
                )
                for r, *values in rows
            ]
            problems.add_check(examples, rows[0][-1])


def check_references(con: duckdb.DuckDBPyConnection, staged: dict[str, Staged], problems: ProblemSink) -> None:
    """Every non-empty reference names an existing row of its target table (one group after another)."""
    found: dict[tuple[str, int], list[tuple]] = {}
    for target, refs in reference_groups(s.table for s in staged.values()).items():
        found.update(probe_references(con, staged, target, refs, problems.per_check))
    report_references(staged, found, problems)


def check_meta_references(
    con: duckdb.DuckDBPyConnection,
    staged: dict[str, Staged],
    meta: dict[str, str | None],
    meta_file: str,
    problems: ProblemSink,
) -> None:
    """snapshot.json's fields that name a row (its default `calendar`) name an existing one."""
    for name, ref in META_REFERENCES.items():
        value = meta.get(name)
        target = staged.get(ref.table)
        if value is None or target is None:
            continue  # not given, or the table could not be read (its own problem is reported)
        (column,) = ref.target
        found = con.execute(f"SELECT count(*) FROM {q(target.stage)} WHERE {q(column)} = ?", [value]).fetchall()
        if not found[0][0]:
            problems.add(Problem(meta_file, f"no {ref.table} row has this {column}", column=name, value=value))


# How far a chain of parent links is followed looking for a loop; real feeding chains are a few levels.
MAX_CHAIN = 64


def check_parent_loops(con: duckdb.DuckDBPyConnection, staged: dict[str, Staged], problems: ProblemSink) -> None:
    """A row whose chain of parent links comes back to it (P1 feeds P2 feeds P1): every answer that walks
    the chain would be a cycle error, so the snapshot is refused. Run once keys and references are sound.

    The links are the self-references of the contract: a column that `differs_from` its table's key and
    refers to the same table (production_orders.parent_production_order_id)."""
    for s in staged.values():
        t = s.table
        key = t.key[0] if len(t.key) == 1 else None
        for col in t.columns:
            if key is None or col.differs_from != key:
                continue
            stage, child, parent = q(s.stage), q(key), q(col.name)
            rows = con.execute(
                f"""
                WITH RECURSIVE walk(origin, reached, path, depth) AS (
                    SELECT {child}, {parent}, [{child}, {parent}], 1 FROM {stage} WHERE {parent} IS NOT NULL
                    UNION ALL
                    SELECT w.origin, p.{parent}, list_append(w.path, p.{parent}), w.depth + 1
                    FROM walk AS w JOIN {stage} AS p ON p.{child} = w.reached
                    WHERE p.{parent} IS NOT NULL AND w.reached <> w.origin AND w.depth < ?
                )
                SELECT origin, path FROM walk WHERE reached = origin ORDER BY origin
                """,
                [MAX_CHAIN],
            ).fetchall()
            rows = [(origin, path) for origin, path in rows if origin == min(path)]  # each loop once
            examples = [
                Problem(
                    s.file,
                    f"its chain of {col.name} comes back to it ({' -> '.join(path)}): an order cannot feed itself",
                    column=col.name,
                    value=origin,
                )
                for origin, path in rows[: problems.per_check]
            ]
            if rows:
                problems.add_check(examples, len(rows))
