"""shift_plant moves timestamps exactly and dates by whole days, driven by the contract's column types."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from plantkit import make_plant

from planner_tui.store.contract import TABLES
from planner_tui.store.timeshift import shift_plant, whole_days


def small_plant():
    return make_plant(
        machines=[{"machine_id": "M1"}],
        machine_states=[{"machine_id": "M1", "state": "down", "since": "2026-11-23T04:40:00"}],
        items=[{"item_id": "I1"}],
        customers=[{"customer_id": "C1"}],
        sales_orders=[{"sales_order_id": "S1", "customer_id": "C1", "item_id": "I1",
                       "promised_date": "2026-11-27", "confirmed_at": "2026-11-20T10:00:00"}],
        production_orders=[{"production_order_id": "P1", "item_id": "I1", "planned_start": "2026-11-23T06:00:00",
                            "planned_end": "2026-11-23T09:30:00"}],
        operations=[{"production_order_id": "P1", "op_seq": 10, "machine_id": "M1",
                     "planned_start": "2026-11-23T06:00:00", "planned_end": "2026-11-23T09:30:00"}],
        purchase_orders=[{"purchase_order_id": "PO1", "item_id": "I1", "qty": 5, "due_date": "2026-11-25"}],
        shipments=[{"shipment_id": "SH1", "sales_order_id": "S1", "qty": 1, "planned_ship_date": "2026-11-27"}],
        lots=[{"lot_id": "L1", "item_id": "I1"}],
        quality_holds=[{"hold_id": "H1", "lot_id": "L1", "placed_at": "2026-11-20T13:25:00"}],
    )


def test_timestamps_move_exactly_and_dates_by_whole_days():
    store = small_plant()
    store.con.execute("INSERT INTO store_meta VALUES ('as_of', '2026-11-23T06:00:00')")
    delta = timedelta(days=2, hours=3, minutes=17, seconds=5)
    shift_plant(store.con, delta)
    one = lambda sql: store.con.execute(sql).fetchone()  # noqa: E731
    assert one("SELECT planned_start, planned_end FROM operations") == (
        datetime(2026, 11, 25, 9, 17, 5), datetime(2026, 11, 25, 12, 47, 5))
    assert one("SELECT planned_start FROM production_orders")[0] == datetime(2026, 11, 25, 9, 17, 5)
    assert one("SELECT since FROM machine_states")[0] == datetime(2026, 11, 25, 7, 57, 5)
    assert one("SELECT placed_at FROM quality_holds")[0] == datetime(2026, 11, 22, 16, 42, 5)
    assert one("SELECT promised_date, confirmed_at FROM sales_orders") == (
        date(2026, 11, 29), datetime(2026, 11, 22, 13, 17, 5))
    assert one("SELECT due_date FROM purchase_orders")[0] == date(2026, 11, 27)
    assert one("SELECT planned_ship_date FROM shipments")[0] == date(2026, 11, 29)
    assert one("SELECT value FROM store_meta WHERE key = 'as_of'")[0] == "2026-11-25T09:17:05"


@pytest.mark.parametrize(
    ("delta", "days"),
    [(timedelta(hours=11), 0), (timedelta(hours=13), 1), (timedelta(days=-3, hours=-14), -4),
     (timedelta(days=736), 736), (timedelta(0), 0)],
)
def test_dates_round_to_the_nearest_day(delta, days):
    assert whole_days(delta) == days
    store = small_plant()
    shift_plant(store.con, delta)
    assert store.con.execute("SELECT promised_date FROM sales_orders").fetchone()[0] == date(2026, 11, 27) + timedelta(days=days)
    assert store.con.execute("SELECT planned_start FROM operations").fetchone()[0] == datetime(2026, 11, 23, 6) + delta


def test_empty_values_stay_empty_and_there_and_back_is_identity():
    store = small_plant()
    store.con.execute("INSERT INTO quality_holds VALUES ('H2', 'L1', NULL, NULL, NULL, 'released')")
    before = {t.name: sorted(store.con.execute(f'SELECT * FROM "{t.name}"').fetchall(), key=repr) for t in TABLES}
    shift_plant(store.con, timedelta(days=5, hours=2))
    assert store.con.execute("SELECT placed_at FROM quality_holds WHERE hold_id = 'H2'").fetchone()[0] is None
    shift_plant(store.con, -timedelta(days=5, hours=2))
    after = {t.name: sorted(store.con.execute(f'SELECT * FROM "{t.name}"').fetchall(), key=repr) for t in TABLES}
    assert after == before


def test_sample_plant_moved_to_now_keeps_its_shape():
    loader = pytest.importorskip("planner_tui.store.loader")
    schedule = pytest.importorskip("planner_tui.engine.schedule")
    from planner_tui.store import Store

    sample = Path(__file__).resolve().parent.parent / "sample_data" / "plant"
    with Store.memory() as store:
        loader.load_snapshot(store, str(sample))
        as_of = datetime(2026, 11, 23, 6, 0)
        now = datetime(2027, 3, 9, 14, 41, 0)
        first_promise = store.con.execute("SELECT min(promised_date) FROM sales_orders WHERE status = 'open'").fetchone()[0]
        shift_plant(store.con, now - as_of)
        running = store.con.execute("SELECT min(planned_start) FROM operations WHERE status = 'running'").fetchone()[0]
        assert running < now
        moved_promise = store.con.execute("SELECT min(promised_date) FROM sales_orders WHERE status = 'open'").fetchone()[0]
        assert moved_promise == first_promise + timedelta(days=whole_days(now - as_of))
        # the plan is still feasible: a repair without a stop moves nothing
        assert not schedule.repair_naive(store.cursor(), [], at=now).orders
