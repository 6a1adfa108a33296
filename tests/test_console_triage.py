"""Keyboard triage on the exception detail screen: each action persisted with who and when, the assign,
note and snooze dialogs, the history with the events that raised it, and a cleared cause said in words."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest
from test_console_drilldown import (
    AT,
    USER,
    console,
    event,
    labels,
    open_screen,
    sample_store,
)
from textual.widgets import Input, OptionList, Static, Tree

from planner_tui.console.screenshots import wait_loaded
from planner_tui.store import Store

HOLD = "quality_hold:QH-TEST-1"
PLACER = "Greta Quist (QA)"


def place_test_hold(store: Store, n: int = 101) -> str:
    """Put the tests' own hold on a released lot of the sample (the placer becomes an owner)."""
    from planner_tui.store.events import apply_events

    lot = store.con.execute("SELECT min(lot_id) FROM lots WHERE status = 'released'").fetchone()[0]
    apply_events(
        store,
        [
            event(
                n,
                "hold.placed",
                "2026-11-23T05:10:00Z",
                hold_id="QH-TEST-1",
                lot_id=lot,
                reason="Burr on vane edges",
                placed_by=PLACER,
            )
        ],
        feed="test-feed",
    )
    return lot


@pytest.fixture
def store() -> Store:
    s = sample_store()
    place_test_hold(s)
    yield s
    s.close()


def actions(store: Store, exception_id: str) -> list[tuple]:
    return store.con.execute(
        "SELECT action, who, acted_at, detail FROM exception_actions WHERE exception_id = ? ORDER BY acted_at, rowid",
        [exception_id],
    ).fetchall()


def triage_row(store: Store, exception_id: str) -> tuple | None:
    return store.con.execute(
        "SELECT status, assignee, snoozed_until, updated_by, updated_at FROM exception_triage WHERE exception_id = ?",
        [exception_id],
    ).fetchone()


async def settle(pilot) -> None:
    await wait_loaded(pilot)
    await wait_loaded(pilot)


def test_acknowledge_assign_note_resolve_reopen_are_persisted_with_who_and_when(store: Store) -> None:
    async def run() -> None:
        app = console(store)
        async with app.run_test(size=(100, 30)) as pilot:
            screen = await open_screen(pilot, "exception", HOLD)
            assert type(screen).__name__ == "ExceptionScreen"

            await pilot.press("a")
            await settle(pilot)
            assert triage_row(store, HOLD)[:1] == ("acknowledged",)
            assert actions(store, HOLD)[-1][:3] == ("acknowledge", USER, AT)

            # assign: the dialog lists the plant's owners, typing filters, Enter picks
            await pilot.press("s")
            await settle(pilot)
            dialog = app.screen
            assert type(dialog).__name__ == "AssignDialog"
            everyone = dialog.query_one(OptionList).option_count
            await pilot.press(*"greta")
            await pilot.pause()
            assert 0 < dialog.query_one(OptionList).option_count < everyone
            await pilot.press("enter")
            await settle(pilot)
            assert app.screen is screen
            assert triage_row(store, HOLD)[1] == PLACER
            assert actions(store, HOLD)[-1][:4] == ("assign", USER, AT, PLACER)

            # note
            await pilot.press("n")
            await settle(pilot)
            assert type(app.screen).__name__ == "NoteDialog"
            await pilot.press("enter")  # empty: refused in the dialog, nothing written
            await pilot.pause()
            assert type(app.screen).__name__ == "NoteDialog"
            await pilot.press(*"supplier 8D due friday")
            await pilot.press("enter")
            await settle(pilot)
            assert actions(store, HOLD)[-1][:4] == ("note", USER, AT, "supplier 8D due friday")

            # the history on screen shows all of it, with who
            text = labels(screen.query_one(Tree))
            assert any("ACKNOWLEDGE" in t and USER in t for t in text)
            assert any("ASSIGN" in t and f"to {PLACER}" in t for t in text)
            assert any("NOTE" in t and "supplier 8D due friday" in t for t in text)
            summary = str(screen.query_one("#drill-summary", Static).render())
            assert "ACKNOWLEDGED" in summary and f"assigned {PLACER}" in summary

            # resolve asks first (issue 15): an optional reason, kept in the history; Escape leaves it open
            await pilot.press("x")
            await settle(pilot)
            assert type(app.screen).__name__ == "ResolveDialog"
            await pilot.press("escape")
            await settle(pilot)
            assert triage_row(store, HOLD)[0] != "resolved"
            await pilot.press("x")
            await settle(pilot)
            await pilot.press(*"8D closed", "enter")
            await settle(pilot)
            assert triage_row(store, HOLD)[0] == "resolved"
            assert actions(store, HOLD)[-1][:4] == ("resolve", USER, AT, "8D closed")
            assert "RESOLVED" in str(screen.query_one("#drill-summary", Static).render())
            await pilot.press("x", "enter")  # already resolved: refused with a message, no new row
            await settle(pilot)
            assert [a[0] for a in actions(store, HOLD)].count("resolve") == 1
            assert any("already resolved" in n.message for n in app._notifications)

            await pilot.press("o")
            await settle(pilot)
            assert triage_row(store, HOLD)[0] == "open"
            assert actions(store, HOLD)[-1][:3] == ("reopen", USER, AT)

    asyncio.run(run())


def test_snooze_presets_and_typed_time_validated(store: Store) -> None:
    async def run() -> None:
        app = console(store)
        async with app.run_test(size=(100, 30)) as pilot:
            await open_screen(pilot, "exception", HOLD)
            await pilot.press("z")
            await settle(pilot)
            assert type(app.screen).__name__ == "SnoozeDialog"
            await pilot.press("down", "enter")  # the second preset: +4h
            await settle(pilot)
            assert triage_row(store, HOLD)[:3] == ("snoozed", None, AT + timedelta(hours=4))
            assert actions(store, HOLD)[-1][:3] == ("snooze", USER, AT)

            # a typed time: in the past is refused in the dialog, a good one is taken
            await pilot.press("z")
            await settle(pilot)
            dialog = app.screen
            await pilot.press("tab")
            assert isinstance(dialog.focused, Input)
            await pilot.press(*"2026-11-22T08:00", "enter")
            await pilot.pause()
            assert app.screen is dialog
            assert "not after now" in str(dialog.query_one("#snooze-error", Static).render())
            await pilot.press(*("backspace",) * 20)
            await pilot.press(*"not a time", "enter")
            await pilot.pause()
            assert "malformed" in str(dialog.query_one("#snooze-error", Static).render())
            await pilot.press(*("backspace",) * 20)
            await pilot.press(*"2026-11-24T06:30", "enter")
            await settle(pilot)
            assert triage_row(store, HOLD)[2] == datetime(2026, 11, 24, 6, 30)

            # tomorrow 06:00 by its key
            await pilot.press("z")
            await settle(pilot)
            await pilot.press("t")
            await settle(pilot)
            assert triage_row(store, HOLD)[2] == datetime(2026, 11, 24, 6, 0)

            # Escape cancels: nothing written
            before = len(actions(store, HOLD))
            await pilot.press("z")
            await settle(pilot)
            await pilot.press("escape")
            await settle(pilot)
            assert len(actions(store, HOLD)) == before

    asyncio.run(run())


def test_history_shows_the_event_that_raised_it_and_a_cleared_cause_says_so() -> None:
    store = sample_store()
    place_test_hold(store)
    exception_id = HOLD

    async def run() -> None:
        app = console(store)
        async with app.run_test(size=(100, 30)) as pilot:
            screen = await open_screen(pilot, "exception", exception_id)
            text = labels(screen.query_one(Tree))
            assert any("event" in t and "hold.placed" in t for t in text), text
            assert not screen.query_one("#exception-cleared").has_class("cleared")
            await pilot.press("a")
            await settle(pilot)

            # the hold is released by the feed while the planner is on it
            from planner_tui.store.events import apply_events

            apply_events(
                store, [event(102, "hold.released", "2026-11-23T05:50:00Z", hold_id="QH-TEST-1")], feed="test-feed"
            )
            screen.post_message(_data_changed())
            await settle(pilot)
            banner = str(screen.query_one("#exception-cleared", Static).render())
            assert screen.query_one("#exception-cleared").has_class("cleared")
            assert "CAUSE CLEARED" in banner and "hold released" in banner
            text = labels(screen.query_one(Tree))
            assert any("hold.released" in t for t in text)
            assert any("ACKNOWLEDGE" in t for t in text), "the triage so far is still there"

    asyncio.run(run())
    store.close()


def _data_changed():
    from planner_tui.console.messages import DataChanged

    return DataChanged(1, 1)


def test_unknown_exception_is_a_notification(store: Store) -> None:
    async def run() -> None:
        app = console(store)
        async with app.run_test(size=(80, 24)) as pilot:
            await open_screen(pilot, "exception", "machine_down:M-NOPE")
            await pilot.pause()
            assert len(app.screen_stack) == 1
            assert any("M-NOPE" in n.message for n in app._notifications)

    asyncio.run(run())


def test_machine_back_up_is_said_with_its_time_not_dropped() -> None:
    from test_console_drilldown import WELD_DOWN

    store = sample_store([WELD_DOWN])
    exception_id = "machine_down:M-WELD-01"

    async def run() -> None:
        app = console(store)
        async with app.run_test(size=(100, 30)) as pilot:
            screen = await open_screen(pilot, "exception", exception_id)
            await pilot.press("a")
            await settle(pilot)
            from planner_tui.store.events import apply_events

            apply_events(
                store, [event(2, "machine.up", "2026-11-23T05:52:00Z", machine_id="M-WELD-01")], feed="test-feed"
            )
            screen.post_message(_data_changed())
            await settle(pilot)
            banner = str(screen.query_one("#exception-cleared", Static).render())
            assert "CAUSE CLEARED" in banner and "machine back up" in banner and "05:52" in banner
            assert "Resolve it (x)" in banner, "the hint names the key bound to resolve (r refreshes)"
            assert screen.data["status"] == "acknowledged", "the triage state is kept"

    asyncio.run(run())
    store.close()


def test_triage_keys_have_ids_and_descriptions() -> None:
    from planner_tui.console.dialogs import TRIAGE_BINDINGS
    from planner_tui.console.screens.exception import ExceptionScreen

    keys = {b.key for b in TRIAGE_BINDINGS}
    assert keys == {"a", "s", "n", "z", "x", "o"}
    for binding in TRIAGE_BINDINGS:
        assert binding.id and binding.description
    screen_keys = {
        b.key
        for b in ExceptionScreen._merged_bindings.key_to_bindings
        for b in ExceptionScreen._merged_bindings.key_to_bindings[b]
    }
    assert keys | {"escape", "f5"} <= screen_keys


def test_triage_from_the_impact_and_trace_screens() -> None:
    from test_console_drilldown import WELD_DOWN

    store = sample_store([WELD_DOWN])
    place_test_hold(store)

    async def run() -> None:
        app = console(store)
        async with app.run_test(size=(100, 30)) as pilot:
            await open_screen(pilot, "machine", "M-WELD-01")
            await pilot.press("a")
            await settle(pilot)
            assert triage_row(store, "machine_down:M-WELD-01")[0] == "acknowledged"
            await open_screen(pilot, "hold", "QH-TEST-1")
            await pilot.press("s")
            await settle(pilot)
            await pilot.press(*"greta", "enter")
            await settle(pilot)
            assert triage_row(store, HOLD)[1] == PLACER
            assert actions(store, HOLD)[-1][:2] == ("assign", USER)
            # a running machine has no stop to acknowledge: said, not crashed
            running = store.con.execute(
                """SELECT min(machine_id) FROM machines WHERE machine_id NOT IN
                   (SELECT machine_id FROM machine_states WHERE state IN ('down', 'maintenance'))"""
            ).fetchone()[0]
            await open_screen(pilot, "machine", running)
            await pilot.press("a")
            await settle(pilot)
            assert triage_row(store, f"machine_down:{running}") is None
            assert app.screen.ident == running
            assert any(f"{running} is not stopped" in n.message for n in app._notifications)

    asyncio.run(run())
    store.close()


def test_the_exception_shows_who_is_hit_before_triage() -> None:
    from test_console_drilldown import WELD_DOWN

    store = sample_store([WELD_DOWN])

    async def run() -> None:
        app = console(store)
        async with app.run_test(size=(100, 30)) as pilot:
            screen = await open_screen(pilot, "exception", "machine_down:M-WELD-01")
            text = labels(screen.query_one(Tree))
            hit = [t for t in text if "LATE" in t]
            assert hit, "late customer lines are listed on the exception itself"
            assert any(t.startswith("Tell these people") for t in text)

    asyncio.run(run())
    store.close()


def test_the_assign_dialog_offers_the_exceptions_owner_first(store: Store) -> None:
    """The default owner (here the hold's placer) is the likeliest pick: first in the list, marked."""

    async def run() -> None:
        app = console(store)
        async with app.run_test(size=(100, 30)) as pilot:
            await open_screen(pilot, "exception", HOLD)
            await pilot.press("s")
            await settle(pilot)
            dialog = app.screen
            assert type(dialog).__name__ == "AssignDialog"
            first = str(dialog.query_one(OptionList).get_option_at_index(0).prompt)
            assert first.startswith(PLACER) and "(owner)" in first
            await pilot.press("enter")  # Enter on the first row assigns the owner
            await settle(pilot)
            assert triage_row(store, HOLD)[1] == PLACER

    asyncio.run(run())


def test_the_inbox_says_which_kinds_it_could_not_check() -> None:
    """A feeding loop (events brought it) stops late_order from being checked: the inbox lists the rest,
    its title says a check failed, and a warning says which and why, once."""
    from test_exceptions import AT as INBOX_AT
    from test_exceptions import looped_plant

    from planner_tui.console.screenshots import settle as settle_all

    store = looped_plant()

    async def run() -> None:
        app = console(store, at=INBOX_AT)
        async with app.run_test(size=(120, 36), notifications=True) as pilot:
            await settle_all(pilot)
            inbox = app.screen.query_one("#table-inbox")
            assert "machine_down:M1" in [r.key for r in inbox.all_rows]
            assert "! 1 check failed" in str(app.screen.query_one("#panel-inbox").border_title)
            warned = [n for n in app._notifications if "late_order: could not check" in n.message]
            assert len(warned) == 1 and warned[0].severity == "warning" and "P1 -> P9 -> P1" in warned[0].message
            await pilot.press("r")  # the same problem on the next refresh is not said again
            await settle_all(pilot)
            assert len([n for n in app._notifications if "late_order" in n.message]) == 1
            assert "! 1 check failed" in str(app.screen.query_one("#panel-inbox").border_title)

    asyncio.run(run())
    store.close()


def test_the_impact_and_trace_screens_ask_the_plant_which_kind_to_triage() -> None:
    """No kind name in the console: the screens triage the kind the plant raises about their record."""
    from test_console_drilldown import WELD_DOWN

    store = sample_store([WELD_DOWN])

    async def run() -> None:
        app = console(store)
        async with app.run_test(size=(120, 36)) as pilot:
            screen = await open_screen(pilot, "machine", "M-WELD-01")
            assert screen.triage_target() == "machine_down:M-WELD-01"

    asyncio.run(run())
    store.close()
