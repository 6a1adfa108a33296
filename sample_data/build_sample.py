"""Builds the sample plant's CSV files (sample_data/plant/*.csv) from the hand-written story below.

The plant is written by hand (machines, items, BOMs, customers, orders, lots, shifts, people); only the
operation times come from a tiny scheduler, so that the plan is feasible by construction in working
time: every operation lies in the working time of its machine and of each resource it needs (it pauses
outside it, as the repair does: planner_tui.engine.calendar), every machine and every resource runs one
operation at a time, an order's operations follow op_seq, and a feeder order ends before the order it
feeds begins. A repair with no stop therefore moves nothing. Run it again after editing the story:

    python sample_data/build_sample.py

The CSV files are the artefact (committed); this script is how they were made and checked.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from planner_tui.engine import calendar as wt

OUT = Path(__file__).resolve().parent / "plant"
AS_OF = datetime(2026, 11, 23, 6, 0)
PLANT = "Nordhavn Pumps & Fabrication, Aarhus works"
PLANT_CODE = "NORDHAVN-AAR"

# ---------------------------------------------------------------- machines
# (machine_id, name, work_center, line, supervisor)
MACHINES = [
    ("M-LASER-01", "Trumpf-style 6 kW fibre laser cutter", "WC-CUT", "L1-FAB", "Marta Lindqvist"),
    ("M-SAW-01", "Automatic band saw, tube and bar", "WC-CUT", "L1-FAB", "Marta Lindqvist"),
    ("M-PRESS-01", "Press brake 220 t / 3.1 m", "WC-FORM", "L1-FAB", "Marta Lindqvist"),
    ("M-PRESS-02", "Press brake 135 t / 2.5 m", "WC-FORM", "L1-FAB", "Marta Lindqvist"),
    ("M-WELD-01", "Robot welding cell (2-station, MIG)", "WC-WELD", "L1-FAB", "Tomasz Nowak"),
    ("M-WELD-02", "Manual MIG/TIG welding bay", "WC-WELD", "L1-FAB", "Tomasz Nowak"),
    ("M-PAINT-01", "Powder coating line with curing oven", "WC-PAINT", "L2-FIN", "Jonas Berg"),
    ("M-CNC-01", "5-axis CNC machining centre", "WC-CNC", "L2-FIN", "Jonas Berg"),
    ("M-CNC-02", "CNC turning centre", "WC-CNC", "L2-FIN", "Jonas Berg"),
    ("M-ASSY-01", "Pump assembly station 1", "WC-ASSY", "L3-ASSY", "Priya Nair"),
    ("M-ASSY-02", "Assembly station 2 (housings, HPU, packing)", "WC-ASSY", "L3-ASSY", "Priya Nair"),
    ("M-TEST-01", "Hydraulic test bench (flow / pressure / leak)", "WC-TEST", "L3-ASSY", "Priya Nair"),
]
# One machine is already down when the snapshot is taken.
MACHINE_STATES = [
    ("M-PRESS-02", "down", "2026-11-21T04:40:00", "Hydraulic leak on left cylinder, fitter called"),
    ("M-WELD-01", "running", "2026-11-23T06:00:00", None),
    ("M-CNC-02", "idle", "2026-11-21T06:00:00", "No work released"),
]

# Secondary resources' states at the snapshot (a resource not listed is available): the MES
# books the robot weld crew in at the start of the A-shift.
RESOURCE_STATES = [
    ("CREW-ROBOT", "available", "2026-11-23T06:00:00", None),
]

# ---------------------------------------------------------------- items
# (item_id, description, item_type, uom, safety_stock, buyer)
ITEMS = [
    ("P-100", "CP-100 centrifugal pump set, 7.5 kW, skid-mounted", "finished", "ea", 0, None),
    ("P-200", "CP-200 centrifugal pump set, 15 kW, skid-mounted", "finished", "ea", 0, None),
    # New ATEX variant: nothing in stock, nothing planned yet (the scenario confirms the first order).
    ("P-200X", "CP-200 pump set, ATEX zone 1 version, 15 kW", "finished", "ea", 0, None),
    ("HPU-300", "HPU-300 hydraulic power unit, 120 L", "finished", "ea", 0, None),
    ("CDM-400", "CDM-400 conveyor drive module", "finished", "ea", 0, None),
    ("WG-500", "WG-500 welded machine guard, 2 m panel", "finished", "ea", 10, None),
    ("SA-BASE-100", "Base frame CP-100, welded and powder coated", "subassembly", "ea", 0, None),
    ("SA-BASE-200", "Base frame CP-200, welded and powder coated", "subassembly", "ea", 0, None),
    ("SA-HOUS-100", "Pump housing CP-100, machined, impeller and seal fitted", "subassembly", "ea", 0, None),
    ("SA-HOUS-200", "Pump housing CP-200, machined, impeller and seal fitted", "subassembly", "ea", 0, None),
    ("SA-TANK-300", "Reservoir tank 120 L, welded, leak tested, coated", "subassembly", "ea", 0, None),
    ("SA-FRAME-400", "Drive frame CDM-400, welded and coated", "subassembly", "ea", 0, None),
    ("C-RAIL-100", "Base rail CP-100, laser cut and bent, S355 8 mm", "component", "ea", 0, None),
    ("C-RAIL-200", "Base rail CP-200, laser cut and bent, S355 8 mm", "component", "ea", 4, None),
    ("C-CROSS-60", "Crossmember, square tube 60x60x4, cut to 580 mm", "component", "ea", 20, None),
    ("C-PANEL-300", "Tank panel, laser cut and bent, S355 4 mm", "component", "ea", 8, None),
    ("C-PANEL-500", "Guard panel, laser cut, S355 4 mm", "component", "ea", 6, None),
    ("C-CAST-100", "Pump casing casting CP-100, EN-GJL-250", "component", "ea", 4, "Henrik Dahl"),
    ("C-CAST-200", "Pump casing casting CP-200, EN-GJL-250", "component", "ea", 4, "Henrik Dahl"),
    ("C-IMP-100", "Impeller CP-100, bronze, balanced", "component", "ea", 4, "Henrik Dahl"),
    ("C-IMP-200", "Impeller CP-200, bronze, balanced", "component", "ea", 4, "Henrik Dahl"),
    ("R-COIL-S355-8", "Steel coil S355MC 8 mm", "raw", "kg", 2000, "Sofie Madsen"),
    ("R-COIL-S355-4", "Steel coil S355MC 4 mm", "raw", "kg", 1500, "Sofie Madsen"),
    ("R-TUBE-60", "Square tube 60x60x4 S235, 6 m bars", "raw", "m", 60, "Sofie Madsen"),
    ("R-WIRE-G3SI1", "MIG welding wire G3Si1 1.0 mm, 250 kg drum", "raw", "kg", 100, "Sofie Madsen"),
    ("R-PAINT-5010", "Powder coat RAL 5010 gentian blue", "raw", "kg", 40, "Sofie Madsen"),
    ("R-MOTOR-7K5", "IE3 motor 7.5 kW 4-pole B3", "raw", "ea", 2, "Henrik Dahl"),
    ("R-MOTOR-15K", "IE3 motor 15 kW 4-pole B3", "raw", "ea", 2, "Henrik Dahl"),
    ("R-SEAL-100", "Mechanical seal kit 28 mm (CP-100)", "raw", "ea", 4, "Henrik Dahl"),
    ("R-SEAL-200", "Mechanical seal kit 38 mm (CP-200)", "raw", "ea", 2, "Henrik Dahl"),
    ("R-GEAR-400", "Helical gearbox i=20, 4 kW", "raw", "ea", 1, "Henrik Dahl"),
    ("R-BOLT-M12", "Hex bolt M12x40 8.8 zinc flake", "raw", "ea", 500, "Sofie Madsen"),
]
ITEM_TYPE = {i[0]: i[2] for i in ITEMS}

BOM = [
    # finished goods
    ("P-100", "SA-BASE-100", 1),
    ("P-100", "SA-HOUS-100", 1),
    ("P-100", "R-MOTOR-7K5", 1),
    ("P-100", "R-BOLT-M12", 12),
    ("P-200", "SA-BASE-200", 1),
    ("P-200", "SA-HOUS-200", 1),
    ("P-200", "R-MOTOR-15K", 1),
    ("P-200", "R-BOLT-M12", 16),
    ("P-200X", "SA-BASE-200", 1),
    ("P-200X", "SA-HOUS-200", 1),
    ("P-200X", "R-MOTOR-15K", 1),
    ("P-200X", "R-BOLT-M12", 16),
    ("HPU-300", "SA-TANK-300", 1),
    ("HPU-300", "R-MOTOR-7K5", 1),
    ("HPU-300", "R-BOLT-M12", 8),
    ("CDM-400", "SA-FRAME-400", 1),
    ("CDM-400", "R-GEAR-400", 1),
    ("CDM-400", "R-BOLT-M12", 10),
    ("WG-500", "C-PANEL-500", 1),
    ("WG-500", "R-TUBE-60", 6),
    ("WG-500", "R-WIRE-G3SI1", 0.4),
    ("WG-500", "R-PAINT-5010", 1.1),
    # subassemblies
    ("SA-BASE-100", "C-RAIL-100", 2),
    ("SA-BASE-100", "C-CROSS-60", 3),
    ("SA-BASE-100", "R-WIRE-G3SI1", 0.8),
    ("SA-BASE-100", "R-PAINT-5010", 1.2),
    ("SA-BASE-200", "C-RAIL-200", 2),
    ("SA-BASE-200", "C-CROSS-60", 4),
    ("SA-BASE-200", "R-WIRE-G3SI1", 1.1),
    ("SA-BASE-200", "R-PAINT-5010", 1.6),
    ("SA-HOUS-100", "C-CAST-100", 1),
    ("SA-HOUS-100", "C-IMP-100", 1),
    ("SA-HOUS-100", "R-SEAL-100", 1),
    ("SA-HOUS-200", "C-CAST-200", 1),
    ("SA-HOUS-200", "C-IMP-200", 1),
    ("SA-HOUS-200", "R-SEAL-200", 1),
    ("SA-TANK-300", "C-PANEL-300", 4),
    ("SA-TANK-300", "R-WIRE-G3SI1", 1.5),
    ("SA-TANK-300", "R-PAINT-5010", 2.0),
    ("SA-FRAME-400", "C-RAIL-200", 2),
    ("SA-FRAME-400", "C-CROSS-60", 4),
    ("SA-FRAME-400", "R-WIRE-G3SI1", 1.0),
    ("SA-FRAME-400", "R-PAINT-5010", 1.4),
    # components
    ("C-RAIL-100", "R-COIL-S355-8", 38),
    ("C-RAIL-200", "R-COIL-S355-8", 52),
    ("C-CROSS-60", "R-TUBE-60", 0.6),
    ("C-PANEL-300", "R-COIL-S355-4", 21),
    ("C-PANEL-500", "R-COIL-S355-4", 26),
]

# Routings: item -> [(machine, setup minutes, minutes per unit)], op_seq 10, 20, 30...
ROUTINGS = {
    "C-RAIL-100": [("M-LASER-01", 30, 4), ("M-PRESS-01", 25, 3)],
    "C-RAIL-200": [("M-LASER-01", 30, 5), ("M-PRESS-01", 25, 4)],
    "C-CROSS-60": [("M-SAW-01", 20, 1.5)],
    "C-PANEL-300": [("M-LASER-01", 25, 3), ("M-PRESS-02", 30, 3)],
    "C-PANEL-500": [("M-LASER-01", 25, 3)],
    "SA-BASE-100": [("M-WELD-01", 30, 40), ("M-PAINT-01", 40, 10)],
    "SA-BASE-200": [("M-WELD-01", 30, 55), ("M-PAINT-01", 40, 12)],
    "SA-FRAME-400": [("M-WELD-01", 30, 50), ("M-PAINT-01", 40, 12)],
    "SA-TANK-300": [("M-WELD-02", 30, 90), ("M-TEST-01", 15, 15), ("M-PAINT-01", 40, 15)],
    "SA-HOUS-100": [("M-CNC-01", 40, 25), ("M-CNC-02", 20, 10), ("M-ASSY-02", 15, 20)],
    "SA-HOUS-200": [("M-CNC-01", 45, 35), ("M-CNC-02", 20, 12), ("M-ASSY-02", 15, 25)],
    "P-100": [("M-ASSY-01", 20, 55), ("M-TEST-01", 15, 25), ("M-ASSY-02", 10, 10)],
    "P-200": [("M-ASSY-01", 20, 75), ("M-TEST-01", 15, 30), ("M-ASSY-02", 10, 12)],
    "HPU-300": [("M-ASSY-02", 30, 120), ("M-TEST-01", 20, 40)],
    "CDM-400": [("M-ASSY-01", 30, 50), ("M-TEST-01", 15, 20), ("M-ASSY-02", 10, 10)],
    "WG-500": [("M-WELD-02", 20, 25), ("M-PAINT-01", 30, 6)],
}

# ---------------------------------------------------------------- customers
CUSTOMERS = [
    ("CUST-KESSLER", "Kessler Process Engineering GmbH", "A", "Anna Kowalczyk"),
    ("CUST-BALTWAT", "Baltic Water Utilities AB", "A", "Lars Eriksson"),
    ("CUST-NORDAIRY", "Nordic Dairy Cooperative", "B", "Anna Kowalczyk"),
    ("CUST-IBERMIN", "Iberia Mining Services S.A.", "B", "Miguel Ortega"),
    ("CUST-MIDFOOD", "Midlands Food Machinery Ltd", "C", "Lars Eriksson"),
    ("CUST-VISTULA", "Vistula Heating Sp. z o.o.", "C", "Miguel Ortega"),
]


# ---------------------------------------------------------------- orders
@dataclass
class Order:
    po_id: str
    item: str
    qty: float
    release: datetime  # earliest start
    so: tuple[str, int] | None = None
    parent: Order | None = None
    feeders: list[Order] = field(default_factory=list)
    ops: list[dict] = field(default_factory=list)
    status: str = ""

    def feed(self, *children: Order) -> Order:
        for c in children:
            c.parent = self
            self.feeders.append(c)
        return self


def T(text: str) -> datetime:
    return datetime.fromisoformat("2026-" + text)


# Sales order lines: (so, line, customer, item, qty, confirmed_at, status, promised or None)
# promised None = derived from the plan below (the local day the made-to-order chain ends + slack days).
SALES: list[list] = []
SLACK: dict[tuple[str, int], int] = {}


def so(so_id, line, cust, item, qty, confirmed, status="open", promised=None, slack=3):
    SALES.append([so_id, line, cust, item, qty, T(confirmed), status, promised])
    SLACK[(so_id, line)] = slack
    return (so_id, line)


JOBS: list[Order] = []  # top-level orders, scheduled in this order


BY_PO: dict[str, Order] = {}


def job(order: Order) -> Order:
    JOBS.append(order)
    BY_PO[order.po_id] = order
    return order


# --- history: completed last week, lots shipped (genealogy coil -> rails -> frames -> pumps)
h1 = so("SO-24088", 1, "CUST-KESSLER", "P-100", 4, "11-09T10:12:00", "shipped", date(2026, 11, 20))
h2 = so("SO-24091", 1, "CUST-NORDAIRY", "P-100", 3, "11-10T14:40:00", "shipped", date(2026, 11, 21))
so("SO-24091", 2, "CUST-NORDAIRY", "WG-500", 6, "11-10T14:40:00", "shipped", date(2026, 11, 21))
so("SO-24079", 1, "CUST-VISTULA", "HPU-300", 1, "11-04T09:05:00", "shipped", date(2026, 11, 19))
so("SO-24095", 1, "CUST-MIDFOOD", "WG-500", 10, "11-12T11:30:00", "shipped", date(2026, 11, 20))

RAIL_H = Order("PRO-26-0401", "C-RAIL-100", 20, T("11-16T06:00"))
BASE_H1 = Order("PRO-26-0402", "SA-BASE-100", 4, T("11-16T06:00"), so=h1)
BASE_H2 = Order("PRO-26-0405", "SA-BASE-100", 3, T("11-16T06:00"), so=h2)
job(
    Order("PRO-26-0403", "P-100", 4, T("11-16T06:00"), so=h1).feed(
        BASE_H1.feed(RAIL_H), Order("PRO-26-0404", "SA-HOUS-100", 4, T("11-16T06:00"), so=h1)
    )
)
job(
    Order("PRO-26-0406", "P-100", 3, T("11-17T06:00"), so=h2).feed(
        BASE_H2, Order("PRO-26-0407", "SA-HOUS-100", 3, T("11-17T06:00"), so=h2)
    )
)
job(Order("PRO-26-0408", "WG-500", 24, T("11-17T14:00")))  # make to stock

# --- make to stock, cut on Friday
job(Order("PRO-26-0409", "C-CROSS-60", 60, T("11-20T06:00")))
job(Order("PRO-26-0410", "C-PANEL-500", 40, T("11-20T10:00")))

# --- open make-to-order chains (promised dates follow from the plan; slack 0 = tight)
mto = []
a = so("SO-24117", 1, "CUST-KESSLER", "P-200", 4, "11-16T08:45:00", slack=1)
mto.append(
    job(
        Order("PRO-26-0411", "P-200", 4, T("11-20T14:00"), so=a).feed(
            Order("PRO-26-0412", "SA-BASE-200", 4, T("11-23T05:50"), so=a),
            Order("PRO-26-0413", "SA-HOUS-200", 4, T("11-20T14:00"), so=a),
        )
    )
)
d = so("SO-24124", 1, "CUST-IBERMIN", "CDM-400", 3, "11-18T13:05:00", slack=1)
mto.append(
    job(
        Order("PRO-26-0421", "CDM-400", 3, T("11-23T06:00"), so=d).feed(
            Order("PRO-26-0422", "SA-FRAME-400", 3, T("11-23T05:50"), so=d)
        )
    )
)
b = so("SO-24120", 1, "CUST-BALTWAT", "P-100", 5, "11-17T10:20:00", slack=2)
mto.append(
    job(
        Order("PRO-26-0414", "P-100", 5, T("11-20T16:00"), so=b).feed(
            Order("PRO-26-0415", "SA-BASE-100", 5, T("11-23T05:50"), so=b).feed(
                Order("PRO-26-0416", "C-RAIL-100", 10, T("11-20T08:00"), so=b)
            ),
            Order("PRO-26-0417", "SA-HOUS-100", 5, T("11-20T16:00"), so=b),
        )
    )
)
c = so("SO-24120", 2, "CUST-BALTWAT", "P-200", 2, "11-17T10:20:00", slack=3)
mto.append(
    job(
        Order("PRO-26-0418", "P-200", 2, T("11-20T18:00"), so=c).feed(
            Order("PRO-26-0419", "SA-BASE-200", 2, T("11-23T05:50"), so=c),
            Order("PRO-26-0420", "SA-HOUS-200", 2, T("11-20T18:00"), so=c),
        )
    )
)
e = so("SO-24126", 1, "CUST-NORDAIRY", "P-100", 3, "11-18T15:30:00", slack=1)
mto.append(
    job(
        Order("PRO-26-0423", "P-100", 3, T("11-23T06:00"), so=e).feed(
            Order("PRO-26-0424", "SA-BASE-100", 3, T("11-23T06:00"), so=e).feed(
                Order("PRO-26-0425", "C-RAIL-100", 6, T("11-23T06:00"), so=e)
            ),
            Order("PRO-26-0426", "SA-HOUS-100", 3, T("11-23T06:00"), so=e),
        )
    )
)
job(Order("PRO-26-0441", "C-RAIL-200", 16, T("11-23T06:00")))  # make to stock
f = so("SO-24129", 1, "CUST-VISTULA", "HPU-300", 2, "11-19T09:10:00", slack=2)
mto.append(
    job(
        Order("PRO-26-0427", "HPU-300", 2, T("11-23T08:00"), so=f).feed(
            Order("PRO-26-0428", "SA-TANK-300", 2, T("11-23T08:00"), so=f)
        )
    )
)
g = so("SO-24131", 1, "CUST-KESSLER", "P-100", 2, "11-19T16:45:00", slack=3)
mto.append(
    job(
        Order("PRO-26-0429", "P-100", 2, T("11-24T06:00"), so=g).feed(
            Order("PRO-26-0430", "SA-BASE-100", 2, T("11-24T06:00"), so=g),
            Order("PRO-26-0431", "SA-HOUS-100", 2, T("11-24T06:00"), so=g),
        )
    )
)
h = so("SO-24133", 1, "CUST-IBERMIN", "P-200", 3, "11-20T10:00:00", slack=3)
# The CP-200 housing order that starts tomorrow needs the R-SEAL-200 kits the scenario scraps.
mto.append(
    job(
        Order("PRO-26-0432", "P-200", 3, T("11-24T08:00"), so=h).feed(
            Order("PRO-26-0433", "SA-BASE-200", 3, T("11-24T08:00"), so=h),
            Order("PRO-26-0434", "SA-HOUS-200", 3, T("11-24T08:00"), so=h),
        )
    )
)
i = so("SO-24135", 1, "CUST-MIDFOOD", "HPU-300", 1, "11-20T14:20:00", slack=4)
mto.append(
    job(
        Order("PRO-26-0435", "HPU-300", 1, T("11-25T06:00"), so=i).feed(
            Order("PRO-26-0436", "SA-TANK-300", 1, T("11-25T06:00"), so=i)
        )
    )
)
j = so("SO-24138", 1, "CUST-BALTWAT", "P-100", 6, "11-20T15:55:00", slack=3)
mto.append(
    job(
        Order("PRO-26-0437", "P-100", 6, T("11-26T06:00"), so=j).feed(
            Order("PRO-26-0438", "SA-BASE-100", 6, T("11-26T06:00"), so=j).feed(
                Order("PRO-26-0439", "C-RAIL-100", 12, T("11-25T14:00"), so=j)
            ),
            Order("PRO-26-0440", "SA-HOUS-100", 6, T("11-26T06:00"), so=j),
        )
    )
)

# --- make to stock: cut parts and guards
job(Order("PRO-26-0442", "WG-500", 16, T("11-24T14:00")))
job(Order("PRO-26-0443", "C-PANEL-300", 16, T("11-25T06:00")))
job(Order("PRO-26-0444", "C-CROSS-60", 80, T("11-26T14:00")))
job(Order("PRO-26-0445", "WG-500", 16, T("11-28T06:00")))

# --- open lines served from stock
so("SO-24121", 1, "CUST-MIDFOOD", "WG-500", 8, "11-17T12:00:00", promised=date(2026, 11, 23))
so("SO-24121", 2, "CUST-MIDFOOD", "P-100", 1, "11-17T12:00:00", promised=date(2026, 11, 24))
so("SO-24125", 1, "CUST-VISTULA", "WG-500", 4, "11-18T14:10:00", promised=date(2026, 11, 24))
so("SO-24127", 1, "CUST-KESSLER", "WG-500", 12, "11-19T08:20:00", promised=date(2026, 11, 25))
so("SO-24127", 2, "CUST-KESSLER", "HPU-300", 1, "11-19T08:20:00", promised=date(2026, 11, 26))
so("SO-24130", 1, "CUST-NORDAIRY", "WG-500", 6, "11-19T11:40:00", promised=date(2026, 11, 27))
so("SO-24132", 1, "CUST-BALTWAT", "WG-500", 10, "11-20T09:00:00", promised=date(2026, 12, 1))
so("SO-24134", 1, "CUST-IBERMIN", "WG-500", 4, "11-20T11:15:00", promised=date(2026, 12, 2))
so("SO-24136", 1, "CUST-VISTULA", "P-100", 1, "11-20T16:00:00", promised=date(2026, 12, 3))
so("SO-24137", 1, "CUST-MIDFOOD", "WG-500", 5, "11-20T16:30:00", "cancelled", date(2026, 11, 30))
so("SO-24139", 1, "CUST-NORDAIRY", "WG-500", 8, "11-21T10:00:00", promised=date(2026, 12, 4))
so("SO-24139", 2, "CUST-NORDAIRY", "WG-500", 4, "11-21T10:00:00", promised=date(2026, 12, 7))


# The Vistula HPU chain (manual weld bay, test bench, paint line) is planned before Nordic Dairy's pumps.
JOBS.insert(JOBS.index(BY_PO["PRO-26-0423"]), JOBS.pop(JOBS.index(BY_PO["PRO-26-0427"])))


# ---------------------------------------------------------------- plant time
# The plant's clock is Europe/Copenhagen (Aarhus): calendars are local wall-clock hours; every timestamp
# in the files is UTC (in winter local = UTC + 1, so the A-shift 07:00-15:00 is 06:00-14:00 UTC).
TIMEZONE = "Europe/Copenhagen"
DEFAULT_CALENDAR = "THREE-SHIFT"
WEEKDAYS = (1, 2, 3, 4, 5)
CALENDARS = (
    # three shifts (A 07-15, B 15-23, C 23-07), from Monday's A-shift to Saturday 07:00: the plant default
    [("THREE-SHIFT", 1, "07:00", "24:00")]
    + [("THREE-SHIFT", day, "00:00", "24:00") for day in (2, 3, 4, 5)]
    + [("THREE-SHIFT", 6, "00:00", "07:00")]
    # A and B shifts, Monday to Friday: the welding cells
    + [("TWO-SHIFT", day, "07:00", "23:00") for day in WEEKDAYS]
    # the A-shift only, Monday to Friday: day workers, and the paint line (its own calendar, for its service)
    + [("DAY", day, "07:00", "15:00") for day in WEEKDAYS]
    + [("PAINT-LINE", day, "07:00", "15:00") for day in WEEKDAYS]
)
CALENDAR_IDS = ("THREE-SHIFT", "TWO-SHIFT", "DAY", "PAINT-LINE")
# Christmas and New Year (local midnight to midnight, written in UTC) close every calendar.
CLOSURES = [
    (datetime(2026, 12, 23, 23, 0), datetime(2026, 12, 27, 23, 0), "Christmas shutdown"),
    (datetime(2026, 12, 31, 23, 0), datetime(2027, 1, 1, 23, 0), "New Year's Day"),
]
CALENDAR_EXCEPTIONS = sorted(
    [(cal, s, e, "false", why) for cal in CALENDAR_IDS for s, e, why in CLOSURES]
    # the paint line's planned service: the curing oven is relined on Thursday 26 November (local day)
    + [("PAINT-LINE", datetime(2026, 11, 25, 23, 0), datetime(2026, 11, 26, 23, 0), "false", "Curing oven service")]
)
MACHINE_CALENDARS = {"M-WELD-01": "TWO-SHIFT", "M-WELD-02": "TWO-SHIFT", "M-PAINT-01": "PAINT-LINE"}

# (resource_id, name, kind, calendar_id, supervisor)
RESOURCES = [
    ("FIX-BASE-100", "Welding fixture, CP-100 base frame", "tool", None, "Tomasz Nowak"),
    ("CREW-ROBOT", "Robot weld crew: Ole Jensen (A), Katrine Holm (B)", "crew", "TWO-SHIFT", "Tomasz Nowak"),
    ("P-MSORENSEN", "Mette Sørensen, powder coater", "person", "DAY", "Jonas Berg"),
    ("P-MANDERSEN", "Mikkel Andersen, certified pressure tester", "person", "DAY", "Priya Nair"),
]


def needs(item: str, machine: str) -> list[str]:
    """The resources an operation needs besides its machine."""
    out = []
    if machine == "M-WELD-01":
        out.append("CREW-ROBOT")
        if item == "SA-BASE-100":
            out.append("FIX-BASE-100")
    if machine == "M-PAINT-01":
        out.append("P-MSORENSEN")
    if machine == "M-TEST-01" and item in ("SA-TANK-300", "HPU-300"):
        out.append("P-MANDERSEN")
    return out


def _working_times():
    calendar_rows: dict[str, list] = defaultdict(list)
    for cal, day, s, e in CALENDARS:
        calendar_rows[cal].append((day, s, e))
    exceptions: dict[str, list] = defaultdict(list)
    for cal, s, e, working, _ in CALENDAR_EXCEPTIONS:
        exceptions[cal].append((s, e, working == "true"))
    cals = {c: wt.calendar(calendar_rows[c], exceptions[c], TIMEZONE, c) for c in calendar_rows}
    resource_cal = {r[0]: r[3] for r in RESOURCES}

    def of(cal_id):
        return cals[cal_id or DEFAULT_CALENDAR]

    def operation(machine: str, resources: list[str]):
        return wt.intersect(of(MACHINE_CALENDARS.get(machine)), *(of(resource_cal[r]) for r in resources))

    return operation


# ---------------------------------------------------------------- scheduling
def round5(minutes: float) -> int:
    return int(-(-minutes // 5) * 5)


def schedule() -> list[Order]:
    """Append-only list scheduling in working time: feasible by construction (see the module docstring).

    An operation starts at the first instant its machine and every resource it needs all work, once its
    order's previous operation, its feeders, its machine and its resources are free; it pauses outside
    that working time and ends when its working minutes have passed."""
    working_time = _working_times()
    free: dict[str, datetime] = defaultdict(lambda: datetime(2026, 11, 1))
    everything: list[Order] = []

    def place(order: Order) -> datetime:
        ready = order.release
        for feeder in order.feeders:
            ready = max(ready, place(feeder))
        t = ready
        for n, (machine, setup, per_unit) in enumerate(ROUTINGS[order.item], start=1):
            resources = needs(order.item, machine)
            when = working_time(machine, resources)
            start = when.next_working(max([t, free[machine]] + [free[r] for r in resources]))
            end = when.add(start, round5(setup + per_unit * order.qty))
            order.ops.append(
                {"op_seq": 10 * n, "machine_id": machine, "start": start, "end": end, "resources": resources}
            )
            for key in [machine, *resources]:
                free[key] = end
            t = end
        everything.append(order)
        return t

    for top in JOBS:
        place(top)
    return everything


# The machines the MES reports running at as_of: what they were planned to start then has started.
STARTED_AT_AS_OF = {m for m, state, since, _ in MACHINE_STATES if state == "running" and since == AS_OF.isoformat()}


def statuses(orders: list[Order]) -> None:
    for o in orders:
        for op in o.ops:
            if op["end"] <= AS_OF:
                op["status"] = "done"
            elif op["start"] < AS_OF or (op["start"] == AS_OF and op["machine_id"] in STARTED_AT_AS_OF):
                op["status"] = "running"
            else:
                op["status"] = "waiting"
        st = [op["status"] for op in o.ops]
        if all(s == "done" for s in st):
            o.status = "completed"
        elif any(s != "waiting" for s in st):
            o.status = "in_progress"
        elif o.ops[0]["start"] < AS_OF + timedelta(days=2):
            o.status = "released"
        else:
            o.status = "planned"


ORDERS = schedule()
statuses(ORDERS)
BY_ID = {o.po_id: o for o in ORDERS}


def start_of(o: Order) -> datetime:
    return o.ops[0]["start"]


def end_of(o: Order) -> datetime:
    return o.ops[-1]["end"]


def local_date(t: datetime) -> date:
    return t.replace(tzinfo=UTC).astimezone(ZoneInfo(TIMEZONE)).date()


# Promised dates of made-to-order lines: the plant's day the chain ends, plus its slack in days (0: it
# ships the evening it is finished).
for line in SALES:
    if line[7] is None:
        top = next(o for o in ORDERS if o.so == (line[0], line[1]) and o.parent is None)
        line[7] = local_date(end_of(top)) + timedelta(days=SLACK[(line[0], line[1])])

# ---------------------------------------------------------------- lots, genealogy, stock
LOTS: list[tuple] = []  # lot_id, item, qty, produced_by, status
GENEALOGY: list[tuple] = []  # input, output, qty
INVENTORY: list[tuple] = []  # item, location, lot or None, qty


def lot(lot_id, item, qty, produced_by=None, status="released", location=None, on_hand=None):
    LOTS.append((lot_id, item, qty, produced_by, status))
    if location is not None:
        INVENTORY.append((item, location, lot_id, qty if on_hand is None else on_hand))
    return lot_id


# raw coil lot -> rail blanks -> welded frames -> pumps shipped to two customers
coil = lot("LOT-C8-24117", "R-COIL-S355-8", 4200, None, "released", "WH-RAW", 4200 - 30 * 38)
rails = lot("LOT-RL100-2611-01", "C-RAIL-100", 20, "PRO-26-0401", "released", "WIP-FAB", 6)
base1 = lot("LOT-BF100-2611-01", "SA-BASE-100", 4, "PRO-26-0402", "consumed")
base2 = lot("LOT-BF100-2611-02", "SA-BASE-100", 3, "PRO-26-0405", "consumed")
hous1 = lot("LOT-PH100-2611-01", "SA-HOUS-100", 4, "PRO-26-0404", "consumed")
hous2 = lot("LOT-PH100-2611-02", "SA-HOUS-100", 3, "PRO-26-0407", "consumed")
pump1 = lot("LOT-P100-2611-01", "P-100", 4, "PRO-26-0403", "shipped")
pump2 = lot("LOT-P100-2611-02", "P-100", 3, "PRO-26-0406", "shipped")
tube = lot("LOT-TB60-2610-33", "R-TUBE-60", 240, None, "released", "WH-RAW", 140)
cross = lot("LOT-CR60-2611-01", "C-CROSS-60", 120, None, "released", "WIP-FAB", 64)
cast1 = lot("LOT-CC100-F2245", "C-CAST-100", 12, None, "consumed")
imp1 = lot("LOT-IM100-B771", "C-IMP-100", 10, None, "released", "WH-RAW", 3)
GENEALOGY += [
    (coil, rails, 20 * 38),
    (rails, base1, 8),
    (rails, base2, 6),
    (cross, base1, 12),
    (cross, base2, 9),
    (base1, pump1, 4),
    (base2, pump2, 3),
    (cast1, hous1, 4),
    (cast1, hous2, 3),
    (imp1, hous1, 4),
    (imp1, hous2, 3),
    (hous1, pump1, 4),
    (hous2, pump2, 3),
]
cast2 = lot("LOT-CC100-F2301", "C-CAST-100", 20, None, "released", "WH-RAW", 20)
lot("LOT-CC200-F2288", "C-CAST-200", 16, None, "released", "WH-RAW", 16)
# The impeller batch on hold since Friday (supplier 8D pending): its stock does not count.
lot("LOT-IM200-B779", "C-IMP-200", 6, None, "hold", "QC-QUAR", 6)
lot("LOT-IM200-B802", "C-IMP-200", 14, None, "released", "WH-RAW", 14)
lot("LOT-IM100-B805", "C-IMP-100", 20, None, "released", "WH-RAW", 20)
coil4 = lot("LOT-C4-24090", "R-COIL-S355-4", 3800, None, "released", "WH-RAW", 3800 - 24 * 26 - 40 * 26)
# guards: panels cut from the 4 mm coil, welded into guards that went to two customers
pan = lot("LOT-PN500-2611-01", "C-PANEL-500", 24, None, "consumed")
guards = lot("LOT-WG500-2611-01", "WG-500", 24, "PRO-26-0408", "released", "WH-FG", 8)
GENEALOGY += [(coil4, pan, 24 * 26), (pan, guards, 24), (tube, guards, 24 * 6)]
# picked for this morning's two shipments, still on the dock
guards_old = lot("LOT-WG500-2610-04", "WG-500", 12, None, "released", "WH-FG", 12)
lot("LOT-WG500-2610-05", "WG-500", 20, None, "released", "WH-FG", 14)
hpu_old = lot("LOT-HPU300-2611-01", "HPU-300", 2, None, "shipped")
lot("LOT-HPU300-2611-02", "HPU-300", 1, None, "released", "WH-FG", 1)
lot("LOT-P100-2610-07", "P-100", 4, None, "released", "WH-FG", 4)
# this week's cut parts so far
lot("LOT-PN500-2611-02", "C-PANEL-500", 40, "PRO-26-0410", "released", "WIP-FAB", 40)
lot("LOT-CR60-2611-02", "C-CROSS-60", 60, "PRO-26-0409", "released", "WIP-FAB", 60)
GENEALOGY += [(coil4, "LOT-PN500-2611-02", 40 * 26), (tube, "LOT-CR60-2611-02", 36)]

# Output of this week's finished feeder orders waiting in WIP for the order they feed.
WIP_LOCATION = {"C-RAIL-100": "WIP-FAB", "SA-HOUS-100": "WIP-ASSY", "SA-HOUS-200": "WIP-ASSY"}
for o in ORDERS:
    if o.status == "completed" and o.parent is not None and o.parent.status != "completed":
        lot(
            f"LOT-{o.item.split('-', 1)[1].replace('-', '')}-{o.po_id[-4:]}",
            o.item,
            o.qty,
            o.po_id,
            "released",
            WIP_LOCATION[o.item],
            o.qty,
        )
# today's rails for Baltic Water were cut from the same coil as last week's pumps
GENEALOGY.append((coil, "LOT-RAIL100-0416", 10 * 38))
lot("LOT-C8-24131", "R-COIL-S355-8", 4900, None, "released", "WH-RAW", 4900)

# unlotted stock (lot empty) and component stock
INVENTORY += [
    ("R-WIRE-G3SI1", "WH-RAW", None, 420),
    ("R-WIRE-G3SI1", "WIP-FAB", None, 55),
    ("R-PAINT-5010", "WH-RAW", None, 160),
    ("R-PAINT-5010", "WIP-FIN", None, 18),
    ("R-BOLT-M12", "WH-RAW", None, 2400),
    ("R-BOLT-M12", "WIP-ASSY", None, 350),
    ("R-MOTOR-7K5", "WH-RAW", None, 14),
    ("R-MOTOR-15K", "WH-RAW", None, 6),
    ("R-SEAL-100", "WH-RAW", None, 26),
    # exactly what tomorrow's CP-200 housing orders need plus the safety stock: the scenario
    # scraps four of them and the projection goes short before the line feels it.
    ("R-SEAL-200", "WH-RAW", None, 5),
    ("R-GEAR-400", "WH-RAW", None, 4),
    ("C-RAIL-200", "WIP-FAB", None, 20),
    ("C-PANEL-300", "WIP-FAB", None, 24),
    ("C-CAST-200", "WH-RAW", None, 0),
]
INVENTORY = [row for row in INVENTORY if row[3] > 0]

# ---------------------------------------------------------------- shipments
SHIPMENTS: list[tuple] = []  # id, so, line, qty, date, status, carrier
SHIPMENT_LOTS: list[tuple] = []
SHIPMENTS += [
    ("SH-61020", "SO-24088", 1, 4, date(2026, 11, 20), "delivered", "DSV Road"),
    ("SH-61024", "SO-24091", 1, 3, date(2026, 11, 21), "shipped", "DB Schenker"),
    ("SH-61025", "SO-24091", 2, 6, date(2026, 11, 21), "shipped", "DB Schenker"),
    ("SH-61011", "SO-24079", 1, 1, date(2026, 11, 19), "delivered", "DSV Road"),
    ("SH-61021", "SO-24095", 1, 10, date(2026, 11, 20), "delivered", "Own truck"),
]
SHIPMENT_LOTS += [
    ("SH-61020", pump1, 4),
    ("SH-61024", pump2, 3),
    ("SH-61025", guards, 6),
    ("SH-61011", hpu_old, 1),
    ("SH-61021", guards, 10),
]
# open: from stock (picked today) and made to order (planned on the promised date)
SHIPMENTS += [
    ("SH-61030", "SO-24121", 1, 8, date(2026, 11, 23), "picked", "Own truck"),
    ("SH-61031", "SO-24121", 2, 1, date(2026, 11, 24), "planned", "Own truck"),
    ("SH-61032", "SO-24125", 1, 4, date(2026, 11, 23), "picked", "DSV Road"),
    ("SH-61033", "SO-24127", 1, 12, date(2026, 11, 25), "planned", "DB Schenker"),
    ("SH-61034", "SO-24127", 2, 1, date(2026, 11, 26), "planned", "DB Schenker"),
]
SHIPMENT_LOTS += [("SH-61030", guards_old, 8), ("SH-61031", "LOT-P100-2610-07", 1), ("SH-61032", guards_old, 4)]
carriers = ["DSV Road", "DB Schenker", "Kuehne+Nagel", "Own truck"]
n = 40
for k, line in enumerate(SALES):
    so_id, line_no, cust, item, qty, conf, status, promised = line
    if status == "open" and any(o.so == (so_id, line_no) for o in ORDERS):
        SHIPMENTS.append((f"SH-610{n}", so_id, line_no, qty, promised, "planned", carriers[k % 4]))
        n += 1

# ---------------------------------------------------------------- purchase orders
PURCHASE_ORDERS = [
    ("PO-7768", "R-COIL-S355-8", 5000, date(2026, 11, 18), "Ruukki Steel Service", "received"),
    ("PO-7771", "C-CAST-100", 20, date(2026, 11, 19), "Odense Gjuteri A/S", "received"),
    ("PO-7775", "R-MOTOR-7K5", 10, date(2026, 11, 20), "Nord Drivesystems", "received"),
    ("PO-7779", "R-PAINT-5010", 200, date(2026, 11, 23), "Tiger Coatings", "open"),
    ("PO-7781", "R-MOTOR-15K", 8, date(2026, 11, 23), "Nord Drivesystems", "open"),
    ("PO-7783", "R-SEAL-200", 20, date(2026, 11, 27), "EagleBurgmann Nordic", "open"),
    ("PO-7784", "C-IMP-200", 12, date(2026, 11, 25), "Bronze Cast Vejle", "open"),
    ("PO-7786", "R-COIL-S355-4", 4000, date(2026, 11, 26), "Ruukki Steel Service", "open"),
    ("PO-7787", "R-BOLT-M12", 3000, date(2026, 11, 24), "Würth Industri", "open"),
    ("PO-7790", "R-TUBE-60", 180, date(2026, 11, 24), "Stena Stål", "open"),
    ("PO-7792", "C-CAST-200", 12, date(2026, 11, 30), "Odense Gjuteri A/S", "open"),
    ("PO-7795", "R-MOTOR-7K5", 10, date(2026, 11, 25), "Nord Drivesystems", "open"),
    ("PO-7793", "R-GEAR-400", 4, date(2026, 12, 2), "SEW-Eurodrive DK", "cancelled"),
]

# ---------------------------------------------------------------- quality holds
HOLDS = [
    (
        "QH-2611-007",
        "LOT-IM200-B779",
        "Casting porosity on 2 of 6 impellers; supplier 8D pending",
        T("11-20T13:25:00"),
        "Eva Holm (QA)",
        "active",
    ),
    (
        "QH-2611-004",
        "LOT-CC100-F2245",
        "Hardness check, within spec after retest",
        T("11-17T09:10:00"),
        "Eva Holm (QA)",
        "released",
    ),
]


# ---------------------------------------------------------------- operation resources
def operation_resources() -> list[tuple]:
    return [
        (o.po_id, op["op_seq"], r)
        for o in sorted(ORDERS, key=lambda o: o.po_id)
        for op in o.ops
        for r in op["resources"]
    ]


# ---------------------------------------------------------------- write
def fmt(v):
    if v is None:
        return ""
    if isinstance(v, datetime):
        return v.isoformat(timespec="seconds")
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def write(name: str, header: list[str], rows: list) -> None:
    with open(OUT / f"{name}.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(header)
        for r in rows:
            w.writerow([fmt(v) for v in r])


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    write(
        "machines",
        ["machine_id", "name", "work_center", "line", "plant", "supervisor", "calendar_id"],
        [(m, nm, wc, ln, PLANT_CODE, sup, MACHINE_CALENDARS.get(m)) for m, nm, wc, ln, sup in MACHINES],
    )
    write("machine_states", ["machine_id", "state", "since", "reason"], MACHINE_STATES)
    write("resource_states", ["resource_id", "state", "since", "reason"], RESOURCE_STATES)
    write("items", ["item_id", "description", "item_type", "uom", "safety_stock", "buyer"], ITEMS)
    write("bom", ["parent_item_id", "component_item_id", "qty_per"], BOM)
    write("customers", ["customer_id", "name", "tier", "account_manager"], CUSTOMERS)
    write(
        "sales_orders",
        ["sales_order_id", "line_no", "customer_id", "item_id", "qty", "promised_date", "confirmed_at", "status"],
        [(s[0], s[1], s[2], s[3], s[4], s[7], s[5], s[6]) for s in SALES],
    )
    write(
        "production_orders",
        [
            "production_order_id",
            "item_id",
            "qty",
            "status",
            "planned_start",
            "planned_end",
            "sales_order_id",
            "line_no",
            "parent_production_order_id",
        ],
        [
            (
                o.po_id,
                o.item,
                o.qty,
                o.status,
                start_of(o),
                end_of(o),
                o.so[0] if o.so else None,
                o.so[1] if o.so else None,
                o.parent.po_id if o.parent else None,
            )
            for o in sorted(ORDERS, key=lambda o: o.po_id)
        ],
    )
    write(
        "operations",
        ["production_order_id", "op_seq", "machine_id", "planned_start", "planned_end", "status"],
        [
            (o.po_id, op["op_seq"], op["machine_id"], op["start"], op["end"], op["status"])
            for o in sorted(ORDERS, key=lambda o: o.po_id)
            for op in o.ops
        ],
    )
    write("purchase_orders", ["purchase_order_id", "item_id", "qty", "due_date", "supplier", "status"], PURCHASE_ORDERS)
    write("inventory", ["item_id", "location", "lot_id", "qty"], INVENTORY)
    write("lots", ["lot_id", "item_id", "qty", "produced_by", "status"], LOTS)
    write("lot_genealogy", ["input_lot_id", "output_lot_id", "qty"], GENEALOGY)
    write(
        "shipments",
        ["shipment_id", "sales_order_id", "line_no", "qty", "planned_ship_date", "status", "carrier"],
        SHIPMENTS,
    )
    write("shipment_lots", ["shipment_id", "lot_id", "qty"], SHIPMENT_LOTS)
    write("quality_holds", ["hold_id", "lot_id", "reason", "placed_at", "placed_by", "status"], HOLDS)
    write("calendars", ["calendar_id", "weekday", "start_time", "end_time"], CALENDARS)
    write("calendar_exceptions", ["calendar_id", "start", "end", "working", "reason"], CALENDAR_EXCEPTIONS)
    write("resources", ["resource_id", "name", "kind", "calendar_id", "supervisor"], RESOURCES)
    write("operation_resources", ["production_order_id", "op_seq", "resource_id"], operation_resources())
    (OUT / "snapshot.json").write_text(
        json.dumps(
            {
                "as_of": AS_OF.isoformat(timespec="seconds"),
                "plant": PLANT,
                "timezone": TIMEZONE,
                "calendar": DEFAULT_CALENDAR,
            },
            indent=2,
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
