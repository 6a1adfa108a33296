"""Poisoned feed lines of every kind: nesting Python cannot parse, lone surrogates, invalid UTF-8, NUL
bytes, huge lines, numbers out of range, every envelope attribute of the wrong type or missing, times
at the ends of the calendar.

Each poisoned line is kept in the history once, as rejected with a reason, and the good events around
it are applied: the feed goes on (file feeds, HTTP feeds, and `planner-tui events pull` end to end).
"""

from __future__ import annotations

import json

import pytest
from eventkit import SOURCE, ce, plant

from faults.kit import Answer, HostileServer, run_cli
from planner_tui.feeds.file import FileFeed
from planner_tui.feeds.http import HttpFeed
from planner_tui.store import Store
from planner_tui.store.events import BATCH_CONTENT_TYPE

DEEP = 100_000  # nesting levels: far past Python's recursion limit


def event(event_id: str = "bad", **changes) -> dict:
    base = ce(event_id, "machine.down", {"machine_id": "M1", "reason": "jam"}, seq=2)
    for key, value in changes.items():
        if value is _DROP:
            base.pop(key, None)
        else:
            base[key] = value
    return base


_DROP = object()


def line(obj: dict, **raw_members: str) -> bytes:
    """The event as one JSON line, with some members given as raw JSON text (what json.dumps won't write:
    lone surrogate escapes, nesting beyond the recursion limit, numbers beyond a float)."""
    text = json.dumps({k: v for k, v in obj.items() if k not in raw_members})
    return (text[:-1] + "".join(f", {json.dumps(k)}: {v}" for k, v in raw_members.items()) + "}").encode()


def data_with(*raw_members: str) -> bytes:
    """An event whose data holds raw JSON members (`'"key": value'` as text) besides a valid machine_id."""
    return line(event(), data="{" + ", ".join(['"machine_id": "M1"', *raw_members]) + "}")


# name -> (the poisoned line as bytes, the envelope attribute its reason must name, or None).
# Lines that stay inside a JSON array are also served by HTTP (HTTP_CASES).
CASES: dict[str, tuple[bytes, str | None]] = {
    # nesting beyond what a recursive parser can read
    "deep array, unclosed": (b"[" * DEEP, None),
    "deep array, closed": (b"[" * DEEP + b"]" * DEEP, None),
    "deep object": (b'{"a":' * DEEP + b"1" + b"}" * DEEP, None),
    "deep data": (line(event(), data="[" * DEEP + "]" * DEEP), None),
    "deep member of data": (data_with('"extra": ' + '{"a":' * DEEP + "1" + "}" * DEEP), None),
    "deep extension attribute": (line(event(), deepext="[" * DEEP + "]" * DEEP), None),
    # lone surrogates: valid JSON escapes that no UTF-8 writer can store
    "lone surrogate in id": (line(event(), id='"bad\\ud800"'), "id"),
    "lone surrogate in source": (line(event(), source='"urn:x:\\udfff"'), "source"),
    "lone surrogate in type": (line(event(), type='"machine.down\\ud800"'), "type"),
    "lone surrogate in data value": (data_with('"reason": "jam \\ud800"'), "data"),
    "lone surrogate in data key": (data_with('"\\udc00": 1'), "data"),
    "lone surrogate in an extension": (line(event(), myext='"\\ud800\\ud800"'), None),
    # bytes that are not UTF-8, and NUL bytes
    "invalid UTF-8 in a value": (line(event(), id='"bad-\xff\xfe"').replace(b"\xc3\xbf\xc3\xbe", b"\xff\xfe"), None),
    "truncated UTF-8 sequence": (line(event(), id='"bad-\xe2"').replace(b"\xc3\xa2", b"\xe2\x82"), None),
    "overlong UTF-8 encoding": (line(event(), id='"bad-/"').replace(b"-/", b"-\xc0\xaf"), None),
    "NUL byte in a value": (line(event(), id='"bad-X"').replace(b"-X", b"-\x00"), None),
    "NUL bytes alone": (b"\x00" * 64, None),
    # numbers out of range
    "sequence above 2^63-1": (line(event(), sequence=str(2**63)), "sequence"),
    "negative sequence": (line(event(), sequence="-1"), "sequence"),
    "integer of 5000 digits": (data_with('"expected_minutes": ' + "9" * 5000), None),
    "integer above 2^31-1": (data_with(f'"expected_minutes": {2**31}'), "data"),
    "float overflowing to infinity": (
        line(
            ce("bad", "inventory.adjusted", {}, seq=2), data='{"item_id": "FG1", "location": "WH", "qty_delta": 1e400}'
        ),
        "data",
    ),
    "integer beyond a float": (
        line(
            ce("bad", "inventory.adjusted", {}, seq=2),
            data='{"item_id": "FG1", "location": "WH", "qty_delta": ' + "9" * 400 + "}",
        ),
        None,
    ),
    "NaN quantity": (
        line(ce("bad", "inventory.adjusted", {}, seq=2), data='{"item_id": "FG1", "location": "WH", "qty_delta": NaN}'),
        "data",
    ),
    "line number above 2^31-1": (
        line(ce("bad", "order.cancelled", {"sales_order_id": "SO1", "line_no": 2**31}, seq=2)),
        "data",
    ),
    # the calendar's ends
    "year 1": (line(event(time="0001-01-01T00:00:00Z")), "time"),
    "year 9999": (line(event(time="9999-12-31T23:59:59.999999Z")), "time"),
    "year 1 pushed before it by an offset": (line(event(time="0001-01-01T00:00:00+01:00")), "time"),
    "year 9999 pushed past it by an offset": (line(event(time="9999-12-31T23:59:59-01:00")), "time"),
    "year 0": (line(event(time="0000-06-01T00:00:00Z")), "time"),
    "month 13": (line(event(time="2026-13-01T00:00:00Z")), "time"),
    "offset +99:99": (line(event(time="2026-01-05T08:00:00+99:99")), "time"),
    # every envelope attribute of the wrong type, or missing
    **{
        f"{attribute} = {value!r}": (line(event(**{attribute: value})), attribute)
        for attribute, value in [
            ("specversion", 1.0),
            ("specversion", ["1.0"]),
            ("specversion", {"v": "1.0"}),
            ("specversion", "0.3"),
            ("id", 42),
            ("id", ["x"]),
            ("id", {"x": 1}),
            ("id", True),
            ("id", ""),
            ("source", 7),
            ("source", ["urn:x"]),
            ("source", ""),
            ("type", 3),
            ("type", ["machine.down"]),
            ("type", ""),
            ("time", 1767600000),
            ("time", ["2026-01-05T08:00:00Z"]),
            ("time", {"t": 1}),
            ("time", "yesterday"),
            ("sequence", 1.5),
            ("sequence", ""),
            ("sequence", "line\nbreak"),
            ("sequence", "x" * 257),
            ("sequence", [2]),
            ("sequence", True),
            ("sequence", {"n": 2}),
            ("data", "machine M1 is down"),
            ("data", 5),
            ("data", ["M1"]),
            ("data", True),
            ("datacontenttype", 5),
            ("datacontenttype", ["application/json"]),
            ("datacontenttype", "text/plain"),
        ]
    },
    **{
        f"missing {attribute}": (line(event(**{attribute: _DROP})), attribute)
        for attribute in ("specversion", "id", "source", "type", "time", "data")
    },
    "data_base64 instead of data": (line(event(data=_DROP, data_base64="bWFjaGluZQ==")), "data"),
    # data of the wrong shape for its type
    "machine_id an object": (line(ce("bad", "machine.down", {"machine_id": {"id": "M1"}}, seq=2)), "data"),
    "location a list": (
        line(ce("bad", "inventory.adjusted", {"item_id": "FG1", "location": ["WH"], "qty_delta": 1}, seq=2)),
        "data",
    ),
    "qty_delta a string": (
        line(ce("bad", "inventory.adjusted", {"item_id": "FG1", "location": "WH", "qty_delta": "2"}, seq=2)),
        "data",
    ),
    # not an event at all
    "a JSON array": (b"[1, 2, 3]", None),
    "a JSON string": (b'"machine.down"', None),
    "a JSON number": (b"1e999", None),
    "null": (b"null", None),
    "half an object": (b'{"specversion": "1.0", "id": "bad", ', None),
}


def _bad_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


# What an HTTP page can hold as one element of its array: text that is UTF-8, and no raw NUL or half object.
HTTP_CASES = [
    name
    for name, (raw, _) in CASES.items()
    if name not in ("deep array, unclosed", "half an object") and b"\x00" not in raw and not _bad_utf8(raw)
]

GOOD_BEFORE = ce("good-before", "machine.down", {"machine_id": "M2", "reason": "before"}, seq=1)
GOOD_AFTER = ce("good-after", "inventory.adjusted", {"item_id": "FG1", "location": "WH", "qty_delta": 2}, seq=3)


def _check_kept_and_went_on(store: Store, name: str, attribute: str | None) -> None:
    cur = store.cursor()
    rows = cur.execute("SELECT event_id, outcome, reason FROM event_log").fetchall()
    by_id = {r[0]: r for r in rows}
    assert by_id.get("good-before", (None, None))[1] == "applied", rows
    assert by_id.get("good-after", (None, None))[1] == "applied", f"the feed did not go on after {name!r}: {rows}"
    poisoned = [r for r in rows if r[0] not in ("good-before", "good-after")]
    assert len(poisoned) == 1, f"{name!r} should be kept once, as rejected: {poisoned}"
    _, outcome, reason = poisoned[0]
    assert outcome == "rejected" and reason, f"{name!r} was {outcome} ({reason})"
    if attribute is not None:
        assert attribute in reason, f"the reason for {name!r} does not name {attribute}: {reason!r}"
    assert cur.execute("SELECT count(*) FROM machine_states WHERE machine_id = 'M1'").fetchall() == [(0,)], (
        f"the rejected {name!r} changed machine M1"
    )
    assert cur.execute("SELECT qty FROM inventory WHERE item_id = 'FG1' AND location = 'WH'").fetchall() == [(7.0,)]


@pytest.mark.parametrize("name", list(CASES))
def test_a_poisoned_line_in_a_file_feed_is_rejected_and_the_feed_goes_on(tmp_path, name):
    raw, attribute = CASES[name]
    path = tmp_path / "events.jsonl"
    path.write_bytes(json.dumps(GOOD_BEFORE).encode() + b"\n" + raw + b"\n" + json.dumps(GOOD_AFTER).encode() + b"\n")
    store = plant()
    feed = FileFeed(store, path)
    outcome = feed.poll_once()
    assert outcome.status.state == "live", f"{name!r}: {outcome.status.last_error}"
    _check_kept_and_went_on(store, name, attribute)
    logged = store.cursor().execute("SELECT count(*) FROM event_log").fetchall()[0][0]
    again = feed.poll_once()  # nothing is left over, nothing is read twice
    assert again.status.state == "live" and (again.result is None or again.result.received == 0)
    assert store.cursor().execute("SELECT count(*) FROM event_log").fetchall()[0][0] == logged == 3


def test_a_huge_line_in_a_file_feed_is_rejected_and_the_feed_goes_on(tmp_path):
    """A line larger than an HTTP feed's answer may be (64 MiB) is refused like that answer."""
    huge = line(event(), reason=json.dumps("x" * (65 << 20)))
    path = tmp_path / "events.jsonl"
    path.write_bytes(json.dumps(GOOD_BEFORE).encode() + b"\n" + huge + b"\n" + json.dumps(GOOD_AFTER).encode() + b"\n")
    del huge
    store = plant()
    outcome = FileFeed(store, path).poll_once()
    assert outcome.status.state == "live", outcome.status.last_error
    _check_kept_and_went_on(store, "huge line", None)
    stored = store.cursor().execute("SELECT max(length(data)) FROM event_log").fetchall()[0][0]
    assert stored < 1 << 20, f"the history keeps {stored:,} characters of one refused line"


@pytest.fixture
def page_server():
    made = []

    def serve(body: bytes) -> HostileServer:
        server = HostileServer(
            lambda path, q: Answer(200, {"Content-Type": BATCH_CONTENT_TYPE}, b"[]" if "after" in q else body)
        )
        made.append(server)
        return server

    yield serve
    for server in made:
        server.stop()


@pytest.mark.parametrize("name", HTTP_CASES)
def test_a_poisoned_element_of_an_http_page_is_rejected_and_the_feed_goes_on(page_server, name):
    raw, attribute = CASES[name]
    body = b"[" + json.dumps(GOOD_BEFORE).encode() + b", " + raw + b", " + json.dumps(GOOD_AFTER).encode() + b"]"
    server = page_server(body)
    store = plant()
    outcome = HttpFeed(store, server.url("/events"), timeout=5.0, retries=0).poll_once()
    assert outcome.status.state == "live", f"{name!r}: {outcome.status.last_error}"
    _check_kept_and_went_on(store, name, attribute)
    assert outcome.status.last_sequence == "3"


def test_pull_reads_a_file_of_every_poison_to_its_end(tmp_path, event_plant_db):
    """End to end: one file, every poisoned line between good events, pulled by the command line."""
    names = list(CASES)
    lines = []
    for i, name in enumerate(names):
        lines.append(
            json.dumps(
                ce(
                    f"good-{i}",
                    "inventory.adjusted",
                    {"item_id": "FG1", "location": "WH", "qty_delta": 1},
                    seq=10 * i + 1,
                )
            ).encode()
        )
        lines.append(CASES[name][0].replace(b'"bad', b'"bad%d-' % i))  # one identity per poisoned line
    lines.append(json.dumps(ce("good-last", "machine.down", {"machine_id": "M2", "reason": "last"})).encode())
    feed = tmp_path / "poison.jsonl"
    feed.write_bytes(b"\n".join(lines) + b"\n")
    result = run_cli("events", "pull", feed, "--db", event_plant_db)
    assert "Traceback" not in result.stdout + result.stderr, result.stderr[-3000:]
    assert result.returncode == 0, result.stderr[-3000:]
    with Store.open(event_plant_db) as store:
        cur = store.cursor()
        outcomes = dict(cur.execute("SELECT outcome, count(*) FROM event_log GROUP BY outcome").fetchall())
        assert outcomes == {"applied": len(names) + 1, "rejected": len(names)}, outcomes
        assert cur.execute("SELECT qty FROM inventory WHERE item_id = 'FG1' AND location = 'WH'").fetchall() == [
            (5.0 + len(names),)
        ]
        assert cur.execute("SELECT state FROM machine_states WHERE machine_id = 'M2'").fetchall() == [("down",)]
        assert cur.execute(
            "SELECT count(*) FROM event_log WHERE outcome = 'applied' AND source <> ?", [SOURCE]
        ).fetchall() == [(0,)]
