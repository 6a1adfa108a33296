"""Builds the demo's live feed, sample_data/scenario.jsonl: Monday morning at Nordhavn, 06:00 to 09:00.

CloudEvents 1.0 (JSON structured form), one a line, `sequence` 1..N in file order and time order.
The story and the ids worth trying are in sample_data/README.md. Run it again after editing:

    python sample_data/build_scenario.py
"""

from __future__ import annotations

import json
from pathlib import Path

OUT = Path(__file__).resolve().parent / "scenario.jsonl"
MES = "urn:plant:nordhavn-aar:mes"
ERP = "urn:plant:nordhavn-aar:erp"
DAY = "2026-11-23"

# (time hh:mm[:ss], source, type, data)
STORY: list[tuple[str, str, str, dict]] = [
    # routine start of the A-shift
    ("06:01", MES, "inventory.adjusted", {"item_id": "R-BOLT-M12", "location": "WIP-ASSY", "qty_delta": -12}),
    ("06:03", ERP, "receipt.posted", {"purchase_order_id": "PO-7779", "qty": 200}),
    ("06:05", MES, "inventory.adjusted", {"item_id": "R-PAINT-5010", "location": "WIP-FIN", "qty_delta": 25}),
    ("06:08", ERP, "shipment.shipped", {"shipment_id": "SH-61030"}),
    # GAP 1: the robot welding cell stops; today's make-to-order chains run through it
    (
        "06:12",
        MES,
        "machine.down",
        {
            "machine_id": "M-WELD-01",
            "reason": "Torch collision on station B; axis-2 servo drive failed, replacement from the robot supplier "
            "due tomorrow midday",
            "expected_minutes": 1800,
        },
    ),
    ("06:14", MES, "inventory.adjusted", {"item_id": "R-WIRE-G3SI1", "location": "WIP-FAB", "qty_delta": -3}),
    ("06:18", ERP, "shipment.shipped", {"shipment_id": "SH-61032"}),
    (
        "06:24",
        MES,
        "inventory.adjusted",
        {"item_id": "C-CROSS-60", "location": "WIP-FAB", "lot_id": "LOT-CR60-2611-02", "qty_delta": -2},
    ),
    # GAP 2: QA holds the coil that last week's pumps were made from, and they have shipped
    (
        "06:31",
        MES,
        "hold.placed",
        {
            "hold_id": "QH-2611-009",
            "lot_id": "LOT-C8-24117",
            "reason": "Mill certificate mismatch: yield strength 318 MPa, below S355 minimum; supplier notified",
            "placed_by": "Eva Holm (QA)",
        },
    ),
    ("06:36", MES, "inventory.adjusted", {"item_id": "R-PAINT-5010", "location": "WH-RAW", "qty_delta": -25}),
    # a short receipt: 4 of 8 motors arrived
    ("06:40", ERP, "receipt.posted", {"purchase_order_id": "PO-7781", "qty": 4}),
    # GAP 3: an order confirmed for the new ATEX variant: no stock, no production order, nothing
    (
        "06:46",
        ERP,
        "order.confirmed",
        {
            "sales_order_id": "SO-24142",
            "line_no": 1,
            "customer_id": "CUST-IBERMIN",
            "item_id": "P-200X",
            "qty": 2,
            "promised_date": "2026-12-01",
        },
    ),
    ("06:52", MES, "operation.completed", {"production_order_id": "PRO-26-0425", "op_seq": 10}),
    (
        "06:58",
        ERP,
        "order.confirmed",
        {
            "sales_order_id": "SO-24143",
            "line_no": 1,
            "customer_id": "CUST-MIDFOOD",
            "item_id": "WG-500",
            "qty": 4,
            "promised_date": "2026-12-03",
        },
    ),
    # GAP 4: four CP-200 seal kits damaged in stores; tomorrow's housing order PRO-26-0434 will miss them
    ("07:03", MES, "inventory.adjusted", {"item_id": "R-SEAL-200", "location": "WH-RAW", "qty_delta": -4}),
    ("07:09", MES, "inventory.adjusted", {"item_id": "C-PANEL-300", "location": "WIP-FAB", "qty_delta": 1}),
    ("07:15", ERP, "receipt.posted", {"purchase_order_id": "PO-7790", "qty": 180, "lot_id": "LOT-TB60-2611-41"}),
    ("07:21", MES, "inventory.adjusted", {"item_id": "R-BOLT-M12", "location": "WH-RAW", "qty_delta": -350}),
    ("07:24", MES, "inventory.adjusted", {"item_id": "R-BOLT-M12", "location": "WIP-ASSY", "qty_delta": 350}),
    ("07:38", MES, "inventory.adjusted", {"item_id": "R-WIRE-G3SI1", "location": "WH-RAW", "qty_delta": -250}),
    ("07:40", MES, "inventory.adjusted", {"item_id": "R-WIRE-G3SI1", "location": "WIP-FAB", "qty_delta": 250}),
    ("07:44", ERP, "order.changed", {"sales_order_id": "SO-24130", "line_no": 1, "qty": 8}),
    ("07:50", ERP, "order.changed", {"sales_order_id": "SO-24138", "line_no": 1, "promised_date": "2026-11-28"}),
    ("07:56", MES, "operation.completed", {"production_order_id": "PRO-26-0426", "op_seq": 10}),
    ("08:04", ERP, "order.cancelled", {"sales_order_id": "SO-24139", "line_no": 2}),
    ("08:10", ERP, "receipt.posted", {"purchase_order_id": "PO-7787", "qty": 3000}),
    ("08:14", MES, "inventory.adjusted", {"item_id": "R-WIRE-G3SI1", "location": "WIP-FAB", "qty_delta": -18}),
    # the press brake that was down at 06:00 is back: a cause that clears
    ("08:20", MES, "machine.up", {"machine_id": "M-PRESS-02"}),
    (
        "08:27",
        MES,
        "inventory.adjusted",
        {"item_id": "C-PANEL-500", "location": "WIP-FAB", "lot_id": "LOT-PN500-2611-02", "qty_delta": -1},
    ),
    # QA accepts the supplier's 8D on Friday's impeller batch
    ("08:33", MES, "hold.released", {"hold_id": "QH-2611-007"}),
    ("08:41", MES, "operation.completed", {"production_order_id": "PRO-26-0441", "op_seq": 10}),
    ("08:44", MES, "operation.completed", {"production_order_id": "PRO-26-0426", "op_seq": 20}),
    (
        "08:49",
        ERP,
        "order.confirmed",
        {
            "sales_order_id": "SO-24144",
            "line_no": 1,
            "customer_id": "CUST-VISTULA",
            "item_id": "WG-500",
            "qty": 6,
            "promised_date": "2026-12-08",
        },
    ),
    ("08:53", MES, "inventory.adjusted", {"item_id": "R-PAINT-5010", "location": "WIP-FIN", "qty_delta": -6}),
]


def events() -> list[dict]:
    out = []
    for seq, (hhmm, source, etype, data) in enumerate(STORY, start=1):
        clock = hhmm if hhmm.count(":") == 2 else hhmm + ":00"
        out.append(
            {
                "specversion": "1.0",
                "id": f"{'mes' if source == MES else 'erp'}-{DAY.replace('-', '')}-{seq:04d}",
                "source": source,
                "type": etype,
                "time": f"{DAY}T{clock}Z",
                "sequence": str(seq),
                "datacontenttype": "application/json",
                "data": data,
            }
        )
    return out


def main() -> None:
    with open(OUT, "w", encoding="utf-8", newline="\n") as fh:
        for event in events():
            fh.write(json.dumps(event, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
