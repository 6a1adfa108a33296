"""The console on a snapshot days old, and on an exception that came back (issue 15 items 4 and 5), at
80x24 and 120x36: lines past their promise are listed late with "overdue" instead of past ETAs, the
inbox says so, and a shortage that came back after a resolve opens as a new exception whose screen
names the earlier occurrence."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest
from plantkit import SAMPLE, make_plant, pilot_test
from test_exceptions import AT, PLANT

from planner_tui.access import LocalPlant
from planner_tui.console.app import PlannerApp
from planner_tui.console.screenshots import settle
from planner_tui.console.widgets.live_table import LiveTable
from planner_tui.store import Store
from planner_tui.store.loader import load_snapshot

WEEKS_ON = "2026-12-06T10:00:00"  # the sample snapshot is 13 days old


@pytest.fixture(scope="module")
def sample() -> Store:
    store = Store.memory()
    load_snapshot(store, str(SAMPLE / "plant"))
    return store


def _cells(table: LiveTable) -> list[list[str]]:
    return [[str(cell) for cell in row.cells] for row in table.all_rows]


async def _loaded(pilot, table: LiveTable) -> None:
    """Until the panel has its rows (each panel loads in a worker of its own)."""
    for _ in range(200):
        await settle(pilot)
        if table.all_rows:
            return
        await asyncio.sleep(0.05)
    assert table.all_rows


@pytest.mark.parametrize("size", [(80, 24), (120, 36)])
@pilot_test
async def test_lines_past_their_promise_are_late_and_passed_etas_say_overdue(sample: Store, size) -> None:
    expected = LocalPlant(sample).reschedule(at=WEEKS_ON)["lines_at_risk"]
    overdue = {f"{x['sales_order_id']}/{x['line_no']}" for x in expected if x["overdue"]}
    passed = {f"{x['sales_order_id']}/{x['line_no']}" for x in expected if x["eta_overdue"]}
    assert overdue and passed
    app = PlannerApp(sample, at=WEEKS_ON)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        await pilot.press("3")  # at 80 columns one panel shows at a time: the orders
        orders = app.screen.query_one("#table-orders", LiveTable)
        await _loaded(pilot, orders)
        rows = {row[0]: row for row in _cells(orders)}
        assert {key for key, row in rows.items() if row[1] == "OVERDUE"} == overdue
        assert {key for key, row in rows.items() if row[3] == "overdue"} == passed
        inbox = app.screen.query_one("#table-inbox", LiveTable)
        await _loaded(pilot, inbox)
        titles = [row[-1] for row in _cells(inbox)]
        assert sum(1 for title in titles if " past its promise +" in title) == len(overdue)


@pytest.mark.parametrize("size", [(80, 24), (120, 36)])
@pilot_test
async def test_a_shortage_back_after_a_resolve_opens_as_a_new_one(tmp_path: Path, size) -> None:
    store = Store.open(tmp_path / "plant.duckdb", create=True)
    make_plant(store, **PLANT)
    plant = LocalPlant(store)
    plant.exceptions(at=AT)  # first detected at 07:00
    plant.resolve("shortage:RAW1", who="dee", at=AT, reason="expedited by phone")
    make_plant(
        store,
        production_orders=[
            {
                "production_order_id": "P2",
                "item_id": "FG1",
                "planned_start": "2026-01-05T09:30:00",
                "planned_end": "2026-01-05T09:45:00",
            }
        ],
    )
    store.con.execute(
        "UPDATE production_orders SET planned_start = TIMESTAMP '2026-01-05 12:00:00' WHERE production_order_id = 'P1'"
    )
    app = PlannerApp(store, at=(AT + timedelta(hours=2)).isoformat(), user="dee")
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        inbox = app.screen.query_one("#table-inbox", LiveTable)
        await _loaded(pilot, inbox)
        keys = [row.key for row in inbox.all_rows]
        assert "shortage:RAW1" in keys
        inbox.move_cursor(row=keys.index("shortage:RAW1"))
        await pilot.press("enter")
        await settle(pilot)
        summary = " ".join(str(app.screen.query_one("#drill-summary").render()).split())
        assert "an earlier occurrence was resolved 2026-01-05 07:00 by dee: expedited by phone" in summary
        assert "status OPEN" in summary
    store.close()
