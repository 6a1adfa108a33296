"""The scenario feed server: release timing (with an injected clock), restamping, the events contract,
the snapshot files, and loading a snapshot through it."""

from __future__ import annotations

import json
from datetime import datetime

import httpx
import pytest
from eventkit import ce, write_jsonl

from planner_tui.errors import BadRequest
from planner_tui.feeds.server import FeedServer, release_offsets
from planner_tui.store.events import BATCH_CONTENT_TYPE


class FakeClock:
    def __init__(self):
        self.value = 0.0

    def __call__(self):
        return self.value


@pytest.fixture
def scripted(tmp_path):
    path = tmp_path / "script.jsonl"
    write_jsonl(
        path,
        [
            ce("a", "machine.down", {"machine_id": "M1"}, time="2026-01-05T08:00:00Z"),
            ce("b", "machine.up", {"machine_id": "M1"}, time="2026-01-05T08:01:00Z"),
            ce("c", "machine.down", {"machine_id": "M2"}, time="2026-01-05T08:03:00Z"),
        ],
    )
    return path


@pytest.fixture
def running():
    servers = []

    def start(*args, **kw):
        server = FeedServer(*args, **kw).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def sequences(url, **params):
    return [e["sequence"] for e in httpx.get(url, params=params).json()]


def test_events_are_released_as_their_time_offsets_say_divided_by_speed(running, scripted):
    clock = FakeClock()
    server = running(None, scripted, speed=60, clock=clock)  # a minute of script per second
    assert sequences(server.feed_url) == [1]  # the first at once, numbered in script order
    clock.value = 0.99
    assert sequences(server.feed_url) == [1]
    clock.value = 1.0
    assert sequences(server.feed_url) == [1, 2]
    clock.value = 2.9
    assert sequences(server.feed_url, after=1) == [2]
    clock.value = 3.0
    assert sequences(server.feed_url, after=1) == [2, 3]
    assert httpx.get(server.url + "/healthz").json() == {"status": "ok", "events": 3, "released": 3}


def test_release_schedule_is_a_prefix_of_the_script():
    events = [
        {"time": "2026-01-05T08:10:00Z"},
        {"time": "2026-01-05T08:00:00Z"},
        {"time": "bad"},
        {"time": "2026-01-05T08:20:00Z"},
    ]
    assert release_offsets(events, speed=600) == [0.0, 0.0, 0.0, 1.0]


def test_restamp_serves_release_times_and_keeps_the_scripted_time(running, scripted):
    clock = FakeClock()
    start = datetime(2026, 11, 25, 9, 0, 0)
    server = running(None, scripted, speed=30, restamp=True, clock=clock, utc_clock=lambda: start)
    clock.value = 10
    served = httpx.get(server.feed_url).json()
    assert [e["time"] for e in served] == [
        "2026-11-25T09:00:00.000Z",
        "2026-11-25T09:00:02.000Z",
        "2026-11-25T09:00:06.000Z",
    ]
    assert [e["scriptedtime"] for e in served] == [
        "2026-01-05T08:00:00Z",
        "2026-01-05T08:01:00Z",
        "2026-01-05T08:03:00Z",
    ]


def test_events_endpoint_contract(running, scripted):
    server = running(None, scripted, speed=1e9, page_size=2)
    assert server.url.startswith("http://127.0.0.1:")  # loopback unless told otherwise
    response = httpx.get(server.feed_url)
    assert response.status_code == 200
    assert response.headers["content-type"] == BATCH_CONTENT_TYPE
    assert [e["id"] for e in response.json()] == ["a", "b"]  # page_size without a limit
    assert sequences(server.feed_url, after=0, limit=1) == [1]
    assert sequences(server.feed_url, after=3) == []
    assert httpx.get(server.feed_url, params={"after": "x"}).status_code == 400
    # The ETag: the same answer gives 304, a different one 200.
    etag = response.headers["etag"]
    assert httpx.get(server.feed_url, headers={"If-None-Match": etag}).status_code == 304
    assert httpx.get(server.feed_url, params={"after": 1}, headers={"If-None-Match": etag}).status_code == 200
    assert httpx.get(server.url + "/nowhere").status_code == 404


def test_given_sequences_are_kept_and_missing_ones_continue_from_them(running, tmp_path):
    path = tmp_path / "script.jsonl"
    write_jsonl(
        path,
        [ce("a", "x.y", {}, seq=10), ce("b", "x.y", {}), ce("c", "x.y", {}, seq="20"), ce("d", "x.y", {}, seq="oops")],
    )
    server = running(None, path, speed=1e9)
    assert [e["sequence"] for e in httpx.get(server.feed_url).json()] == [10, 11, "20", 21]


def test_a_script_saved_with_a_bom_serves_its_first_event(running, tmp_path):
    path = tmp_path / "script.jsonl"
    path.write_text(
        "\n".join(json.dumps(ce(i, "x.y", {}, seq=n)) for n, i in enumerate("ab", 1)) + "\n", encoding="utf-8-sig"
    )
    server = running(None, path, speed=1e9)
    assert [e["id"] for e in httpx.get(server.feed_url).json()] == ["a", "b"]


def test_a_script_with_a_line_that_is_not_json_is_refused(tmp_path):
    path = tmp_path / "script.jsonl"
    path.write_text('{"id": "a"}\n{oops\n')
    with pytest.raises(BadRequest, match="line 2"):
        FeedServer(None, path)
    with pytest.raises(BadRequest, match="speed"):
        FeedServer(None, tmp_path / "script.jsonl", speed=0)


def test_snapshot_files_are_served_by_name_and_nothing_else(running, scripted, tmp_path):
    snapshot = tmp_path / "snap"
    snapshot.mkdir()
    (snapshot / "machines.csv").write_text("machine_id\nM1\n")
    (tmp_path / "secret.txt").write_text("no")
    server = running(snapshot, scripted)
    response = httpx.get(server.snapshot_url + "/machines.csv")
    assert response.status_code == 200 and response.text == "machine_id\nM1\n"
    assert response.headers["content-type"].startswith("text/csv")
    assert httpx.get(server.snapshot_url + "/items.parquet").status_code == 404
    assert httpx.get(server.snapshot_url + "/..%2Fsecret.txt").status_code == 404
    assert httpx.get(server.snapshot_url).json() == {"files": ["machines.csv"]}


def test_the_sample_snapshot_loads_through_the_server(running, sample_dir, scripted):
    from planner_tui.store import Store, loader

    server = running(sample_dir, scripted)
    with Store.memory() as store:
        loader.load_snapshot(store, server.snapshot_url)
        assert store.cursor().execute("SELECT count(*) FROM machines").fetchall()[0][0] > 0


def test_stop_closes_the_port(running, scripted):
    server = running(None, scripted)
    url = server.feed_url
    assert httpx.get(url).status_code == 200
    server.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(url, timeout=1)
