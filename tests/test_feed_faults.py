"""Feeds under hostile input (issue 8): lines and pages Python cannot read, files rotated under the feed,
credentials in feed URLs, a crowd of clients on the scenario server, a pull against a feed that never
stops producing, scripts the server cannot read. Real files, real loopback servers, real subprocesses."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from eventkit import ce, one, plant, snapshot_state, write_jsonl
from typer.testing import CliRunner

from planner_tui.cli import app
from planner_tui.errors import BadRequest
from planner_tui.feeds.file import FileFeed
from planner_tui.feeds.http import HttpFeed
from planner_tui.feeds.poller import open_feed
from planner_tui.feeds.server import FeedServer
from planner_tui.store import Store
from planner_tui.store.events import BATCH_CONTENT_TYPE, apply_events, event_history, parse_event

FAST = {"timeout": 1.0, "retries": 0, "backoff": 0.01}
DEEP = "[" * 100_000 + "]" * 100_000  # valid JSON that Python's parser cannot read (RecursionError)
runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def down(event_id: str, seq: int | None = None, machine: str = "M1", **extra) -> dict:
    return ce(event_id, "machine.down", {"machine_id": machine, "reason": event_id}, seq=seq, **extra)


def event_text(event: dict, **raw_members: str) -> str:
    """An event as a JSON line, with some members given as raw JSON text (what json.dumps cannot write)."""
    text = json.dumps({k: v for k, v in event.items() if k not in raw_members})
    return text[:-1] + "".join(f', "{k}": {v}' for k, v in raw_members.items()) + "}"


class RawServer:
    """A loopback HTTP server answering `respond(path, query) -> (status, headers, body bytes)`."""

    def __init__(self, respond):
        self.respond = respond
        self.requests = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                outer.requests += 1
                parts = urlsplit(self.path)
                query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
                status, headers, body = outer.respond(parts.path, query)
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
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def url(self, path: str = "/events", userinfo: str = "") -> str:
        return f"http://{userinfo}127.0.0.1:{self.port}{path}"

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def raw_server():
    made = []

    def make(respond):
        server = RawServer(respond)
        made.append(server)
        return server

    yield make
    for server in made:
        server.stop()


def page(body: bytes | str) -> tuple[int, dict, bytes]:
    return 200, {"Content-Type": BATCH_CONTENT_TYPE}, body.encode() if isinstance(body, str) else body


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- 1. one bad line or element never blocks a feed ------------------------------------------------


def test_a_line_nested_too_deeply_is_rejected_and_the_feed_goes_on(tmp_path):
    feed_path = tmp_path / "events.jsonl"
    write_jsonl(
        feed_path,
        [
            down("e1", 1),
            DEEP,
            event_text(down("e2", 2), data=DEEP),
            ce("e3", "machine.up", {"machine_id": "M1"}, seq=3),
        ],
    )
    store = plant()
    outcome = FileFeed(store, feed_path).poll_once()
    assert outcome.status.state == "live", outcome.status.last_error
    assert (outcome.result.applied, outcome.result.rejected) == (2, 2)
    reasons = dict(outcome.result.rejections)
    assert "e2" in reasons and "nested too deeply" in reasons["e2"]  # its own id, though its data is unreadable
    assert any(i.startswith("line@") and "nested too deeply" in r for i, r in reasons.items())
    assert one(store, "SELECT state FROM machine_states WHERE machine_id = 'M1'") == "running"
    assert FileFeed(store, feed_path).poll_once().result is None  # nothing left over for the next poll
    assert len(event_history(store.cursor())) == 4  # the history can be read back


def test_a_lone_surrogate_is_rejected_and_the_counts_say_what_was_committed(tmp_path):
    feed_path = tmp_path / "events.jsonl"
    bad_id = json.dumps(down("x", 2)).replace('"id": "x"', '"id": "x\\ud800"')
    bad_data = json.dumps(down("e3", 3)).replace('"reason": "e3"', '"reason": "jam \\udfff"')
    write_jsonl(feed_path, [down("e1", 1), bad_id, bad_data, ce("e4", "machine.up", {"machine_id": "M1"}, seq=4)])
    store = plant()
    feed = FileFeed(store, feed_path)
    outcome = feed.poll_once()
    assert outcome.status.state == "live", outcome.status.last_error
    assert (outcome.applied, outcome.result.rejected) == (2, 2)
    reasons = dict(outcome.result.rejections)
    assert "lone surrogate" in reasons["e3"] and "data" in reasons["e3"]
    assert any(i.startswith("line@") and "id" in r and "lone surrogate" in r for i, r in reasons.items())
    assert one(store, "SELECT count(*) FROM event_log") == 4
    kept = {e["id"]: e for e in event_history(store.cursor())}
    assert kept["e3"]["outcome"] == "rejected" and kept["e3"]["data"]["reason"] == "jam \\udfff"
    assert feed.poll_once().result is None and feed.status.state == "live"


def test_apply_events_rejects_surrogates_and_deep_nesting_given_directly():
    store = plant()
    deep: dict = {}
    node = deep
    for _ in range(200):
        node["x"] = {}
        node = node["x"]
    result = apply_events(store, [down("s\ud800", 1), down("deep", 2, extra=deep), down("ok", 3)], feed="f")
    assert (result.applied, result.rejected) == (1, 2)
    reasons = sorted(r for _, r in result.rejections)
    assert "extra is nested deeper than 64 levels" in reasons[0]
    assert "id holds a lone surrogate" in reasons[1]


def test_an_http_page_with_unreadable_elements_rejects_them_and_goes_on(raw_server):
    good1, good4 = json.dumps(down("e1", 1)), json.dumps(ce("e4", "machine.up", {"machine_id": "M1"}, seq=4))
    deep_data = event_text(down("e2", 2), data=DEEP)
    surrogate = json.dumps(down("e3", 3)).replace('"reason": "e3"', '"reason": "\\ud800"')
    body = f"[{good1}, {DEEP}, {deep_data}, {surrogate}, {good4}]"
    server = raw_server(lambda path, q: page("[]" if "after" in q else body))
    store = plant()
    outcome = HttpFeed(store, server.url(), **FAST).poll_once()
    assert outcome.status.state == "live", outcome.status.last_error
    assert (outcome.applied, outcome.result.rejected, outcome.status.last_sequence) == (2, 3, "4")
    reasons = dict(outcome.result.rejections)
    assert "nested too deeply" in reasons["e2"] and "lone surrogate" in reasons["e3"]


def test_an_http_body_nested_too_deeply_is_a_feed_error_not_a_traceback(raw_server, tmp_path):
    server = raw_server(lambda path, q: page(DEEP))
    store = plant()
    before = snapshot_state(store)
    outcome = HttpFeed(store, server.url(), **FAST).poll_once()
    assert outcome.status.state == "stale"
    assert outcome.status.last_error.startswith("invalid JSON from the feed: nested too deeply")
    assert snapshot_state(store) == before
    db = tmp_path / "plant.db"
    plant(Store.open(db)).close()
    result = invoke("events", "pull", server.url(), "--db", db, "--retries", "0")
    assert result.exit_code == 7 and "nested too deeply" in result.output and "Recursion" not in result.output


# --- 2. a rotated or truncated file is read from its start -----------------------------------------


def adjustments(ids) -> list[dict]:
    return [ce(f"e{i}", "inventory.adjusted", {"item_id": "FG1", "location": "WH", "qty_delta": 1}, seq=i) for i in ids]


def stock(store) -> float:
    return one(store, "SELECT qty FROM inventory WHERE item_id = 'FG1' AND location = 'WH'")


def test_a_file_replaced_by_a_longer_one_is_read_from_its_start(tmp_path):
    feed_path = tmp_path / "events.jsonl"
    write_jsonl(feed_path, adjustments(range(1, 51)))
    db = tmp_path / "plant.db"
    store = plant(Store.open(db))
    assert FileFeed(store, feed_path).poll_once().applied == 50
    store.close()
    feed_path.rename(tmp_path / "events.jsonl.1")  # what logrotate does
    write_jsonl(feed_path, adjustments(range(1001, 1101)))
    store = Store.open(db)  # and across a restart
    outcome = FileFeed(store, feed_path).poll_once()
    assert (outcome.applied, outcome.result.rejected, outcome.result.duplicates) == (100, 0, 0)
    assert stock(store) == 5 + 150
    store.close()


def test_a_replacement_holding_events_already_applied_does_not_apply_them_twice(tmp_path):
    feed_path = tmp_path / "events.jsonl"
    write_jsonl(feed_path, adjustments(range(1, 4)))
    store = plant()
    feed = FileFeed(store, feed_path)
    assert feed.poll_once().applied == 3
    replacement = tmp_path / "events.jsonl.new"  # an atomic rewrite: the old lines and a new one
    write_jsonl(replacement, adjustments(range(1, 5)))
    replacement.replace(feed_path)
    result = feed.poll_once().result
    assert (result.applied, result.duplicates) == (1, 3)
    assert stock(store) == 5 + 4


def test_a_file_truncated_in_place_restarts_from_zero(tmp_path):
    feed_path = tmp_path / "events.jsonl"
    write_jsonl(feed_path, adjustments(range(1, 11)))
    store = plant()
    feed = FileFeed(store, feed_path)
    assert feed.poll_once().applied == 10
    with feed_path.open("r+") as handle:  # copytruncate: same file, emptied, then written again
        handle.truncate(0)
    write_jsonl(feed_path, adjustments(range(11, 13)), mode="a")
    outcome = feed.poll_once()
    assert outcome.status.state == "live", outcome.status.last_error
    assert outcome.applied == 2
    # Truncated again and refilled past the old length before the next poll: the head has changed.
    with feed_path.open("r+") as handle:
        handle.truncate(0)
    write_jsonl(feed_path, adjustments(range(100, 130)), mode="a")
    outcome = feed.poll_once()
    assert (outcome.applied, outcome.result.rejected) == (30, 0)
    assert stock(store) == 5 + 42
    assert feed.poll_once().result is None


def test_an_older_database_gains_the_file_identity_columns_and_resumes(tmp_path):
    import duckdb

    db = tmp_path / "old.db"
    con = duckdb.connect(str(db))
    con.execute(
        "CREATE TABLE feed_cursors (feed VARCHAR PRIMARY KEY, last_sequence BIGINT, etag VARCHAR, updated_at TIMESTAMP)"
    )
    con.close()
    feed_path = tmp_path / "events.jsonl"
    write_jsonl(feed_path, adjustments(range(1, 3)))
    store = plant(Store.open(db))
    columns = {
        r[0]
        for r in store.con.execute(
            "SELECT column_name FROM duckdb_columns() WHERE table_name = 'feed_cursors'"
        ).fetchall()
    }
    assert {"position", "file_identity", "file_head"} <= columns
    assert FileFeed(store, feed_path).poll_once().applied == 2
    store.close()


# --- 3. credentials in feed URLs are never stored or printed ---------------------------------------


SECRET = "s3cr3t-pw"
TOKEN = "t0k3n-value"


def test_credentials_in_a_feed_url_are_neither_stored_nor_printed(raw_server, tmp_path):
    sourceless = {k: v for k, v in down("e2", 2).items() if k != "source"}
    server = raw_server(lambda path, q: page("[]" if "after" in q else json.dumps([down("e1", 1), sourceless])))
    url = server.url(f"/events?token={TOKEN}", userinfo=f"planner:{SECRET}@")
    db = tmp_path / "plant.db"
    plant(Store.open(db)).close()
    result = invoke("events", "pull", url, "--db", db, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["result"]["applied"] == 1  # the feed was read with the URL as given
    assert SECRET not in result.output and TOKEN not in result.output
    with Store.open(db) as store:
        stored = store.con.execute(
            "SELECT string_agg(feed, ' ') FROM feed_cursors UNION ALL "
            "SELECT string_agg(feed || ' ' || source || ' ' || coalesce(reason, ''), ' ') FROM event_log"
        ).fetchall()
    text = " ".join(r[0] for r in stored)
    assert "127.0.0.1" in text and SECRET not in text and TOKEN not in text and "planner" not in text
    server.stop()
    result = invoke("events", "pull", url, "--db", db, "--retries", "0", "--timeout", "0.5")
    assert result.exit_code == 7 and "connection refused" in result.output
    assert SECRET not in result.output and TOKEN not in result.output


def test_a_token_in_the_feed_urls_query_is_sent_with_every_page(raw_server, tmp_path):
    # httpx's params= replaces a URL's query: the token went missing and the feed answered 401 forever.
    seen: list[dict] = []

    def respond(path, q):
        seen.append(q)
        if q.get("access_token") != TOKEN:
            return 401, {"Content-Type": "text/plain"}, b"no token"
        return page("[]" if "after" in q else json.dumps([down("e1", 1), down("e2", 2, machine="M2")]))

    server = raw_server(respond)
    db = tmp_path / "plant.db"
    plant(Store.open(db)).close()
    result = invoke("events", "pull", server.url(f"/events?access_token={TOKEN}&line=L1"), "--db", db, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["result"]["applied"] == 2
    assert len(seen) >= 2 and all(q.get("access_token") == TOKEN and q.get("line") == "L1" for q in seen)
    assert any(q.get("after") == "2" for q in seen)  # the cursor rides beside the URL's own query


def test_a_last_line_cut_inside_a_character_waits_for_the_rest(tmp_path):
    line = json.dumps(down("e1", 1, reason="Schweißnaht gerissen"), ensure_ascii=False).encode()
    cut = line.index("ß".encode()) + 1  # the first byte of a two-byte character
    path = tmp_path / "events.jsonl"
    path.write_bytes(line[:cut])
    store = plant()
    feed = FileFeed(store, path)
    assert feed.poll_once().applied == 0
    with path.open("ab") as f:
        f.write(line[cut:] + b"\n")
    assert feed.poll_once().applied == 1
    outcomes = [e["outcome"] for e in event_history(store.cursor())]
    assert outcomes == ["applied"], outcomes


def test_errors_that_embed_the_url_are_redacted():
    store = plant()
    bad_port = f"http://planner:{SECRET}@127.0.0.1:99999/events?token={TOKEN}"
    outcome = open_feed(store, bad_port, **FAST).poll_once()
    assert outcome.status.state == "stale"
    assert SECRET not in outcome.status.last_error and TOKEN not in outcome.status.last_error
    assert SECRET not in outcome.status.feed
    with pytest.raises(BadRequest) as caught:
        open_feed(store, f"ftp://planner:{SECRET}@mes.example/feed")
    assert SECRET not in str(caught.value)


def test_a_database_holding_credentials_is_rewritten_when_opened(tmp_path):
    db = tmp_path / "plant.db"
    store = plant(Store.open(db))
    one_url = f"http://planner:{SECRET}@mes.example/events"
    other_token = f"http://mes.example/events?token={TOKEN}"
    other_token2 = "http://mes.example/events?token=another-one"
    store.con.execute(
        "INSERT INTO feed_cursors (feed, last_sequence, updated_at) VALUES "
        "(?, 7, TIMESTAMP '2026-01-05 08:00:00'), (?, 9, TIMESTAMP '2026-01-05 09:00:00'), "
        "(?, 4, TIMESTAMP '2026-01-05 07:00:00')",
        [one_url, other_token, other_token2],
    )
    apply_events(store, [down("e1", 1)], feed=one_url)
    store.con.execute("UPDATE event_log SET feed = ?", [one_url])  # as an older version stored it
    store.con.execute(
        "INSERT INTO event_log (source, event_id, received_at, outcome, feed) VALUES "
        "(?, 'invalid-1', now(), 'rejected', ?)",
        [other_token, other_token],
    )
    store.con.execute(
        "INSERT OR REPLACE INTO store_meta VALUES ('loaded_from', ?)",
        [f"https://planner:{SECRET}@erp.example/snapshot"],
    )
    store.close()
    with Store.open(db) as store:
        cursors = store.con.execute("SELECT feed, last_sequence FROM feed_cursors ORDER BY feed").fetchall()
        logged = store.con.execute("SELECT source, feed FROM event_log ORDER BY event_id").fetchall()
        loaded_from = store.con.execute("SELECT value FROM store_meta WHERE key = 'loaded_from'").fetchone()[0]
    assert loaded_from == "https://***@erp.example/snapshot"
    assert cursors == [("http://***@mes.example/events", "7"), ("http://mes.example/events?token=***", "9")]
    assert logged == [
        ("urn:test:mes", "http://***@mes.example/events"),
        ("http://mes.example/events?token=***", "http://mes.example/events?token=***"),
    ]


def test_triage_of_a_stale_feed_kept_under_its_credentials_is_moved_to_the_redacted_id(tmp_path):
    # An older version named the stale-feed exception after the URL as given, password and all.
    db = tmp_path / "plant.db"
    store = plant(Store.open(db))
    old_id = f"feed_stale:http://planner:{SECRET}@mes.example/events"
    other_id = f"feed_stale:http://mes.example/events?token={TOKEN}"
    store.con.execute(
        "INSERT INTO exception_triage (exception_id, status, assignee, snoozed_until, updated_at, updated_by) "
        "VALUES (?, 'acknowledged', 'ben', NULL, TIMESTAMP '2026-01-05 08:00:00', 'ben'),"
        " (?, 'resolved', NULL, NULL, TIMESTAMP '2026-01-05 09:00:00', 'eva')",
        [old_id, other_id],
    )
    store.con.execute(
        "INSERT INTO exception_actions (exception_id, acted_at, who, action, detail) VALUES (?, TIMESTAMP '2026-01-05 08:00:00', 'ben', 'acknowledge', NULL),"
        " (?, TIMESTAMP '2026-01-05 09:00:00', 'eva', 'resolve', 'feed back')",
        [old_id, other_id],
    )
    store.close()
    with Store.open(db) as store:
        states = store.con.execute("SELECT exception_id, status FROM exception_triage ORDER BY 1").fetchall()
        actions = store.con.execute("SELECT exception_id, action FROM exception_actions ORDER BY 1, 2").fetchall()
    assert states == [
        ("feed_stale:http://***@mes.example/events", "acknowledged"),
        ("feed_stale:http://mes.example/events?token=***", "resolved"),
    ]
    assert actions == [
        ("feed_stale:http://***@mes.example/events", "acknowledge"),
        ("feed_stale:http://mes.example/events?token=***", "resolve"),
    ]


def test_a_stale_feed_triaged_under_two_passwords_keeps_its_latest_state(tmp_path):
    db = tmp_path / "plant.db"
    store = plant(Store.open(db))
    first, second = "feed_stale:http://ben:pw-one@mes.example/events", "feed_stale:http://eva:pw-two@mes.example/events"
    store.con.execute(
        "INSERT INTO exception_triage (exception_id, status, assignee, snoozed_until, updated_at, updated_by) "
        "VALUES (?, 'acknowledged', NULL, NULL, TIMESTAMP '2026-01-05 08:00:00', 'ben'),"
        " (?, 'resolved', NULL, NULL, TIMESTAMP '2026-01-05 09:00:00', 'eva')",
        [first, second],
    )
    store.close()
    with Store.open(db) as store:
        states = store.con.execute("SELECT exception_id, status, updated_by FROM exception_triage").fetchall()
    assert states == [("feed_stale:http://***@mes.example/events", "resolved", "eva")]


def test_the_history_of_an_old_database_opened_read_only_shows_no_credentials(tmp_path):
    db = tmp_path / "plant.db"
    store = plant(Store.open(db))
    url = f"http://planner:{SECRET}@mes.example/events?token={TOKEN}"
    store.con.execute(
        "INSERT INTO event_log (source, event_id, received_at, outcome, feed) VALUES "
        "(?, 'invalid-1', now(), 'rejected', ?)",
        [url, url],
    )  # as an older version stored it
    store.close()
    result = invoke("events", "list", "--db", db, "--json")
    assert result.exit_code == 0, result.output
    assert SECRET not in result.output and TOKEN not in result.output
    assert json.loads(result.output)[0]["feed"] == "http://***@mes.example/events?token=***"


def test_the_status_of_an_old_database_opened_read_only_shows_no_credentials(tmp_path):
    from planner_tui.store.status import plant_status

    db = tmp_path / "plant.db"
    store = plant(Store.open(db))
    store.con.execute(
        "INSERT OR REPLACE INTO store_meta VALUES ('loaded_from', ?)",
        [f"https://planner:{SECRET}@erp.example/snapshot?token={TOKEN}"],
    )
    store.close()
    with Store.open(db, read_only=True) as store:
        assert plant_status(store.cursor())["loaded_from"] == "https://***@erp.example/snapshot?token=***"


# --- 4. the scenario server under a crowd ----------------------------------------------------------


def test_the_feed_server_answers_200_concurrent_clients_promptly(tmp_path):
    script = tmp_path / "script.jsonl"
    write_jsonl(script, adjustments(range(1, 4)))
    clients = 200
    answers: list[float | str] = []
    lock = threading.Lock()
    with FeedServer(None, script, speed=1e9) as server:
        assert server._httpd.request_queue_size >= clients
        start = threading.Barrier(clients)

        def client():
            start.wait()
            began = time.monotonic()
            try:
                with socket.create_connection(("127.0.0.1", server.port), timeout=3) as conn:
                    conn.sendall(b"GET /events HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    data = b""
                    while chunk := conn.recv(65536):
                        data += chunk
                result: float | str = time.monotonic() - began if data.startswith(b"HTTP/1.1 200") else repr(data[:40])
            except OSError as exc:
                result = repr(exc)
            with lock:
                answers.append(result)

        threads = [threading.Thread(target=client) for _ in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
    failures = [a for a in answers if isinstance(a, str)]
    assert len(answers) == clients and not failures, failures[:5]
    assert max(answers) < 3


# --- 5. a pull without --follow ends against a feed that never stops -------------------------------


def producing(stamp):
    """A feed that makes a new event on every request (stamped by `stamp()`), as a busy MES does."""
    made = [0]

    def respond(path, query):
        made[0] += 1
        return page(json.dumps([down(f"p{made[0]}", made[0], time=stamp())]))

    return respond


def now_text() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def test_pull_against_a_feed_that_keeps_producing_returns(raw_server, tmp_path):
    server = raw_server(producing(now_text))
    db = tmp_path / "plant.db"
    plant(Store.open(db)).close()
    began = time.monotonic()
    process = subprocess.run(
        [sys.executable, "-m", "planner_tui", "events", "pull", server.url(), "--db", str(db), "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert process.returncode == 0, process.stderr
    assert time.monotonic() - began < 30
    assert 1 <= json.loads(process.stdout)["result"]["applied"] <= 5


def test_pull_stops_at_its_time_budget_when_the_feed_never_catches_up(raw_server, tmp_path):
    # Old event times: nothing says the feed reached "now", so only the time budget ends the pull.
    server = raw_server(producing(lambda: "2026-01-05T08:00:00Z"))
    db = tmp_path / "plant.db"
    plant(Store.open(db)).close()
    began = time.monotonic()
    result = invoke("events", "pull", server.url(), "--db", db, "--max-time", "1", "--json")
    assert result.exit_code == 0, result.output
    assert time.monotonic() - began < 10
    payload = json.loads(result.output)
    assert payload["result"]["applied"] >= 1 and payload["status"]["state"] == "catching_up"


def test_pull_of_a_growing_file_stops_at_what_the_file_held_when_it_started(tmp_path):
    from planner_tui.cli.event_cmds import _pull_all

    feed_path = tmp_path / "events.jsonl"
    write_jsonl(feed_path, adjustments(range(1, 7)))
    store = plant()
    stop = threading.Event()

    def writer():  # a producer appending faster than a capped poll reads, for at most a few seconds
        ids = iter(range(100, 100_000))
        deadline = time.monotonic() + 1
        while not stop.is_set() and time.monotonic() < deadline:
            write_jsonl(feed_path, adjustments([next(ids), next(ids), next(ids)]), mode="a")
            time.sleep(0.002)

    thread = threading.Thread(target=writer, daemon=True)
    # A poll of at most two events: the pull must poll again while catching up, and stop at the
    # length the file had when it began.
    feed = FileFeed(store, feed_path, apply_batch=2, max_events_per_poll=2)
    thread.start()
    try:
        outcome = _pull_all(feed)
    finally:
        stop.set()
        thread.join(10)
    # The six lines, and at most the few the writer got in before the pull began (it ran thousands).
    assert 6 <= outcome.applied <= 40


# --- 6. the scenario server refuses scripts it cannot read, in one line ----------------------------


@pytest.mark.parametrize(
    ("second_line", "message"),
    [
        (DEEP.encode(), "line 2: nested too deeply"),
        (b'{"id": "caf\xe9"}', "line 2: not UTF-8"),
    ],
    ids=["nested", "latin-1"],
)
def test_feed_serve_refuses_an_unreadable_script_in_one_line(tmp_path, sample_dir, second_line, message):
    script = tmp_path / "script.jsonl"
    script.write_bytes(json.dumps(down("e1", 1)).encode() + b"\n" + second_line + b"\n")
    process = subprocess.run(
        [sys.executable, "-m", "planner_tui", "feed", "serve", str(sample_dir), str(script), "--port", "0"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env=dict(os.environ, COLUMNS="300"),
    )
    assert process.returncode == 2, process.stderr
    assert message in process.stderr and str(script) in process.stderr.replace("\n", "")
    assert "Traceback" not in process.stderr and len(process.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("speed", ["nan", "inf", "0", "-2"])
def test_feed_serve_refuses_a_speed_that_is_not_a_positive_number(tmp_path, sample_dir, speed):
    script = tmp_path / "script.jsonl"
    write_jsonl(script, [down("e1", 1)])
    result = invoke("feed", "serve", sample_dir, script, "--port", "0", "--speed", speed)
    assert result.exit_code == 2 and "--speed must be a finite number above 0" in result.output


def test_the_feed_server_serves_a_scripted_lone_surrogate_as_an_escape(tmp_path):
    script = tmp_path / "script.jsonl"
    script.write_text(json.dumps(down("e1", 1)).replace('"reason": "e1"', '"reason": "\\ud800"') + "\n")
    with FeedServer(None, script, speed=1e9) as server:
        store = plant()
        outcome = HttpFeed(store, server.feed_url, **FAST).poll_once()
    assert outcome.status.state == "live", outcome.status.last_error
    assert "lone surrogate" in dict(outcome.result.rejections)["e1"]


# --- the smaller ones ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"id": 42}, "id must be a string"),
        ({"source": 7}, "source must be a string"),
        ({"specversion": 1.0}, 'specversion must be the string "1.0"'),
        ({"specversion": "0.3"}, 'specversion must be the string "1.0"'),
        ({"time": "2026-01-05T08:00:00+99:99"}, "UTC offset +99:99"),
        ({"time": "0001-01-05T08:00:00Z"}, "years 1970 to 2999"),
        ({"time": "9999-01-05T08:00:00Z"}, "years 1970 to 2999"),
        ({"time": "1969-12-31T23:59:59Z"}, "years 1970 to 2999"),
    ],
)
def test_envelope_mistakes_have_clear_reasons(change, reason):
    event = parse_event({**down("e1", 1), **change}, fallback_source="f")
    assert reason in event["error"], event["error"]
    assert "missing id" not in event["error"] and "offset must be a timedelta" not in event["error"]


def test_the_edges_of_the_plausible_years_are_accepted():
    assert parse_event(down("a", time="1970-01-01T00:00:00Z"))["error"] is None
    assert parse_event(down("b", time="2999-12-31T23:59:59Z"))["error"] is None


def test_a_redirect_to_another_server_names_the_server_that_failed(raw_server):
    dead = free_port()
    target = f"http://127.0.0.1:{dead}/moved"
    server = raw_server(lambda path, q: (302, {"Location": target}, b""))
    outcome = HttpFeed(plant(), server.url(), **FAST).poll_once()
    assert outcome.status.state == "stale"
    assert f"127.0.0.1:{dead}/moved" in outcome.status.last_error
    assert "connection refused" in outcome.status.last_error
    gone = raw_server(lambda path, q: (404, {}, b"no"))
    mover = raw_server(lambda path, q: (307, {"Location": gone.url("/elsewhere")}, b""))
    outcome = HttpFeed(plant(), mover.url(), **FAST).poll_once()
    assert "HTTP 404 Not Found" in outcome.status.last_error and gone.url("/elsewhere") in outcome.status.last_error
