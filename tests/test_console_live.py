"""The console follows a real feed server on loopback: an event served is on screen within two polls,
and the feed state reaches the header."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from planner_tui.console.app import DEFAULT_POLL_SECONDS, PlannerApp
from planner_tui.console.messages import DataChanged
from planner_tui.console.screenshots import scenario_store
from planner_tui.feeds.server import FeedServer

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_data"


def test_console_shows_an_event_from_a_real_feed_server_within_two_polls(tmp_path) -> None:
    events = tmp_path / "events.jsonl"
    events.write_text(
        json.dumps(
            {
                "specversion": "1.0",
                "id": "live-1",
                "source": "urn:test:mes",
                "type": "machine.down",
                "time": "2026-11-23T06:05:00Z",
                "sequence": 1,
                "data": {"machine_id": "M-CNC-01", "reason": "Spindle alarm", "expected_minutes": 90},
            }
        )
        + "\n"
    )
    server = FeedServer(SAMPLE / "plant", events, speed=1000.0).start()
    store = scenario_store(SAMPLE, events=False)
    assert (
        store.con.execute(
            "SELECT count(*) FROM machine_states WHERE machine_id = 'M-CNC-01' AND state = 'down'"
        ).fetchone()[0]
        == 0
    )
    seen_after_polls = None
    changes: list[DataChanged] = []

    async def run() -> None:
        nonlocal seen_after_polls
        # The console's default poll (2 s): at 1 s, the first panel load and the reload the event asks
        # for could outlast two polls on a busy 2-core CI machine (a third poll was seen twice).
        app = PlannerApp(store, at="2026-11-23T06:10:00", events=server.feed_url, poll_seconds=DEFAULT_POLL_SECONDS)
        async with app.run_test(
            size=(120, 36), message_hook=lambda m: changes.append(m) if isinstance(m, DataChanged) else None
        ) as pilot:
            machines = app.screen.query_one("#table-machines")
            for _ in range(600):
                await pilot.pause(0.02)
                if machines.row_count and machines.get_row("M-CNC-01")[1].plain == "DOWN":
                    seen_after_polls = app.polls
                    break
            await pilot.pause()
            assert "Spindle alarm" in str(machines.get_row("M-CNC-01")[3])
            states = [machines.get_row(r.key)[1].plain for r in machines.ordered_rows]
            assert states.index("DOWN") <= machines.get_row_index("M-CNC-01") < states.index("running")
            assert "feed live" in str(app.screen.query_one("#header").render())

    try:
        asyncio.run(run())
    finally:
        server.stop()
        store.close()
    assert seen_after_polls is not None and seen_after_polls <= 2
    assert changes and changes[0].applied == 1
