"""The command line: events pull/list/lag and feed serve, plus the sample scenario end to end."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import httpx
import pytest
from eventkit import ce, plant, write_jsonl
from typer.testing import CliRunner

from planner_tui.cli import app
from planner_tui.feeds.server import FeedServer
from planner_tui.store import Store

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "plant.db"
    plant(Store.open(path)).close()
    return path


def test_pull_a_file_prints_counts_and_resumes(db, tmp_path):
    feed = tmp_path / "events.jsonl"
    write_jsonl(
        feed,
        [
            ce("e1", "machine.down", {"machine_id": "M1"}, seq=1),
            ce("e2", "machine.down", {"machine_id": "NOPE"}, seq=2),
            ce("e3", "coffee.brewed", {}, seq=3),
        ],
    )
    result = invoke("events", "pull", feed, "--db", db)
    assert result.exit_code == 0, result.output
    assert "applied 1, duplicates 0, rejected 1, unknown 1" in result.output
    assert "rejected e2: unknown machine NOPE" in result.output
    result = invoke("events", "pull", feed, "--db", db, "--json")
    assert result.exit_code == 0
    payload = json.loads(result.output)
    assert payload["result"]["applied"] == 0 and payload["status"]["state"] == "live"
    assert payload["status"]["last_sequence"] == "3"


def test_pull_from_a_dead_feed_exits_non_zero_with_a_clear_message(db, tmp_path):
    script = tmp_path / "script.jsonl"
    write_jsonl(script, [ce("e1", "machine.down", {"machine_id": "M1"}, seq=1)])
    server = FeedServer(None, script, speed=1e9).start()
    url = server.feed_url
    assert invoke("events", "pull", url, "--db", db).exit_code == 0
    server.stop()
    result = invoke("events", "pull", url, "--db", db, "--timeout", "0.5", "--retries", "0")
    assert result.exit_code == 7
    assert "connection refused" in result.output and "Traceback" not in result.output
    with Store.open(db) as store:
        assert store.cursor().execute("SELECT count(*) FROM event_log").fetchall()[0][0] == 1


def test_pull_applies_everything_when_the_server_caps_its_pages_below_our_limit(db, tmp_path):
    script = tmp_path / "script.jsonl"
    write_jsonl(
        script, [ce(f"e{i}", "machine.down", {"machine_id": "M1", "reason": f"r{i}"}, seq=i) for i in range(1, 9)]
    )
    with FeedServer(None, script, speed=1e9, page_size=3, max_page_size=3) as server:
        result = invoke("events", "pull", server.feed_url, "--db", db, "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["result"]["applied"] == 8 and payload["status"]["last_sequence"] == "8"
    with Store.open(db) as store:
        assert store.cursor().execute("SELECT count(*) FROM event_log").fetchall()[0][0] == 8


def test_pull_goes_on_past_the_per_poll_cap(tmp_path):
    from planner_tui.cli.event_cmds import _pull_all
    from planner_tui.feeds.file import FileFeed

    feed_path = tmp_path / "events.jsonl"
    write_jsonl(feed_path, [ce(f"e{i}", "machine.down", {"machine_id": "M1"}, seq=i) for i in range(1, 8)])
    store = plant()
    outcome = _pull_all(FileFeed(store, feed_path, apply_batch=2, max_events_per_poll=2))
    assert outcome.applied == 7 and outcome.status.state == "live"


def test_pull_needs_an_existing_database(tmp_path):
    result = invoke("events", "pull", tmp_path / "x.jsonl", "--db", tmp_path / "missing.db")
    assert result.exit_code != 0 and "no database" in result.output


def test_pull_follow_keeps_polling_until_interrupted(db, tmp_path, monkeypatch):
    feed = tmp_path / "events.jsonl"
    write_jsonl(feed, [ce("e1", "machine.down", {"machine_id": "M1"}, seq=1)])
    naps = []

    def nap(seconds):
        naps.append(seconds)
        if len(naps) == 1:
            write_jsonl(feed, [ce("e2", "machine.up", {"machine_id": "M1"}, seq=2)], mode="a")
        else:
            raise KeyboardInterrupt

    monkeypatch.setattr("planner_tui.cli.event_cmds.time.sleep", nap)
    result = invoke("events", "pull", feed, "--db", db, "--follow", "--poll", "0.1")
    assert result.exit_code == 0, result.output
    assert result.output.count("applied 1") == 2


def test_events_list_and_lag(db, tmp_path):
    feed = tmp_path / "events.jsonl"
    write_jsonl(
        feed,
        [
            ce("e1", "machine.down", {"machine_id": "M1", "reason": "jam"}, seq=1),
            ce("e2", "hold.placed", {"hold_id": "H1", "lot_id": "L1"}, seq=2, time="2026-01-05T09:00:00Z"),
        ],
    )
    invoke("events", "pull", feed, "--db", db)
    result = invoke("events", "list", "--db", db, "--json", "--type", "machine.*")
    events = json.loads(result.output)
    assert [e["id"] for e in events] == ["e1"] and events[0]["summary"] == "M1 down: jam"
    result = invoke("events", "list", "--db", db, "--since", "2026-01-05T08:30:00")
    assert "hold H1 on lot L1" in result.output and "M1 down" not in result.output
    assert invoke("events", "list", "--db", db, "--since", "whenever").exit_code == 2
    stats = json.loads(invoke("events", "lag", "--db", db, "--json").output)
    assert stats["count"] == 2 and stats["max"] >= stats["p50"] > 0
    assert "2 applied event(s)" in invoke("events", "lag", "--db", db).output


def test_feed_serve_prints_urls_serves_and_stops_cleanly_on_ctrl_c(tmp_path, sample_dir):
    script = tmp_path / "script.jsonl"
    write_jsonl(script, [ce("e1", "machine.down", {"machine_id": "M1"}, seq=1)])
    env = dict(os.environ, PYTHONUNBUFFERED="1", COLUMNS="200")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "planner_tui",
            "feed",
            "serve",
            str(sample_dir),
            str(script),
            "--port",
            "0",
            "--speed",
            "100",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        first = process.stdout.readline()
        assert first.startswith("feed:"), first + process.stderr.read()
        url = first.split()[-1]
        assert url.startswith("http://127.0.0.1:") and url.endswith("/events")
        assert process.stdout.readline().split()[-1] == url.replace("/events", "/snapshot")
        assert [e["id"] for e in httpx.get(url, timeout=5).json()] == ["e1"]
    finally:
        process.send_signal(signal.SIGINT)
        try:
            out, err = process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
    assert process.returncode == 0, err
    assert "Traceback" not in err


# --- the sample scenario ---------------------------------------------------------------------------


@pytest.fixture
def sample_scenario(repo_root):
    return repo_root / "sample_data" / "scenario.jsonl"


def test_the_sample_scenario_applies_to_the_sample_plant_without_rejections(sample_dir, sample_scenario, tmp_path):
    db = tmp_path / "sample.db"
    assert invoke("load", sample_dir, "--db", db).exit_code == 0
    result = invoke("events", "pull", sample_scenario, "--db", db, "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)["result"]
    assert summary["rejected"] == 0, summary["rejections"]
    assert summary["unknown"] == 0 and summary["applied"] > 0


def test_the_sample_scenario_served_restamped_over_http_applies_without_rejections(
    sample_dir, sample_scenario, tmp_path
):
    from planner_tui.feeds.poller import open_feed
    from planner_tui.store.events import lag_stats
    from planner_tui.store.loader import load_snapshot

    with FeedServer(sample_dir, sample_scenario, speed=1e9, restamp=True) as server, Store.memory() as store:
        load_snapshot(store, server.snapshot_url)
        outcome = open_feed(store, server.feed_url, timeout=2, retries=0).poll_once()
        assert outcome.status.state == "live", outcome.status.last_error
        assert outcome.result.rejected == 0, outcome.result.rejections
        stats = lag_stats(store.cursor())
        assert stats["count"] == outcome.applied and stats["max"] < 60  # restamped: real, small lag
