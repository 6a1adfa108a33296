"""Opaque feed cursors (issue 13): a feed's `sequence` is kept as the feed sent it and sent back byte for
byte in `?after=`, whatever the feed numbers its events with (zero-padded digits, ULIDs, Kafka-style
"partition-offset", plain integers).

The feeds here are real HTTP servers on loopback (`SeqFeed`) that page the way a feed nobody here wrote
would: by comparing their OWN sequence strings (lexicographically, as the CloudEvents sequence extension
says), by their own log position, or by number; every request they get is recorded.
"""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import duckdb
import httpx
import pytest
from eventkit import SOURCE, ce, one, plant, write_jsonl

from planner_tui import credentials
from planner_tui.feeds.file import FileFeed
from planner_tui.feeds.http import HttpFeed
from planner_tui.feeds.server import FeedServer
from planner_tui.store import Store
from planner_tui.store.events import (
    BATCH_CONTENT_TYPE,
    MAX_SEQUENCE_CHARS,
    apply_events,
    event_history,
    feed_cursor,
    integer_sequence,
    parse_event,
    parse_sequence,
)

FAST = {"timeout": 5.0, "retries": 0, "backoff": 0.01}
BASE = datetime(2026, 1, 5, 8, 0)


# --- a feed nobody here wrote ----------------------------------------------------------------------


class SeqFeed:
    """`GET /events?after=X&limit=N` over a log of CloudEvents, answered as the feed's own rule says:

    - "lex": the events whose sequence string is above X, compared as strings (the CloudEvents rule),
      in that order;
    - "log": the events after the one whose sequence is exactly X, in the log's order (a Kafka-like
      feed: "0-10" follows "0-9"); an unknown X is a 400;
    - "number": the events whose sequence is numerically above X (a plain integer feed).

    `ignore_after` answers from the start whatever X is, `ignore_limit` answers everything whatever N is
    (broken feeds); `requests` records each request's raw query and its decoded `after` and `limit`."""

    def __init__(
        self, events: list[dict], *, order: str = "lex", ignore_after: bool = False, ignore_limit: bool = False
    ):
        self.log = list(events)
        self.order = order
        self.ignore_after = ignore_after
        self.ignore_limit = ignore_limit
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/events"

    @property
    def afters(self) -> list[str | None]:
        return [r["after"] for r in self.requests]

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def page(self, after: str | None, limit: int) -> list[dict]:
        with self._lock:
            log = list(self.log)
        if self.order == "lex":
            rest = sorted(log, key=lambda e: e["sequence"])
            if after is not None and not self.ignore_after:
                rest = [e for e in rest if e["sequence"] > after]
        elif self.order == "number":
            rest = sorted(log, key=lambda e: int(e["sequence"]))
            if after is not None and not self.ignore_after:
                rest = [e for e in rest if int(e["sequence"]) > int(after)]
        else:
            rest = log
            if after is not None and not self.ignore_after:
                rest = log[[str(e["sequence"]) for e in log].index(after) + 1 :]  # ValueError: unknown
        return rest if self.ignore_limit else rest[:limit]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        feed = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                parts = urlsplit(self.path)
                query = parse_qs(parts.query, keep_blank_values=True)
                after = query["after"][-1] if "after" in query else None
                limit = int(query["limit"][-1]) if "limit" in query else 100
                feed.requests.append({"query": parts.query, "after": after, "limit": limit})
                try:
                    body = json.dumps(feed.page(after, limit)).encode()
                    status, kind = 200, BATCH_CONTENT_TYPE
                except ValueError:
                    body = json.dumps({"error": f"unknown cursor {after!r}"}).encode()
                    status, kind = 400, "application/json"
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler


@pytest.fixture
def feeds():
    made: list[SeqFeed] = []

    def make(events: list[dict], **kw: Any) -> SeqFeed:
        made.append(SeqFeed(events, **kw))
        return made[-1]

    yield make
    for feed in made:
        feed.stop()


def adjustments(sequences: list, *, prefix: str = "e") -> list[dict]:
    """One stock adjustment (+1 FG1 at WH) per sequence, a minute apart."""
    return [
        ce(
            f"{prefix}{n}",
            "inventory.adjusted",
            {"item_id": "FG1", "location": "WH", "qty_delta": 1},
            seq=seq,
            time=(BASE + timedelta(minutes=n)).isoformat() + "Z",
        )
        for n, seq in enumerate(sequences, start=1)
    ]


def stock(store: Store) -> float:
    return one(store, "SELECT qty FROM inventory WHERE item_id = 'FG1' AND location = 'WH'")  # 5 to begin with


def logged_sequences(store: Store) -> list:
    return [r[0] for r in store.cursor().execute("SELECT sequence FROM event_log ORDER BY event_id").fetchall()]


_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def ulid(milliseconds: int, randomness: int) -> str:
    """A ULID (48-bit time, 80 random bits, Crockford base32): lexicographic order is time order."""
    value = (milliseconds << 80) | randomness
    return "".join(_CROCKFORD[(value >> (5 * i)) & 31] for i in reversed(range(26)))


ZERO_PADDED = [f"{n:08d}" for n in range(1, 7)]
ULIDS = [ulid(1_767_600_000_000 + 1000 * n, 0x5A5A5A5A5A5A5A5A5A5A - 7919 * n) for n in range(1, 7)]


# --- read to the end ---------------------------------------------------------------------------------


@pytest.mark.parametrize("sequences", [ZERO_PADDED, ULIDS], ids=["zero-padded", "ulid"])
def test_a_feed_comparing_its_own_strings_is_paged_to_its_end(feeds, sequences):
    assert sorted(sequences) == sequences and len(set(sequences)) == 6  # the feed's order is the strings'
    feed = feeds(adjustments(sequences), order="lex")
    store = plant()
    outcome = HttpFeed(store, feed.url, page_limit=2, **FAST).poll_once()
    assert outcome.status.state == "live", outcome.status.last_error
    assert outcome.applied == 6 and stock(store) == 5 + 6
    # Each page asked for after the previous page's last sequence, exactly as the feed sent it.
    assert feed.afters == [None, sequences[1], sequences[3], sequences[5]]
    assert [r["limit"] for r in feed.requests] == [2, 2, 2, 2]
    for request, expected in zip(feed.requests[1:], (sequences[1], sequences[3], sequences[5]), strict=True):
        assert f"after={expected}" in request["query"].split("&")
    assert outcome.status.last_sequence == sequences[-1]
    assert feed_cursor(store.cursor(), feed.url) == sequences[-1]
    assert logged_sequences(store) == sequences
    # The next poll resumes at the stored cursor, byte for byte, and finds nothing new.
    feed.requests.clear()
    again = HttpFeed(store, feed.url, page_limit=2, **FAST).poll_once()
    assert again.status.state == "live" and again.applied == 0
    assert feed.afters == [sequences[-1]]


def test_a_kafka_like_feed_is_applied_in_its_page_order_not_sorted_as_strings(feeds):
    # "0-10" follows "0-9" in the partition, though not lexicographically: sorting the strings would
    # apply the machine's restart before its stop, and make "0-9" the cursor.
    sequences = ["0-7", "0-8", "0-9", "0-10", "0-11", "0-12"]
    events = adjustments(sequences)
    events[2] = ce("stop", "machine.down", {"machine_id": "M1"}, seq="0-9", time="2026-01-05T08:03:00Z")
    events[3] = ce("start", "machine.up", {"machine_id": "M1"}, seq="0-10", time="2026-01-05T08:04:00Z")
    feed = feeds(events, order="log")
    store = plant()
    outcome = HttpFeed(store, feed.url, page_limit=2, **FAST).poll_once()
    assert outcome.status.state == "live", outcome.status.last_error
    assert outcome.applied == 6 and stock(store) == 5 + 4
    assert one(store, "SELECT state FROM machine_states WHERE machine_id = 'M1'") == "running"
    assert feed.afters == [None, "0-8", "0-10", "0-12"]
    assert outcome.status.last_sequence == "0-12"
    # New events whose strings sort below the cursor are new all the same: opaque strings are never
    # compared with the cursor, only source+id tell a duplicate.
    feed.log += adjustments(["1-1", "0-13"], prefix="later")
    feed.requests.clear()
    outcome = HttpFeed(store, feed.url, page_limit=2, **FAST).poll_once()
    assert (outcome.applied, outcome.result.duplicates) == (2, 0)
    assert feed.afters == ["0-12", "0-13"]
    assert outcome.status.last_sequence == "0-13" and stock(store) == 5 + 6


def test_a_file_feed_with_string_sequences_keeps_the_file_order(tmp_path):
    path = tmp_path / "events.jsonl"
    write_jsonl(
        path,
        [
            ce("stop", "machine.down", {"machine_id": "M1"}, seq="0-9", time="2026-01-05T08:03:00Z"),
            ce("start", "machine.up", {"machine_id": "M1"}, seq="0-10", time="2026-01-05T08:04:00Z"),
        ],
    )
    store = plant()
    outcome = FileFeed(store, path).poll_once()
    assert outcome.applied == 2 and outcome.status.last_sequence == "0-10"
    assert one(store, "SELECT state FROM machine_states WHERE machine_id = 'M1'") == "running"


# --- a feed that ignores ?after= -----------------------------------------------------------------------


@pytest.mark.parametrize("ignore_limit", [False, True], ids=["first-page-again", "everything-again"])
def test_a_string_feed_ignoring_after_is_reported_stale_not_looped_on(feeds, ignore_limit):
    feed = feeds(adjustments(ULIDS), order="lex", ignore_after=True, ignore_limit=ignore_limit)
    store = plant()
    http = HttpFeed(store, feed.url, page_limit=2, **FAST)
    outcome = http.poll_once()
    shown = 6 if ignore_limit else 2
    assert outcome.status.state == "stale"
    assert outcome.status.last_error == (
        f"the feed ignored ?after={ULIDS[shown - 1]} (sent sequence {ULIDS[shown - 1]} again)"
    )
    assert feed.afters == [None, ULIDS[shown - 1]]  # asked once more, then stopped
    assert outcome.applied == shown and stock(store) == 5 + shown  # what did arrive is applied, once
    # The next poll stops at once too.
    feed.requests.clear()
    outcome = http.poll_once()
    assert outcome.status.state == "stale" and outcome.applied == 0
    assert feed.afters == [ULIDS[shown - 1]]


def test_an_integer_feed_ignoring_after_is_still_reported_stale(feeds):
    feed = feeds(adjustments(list(range(1, 7))), order="number", ignore_after=True)
    outcome = HttpFeed(plant(), feed.url, page_limit=2, **FAST).poll_once()
    assert outcome.status.state == "stale" and outcome.applied == 2
    assert outcome.status.last_error == "the feed ignored ?after=2 (sent sequence 2 again)"
    assert feed.afters == [None, "2"]


# --- duplicates ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("apply_batch", [5000, 1], ids=["one-batch", "batch-per-event"])
def test_an_event_sent_again_under_a_new_string_sequence_is_applied_once(feeds, apply_batch):
    events = adjustments(["a1", "a2", "a3", "a4"])
    events[2] = {**events[0], "sequence": "a3"}  # e1 again, re-sent by an outbox under a new sequence
    feed = feeds(events, order="lex")
    store = plant()
    outcome = HttpFeed(store, feed.url, page_limit=2, apply_batch=apply_batch, **FAST).poll_once()
    assert outcome.status.state == "live", outcome.status.last_error
    assert (outcome.result.applied, outcome.result.duplicates) == (3, 1)
    assert stock(store) == 5 + 3
    assert one(store, "SELECT count(*) FROM event_log WHERE event_id = 'e1'") == 1
    assert outcome.status.last_sequence == "a4"
    assert feed.afters == [None, "a2", "a4"]


# --- integer feeds, as before ------------------------------------------------------------------------------


def test_an_integer_feed_pages_by_number_and_drops_events_at_or_below_its_cursor(feeds):
    feed = feeds(adjustments(list(range(1, 7))), order="log")
    store = plant()
    outcome = HttpFeed(store, feed.url, page_limit=2, **FAST).poll_once()
    assert outcome.status.state == "live" and outcome.applied == 6
    assert feed.afters == [None, "2", "4", "6"]
    assert outcome.status.last_sequence == "6" and feed_cursor(store.cursor(), feed.url) == "6"
    assert logged_sequences(store) == ["1", "2", "3", "4", "5", "6"]  # JSON integers, kept as their digits
    # A new id at or below an integer cursor is taken as the feed's old news, as before.
    feed.log += adjustments([3, 7], prefix="new")
    outcome = HttpFeed(store, feed.url, page_limit=2, **FAST).poll_once()
    assert (outcome.result.applied, outcome.result.duplicates) == (1, 1)
    assert outcome.status.last_sequence == "7" and stock(store) == 5 + 7


def test_the_scenario_feed_server_takes_back_the_zero_padded_text_it_served(tmp_path):
    script = tmp_path / "script.jsonl"
    write_jsonl(script, adjustments(ZERO_PADDED))
    asked: list[str | None] = []
    with FeedServer(None, script, speed=1e9) as server:
        client = httpx.Client(event_hooks={"request": [lambda r: asked.append(r.url.params.get("after"))]})
        store = plant()
        outcome = HttpFeed(store, server.feed_url, page_limit=4, client=client, **FAST).poll_once()
        client.close()
    assert outcome.status.state == "live", outcome.status.last_error
    assert outcome.applied == 6 and outcome.status.last_sequence == "00000006"
    assert asked == [None, "00000004"]  # a partial page then: caught up


def test_integer_sequences_compare_by_number_zero_padded_or_not():
    store = plant()
    result = apply_events(store, adjustments(["9", "10", "0008"]), feed="feed")
    assert result.last_sequence == "10" and result.applied == 3  # not "9", the highest string
    result = apply_events(store, adjustments(["00000011", 7], prefix="more"), feed="feed")
    assert result.last_sequence == "00000011"
    assert (result.applied, result.duplicates) == (1, 1)  # 7 is at or below the cursor (11)
    # Of events at the same moment, the history lists integer sequences by number.
    same_time = [
        ce("t10", "shift.started", {}, seq="10", time="2026-01-05T09:00:00Z"),
        ce("t9", "shift.started", {}, seq="9", time="2026-01-05T09:00:00Z"),
    ]
    apply_events(store, same_time, feed="other")
    listed = [e["sequence"] for e in event_history(store.cursor(), type="shift.started")]
    assert listed == ["9", "10"]


# --- the envelope: what a sequence may be ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "kept"),
    [
        (2, "2"),
        (0, "0"),
        ("2", "2"),
        ("00000002", "00000002"),
        (ULIDS[0], ULIDS[0]),
        ("3-1042", "3-1042"),
        ("2026-01-05T08:00:00.123Z", "2026-01-05T08:00:00.123Z"),
        (" 7", " 7"),  # kept as sent: it is the feed's, not ours to trim
        ("x" * MAX_SEQUENCE_CHARS, "x" * MAX_SEQUENCE_CHARS),
        ("é-1", "é-1"),
    ],
)
def test_any_sequence_string_is_kept_exactly(value, kept):
    assert parse_sequence(value) == kept
    event = parse_event(ce("e1", "machine.down", {"machine_id": "M1"}, seq=value), fallback_source="f")
    assert event["error"] is None and event["sequence"] == kept


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("", "sequence is an empty string"),
        ("7\n8", "sequence '7\\n8' holds a control character (U+000A)"),
        ("a\x00b", "sequence 'a\\x00b' holds a control character (U+0000)"),
        ("x" * (MAX_SEQUENCE_CHARS + 1), f"is longer than {MAX_SEQUENCE_CHARS} characters"),
        (-1, "sequence -1 is negative"),
        (2**63, f"sequence {2**63} is above {2**63 - 1}"),
        (True, "sequence must be a string or an integer, got the JSON boolean true"),
        (1.5, "sequence must be a string or an integer, got the number 1.5"),
        ([2], "sequence must be a string or an integer, got a JSON array"),
    ],
)
def test_a_sequence_that_cannot_be_a_cursor_is_refused_naming_it(value, reason):
    with pytest.raises(ValueError, match="sequence") as caught:
        parse_sequence(value)
    assert reason in str(caught.value)
    store = plant()
    result = apply_events(
        store,
        [ce("bad", "machine.down", {"machine_id": "M1"}, seq=value), *adjustments(["1"])],
        feed="feed",
    )
    assert (result.applied, result.rejected) == (1, 1)
    assert reason in dict(result.rejections)["bad"]


def test_integer_sequences_are_ascii_digits_only():
    assert [integer_sequence(s) for s in ("0", "007", "12")] == [0, 7, 12]
    assert [integer_sequence(s) for s in (None, "", " 7", "+7", "7.0", "٣", "0-9", "1e3")] == [None] * 8


# --- stores written by an older version -----------------------------------------------------------------------


def _old_format_file(path, feed_url: str, *, index_on_log: bool = False) -> None:
    """The history tables as the versions before opaque cursors made them: sequences BIGINT."""
    con = duckdb.connect(str(path))
    con.execute(
        """
        CREATE TABLE event_log (
            source VARCHAR NOT NULL, event_id VARCHAR NOT NULL, sequence BIGINT, type VARCHAR,
            event_time TIMESTAMP, received_at TIMESTAMP NOT NULL, applied_at TIMESTAMP,
            outcome VARCHAR NOT NULL, reason VARCHAR, changes VARCHAR, data VARCHAR, feed VARCHAR,
            PRIMARY KEY (source, event_id)
        )
        """
    )
    con.execute(
        "CREATE TABLE feed_cursors (feed VARCHAR PRIMARY KEY, last_sequence BIGINT, etag VARCHAR, "
        "updated_at TIMESTAMP, position BIGINT, file_identity VARCHAR, file_head VARCHAR)"
    )
    con.execute(
        "INSERT INTO feed_cursors (feed, last_sequence, updated_at) VALUES (?, 41, TIMESTAMP '2026-01-05')", [feed_url]
    )
    for n in (40, 41):
        con.execute(
            "INSERT INTO event_log (source, event_id, sequence, type, event_time, received_at, applied_at, outcome, "
            "data, feed) VALUES (?, ?, ?, 'inventory.adjusted', TIMESTAMP '2026-01-05 08:00', "
            "TIMESTAMP '2026-01-05 08:00', TIMESTAMP '2026-01-05 08:00', 'applied', '{}', ?)",
            [SOURCE, f"e{n}", n, feed_url],
        )
    if index_on_log:
        con.execute("CREATE INDEX by_sequence ON event_log (sequence)")  # a user's own; DuckDB then refuses ALTER
        con.execute("CREATE INDEX by_type ON event_log (type)")
    con.close()


def _sequence_types(store: Store) -> dict[str, str]:
    rows = store.con.execute(
        "SELECT table_name, data_type FROM duckdb_columns() WHERE (table_name, column_name) IN "
        "(('event_log', 'sequence'), ('feed_cursors', 'last_sequence'))"
    ).fetchall()
    return dict(rows)


@pytest.mark.parametrize("index_on_log", [False, True], ids=["plain", "with-an-index"])
def test_an_older_store_keeps_its_position_and_the_next_poll_asks_after_it(feeds, tmp_path, index_on_log):
    feed = feeds(adjustments(list(range(40, 44))), order="number")
    for n, event in enumerate(feed.log, start=40):
        event["id"] = f"e{n}"
    db = tmp_path / "old.db"
    _old_format_file(db, feed.url, index_on_log=index_on_log)

    store = plant(Store.open(db))
    assert _sequence_types(store) == {"event_log": "VARCHAR", "feed_cursors": "VARCHAR"}
    assert feed_cursor(store.cursor(), feed.url) == "41"
    assert logged_sequences(store) == ["40", "41"]
    with pytest.raises(duckdb.ConstraintException):  # the history's primary key survived
        store.con.execute(
            "INSERT INTO event_log (source, event_id, received_at, outcome) VALUES (?, 'e40', now(), 'applied')",
            [SOURCE],
        )
    if index_on_log:
        indexes = store.con.execute("SELECT index_name FROM duckdb_indexes() WHERE table_name = 'event_log'")
        assert sorted(r[0] for r in indexes.fetchall()) == ["by_sequence", "by_type"]
    outcome = HttpFeed(store, feed.url, page_limit=10, **FAST).poll_once()
    assert feed.afters == ["41"]
    assert outcome.status.state == "live" and outcome.applied == 2 and outcome.status.last_sequence == "43"
    assert stock(store) == 5 + 2
    store.close()

    # Opening it again changes nothing (and costs one catalog query).
    with Store.open(db) as store:
        assert _sequence_types(store) == {"event_log": "VARCHAR", "feed_cursors": "VARCHAR"}
        assert feed_cursor(store.cursor(), feed.url) == "43"
        assert logged_sequences(store) == ["40", "41", "42", "43"]


def test_an_older_store_opened_read_only_reads_its_cursor_as_text(tmp_path):
    db = tmp_path / "old.db"
    _old_format_file(db, "http://mes.example/events")
    with Store.open(db, read_only=True) as store:
        assert feed_cursor(store.cursor(), "http://mes.example/events") == "41"
        assert [e["sequence"] for e in event_history(store.cursor())] == ["40", "41"]


@pytest.mark.parametrize(
    ("older", "newer", "merged"),
    [("10", "9", "10"), ("0009", "10", "10"), ("0-10", "0-9", "0-9"), ("9", "abc", "abc")],
    ids=["integers-by-number", "zero-padded", "strings-latest", "mixed-latest"],
)
def test_cursors_of_one_feed_under_several_credentials_merge_by_the_feeds_rule(tmp_path, older, newer, merged):
    db = tmp_path / "plant.db"
    with Store.open(db) as store:
        store.con.execute(
            "INSERT INTO feed_cursors (feed, last_sequence, updated_at) VALUES "
            "(?, ?, TIMESTAMP '2026-01-05 08:00:00'), (?, ?, TIMESTAMP '2026-01-05 09:00:00')",
            ["http://planner:pw1@mes.example/events", older, "http://other:pw2@mes.example/events", newer],
        )
    with Store.open(db) as store:
        rows = store.con.execute("SELECT feed, last_sequence FROM feed_cursors").fetchall()
    assert rows == [("http://***@mes.example/events", merged)]


# --- credentials -------------------------------------------------------------------------------------------


def test_the_http_feed_uses_the_credentials_for_its_url(feeds, monkeypatch):
    feed = feeds(adjustments(["1"]), order="lex")
    seen_headers: list[dict] = []
    asked: list[str] = []
    handler = feed._httpd.RequestHandlerClass
    original = handler.do_GET

    def recording(self):
        seen_headers.append(dict(self.headers))
        original(self)

    monkeypatch.setattr(handler, "do_GET", recording)

    def options(url, credentials=None):
        asked.append(url)
        return {"headers": {"Authorization": "Bearer t0k3n", "X-Plant": "north"}}

    monkeypatch.setattr(credentials, "httpx_options", options)
    outcome = HttpFeed(plant(), feed.url, **FAST).poll_once()
    assert outcome.applied == 1
    assert asked == [feed.url]
    assert seen_headers and all(h.get("Authorization") == "Bearer t0k3n" for h in seen_headers)
    assert all(h.get("X-Plant") == "north" and BATCH_CONTENT_TYPE in h.get("Accept", "") for h in seen_headers)
