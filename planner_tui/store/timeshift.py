"""Moving a whole plant in time, so that a recorded snapshot (the sample plant) reads as "now".

    shift_plant(con, now - as_of)

Every TIMESTAMP column of every contract table moves by `delta`; every DATE column by `delta` rounded
to whole days (a promise stays a calendar day, and "late = a day after the promise" keeps its meaning).
Which columns move comes from `contract.py`, so a new timestamp column is shifted without touching this
file. store_meta's `as_of`, when present, moves with the plant.
"""

from __future__ import annotations

from datetime import timedelta

import duckdb

from planner_tui.store.contract import DATE, TABLES, TS
from planner_tui.timeutil import iso, parse_timestamp


def whole_days(delta: timedelta) -> int:
    return round(delta / timedelta(days=1))


def shift_plant(con: duckdb.DuckDBPyConnection, delta: timedelta) -> None:
    """Shift every timestamp by `delta` and every date by `delta` in whole days, in one transaction."""
    micros = delta // timedelta(microseconds=1)
    days = whole_days(delta)
    present = {
        (r[0], r[1])
        for r in con.execute(
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'main'"
        ).fetchall()
    }
    con.execute("BEGIN TRANSACTION")
    try:
        for t in TABLES:
            sets: list[str] = []
            params: list[int] = []
            for c in t.columns:
                if (t.name, c.name) not in present:
                    continue  # an optional column this store does not carry
                if c.type == TS and micros:
                    sets.append(f'"{c.name}" = "{c.name}" + to_microseconds(CAST(? AS BIGINT))')
                    params.append(micros)
                elif c.type == DATE and days:
                    sets.append(f'"{c.name}" = CAST("{c.name}" + to_days(CAST(? AS INTEGER)) AS DATE)')
                    params.append(days)
            if sets:
                con.execute(f'UPDATE "{t.name}" SET {", ".join(sets)}', params)
        if ("store_meta", "key") in present:
            row = con.execute("SELECT value FROM store_meta WHERE key = 'as_of'").fetchone()
            if row and row[0]:
                moved = iso(parse_timestamp(row[0]) + delta)
                con.execute("UPDATE store_meta SET value = ? WHERE key = 'as_of'", [moved])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
