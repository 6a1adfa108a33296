"""SIGKILL of `planner-tui events pull --follow` at random moments while a producer feeds it a few thousand
events (a JSON Lines file being appended to, or an HTTP feed releasing them over time), then a pull
without --follow.

After every kill the history must be a prefix of the feed, each event logged once, and the plant equal
to a model of exactly those events computed in Python; after the last pull, every event of the feed is
applied exactly once.
"""

from __future__ import annotations

import random
import threading
import time

import pytest
from eventkit import write_jsonl

from faults.kit import (
    SEEDS,
    check_prefix_applied,
    distinct,
    make_stream,
    run_cli,
    sigkill,
    spawn_cli,
    write_stream_slowly,
)
from planner_tui.feeds.server import FeedServer
from planner_tui.store import Store

EVENTS = 2000  # distinct events per run, plus re-sends
FEED_SECONDS = 4.0  # how long the producer takes to send them all
MIN_KILLS = 4


def _kill_repeatedly(tmp_path, db, source: str, rng: random.Random, stream, producing) -> list[int]:
    """Start `events pull SOURCE --follow`, SIGKILL it after a random delay, check the store, again,
    until the producer is done and at least MIN_KILLS kills happened. Returns the prefix after each."""
    prefixes = []
    while producing() or len(prefixes) < MIN_KILLS:
        proc = spawn_cli("events", "pull", source, "--db", db, "--follow", "--poll", "0.05", log=tmp_path / "pull.log")
        time.sleep(rng.uniform(0.4, 1.5))
        sigkill(proc)
        with Store.open(db) as store:
            prefixes.append(check_prefix_applied(store, stream, complete=False))
        assert "Traceback" not in (tmp_path / "pull.log").read_text(errors="replace")
    return prefixes


def _finish_and_check(db, source: str, stream) -> None:
    result = run_cli("events", "pull", source, "--db", db)
    assert result.returncode == 0, result.stdout + result.stderr
    with Store.open(db) as store:
        applied = check_prefix_applied(store, stream, complete=True)
        cur = store.cursor()
        assert (
            applied
            == len(distinct(stream))
            == cur.execute("SELECT count(*) FROM event_log WHERE outcome = 'applied'").fetchall()[0][0]
        )
        assert cur.execute("SELECT count(*) FROM event_log").fetchall()[0][0] == applied
    assert len(stream) > applied  # the feed did re-send events: "exactly once" was put to the test


@pytest.mark.parametrize("seed", SEEDS[:2])
def test_pull_follow_of_a_growing_file_killed_at_random_applies_every_event_once(tmp_path, seed, event_plant_db):
    rng = random.Random(seed)
    stream = make_stream(EVENTS, rng)
    feed = tmp_path / "events.jsonl"
    feed.touch()
    stop = threading.Event()
    producer = write_stream_slowly(feed, stream, rng, seconds=FEED_SECONDS, stop=stop)
    try:
        prefixes = _kill_repeatedly(tmp_path, event_plant_db, str(feed), rng, stream, producer.is_alive)
    finally:
        stop.set()
        producer.join(10)
    assert feed.read_bytes().count(b"\n") == len(stream)
    _finish_and_check(event_plant_db, str(feed), stream)
    assert prefixes == sorted(prefixes)  # nothing applied was ever lost


@pytest.mark.parametrize("seed", SEEDS[:2])
def test_pull_follow_of_an_http_feed_killed_at_random_applies_every_event_once(tmp_path, seed, event_plant_db):
    rng = random.Random(seed)
    stream = make_stream(EVENTS, rng)
    script = tmp_path / "script.jsonl"
    write_jsonl(script, stream)
    # One event a second of scripted time, released FEED_SECONDS after the server starts.
    server = FeedServer(None, script, speed=len(stream) / FEED_SECONDS).start()
    try:
        prefixes = _kill_repeatedly(
            tmp_path, event_plant_db, server.feed_url, rng, stream, lambda: server.released_count() < len(stream)
        )
        _finish_and_check(event_plant_db, server.feed_url, stream)
    finally:
        server.stop()
    assert prefixes == sorted(prefixes)
