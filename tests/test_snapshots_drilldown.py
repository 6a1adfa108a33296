"""Snapshots of the drill-down and triage screens on the sample plant, clock pinned (2026-11-23 06:00 UTC,
M-WELD-01 down since 05:30 for two days, a rush order making P-200 short). Update on purpose with `--snapshot-update`, and look at them."""

from __future__ import annotations

from typing import Any

import pytest
from test_console_drilldown import (
    AT,
    RUSH_ORDER,
    SHORT_ITEM,
    USER,
    WELD_DOWN,
    sample_store,
)
from textual.screen import Screen

from planner_tui.console.app import PlannerApp
from planner_tui.console.screenshots import wait_loaded
from planner_tui.timeutil import parse_timestamp

SIZE = (120, 36)


class DrillHost(PlannerApp):
    """The real console (its plant, clock, workers, triage), with the frame these snapshots were first drawn
    in: a bare screen under the drill-downs (the breadcrumb starts at the drill, not at "Plant") and no app
    keys in the footer. Only what is drawn differs; drop it when the SVGs are next redrawn on purpose."""

    TITLE = "DrillApp"  # the window title drawn in these SVGs
    COMMAND_PALETTE_DISPLAY = None

    def get_default_screen(self) -> Screen[Any]:
        return Screen()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("quit", "help"):
            return False  # kept out of the footer
        return super().check_action(action, parameters)


@pytest.fixture
def app():
    store = sample_store([WELD_DOWN, RUSH_ORDER])
    pinned = parse_timestamp(AT)  # triage recorded at the pinned clock, so the history drawn is reproducible
    yield DrillHost(store, at=AT, user=USER, animate=False, triage_clock=lambda: pinned)
    store.close()


def drill_to(kind: str, ident: str, *keys: str):
    async def run_before(pilot) -> None:
        pilot.app.action_drill(kind, ident)
        await wait_loaded(pilot)
        for key in keys:
            await pilot.press(key)
            await wait_loaded(pilot)
        await wait_loaded(pilot)
        pilot.app.clear_notifications()
        await pilot.pause()

    return run_before


def test_snapshot_impact(snap_compare, app) -> None:
    assert snap_compare(app, terminal_size=SIZE, run_before=drill_to("machine", "M-WELD-01"))


def test_snapshot_impact_80x24(snap_compare, app) -> None:
    assert snap_compare(app, terminal_size=(80, 24), run_before=drill_to("machine", "M-WELD-01"))


def test_snapshot_trace(snap_compare, app) -> None:
    # the sample's coil lot that went into pump sets already shipped to two customers
    assert snap_compare(app, terminal_size=SIZE, run_before=drill_to("lot", "LOT-C8-24117"))


def test_snapshot_shortage(snap_compare, app) -> None:
    assert snap_compare(app, terminal_size=SIZE, run_before=drill_to("item", SHORT_ITEM))


def test_snapshot_exception_after_triage(snap_compare, app) -> None:
    # acknowledge, then assign to the first owner matching "tomasz" (the welding supervisor)
    keys = ("a", "s", *"tomasz", "enter", "n", *"fitter on site", "enter")
    assert snap_compare(app, terminal_size=SIZE, run_before=drill_to("exception", "machine_down:M-WELD-01", *keys))


def test_snapshot_snooze_dialog(snap_compare, app) -> None:
    assert snap_compare(app, terminal_size=(80, 24), run_before=drill_to("exception", "machine_down:M-WELD-01", "z"))
