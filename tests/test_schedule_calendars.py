"""Schedule repair in working time (issue 11): each rule on a hand-worked calendared plant, and the fast
repair against the naive oracle on random calendared plants.

2026-11-23 is a Monday; 2026-11-27 a Friday. Calendars are in UTC unless a time zone is named, so their
local times are the times asserted.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import pytest
from plantkit import insert_rows, make_plant
from test_schedule import random_plant, stops_on_open_operations

from planner_tui.engine.calendar import ALWAYS, PlantTime, calendar
from planner_tui.engine.impact import machine_impact
from planner_tui.engine.naive_repair import repair_naive
from planner_tui.engine.schedule import Stop, repair

WEEKDAYS = (1, 2, 3, 4, 5)
# Two shifts back to back, Monday to Friday: 06:00-14:00 and 14:00-22:00 (one working period).
TWO_SHIFT = [(d, "06:00", "14:00") for d in WEEKDAYS] + [(d, "14:00", "22:00") for d in WEEKDAYS]
ROUND_THE_CLOCK_WEEKDAYS = [(d, "00:00", "24:00") for d in WEEKDAYS]
EVERY_NIGHT = [(d, "22:00", "24:00") for d in range(1, 8)] + [(d, "00:00", "06:00") for d in range(1, 8)]
DAYS_WITH_LUNCH = [(d, "08:00", "12:00") for d in WEEKDAYS] + [(d, "13:00", "17:00") for d in WEEKDAYS]


def T(text: str) -> datetime:
    return datetime.fromisoformat(f"2026-{text}")


def op(po, seq, machine, start, end, status="waiting"):
    return {
        "production_order_id": po,
        "op_seq": seq,
        "machine_id": machine,
        "planned_start": T(start),
        "planned_end": T(end),
        "status": status,
    }


def order(po, start, end, **extra):
    return {"production_order_id": po, "item_id": "I", "planned_start": T(start), "planned_end": T(end), **extra}


def plant(orders, ops, machines=("M1", "M2", "M3")):
    return make_plant(machines=[{"machine_id": m} for m in machines], production_orders=orders, operations=ops)


def machine_time(rows, machines=("M1", "M2", "M3"), exceptions=(), timezone="UTC") -> PlantTime:
    """Every machine on one calendar."""
    cal = calendar(rows, exceptions, timezone, name="CAL")
    return PlantTime(timezone=timezone, calendars={"CAL": cal}, machine_calendars=dict.fromkeys(machines, "CAL"))


def both(store, stops, plant_time: PlantTime | None):
    """Run the fast repair and the oracle with these calendars; they must agree; return the fast one."""
    cur = store.cursor()
    fast, naive = repair(cur, stops, plant=plant_time), repair_naive(cur, stops, plant=plant_time)
    assert {k: (v.new_start, v.new_end) for k, v in fast.ops.items()} == {
        k: (v.new_start, v.new_end) for k, v in naive.ops.items()
    }
    assert {k: v.new_end for k, v in fast.orders.items()} == {k: v.new_end for k, v in naive.orders.items()}
    return fast


def test_a_friday_stop_runs_into_the_weekend_and_the_order_ends_on_monday():
    """The issue's example: an order shown ending Saturday 09:20 really ends Monday 09:20 in a plant that
    works round the clock Monday to Friday, so the line promised for Sunday is late."""
    rows = {
        "machines": [
            {"machine_id": "M1", "supervisor": "Ana", "calendar_id": "WEEK"},
            {"machine_id": "M2", "calendar_id": "WEEK"},
        ],
        "calendars": [
            {"calendar_id": "WEEK", "weekday": d, "start_time": s, "end_time": e}
            for d, s, e in ROUND_THE_CLOCK_WEEKDAYS
        ],
        "customers": [{"customer_id": "C1", "account_manager": "Bo"}],
        "sales_orders": [{"sales_order_id": "S1", "customer_id": "C1", "item_id": "I", "promised_date": T("11-29")}],
        "production_orders": [order("P", "11-27T13:00", "11-27T23:40", sales_order_id="S1", line_no=1)],
        "operations": [
            op("P", 10, "M1", "11-27T13:00", "11-27T15:00"),
            op("P", 20, "M2", "11-27T15:00", "11-27T23:40"),
        ],
    }
    stop = Stop("M1", T("11-27T14:00"), 580)  # back at 23:40 on Friday
    store = make_plant(**rows)
    # Without calendars (what the console showed): the remaining hour and the 8 h 40 min run into Saturday.
    rep = both(store, [stop], PlantTime())
    assert rep.op_times("P", 10) == (T("11-27T13:00"), T("11-28T00:40"))
    assert rep.orders["P"].new_end == T("11-28T09:20")
    # In working time: 20 minutes on Friday, the rest on Monday.
    rep = both(store, [stop], None)  # the store's calendars
    assert rep.op_times("P", 10) == (T("11-27T13:00"), T("11-30T00:40"))
    assert rep.op_times("P", 20) == (T("11-30T00:40"), T("11-30T09:20"))
    assert rep.orders["P"].new_end == T("11-30T09:20")
    impact = machine_impact(store.cursor(), "M1", at=stop.start, down_minutes=580)
    (line,) = impact["sales_orders"]
    assert line["eta"] == T("11-30T09:20") and line["late"]  # promised Sunday: missed


def test_a_stop_running_into_a_closure_resumes_after_it():
    # Wednesday 2026-11-25 is a holiday.
    pt = machine_time(TWO_SHIFT, exceptions=[(T("11-25T00:00"), T("11-26T00:00"), False)])
    store = plant(
        [order("A", "11-24T19:00", "11-24T21:30"), order("B", "11-24T21:30", "11-24T22:00")],
        [op("A", 10, "M1", "11-24T19:00", "11-24T21:30"), op("B", 10, "M1", "11-24T21:30", "11-24T22:00")],
    )
    rep = both(store, [Stop("M1", T("11-24T20:00"), 60)], pt)
    # A had 1.5 h left at the stop: 1 h until 22:00, the holiday, then 30 min on Thursday morning.
    assert rep.op_times("A", 10) == (T("11-24T19:00"), T("11-26T06:30"))
    assert rep.op_times("B", 10) == (T("11-26T06:30"), T("11-26T07:00"))


def test_an_operation_planned_across_a_weekend_keeps_its_working_length():
    # B is planned from Friday 20:00 to Monday 08:00: 4 working hours in 60 wall hours.
    store = plant(
        [order("A", "11-27T18:00", "11-27T20:00"), order("B", "11-27T20:00", "11-30T08:00")],
        [op("A", 10, "M1", "11-27T18:00", "11-27T20:00"), op("B", 10, "M1", "11-27T20:00", "11-30T08:00")],
    )
    stop = Stop("M1", T("11-27T19:00"), 3 * 24 * 60)  # back Monday 19:00
    rep = both(store, [stop], machine_time(TWO_SHIFT))
    assert rep.op_times("A", 10) == (T("11-27T18:00"), T("11-30T20:00"))
    assert rep.op_times("B", 10) == (T("11-30T20:00"), T("12-01T08:00"))  # 2 h on Monday, 2 h on Tuesday
    rep = both(store, [stop], PlantTime())  # without calendars the 60 hours move with it
    assert rep.op_times("B", 10) == (T("11-30T20:00"), T("12-03T08:00"))


def test_two_shifts_back_to_back_do_not_pause_and_work_ending_with_the_shift_ends_there():
    store = plant(
        [order("A", "11-23T11:00", "11-23T13:00"), order("B", "11-23T13:00", "11-23T15:00")]
        + [order("C", "11-23T15:00", "11-23T19:00"), order("D", "11-23T19:00", "11-23T21:00")],
        [
            op("A", 10, "M1", "11-23T11:00", "11-23T13:00"),
            op("B", 10, "M1", "11-23T13:00", "11-23T15:00"),
            op("C", 10, "M1", "11-23T15:00", "11-23T19:00"),
            op("D", 10, "M1", "11-23T19:00", "11-23T21:00"),
        ],
    )
    rep = both(store, [Stop("M1", T("11-23T12:00"), 180)], machine_time(TWO_SHIFT))
    assert rep.op_times("A", 10) == (T("11-23T11:00"), T("11-23T16:00"))
    assert rep.op_times("B", 10) == (T("11-23T16:00"), T("11-23T18:00"))
    assert rep.op_times("C", 10) == (T("11-23T18:00"), T("11-23T22:00"))  # not the next morning's 06:00
    assert rep.op_times("D", 10) == (T("11-24T06:00"), T("11-24T08:00"))


@pytest.mark.parametrize(
    ("saturday", "b_ends"),
    [
        # 2026-10-24/25: Berlin's clocks go back, the night (22:00-06:00 local, 20:00-05:00 UTC) has 9 h.
        ("10-24", "10-25T05:00"),
        # A week earlier the night has 8 h (20:00-04:00 UTC): B waits for the next night (20:00 UTC).
        ("10-17", "10-18T21:00"),
    ],
)
def test_a_daylight_saving_night_is_an_hour_longer(saturday, b_ends):
    pt = machine_time(EVERY_NIGHT, timezone="Europe/Berlin")
    sunday = (T(saturday) + timedelta(days=1)).strftime("%m-%d")
    store = plant(
        [order("A", f"{saturday}T20:00", f"{saturday}T21:00"), order("B", f"{saturday}T21:00", f"{sunday}T04:00")],
        [
            op("A", 10, "M1", f"{saturday}T20:00", f"{saturday}T21:00"),
            op("B", 10, "M1", f"{saturday}T21:00", f"{sunday}T04:00"),
        ],
    )
    rep = both(store, [Stop("M1", T(f"{saturday}T20:30"), 60)], pt)
    assert rep.op_times("A", 10) == (T(f"{saturday}T20:00"), T(f"{saturday}T22:00"))
    assert rep.op_times("B", 10) == (T(f"{saturday}T22:00"), T(b_ends))  # 7 working hours


def test_an_operation_planned_in_closed_time_keeps_its_wall_length():
    # B is planned on Saturday, when the calendar is closed (overtime the calendar does not show): its
    # working length would be 0, so it moves in wall time with its planned 2 h.
    pt = machine_time(TWO_SHIFT)
    store = plant(
        [order("A", "11-27T20:00", "11-27T22:00"), order("B", "11-28T08:00", "11-28T10:00")],
        [op("A", 10, "M1", "11-27T20:00", "11-27T22:00"), op("B", 10, "M1", "11-28T08:00", "11-28T10:00")],
    )
    rep = both(store, [Stop("M1", T("11-27T21:00"), 16 * 60)], pt)  # back Saturday 13:00 (wall)
    # A: 1 h left; the machine is back on Saturday 13:00, but closed until Monday 06:00.
    assert rep.op_times("A", 10) == (T("11-27T20:00"), T("11-30T07:00"))
    assert rep.op_times("B", 10) == (T("11-30T07:00"), T("11-30T09:00"))
    # Even a short stop takes A's last half hour to Monday, and B follows it with its 2 wall hours.
    rep = both(store, [Stop("M1", T("11-27T21:00"), 30)], pt)
    assert rep.op_times("A", 10) == (T("11-27T20:00"), T("11-30T06:30"))
    assert rep.op_times("B", 10) == (T("11-30T06:30"), T("11-30T08:30"))


def test_an_operation_not_delayed_keeps_its_planned_times_even_where_the_calendar_disagrees():
    # B is planned 05:00-07:00 on a calendar opening at 06:00 (1 working hour); A's delay ends before
    # B's first working minute: B keeps its planned times. Pushed past 06:00 it starts when pushed.
    store = plant(
        [
            order("A", "11-23T04:00", "11-23T05:00", parent_production_order_id="B"),
            order("B", "11-23T05:00", "11-23T07:00"),
        ],
        [op("A", 10, "M1", "11-23T04:00", "11-23T05:00"), op("B", 10, "M2", "11-23T05:00", "11-23T07:00")],
    )
    pt = machine_time(TWO_SHIFT, machines=("M2",))  # M1 always works
    rep = both(store, [Stop("M1", T("11-23T04:30"), 60)], pt)
    assert rep.op_times("A", 10) == (T("11-23T04:00"), T("11-23T06:00"))
    assert rep.op_times("B", 10) is None  # A ends 06:00, B's first working minute
    rep = both(store, [Stop("M1", T("11-23T04:30"), 90)], pt)
    assert rep.op_times("B", 10) == (T("11-23T06:30"), T("11-23T07:30"))


def test_a_plant_whose_calendars_all_work_every_minute_gives_the_same_answers():
    store = plant(
        [order("P", "11-23T08:00", "11-23T12:00")],
        [op("P", 10, "M1", "11-23T08:00", "11-23T10:00"), op("P", 20, "M2", "11-23T10:00", "11-23T12:00")],
    )
    every_minute = machine_time([(d, "00:00", "24:00") for d in range(1, 8)])
    assert every_minute.machine("M1") is ALWAYS
    rep = both(store, [Stop("M1", T("11-23T09:00"), 60)], every_minute)
    assert rep.op_times("P", 20) == (T("11-23T11:00"), T("11-23T13:00"))


# --- secondary resources (operation_resources) --------------------------------------------------------------


def needs(*rows):
    """operation_resources rows from (po, seq, resource) triples."""
    return [{"production_order_id": po, "op_seq": seq, "resource_id": r} for po, seq, r in rows]


def test_a_resource_shared_by_two_machines_keeps_its_operations_in_order():
    # Anna sets up P1/10 on M1, then P2/10 on M2; P3/10 on M2 does not need her.
    store = make_plant(
        machines=[{"machine_id": m} for m in ("M1", "M2")],
        resources=[{"resource_id": "ANNA", "name": "Anna", "kind": "person"}],
        production_orders=[
            order("P1", "11-23T08:00", "11-23T10:00"),
            order("P2", "11-23T10:00", "11-23T11:00"),
            order("P3", "11-23T11:00", "11-23T12:00"),
        ],
        operations=[
            op("P1", 10, "M1", "11-23T08:00", "11-23T10:00"),
            op("P2", 10, "M2", "11-23T10:00", "11-23T11:00"),
            op("P3", 10, "M2", "11-23T11:00", "11-23T12:00"),
        ],
        operation_resources=needs(("P1", 10, "ANNA"), ("P2", 10, "ANNA")),
    )
    rep = both(store, [Stop("M1", T("11-23T09:00"), 60)], None)
    assert rep.op_times("P1", 10) == (T("11-23T08:00"), T("11-23T11:00"))
    assert rep.op_times("P2", 10) == (T("11-23T11:00"), T("11-23T12:00"))  # waits for Anna, on another machine
    assert rep.op_times("P3", 10) == (T("11-23T12:00"), T("11-23T13:00"))  # then M2's planned order
    # Anna absent (a stop of the resource): what she works on waits, on both machines.
    rep = both(store, [Stop("ANNA", T("11-23T07:00"), 120, kind="resource")], None)
    assert rep.op_times("P1", 10) == (T("11-23T09:00"), T("11-23T11:00"))
    assert rep.op_times("P2", 10) == (T("11-23T11:00"), T("11-23T12:00"))
    assert rep.op_times("P3", 10) == (T("11-23T12:00"), T("11-23T13:00"))
    # A resource no operation needs, or absent when nobody needs her, moves nothing.
    assert not both(store, [Stop("BOB", T("11-23T07:00"), 120, kind="resource")], None).ops
    assert not both(store, [Stop("ANNA", T("11-23T12:00"), 120, kind="resource")], None).ops


def test_an_operation_needing_an_operator_works_only_when_both_work():
    # M1 works two shifts; Anna 08:00-16:00 Monday to Thursday (the store's calendars).
    store = make_plant(
        machines=[{"machine_id": "M1", "calendar_id": "TWO-SHIFT"}],
        calendars=[{"calendar_id": "TWO-SHIFT", "weekday": d, "start_time": s, "end_time": e} for d, s, e in TWO_SHIFT]
        + [{"calendar_id": "ANNA", "weekday": d, "start_time": "08:00", "end_time": "16:00"} for d in (1, 2, 3, 4)],
        resources=[{"resource_id": "ANNA", "name": "Anna", "kind": "person", "calendar_id": "ANNA"}],
        production_orders=[
            order("P", "11-23T14:00", "11-23T16:00"),
            order("Q", "11-23T16:00", "11-23T18:00"),
            order("R", "11-26T14:00", "11-26T16:00"),
        ],
        operations=[
            op("P", 10, "M1", "11-23T14:00", "11-23T16:00"),
            op("Q", 10, "M1", "11-23T16:00", "11-23T18:00"),
            op("R", 10, "M1", "11-26T14:00", "11-26T16:00"),
        ],
        operation_resources=needs(("P", 10, "ANNA"), ("R", 10, "ANNA")),
    )
    rep = both(store, [Stop("M1", T("11-23T15:00"), 30)], None)
    # P: 1 h left at 15:00; back 15:30, Anna leaves at 16:00: the last 30 min on Tuesday from 08:00.
    assert rep.op_times("P", 10) == (T("11-23T14:00"), T("11-24T08:30"))
    # Q does not need Anna, but M1 keeps its planned order: Q follows P.
    assert rep.op_times("Q", 10) == (T("11-24T08:30"), T("11-24T10:30"))
    # Thursday: 1.5 h with Anna, then she is off until Monday.
    rep = both(store, [Stop("M1", T("11-26T14:00"), 90)], None)
    assert rep.op_times("R", 10) == (T("11-26T15:30"), T("11-30T09:30"))


# --- the fast repair against the oracle on random calendared plants ------------------------------------------


RESOURCES = ("R0", "R1", "R2")


def add_resources(rng: random.Random, store) -> None:
    """Operators for some operations, each one operation at a time in planned order (a consistent plan)."""
    rows = (
        store.cursor()
        .execute("SELECT production_order_id, op_seq, planned_start, planned_end FROM operations ORDER BY ALL")
        .fetchall()
    )
    free = dict.fromkeys(RESOURCES, datetime.min)
    picked = []
    for po, seq, start, end in sorted(rows, key=lambda r: (r[2], r[0], r[1])):
        for r in RESOURCES:
            if free[r] <= start and rng.random() < 0.3:
                picked.append((po, seq, r))
                free[r] = end
    insert_rows(store, "resources", [{"resource_id": r, "name": r, "kind": "person"} for r in RESOURCES])
    insert_rows(store, "operation_resources", needs(*picked))


def random_plant_time(rng: random.Random, n_machines: int, holiday: datetime) -> PlantTime:
    """Each machine on one of several calendars (or none): shifts, nights in Berlin, a lunch break, a holiday."""
    closure = [(holiday, holiday + timedelta(days=1), False)]
    extra = [(holiday + timedelta(days=2, hours=6), holiday + timedelta(days=2, hours=14), True)]  # a Saturday shift
    calendars = {
        "TWO-SHIFT": calendar(TWO_SHIFT, closure + extra, name="TWO-SHIFT"),
        "NIGHTS": calendar(EVERY_NIGHT, (), "Europe/Berlin", name="NIGHTS"),
        "LUNCH": calendar(DAYS_WITH_LUNCH, closure, "America/New_York", name="LUNCH"),
        "WEEK": calendar(ROUND_THE_CLOCK_WEEKDAYS, (), name="WEEK"),
    }
    calendars["DAYS"] = calendar([(d, "07:00", "15:30") for d in WEEKDAYS], closure, name="DAYS")
    choices = [*calendars, None]
    machine_calendars = {}
    for i in range(n_machines):
        pick = rng.choice(choices)
        if pick is not None:
            machine_calendars[f"M{i}"] = pick
    resource_calendars = {}
    for r in RESOURCES:
        pick = rng.choice(choices)
        if pick is not None:
            resource_calendars[r] = pick
    return PlantTime(calendars=calendars, machine_calendars=machine_calendars, resource_calendars=resource_calendars)


def calendared_case(seed: int, n_groups: int, n_machines: int, minutes: list[int], resources: bool = False):
    rng = random.Random(seed)
    # A Thursday or a Friday: delays run into the weekend, the Friday holiday or the Saturday shift.
    day = rng.choice([T("11-26T00:00"), T("11-27T00:00"), T("10-23T00:00")])
    store = random_plant(rng, n_groups=n_groups, n_machines=n_machines, day=day + timedelta(hours=rng.randint(0, 14)))
    pt = random_plant_time(rng, n_machines, holiday=T("11-27T00:00"))
    stops = stops_on_open_operations(rng, store, rng.randint(1, 3), minutes)
    if resources:
        add_resources(rng, store)
        stops += [
            Stop(
                rng.choice(RESOURCES),
                stop.start + timedelta(minutes=rng.choice([-30, 0, 20])),
                stop.minutes,
                "resource",
            )
            for stop in stops_on_open_operations(rng, store, rng.randint(0, 2), minutes)
        ]
    return store, stops, pt


@pytest.mark.parametrize("seed", range(30))
def test_fast_repair_matches_naive_oracle_on_calendared_plants(seed):
    store, stops, pt = calendared_case(seed, 12, 4, [15, 60, 200, 600, 2000])
    rep = both(store, stops, pt)
    assert rep.ops, "the comparison compared no moved operation"


@pytest.mark.parametrize("seed", range(30, 50))
def test_fast_repair_reading_in_small_ranges_matches_oracle_on_calendared_plants(seed, monkeypatch):
    # One-minute first ranges: delays jumping a weekend are read in growing ranges, round after round.
    monkeypatch.setattr("planner_tui.engine.schedule._INITIAL_HORIZON_US", 60_000_000)
    store, stops, pt = calendared_case(seed, 30, 8, [30, 120, 600, 1500])
    rep = both(store, stops, pt)
    assert rep.ops, "the comparison compared no moved operation"
    assert rep.read_rounds > 1, "the plan was read in one range: the growing reads were not exercised"


@pytest.mark.parametrize("seed", range(50, 80))
def test_fast_repair_matches_naive_oracle_on_calendared_plants_with_operators(seed, monkeypatch):
    # Operators (with their own calendars) on about a third of the operations, some absent.
    if seed % 2:
        monkeypatch.setattr("planner_tui.engine.schedule._INITIAL_HORIZON_US", 60_000_000)
    store, stops, pt = calendared_case(seed, 20, 6, [30, 120, 600, 1500], resources=True)
    rep = both(store, stops, pt)
    assert rep.ops, "the comparison compared no moved operation"


def test_calendars_change_the_answer_on_most_random_plants():
    """The calendared comparisons above compare something calendars decide, not the wall-time answer."""
    differ = 0
    for seed in range(20):
        store, stops, pt = calendared_case(seed, 12, 4, [15, 60, 200, 600, 2000])
        with_calendars, without = (
            repair(store.cursor(), stops, plant=pt),
            repair(store.cursor(), stops, plant=PlantTime()),
        )
        differ += with_calendars.ops != without.ops
    assert differ >= 5
