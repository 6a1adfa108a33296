"""The synthetic plant generator: deterministic, valid for the loader, and shaped like the sample plant.

Only small scales here (a few thousand rows); the large plant is for benchmarks.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from planner_tui.engine import naive_repair
from planner_tui.errors import BadRequest
from planner_tui.generate import generate_plant
from planner_tui.store import Store, loader
from planner_tui.store.contract import TABLES

SMALL = 0.005


@pytest.fixture(scope="module")
def small_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("plant")
    generate_plant(out, scale=SMALL, seed=1)
    return out


@pytest.fixture(scope="module")
def store(small_dir):
    s = Store.memory()
    loader.load_snapshot(s, str(small_dir))  # the loader validates keys, references and enums
    yield s
    s.close()


def one(store: Store, sql: str, params=None):
    return store.cursor().execute(sql, params or []).fetchone()[0]


def test_writes_one_parquet_file_per_contract_table_and_snapshot_json(small_dir):
    for t in TABLES:
        assert (small_dir / f"{t.name}.parquet").exists(), t.name
    meta = json.loads((small_dir / "snapshot.json").read_text())
    assert meta["as_of"] == "2026-11-23T06:00:00" and "seed 1" in meta["plant"]


def test_same_seed_gives_the_same_bytes_and_another_seed_another_plant(small_dir, tmp_path):
    again, other = tmp_path / "again", tmp_path / "other"
    generate_plant(again, scale=SMALL, seed=1)
    generate_plant(other, scale=SMALL, seed=2)
    for t in TABLES:
        name = f"{t.name}.parquet"
        assert (again / name).read_bytes() == (small_dir / name).read_bytes(), name
    differing = [
        t.name
        for t in TABLES
        if (other / f"{t.name}.parquet").read_bytes() != (small_dir / f"{t.name}.parquet").read_bytes()
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


def test_loads_with_every_table_filled(store):
    for t in TABLES:
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
