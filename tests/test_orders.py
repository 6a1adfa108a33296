"""Order links: what feeds an order, what it feeds, and the customer side behind it."""

from __future__ import annotations

import pytest
from plantkit import make_plant
from test_impact import build, op, order

from planner_tui.engine.orders import find_feeding_cycle, order_links
from planner_tui.errors import CycleError, NotFound


def test_production_order_links_both_ways():
    links = order_links(build().cursor(), "B")
    assert links["kind"] == "production_order" and links["production_order"]["item_id"] == "ITEM-B"
    assert [o["op_seq"] for o in links["operations"]] == [10]
    assert [o["production_order_id"] for o in links["feeds"]] == ["A"]
    assert [o["production_order_id"] for o in links["fed_by"]] == ["C"]
    # Made for the nearest line up the chain: A's SO-1/1.
    assert [(ln["sales_order_id"], ln["line_no"]) for ln in links["sales_order_lines"]] == [("SO-1", 1)]
    assert {s["shipment_id"] for s in links["shipments"]} == {"SH-1", "SH-OLD"}
    assert [c["account_manager"] for c in links["customers"]] == ["Ann"]


def test_feeder_tree_is_nested():
    links = order_links(build().cursor(), "A")
    assert links["feeds"] == []
    (b,) = links["fed_by"]
    assert b["production_order_id"] == "B" and [c["production_order_id"] for c in b["fed_by"]] == ["C"]


def test_sales_order_line_and_sales_order():
    cur = build().cursor()
    links = order_links(cur, "SO-1/1")
    assert links["kind"] == "sales_order_line"
    (made,) = links["production_orders"]
    assert made["production_order_id"] == "A" and made["fed_by"][0]["production_order_id"] == "B"
    assert links["customers"][0]["customer_id"] == "ACME"
    links = order_links(cur, "SO-2")
    assert links["kind"] == "sales_order" and [o["production_order_id"] for o in links["production_orders"]] == ["K"]
    assert [s["shipment_id"] for s in links["shipments"]] == ["SH-2"]


def test_unknown_ids():
    cur = build().cursor()
    for bad in ("NOPE", "SO-1/9", "SO-9/1", "SO-1/x"):
        with pytest.raises(NotFound):
            order_links(cur, bad)


def test_cycles_are_reported():
    store = make_plant(
        machines=[{"machine_id": "M1"}],
        production_orders=[
            order("X", "08:00", "09:00", parent_production_order_id="Y"),
            order("Y", "09:00", "10:00", parent_production_order_id="X"),
        ],
        operations=[op("X", 10, "M1", "08:00", "09:00")],
    )
    with pytest.raises(CycleError, match="X"):
        order_links(store.cursor(), "X")
    assert find_feeding_cycle({"a": "b", "b": "c", "c": "a", "d": "a"}) == ["a", "b", "c", "a"]
    assert find_feeding_cycle({"a": "b", "b": None, "c": "b"}) is None
