"""The JSON Lines file feed: reads what is new since the stored position, survives restarts."""

from __future__ import annotations

import json

from eventkit import ce, one, plant, write_jsonl

from planner_tui.feeds.file import FileFeed
from planner_tui.feeds.poller import open_feed
from planner_tui.store import Store


def test_file_feed_applies_then_resumes_after_a_restart_without_repeating(tmp_path):
    db, feed_file = tmp_path / "plant.db", tmp_path / "events.jsonl"
    store = plant(Store.open(db))
    write_jsonl(
        feed_file,
        [
            ce(f"e{i}", "inventory.adjusted", {"item_id": "FG1", "location": "WH", "qty_delta": 1}, seq=i)
            for i in range(1, 4)
        ],
    )
    outcome = open_feed(store, str(feed_file)).poll_once()
    assert outcome.applied == 3 and outcome.status.state == "live" and outcome.status.last_sequence == "3"
    store.close()

    write_jsonl(
        feed_file,
        [
            ce(f"e{i}", "inventory.adjusted", {"item_id": "FG1", "location": "WH", "qty_delta": 1}, seq=i)
            for i in range(4, 6)
        ],
        mode="a",
    )
    store = Store.open(db)
    feed = open_feed(store, str(feed_file))
    assert isinstance(feed, FileFeed) and feed.status.last_sequence == "3"
    outcome = feed.poll_once()
    assert (outcome.applied, outcome.result.duplicates) == (2, 0)
    assert one(store, "SELECT qty FROM inventory WHERE item_id='FG1' AND location='WH'") == 10.0
    assert one(store, "SELECT count(*) FROM event_log") == 5
    assert feed.poll_once().applied == 0
    store.close()


def test_invalid_json_lines_are_rejected_and_the_feed_goes_on(tmp_path):
    store, feed_file = plant(), tmp_path / "events.jsonl"
    write_jsonl(
        feed_file,
        [
            ce("e1", "machine.down", {"machine_id": "M1"}, seq=1),
            "{not json",
            ce("e2", "machine.up", {"machine_id": "M1"}, seq=2),
        ],
    )
    outcome = open_feed(store, str(feed_file)).poll_once()
    assert (outcome.applied, outcome.result.rejected) == (2, 1)
    outcome_, reason, event_id = one(store, "SELECT outcome, reason, event_id FROM event_log WHERE outcome='rejected'")
    assert "not valid JSON" in reason and event_id.startswith("line@")
    assert outcome.status.state == "live"


def test_a_line_still_being_written_waits_for_the_next_poll(tmp_path):
    store, feed_file = plant(), tmp_path / "events.jsonl"
    whole = ce("e1", "machine.down", {"machine_id": "M1"}, seq=1)
    text = json.dumps(whole)
    feed_file.write_text(text[:20])  # half a line, no newline
    feed = open_feed(store, str(feed_file))
    assert feed.poll_once().applied == 0
    assert one(store, "SELECT count(*) FROM event_log") == 0
    feed_file.write_text(text)  # complete, still without a newline: valid JSON, so it is taken
    assert feed.poll_once().applied == 1
    with feed_file.open("a") as handle:
        handle.write("\n")
    write_jsonl(feed_file, [ce("e2", "machine.up", {"machine_id": "M1"}, seq=2)], mode="a")
    outcome = feed.poll_once()
    assert (outcome.applied, outcome.result.duplicates, outcome.result.rejected) == (1, 0, 0)


def test_small_apply_batches_keep_position_and_sequence_together(tmp_path):
    store, feed_file = plant(), tmp_path / "events.jsonl"
    write_jsonl(feed_file, [ce(f"e{i}", "machine.up", {"machine_id": "M1"}, seq=i) for i in range(1, 8)])
    outcome = FileFeed(store, feed_file, apply_batch=2).poll_once()
    assert outcome.applied == 7 and outcome.status.last_sequence == "7"
    position = one(store, "SELECT position FROM feed_cursors")
    assert position == feed_file.stat().st_size


def test_a_missing_file_makes_the_feed_stale_without_raising(tmp_path):
    store = plant()
    outcome = open_feed(store, str(tmp_path / "nowhere.jsonl")).poll_once()
    assert outcome.status.state == "stale" and "no such file" in outcome.status.last_error
    assert not outcome.ok
    assert outcome.status.describe().startswith("stale since ")


def test_a_shrunk_file_is_read_again_from_its_start(tmp_path):
    # Emptied in place (copytruncate), then written again: the new lines are read, the old position
    # forgotten (it used to leave the feed stale for good).
    store = plant()
    feed_file = tmp_path / "events.jsonl"
    write_jsonl(feed_file, [ce("e1", "machine.up", {"machine_id": "M1"}, seq=1)])
    feed = open_feed(store, str(feed_file))
    assert feed.poll_once().applied == 1
    feed_file.write_text("")
    outcome = feed.poll_once()
    assert outcome.status.state == "live" and outcome.result.received == 0
    assert one(store, "SELECT position FROM feed_cursors") == 0
    write_jsonl(feed_file, [ce("e2", "machine.down", {"machine_id": "M1"}, seq=2)])
    assert feed.poll_once().applied == 1


def test_received_at_is_when_the_lines_were_read_not_when_they_were_applied(tmp_path):
    from datetime import datetime, timedelta
    from itertools import count

    store, feed_file = plant(), tmp_path / "events.jsonl"
    write_jsonl(feed_file, [ce("e1", "machine.down", {"machine_id": "M1"}, seq=1)])
    read_at = datetime(2026, 1, 5, 8, 0, 1)
    ticks = count()
    clock = lambda: read_at + timedelta(seconds=next(ticks))  # noqa: E731 - each reading a second later
    assert open_feed(store, str(feed_file), clock=clock).poll_once().applied == 1
    received, applied = one(store, "SELECT received_at, applied_at FROM event_log WHERE event_id='e1'")
    assert received == read_at and applied > read_at


def test_a_feed_on_a_replay_clock_stamps_arrival_and_lag_in_that_clock(tmp_path):
    """The demo replays a scripted morning: lags must be measured in the replay's time, not the wall's."""
    from datetime import datetime

    store, feed_file = plant(), tmp_path / "events.jsonl"
    event = ce("e1", "machine.down", {"machine_id": "M1"}, seq=1)
    event["time"] = "2026-11-23T06:12:00Z"
    write_jsonl(feed_file, [event])
    replay_now = datetime(2026, 11, 23, 6, 12, 30)
    outcome = open_feed(store, str(feed_file), clock=lambda: replay_now).poll_once()
    assert outcome.applied == 1 and outcome.status.lag_seconds == 30.0
    assert one(store, "SELECT applied_at FROM event_log") == replay_now
    assert one(store, "SELECT received_at FROM event_log") == replay_now


def test_a_file_saved_with_a_bom_keeps_its_first_event_and_its_offsets(tmp_path):
    feed_path = tmp_path / "events.jsonl"
    first = json.dumps(ce("e1", "machine.down", {"machine_id": "M1"}, seq=1))
    feed_path.write_text(first + "\r\n", encoding="utf-8-sig")  # what Notepad / PowerShell write
    store = plant()
    feed = FileFeed(store, feed_path)
    result = feed.poll_once().result
    assert (result.applied, result.rejected) == (1, 0)
    with feed_path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(ce("e2", "machine.up", {"machine_id": "M1"}, seq=2)) + "\n")
    result = feed.poll_once().result
    assert (result.applied, result.rejected, result.duplicates) == (1, 0, 0)
    assert one(store, "SELECT state FROM machine_states WHERE machine_id = 'M1'") == "running"


def test_a_new_event_below_the_cursor_in_a_file_is_applied_and_a_repeated_one_is_not(tmp_path):
    # Two producers in one file, each numbering its own events: the file is read by offset, so
    # only source+id say whether an event was seen.
    feed_path = tmp_path / "events.jsonl"
    write_jsonl(feed_path, [ce("e1", "machine.down", {"machine_id": "M1"}, seq=5, source="urn:mes")])
    store = plant()
    feed = FileFeed(store, feed_path)
    assert feed.poll_once().result.applied == 1
    write_jsonl(
        feed_path,
        [
            ce("e1", "machine.down", {"machine_id": "M2"}, seq=1, source="urn:erp"),
            ce("e1", "machine.down", {"machine_id": "M2"}, seq=5, source="urn:mes"),
        ],
        mode="a",
    )
    result = feed.poll_once().result
    assert (result.applied, result.duplicates, result.last_sequence) == (1, 1, "5")
    assert one(store, "SELECT state FROM machine_states WHERE machine_id = 'M2'") == "down"
