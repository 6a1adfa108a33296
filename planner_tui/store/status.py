"""A one-screen summary of what a store holds."""

from __future__ import annotations

from typing import Any

import duckdb

from planner_tui.store.contract import TABLES
from planner_tui.store.schema import existing_tables
from planner_tui.urls import redact_url


def store_meta(cur: duckdb.DuckDBPyConnection, key: str) -> str | None:
    """One value of `store_meta` (as_of, plant, loaded_at, ...); None when it was never written."""
    rows = cur.execute("SELECT value FROM store_meta WHERE key = ?", [key]).fetchall()
    return rows[0][0] if rows else None


def _redacted(value: str | None) -> str | None:
    return redact_url(value) if value else value


def plant_name(cur: duckdb.DuckDBPyConnection) -> str | None:
    """The plant's name: the snapshot's own (snapshot.json "plant"), else its machines' plants, else None."""
    named = store_meta(cur, "plant")
    if named:
        return named
    plants = [
        r[0] for r in cur.execute("SELECT DISTINCT plant FROM machines WHERE plant IS NOT NULL ORDER BY 1").fetchall()
    ]
    return ", ".join(plants) if plants else None


def _one(cur: duckdb.DuckDBPyConnection, sql: str) -> Any:
    """The single value of an aggregate query (which always answers one row)."""
    row = cur.execute(sql).fetchone()
    assert row is not None, sql
    return row[0]


def plant_status(cur: duckdb.DuckDBPyConnection) -> dict:
    # A database made before a table joined the contract, opened read-only, lacks it: empty.
    present = existing_tables(cur)
    tables = {t.name: _one(cur, f'SELECT count(*) FROM "{t.name}"') if t.name in present else 0 for t in TABLES}

    def one(sql: str) -> Any:
        return _one(cur, sql)

    return {
        "plant": plant_name(cur),
        "tables": tables,
        "machines_stopped": one("SELECT count(*) FROM machine_states WHERE state IN ('down', 'maintenance')"),
        "active_holds": one("SELECT count(*) FROM quality_holds WHERE status = 'active'"),
        "open_sales_order_lines": one("SELECT count(*) FROM sales_orders WHERE status = 'open'"),
        "open_production_orders": one(
            "SELECT count(*) FROM production_orders WHERE status IN ('planned', 'released', 'in_progress')"
        ),
        "events_received": one("SELECT count(*) FROM event_log"),
        "loaded_at": store_meta(cur, "loaded_at"),
        "snapshot_as_of": store_meta(cur, "as_of"),  # when the ERP/MES extract was taken: how old the plant is
        # An older version stored a snapshot URL with its credentials: never show them.
        "loaded_from": _redacted(store_meta(cur, "loaded_from")),
    }
