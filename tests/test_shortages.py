"""Material shortages on hand-worked plants: each rule of the time-phased balance, one small plant each."""

from __future__ import annotations

from datetime import datetime

import pytest
from plantkit import make_plant

from planner_tui.engine.shortages import balance_series, projection, shortages
from planner_tui.errors import BadRequest, NotFound

AT = datetime(2026, 1, 10, 12, 0)


def short_of(answer: dict, item_id: str) -> dict | None:
    return next((s for s in answer["shortages"] if s["item_id"] == item_id), None)


def test_on_hand_excludes_lots_on_hold_either_way():
    store = make_plant(
        items=[{"item_id": "RM"}],
        lots=[
            {"lot_id": "L1", "item_id": "RM"},
            {"lot_id": "L2", "item_id": "RM", "status": "hold"},  # lot status hold
            {"lot_id": "L3", "item_id": "RM"},  # an active quality hold
            {"lot_id": "L4", "item_id": "RM"},  # a released quality hold: usable again
        ],
        quality_holds=[
            {"hold_id": "H3", "lot_id": "L3", "status": "active"},
            {"hold_id": "H4", "lot_id": "L4", "status": "released"},
        ],
        inventory=[
            {"item_id": "RM", "location": "A", "lot_id": "L1", "qty": 10},
            {"item_id": "RM", "location": "A", "lot_id": "L2", "qty": 100},
            {"item_id": "RM", "location": "B", "lot_id": "L3", "qty": 50},
            {"item_id": "RM", "location": "B", "lot_id": "L4", "qty": 7},
            {"item_id": "RM", "location": "C", "lot_id": None, "qty": 3},  # unlotted stock counts
        ],
        sales_orders=[
            {"sales_order_id": "SO-1", "customer_id": "C", "item_id": "RM", "qty": 25, "promised_date": "2026-01-15"}
        ],
    )
    cur = store.cursor()
    assert projection(cur, "RM", at=AT)["on_hand"] == 20
    # 20 on hand against 25 wanted: the held 150 would have covered it, but it does not count.
    s = short_of(shortages(cur, at=AT), "RM")
    assert s["max_short_qty"] == 5 and s["first_short_at"] == datetime(2026, 1, 15)


def test_supply_counts_before_demand_at_the_same_instant():
    store = make_plant(
        items=[{"item_id": "X"}],
        # Demand's id sorts before supply's and it was entered first: the rule, not luck, orders them.
        sales_orders=[
            {"sales_order_id": "A-1", "customer_id": "C", "item_id": "X", "qty": 5, "promised_date": "2026-01-12"}
        ],
        purchase_orders=[{"purchase_order_id": "Z-PO", "item_id": "X", "qty": 5, "due_date": "2026-01-12"}],
    )
    cur = store.cursor()
    assert shortages(cur, at=AT)["shortages"] == []
    points = projection(cur, "X", at=AT)["points"]
    assert [(p["kind"], p["balance"]) for p in points] == [("on_hand", 0), ("purchase_order", 5), ("sales_order", 0)]


def test_overdue_supply_and_demand_count_now_and_are_flagged():
    store = make_plant(
        items=[{"item_id": "LATE"}, {"item_id": "COVERED"}],
        # LATE: a demand promised two days ago, nothing to cover it: short right now.
        sales_orders=[
            {
                "sales_order_id": "SO-7",
                "line_no": 2,
                "customer_id": "C",
                "item_id": "LATE",
                "qty": 4,
                "promised_date": "2026-01-08",
            },
            {
                "sales_order_id": "SO-8",
                "customer_id": "C",
                "item_id": "COVERED",
                "qty": 8,
                "promised_date": "2026-01-12",
            },
        ],
        # COVERED: an overdue purchase order is still owed; it counts now, before the future demand.
        purchase_orders=[{"purchase_order_id": "PO-1", "item_id": "COVERED", "qty": 10, "due_date": "2026-01-05"}],
    )
    cur = store.cursor()
    answer = shortages(cur, at=AT)
    assert [s["item_id"] for s in answer["shortages"]] == ["LATE"]
    late = answer["shortages"][0]
    assert late["first_short_at"] == AT and late["overdue"] is True and late["recovers_at"] is None
    assert late["affected"] == [
        {
            "kind": "sales_order",
            "id": "SO-7/2",
            "item_id": "LATE",
            "need_at": datetime(2026, 1, 8),
            "counted_at": AT,
            "qty": 4,
            "overdue": True,
            "balance": -4,
        },
    ]
    points = projection(cur, "COVERED", at=AT)["points"]
    assert [(p["kind"], p["at"], p["due_at"], p["overdue"]) for p in points[1:]] == [
        ("purchase_order", AT, datetime(2026, 1, 5), True),
        ("sales_order", datetime(2026, 1, 12), datetime(2026, 1, 12), False),
    ]


def bom_plant():
    return make_plant(
        items=[{"item_id": "FG"}, {"item_id": "C1"}, {"item_id": "C2"}, {"item_id": "RAWX"}],
        bom=[
            {"parent_item_id": "FG", "component_item_id": "C1", "qty_per": 2.5},
            {"parent_item_id": "FG", "component_item_id": "C2", "qty_per": 1},
            # C1's own component: one level only, no order makes C1, so no demand for RAWX.
            {"parent_item_id": "C1", "component_item_id": "RAWX", "qty_per": 3},
        ],
        production_orders=[
            {
                "production_order_id": "P-PLAN",
                "item_id": "FG",
                "qty": 4,
                "status": "planned",
                "planned_start": "2026-01-12T06:00",
                "planned_end": "2026-01-12T18:00",
            },
            {
                "production_order_id": "P-REL",
                "item_id": "FG",
                "qty": 2,
                "status": "released",
                "planned_start": "2026-01-13T06:00",
                "planned_end": "2026-01-13T18:00",
            },
            {
                "production_order_id": "P-RUN",
                "item_id": "FG",
                "qty": 10,
                "status": "in_progress",
                "planned_start": "2026-01-09T06:00",
                "planned_end": "2026-01-11T18:00",
            },
            {
                "production_order_id": "P-DONE",
                "item_id": "FG",
                "qty": 10,
                "status": "completed",
                "planned_start": "2026-01-14T06:00",
                "planned_end": "2026-01-14T18:00",
            },
            {
                "production_order_id": "P-CANC",
                "item_id": "FG",
                "qty": 10,
                "status": "cancelled",
                "planned_start": "2026-01-14T06:00",
                "planned_end": "2026-01-14T18:00",
            },
        ],
        inventory=[{"item_id": "C1", "location": "A", "qty": 12}, {"item_id": "C2", "location": "A", "qty": 6}],
    )


def test_bom_explosion_qty_times_qty_per_at_planned_start_for_planned_and_released_only():
    cur = bom_plant().cursor()
    c1 = projection(cur, "C1", at=AT)["points"]
    assert [(p["ref"], p["at"], p["delta"], p["balance"]) for p in c1] == [
        (None, AT, 12, 12),
        ("P-PLAN", datetime(2026, 1, 12, 6), -10, 2),  # 4 x 2.5
        ("P-REL", datetime(2026, 1, 13, 6), -5, -3),  # 2 x 2.5
    ]
    assert projection(cur, "RAWX", at=AT)["points"][1:] == []
    answer = shortages(cur, at=AT)
    assert [s["item_id"] for s in answer["shortages"]] == ["C1"]
    c1_short = answer["shortages"][0]
    assert c1_short["affected"] == [
        {
            "kind": "production_order",
            "id": "P-REL",
            "item_id": "FG",
            "need_at": datetime(2026, 1, 13, 6),
            "counted_at": datetime(2026, 1, 13, 6),
            "qty": 5,
            "overdue": False,
            "balance": -3,
        },
    ]


def test_production_supply_at_planned_end_including_in_progress_orders():
    cur = bom_plant().cursor()
    fg = projection(cur, "FG", at=AT)["points"]
    assert [(p["kind"], p["ref"], p["at"], p["delta"]) for p in fg[1:]] == [
        ("production_order", "P-RUN", datetime(2026, 1, 11, 18), 10),
        ("production_order", "P-PLAN", datetime(2026, 1, 12, 18), 4),
        ("production_order", "P-REL", datetime(2026, 1, 13, 18), 2),
    ]


def test_below_safety_stock_is_a_warning_not_a_shortage():
    store = make_plant(
        items=[{"item_id": "W", "safety_stock": 8, "buyer": "Bea", "description": "Washer"}],
        inventory=[{"item_id": "W", "location": "A", "qty": 10}],
        sales_orders=[
            {"sales_order_id": "SO-1", "customer_id": "C", "item_id": "W", "qty": 5, "promised_date": "2026-01-14"}
        ],
    )
    answer = shortages(store.cursor(), at=AT)
    assert answer["shortages"] == []
    assert answer["warnings"] == [
        {
            "item_id": "W",
            "description": "Washer",
            "buyer": "Bea",
            "below_safety_at": datetime(2026, 1, 14),
            "min_balance": 5,
            "safety_stock": 8,
        },
    ]


def recovery_plant():
    return make_plant(
        items=[{"item_id": "R", "buyer": "Bea", "safety_stock": 1}],
        sales_orders=[
            {"sales_order_id": "SO-1", "customer_id": "C", "item_id": "R", "qty": 5, "promised_date": "2026-01-12"},
            {"sales_order_id": "SO-2", "customer_id": "C", "item_id": "R", "qty": 1, "promised_date": "2026-01-14"},
            {"sales_order_id": "SO-3", "customer_id": "C", "item_id": "R", "qty": 2, "promised_date": "2026-01-16"},
            {"sales_order_id": "SO-4", "customer_id": "C", "item_id": "R", "qty": 20, "promised_date": "2026-01-20"},
        ],
        purchase_orders=[
            {"purchase_order_id": "PO-1", "item_id": "R", "qty": 3, "due_date": "2026-01-13"},
            {"purchase_order_id": "PO-2", "item_id": "R", "qty": 10, "due_date": "2026-01-15"},
        ],
    )
    # balance: 0, SO-1 -5, PO-1 -2, SO-2 -3, PO-2 +7, SO-3 +5, SO-4 -15 (never recovers)


def test_recovers_at_and_affected_demands_while_below_zero():
    cur = recovery_plant().cursor()
    answer = shortages(cur, at=AT, horizon_days=6)  # to 2026-01-16T12:00: SO-4 is beyond
    (s,) = answer["shortages"]
    assert s["buyer"] == "Bea"
    assert s["first_short_at"] == datetime(2026, 1, 12)
    assert s["max_short_qty"] == 5
    assert s["recovers_at"] == datetime(2026, 1, 15)
    assert s["overdue"] is False
    # SO-1 takes it below zero, SO-2 finds it still below; SO-3 comes after the recovery.
    assert [(a["id"], a["qty"], a["balance"]) for a in s["affected"]] == [("SO-1/1", 5, -5), ("SO-2/1", 1, -3)]
    assert answer["warnings"] == []  # a short item is not also warned about


def test_a_second_short_period_that_never_recovers_leaves_recovers_at_null():
    answer = shortages(recovery_plant().cursor(), at=AT)
    (s,) = answer["shortages"]
    assert s["recovers_at"] is None
    assert s["max_short_qty"] == 15
    assert [(p["short_at"], p["recovers_at"], p["max_short_qty"]) for p in s["periods"]] == [
        (datetime(2026, 1, 12), datetime(2026, 1, 15), 5),
        (datetime(2026, 1, 20), None, 15),
    ]
    assert [a["id"] for a in s["affected"]] == ["SO-1/1", "SO-2/1", "SO-4/1"]


def test_horizon_cuts_later_events():
    cur = recovery_plant().cursor()
    assert shortages(cur, at=AT, horizon_days=1)["shortages"] == []  # to 01-11T12:00: nothing due yet
    two = shortages(cur, at=AT, horizon_days=2)  # to 01-12T12:00: SO-1 only
    assert two["horizon_end"] == datetime(2026, 1, 12, 12)
    assert two["shortages"][0]["recovers_at"] is None
    points = projection(cur, "R", at=AT, horizon_days=2)["points"]
    assert [p["ref"] for p in points] == [None, "SO-1/1"]


def test_sales_order_id_is_so_slash_line_and_shortages_sort_by_first_short_at():
    store = make_plant(
        items=[{"item_id": "A"}, {"item_id": "B"}, {"item_id": "C"}],
        sales_orders=[
            {
                "sales_order_id": "SO-1001",
                "line_no": 1,
                "customer_id": "X",
                "item_id": "A",
                "qty": 1,
                "promised_date": "2026-01-18",
            },
            {
                "sales_order_id": "SO-1001",
                "line_no": 3,
                "customer_id": "X",
                "item_id": "B",
                "qty": 1,
                "promised_date": "2026-01-11",
            },
            {
                "sales_order_id": "SO-1002",
                "line_no": 1,
                "customer_id": "X",
                "item_id": "C",
                "qty": 1,
                "promised_date": "2026-01-15",
            },
            {
                "sales_order_id": "SO-1003",
                "line_no": 1,
                "customer_id": "X",
                "item_id": "C",
                "qty": 1,
                "promised_date": "2026-01-15",
                "status": "shipped",
            },  # not open: no demand
        ],
    )
    answer = shortages(store.cursor(), at=AT)
    assert [(s["item_id"], [a["id"] for a in s["affected"]]) for s in answer["shortages"]] == [
        ("B", ["SO-1001/3"]),
        ("C", ["SO-1002/1"]),
        ("A", ["SO-1001/1"]),
    ]
    assert answer["shortages"][1]["max_short_qty"] == 1


def test_received_and_cancelled_purchase_orders_are_no_supply():
    store = make_plant(
        items=[{"item_id": "A"}],
        purchase_orders=[
            {"purchase_order_id": "PO-R", "item_id": "A", "qty": 9, "due_date": "2026-01-11", "status": "received"},
            {"purchase_order_id": "PO-C", "item_id": "A", "qty": 9, "due_date": "2026-01-11", "status": "cancelled"},
        ],
        sales_orders=[
            {"sales_order_id": "SO-1", "customer_id": "X", "item_id": "A", "qty": 2, "promised_date": "2026-01-12"}
        ],
    )
    assert short_of(shortages(store.cursor(), at=AT), "A")["max_short_qty"] == 2


def test_float_quantities_make_no_phantom_shortage():
    store = make_plant(
        items=[{"item_id": "P"}, {"item_id": "FG"}],
        bom=[{"parent_item_id": "FG", "component_item_id": "P", "qty_per": 0.1}],
        inventory=[{"item_id": "P", "location": "A", "qty": 0.3}],
        production_orders=[
            {
                "production_order_id": f"P{i}",
                "item_id": "FG",
                "qty": 1,
                "status": "planned",
                "planned_start": f"2026-01-1{i}T00:00",
                "planned_end": f"2026-01-1{i}T08:00",
            }
            for i in (1, 2, 3)
        ],
    )
    assert shortages(store.cursor(), at=AT)["shortages"] == []


def test_balance_series_for_sparklines():
    series = balance_series(recovery_plant().cursor(), ["R"], at=AT)
    assert [b for _, b in series["R"]] == [0, -5, -2, -3, 7, 5, -15]


def test_bad_requests():
    store = recovery_plant()
    cur = store.cursor()
    with pytest.raises(BadRequest, match="negative"):
        shortages(cur, at=AT, horizon_days=-1)
    with pytest.raises(BadRequest, match="negative"):
        projection(cur, "R", at=AT, horizon_days=-3)
    with pytest.raises(NotFound, match="NOPE"):
        projection(cur, "NOPE", at=AT)


# --- the CLI: `planner-tui shortages` ---------------------------------------------------------------


def _write_csv_snapshot(folder):
    """A tiny plant in the contract's CSV form: R runs short of a sales order, W dips below safety stock."""
    files = {
        "machines.csv": "machine_id,name,work_center,line,plant,supervisor\nM1,Saw,WC,L1,P,Sam\n",
        "items.csv": "item_id,description,item_type,uom,safety_stock,buyer\n"
        "R,Rod,raw,ea,0,Bea\nW,Washer,component,ea,8,Bea\n",
        "customers.csv": "customer_id,name,tier,account_manager\nC1,Acme,A,Alice\n",
        "sales_orders.csv": "sales_order_id,line_no,customer_id,item_id,qty,promised_date,confirmed_at,status\n"
        "SO-1001,1,C1,R,5,2026-01-12,2026-01-01T00:00:00,open\n"
        "SO-1001,2,C1,W,5,2026-01-14,2026-01-01T00:00:00,open\n",
        "production_orders.csv": "production_order_id,item_id,qty,status,planned_start,planned_end,"
        "sales_order_id,line_no,parent_production_order_id\n",
        "operations.csv": "production_order_id,op_seq,machine_id,planned_start,planned_end,status\n",
        "shipments.csv": "shipment_id,sales_order_id,line_no,qty,planned_ship_date,status,carrier\n",
        "purchase_orders.csv": "purchase_order_id,item_id,qty,due_date,supplier,status\n"
        "PO-1,R,10,2026-01-15,Steel Co,open\n",
        "inventory.csv": "item_id,location,lot_id,qty\nW,A,,10\n",
    }
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder


def test_cli_shortages_json_from_a_csv_snapshot(tmp_path):
    import json

    from typer.testing import CliRunner

    from planner_tui.cli import app

    snap = str(_write_csv_snapshot(tmp_path / "snap"))
    runner = CliRunner()
    result = runner.invoke(app, ["shortages", "--snapshot", snap, "--at", "2026-01-10T12:00:00", "--json"])
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert answer["at"] == "2026-01-10T12:00:00" and answer["horizon_end"] is None
    (short,) = answer["shortages"]
    assert short["item_id"] == "R" and short["buyer"] == "Bea"
    assert short["first_short_at"] == "2026-01-12T00:00:00" and short["recovers_at"] == "2026-01-15T00:00:00"
    assert short["affected"][0]["id"] == "SO-1001/1" and short["affected"][0]["kind"] == "sales_order"
    assert [w["item_id"] for w in answer["warnings"]] == ["W"]

    result = runner.invoke(
        app, ["shortages", "--snapshot", snap, "--at", "2026-01-10T12:00:00", "--horizon-days", "3", "--json"]
    )
    assert json.loads(result.stdout)["shortages"][0]["recovers_at"] is None

    result = runner.invoke(
        app, ["shortages", "--snapshot", snap, "--at", "2026-01-10T12:00:00", "--item", "R", "--json"]
    )
    assert result.exit_code == 0, result.output
    points = json.loads(result.stdout)["points"]
    assert [(p["kind"], p["balance"]) for p in points] == [("on_hand", 0), ("sales_order", -5), ("purchase_order", 5)]

    table = runner.invoke(app, ["shortages", "--snapshot", snap, "--at", "2026-01-10T12:00:00"])
    assert table.exit_code == 0 and "SO-1001/1" in table.stdout and "Washer" in table.stdout


def test_cli_shortages_bad_requests(tmp_path):
    from typer.testing import CliRunner

    from planner_tui.cli import app

    snap = str(_write_csv_snapshot(tmp_path / "snap"))
    runner = CliRunner()
    result = runner.invoke(app, ["shortages", "--snapshot", snap, "--horizon-days", "-1"])
    assert result.exit_code == BadRequest.exit_code and "negative" in result.output
    result = runner.invoke(app, ["shortages", "--snapshot", snap, "--at", "yesterday"])
    assert result.exit_code == BadRequest.exit_code and "malformed --at" in result.output
    result = runner.invoke(app, ["shortages", "--snapshot", snap, "--item", "NOPE"])
    assert result.exit_code == NotFound.exit_code and "unknown item 'NOPE'" in result.output
    assert "Traceback" not in result.output


# --- the sample plant -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample(sample_dir):
    import json

    from planner_tui.store import Store
    from planner_tui.store.loader import load_snapshot

    store = Store.memory()
    load_snapshot(store, sample_dir)
    meta = sample_dir / "snapshot.json"
    as_of = json.loads(meta.read_text())["as_of"] if meta.exists() else "2026-11-23T06:00:00"
    yield store.cursor(), datetime.fromisoformat(as_of)
    store.close()


def test_sample_held_lots_are_not_on_hand(sample):
    cur, at = sample
    held = cur.execute(
        """SELECT DISTINCT i.item_id FROM inventory i JOIN lots l USING (lot_id)
           WHERE l.status = 'hold' OR l.lot_id IN (SELECT lot_id FROM quality_holds WHERE status = 'active')"""
    ).fetchall()
    assert held, "the sample has stock on hold"
    for (item_id,) in held:
        usable = cur.execute(
            """SELECT coalesce(sum(i.qty), 0) FROM inventory i LEFT JOIN lots l USING (lot_id)
               WHERE i.item_id = ? AND (i.lot_id IS NULL OR (l.status IS DISTINCT FROM 'hold' AND i.lot_id NOT IN
                     (SELECT lot_id FROM quality_holds WHERE status = 'active')))""",
            [item_id],
        ).fetchone()[0]
        assert projection(cur, item_id, at=at)["on_hand"] == usable


def test_sample_shortages_are_consistent_with_each_items_projection(sample):
    cur, at = sample
    answer = shortages(cur, at=at)
    firsts = [s["first_short_at"] for s in answer["shortages"]]
    assert firsts == sorted(firsts)
    for s in answer["shortages"]:
        p = projection(cur, s["item_id"], at=at)
        assert p["first_short_at"] == s["first_short_at"] and p["recovers_at"] == s["recovers_at"]
        assert -p["min_balance"] == s["max_short_qty"]
        for a in s["affected"]:
            if a["kind"] == "sales_order":
                so, line = a["id"].rsplit("/", 1)
                assert cur.execute(
                    "SELECT status FROM sales_orders WHERE sales_order_id = ? AND line_no = ?", [so, int(line)]
                ).fetchone() == ("open",)
    for w in answer["warnings"]:
        assert 0 <= w["min_balance"] < w["safety_stock"]


@pytest.mark.parametrize("days", [float("nan"), float("inf"), 100_000_000])
def test_a_horizon_that_is_not_a_sane_number_is_a_bad_request(days):
    from plantkit import make_plant

    from planner_tui.engine.shortages import shortages
    from planner_tui.errors import BadRequest

    store = make_plant(items=[{"item_id": "I1"}])
    with pytest.raises(BadRequest, match="horizon"):
        shortages(store.cursor(), at=datetime(2026, 1, 5, 8), horizon_days=days)
