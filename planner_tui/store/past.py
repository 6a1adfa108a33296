"""The plant as it was at a past moment (issue 14): `--as-of TS`, the console's time slider.

The store keeps the present only, but every event applied is in the event log with what it changed (each row's before and after). So the plant at TS is the present with the
changes of the events that happened after TS taken back: the first such change of a row and column holds
its value at TS, and a row an event inserted did not exist yet.

`past_cursor(store, ts)` gives a cursor on which every engine question reads the plant at TS: the tables
those events changed are shadowed by TEMP tables of that cursor's own (DuckDB resolves an unqualified
name to a temporary table first), rebuilt from the real ones; so do the triage tables (the actions up to
TS replayed) and the event log and outbox (cut at TS). Nothing is written to the store, other readers
see nothing, and closing the cursor drops it all. Only the tables that changed are copied, so looking at
the past costs what happened since, not the size of the plant.

Limits: the earliest moment is the snapshot's extract (`as_of`); an event that arrived late (applied
after a later one it overlaps) is taken back with the later one.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import duckdb

from planner_tui.errors import BadRequest
from planner_tui.store.contract import TABLES_BY_NAME
from planner_tui.store.contract import table as contract_table
from planner_tui.store.db import Store
from planner_tui.store.events.working import arrow_table
from planner_tui.store.status import store_meta
from planner_tui.store.triage import occurrence_sql, replay_actions
from planner_tui.timeutil import as_datetime, iso

_MISSING = object()


def earliest(cur: duckdb.DuckDBPyConnection) -> datetime | None:
    """The earliest moment the plant can be shown at: its snapshot's extract time."""
    return as_datetime(store_meta(cur, "as_of"))


def check_moment(cur: duckdb.DuckDBPyConnection, ts: datetime, option: str = "--as-of") -> None:
    """BadRequest naming the earliest time for a `ts` before the snapshot's extract; `option` is how the
    caller asked for the past (`--as-of`, or `--at` on the questions it pins)."""
    first = earliest(cur)
    if first is not None and ts < first:
        raise BadRequest(
            f"{option} {iso(ts)}: the plant can be shown from {iso(first)} on (the loaded snapshot's extract); "
            "nothing before it is kept"
        )


def _restores(cur: duckdb.DuckDBPyConnection, ts: datetime) -> dict[str, dict[str, Any]]:
    """table -> row key text -> the row's values at TS: None (it did not exist) or {column: value}.

    The events taken back are those that happened after TS. TS is never before the snapshot's extract, so
    they all happened after it, and none can be in the snapshot: what they changed was applied on top of
    it. (Not "applied after the load": applied_at is stamped by the feed's clock, a replay's in the demo,
    and cannot be compared with the load's wall-clock time.)"""
    rows = cur.execute(
        """SELECT changes FROM event_log
           WHERE outcome = 'applied' AND event_time > ? AND changes IS NOT NULL
           ORDER BY applied_at, rowid""",
        [ts],
    ).fetchall()
    restores: dict[str, dict[str, Any]] = {}
    for (text,) in rows:
        for change in json.loads(text):
            table, key, before = change.get("table"), change.get("key"), change.get("before")
            if table is None or key is None:
                continue
            seen = restores.setdefault(table, {})
            if key not in seen:
                seen[key] = None if before is None else dict(before)
            elif seen[key] is not None and before is not None:
                for column, value in before.items():
                    seen[key].setdefault(column, value)  # the first change after TS holds the value at TS
    return restores


def _key_text_sql(table: str, alias: str) -> str:
    """The row key as the event log writes it ("/"-joined, NULL as empty): see working._key_text."""
    parts = [f"coalesce(CAST({alias}.\"{column}\" AS VARCHAR), '')" for column in contract_table(table).key]
    return "concat_ws('/', " + ", ".join(parts) + ")"


def _as_text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value)


def _shadow(
    cur: duckdb.DuckDBPyConnection, catalog: str, table: str, where: str = "", params: list | None = None
) -> None:
    cur.execute(
        f'CREATE OR REPLACE TEMP TABLE "{table}" AS SELECT * FROM "{catalog}".main."{table}" {where}', params or []
    )


def _take_back(cur: duckdb.DuckDBPyConnection, catalog: str, table: str, rows: dict[str, Any]) -> None:
    _shadow(cur, catalog, table)
    types = {c.name: c.type for c in contract_table(table).columns}
    key_sql = _key_text_sql(table, "t")
    gone = [key for key, values in rows.items() if values is None]
    if gone:
        cur.execute(f'DELETE FROM "{table}" AS t WHERE {key_sql} = ANY(?)', [gone])
    groups: dict[tuple[str, ...], list[tuple[str, dict]]] = {}
    for key, values in rows.items():
        if values:
            columns = tuple(sorted(c for c in values if c in types))
            groups.setdefault(columns, []).append((key, values))
    for columns, members in groups.items():
        if not columns:
            continue
        names = ["_key", *(f"_v{i}" for i in range(len(columns)))]
        records = [
            {"_key": key, **{f"_v{i}": _as_text(values[c]) for i, c in enumerate(columns)}} for key, values in members
        ]
        cur.register("_past_rows", arrow_table(names, ["VARCHAR"] * len(names), records))
        try:
            sets = ", ".join(f'"{c}" = CAST(r._v{i} AS {types[c]})' for i, c in enumerate(columns))
            cur.execute(f'UPDATE "{table}" AS t SET {sets} FROM _past_rows AS r WHERE {key_sql} = r._key')
        finally:
            cur.unregister("_past_rows")


def _triage_at(cur: duckdb.DuckDBPyConnection, catalog: str, ts: datetime) -> None:
    _shadow(cur, catalog, "exception_actions", "WHERE acted_at <= ?", [ts])
    occurrence = occurrence_sql(cur, "exception_actions", "a")
    actions = cur.execute(
        f"SELECT exception_id, acted_at, who, action, detail, {occurrence} FROM exception_actions a "
        "ORDER BY acted_at, rowid"
    ).fetchall()
    _shadow(cur, catalog, "exception_triage", "WHERE false")
    states = replay_actions(actions)
    # A database from before occurrences, opened read-only, has no such column to fill.
    columns = ["status", "assignee", "snoozed_until", "updated_at", "updated_by"]
    if occurrence != "NULL":
        columns.append("occurrence")
    if states:
        cur.executemany(
            f"INSERT INTO exception_triage (exception_id, {', '.join(columns)}) "
            f"VALUES ({', '.join('?' for _ in range(len(columns) + 1))})",
            [[exception_id, *(s[k] for k in columns)] for exception_id, s in states.items()],
        )


@contextmanager
def past_cursor(store: Store, ts: datetime, *, option: str = "--as-of") -> Iterator[duckdb.DuckDBPyConnection]:
    """A cursor reading the plant as it stood at `ts` (see the module docstring); BadRequest for a moment
    before the snapshot's extract (its message names `option`)."""
    cur = store.cursor()
    try:
        check_moment(cur, ts, option)
        catalog = cur.execute("SELECT current_database()").fetchall()[0][0]
        for table, rows in _restores(cur, ts).items():
            if table not in TABLES_BY_NAME:
                continue  # a table of a newer version's events: nothing here reads it
            _take_back(cur, catalog, table, rows)
        _triage_at(cur, catalog, ts)
        _shadow(cur, catalog, "event_log", "WHERE coalesce(event_time, received_at) <= ?", [ts])
        try:
            _shadow(cur, catalog, "notify_outbox", "WHERE created_at <= ?", [ts])
        except duckdb.CatalogException:
            pass  # a store from before notifications
        yield cur
    finally:
        cur.close()
