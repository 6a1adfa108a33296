"""Shipment, customer and machine details: the engine answers (the console's drill screens show them)
and the `shipment`, `customer`, `machine` commands, on one hand-worked plant."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import pytest
from plantkit import make_plant
from typer.testing import CliRunner

import planner_tui.engine.orders as orders
from planner_tui.cli import app
from planner_tui.engine.orders import (
    active_holds,
    customer_detail,
    list_machines,
    machine_detail,
    machine_state,
    shipment_detail,
)
from planner_tui.errors import BadRequest, NotFound
from planner_tui.store import Store

AT = datetime(2026, 1, 6, 12, 0)


def build(store: Store | None = None) -> Store:
    """ACME has two open lines (SO-1/1 promised Jan 5, overdue at AT; SO-1/2 Jan 9) and a shipped one (SO-2/1).

    SH-1 (ACME, SO-1/1, planned Jan 4: overdue) carries L-P1 and L-P2. L-P2 is held directly (H-2);
    L-P1 was made from L-C, made from L-RAW, which is held (H-1); L-P1's own hold H-OLD is released.
    BOLT's SH-3 carries L-P3, untouched. PO-A is made for SO-1/1 and fed by PO-B.
    M1 is down since Jan 6 08:00 (servo, 120 min expected): PO-A running on it, PO-B waiting, PO-Z done.
    """
    return make_plant(
        store,
        machines=[{"machine_id": "M1", "name": "Press 1", "supervisor": "Sam"}, {"machine_id": "M2"}],
        machine_states=[
            {
                "machine_id": "M1",
                "state": "down",
                "since": datetime(2026, 1, 6, 8, 0),
                "reason": "servo fault",
                "expected_minutes": 120,
            }
        ],
        customers=[
            {"customer_id": "ACME", "name": "Acme AB", "tier": "A", "account_manager": "Ann"},
            {"customer_id": "BOLT", "name": "Bolt Ltd"},
        ],
        items=[{"item_id": i} for i in ("P", "C", "R")],
        sales_orders=[
            {
                "sales_order_id": "SO-1",
                "line_no": 1,
                "customer_id": "ACME",
                "item_id": "P",
                "qty": 5,
                "promised_date": date(2026, 1, 5),
            },
            {
                "sales_order_id": "SO-1",
                "line_no": 2,
                "customer_id": "ACME",
                "item_id": "P",
                "promised_date": date(2026, 1, 9),
            },
            {
                "sales_order_id": "SO-2",
                "customer_id": "ACME",
                "item_id": "P",
                "promised_date": date(2026, 1, 2),
                "status": "shipped",
            },
            {"sales_order_id": "SO-9", "customer_id": "BOLT", "item_id": "P", "promised_date": date(2026, 1, 5)},
        ],
        production_orders=[
            {
                "production_order_id": "PO-A",
                "item_id": "P",
                "planned_start": datetime(2026, 1, 6, 8),
                "planned_end": datetime(2026, 1, 6, 16),
                "sales_order_id": "SO-1",
                "line_no": 1,
            },
            {
                "production_order_id": "PO-B",
                "item_id": "C",
                "planned_start": datetime(2026, 1, 6, 10),
                "planned_end": datetime(2026, 1, 6, 12),
                "parent_production_order_id": "PO-A",
            },
            {
                "production_order_id": "PO-Z",
                "item_id": "P",
                "planned_start": datetime(2026, 1, 5, 8),
                "planned_end": datetime(2026, 1, 5, 9),
                "sales_order_id": "SO-9",
                "line_no": 1,
                "status": "completed",
            },
        ],
        operations=[
            {
                "production_order_id": "PO-B",
                "op_seq": 10,
                "machine_id": "M1",
                "planned_start": datetime(2026, 1, 6, 10),
                "planned_end": datetime(2026, 1, 6, 12),
            },
            {
                "production_order_id": "PO-A",
                "op_seq": 10,
                "machine_id": "M1",
                "planned_start": datetime(2026, 1, 6, 12),
                "planned_end": datetime(2026, 1, 6, 16),
                "status": "running",
            },
            {
                "production_order_id": "PO-Z",
                "op_seq": 10,
                "machine_id": "M1",
                "planned_start": datetime(2026, 1, 5, 8),
                "planned_end": datetime(2026, 1, 5, 9),
                "status": "done",
            },
        ],
        lots=[
            {"lot_id": "L-RAW", "item_id": "R", "status": "consumed"},
            {"lot_id": "L-C", "item_id": "C", "status": "consumed"},
            {"lot_id": "L-P1", "item_id": "P", "qty": 3, "status": "released", "produced_by": "PO-A"},
            {"lot_id": "L-P2", "item_id": "P", "qty": 2, "status": "hold"},
            {"lot_id": "L-P3", "item_id": "P", "status": "shipped"},
        ],
        lot_genealogy=[
            {"input_lot_id": "L-RAW", "output_lot_id": "L-C"},
            {"input_lot_id": "L-C", "output_lot_id": "L-P1"},
        ],
        quality_holds=[
            {"hold_id": "H-1", "lot_id": "L-RAW", "reason": "bad melt", "placed_at": datetime(2026, 1, 6, 7)},
            {"hold_id": "H-2", "lot_id": "L-P2", "reason": "scratches", "placed_at": datetime(2026, 1, 6, 9)},
            {"hold_id": "H-OLD", "lot_id": "L-P1", "status": "released"},
        ],
        shipments=[
            {
                "shipment_id": "SH-1",
                "sales_order_id": "SO-1",
                "line_no": 1,
                "qty": 5,
                "planned_ship_date": date(2026, 1, 4),
                "carrier": "DSV",
            },
            {
                "shipment_id": "SH-4",
                "sales_order_id": "SO-1",
                "line_no": 2,
                "planned_ship_date": date(2026, 1, 9),
                "status": "picked",
            },
            {
                "shipment_id": "SH-2",
                "sales_order_id": "SO-2",
                "planned_ship_date": date(2026, 1, 2),
                "status": "shipped",
            },
            {
                "shipment_id": "SH-3",
                "sales_order_id": "SO-9",
                "planned_ship_date": date(2026, 1, 5),
                "status": "shipped",
            },
        ],
        shipment_lots=[
            {"shipment_id": "SH-1", "lot_id": "L-P1", "qty": 3},
            {"shipment_id": "SH-1", "lot_id": "L-P2", "qty": 2},
            {"shipment_id": "SH-3", "lot_id": "L-P3"},
        ],
    )


@pytest.fixture
def cur():
    return build().cursor()


# --- shipment -------------------------------------------------------------------------------------------


def test_shipment_names_its_line_customer_and_lots_with_their_holds(cur):
    d = shipment_detail(cur, "SH-1")
    assert d["shipment"]["carrier"] == "DSV" and d["shipment"]["status"] == "planned"
    assert d["shipment"]["planned_ship_date"] == date(2026, 1, 4)
    assert (d["sales_order_line"]["sales_order_id"], d["sales_order_line"]["line_no"]) == ("SO-1", 1)
    assert d["sales_order_line"]["promised_date"] == date(2026, 1, 5)
    assert d["customer"] == {"customer_id": "ACME", "name": "Acme AB", "tier": "A", "account_manager": "Ann"}
    lots = {lot["lot_id"]: lot for lot in d["lots"]}
    assert list(lots) == ["L-P1", "L-P2"]
    assert lots["L-P2"]["status"] == "hold" and [h["hold_id"] for h in lots["L-P2"]["holds"]] == ["H-2"]
    assert lots["L-P1"]["holds"] == [], "a released hold is not an active hold"
    assert lots["L-P1"]["qty"] == 3 and lots["L-P1"]["produced_by"] == "PO-A"
    assert [h["hold_id"] for h in d["holds"]] == ["H-2"]
    # H-1 sits two genealogy steps up from L-P1: it reaches this shipment through it.
    (upstream,) = d["upstream_holds"]
    assert upstream["hold_id"] == "H-1" and upstream["lot_id"] == "L-RAW" and upstream["shipped_lot_ids"] == ["L-P1"]


def test_shipment_without_lots_or_holds(cur):
    d = shipment_detail(cur, "SH-4")
    assert d["lots"] == [] and d["holds"] == [] and d["upstream_holds"] == []
    assert d["customer"]["customer_id"] == "ACME"


def test_unknown_shipment_is_not_found(cur):
    with pytest.raises(NotFound, match="SH-NOPE"):
        shipment_detail(cur, "SH-NOPE")


# --- customer -------------------------------------------------------------------------------------------


def test_customer_open_lines_with_the_orders_made_for_them(cur):
    d = customer_detail(cur, "ACME", at=AT)
    assert d["customer"]["account_manager"] == "Ann" and d["at"] == AT
    lines = {(ln["sales_order_id"], ln["line_no"]): ln for ln in d["open_lines"]}
    assert list(lines) == [("SO-1", 1), ("SO-1", 2)], "open lines only, by promise"
    assert lines[("SO-1", 1)]["overdue"] is True and lines[("SO-1", 2)]["overdue"] is False
    # Made for the line directly; PO-B feeds PO-A and is order links' business.
    assert [p["production_order_id"] for p in lines[("SO-1", 1)]["production_orders"]] == ["PO-A"]
    assert lines[("SO-1", 2)]["production_orders"] == []
    assert d["summary"]["open_lines"] == 2 and d["summary"]["overdue_lines"] == 1


def test_customer_shipments_open_and_recent_newest_first(cur):
    d = customer_detail(cur, "ACME", at=AT)
    assert [s["shipment_id"] for s in d["shipments"]] == ["SH-4", "SH-1", "SH-2"]
    overdue = {s["shipment_id"]: s["overdue"] for s in d["shipments"]}
    assert overdue == {"SH-4": False, "SH-1": True, "SH-2": False}, "only an open shipment can be overdue"
    assert d["summary"]["open_shipments"] == 2 and d["summary"]["closed_shipments"] == 1


def test_customer_shows_only_the_newest_closed_shipments(cur, monkeypatch):
    cur.execute("INSERT INTO shipments VALUES ('SH-5', 'SO-2', 1, 1, DATE '2026-01-03', 'delivered', NULL)")
    monkeypatch.setattr(orders, "RECENT_SHIPMENTS", 1)
    d = customer_detail(cur, "ACME", at=AT)
    assert [s["shipment_id"] for s in d["shipments"]] == ["SH-4", "SH-1", "SH-5"]
    assert d["summary"]["closed_shipments"] == 2 and d["summary"]["recent_shipments_shown"] == 1


def test_customer_active_holds_reach_it_directly_and_through_genealogy(cur):
    holds = {h["hold_id"]: h for h in customer_detail(cur, "ACME", at=AT)["holds"]}
    assert set(holds) == {"H-1", "H-2"}
    assert holds["H-2"]["direct"] is True and holds["H-1"]["direct"] is False
    assert holds["H-1"]["shipment_ids"] == ["SH-1"] and holds["H-1"]["already_shipped"] is False
    assert customer_detail(cur, "BOLT", at=AT)["holds"] == []


def test_customer_unknown_and_bad_at(cur):
    with pytest.raises(NotFound, match="NOPE"):
        customer_detail(cur, "NOPE", at=AT)
    with pytest.raises(BadRequest):
        customer_detail(cur, "ACME", at="yesterday")


# --- machine --------------------------------------------------------------------------------------------


def test_machine_state_stopped_or_running(cur):
    m1 = machine_state(cur, "M1")
    assert m1["stopped"] is True and m1["state"] == "down" and m1["reason"] == "servo fault"
    assert m1["since"] == datetime(2026, 1, 6, 8) and m1["expected_minutes"] == 120 and m1["supervisor"] == "Sam"
    m2 = machine_state(cur, "M2")
    assert m2["state"] == "running" and m2["stopped"] is False and m2["since"] is None
    with pytest.raises(NotFound, match="M-NOPE"):
        machine_state(cur, "M-NOPE")


def test_machine_detail_next_open_operations_running_first(cur):
    d = machine_detail(cur, "M1", at=AT)
    assert d["state_minutes"] == 240 and d["open_operations"] == 2
    assert [(o["production_order_id"], o["status"]) for o in d["next_operations"]] == [
        ("PO-A", "running"),
        ("PO-B", "waiting"),
    ]
    assert d["next_operations"][0]["sales_order_id"] == "SO-1" and d["next_operations"][0]["item_id"] == "P"
    assert [o["production_order_id"] for o in machine_detail(cur, "M1", at=AT, limit=1)["next_operations"]] == ["PO-A"]
    assert machine_detail(cur, "M2", at=AT)["state_minutes"] is None
    with pytest.raises(BadRequest):
        machine_detail(cur, "M1", at=AT, limit=0)


def test_list_machines_stopped_first_longest_stop_first():
    store = make_plant(
        machines=[{"machine_id": m} for m in ("A-RUN", "B-IDLE", "C-MAINT", "D-DOWN-LATE", "E-DOWN-EARLY")],
        machine_states=[
            {"machine_id": "B-IDLE", "state": "idle", "since": datetime(2026, 1, 6, 1)},
            {"machine_id": "C-MAINT", "state": "maintenance", "since": datetime(2026, 1, 6, 2)},
            {"machine_id": "D-DOWN-LATE", "state": "down", "since": datetime(2026, 1, 6, 9)},
            {"machine_id": "E-DOWN-EARLY", "state": "down", "since": datetime(2026, 1, 6, 8)},
        ],
    )
    cur = store.cursor()
    assert [m["machine_id"] for m in list_machines(cur)] == [
        "E-DOWN-EARLY",
        "D-DOWN-LATE",
        "C-MAINT",
        "B-IDLE",
        "A-RUN",
    ]
    stopped = list_machines(cur, stopped_only=True)
    assert [m["machine_id"] for m in stopped] == ["E-DOWN-EARLY", "D-DOWN-LATE", "C-MAINT"]
    assert all(m["stopped"] for m in stopped)


def test_active_holds_say_how_far_each_held_lot_travelled(cur):
    holds = active_holds(cur)
    assert [h["hold_id"] for h in holds] == ["H-2", "H-1"], "newest first; the released H-OLD is not listed"
    h1 = holds[1]
    assert h1["lot_id"] == "L-RAW" and h1["item_id"] == "R" and h1["reason"] == "bad melt"
    assert h1["lots_reached"] == 3 and h1["stock_qty"] == 0 and h1["shipped_to"] == [], "SH-1 is only planned"
    cur.execute("INSERT INTO inventory VALUES ('C', 'WH-1', 'L-C', 4)")
    cur.execute("UPDATE shipments SET status = 'shipped' WHERE shipment_id = 'SH-1'")
    h1 = next(h for h in active_holds(cur) if h["hold_id"] == "H-1")
    assert h1["stock_qty"] == 4 and h1["shipped_to"] == ["Acme AB"]


# --- CLI ------------------------------------------------------------------------------------------------


@pytest.fixture
def db_file(tmp_path: Path) -> Path:
    path = tmp_path / "plant.duckdb"
    store = Store.open(path)
    build(store)
    store.close()
    return path


def _invoke(*args: str):
    return CliRunner().invoke(app, list(args))


def test_cli_json_is_the_engine_answer(db_file):
    out = _invoke("shipment", "SH-1", "--json", "--db", str(db_file))
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert data["customer"]["customer_id"] == "ACME" and data["upstream_holds"][0]["hold_id"] == "H-1"
    out = _invoke("customer", "ACME", "--at", "2026-01-06T12:00", "--json", "--db", str(db_file))
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert data["at"] == "2026-01-06T12:00:00" and data["summary"]["overdue_lines"] == 1
    assert data["open_lines"][0]["promised_date"] == "2026-01-05"
    out = _invoke("machine", "M1", "--at", "2026-01-06T12:00", "--json", "--db", str(db_file))
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert data["stopped"] is True and data["since"] == "2026-01-06T08:00:00" and len(data["next_operations"]) == 2
    out = _invoke("machines", "--stopped", "--json", "--db", str(db_file))
    assert out.exit_code == 0, out.output
    assert [m["machine_id"] for m in json.loads(out.stdout)] == ["M1"]
    out = _invoke("holds", "--json", "--db", str(db_file))
    assert out.exit_code == 0, out.output
    assert [h["hold_id"] for h in json.loads(out.stdout)] == ["H-2", "H-1"]


def test_cli_tables_fit_80_columns_and_say_it_in_words(db_file):
    checks = {
        ("shipment", "SH-1"): ["ON HOLD H-2", "Acme AB", "account manager Ann", "H-1", "DSV"],
        ("customer", "ACME"): ["OVERDUE", "PO-A", "SH-4", "H-1", "H-2"],
        ("machine", "M1"): ["DOWN since 2026-01-06 08:00", "servo fault", "expected length 2h", "PO-A", "running"],
        ("machines", None): ["M1", "DOWN", "4h", "servo fault (expect 2h)", "Sam", "M2", "running"],
        ("holds", None): ["H-2", "L-P2", "not shipped", "H-1", "L-RAW", "bad melt"],
    }
    for (command, ident), words in checks.items():
        at = [] if command in ("shipment", "holds") else ["--at", "2026-01-06T12:00"]
        out = _invoke(command, *([ident] if ident else []), *at, "--db", str(db_file))
        assert out.exit_code == 0, out.output
        flowing = " ".join(out.stdout.split())  # rich wraps long lines at 80 columns
        for word in words:
            assert word in flowing, (command, word, out.stdout)
        assert max(len(line) for line in out.stdout.splitlines()) <= 80, out.stdout


def test_cli_errors_are_one_line(db_file, sample_dir):
    for command, ident in (("shipment", "SH-NOPE"), ("customer", "NOPE"), ("machine", "M-NOPE")):
        out = _invoke(command, ident, "--db", str(db_file))
        assert out.exit_code == 3 and ident in out.output and "Traceback" not in out.output
        out = _invoke(command, ident, "--db", str(db_file), "--snapshot", str(sample_dir))
        assert out.exit_code == 2 and "exactly one" in out.output
    out = _invoke("customer", "ACME", "--at", "yesterday", "--db", str(db_file))
    assert out.exit_code == 2 and "malformed" in out.output


def test_cli_snapshot_in_memory(sample_dir):
    out = _invoke("customer", "CUST-KESSLER", "--at", "2026-11-23T06:00", "--json", "--snapshot", str(sample_dir))
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["customer"]["account_manager"] == "Anna Kowalczyk"


# --- the console asks the engine ------------------------------------------------------------------------


def test_drill_screens_do_not_query_the_store_themselves(repo_root):
    screens = sorted((repo_root / "planner_tui" / "console" / "screens").glob("*.py"))
    assert len(screens) > 5, "no screens found to check"
    for path in screens:
        source = path.read_text()
        assert "execute(" not in source and "SELECT" not in source, path.name
