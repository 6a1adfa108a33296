"""The synthetic plant generator: deterministic, valid for the loader, and shaped like the sample plant.

Only small scales here (a few thousand rows); the large plant is for benchmarks.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from planner_tui.engine import naive_repair
from planner_tui.engine.calendar import plant_time
from planner_tui.engine.schedule import Stop, repair
from planner_tui.errors import BadRequest
from planner_tui.generate import generate_plant
from planner_tui.store import Store, loader
from planner_tui.store.contract import TABLES

SMALL = 0.005


@pytest.fixture(scope="module")
def small_plant(tmp_path_factory) -> tuple[Path, dict[str, int]]:
    out = tmp_path_factory.mktemp("plant")
    return out, generate_plant(out, scale=SMALL, seed=1)


@pytest.fixture(scope="module")
def small_dir(small_plant) -> Path:
    return small_plant[0]


@pytest.fixture(scope="module")
def store(small_dir):
    s = Store.memory()
    loader.load_snapshot(s, str(small_dir))  # the loader validates keys, references and enums
    yield s
    s.close()


def one(store: Store, sql: str, params=None):
    return store.cursor().execute(sql, params or []).fetchone()[0]


def test_writes_one_parquet_file_per_contract_table_and_snapshot_json(small_plant):
    small_dir, counts = small_plant
    for t in TABLES:
        # an optional table the generator does not build (one the contract gained since) has no file
        assert (small_dir / f"{t.name}.parquet").exists() == (t.name in counts), t.name
        assert t.name in counts or not t.required, t.name
    meta = json.loads((small_dir / "snapshot.json").read_text())
    assert meta["as_of"] == "2026-11-23T06:00:00" and "seed 1" in meta["plant"]
    assert "timezone" not in meta and "calendar" not in meta  # round the clock


def test_same_seed_gives_the_same_bytes_and_another_seed_another_plant(small_dir, tmp_path):
    again, other = tmp_path / "again", tmp_path / "other"
    generate_plant(again, scale=SMALL, seed=1)
    generate_plant(other, scale=SMALL, seed=2)
    written = [t.name for t in TABLES if (small_dir / f"{t.name}.parquet").exists()]
    for t in written:
        name = f"{t}.parquet"
        assert (again / name).read_bytes() == (small_dir / name).read_bytes(), name
    differing = [
        t for t in written if (other / f"{t}.parquet").read_bytes() != (small_dir / f"{t}.parquet").read_bytes()
    ]
    assert {"operations", "sales_orders", "lot_genealogy", "production_orders"} <= set(differing)


def test_row_counts_follow_the_scale(tmp_path):
    small = generate_plant(tmp_path / "a", scale=0.01, seed=3)
    double = generate_plant(tmp_path / "b", scale=0.02, seed=3)
    assert small["machines"] == 20 and small["items"] == 200 and small["sales_orders"] == 5000
    for name in ("operations", "production_orders", "lot_genealogy", "sales_orders"):
        assert 1.8 < double[name] / small[name] < 2.2, name
    assert 4 < small["operations"] / small["production_orders"] < 6  # 1,000,000 / 200,000 at scale 1
    assert 8000 < small["operations"] < 12000 and 8000 < small["lot_genealogy"] < 12000


def test_loads_with_every_table_filled(store, small_plant):
    for t in TABLES:
        if t.name in small_plant[1]:
            assert one(store, f'SELECT count(*) FROM "{t.name}"') > 0, t.name


def test_plan_is_feasible(store):
    assert (
        one(
            store,
            """
        SELECT count(*) FROM (
            SELECT planned_start, lag(planned_end) OVER (PARTITION BY machine_id ORDER BY planned_start, production_order_id, op_seq) AS prev_end
            FROM operations) WHERE planned_start < prev_end""",
        )
        == 0
    )
    assert (
        one(
            store,
            """
        SELECT count(*) FROM (
            SELECT planned_start, lag(planned_end) OVER (PARTITION BY production_order_id ORDER BY op_seq) AS prev_end
            FROM operations) WHERE planned_start < prev_end""",
        )
        == 0
    )
    assert (
        one(
            store,
            """
        SELECT count(*) FROM production_orders f
        JOIN production_orders p ON p.production_order_id = f.parent_production_order_id
        WHERE f.planned_end > p.planned_start""",
        )
        == 0
    )
    assert one(store, "SELECT count(*) FROM operations WHERE planned_end <= planned_start") == 0


def test_a_repair_without_a_stop_moves_nothing(store):
    from datetime import datetime

    assert not naive_repair.repair_naive(store.cursor(), [], at=datetime(2026, 11, 23, 6)).orders


def test_statuses_agree_with_as_of(store):
    as_of = "2026-11-23 06:00:00"
    assert one(store, "SELECT count(*) FROM operations WHERE status = 'done' AND planned_end > ?", [as_of]) == 0
    assert one(store, "SELECT count(*) FROM operations WHERE status = 'running'") > 0
    statuses = {r[0] for r in store.cursor().execute("SELECT DISTINCT status FROM production_orders").fetchall()}
    assert {"planned", "released", "in_progress", "completed"} <= statuses


def test_has_the_sample_plants_structure(store):
    # four-level BOM: finished -> subassembly -> component -> raw
    assert (
        one(
            store,
            """
        SELECT count(*) FROM bom a JOIN bom b ON b.parent_item_id = a.component_item_id
        JOIN bom c ON c.parent_item_id = b.component_item_id
        JOIN items i ON i.item_id = c.component_item_id WHERE i.item_type = 'raw'""",
        )
        > 0
    )
    # make to order (with a line) and make to stock (without), feeding three levels deep
    assert one(store, "SELECT count(*) FROM production_orders WHERE sales_order_id IS NOT NULL") > 0
    assert (
        one(
            store,
            "SELECT count(*) FROM production_orders WHERE sales_order_id IS NULL AND parent_production_order_id IS NULL",
        )
        > 0
    )
    assert (
        one(
            store,
            """
        SELECT count(*) FROM production_orders a
        JOIN production_orders b ON b.production_order_id = a.parent_production_order_id
        JOIN production_orders c ON c.production_order_id = b.parent_production_order_id""",
        )
        > 0
    )
    # a feeder makes a component of the item it feeds
    assert (
        one(
            store,
            """
        SELECT count(*) FROM production_orders f JOIN production_orders p ON p.production_order_id = f.parent_production_order_id
        LEFT JOIN bom ON bom.parent_item_id = p.item_id AND bom.component_item_id = f.item_id
        WHERE bom.parent_item_id IS NULL""",
        )
        == 0
    )
    # made-to-order lines carry their finished order's item
    assert (
        one(
            store,
            """
        SELECT count(*) FROM production_orders p JOIN sales_orders s USING (sales_order_id, line_no)
        WHERE p.parent_production_order_id IS NULL AND s.item_id <> p.item_id""",
        )
        == 0
    )


def test_lots_genealogy_shipments_holds_and_stops(store):
    depth = one(
        store,
        """
        WITH RECURSIVE up(lot, depth) AS (
            SELECT DISTINCT sl.lot_id, 0 FROM shipment_lots sl JOIN shipments s USING (shipment_id)
            WHERE s.status IN ('shipped', 'delivered')
            UNION ALL
            SELECT g.input_lot_id, u.depth + 1 FROM up u JOIN lot_genealogy g ON g.output_lot_id = u.lot
            WHERE u.depth < 5)
        SELECT max(depth) FROM up""",
    )
    assert depth >= 3  # a shipped lot descends from a raw lot three links up
    # genealogy follows the BOM
    assert (
        one(
            store,
            """
        SELECT count(*) FROM lot_genealogy g JOIN lots i ON i.lot_id = g.input_lot_id JOIN lots o ON o.lot_id = g.output_lot_id
        LEFT JOIN bom ON bom.parent_item_id = o.item_id AND bom.component_item_id = i.item_id
        WHERE bom.parent_item_id IS NULL""",
        )
        == 0
    )
    assert one(store, "SELECT count(*) FROM lots WHERE status = 'shipped'") > 0
    assert one(store, "SELECT count(*) FROM lots WHERE produced_by IS NOT NULL") > 0
    assert one(store, "SELECT count(*) FROM machine_states WHERE state = 'down'") >= 1
    assert one(store, "SELECT count(*) FROM quality_holds WHERE status = 'active'") >= 1
    assert one(store, "SELECT count(*) FROM inventory WHERE lot_id IS NULL") > 0


def test_bad_arguments_are_refused():
    for scale in (0, -1, float("nan"), 1000):
        with pytest.raises(BadRequest):
            generate_plant("unused", scale=scale)
    with pytest.raises(BadRequest):
        generate_plant("unused", scale=0.01, seed=-5)


def test_cli_generate_json(tmp_path):
    from planner_tui.cli import app

    result = CliRunner().invoke(
        app, ["generate", "--out", str(tmp_path / "p"), "--scale", "0.002", "--seed", "7", "--json"]
    )
    assert result.exit_code == 0, result.output
    answer = json.loads(result.output)
    assert answer["seed"] == 7 and answer["tables"]["machines"] == 12
    assert (tmp_path / "p" / "operations.parquet").exists()
    bad = CliRunner().invoke(app, ["generate", "--out", str(tmp_path / "q"), "--scale", "-2"])
    assert bad.exit_code == 2 and "scale must be" in bad.output


# ---------------------------------------------------------------- the plant planned in working time


@pytest.fixture(scope="module")
def cal_plant(tmp_path_factory) -> tuple[Path, dict[str, int]]:
    out = tmp_path_factory.mktemp("plant-calendars")
    return out, generate_plant(out, scale=SMALL, seed=1, calendars=True)


@pytest.fixture(scope="module")
def cal_store(cal_plant):
    s = Store.memory()
    loader.load_snapshot(s, str(cal_plant[0]))
    yield s
    s.close()


def _ops_with_resources(store: Store) -> list[tuple]:
    return (
        store.cursor()
        .execute(
            """SELECT o.production_order_id, o.op_seq, o.machine_id, o.planned_start, o.planned_end,
                      list(x.resource_id ORDER BY x.resource_id) FILTER (WHERE x.resource_id IS NOT NULL)
               FROM operations o LEFT JOIN operation_resources x USING (production_order_id, op_seq)
               GROUP BY ALL ORDER BY ALL"""
        )
        .fetchall()
    )


def test_calendars_name_the_time_zone_the_shifts_holidays_and_operators(cal_plant, cal_store):
    meta = json.loads((cal_plant[0] / "snapshot.json").read_text())
    assert meta["timezone"] == "Europe/Berlin" and meta["calendar"] == "TWO-SHIFT" and "two shifts" in meta["plant"]
    assert one(cal_store, "SELECT count(*) FROM machines WHERE calendar_id IS DISTINCT FROM 'TWO-SHIFT'") == 0
    shifts = cal_store.cursor().execute("SELECT DISTINCT start_time, end_time FROM calendars ORDER BY ALL").fetchall()
    assert shifts == [("06:00", "14:00"), ("14:00", "22:00")]
    assert one(cal_store, "SELECT max(weekday) FROM calendars") == 5  # weekends closed
    # Christmas Day, a Friday inside the plan, is closed from local midnight to midnight (UTC+1)
    closures = (
        cal_store.cursor()
        .execute(
            "SELECT \"start\", \"end\" FROM calendar_exceptions WHERE calendar_id = 'TWO-SHIFT' AND working = 'false'"
        )
        .fetchall()
    )
    assert (datetime(2026, 12, 24, 23), datetime(2026, 12, 25, 23)) in closures
    start, end = cal_store.cursor().execute("SELECT min(planned_start), max(planned_end) FROM operations").fetchall()[0]
    assert start < datetime(2026, 12, 24) and end > datetime(2027, 1, 2)  # the holidays lie inside the plan
    people = one(
        cal_store,
        """SELECT count(DISTINCT (x.production_order_id, x.op_seq)) FROM operation_resources x
           JOIN resources r USING (resource_id) WHERE r.kind = 'person'""",
    )
    assert 0.28 < people / one(cal_store, "SELECT count(*) FROM operations") < 0.39  # about a third
    # the rest of the plant is the round-the-clock one's where time plays no part
    for name in ("items", "bom", "customers", "machine_states", "lots", "lot_genealogy", "quality_holds"):
        assert cal_plant[1][name] > 0
    assert one(cal_store, "SELECT count(*) FROM operations WHERE status = 'running'") > 0


def test_calendars_every_operation_lies_inside_its_machines_and_operators_working_time(cal_store):
    plant = plant_time(cal_store.cursor())
    assert not plant.always and plant.timezone == "Europe/Berlin"
    outside = []
    for po, seq, machine, ps, pe, resources in _ops_with_resources(cal_store):
        wt = plant.operation(machine, resources or ())
        # wholly inside working time: its working length is its wall length
        if wt.between(ps, pe) != (pe - ps).total_seconds() / 60 or not wt.is_working(ps):
            outside.append((po, seq, machine, ps, pe, resources))
        for r in resources or ():
            if r.startswith("OP-"):
                assert plant.resource(r) is plant.calendars["TWO-SHIFT"], r
    assert not outside, outside[:5]


def test_calendars_no_operator_or_tool_is_double_booked(cal_store):
    assert (
        one(
            cal_store,
            """SELECT count(*) FROM (
                   SELECT o.planned_start, lag(o.planned_end) OVER (
                       PARTITION BY x.resource_id ORDER BY o.planned_start, o.production_order_id, o.op_seq) AS prev_end
                   FROM operation_resources x JOIN operations o USING (production_order_id, op_seq))
               WHERE planned_start < prev_end""",
        )
        == 0
    )
    assert (
        one(cal_store, "SELECT count(DISTINCT resource_id) FROM operation_resources WHERE resource_id LIKE 'OP-%'") > 10
    )


def test_calendars_a_repair_without_a_stop_moves_nothing_and_a_stop_is_repaired_as_the_oracle_says(cal_store):
    cur = cal_store.cursor()
    at = datetime(2026, 11, 23, 6)
    naive = naive_repair.repair_naive(cur, [], at=at)  # every rule applied over the whole plan: nothing to do
    assert not naive.ops and not naive.orders
    # the fast repair is exact on a plan that keeps the rules: the same answer as the oracle for a stop
    busy = cur.execute(
        """SELECT machine_id FROM operations WHERE status <> 'done' AND planned_start >= ?
           GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1""",
        [at],
    ).fetchall()[0][0]
    for minutes in (240, 1800):
        stops = [Stop(busy, at, minutes)]
        fast, slow = repair(cur, stops, at), naive_repair.repair_naive(cur, stops, at=at)
        assert fast.ops and {k: (v.new_start, v.new_end) for k, v in fast.ops.items()} == {
            k: (v.new_start, v.new_end) for k, v in slow.ops.items()
        }
        # a delayed operation works only in working time: it never starts in closed time
        plant = plant_time(cur)
        assert all(plant.machine(v.machine_id).is_working(v.new_start) for v in fast.ops.values())


def test_calendars_same_seed_same_bytes_and_the_default_plant_is_another(cal_plant, small_dir, tmp_path):
    again = tmp_path / "again"
    counts = generate_plant(again, scale=SMALL, seed=1, calendars=True)
    assert counts == cal_plant[1]
    for name in counts:
        assert (again / f"{name}.parquet").read_bytes() == (cal_plant[0] / f"{name}.parquet").read_bytes(), name
    assert (again / "snapshot.json").read_bytes() == (cal_plant[0] / "snapshot.json").read_bytes()
    for name in ("operations", "calendars", "resources", "operation_resources"):
        assert (small_dir / f"{name}.parquet").read_bytes() != (cal_plant[0] / f"{name}.parquet").read_bytes()
    for name in ("items", "bom", "customers"):  # nothing of time in them
        assert (small_dir / f"{name}.parquet").read_bytes() == (cal_plant[0] / f"{name}.parquet").read_bytes()


def test_calendars_shift_operators_work_their_own_shift_only(tmp_path):
    out = tmp_path / "shifts"
    generate_plant(out, scale=0.002, seed=4, calendars=True, shift_operators=True)
    s = Store.memory()
    loader.load_snapshot(s, str(out))
    plant = plant_time(s.cursor())
    cals = {plant.resource_calendars[r] for r in plant.resource_calendars if r.startswith("OP-")}
    assert cals == {"EARLY", "LATE"}
    for _, _, machine, ps, pe, resources in _ops_with_resources(s):
        wt = plant.operation(machine, resources or ())
        assert wt.between(ps, pe) == (pe - ps).total_seconds() / 60
    assert not naive_repair.repair_naive(s.cursor(), [], at=datetime(2026, 11, 23, 6)).ops
    s.close()
    with pytest.raises(BadRequest):
        generate_plant(tmp_path / "no", scale=0.002, shift_operators=True)


def test_calendars_working_days_keep_each_days_offset_past_a_change_of_the_clocks():
    from planner_tui.generate import HOLIDAYS, _working_days

    starts = _working_days()
    assert starts[15] == datetime(2026, 11, 23, 5)  # as_of's day: 06:00 in Berlin (UTC+1)
    days = {t.date(): t for t in starts}
    assert datetime(2027, 3, 26, 5) in starts and days[date(2027, 3, 29)] == datetime(2027, 3, 29, 4)  # UTC+2
    assert all(day not in days for day, _ in HOLIDAYS) and all(t.isoweekday() <= 5 for t in starts)


def test_cli_generate_calendars(tmp_path):
    from planner_tui.cli import app

    result = CliRunner().invoke(
        app, ["generate", "--out", str(tmp_path / "p"), "--scale", "0.002", "--calendars", "--json"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["calendars"] is True
    assert json.loads((tmp_path / "p" / "snapshot.json").read_text())["timezone"] == "Europe/Berlin"
