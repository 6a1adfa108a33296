"""The console's exception screen shows who was told (issue 12): each delivery in the history, and a
"Told" group, one line a person, readable at 80x24. The outbox rows are written as the plant server's
notifier writes them (store/outbox.py)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from test_console_drilldown import AT, console, labels, open_screen, sample_store
from test_console_triage import HOLD, place_test_hold
from textual.widgets import Tree

from planner_tui.store import outbox


def test_the_exception_screen_shows_who_was_told_and_whether_it_got_there() -> None:
    store = sample_store()
    try:
        place_test_hold(store)
        placed = AT - timedelta(minutes=40)
        planned = [
            outbox.Planned(
                HOLD,
                "greta",
                "new",
                "hold placer: placed hold QH-TEST-1",
                "[CRITICAL] Hold QH-TEST-1",
                "body",
                "body",
                ("json://hooks.plant.example/greta", "mailto://greta:s3cret@mail.plant.example"),
                1,
            ),
            outbox.Planned(
                HOLD,
                "qa.lead",
                "new",
                "routing rule 1 (quality_hold)",
                "[CRITICAL] Hold QH-TEST-1",
                "body",
                "body",
                ("ntfy://ntfy.plant.example/qa",),
                1,
            ),
        ]
        outbox.record(store, planned, [], at=placed)
        outbox.mark_delivered(store, planned[0].key(0), at=placed + timedelta(seconds=3))
        outbox.mark_delivered(store, planned[0].key(1), at=placed + timedelta(seconds=4))
        outbox.mark_attempt_failed(
            store, planned[1].key(0), "HTTP 503 from ntfy", at=placed + timedelta(seconds=5), retry_at=None
        )

        async def run() -> None:
            app = console(store)
            async with app.run_test(size=(80, 24)) as pilot:
                screen = await open_screen(pilot, "exception", HOLD)
                assert type(screen).__name__ == "ExceptionScreen"
                tree = screen.query_one(Tree)
                text = labels(tree)
                # In the history, each delivery: when, to whom, delivered or not, why it was sent.
                history = [t for t in text if "TOLD" in t]
                assert len(history) == 3, text
                assert any("greta" in t and "delivered" in t and "new" in t for t in history)
                assert any("qa.lead" in t and "failed" in t and "HTTP 503" in t for t in history)
                assert not any("s3cret" in t for t in text)  # the channel without its password
                # The Told group: one line a person, the first 78 characters say who and how it went.
                told = next(n for n in tree.root.children if n.label.plain.startswith("Told"))
                people = [n.label.plain for n in told.children]
                assert len(people) == 2, people
                assert people[0].startswith("greta") and "2 of 2 delivered" in people[0][:78]
                assert people[1].startswith("qa.lead") and "1 failed" in people[1][:78]
                # A person's channels under them, each with its state.
                channels = [n.label.plain for n in told.children[1].children]
                assert len(channels) == 1 and "FAILED" in channels[0] and "ntfy://" in channels[0]

        asyncio.run(run())
    finally:
        store.close()
