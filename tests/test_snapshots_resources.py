"""Snapshots of a person's absence at 80x24 on the hand-worked plant of test_console_resources (not the
sample plant: these stay put while it changes): the resource's detail, and its impact with each customer
line's slip apart from its standing against the promise. Update on purpose with `--snapshot-update`, and
look at them."""

from __future__ import annotations

import pytest
from test_console_drilldown import USER
from test_console_resources import AT, build

from planner_tui.console.app import PlannerApp
from planner_tui.console.screenshots import wait_loaded
from planner_tui.timeutil import parse_timestamp


@pytest.fixture
def app():
    store = build(anna_away=True)
    pinned = parse_timestamp(AT)
    yield PlannerApp(store, at=AT, user=USER, animate=False, triage_clock=lambda: pinned)
    store.close()


def drill_to(kind: str, ident: str):
    async def run_before(pilot) -> None:
        await wait_loaded(pilot)
        pilot.app.action_drill(kind, ident)
        await wait_loaded(pilot)
        pilot.app.clear_notifications()
        await pilot.pause()

    return run_before


def test_snapshot_resource_80x24(snap_compare, app) -> None:
    assert snap_compare(app, terminal_size=(80, 24), run_before=drill_to("resource", "ANNA"))


def test_snapshot_resource_impact_80x24(snap_compare, app) -> None:
    assert snap_compare(app, terminal_size=(80, 24), run_before=drill_to("resource_impact", "ANNA"))
