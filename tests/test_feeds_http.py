"""The HTTP poller against real servers on loopback: the scenario FeedServer, and small fault servers
that misbehave on purpose (500s, slowness, bad JSON, wrong content, out-of-order pages)."""

from __future__ import annotations

import json
import socket
import threading
import time
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from eventkit import ce, one, plant, snapshot_state, write_jsonl

from planner_tui.feeds.http import HttpFeed
from planner_tui.feeds.poller import open_feed
from planner_tui.feeds.server import FeedServer
from planner_tui.store import Store
from planner_tui.store.events import BATCH_CONTENT_TYPE

FAST = {"timeout": 0.5, "retries": 0, "backoff": 0.01}


class FakeClock:
    def __init__(self, value: float = 0.0):
        self.value = value

    def __call__(self) -> float:
        return self.value


def adjustments(n: int, start: int = 1, minutes_apart: int = 1) -> list[dict]:
    base = datetime(2026, 1, 5, 8, 0)
    return [
        ce(
            f"e{i}",
            "inventory.adjusted",
            {"item_id": "FG1", "location": "WH", "qty_delta": 1},
            seq=i,
            time=(base + timedelta(minutes=(i - 1) * minutes_apart)).isoformat() + "Z",
        )
        for i in range(start, start + n)
    ]


@pytest.fixture
def script(tmp_path):
    def write(events):
        path = tmp_path / "script.jsonl"
        write_jsonl(path, events)
        return path

    return write


@pytest.fixture
def servers():
    started = []
    yield started
    for server in started:
        server.stop()


def serve(servers, path, **kw) -> FeedServer:
    kw.setdefault("speed", 1e9)
    server = FeedServer(None, path, **kw).start()
    servers.append(server)
    return server


class FaultServer:
    """A loopback HTTP server whose every answer comes from `respond(query, headers) -> (status, headers, body)`."""

    def __init__(self, respond):
        self.respond = respond
        self.requests: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                query = {k: v[-1] for k, v in parse_qs(urlsplit(self.path).query).items()}
                outer.requests.append({"query": query, "headers": dict(self.headers)})
                status, headers, body = outer.respond(query, self.headers)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                except OSError:
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/events"

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def fault_server():
    made = []

    def make(respond):
        server = FaultServer(respond)
        made.append(server)
        return server

    yield make
    for server in made:
        server.stop()


def batch(events) -> tuple[int, dict, bytes]:
    return 200, {"Content-Type": BATCH_CONTENT_TYPE}, json.dumps(events).encode()


def after_filter(events, query):
    after = int(query["after"]) if "after" in query else -1
    return [e for e in events if int(e["sequence"]) > after]


# --- the scenario server ---------------------------------------------------------------------------


def test_paging_through_partial_pages_with_a_limit(servers, script):
    server = serve(servers, script(adjustments(25)), page_size=10)
    page = httpx.get(server.feed_url, params={"after": 20, "limit": 10}).json()
    assert [e["sequence"] for e in page] == [21, 22, 23, 24, 25]  # a partial page
    assert len(httpx.get(server.feed_url).json()) == 10  # the server's page size without a limit
    store = plant()
    seen = []
    client = httpx.Client(event_hooks={"request": [lambda r: seen.append(dict(r.url.params))]})
    outcome = HttpFeed(store, server.feed_url, page_limit=7, client=client, **FAST).poll_once()
    assert outcome.applied == 25 and outcome.status.state == "live" and outcome.status.last_sequence == "25"
    assert [p.get("after") for p in seen] == [None, "7", "14", "21"]  # asked again while pages are full
    assert all(p["limit"] == "7" for p in seen)
    assert one(store, "SELECT qty FROM inventory WHERE item_id='FG1' AND location='WH'") == 30.0


def test_resume_after_restart_loses_and_repeats_nothing(servers, script, tmp_path):
    clock = FakeClock()
    server = serve(servers, script(adjustments(10)), speed=60, clock=clock)  # one event a second
    db = tmp_path / "plant.db"
    store = plant(Store.open(db))
    clock.value = 3.5
    assert open_feed(store, server.feed_url, **FAST).poll_once().applied == 4
    store.close()

    clock.value = 100
    store = Store.open(db)
    outcome = open_feed(store, server.feed_url, **FAST).poll_once()
    assert (outcome.applied, outcome.result.duplicates) == (6, 0)
    assert one(store, "SELECT count(*) FROM event_log") == 10
    assert one(store, "SELECT qty FROM inventory WHERE item_id='FG1' AND location='WH'") == 15.0
    store.close()


def test_unknown_types_and_malformed_events_do_not_stop_the_feed(servers, script):
    events = [
        ce("e1", "machine.down", {"machine_id": "M1"}, seq=1),
        ce("e2", "shift.started", {"shift": "B"}, seq=2),
        ce("e3", "machine.down", {"machine_id": "NOPE"}, seq=3),
        ce("e4", "machine.up", {"machine_id": "M1"}, seq=4, time="not a time"),
        ce("e5", "hold.placed", {"hold_id": "H1", "lot_id": "L1"}, seq=5),
    ]
    server = serve(servers, script(events))
    store = plant()
    outcome = open_feed(store, server.feed_url, **FAST).poll_once()
    result = outcome.result
    assert (result.applied, result.unknown, result.rejected) == (2, 1, 2)
    assert outcome.status.state == "live" and outcome.status.last_sequence == "5"
    assert dict(result.rejections)["e3"] == "unknown machine NOPE"
    assert one(store, "SELECT status FROM quality_holds WHERE hold_id='H1'") == "active"


def test_etag_makes_an_unchanged_answer_a_304(servers, script):
    clock = FakeClock()
    server = serve(servers, script(adjustments(3)), speed=60, clock=clock)
    statuses = []
    client = httpx.Client(event_hooks={"response": [lambda r: statuses.append(r.status_code)]})
    feed = HttpFeed(plant(), server.feed_url, client=client, **FAST)
    assert feed.poll_once().applied == 1
    assert statuses == [200]  # a partial page: caught up
    statuses.clear()
    assert feed.poll_once().applied == 0
    assert statuses == [200]  # the empty page that says "nothing new", with its ETag
    statuses.clear()
    assert feed.poll_once().applied == 0
    assert statuses == [304]
    statuses.clear()
    clock.value = 10
    outcome = feed.poll_once()
    assert outcome.applied == 2 and statuses[0] == 200 and outcome.status.state == "live"


def test_a_server_that_dies_mid_feed_makes_the_feed_stale_and_leaves_the_store_intact(servers, script):
    clock = FakeClock()
    server = serve(servers, script(adjustments(10)), speed=60, clock=clock)
    store = plant()
    now = [datetime(2026, 1, 5, 8, 12)]
    feed = open_feed(store, server.feed_url, clock=lambda: now[0], **FAST)
    clock.value = 4.5
    assert feed.poll_once().applied == 5
    before = snapshot_state(store)
    server.stop()
    outcome = feed.poll_once()
    assert outcome.status.state == "stale" and "connection refused" in outcome.status.last_error
    assert outcome.status.describe() == f"stale since 08:12 ({outcome.status.last_error})"
    assert outcome.status.last_sequence == "5"
    assert snapshot_state(store) == before
    now[0] = datetime(2026, 1, 5, 8, 20)
    assert feed.poll_once().status.since == datetime(2026, 1, 5, 8, 12)  # stale since the first failure


# --- misbehaving servers ---------------------------------------------------------------------------


def test_500s_are_retried_with_growing_jittered_backoff_then_succeed(fault_server):
    events = adjustments(3)
    answers = iter([(500, {}, b"boom"), (503, {}, b"busy")])

    def respond(query, headers):
        return next(answers, None) or batch(after_filter(events, query))

    server = fault_server(respond)
    delays = []
    feed = HttpFeed(
        plant(),
        server.url,
        timeout=0.5,
        retries=3,
        backoff=0.1,
        backoff_max=1.0,
        sleep=delays.append,
        jitter=lambda: 1.0,
    )
    outcome = feed.poll_once()
    assert outcome.applied == 3 and outcome.status.state == "live"
    assert delays == [0.1, 0.2]  # exponential (jitter pinned at its top)
    jittered = HttpFeed(plant(), server.url, backoff=0.4, backoff_max=1.0, jitter=lambda: 0.0)
    assert [jittered._delay(a) for a in range(3)] == [0.2, 0.4, 0.5]  # never zero, capped


def test_500s_that_never_end_give_a_stale_feed_with_the_last_error(fault_server):
    server = fault_server(lambda q, h: (500, {}, b"boom"))
    feed = HttpFeed(plant(), server.url, timeout=0.5, retries=2, backoff=0.01)
    outcome = feed.poll_once()
    assert outcome.status.state == "stale"
    assert outcome.status.last_error == "HTTP 500 Internal Server Error (3 attempts)"
    assert len(server.requests) == 3


def test_a_slow_server_times_out(fault_server):
    def respond(query, headers):
        time.sleep(0.6)
        return batch([])

    server = fault_server(respond)
    outcome = HttpFeed(plant(), server.url, timeout=0.1, retries=0).poll_once()
    assert outcome.status.state == "stale" and "timed out after 0.1 s" in outcome.status.last_error


def test_a_server_trickling_its_answer_hits_the_wall_clock_deadline():
    # Each byte comes well within the read timeout, so only a deadline on the whole request stops it.
    body = b"[" + b" " * 30 + b"]"
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    stop = threading.Event()

    def trickle():
        conn, _ = listener.accept()
        conn.recv(65536)
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n"
            % (BATCH_CONTENT_TYPE.encode(), len(body))
        )
        try:
            for byte in body:
                if stop.is_set():
                    break
                conn.sendall(bytes([byte]))
                time.sleep(0.2)
        except OSError:
            pass
        conn.close()

    thread = threading.Thread(target=trickle, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/events"
        outcome = HttpFeed(plant(), url, timeout=1.0, retries=0).poll_once()
        assert outcome.status.state == "stale" and "timed out after 1 s" in outcome.status.last_error
    finally:
        stop.set()
        thread.join(2)
        listener.close()


def test_an_answer_above_the_size_cap_is_refused(fault_server):
    server = fault_server(lambda q, h: batch([ce("e1", "machine.down", {"machine_id": "M1"}, seq=1)]))
    store = plant()
    before = snapshot_state(store)
    outcome = HttpFeed(store, server.url, max_body_bytes=50, **FAST).poll_once()
    assert outcome.status.state == "stale" and "larger than 50 bytes" in outcome.status.last_error
    assert snapshot_state(store) == before


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ((200, {"Content-Type": BATCH_CONTENT_TYPE}, b"[{not json"), "invalid JSON"),
        ((200, {"Content-Type": "text/html"}, b"<html>login</html>"), "unexpected content type 'text/html'"),
        ((200, {"Content-Type": BATCH_CONTENT_TYPE}, b'{"events": []}'), "expected a JSON array"),
        ((404, {"Content-Type": "text/plain"}, b"nope"), "HTTP 404 Not Found"),
    ],
)
def test_nonsense_answers_make_the_feed_stale_and_change_nothing(fault_server, answer, message):
    server = fault_server(lambda q, h: answer)
    store = plant()
    before = snapshot_state(store)
    outcome = HttpFeed(store, server.url, **FAST).poll_once()
    assert outcome.status.state == "stale" and message in outcome.status.last_error
    assert snapshot_state(store) == before


def test_nothing_listening_is_connection_refused():
    with socket.socket() as probe:  # a port that was free a moment ago
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    feed = HttpFeed(plant(), f"http://127.0.0.1:{port}/events", **FAST)
    outcome = feed.poll_once()
    assert outcome.status.state == "stale" and outcome.status.last_error == "connection refused (1 attempt)"


def test_out_of_order_pages_are_applied_in_sequence_order(fault_server):
    down = ce("e1", "machine.down", {"machine_id": "M1"}, seq=1)
    up = ce("e2", "machine.up", {"machine_id": "M1"}, seq=2, time="2026-01-05T09:00:00Z")
    hold = ce("e3", "hold.placed", {"hold_id": "H1", "lot_id": "L1"}, seq=3)
    server = fault_server(lambda q, h: batch([] if "after" in q else [hold, up, down]))
    store = plant()
    outcome = HttpFeed(store, server.url, **FAST).poll_once()
    assert outcome.applied == 3 and outcome.status.last_sequence == "3"
    assert one(store, "SELECT state FROM machine_states WHERE machine_id='M1'") == "running"


def test_redelivered_events_are_not_applied_twice(fault_server):
    first = adjustments(3)
    # The same events again under new sequences (a producer that re-sent its outbox), plus one new.
    again = [dict(e, sequence=e["sequence"] + 3) for e in first] + adjustments(1, start=7)
    pages = {None: first, "3": again, "7": []}
    server = fault_server(lambda q, h: batch(pages[q.get("after")]))
    store = plant()
    outcome = HttpFeed(store, server.url, page_limit=3, **FAST).poll_once()
    assert (outcome.applied, outcome.result.duplicates) == (4, 3)
    assert one(store, "SELECT qty FROM inventory WHERE item_id='FG1' AND location='WH'") == 9.0


def test_recovery_after_a_failure_clears_the_error(fault_server):
    healthy = [False]
    events = adjustments(2)
    server = fault_server(lambda q, h: batch(after_filter(events, q)) if healthy[0] else (502, {}, b""))
    feed = HttpFeed(plant(), server.url, **FAST)
    assert feed.poll_once().status.state == "stale"
    healthy[0] = True
    outcome = feed.poll_once()
    assert outcome.status.state == "live" and outcome.status.last_error is None and outcome.applied == 2


def test_a_capped_poll_says_catching_up_and_the_next_one_goes_on(servers, script):
    server = serve(servers, script(adjustments(12)))
    feed = HttpFeed(plant(), server.feed_url, page_limit=5, apply_batch=5, max_events_per_poll=5, **FAST)
    outcome = feed.poll_once()
    assert outcome.applied == 5 and outcome.status.state == "catching_up"
    assert outcome.status.describe() == "catching up"
    assert feed.poll_once().status.state == "catching_up"
    outcome = feed.poll_once()
    assert outcome.applied == 2 and outcome.status.state == "live" and outcome.status.last_sequence == "12"


def test_polling_from_a_worker_thread_while_the_main_thread_reads(servers, script, tmp_path):
    server = serve(servers, script(adjustments(300)))
    store = plant(Store.open(tmp_path / "plant.db"))
    feed = HttpFeed(store, server.feed_url, page_limit=20, apply_batch=20, **FAST)
    errors = []

    def work():
        try:
            feed.poll_once()
        except Exception as exc:  # pragma: no cover - the assertion below reports it
            errors.append(exc)

    worker = threading.Thread(target=work)
    worker.start()
    reader = store.cursor()
    while worker.is_alive():
        reader.execute("SELECT count(*) FROM event_log").fetchall()
        reader.execute("SELECT sum(qty) FROM inventory").fetchall()
    worker.join()
    assert not errors and feed.status.state == "live" and feed.status.last_sequence == "300"
    assert one(store, "SELECT qty FROM inventory WHERE item_id='FG1' AND location='WH'") == 305.0
    store.close()


def test_each_page_is_received_when_it_arrives(servers, script):
    import itertools

    server = serve(servers, script(adjustments(16)), page_size=10)
    ticks = itertools.count()
    clock = lambda: datetime(2026, 1, 5, 8, 0, 0) + timedelta(seconds=next(ticks))  # noqa: E731
    store = plant()
    assert HttpFeed(store, server.feed_url, page_limit=7, clock=clock, **FAST).poll_once().applied == 16
    pages = store.con.execute(
        "SELECT received_at, count(*) FROM event_log GROUP BY received_at ORDER BY received_at"
    ).fetchall()
    assert [n for _, n in pages] == [7, 7, 2]  # one arrival time a page, though applied in one batch
