"""Build small hand-worked plants in memory for tests: only the rows a test cares about.

    store = make_plant(
        machines=[{"machine_id": "M1", "supervisor": "Ana"}],
        operations=[{"production_order_id": "P1", "op_seq": 10, "machine_id": "M1",
                     "planned_start": "2026-01-05T08:00", "planned_end": "2026-01-05T10:00"}],
        ...)

Missing columns take a sensible default (see DEFAULTS); rows are inserted as given, with no
validation, so a test can also build a broken plant on purpose.
"""

from __future__ import annotations

import asyncio
import functools
from datetime import datetime, timedelta
from pathlib import Path

from planner_tui.store import Store
from planner_tui.store.contract import DATE, TABLES, TABLES_BY_NAME, TS
from planner_tui.timeutil import as_datetime

SAMPLE = Path(__file__).resolve().parent.parent / "sample_data"

DEFAULTS: dict[str, dict[str, object]] = {
    "machines": {"name": None, "work_center": "WC", "line": "L1", "plant": "TEST", "supervisor": None},
    "machine_states": {"state": "running", "since": "2026-01-05T00:00:00", "reason": None, "expected_minutes": None},
    "items": {"description": None, "item_type": "finished", "uom": "ea", "safety_stock": 0, "buyer": None},
    "bom": {"qty_per": 1},
    "customers": {"name": None, "tier": None, "account_manager": None},
    "sales_orders": {"line_no": 1, "qty": 1, "confirmed_at": "2026-01-01T00:00:00", "status": "open"},
    "production_orders": {
        "qty": 1,
        "status": "released",
        "sales_order_id": None,
        "line_no": None,
        "parent_production_order_id": None,
    },
    "operations": {"status": "waiting"},
    "purchase_orders": {"supplier": None, "status": "open"},
    "inventory": {"lot_id": None},
    "lots": {"produced_by": None, "status": "released", "qty": 1},
    "lot_genealogy": {"qty": 1},
    "shipments": {"line_no": 1, "qty": 1, "status": "planned", "carrier": None},
    "shipment_lots": {"qty": 1},
    "quality_holds": {"reason": None, "placed_at": "2026-01-05T00:00:00", "placed_by": None, "status": "active"},
}


def insert_rows(store: Store, table: str, rows: list[dict]) -> None:
    spec = TABLES_BY_NAME[table]
    names = spec.column_names
    defaults = DEFAULTS.get(table, {})
    placeholders = ", ".join("?" for _ in names)
    cols = ", ".join(f'"{n}"' for n in names)
    for row in rows:
        unknown = set(row) - set(names)
        if unknown:
            raise KeyError(f"{table}: unknown column(s) {sorted(unknown)}")
        values = [row[n] if n in row else defaults.get(n) for n in names]
        store.con.execute(f'INSERT INTO "{table}" ({cols}) VALUES ({placeholders})', values)


def freshen(store: Store, to: datetime) -> timedelta:
    """Move a loaded snapshot in time so it was extracted at `to` (minute-exact; its dates by whole days):
    a plant to run at the real clock, where a snapshot weeks old has every open line past its promise.
    Returns how far it moved."""
    extract = as_datetime(store.con.execute("SELECT value FROM store_meta WHERE key = 'as_of'").fetchall()[0][0])
    assert extract is not None
    moved = (to - extract) // timedelta(minutes=1) * timedelta(minutes=1)
    for table in TABLES:
        shifted = [
            f'"{c.name}" = "{c.name}" + ' + ("?" if c.type == TS else "CAST(? AS INTEGER)")
            for c in table.columns
            if c.type in (TS, DATE)
        ]
        if shifted:
            params = [
                moved if c.type == TS else round(moved / timedelta(days=1))
                for c in table.columns
                if c.type in (TS, DATE)
            ]
            store.con.execute(f'UPDATE "{table.name}" SET {", ".join(shifted)}', params)
    store.con.execute(
        "UPDATE store_meta SET value = strftime(CAST(? AS TIMESTAMP), '%Y-%m-%dT%H:%M:%S') WHERE key = 'as_of'",
        [extract + moved],
    )
    return moved


def make_plant(store: Store | None = None, **tables: list[dict]) -> Store:
    """An in-memory store holding exactly the given rows (table name -> list of row dicts)."""
    store = store or Store.memory()
    for name, rows in tables.items():
        if name not in TABLES_BY_NAME:
            raise KeyError(f"unknown table {name}")
        insert_rows(store, name, rows)
    return store


def scenario_db(path: Path) -> Path:
    """The sample plant with its scenario's events applied (the screenshots' plant: machines down, a
    hold, late lines), as a database file at `path`."""
    from planner_tui.console.screenshots import scenario_store

    memory = scenario_store(SAMPLE)
    try:
        memory.con.execute("ATTACH ? AS out", [str(path)])
        memory.con.execute("COPY FROM DATABASE memory TO out")
        memory.con.execute("DETACH out")
    finally:
        memory.close()
    return path


def pilot_test(fn):
    """Run an async pilot test on its own event loop (no async pytest plugin needed)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        asyncio.run(fn(*args, **kwargs))

    return wrapper
