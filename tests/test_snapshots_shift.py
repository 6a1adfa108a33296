"""Snapshots of the shift screen (`h`, issue 14) on the scenario's plant with a morning's triage, clock
pinned at 09:00 UTC, at 120x36 and 80x24. Update on purpose with `--snapshot-update`, and look at them."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from planner_tui.access import LocalPlant
from planner_tui.console.app import PlannerApp
from planner_tui.console.screenshots import wait_loaded
from planner_tui.store import Store
from planner_tui.store.events import apply_events
from planner_tui.store.loader import load_snapshot
from planner_tui.timeutil import parse_timestamp

SAMPLE = Path(__file__).resolve().parent.parent / "sample_data"

AT = "2026-11-23T09:00:00"


def _fed_as_live(path: Path) -> Store:
    """The sample plant with the scenario applied as a live feed would have: each event 2 s after its time
    (scenario_db applies them at the real clock, so every lag drawn would change from day to day)."""
    store = Store.open(path)
    load_snapshot(store, str(SAMPLE / "plant"))
    for line in (SAMPLE / "scenario.jsonl").read_text().splitlines():
        event = json.loads(line)
        applied = parse_timestamp(event["time"]) + timedelta(seconds=2)
        apply_events(store, [event], feed="scenario", clock=lambda applied=applied: applied)
    return store


@pytest.fixture
def app(tmp_path: Path):
    store = _fed_as_live(tmp_path / "plant.duckdb")
    plant = LocalPlant(store)
    plant.acknowledge("machine_down:M-WELD-01", who="ana", at=datetime(2026, 11, 23, 6, 20))
    plant.note("machine_down:M-WELD-01", "servo drive ordered", who="ben", at=datetime(2026, 11, 23, 7, 5))
    yield PlannerApp(store, at=AT, user="ben", animate=False)
    store.close()


async def _open_shift(pilot) -> None:
    await wait_loaded(pilot)
    await pilot.press("h")
    await wait_loaded(pilot)
    pilot.app.clear_notifications()
    await pilot.pause()


def test_snapshot_shift(snap_compare, app) -> None:
    assert snap_compare(app, terminal_size=(120, 36), run_before=_open_shift)


def test_snapshot_shift_80x24(snap_compare, app) -> None:
    assert snap_compare(app, terminal_size=(80, 24), run_before=_open_shift)
