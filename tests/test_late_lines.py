"""Late lines a planner can trust (issue 11 item 6): lateness by the plant's local day, lines served from
stock with an ETA from the stock they take, counts named for what they count, late-in-plan lines in the
inbox, and "for line" through parent orders. Hand-worked plants."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from plantkit import make_plant

from planner_tui.engine.etas import PlantDay, stock_etas
from planner_tui.engine.exceptions import list_exceptions
from planner_tui.engine.impact import machine_impact, reschedule
from planner_tui.engine.orders import machine_detail

DAY = datetime(2026, 1, 5)  # a Monday


def t(hhmm: str, day: int = 0) -> datetime:
    h, m = hhmm.split(":")
    return DAY + timedelta(days=day, hours=int(h), minutes=int(m))


def d(day: int) -> date:
    return (DAY + timedelta(days=day)).date()


def op(po, seq, machine, start, end, status="waiting"):
    return {
        "production_order_id": po,
        "op_seq": seq,
        "machine_id": machine,
        "planned_start": start,
        "planned_end": end,
        "status": status,
    }


def order(po, item, start, end, qty=1.0, **extra):
    return {
        "production_order_id": po,
        "item_id": item,
        "qty": qty,
        "planned_start": start,
        "planned_end": end,
        **extra,
    }


def line(so, item, promised, qty=1.0, customer="ACME"):
    return {"sales_order_id": so, "customer_id": customer, "item_id": item, "promised_date": promised, "qty": qty}


def set_timezone(store, timezone: str) -> None:
    store.con.execute("DELETE FROM store_meta WHERE key = 'timezone'")
    store.con.execute("INSERT INTO store_meta VALUES ('timezone', ?)", [timezone])


# --- the plant's local day ------------------------------------------------------------------------------


def late_by_a_late_evening(timezone: str):
    """A order for SO-1/1 (promised day 0) ends 23:30 UTC on day 0: 00:30 on day 1 in Berlin."""
    store = make_plant(
        machines=[{"machine_id": "M1", "supervisor": "Sam"}],
        machine_states=[{"machine_id": "M1", "state": "down", "since": t("06:00"), "expected_minutes": 30}],
        customers=[{"customer_id": "ACME", "name": "Acme", "account_manager": "Ann"}],
        items=[{"item_id": "ITEM-A"}],
        sales_orders=[line("SO-1", "ITEM-A", d(0))],
        production_orders=[order("A", "ITEM-A", t("06:00"), t("23:30"), sales_order_id="SO-1", line_no=1)],
        operations=[op("A", 10, "M1", t("06:00"), t("23:00"))],
    )
    set_timezone(store, timezone)
    return store


def test_a_line_is_late_by_the_plants_local_day_not_by_utc():
    utc = reschedule(late_by_a_late_evening("UTC").cursor(), at=t("07:00"))
    berlin = reschedule(late_by_a_late_evening("Europe/Berlin").cursor(), at=t("07:00"))
    assert utc["lines_at_risk"] == []  # 23:30 UTC is still day 0 in UTC: on time
    # In Berlin the ETA's day is day 1: late in the plan itself (the 30 min stop ends before A's last op).
    [late] = berlin["lines_at_risk"]
    assert (late["sales_order_id"], late["late"], late["late_in_plan"], late["days_late"]) == ("SO-1", True, True, 1)
    assert PlantDay("Europe/Berlin").day(t("23:30")) == d(1) and PlantDay().day(t("23:30")) == d(0)


def test_machine_impact_judges_lateness_by_the_local_day_too():
    store = late_by_a_late_evening("Europe/Berlin")
    store.con.execute("UPDATE operations SET planned_end = ?", [t("22:30")])
    # A 45 min stop moves A's operation to 23:15; A still ends at its planned 23:30 = 00:30 in Berlin.
    impact = machine_impact(store.cursor(), "M1", at=t("07:00"), down_minutes=45)
    [so] = impact["sales_orders"]
    assert so["late"] and so["late_in_plan"] and not so["turns_late"]
    assert impact["counts"]["already_late_in_plan"] == 1 and impact["counts"]["turned_late"] == 0


# --- lines served from stock ----------------------------------------------------------------------------


def stock_plant():
    """Guards (WG) are made to stock: 10 on hand (4 more on a held lot), a make-to-stock order MTS of 10
    on M1 ending day 2 08:00, a purchase order of 5 due day 4. Lines, in promised order: SO-1 6 (day 1),
    SO-2 6 (day 1: 4 left from stock, so it waits for MTS: day 2, late), SO-3 14 (day 5: MTS's 8 left
    plus the PO's 5 are not enough: no ETA), SO-9 made to order (not a stock line)."""
    return make_plant(
        machines=[{"machine_id": "M1", "supervisor": "Sam"}],
        customers=[{"customer_id": "ACME", "name": "Acme", "account_manager": "Ann"}],
        items=[{"item_id": "WG"}, {"item_id": "PUMP"}],
        lots=[{"lot_id": "LOT-H", "item_id": "WG", "qty": 4.0, "status": "hold"}],
        inventory=[
            {"item_id": "WG", "location": "WH", "lot_id": None, "qty": 10.0},
            {"item_id": "WG", "location": "WH", "lot_id": "LOT-H", "qty": 4.0},
        ],
        purchase_orders=[
            {"purchase_order_id": "PO-1", "item_id": "WG", "qty": 5.0, "due_date": d(4), "status": "open"}
        ],
        sales_orders=[
            line("SO-1", "WG", d(1), 6.0),
            line("SO-2", "WG", d(1), 6.0),
            line("SO-3", "WG", d(5), 14.0),
            line("SO-9", "PUMP", d(3)),
        ],
        production_orders=[
            order("MTS", "WG", t("06:00"), t("08:00", day=2), qty=10.0),
            order("P9", "PUMP", t("08:00", day=2), t("10:00", day=2), sales_order_id="SO-9", line_no=1),
        ],
        operations=[
            op("MTS", 10, "M1", t("06:00"), t("08:00", day=2)),
            op("P9", 10, "M1", t("08:00", day=2), t("10:00", day=2)),
        ],
    )


def test_stock_is_allocated_to_lines_in_promised_order():
    etas = stock_etas(stock_plant().cursor(), at=t("07:00"))
    assert etas == {
        ("SO-1", 1): (t("07:00"), t("07:00"), d(1)),  # on hand now
        ("SO-2", 1): (t("08:00", day=2), t("08:00", day=2), d(1)),  # the make-to-stock order (not the held lot)
        ("SO-3", 1): (None, None, d(5)),  # 8 + 5 left for 14: nothing covers it
    }


def test_a_stock_line_late_in_the_plan_is_listed_and_a_stop_on_its_supply_moves_it():
    store = stock_plant()
    plan = reschedule(store.cursor(), at=t("07:00"))
    [so2] = plan["lines_at_risk"]
    assert (so2["sales_order_id"], so2["eta_from"], so2["eta"], so2["late_in_plan"], so2["days_late"]) == (
        "SO-2",
        "stock",
        t("08:00", day=2),
        True,
        1,
    )
    store.con.execute("INSERT INTO machine_states VALUES ('M1', 'down', ?, 'drive', 1440)", [t("06:00")])
    stopped = reschedule(store.cursor(), at=t("07:00"))
    by_line = {ln["sales_order_id"]: ln for ln in stopped["lines_at_risk"]}
    # The stop holds MTS a day: SO-2 slips 24 h (late already), SO-9 (made to order after it) moves too.
    assert by_line["SO-2"]["eta"] == t("08:00", day=3) and by_line["SO-2"]["slip_minutes"] == 1440.0
    assert by_line["SO-2"]["late_in_plan"] and not by_line["SO-2"]["turns_late"]
    assert by_line["SO-9"]["eta_from"] == "orders" and by_line["SO-9"]["slip_minutes"] == 1440.0
    assert "SO-1" not in by_line  # served from stock on hand: the stop does not touch it


def test_counts_say_what_they_count():
    store = stock_plant()
    store.con.execute("INSERT INTO machine_states VALUES ('M1', 'down', ?, 'drive', 2880)", [t("06:00")])
    counts = reschedule(store.cursor(), at=t("07:00"))["counts"]
    # SO-9 (promised day 3) ends day 4 10:00 now: turned late. SO-2, late in the plan, now takes the PO
    # (day 4 00:00, before MTS's new end day 4 08:00): it slips 40 h.
    assert counts == {
        "lines": 2,
        "turned_late": 1,
        "already_late_in_plan": 1,
        "slipping": 2,
        "slipping_on_time": 0,
        "slip_minutes_min": 2400.0,
        "slip_minutes_max": 2880.0,
    }


# --- the inbox -----------------------------------------------------------------------------------------


def test_a_line_late_in_the_plan_raises_its_own_late_order_below_one_a_stop_caused():
    store = stock_plant()
    store.con.execute("INSERT INTO machine_states VALUES ('M1', 'down', ?, 'drive', 2880)", [t("06:00")])
    rows = {e["subject_id"]: e for e in list_exceptions(store.cursor(), at=t("07:00")) if e["kind"] == "late_order"}
    assert set(rows) == {"SO-2/1", "SO-9/1"}
    assert rows["SO-9/1"]["severity"] == "high"  # turned late by the stop (promised day 3, not yet due)
    assert rows["SO-2/1"]["severity"] == "medium"  # late in the plan: its own, lower, severity
    assert "late in plan" in rows["SO-2/1"]["title"]
    assert rows["SO-2/1"]["detail"]["cause"] == "plan" and rows["SO-9/1"]["detail"]["cause"] == "stop"


# --- "for line" through parent orders --------------------------------------------------------------------


def test_machine_detail_names_the_line_an_operation_is_for_through_its_parent_orders():
    store = make_plant(
        machines=[{"machine_id": "M1"}],
        customers=[{"customer_id": "ACME", "name": "Acme"}],
        items=[{"item_id": "PUMP"}, {"item_id": "FRAME"}, {"item_id": "RAIL"}],
        sales_orders=[line("SO-1", "PUMP", d(3))],
        production_orders=[
            order("PUMP-1", "PUMP", t("12:00"), t("14:00"), sales_order_id="SO-1", line_no=1),
            order("FRAME-1", "FRAME", t("09:00"), t("11:00"), parent_production_order_id="PUMP-1"),
            order("RAIL-1", "RAIL", t("06:00"), t("08:00"), parent_production_order_id="FRAME-1"),
            order("STOCK-1", "RAIL", t("15:00"), t("16:00")),
        ],
        operations=[
            op("RAIL-1", 10, "M1", t("06:00"), t("08:00")),
            op("FRAME-1", 10, "M1", t("09:00"), t("11:00")),
            op("STOCK-1", 10, "M1", t("15:00"), t("16:00")),
        ],
    )
    ops = machine_detail(store.cursor(), "M1", at=t("05:00"))["next_operations"]
    for_line = {o["production_order_id"]: (o["sales_order_id"], o["line_no"]) for o in ops}
    assert for_line == {"RAIL-1": ("SO-1", 1), "FRAME-1": ("SO-1", 1), "STOCK-1": (None, None)}


# --- the shortage projection's dates --------------------------------------------------------------------


def test_a_promised_date_is_owed_from_the_plants_local_midnight_in_the_shortage_projection():
    from planner_tui.engine.shortages import shortages

    def short_items(timezone: str) -> list[str]:
        store = make_plant(
            items=[{"item_id": "X"}],
            customers=[{"customer_id": "ACME", "name": "Acme"}],
            sales_orders=[line("SO-1", "X", d(1))],
            # Made to stock, ending 23:30 UTC on day 0: in Berlin that is already day 1, 00:30.
            production_orders=[order("MTS", "X", t("20:00"), t("23:30"))],
        )
        set_timezone(store, timezone)
        return [s["item_id"] for s in shortages(store.cursor(), at=t("07:00"))["shortages"]]

    assert short_items("UTC") == []  # owed at 00:00 UTC on day 1: the order has ended by then
    assert short_items("Europe/Berlin") == ["X"]  # owed at 23:00 UTC on day 0, half an hour before it ends


def test_the_inbox_counts_a_line_turned_late_by_the_local_day_as_the_impact_does():
    from planner_tui.engine.exceptions import machine_counts, machine_counts_slow

    def late_lines(timezone: str) -> tuple[int, int]:
        store = late_by_a_late_evening(timezone)
        # Planned to end 22:30 UTC (23:30 in Berlin, day 0); the 45 min stop ends it 23:15 UTC (day 1 there).
        store.con.execute("UPDATE operations SET planned_end = ?", [t("22:30")])
        store.con.execute("UPDATE production_orders SET planned_end = ?", [t("22:30")])
        store.con.execute("UPDATE machine_states SET expected_minutes = 45")
        cur = store.cursor()
        stop = {"machine_id": "M1", "since": t("06:00"), "expected_minutes": 45, "supervisor": "Sam"}
        return machine_counts(cur, [stop])["M1"]["late_lines"], machine_counts_slow(cur, "M1")["late_lines"]

    assert late_lines("UTC") == (0, 0)
    assert late_lines("Europe/Berlin") == (1, 1)
