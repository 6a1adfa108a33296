"""Triage from the inbox (issue 15, item 1): the keys the README names act on the inbox row under the
cursor, as on the exception's own screen, and `?` lists them there; on another panel they say what to do."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from plantkit import pilot_test, scenario_db

from planner_tui.console.app import PlannerApp
from planner_tui.console.dialogs.help import HelpScreen
from planner_tui.console.dialogs.note import NoteDialog
from planner_tui.console.screenshots import settle
from planner_tui.console.widgets.live_table import LiveTable
from planner_tui.store import Store

AT = "2026-11-23T09:00:00"


@pytest.fixture
def store(tmp_path: Path):
    s = Store.open(scenario_db(tmp_path / "plant.duckdb"))
    yield s
    s.close()


def _status(app: PlannerApp, exception_id: str) -> str:
    table = app.screen.query_one("#table-inbox", LiveTable)
    return str(table.get_row(exception_id)[2])


async def _until(pilot, check, rounds: int = 100) -> None:
    for _ in range(rounds):
        await settle(pilot)
        if check():
            return
        await asyncio.sleep(0.05)
    assert check()


@pytest.mark.parametrize("size", [(80, 24), (120, 36)])
@pilot_test
async def test_a_and_n_on_the_inbox_row_under_the_cursor(store: Store, size: tuple[int, int]) -> None:
    app = PlannerApp(store, at=AT, user="ben")
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        inbox = app.screen.query_one("#table-inbox", LiveTable)
        assert inbox.has_focus and inbox.cursor_key == "machine_down:M-WELD-01"
        assert _status(app, "machine_down:M-WELD-01") == "open"

        await pilot.press("a")
        await _until(pilot, lambda: _status(app, "machine_down:M-WELD-01") == "acknowledged")
        assert any("acknowledged by ben" in n.message for n in app._notifications)

        await pilot.press("down", "n")
        await settle(pilot)
        assert isinstance(app.screen, NoteDialog) and app.screen.exception_id == "quality_hold:QH-2611-009"
        for key in "QA on it":
            await pilot.press("space" if key == " " else key)
        await pilot.press("enter")
        await settle(pilot)
        history = (
            store.cursor()
            .execute(
                "SELECT who, action, detail FROM exception_actions WHERE exception_id = 'quality_hold:QH-2611-009'"
            )
            .fetchall()
        )
        assert history == [("ben", "note", "QA on it")]


@pytest.mark.parametrize("size", [(80, 24), (120, 36)])
@pilot_test
async def test_on_another_panel_the_keys_say_where_they_work_and_help_lists_them(
    store: Store, size: tuple[int, int]
) -> None:
    app = PlannerApp(store, at=AT, user="ben")
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        await pilot.press("2", "a")  # the machines panel
        await settle(pilot)
        assert any("pick one in the inbox" in n.message for n in app._notifications)
        assert store.cursor().execute("SELECT count(*) FROM exception_actions").fetchall() == [(0,)]
        await pilot.press("?")
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)
        keys = [key for key, _ in app.screen.rows]
        for key in ("a", "s", "n", "z", "x", "o", "t", "h"):
            assert key in keys, (key, keys)


@pytest.mark.parametrize("size", [(80, 24), (120, 36)])
@pilot_test
async def test_snoozed_and_resolved_are_hidden_as_in_the_cli_and_S_shows_them(
    store: Store, size: tuple[int, int]
) -> None:
    """Issue 15 item 2: one rule. The console and `planner-tui exceptions` list the same rows on the same
    database and clock; `S` and `--all` both add the snoozed and resolved, marked by their status."""
    import json

    from typer.testing import CliRunner

    from planner_tui.access import LocalPlant
    from planner_tui.cli import app as cli
    from planner_tui.timeutil import parse_timestamp

    plant = LocalPlant(store)
    plant.snooze("quality_hold:QH-2611-009", parse_timestamp("2026-11-23T12:00"), who="ana", at=parse_timestamp(AT))
    plant.resolve("no_supply:SO-24142/1", who="ana", at=parse_timestamp(AT))
    db = store.path

    def cli_ids(*flags: str) -> list[str]:
        done = CliRunner().invoke(cli, ["exceptions", "--at", AT, "--db", str(db), "--json", *flags])
        assert done.exit_code == 0, done.output
        return [e["exception_id"] for e in json.loads(done.stdout)["exceptions"]]

    app = PlannerApp(store, at=AT, user="ben")
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        inbox = app.screen.query_one("#table-inbox", LiveTable)
        shown = [row.key.value for row in inbox.ordered_rows]
        assert "quality_hold:QH-2611-009" not in shown and "no_supply:SO-24142/1" not in shown
        await pilot.press("S")
        await _until(pilot, lambda: len(inbox.ordered_rows) == len(shown) + 2)
        every = [row.key.value for row in inbox.ordered_rows]
        assert _status(app, "quality_hold:QH-2611-009") == "snoozed"
        assert _status(app, "no_supply:SO-24142/1") == "resolved"
        await pilot.press("S")
        await _until(pilot, lambda: len(inbox.ordered_rows) == len(shown))
    store.close()  # the CLI opens the file itself, in this process
    assert shown and cli_ids() == shown
    assert cli_ids("--all") == every


@pytest.mark.parametrize("size", [(80, 24), (120, 36)])
@pilot_test
async def test_resolving_a_critical_one_asks_first_and_keeps_the_reason(store: Store, size: tuple[int, int]) -> None:
    """Issue 15 item 3: x asks (a critical exception says so), Escape leaves it open, Enter resolves with the
    reason typed (none is fine); o reopens at once."""
    from planner_tui.console.dialogs.resolve import ResolveDialog

    app = PlannerApp(store, at=AT, user="ben")
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        await pilot.press("x")
        await settle(pilot)
        assert isinstance(app.screen, ResolveDialog) and app.screen.critical
        await pilot.press("escape")
        await settle(pilot)
        assert store.cursor().execute("SELECT count(*) FROM exception_actions").fetchall() == [(0,)]
        await pilot.press("x")
        await settle(pilot)
        for key in "drive replaced":
            await pilot.press("space" if key == " " else key)
        await pilot.press("enter")
        await settle(pilot)
        done = (
            store.cursor()
            .execute("SELECT who, action, detail FROM exception_actions WHERE exception_id = 'machine_down:M-WELD-01'")
            .fetchall()
        )
        assert done == [("ben", "resolve", "drive replaced")]


def test_a_replays_lag_is_shown_in_real_seconds() -> None:
    """Issue 15 item 7: the demo's clock runs 60 times faster, so a lag measured on it is 60 times the real
    one; the header divides by the replay's speed (and still says "replay x60" beside the clock)."""
    from datetime import datetime

    from planner_tui.console.widgets.status import lag_words
    from planner_tui.timeutil import ReplayClock

    status = {"state": "live", "lag_seconds": 45.0}
    assert lag_words(status, None) == "event lag 45 s"
    assert lag_words(status, None, speed=60) == "event lag 0.75 s"
    replay = PlannerApp(Store.memory(), clock=ReplayClock(datetime(2026, 11, 23, 6), speed=60))
    assert replay.clock_speed == 60 and replay.clock_note == "replay x60"
    assert PlannerApp(Store.memory(), at=AT).clock_speed == 1.0


@pytest.mark.parametrize("size", [(80, 24), (120, 36)])
@pilot_test
async def test_an_old_snapshot_is_said_in_the_header_and_past_stale_after_in_a_banner(
    store: Store, size: tuple[int, int]
) -> None:
    """Issue 15 item 5 (its first half): the header always says how old the snapshot is; past the
    `stale_after` setting (24 h by default) a banner says the plant shown is that old; the time slider,
    looking at the past on purpose, is not warned about."""
    from planner_tui.console.widgets.status import FeedBanner, PlantHeader

    fresh = PlannerApp(store, at=AT)
    async with fresh.run_test(size=size) as pilot:
        await settle(pilot)
        assert "snapshot 3h old" in str(fresh.screen.query_one(PlantHeader).render())
        assert not fresh.screen.query_one(FeedBanner).has_class("-shown")
    old = PlannerApp(store, at="2026-12-07T06:00:00")
    async with old.run_test(size=size) as pilot:
        await settle(pilot)
        assert "snapshot 14d old" in str(old.screen.query_one(PlantHeader).render())
        banner = old.screen.query_one(FeedBanner)
        assert banner.has_class("-shown")
        assert "The snapshot is 14d old (extract 2026-11-23 06:00 UTC; stale_after is 1d)" in str(banner.render())


def test_stale_after_takes_a_duration(tmp_path: Path) -> None:
    from planner_tui import settings

    config = tmp_path / "config.toml"
    config.write_text('stale_after = "36h"\n')
    assert settings.load(config).stale_after == 36 * 3600
    assert settings.load(config, env={"PLANNER_TUI_STALE_AFTER": "90m"}).stale_after == 5400
    config.write_text('stale_after = "soon"\n')
    with pytest.raises(settings.SettingsError, match="key 'stale_after'.*got 'soon'"):
        settings.load(config)
