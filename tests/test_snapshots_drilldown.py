"""Snapshots of the drill-down and triage screens on the sample plant, clock pinned (2026-11-23 06:00 UTC,
M-WELD-01 down since 05:30 for two days, a rush order making P-200 short). Update on purpose with `--snapshot-update`, and look at them."""

from __future__ import annotations

import pytest

from planner_tui.console.navigation import wait_loaded
from test_console_drilldown import RUSH_ORDER, SHORT_ITEM, WELD_DOWN, DrillApp, sample_store

SIZE = (120, 36)


@pytest.fixture
def app():
    store = sample_store([WELD_DOWN, RUSH_ORDER])
    yield DrillApp(store)
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
    assert snap_compare(app, terminal_size=(80, 24),
                        run_before=drill_to("exception", "machine_down:M-WELD-01", "z"))
