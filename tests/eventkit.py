"""Helpers for the live-event tests: a small hand-worked plant and CloudEvents builders."""

from __future__ import annotations

import json
from pathlib import Path

from plantkit import make_plant

from planner_tui.store import Store

SOURCE = "urn:test:mes"


def ce(
    event_id: str,
    type_: str,
    data: dict | None,
    *,
    seq: int | str | None = None,
    time: str = "2026-01-05T08:00:00Z",
    source: str = SOURCE,
    **extra,
) -> dict:
    """A CloudEvents 1.0 structured event as a JSON object."""
    event = {"specversion": "1.0", "id": event_id, "source": source, "type": type_, "time": time, "data": data}
    if seq is not None:
        event["sequence"] = seq
    event.update(extra)
    return event


def write_jsonl(path: Path, events: list, *, mode: str = "w") -> None:
    with path.open(mode, encoding="utf-8") as handle:
        for event in events:
            handle.write((event if isinstance(event, str) else json.dumps(event)) + "\n")


# The plant: two machines, a two-operation order, two sales order lines with shipments, lots (one of
# them already held), a purchase order for raw material, a little stock.
PLANT: dict[str, list[dict]] = {
    "machines": [{"machine_id": "M1", "supervisor": "Ana"}, {"machine_id": "M2"}],
    "machine_states": [{"machine_id": "M2", "state": "idle", "since": "2026-01-05T06:00:00"}],
    "items": [{"item_id": "FG1"}, {"item_id": "RM1", "item_type": "raw"}],
    "customers": [{"customer_id": "C1"}],
    "sales_orders": [
        {
            "sales_order_id": "SO1",
            "line_no": 1,
            "customer_id": "C1",
            "item_id": "FG1",
            "qty": 10,
            "promised_date": "2026-01-20",
        },
        {
            "sales_order_id": "SO2",
            "line_no": 1,
            "customer_id": "C1",
            "item_id": "FG1",
            "qty": 4,
            "promised_date": "2026-01-22",
        },
    ],
    "shipments": [
        {"shipment_id": "SH1", "sales_order_id": "SO1", "qty": 6, "planned_ship_date": "2026-01-19"},
        {"shipment_id": "SH2", "sales_order_id": "SO1", "qty": 4, "planned_ship_date": "2026-01-19"},
        {"shipment_id": "SH3", "sales_order_id": "SO2", "qty": 4, "planned_ship_date": "2026-01-21"},
    ],
    "lots": [
        {"lot_id": "L1", "item_id": "FG1", "qty": 6},
        {"lot_id": "L2", "item_id": "FG1", "qty": 4, "status": "hold"},
        {"lot_id": "LR", "item_id": "RM1", "qty": 10},
    ],
    "shipment_lots": [{"shipment_id": "SH1", "lot_id": "L1", "qty": 6}],
    "quality_holds": [{"hold_id": "H0", "lot_id": "L2", "reason": "scratches"}],
    "production_orders": [
        {
            "production_order_id": "P1",
            "item_id": "FG1",
            "qty": 10,
            "status": "released",
            "planned_start": "2026-01-06T08:00:00",
            "planned_end": "2026-01-07T16:00:00",
        },
        {
            "production_order_id": "P2",
            "item_id": "FG1",
            "qty": 5,
            "status": "planned",
            "planned_start": "2026-01-08T08:00:00",
            "planned_end": "2026-01-08T16:00:00",
        },
    ],
    "operations": [
        {
            "production_order_id": "P1",
            "op_seq": 10,
            "machine_id": "M1",
            "planned_start": "2026-01-06T08:00:00",
            "planned_end": "2026-01-06T16:00:00",
        },
        {
            "production_order_id": "P1",
            "op_seq": 20,
            "machine_id": "M2",
            "planned_start": "2026-01-07T08:00:00",
            "planned_end": "2026-01-07T16:00:00",
        },
        {
            "production_order_id": "P2",
            "op_seq": 10,
            "machine_id": "M1",
            "planned_start": "2026-01-08T08:00:00",
            "planned_end": "2026-01-08T16:00:00",
        },
    ],
    "purchase_orders": [
        {"purchase_order_id": "PO1", "item_id": "RM1", "qty": 100, "due_date": "2026-01-10"},
        {"purchase_order_id": "PO2", "item_id": "RM1", "qty": 50, "due_date": "2026-01-12", "status": "cancelled"},
    ],
    "inventory": [
        {"item_id": "FG1", "location": "WH", "lot_id": None, "qty": 5},
        {"item_id": "RM1", "location": "WH", "lot_id": "LR", "qty": 10},
    ],
}


def plant(store: Store | None = None) -> Store:
    """The test plant, in memory or in the given store (e.g. a database file)."""
    return make_plant(store, **{name: [dict(r) for r in rows] for name, rows in PLANT.items()})


def one(store: Store, sql: str, params: list | None = None):
    rows = store.cursor().execute(sql, params or []).fetchall()
    return rows[0] if len(rows) == 1 and len(rows[0]) > 1 else (rows[0][0] if rows else None)


def snapshot_state(store: Store) -> dict:
    """Every contract and history table's rows, to prove something left the store untouched."""
    cur = store.cursor()
    names = [
        "machine_states",
        "quality_holds",
        "lots",
        "sales_orders",
        "production_orders",
        "operations",
        "purchase_orders",
        "inventory",
        "shipments",
        "event_log",
        "feed_cursors",
    ]
    return {n: sorted(map(repr, cur.execute(f'SELECT * FROM "{n}"').fetchall())) for n in names}
