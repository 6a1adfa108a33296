"""Schedule repair: each rule on a hand-worked plant, and the fast repair against the naive oracle."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import pytest
from plantkit import make_plant

from planner_tui.engine.naive_repair import repair_naive
from planner_tui.engine.schedule import Stop, repair, stops_from_store
from planner_tui.errors import BadRequest, CycleError

DAY = datetime(2026, 1, 5)


def t(hhmm: str) -> datetime:
    h, m = hhmm.split(":")
    return DAY + timedelta(hours=int(h), minutes=int(m))


def op(po, seq, machine, start, end, status="waiting"):
    return {
        "production_order_id": po,
        "op_seq": seq,
        "machine_id": machine,
        "planned_start": t(start),
        "planned_end": t(end),
        "status": status,
    }


def order(po, start, end, **extra):
    return {"production_order_id": po, "item_id": "I", "planned_start": t(start), "planned_end": t(end), **extra}


def plant(orders, ops, machines=("M1", "M2", "M3")):
    return make_plant(machines=[{"machine_id": m} for m in machines], production_orders=orders, operations=ops)


def both(store, stops):
    """Run the fast repair and the oracle; they must agree; return the fast one."""
    cur = store.cursor()
    fast, naive = repair(cur, stops), repair_naive(cur, stops)
    assert {k: (v.new_start, v.new_end) for k, v in fast.ops.items()} == {
        k: (v.new_start, v.new_end) for k, v in naive.ops.items()
    }
    assert {k: v.new_end for k, v in fast.orders.items()} == {k: v.new_end for k, v in naive.orders.items()}
    return fast


def times(rep, po, seq):
    return rep.op_times(po, seq)


def test_knock_on_delay_on_another_machine():
    store = plant(
        [order("P1", "08:00", "12:00"), order("P2", "12:00", "13:00")],
        [
            op("P1", 10, "M1", "08:00", "10:00"),
            op("P1", 20, "M2", "10:00", "12:00"),
            op("P2", 10, "M2", "12:00", "13:00"),
        ],
    )
    rep = both(store, [Stop("M1", t("09:00"), 60)])
    assert times(rep, "P1", 10) == (t("08:00"), t("11:00"))  # running at the stop: 1 h left after it
    assert times(rep, "P1", 20) == (t("11:00"), t("13:00"))  # rule (b)
    assert times(rep, "P2", 10) == (t("13:00"), t("14:00"))  # rule (a) on M2: knock-on
    assert rep.orders["P1"].new_end == t("13:00")
    assert rep.orders["P2"].new_end == t("14:00")


def test_operation_running_at_stop_resumes_with_remaining_time():
    store = plant(
        [order("P1", "08:00", "10:00"), order("P2", "06:00", "08:00")],
        [op("P1", 10, "M1", "08:00", "10:00"), op("P2", 10, "M2", "06:00", "08:00", status="running")],
    )
    rep = both(store, [Stop("M1", t("09:15"), 30), Stop("M2", t("09:00"), 30)])
    assert times(rep, "P1", 10) == (t("08:00"), t("10:30"))  # 45 min left at 09:15, resumes 09:45
    # Reported running although planned to end before the stop: it finishes when the machine is back.
    assert times(rep, "P2", 10) == (t("06:00"), t("09:30"))


def test_operation_inside_downtime_starts_after_it():
    store = plant([order("P1", "09:30", "10:00")], [op("P1", 10, "M1", "09:30", "10:00")])
    rep = both(store, [Stop("M1", t("09:00"), 90)])
    assert times(rep, "P1", 10) == (t("10:30"), t("11:00"))


def test_slack_absorbs_delay_and_nothing_starts_before_planned_start():
    store = plant(
        [order("A", "08:00", "10:00"), order("B", "12:00", "13:00")],
        [op("A", 10, "M1", "08:00", "10:00"), op("B", 10, "M1", "12:00", "13:00")],
    )
    rep = both(store, [Stop("M1", t("09:00"), 60)])
    assert times(rep, "A", 10) == (t("08:00"), t("11:00"))
    assert times(rep, "B", 10) is None  # 1 h of slack absorbs the delay; B does not start early either
    assert "B" not in rep.orders
    rep = both(store, [Stop("M1", t("09:00"), 240)])
    assert times(rep, "B", 10) == (t("14:00"), t("15:00"))


def test_machine_keeps_planned_order():
    # X waits for its first step (delayed on M2); Y, planned after X on M1, may not jump ahead of it.
    store = plant(
        [order("X", "08:00", "11:00"), order("Y", "11:00", "12:00")],
        [op("X", 10, "M2", "08:00", "10:00"), op("X", 20, "M1", "10:00", "11:00"), op("Y", 10, "M1", "11:00", "12:00")],
    )
    rep = both(store, [Stop("M2", t("09:00"), 90)])
    assert times(rep, "X", 20) == (t("11:30"), t("12:30"))
    assert times(rep, "Y", 10) == (t("12:30"), t("13:30"))


def test_done_operations_and_closed_orders_do_not_move():
    store = plant(
        [order("D", "08:00", "10:00"), order("C", "09:00", "10:00", status="completed"), order("W", "10:00", "11:00")],
        [
            op("D", 10, "M1", "08:00", "09:30", status="done"),
            op("D", 20, "M2", "09:30", "10:00"),
            op("C", 10, "M1", "09:30", "10:00"),
            op("W", 10, "M1", "10:00", "11:00"),
        ],
    )
    rep = both(store, [Stop("M1", t("09:00"), 120)])
    assert times(rep, "D", 10) is None and times(rep, "C", 10) is None
    assert times(rep, "D", 20) is None  # its done predecessor did not move
    assert times(rep, "W", 10) == (t("11:00"), t("12:00"))


def test_feeding_delays_parent_two_levels_up():
    store = plant(
        [
            order("C", "08:00", "09:00", parent_production_order_id="B"),
            order("B", "09:00", "10:00", parent_production_order_id="A"),
            order("A", "10:00", "11:00"),
        ],
        [op("C", 10, "M1", "08:00", "09:00"), op("B", 10, "M2", "09:00", "10:00"), op("A", 10, "M3", "10:00", "11:00")],
    )
    rep = both(store, [Stop("M1", t("08:30"), 45)])
    assert times(rep, "B", 10) == (t("09:45"), t("10:45"))  # rule (c)
    assert rep.orders["A"].new_end == t("11:45")


def test_order_end_buffer_and_zero_or_unknown_downtime():
    store = plant([order("P", "08:00", "12:00")], [op("P", 10, "M1", "08:00", "10:00")])
    rep = both(store, [Stop("M1", t("09:00"), 60)])
    assert times(rep, "P", 10) == (t("08:00"), t("11:00"))
    assert "P" not in rep.orders  # two hours of buffer after its last operation absorb the hour's delay
    rep = both(store, [Stop("M1", t("09:00"), 180)])
    assert rep.orders["P"].new_end == t("13:00")  # past the buffer, the order ends with its operation
    assert not both(store, [Stop("M1", t("09:00"), 0)]).ops
    assert not both(store, [Stop("M1", t("09:00"), None)]).ops


def test_negative_downtime_is_a_bad_request():
    store = plant([order("P", "08:00", "10:00")], [op("P", 10, "M1", "08:00", "10:00")])
    with pytest.raises(BadRequest):
        repair(store.cursor(), [Stop("M1", t("09:00"), -5)])


def test_stops_from_store():
    store = make_plant(
        machines=[{"machine_id": m} for m in ("M1", "M2", "M3")],
        machine_states=[
            {"machine_id": "M1", "state": "down", "since": t("07:00"), "expected_minutes": 90},
            {"machine_id": "M2", "state": "maintenance", "since": t("08:00")},
            {"machine_id": "M3", "state": "running", "since": t("06:00")},
        ],
    )
    stops = stops_from_store(store.cursor(), t("10:00"))
    assert [(s.machine_id, s.start, s.minutes) for s in stops] == [("M1", t("07:00"), 90.0), ("M2", t("08:00"), None)]


def random_plant(rng: random.Random, n_groups: int = 12, n_machines: int = 4, day: datetime = DAY):
    """A consistent plan from `day` on: list-scheduled, feeders before their parents, some history done or
    running."""
    machines = [f"M{i}" for i in range(n_machines)]
    free = {m: day for m in machines}
    now = day + timedelta(hours=rng.randint(1, 6))
    orders, ops = [], []
    counter = iter(range(10_000))

    def make(release: datetime, parent: str | None) -> tuple[str, datetime]:
        po = f"P{next(counter):03d}"
        prev_end, start0 = release, None
        mine = []
        for seq in range(rng.randint(1, 3)):
            m = rng.choice(machines)
            start = max(prev_end, free[m]) + timedelta(minutes=rng.choice([0, 0, 0, 10, 45]))
            end = start + timedelta(minutes=rng.choice([15, 30, 60, 90]))
            free[m] = end
            status = "done" if end <= now else ("running" if start < now else "waiting")
            mine.append(
                {
                    "production_order_id": po,
                    "op_seq": 10 * (seq + 1),
                    "machine_id": m,
                    "planned_start": start,
                    "planned_end": end,
                    "status": status,
                }
            )
            start0, prev_end = start0 or start, end
        closed = all(o["status"] == "done" for o in mine) and rng.random() < 0.5
        ops.extend(mine)
        orders.append(
            {
                "production_order_id": po,
                "item_id": "I",
                "planned_start": start0,
                "planned_end": prev_end,
                "parent_production_order_id": parent,
                "status": "completed" if closed else "released",
            }
        )
        return po, prev_end

    for _ in range(n_groups):
        release = day + timedelta(minutes=rng.randint(0, 600))
        parent_id = f"P{next(counter):03d}x"
        child_ends = [make(release, parent_id)[1] for _ in range(rng.randint(0, 2))]
        # The parent is scheduled once its feeders are done; rename it to the id its feeders point at.
        po, _ = make(max(child_ends, default=release), None)
        for row in orders:
            if row["production_order_id"] == po:
                row["production_order_id"] = parent_id
        for row in ops:
            if row["production_order_id"] == po:
                row["production_order_id"] = parent_id
    return make_plant(machines=[{"machine_id": m} for m in machines], production_orders=orders, operations=ops)


def stops_on_open_operations(rng: random.Random, store, count: int, minutes: list[int]) -> list[Stop]:
    """Stops that each begin just before an open operation on its machine, so every one delays something
    (stops at random times missed every operation in 11 of 25 seeds: those comparisons compared nothing)."""
    open_ops = (
        store.cursor()
        .execute(
            "SELECT machine_id, planned_start FROM operations WHERE status <> 'done' ORDER BY production_order_id, op_seq"
        )
        .fetchall()
    )
    assert open_ops, "the random plant has no open operation to delay"
    picks = [rng.choice(open_ops) for _ in range(count)]
    return [
        Stop(machine, start - timedelta(minutes=rng.choice([0, 5, 10])), rng.choice(minutes))
        for machine, start in picks
    ]


@pytest.mark.parametrize("seed", range(25))
def test_fast_repair_matches_naive_oracle(seed):
    rng = random.Random(seed)
    store = random_plant(rng)
    stops = stops_on_open_operations(rng, store, rng.randint(1, 3), [15, 60, 200, 600])
    rep = both(store, stops)
    assert rep.ops, "the comparison compared no moved operation"


@pytest.mark.parametrize("seed", range(25, 40))
def test_fast_repair_reading_the_plan_in_small_slabs_matches_oracle(seed, monkeypatch):
    # A one-minute first window makes the repair read the plan slab by slab, growing as delays spread.
    monkeypatch.setattr("planner_tui.engine.schedule._INITIAL_HORIZON_US", 60_000_000)
    rng = random.Random(seed)
    store = random_plant(rng, n_groups=20)
    stops = stops_on_open_operations(rng, store, rng.randint(1, 2), [60, 300, 900])
    rep = both(store, stops)
    assert rep.ops, "the comparison compared no moved operation"
    assert rep.read_rounds > 1, "the plan was read in one slab: the growing reads were not exercised"


def test_delay_reaching_a_machine_through_an_order_reads_that_machine_from_the_start():
    # M2 is reached first at 14:00 (via P2's feeding link), later at 11:00 (via P1): the M2 operation
    # between them must still be found as P1's machine successor.
    store = plant(
        [
            order("P1", "08:00", "12:00"),
            order("P2", "08:00", "13:00", parent_production_order_id="P4"),
            order("P3", "12:00", "13:00"),
            order("P4", "14:00", "15:00"),
        ],
        [
            op("P1", 10, "M1", "08:00", "10:00"),
            op("P1", 20, "M2", "10:30", "12:00"),
            op("P3", 10, "M2", "12:00", "13:00"),
            op("P2", 10, "M1", "10:00", "13:00"),
            op("P4", 10, "M2", "14:00", "15:00"),
        ],
    )
    rep = both(store, [Stop("M1", t("09:00"), 120)])
    assert times(rep, "P1", 20) == (t("12:00"), t("13:30"))
    assert times(rep, "P3", 10) == (t("13:30"), t("14:30"))
    assert times(rep, "P4", 10) == (t("15:00"), t("16:00"))


@pytest.mark.parametrize("seed", range(40, 55))
def test_fast_repair_on_wider_plants_reading_machines_in_small_ranges_matches_oracle(seed, monkeypatch):
    # More machines than a delay reaches, and one-minute first ranges: many rounds of reads, machines
    # reached late through orders and feeding links.
    monkeypatch.setattr("planner_tui.engine.schedule._INITIAL_HORIZON_US", 60_000_000)
    rng = random.Random(seed)
    store = random_plant(rng, n_groups=30, n_machines=8)
    stops = stops_on_open_operations(rng, store, rng.randint(1, 3), [30, 120, 600, 1500])
    rep = both(store, stops)
    assert rep.ops, "the comparison compared no moved operation"
    assert rep.read_rounds > 1, "the plan was read in one range: the growing reads were not exercised"


def test_plan_whose_machine_order_and_op_seq_disagree_is_a_cycle_error():
    # M1 runs P/20 before Q/10, M2 runs Q/20 before P/10: a delay would chase itself round the loop.
    store = plant(
        [order("P", "08:00", "09:00"), order("Q", "08:00", "10:00")],
        [
            op("P", 20, "M1", "08:00", "09:00"),
            op("Q", 10, "M1", "09:00", "10:00"),
            op("Q", 20, "M2", "08:10", "08:20"),
            op("P", 10, "M2", "08:20", "08:30"),
        ],
    )
    with pytest.raises(CycleError, match="P|Q"):
        repair(store.cursor(), [Stop("M1", t("08:30"), 60)])


def test_a_feeders_reported_end_never_falls_after_the_start_of_the_order_it_feeds():
    """Rule (c) and the reported ends agree: the order fed waits for the feeder's operations, and the
    feeder's buffer absorbs the delay in both (a review found 13:00 reported while the parent started 12:00)."""
    store = plant(
        [order("P2", "08:00", "12:00", parent_production_order_id="P1"), order("P1", "12:00", "14:00")],
        [op("P2", 10, "M1", "08:00", "10:00"), op("P1", 10, "M2", "12:00", "14:00")],
    )
    for minutes in (60, 180):
        rep = both(store, [Stop("M1", t("09:00"), minutes)])
        feeder_end = rep.orders["P2"].new_end if "P2" in rep.orders else t("12:00")
        parent_start = times(rep, "P1", 10)[0] if ("P1", 10) in rep.ops else t("12:00")
        assert parent_start >= feeder_end, minutes
