"""CloudEvents pushed to the plant server (`POST /api/v1/events`), from the outside: real server processes
(tests/serverkit.py), producers over loopback TCP with tokens, no mocks. Binary, structured and batch mode
reach the store; a retry is applied once; what is refused (no token, a role without `ingest`, a source the
token is not for, an unreadable body) records nothing; what is answered 2xx survives a SIGKILL."""

from __future__ import annotations

import asyncio
import itertools
import json
import signal
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import serverkit
from serverkit import RunningServer, Stream, follow, start_server

from planner_tui.access.address import parse_address
from planner_tui.access.api import PREFIX
from planner_tui.server.http import _decode_events
from planner_tui.server.listen import _tcp_socket
from planner_tui.timeutil import utcnow

# serverkit's fixtures, used here (assigned, not imported: a test's parameter of the same name is them)
plant_server = serverkit.plant_server
shared_server = serverkit.shared_server
sample_plant_db = serverkit.sample_plant_db

# Tests sharing the module's server each push to machines of their own (the sample plant's running ones),
# so each can check that its machine changed, or did not.
MES = "urn:plant:nordhavn-aar:mes"
BATCH = "application/cloudevents-batch+json"
STRUCTURED = "application/cloudevents+json"
_ids = itertools.count(1)


@pytest.fixture
def server(shared_server: RunningServer) -> RunningServer:
    return shared_server


@pytest.fixture
def ingest_token(server: RunningServer) -> str:
    """A token of the ingest role, any source (a user of its own per test: names are unique per server)."""
    return server.add_user(f"mes-{next(_ids)}", "ingest")


# --- helpers --------------------------------------------------------------------------------------------


def down(machine: str, *, event_id: str | None = None, source: str = MES, **extra: Any) -> dict:
    """A structured-mode machine.down event, at the real clock (the server's "now")."""
    return {
        "specversion": "1.0",
        "id": event_id or f"push-test-{next(_ids)}-{time.monotonic_ns()}",
        "source": source,
        "type": "machine.down",
        "time": utcnow().isoformat() + "Z",
        "datacontenttype": "application/json",
        "data": {"machine_id": machine, "reason": "pushed by the test", "expected_minutes": 30},
        **extra,
    }


def post(
    server: RunningServer,
    token: str | None,
    *,
    content: bytes | str = b"",
    content_type: str | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """POST /api/v1/events over TCP, with `token` as the bearer (none when None)."""
    sent = dict(headers or {})
    if token is not None:
        sent["Authorization"] = f"Bearer {token}"
    if content_type is not None:
        sent["Content-Type"] = content_type
    return httpx.post(f"http://{server.tcp[4:]}{PREFIX}/events", content=content, headers=sent, timeout=30.0)


def push_batch(server: RunningServer, token: str, events: list[dict]) -> httpx.Response:
    return post(server, token, content=json.dumps(events), content_type=BATCH)


def machine_state(server: RunningServer, machine: str) -> str:
    states = {m["machine_id"]: m["state"] for m in server.client().machines()}
    assert machine in states, f"{machine} is not in the sample plant: {sorted(states)}"
    return str(states[machine])


def logged(server: RunningServer) -> list[dict]:
    """The whole event log, through the API (as the server's own user: an admin)."""
    history = server.client().event_history()
    assert history, "the sample plant's event log is never empty"
    return history


def logged_ids(server: RunningServer) -> Counter[tuple[str, str]]:
    return Counter((entry["source"], entry["id"]) for entry in logged(server))


def wait_for(condition: Callable[[], bool], what: str, within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not within {within} s"
        time.sleep(0.02)


# --- the three modes ------------------------------------------------------------------------------------


def test_binary_structured_and_batch_mode_each_reach_the_store(server, ingest_token):
    for machine in ("M-ASSY-01", "M-ASSY-02", "M-CNC-01"):
        assert machine_state(server, machine) == "running"
    binary_id = f"bin-{time.monotonic_ns()}"
    answer = post(
        server,
        ingest_token,
        content=json.dumps({"machine_id": "M-ASSY-01", "reason": "conveyor jam, station 3", "expected_minutes": 45}),
        content_type="application/json",
        headers={
            "ce-specversion": "1.0",
            "ce-id": binary_id,
            "ce-source": MES,
            "ce-type": "machine.down",
            "ce-time": utcnow().isoformat() + "Z",
            "ce-subject": "line%201",  # percent-encoded, as the binding sends a space
            "ce-sequence": "000412",
        },
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["applied"] == 1 and body["duplicates"] == body["rejected"] == body["unknown"] == 0, body
    assert body["rejections"] == [] and body["feed"].startswith("push:mes-")
    assert int(answer.headers["x-plant-version"]) == body["version"] > 0

    structured = down("M-ASSY-02")
    answer = post(server, ingest_token, content=json.dumps(structured), content_type=f"{STRUCTURED}; charset=utf-8")
    assert answer.status_code == 200, answer.text
    assert answer.json()["applied"] == 1 and answer.json()["version"] > body["version"]

    batch = [down("M-CNC-01"), {**down("M-CNC-01"), "type": "machine.up", "data": {"machine_id": "M-CNC-01"}}]
    batch[1]["time"] = batch[0]["time"]
    batch[0]["sequence"], batch[1]["sequence"] = "7", "8"  # the up comes after the down
    answer = push_batch(server, ingest_token, batch)
    assert answer.status_code == 200, answer.text
    assert answer.json()["applied"] == 2

    assert machine_state(server, "M-ASSY-01") == "down"
    assert machine_state(server, "M-ASSY-02") == "down"
    assert machine_state(server, "M-CNC-01") == "running"  # down, then up again: both applied in order
    mine = {e["id"]: e for e in logged(server) if e["id"] in {binary_id, structured["id"], *(b["id"] for b in batch)}}
    assert set(mine) == {binary_id, structured["id"], batch[0]["id"], batch[1]["id"]}
    assert {e["feed"] for e in mine.values()} == {body["feed"]}
    assert {e["outcome"] for e in mine.values()} == {"applied"}
    binary = mine[binary_id]
    assert binary["source"] == MES and binary["type"] == "machine.down"
    assert binary["data"] == {"machine_id": "M-ASSY-01", "reason": "conveyor jam, station 3", "expected_minutes": 45}
    assert str(binary["sequence"]).lstrip("0") == "412"


def test_binary_mode_headers_are_the_events_attributes_percent_decoded():
    """In-process: what the server makes of a binary-mode request (the headers as the ASGI server hands them
    over: names in lower case, bytes as Latin-1)."""
    raw_utf8 = "Kühlung".encode().decode("latin-1")  # a producer that sent UTF-8 unencoded
    headers = {
        "ce-specversion": "1.0",
        "ce-id": "a%2Fb",
        "ce-source": MES,
        "ce-type": "machine.down",
        "ce-subject": "line%201%20%E2%80%93%20K%C3%BChlung",
        "ce-station": raw_utf8,
        "ce-sequence": "000412",
        "content-type": "application/json; charset=utf-8",
        "authorization": "Bearer x",
    }
    [event] = _decode_events("binary", headers, b'{"machine_id": "M-1", "reason": "jam"}')
    assert event == {
        "specversion": "1.0",
        "id": "a/b",
        "source": MES,
        "type": "machine.down",
        "subject": "line 1 \u2013 K\u00fchlung",
        "station": "K\u00fchlung",
        "sequence": "000412",
        "datacontenttype": "application/json; charset=utf-8",
        "data": {"machine_id": "M-1", "reason": "jam"},
    }


def test_a_retried_push_is_answered_2xx_again_and_applied_once(server, ingest_token):
    batch = [down("M-LASER-01"), down("M-LASER-01", reason_code="x")]
    first = push_batch(server, ingest_token, batch)
    assert first.status_code == 200 and first.json()["applied"] == 2, first.text
    again = push_batch(server, ingest_token, batch)  # the producer did not hear the answer: it sends again
    assert again.status_code == 200, again.text
    assert {k: again.json()[k] for k in ("applied", "duplicates", "rejected")} == {
        "applied": 0,
        "duplicates": 2,
        "rejected": 0,
    }
    assert again.json()["version"] == first.json()["version"]  # nothing new: no change for anyone
    once = post(server, ingest_token, content=json.dumps(batch[0]), content_type=STRUCTURED)
    assert once.status_code == 200 and once.json()["duplicates"] == 1
    counted = logged_ids(server)
    assert [counted[(MES, event["id"])] for event in batch] == [1, 1]


def test_a_pushed_sequence_below_an_earlier_one_is_still_applied(server, ingest_token):
    """Pushed events are told apart by source+id only: a producer's sequences need not rise across pushes."""
    high = down("M-PRESS-01", sequence="900")
    low = down("M-PRESS-02", sequence="5", source=f"{MES}:line-2")
    for event in (high, low):
        answer = post(server, ingest_token, content=json.dumps(event), content_type=STRUCTURED)
        assert answer.status_code == 200 and answer.json()["applied"] == 1, answer.text
    assert machine_state(server, "M-PRESS-01") == machine_state(server, "M-PRESS-02") == "down"


# --- refused: nothing recorded --------------------------------------------------------------------------


def test_no_token_or_a_bad_one_is_401_and_changes_nothing(server):
    before = logged_ids(server)
    event = down("M-SAW-01")
    for token, headers in ((None, {}), ("not-a-token", {}), (None, {"Authorization": "Basic bWVzOm1lcw=="})):
        answer = post(server, token, content=json.dumps([event]), content_type=BATCH, headers=headers)
        assert answer.status_code == 401, answer.text
        assert answer.json()["kind"] == "NotAuthenticated"
        assert answer.headers["www-authenticate"].startswith("Bearer")
    assert logged_ids(server) == before
    assert machine_state(server, "M-SAW-01") == "running"


def test_a_role_without_ingest_is_403_and_changes_nothing(server):
    before = logged_ids(server)
    event = down("M-SAW-01")
    refused = 0
    for role in ("viewer", "planner", "admin"):  # an admin's token is a person's: it reads, it does not push
        token = server.add_user(f"{role}-{next(_ids)}", role)
        answer = push_batch(server, token, [event])
        assert answer.status_code == 403, answer.text
        assert answer.json()["kind"] == "NotAllowed" and role in answer.json()["error"]
        refused += 1
    # the server's own OS user on the Unix socket is an admin, so it may not push either
    with httpx.Client(transport=httpx.HTTPTransport(uds=str(server.socket)), base_url="http://planner-tui") as raw:
        answer = raw.post(f"{PREFIX}/events", content=json.dumps([event]), headers={"Content-Type": BATCH})
    assert answer.status_code == 403 and "admin" in answer.json()["error"], answer.text
    assert refused == 3
    assert logged_ids(server) == before
    assert machine_state(server, "M-SAW-01") == "running"
    # and an ingest token reads nothing
    reader = httpx.get(
        f"http://{server.tcp[4:]}{PREFIX}/machines",
        headers={"Authorization": f"Bearer {server.add_user(f'feed-{next(_ids)}', 'ingest')}"},
    )
    assert reader.status_code == 403, reader.text


def test_a_per_source_token_pushes_its_own_sources_only(server):
    name = f"line-{next(_ids)}"
    added = server.cli(
        "users", "add", name, "--role", "ingest", "--source", MES, "--source", f"{MES}:b", "--server", server.unix
    )
    assert added.returncode == 0, added.stderr
    assert f"sources {MES}, {MES}:b" in added.stdout
    token = added.stdout.rstrip("\n").splitlines()[-1]
    who = httpx.get(f"http://{server.tcp[4:]}{PREFIX}/whoami", headers={"Authorization": f"Bearer {token}"})
    assert who.json() == {"user": name, "role": "ingest", "via": "token", "sources": [MES, f"{MES}:b"]}
    listed = server.cli("users", "list", "--json", "--server", server.unix)
    assert next(p for p in json.loads(listed.stdout) if p["name"] == name)["sources"] == [MES, f"{MES}:b"]

    before = logged_ids(server)
    mixed = [down("M-TEST-01"), down("M-TEST-01", source="urn:plant:nordhavn-aar:erp")]
    answer = push_batch(server, token, mixed)
    assert answer.status_code == 403, answer.text
    assert "urn:plant:nordhavn-aar:erp" in answer.json()["error"] and "nothing" in answer.json()["error"]
    assert logged_ids(server) == before  # not even the event of its own source
    assert machine_state(server, "M-TEST-01") == "running"

    answer = push_batch(server, token, mixed[:1])
    assert answer.status_code == 200 and answer.json()["applied"] == 1, answer.text
    assert machine_state(server, "M-TEST-01") == "down"

    viewer = server.cli("users", "add", f"v-{next(_ids)}", "--role", "viewer", "--source", MES, "--server", server.unix)
    assert viewer.returncode != 0 and "--role ingest" in viewer.stderr


def test_an_unreadable_body_is_refused_whole_and_records_nothing(server, ingest_token):
    before = logged_ids(server)
    good = down("M-SAW-01")
    cases = [
        (400, {"content": b"{not json", "content_type": STRUCTURED}),
        (400, {"content": json.dumps(good)[:-1], "content_type": BATCH}),
        (400, {"content": json.dumps([good]), "content_type": STRUCTURED}),  # a batch sent as one event
        (400, {"content": json.dumps(good), "content_type": BATCH}),  # one event sent as a batch
        (400, {"content": b"", "content_type": BATCH}),
        (400, {"content": b'["\xff\xfe"]', "content_type": BATCH}),  # not UTF-8
        (415, {"content": json.dumps(good), "content_type": "application/json"}),  # no mode at all
        (415, {"content": json.dumps([good]), "content_type": "text/plain"}),
        (
            415,
            {
                "content": b"machine down",
                "content_type": "text/plain",
                "headers": {k: str(v) for k, v in [("ce-specversion", "1.0"), ("ce-id", "t-1"), ("ce-source", MES)]},
            },
        ),
        (413, {"content": b"{" + b" " * (1 << 20) + b"}", "content_type": STRUCTURED}),
        (413, {"content": "[" + ",".join(["{}"] * 100_001) + "]", "content_type": BATCH}),  # too many events
    ]
    for status, request in cases:
        answer = post(server, ingest_token, **request)  # type: ignore[arg-type]
        assert answer.status_code == status, (request.get("content_type"), answer.text)
        assert answer.json()["kind"] in ("BadRequest", "PayloadTooLarge", "UnsupportedMediaType")
        assert answer.json()["error"]
    assert len(cases) == 11
    assert logged_ids(server) == before
    assert machine_state(server, "M-SAW-01") == "running"


def test_a_rejected_event_is_answered_2xx_with_its_reason_and_kept(server, ingest_token):
    nope = down("M-NOPE")
    unknown = {**down("M-SAW-01"), "type": "com.example.coffee.brewed", "data": {"cups": 2}}
    malformed = {k: v for k, v in down("M-SAW-01").items() if k != "time"}
    answer = push_batch(server, ingest_token, [nope, unknown, malformed])
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["applied"], body["rejected"], body["unknown"], body["duplicates"]) == (0, 2, 1, 0)
    reasons = {r["id"]: r["reason"] for r in body["rejections"]}
    assert set(reasons) == {nope["id"], malformed["id"]}
    assert "unknown machine M-NOPE" in reasons[nope["id"]] and "missing time" in reasons[malformed["id"]]
    kept = {e["id"]: e for e in logged(server) if e["id"] in {nope["id"], unknown["id"], malformed["id"]}}
    assert {i: (e["outcome"], e["reason"]) for i, e in kept.items()} == {
        nope["id"]: ("rejected", reasons[nope["id"]]),
        unknown["id"]: ("unknown_type", None),
        malformed["id"]: ("rejected", reasons[malformed["id"]]),
    }
    assert machine_state(server, "M-SAW-01") == "running"
    again = push_batch(server, ingest_token, [nope])  # kept once: a retry of a rejected event is a duplicate
    assert again.status_code == 200 and again.json()["duplicates"] == 1


# --- who hears it ---------------------------------------------------------------------------------------


def test_a_push_is_heard_on_the_live_stream_and_by_a_console(server, ingest_token):
    stream = Stream(server, hello_within=10.0)
    console = server.client()
    follow(console)
    try:
        answer = push_batch(server, ingest_token, [down("M-WELD-02")])
        assert answer.status_code == 200 and answer.json()["applied"] == 1, answer.text
        feed, version = answer.json()["feed"], answer.json()["version"]

        def heard() -> list[dict]:
            return [d for e, d in stream.heard if e == "change" and d.get("version") == version]

        wait_for(lambda: bool(heard()), "the stream never heard the push")
        assert heard() == [{**heard()[0], "what": "events", "applied": 1, "feed": feed, "who": feed[5:]}]
        applied = 0
        deadline = time.monotonic() + 10
        while applied < 1:  # what the console's refresh reads: the events its stream heard
            assert time.monotonic() < deadline, "the console never heard the push"
            applied += console.poll_feed()["applied"]
        assert console.machines() and machine_state(server, "M-WELD-02") == "down"
    finally:
        stream.close()


# --- SIGKILL --------------------------------------------------------------------------------------------


class Producer(threading.Thread):
    """Pushes small batches (unique ids) in a loop until told to stop or the server is gone: which requests
    were answered 2xx, and which were sent without an answer."""

    BATCH = 20

    def __init__(self, server: RunningServer, token: str) -> None:
        super().__init__(daemon=True)
        self.url = f"http://{server.tcp[4:]}{PREFIX}/events"
        self.token = token
        self.acknowledged: list[list[str]] = []
        self.unanswered: list[list[str]] = []
        self.failures: list[str] = []
        self.stop = threading.Event()

    def run(self) -> None:
        machines = ["M-ASSY-01", "M-CNC-01", "M-PAINT-01", "M-SAW-01"]
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": BATCH}
        with httpx.Client(timeout=30.0) as client:
            for n in itertools.count():
                if self.stop.is_set():
                    return
                batch = [down(machines[i % len(machines)], event_id=f"kill-{n}-{i}") for i in range(self.BATCH)]
                try:
                    answer = client.post(self.url, content=json.dumps(batch), headers=headers)
                except httpx.HTTPError:
                    self.unanswered.append([e["id"] for e in batch])
                    return  # the server is gone
                if answer.status_code != 200 or answer.json()["applied"] != self.BATCH:
                    self.failures.append(f"{answer.status_code} {answer.text[:300]}")
                    return
                self.acknowledged.append([e["id"] for e in batch])


def test_what_a_push_was_answered_survives_a_sigkill_and_nothing_twice(plant_server):
    token = plant_server.add_user("mes", "ingest")
    before = logged_ids(plant_server)
    producer = Producer(plant_server, token)
    producer.start()
    wait_for(lambda: len(producer.acknowledged) >= 10 or not producer.is_alive(), "ten batches answered", 60)
    assert not producer.failures, producer.failures
    assert plant_server.kill() == -signal.SIGKILL  # mid-way: the producer is pushing the next batch
    producer.stop.set()
    producer.join(30)
    assert not producer.is_alive() and not producer.failures, producer.failures
    acknowledged = [event_id for batch in producer.acknowledged for event_id in batch]
    print(f"{len(producer.acknowledged)} batches answered 2xx, {len(producer.unanswered)} sent without an answer")
    assert len(acknowledged) >= 10 * Producer.BATCH

    again = start_server(plant_server.db, folder=plant_server.folder, socket=plant_server.socket)
    try:
        counted = logged_ids(again)
        missing = [event_id for event_id in acknowledged if counted[(MES, event_id)] != 1]
        assert missing == [], f"{len(missing)} acknowledged events lost or doubled: {missing[:5]}"
        assert max(counted.values()) == 1, [key for key, n in counted.items() if n > 1][:5]  # nothing twice
        for key, n in before.items():
            assert counted[key] == n
        # what was sent and never answered is there whole or not at all (one transaction per request)
        for batch in producer.unanswered:
            assert len({counted[(MES, event_id)] for event_id in batch}) == 1
        # the restarted server takes the producer's retry of what it never heard answered: applied once
        retry = [down("M-PAINT-01", event_id=event_id) for batch in producer.unanswered for event_id in batch]
        if retry:
            answer = push_batch(again, token, retry)
            assert answer.status_code == 200, answer.text
            assert answer.json()["applied"] + answer.json()["duplicates"] == len(retry)
        answer = push_batch(again, token, [down("M-PAINT-01", event_id="after-the-kill")])
        assert answer.status_code == 200 and answer.json()["applied"] == 1, answer.text
        assert max(logged_ids(again).values()) == 1
    finally:
        code = again.stop()
        print(f"--- restarted plant server PID {again.pid} (exit {code}) ---\n{again.log()}")


# --- TCP without Nagle -----------------------------------------------------------------------------------


def test_the_servers_tcp_connections_have_nagle_off():
    """asyncio turns Nagle off (TCP_NODELAY) only on sockets whose proto says TCP. The server's listening
    socket once had proto 0: each answer on TCP (head and body, two writes) then waited for the client's
    delayed ACK, ~40 ms a request, which bench_push.py showed as a third of a 500-event push."""
    listening = _tcp_socket(parse_address("tcp:127.0.0.1:0"))

    async def accepted() -> list[int]:
        found: list[int] = []
        heard = asyncio.Event()

        class Probe(asyncio.Protocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                found.append(transport.get_extra_info("socket").getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
                transport.close()
                heard.set()

        server = await asyncio.get_running_loop().create_server(Probe, sock=listening)
        _, writer = await asyncio.open_connection("127.0.0.1", listening.getsockname()[1])
        await asyncio.wait_for(heard.wait(), 10)
        writer.close()
        server.close()
        await server.wait_closed()
        return found

    found = asyncio.run(accepted())
    assert len(found) == 1 and found[0] != 0, found
