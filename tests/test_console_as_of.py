"""The console's time slider (issue 14): `t` asks for a moment, every panel then shows the plant as it stood
at it (marked as the past in the header), the exception screen too; triage is refused there; `t` again comes
back to now. Driven with Textual's pilot on the scenario's plant (clock pinned after its last event)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path

import pytest
from plantkit import pilot_test, scenario_db

from planner_tui.console.app import PlannerApp
from planner_tui.console.dialogs.as_of import AsOfDialog, parse_moment
from planner_tui.console.screens.exception import ExceptionScreen
from planner_tui.console.screenshots import settle, wait_loaded
from planner_tui.console.widgets.live_table import LiveTable
from planner_tui.console.widgets.status import PlantHeader
from planner_tui.errors import BadRequest
from planner_tui.store import Store

AT = "2026-11-23T09:00:00"


@pytest.fixture
def store(tmp_path: Path):
    s = Store.open(scenario_db(tmp_path / "plant.duckdb"))
    yield s
    s.close()


def _rows(app: PlannerApp, name: str) -> list[str]:
    table = app.screen.query_one(f"#table-{name}", LiveTable)
    return [row.key.value for row in table.ordered_rows]


def _header(app: PlannerApp) -> str:
    return str(app.screen.query_one(PlantHeader).render())


async def _go_back_to(pilot, moment: str) -> None:
    await pilot.press("t")
    await settle(pilot)
    assert isinstance(pilot.app.screen, AsOfDialog)
    await pilot.press("tab")
    for key in moment:
        await pilot.press(key)
    await pilot.press("enter")
    await _refreshed(pilot)


async def _refreshed(pilot) -> None:
    """Until the panels have reloaded for the moment shown (a refresh may wait out the gap between two)."""
    main = pilot.app.main_screen
    for _ in range(100):
        await settle(pilot)
        loaded = main._loaded_version if main is not None else {}
        if loaded and min(loaded.values()) >= pilot.app.data_version and not main._refreshing:
            await settle(pilot)
            return
        await asyncio.sleep(0.05)


@pilot_test
async def test_t_shows_every_panel_as_it_stood_and_t_again_comes_back(store: Store) -> None:
    app = PlannerApp(store, at=AT)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        now_inbox = _rows(app, "inbox")
        assert "quality_hold:QH-2611-009" in now_inbox and "AS OF" not in _header(app)

        await _go_back_to(pilot, "2026-11-23T06:20")
        assert app.as_of == datetime(2026, 11, 23, 6, 20)
        header = _header(app)
        assert "AS OF 2026-11-23 06:20 UTC" in header and "t returns to now" in header
        past_inbox = _rows(app, "inbox")
        assert past_inbox and "quality_hold:QH-2611-009" not in past_inbox  # the coil hold came at 06:31
        assert "machine_down:M-PRESS-02" in past_inbox  # the press was still down (up at 08:20)
        assert "M-PRESS-02" in _rows(app, "machines")[:2]
        assert _rows(app, "holds") == ["QH-2611-007"]

        # The exception screen is the past too, and refuses triage.
        app.action_drill("exception", "machine_down:M-WELD-01")
        await wait_loaded(pilot)
        assert isinstance(app.screen, ExceptionScreen)
        shown = str(app.screen.query_one("#drill-summary").render())
        assert "2 customer lines late" in shown  # at 06:20; 3 by 09:00
        await pilot.press("a")
        await settle(pilot)
        assert any("cannot be triaged" in n.message for n in app._notifications)
        await pilot.press("escape")
        await settle(pilot)

        await pilot.press("t")
        await _refreshed(pilot)
        assert app.as_of is None and "AS OF" not in _header(app)
        assert _rows(app, "inbox") == now_inbox


@pilot_test
async def test_a_moment_before_the_snapshot_is_refused_and_the_console_stays_live(store: Store) -> None:
    app = PlannerApp(store, at=AT)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await _go_back_to(pilot, "2026-11-01T00:00")
        assert app.as_of is None
        assert any("can be shown from 2026-11-23T06:00:00" in n.message for n in app._notifications)


def test_typed_moments() -> None:
    now = datetime(2026, 11, 23, 9, 0)
    assert parse_moment("90m", now) == datetime(2026, 11, 23, 7, 30)
    assert parse_moment("2026-11-23T06:20", now) == datetime(2026, 11, 23, 6, 20)
    with pytest.raises(BadRequest, match="after now"):
        parse_moment("2026-11-24T00:00", now)


@pilot_test
async def test_what_changed_since_i_looked_is_marked_and_told(store: Store) -> None:
    """ben last left the console at 06:25; since then the coil hold came (06:31) and ana acknowledged the
    weld stop (07:00): the inbox marks them NEW and CHANGED, a notification says so once, and leaving
    records the new time."""
    from planner_tui.access import LocalPlant
    from planner_tui.console.app import _plant_key
    from planner_tui.console.looked import last_looked, remember_looked

    LocalPlant(store).acknowledge("machine_down:M-WELD-01", who="ana", at=datetime(2026, 11, 23, 7, 0))
    key = _plant_key(LocalPlant(store))
    remember_looked(key, datetime(2026, 11, 23, 6, 25))
    app = PlannerApp(store, at=AT, user="ben")
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#table-inbox", LiveTable)
        titles = {row.key.value: str(table.get_row(row.key)[4]) for row in table.ordered_rows}
        assert titles["quality_hold:QH-2611-009"].startswith("NEW Hold QH-2611-009")
        assert titles["machine_down:M-WELD-01"].startswith("CHANGED M-WELD-01 down")
        assert not titles["late_order:SO-24117/1"].startswith(("NEW", "CHANGED"))  # raised 06:12, untouched
        told = [n for n in app._notifications if n.title and n.title.startswith("Since you looked")]
        assert len(told) == 1 and "2 critical" in told[0].title
    app.release()
    assert last_looked(key) == datetime(2026, 11, 23, 9, 0)
