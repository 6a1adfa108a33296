"""The sample plant and its scenario: loadable, believable and internally consistent.

These facts are what the demo and the other tests lean on: a feasible plan, deep BOMs and genealogy,
make-to-order chains through M-WELD-01, a machine down and a hold active at as_of, and a scenario whose
events all name things that exist.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from planner_tui.engine import naive_repair, schedule
from planner_tui.engine.calendar import plant_time
from planner_tui.engine.impact import machine_impact, reschedule
from planner_tui.store import Store, loader
from planner_tui.store import events as events_mod
from planner_tui.store.contract import TABLES

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_data"
AS_OF = datetime(2026, 11, 23, 6, 0)
EVENT_TYPES = {
    "machine.down",
    "machine.up",
    "hold.placed",
    "hold.released",
    "order.confirmed",
    "order.changed",
    "order.cancelled",
    "operation.completed",
    "receipt.posted",
    "shipment.shipped",
    "inventory.adjusted",
}


@pytest.fixture(scope="module")
def store():
    s = Store.memory()
    loader.load_snapshot(s, str(SAMPLE / "plant"))
    yield s
    s.close()


def one(store: Store, sql: str, params=None):
    return store.cursor().execute(sql, params or []).fetchone()[0]


def rows(store: Store, sql: str, params=None) -> list[tuple]:
    return store.cursor().execute(sql, params or []).fetchall()


@pytest.fixture(scope="module")
def events() -> list[dict]:
    with open(SAMPLE / "scenario.jsonl", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


# ------------------------------------------------------------------ the files


def test_every_contract_table_has_a_csv_and_snapshot_json_names_as_of():
    for t in TABLES:
        assert (SAMPLE / "plant" / f"{t.name}.csv").exists(), t.name
    meta = json.loads((SAMPLE / "plant" / "snapshot.json").read_text())
    assert meta["as_of"] == "2026-11-23T06:00:00"
    assert meta["plant"]
    assert (meta["timezone"], meta["calendar"]) == ("Europe/Copenhagen", "THREE-SHIFT")


def _load_builder(name: str, out: Path):
    spec = importlib.util.spec_from_file_location(f"_sample_{name}", SAMPLE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    try:
        spec.loader.exec_module(module)
    finally:
        sys.modules.pop(spec.name, None)
    module.OUT = out
    return module


def test_committed_files_match_their_builders(tmp_path):
    """The CSVs and the scenario are what the build scripts write: nobody edited one without the other."""
    _load_builder("build_sample", tmp_path / "plant").main()
    for written in sorted((tmp_path / "plant").iterdir()):
        assert written.read_bytes() == (SAMPLE / "plant" / written.name).read_bytes(), written.name
    _load_builder("build_scenario", tmp_path / "scenario.jsonl").main()
    assert (tmp_path / "scenario.jsonl").read_bytes() == (SAMPLE / "scenario.jsonl").read_bytes()


# ------------------------------------------------------------------ the plant


def test_loads_whole_with_believable_sizes(store):
    counts = {t.name: one(store, f'SELECT count(*) FROM "{t.name}"') for t in TABLES}
    assert all(n > 0 for n in counts.values()), counts
    assert 10 <= counts["machines"] <= 14
    assert len({r[0] for r in rows(store, "SELECT line FROM machines")}) >= 3
    assert 5 <= counts["customers"] <= 8
    assert 25 <= counts["sales_orders"] <= 40
    assert 30 <= counts["production_orders"] <= 50
    assert one(store, "SELECT count(*) FROM items WHERE buyer IS NOT NULL AND item_type = 'raw'") > 0
    assert one(store, "SELECT count(DISTINCT tier) FROM customers") == 3


def test_plan_is_feasible_machines_run_one_operation_at_a_time(store):
    overlaps = rows(
        store,
        """
        SELECT machine_id, production_order_id, op_seq FROM (
            SELECT *, lag(planned_end) OVER (PARTITION BY machine_id ORDER BY planned_start, production_order_id, op_seq) AS prev_end
            FROM operations) WHERE planned_start < prev_end""",
    )
    assert overlaps == []
    assert one(store, "SELECT count(*) FROM operations WHERE planned_end <= planned_start") == 0


def test_plan_is_feasible_op_seq_order_and_feeders_before_parents(store):
    out_of_order = rows(
        store,
        """
        SELECT production_order_id, op_seq FROM (
            SELECT *, lag(planned_end) OVER (PARTITION BY production_order_id ORDER BY op_seq) AS prev_end
            FROM operations) WHERE planned_start < prev_end""",
    )
    assert out_of_order == []
    late_feeders = rows(
        store,
        """
        SELECT f.production_order_id FROM production_orders f
        JOIN production_orders p ON p.production_order_id = f.parent_production_order_id
        WHERE f.planned_end > (SELECT min(planned_start) FROM operations o
                               WHERE o.production_order_id = p.production_order_id)""",
    )
    assert late_feeders == []
    # an order's planned window is its operations' window
    mismatched = rows(
        store,
        """
        SELECT p.production_order_id FROM production_orders p
        JOIN (SELECT production_order_id, min(planned_start) s, max(planned_end) e FROM operations GROUP BY 1) o
          USING (production_order_id)
        WHERE p.planned_start <> o.s OR p.planned_end <> o.e""",
    )
    assert mismatched == []


def test_operation_and_order_statuses_agree_with_as_of(store):
    assert one(store, "SELECT count(*) FROM operations WHERE status = 'done' AND planned_end > ?", [AS_OF]) == 0
    assert one(store, "SELECT count(*) FROM operations WHERE status = 'waiting' AND planned_start < ?", [AS_OF]) == 0
    assert one(store, "SELECT count(*) FROM operations WHERE status = 'running'") >= 1
    assert one(store, "SELECT count(*) FROM operations WHERE status = 'done'") >= 10
    statuses = {r[0] for r in rows(store, "SELECT DISTINCT status FROM production_orders")}
    assert {"planned", "released", "in_progress", "completed"} <= statuses


def test_bom_is_at_least_three_levels_deep(store):
    depth = one(
        store,
        """
        WITH RECURSIVE walk(item, depth) AS (
            SELECT parent_item_id, 1 FROM bom
            UNION ALL
            SELECT b.component_item_id, w.depth + 1 FROM walk w JOIN bom b ON b.parent_item_id = w.item
            WHERE w.depth < 10)
        SELECT max(depth) FROM walk""",
    )
    assert depth >= 4  # finished -> subassembly -> component -> raw: 4 levels, 3 links
    types = {r[0] for r in rows(store, "SELECT DISTINCT item_type FROM items")}
    assert types == {"finished", "subassembly", "component", "raw"}


def test_make_to_order_chains_feed_through_the_weld_cell(store):
    # multi-level feeding: rail order -> frame order -> pump order, made for a customer's line
    three_levels = one(
        store,
        """
        SELECT count(*) FROM production_orders a
        JOIN production_orders b ON b.production_order_id = a.parent_production_order_id
        JOIN production_orders c ON c.production_order_id = b.parent_production_order_id
        WHERE c.sales_order_id IS NOT NULL""",
    )
    assert three_levels >= 2
    assert (
        one(
            store,
            "SELECT count(*) FROM production_orders WHERE sales_order_id IS NULL AND parent_production_order_id IS NULL",
        )
        >= 3
    )
    weld_customers = one(
        store,
        """
        SELECT count(DISTINCT s.customer_id) FROM operations o
        JOIN production_orders f ON f.production_order_id = o.production_order_id
        JOIN production_orders p ON p.production_order_id = coalesce(f.parent_production_order_id, f.production_order_id)
        JOIN sales_orders s ON s.sales_order_id = p.sales_order_id AND s.line_no = p.line_no
        WHERE o.machine_id = 'M-WELD-01' AND o.status <> 'done' AND s.status = 'open'""",
    )
    assert weld_customers >= 3


def test_open_promises_fall_in_the_next_two_weeks(store):
    lo, hi = (
        one(store, "SELECT min(promised_date) FROM sales_orders WHERE status = 'open'"),
        one(store, "SELECT max(promised_date) FROM sales_orders WHERE status = 'open'"),
    )
    assert lo >= AS_OF.date() and hi <= (AS_OF + timedelta(days=15)).date()
    assert one(store, "SELECT count(*) FROM sales_orders WHERE status = 'shipped'") >= 2


def test_genealogy_is_three_levels_deep_and_reaches_a_customer(store):
    # the deepest chain from a raw lot, and a shipped lot downstream of that raw lot
    found = rows(
        store,
        """
        WITH RECURSIVE down(root, lot, depth) AS (
            SELECT l.lot_id, l.lot_id, 0 FROM lots l JOIN items i USING (item_id) WHERE i.item_type = 'raw'
            UNION ALL
            SELECT d.root, g.output_lot_id, d.depth + 1 FROM down d JOIN lot_genealogy g ON g.input_lot_id = d.lot
            WHERE d.depth < 10)
        SELECT d.root, max(d.depth), count(DISTINCT s.shipment_id) FROM down d
        LEFT JOIN shipment_lots sl ON sl.lot_id = d.lot
        LEFT JOIN shipments s ON s.shipment_id = sl.shipment_id AND s.status IN ('shipped', 'delivered')
        GROUP BY d.root ORDER BY 2 DESC""",
    )
    root, depth, shipped = found[0]
    assert root == "LOT-C8-24117" and depth >= 3 and shipped >= 2


def test_a_machine_is_down_and_a_hold_is_active_at_as_of(store):
    down = rows(store, "SELECT machine_id FROM machine_states WHERE state = 'down' AND since <= ?", [AS_OF])
    assert down == [("M-PRESS-02",)]
    holds = rows(
        store,
        """SELECT h.hold_id, l.status FROM quality_holds h JOIN lots l USING (lot_id)
                           WHERE h.status = 'active' AND h.placed_at <= ?""",
        [AS_OF],
    )
    assert holds == [("QH-2611-007", "hold")]
    assert one(store, "SELECT count(*) FROM inventory WHERE lot_id IS NULL") >= 5
    assert one(store, "SELECT count(*) FROM purchase_orders WHERE status = 'open'") >= 5


def test_a_repair_without_a_stop_moves_nothing_and_the_weld_stop_makes_customers_late(store):
    for repair in (naive_repair.repair_naive, schedule.repair):
        nothing = repair(store.cursor(), [], at=AS_OF)
        assert not nothing.orders and not nothing.ops, repair
    # `reschedule` with the store's stops: only M-PRESS-02, down since Saturday for an unknown time
    result = reschedule(store.cursor(), at=AS_OF)
    assert [(s["machine_id"], s["minutes"]) for s in result["stops"]] == [("M-PRESS-02", None)]
    assert result["production_orders"] == [] and result["sales_orders"] == []
    local_day = plant_time(store.cursor()).local_date
    stop = schedule.Stop("M-WELD-01", datetime(2026, 11, 23, 6, 12), 1800)
    repaired = naive_repair.repair_naive(store.cursor(), [stop], at=stop.start)
    new_end = {k: v.new_end for k, v in repaired.orders.items()}
    late = rows(
        store,
        """
        SELECT s.sales_order_id, s.line_no, s.customer_id, s.promised_date, list(p.production_order_id)
        FROM sales_orders s JOIN production_orders p ON p.sales_order_id = s.sales_order_id AND p.line_no = s.line_no
        WHERE s.status = 'open' GROUP BY ALL""",
    )
    late_customers = {
        cust
        for so, line, cust, promised, orders in late
        if local_day(max(new_end.get(o, datetime(2026, 1, 1)) for o in orders)) > promised
    }
    assert late_customers == {"CUST-KESSLER", "CUST-IBERMIN"}


# ------------------------------------------------------------------ plant time


def test_calendars_shifts_closures_and_people(store):
    pt = plant_time(store.cursor())
    assert pt.timezone == "Europe/Copenhagen"
    monday = datetime(2026, 11, 23)
    # local 07:00 is 06:00 UTC in November: the A-shift starts as the snapshot is taken
    assert pt.machine("M-LASER-01").between(monday, monday + timedelta(days=7)) == 5 * 24 * 60  # Mon 06:00-Sat 06:00
    assert pt.machine("M-WELD-01").periods(monday, monday + timedelta(days=1)) == [
        (datetime(2026, 11, 23, 6), datetime(2026, 11, 23, 22))
    ]
    paint = pt.machine("M-PAINT-01")
    assert paint.periods(monday, monday + timedelta(days=1)) == [
        (datetime(2026, 11, 23, 6), datetime(2026, 11, 23, 14))
    ]
    assert paint.between(datetime(2026, 11, 26), datetime(2026, 11, 27)) == 0  # Thursday: curing oven service
    assert paint.between(monday, monday + timedelta(days=7)) == 4 * 8 * 60
    for machine in ("M-LASER-01", "M-WELD-01", "M-PAINT-01"):
        assert pt.machine(machine).between(datetime(2026, 12, 23, 23), datetime(2026, 12, 27, 23)) == 0  # Christmas
    kinds = dict(rows(store, "SELECT resource_id, kind FROM resources"))
    assert sorted(kinds.values()) == ["crew", "person", "person", "tool"]
    people = rows(store, "SELECT supervisor FROM resources WHERE kind = 'person' AND supervisor IS NOT NULL")
    assert len(people) == 2
    # every weld in the robot cell needs its crew; every paint job the powder coater
    assert (
        one(
            store,
            """SELECT count(*) FROM operations o WHERE o.machine_id IN ('M-WELD-01', 'M-PAINT-01') AND NOT EXISTS (
               SELECT 1 FROM operation_resources r WHERE r.production_order_id = o.production_order_id
               AND r.op_seq = o.op_seq AND r.resource_id IN ('CREW-ROBOT', 'P-MSORENSEN'))""",
        )
        == 0
    )


def test_plan_is_in_working_time_and_each_resource_runs_one_operation_at_a_time(store):
    pt = plant_time(store.cursor())
    needs: dict[tuple[str, int], list[str]] = {}
    for po, seq, resource in rows(store, "SELECT * FROM operation_resources ORDER BY ALL"):
        needs.setdefault((po, seq), []).append(resource)
    ops = rows(store, "SELECT production_order_id, op_seq, machine_id, planned_start, planned_end FROM operations")
    for po, seq, machine, start, end in ops:
        when = pt.operation(machine, needs.get((po, seq), []))
        minutes = when.between(start, end)
        # starts in working time, works a whole number of 5 minutes, ends as soon as that is done
        assert when.is_working(start) and minutes > 0 and minutes % 5 == 0, (po, seq)
        assert when.add(start, minutes) == end, (po, seq)
    overlaps = rows(
        store,
        """
        SELECT resource_id, production_order_id, op_seq FROM (
            SELECT r.resource_id, o.*, lag(o.planned_end) OVER (PARTITION BY r.resource_id ORDER BY o.planned_start) AS prev_end
            FROM operation_resources r JOIN operations o USING (production_order_id, op_seq)) WHERE planned_start < prev_end""",
    )
    assert overlaps == []


def test_the_weld_cell_stop_in_plant_time_as_the_readme_tells_it(store):
    """sample_data/README.md, "The weld cell stop in plant time": every figure, hand-checked there."""
    cur = store.cursor()
    assert (
        plant_time(cur).machine("M-WELD-01").between(datetime(2026, 11, 23, 6, 12), datetime(2026, 11, 24, 12, 12))
        == 22 * 60
    )
    result = machine_impact(cur, "M-WELD-01", at=datetime(2026, 11, 23, 6, 12), down_minutes=1800)
    welds = {o["production_order_id"]: (o["new_end"], o["delay_minutes"]) for o in result["operations"]}
    assert welds == {
        "PRO-26-0412": (datetime(2026, 11, 24, 16, 10), 1800),
        "PRO-26-0422": (datetime(2026, 11, 24, 19, 10), 1800),
        "PRO-26-0415": (datetime(2026, 11, 25, 7, 0), 2280),
        "PRO-26-0419": (datetime(2026, 11, 25, 9, 20), 2280),
        "PRO-26-0424": (datetime(2026, 11, 25, 11, 50), 2280),
        "PRO-26-0430": (datetime(2026, 11, 25, 13, 40), 1790),
        "PRO-26-0433": (datetime(2026, 11, 25, 16, 55), 1780),
    }
    lines = {f"{ln['sales_order_id']}/{ln['line_no']}": ln for ln in result["sales_orders"]}
    assert len(lines) == 10
    late = {k: (ln["eta"], str(ln["promised_date"]), ln["slip_minutes"]) for k, ln in lines.items() if ln["late"]}
    assert late == {
        "SO-24117/1": (datetime(2026, 11, 25, 16, 5), "2026-11-24", 2630),  # +1d 19h 50m
        "SO-24133/1": (datetime(2026, 11, 30, 7, 0), "2026-11-29", 4915),  # +3d 9h 55m, over the weekend
    }
    holds = {k: (ln["eta"], str(ln["promised_date"])) for k, ln in lines.items() if not ln["late"]}
    assert holds == {
        "SO-24124/1": (datetime(2026, 11, 25, 17, 45), "2026-11-25"),
        "SO-24126/1": (datetime(2026, 11, 27, 18, 10), "2026-11-27"),
        "SO-24120/1": (datetime(2026, 11, 26, 3, 55), "2026-11-26"),
        "SO-24120/2": (datetime(2026, 11, 26, 9, 40), "2026-11-28"),
        "SO-24138/1": (datetime(2026, 11, 30, 22, 5), "2026-11-30"),  # 23:05 local: on its promised day
        "SO-24129/1": (datetime(2026, 11, 27, 13, 20), "2026-11-28"),
        "SO-24131/1": (datetime(2026, 11, 27, 22, 50), "2026-11-29"),
        "SO-24135/1": (datetime(2026, 11, 30, 11, 5), "2026-12-01"),
    }
    assert lines["SO-24135/1"]["slip_minutes"] == 3 * 24 * 60 + 10
    # SO-24133/1's frame: welded by Wednesday 16:55, the paint line closed Thursday, painted Friday
    repaired = schedule.repair(cur, [schedule.Stop("M-WELD-01", datetime(2026, 11, 23, 6, 12), 1800)])
    assert repaired.op_times("PRO-26-0433", 20) == (datetime(2026, 11, 27, 9, 20), datetime(2026, 11, 27, 10, 40))
    assert repaired.op_times("PRO-26-0412", 20) == (datetime(2026, 11, 25, 6, 0), datetime(2026, 11, 25, 7, 30))


# ------------------------------------------------------------------ the scenario


def test_the_powder_coater_away_as_the_readme_tells_it(store):
    from planner_tui.engine.impact import resource_impact

    result = resource_impact(store.cursor(), "P-MSORENSEN", at=datetime(2026, 11, 23, 7), down_minutes=1440)
    delays = {o["production_order_id"]: o["delay_minutes"] for o in result["operations"]}
    assert len(delays) == 11 and delays["PRO-26-0412"] == 20 * 60 + 50
    assert {delays[po] for po in ("PRO-26-0422", "PRO-26-0415", "PRO-26-0419")} == {200.0}  # Tuesday: 3 h 20 min
    assert {delays[po] for po in ("PRO-26-0428", "PRO-26-0424")} == {245.0}  # Wednesday: 4 h 05 min
    assert delays["PRO-26-0430"] == delays["PRO-26-0433"] == 44 * 60 + 5  # past Thursday's closure: Friday
    assert {delays[po] for po in ("PRO-26-0436", "PRO-26-0438", "PRO-26-0442")} == {3 * 1440.0}  # the weekend
    counts = result["counts"]
    assert (counts["slipping"], counts["turned_late"], counts["slip_minutes_min"], counts["slip_minutes_max"]) == (
        10,
        0,
        95.0,
        4320.0,
    )
    line = next(ln for ln in result["sales_orders"] if ln["sales_order_id"] == "SO-24138")
    assert line["eta"] == datetime(2026, 11, 30, 21, 55) and not line["late"]  # 22:55 in Aarhus, on 11-30
    roles = {n["person"]: n["role"] for n in result["notify"]}
    assert roles["Jonas Berg"] == "resource supervisor, machine supervisor"
    assert roles["Priya Nair"] == "supervisor (knock-on)"


def test_scenario_is_cloudevents_in_sequence_and_time_order(events):
    assert 25 <= len(events) <= 80
    ids = [(e["source"], e["id"]) for e in events]
    assert len(set(ids)) == len(ids)
    assert [int(e["sequence"]) for e in events] == list(range(1, len(events) + 1))
    times = [datetime.fromisoformat(e["time"].replace("Z", "+00:00")).replace(tzinfo=None) for e in events]
    assert times == sorted(times) and times[0] > AS_OF and times[-1].date() == AS_OF.date()
    assert timedelta(hours=2) <= times[-1] - AS_OF <= timedelta(hours=3, minutes=30)
    for e in events:
        assert e["specversion"] == "1.0" and e["source"].startswith("urn:plant:")
        assert e["datacontenttype"] == "application/json" and isinstance(e["data"], dict)
        assert e["type"] in EVENT_TYPES


def test_scenario_shows_every_gap_early_enough(events):
    def first(pred):
        return next(e for e in events if pred(e))

    stop = first(lambda e: e["type"] == "machine.down")
    assert stop["data"] == {**stop["data"], "machine_id": "M-WELD-01"} and stop["data"]["expected_minutes"] > 0
    assert stop["time"] < "2026-11-23T06:20"
    assert first(lambda e: e["type"] == "hold.placed")["data"]["lot_id"] == "LOT-C8-24117"
    assert first(lambda e: e["type"] == "order.confirmed")["data"]["item_id"] == "P-200X"
    assert first(lambda e: e["type"] == "inventory.adjusted" and e["data"]["item_id"] == "R-SEAL-200")
    assert first(lambda e: e["type"] == "machine.up")
    routine = {"operation.completed", "shipment.shipped", "inventory.adjusted", "receipt.posted"}
    assert sum(e["type"] in routine for e in events) >= 20


def test_scenario_names_only_what_exists_or_was_created_earlier(store, events):
    known = {
        "machine_id": {r[0] for r in rows(store, "SELECT machine_id FROM machines")},
        "lot_id": {r[0] for r in rows(store, "SELECT lot_id FROM lots")},
        "hold_id": {r[0] for r in rows(store, "SELECT hold_id FROM quality_holds")},
        "customer_id": {r[0] for r in rows(store, "SELECT customer_id FROM customers")},
        "item_id": {r[0] for r in rows(store, "SELECT item_id FROM items")},
        "purchase_order_id": {r[0] for r in rows(store, "SELECT purchase_order_id FROM purchase_orders")},
        "shipment_id": {r[0] for r in rows(store, "SELECT shipment_id FROM shipments")},
    }
    lines = {tuple(r) for r in rows(store, "SELECT sales_order_id, line_no FROM sales_orders")}
    ops = {tuple(r) for r in rows(store, "SELECT production_order_id, op_seq FROM operations")}
    creates = {"hold.placed": "hold_id", "receipt.posted": "lot_id"}
    for e in events:
        d = e["data"]
        if e["type"] == "order.confirmed":
            assert (d["sales_order_id"], d["line_no"]) not in lines
            lines.add((d["sales_order_id"], d["line_no"]))
        elif "line_no" in d:
            assert (d["sales_order_id"], d["line_no"]) in lines, e["id"]
        if e["type"] == "operation.completed":
            assert (d["production_order_id"], d["op_seq"]) in ops, e["id"]
        for name, ids in known.items():
            if name in d:
                if creates.get(e["type"]) == name and d[name] not in ids:
                    ids.add(d[name])
                    continue
                assert d[name] in ids, (e["id"], name, d[name])


def test_scenario_applies_without_a_rejection():
    with Store.memory() as s:
        loader.load_snapshot(s, str(SAMPLE / "plant"))
        with open(SAMPLE / "scenario.jsonl", encoding="utf-8") as fh:
            batch = [json.loads(line) for line in fh]
        result = events_mod.apply_events(
            s, batch, feed=str(SAMPLE / "scenario.jsonl"), received_at=datetime(2026, 11, 23, 9, 0)
        )
        assert (result.applied, result.rejected, result.unknown) == (len(batch), 0, 0), result.rejections
