"""Snapshots of the main screen on the sample plant with its scenario applied (a pre-applied file feed),
clock pinned at 2026-11-23 09:00 UTC, no live feed. Update on purpose with `--snapshot-update`, and look
at the SVGs before committing them."""

from __future__ import annotations

from pathlib import Path

import pytest

from planner_tui.console.app import PlannerApp
from planner_tui.console.screenshots import SCREENSHOT_AT, scenario_store, settle

SAMPLE = Path(__file__).resolve().parent.parent / "sample_data"


@pytest.fixture
def app():
    store = scenario_store(SAMPLE)
    yield PlannerApp(store, at=SCREENSHOT_AT, user="ana.planner", animate=False)
    store.close()


async def _loaded(pilot) -> None:
    await settle(pilot)
    pilot.app.clear_notifications()
    await pilot.pause()


def test_snapshot_main_120x36(snap_compare, app) -> None:
    assert snap_compare(app, terminal_size=(120, 36), run_before=_loaded)


def test_snapshot_main_80x24(snap_compare, app) -> None:
    assert snap_compare(app, terminal_size=(80, 24), run_before=_loaded)


def test_snapshot_main_80x24_machines_filtered(snap_compare, app) -> None:
    async def run_before(pilot) -> None:
        await _loaded(pilot)
        await pilot.press("2", "slash", *"weld", "enter")
        await _loaded(pilot)

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)
