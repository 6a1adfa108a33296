"""The plant server (`planner-tui serve`), from the outside: real server processes (tests/serverkit.py),
clients over its Unix socket and TCP, no mocks. Every answer through the server is the in-process answer;
who acts is who the kernel or the token says; roles, tokens, ETags, the live stream and loads behave as
docs/deploy.md promises."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import serverkit
import typer
from serverkit import AT, SNAPSHOT, RunningServer, Stream, follow

from planner_tui import wire
from planner_tui.access import LocalPlant
from planner_tui.access.api import PREFIX, endpoints
from planner_tui.access.remote import RemotePlant
from planner_tui.errors import BadRequest, NotAllowed, NotAuthenticated, NotFound, PlannerError, SnapshotError
from planner_tui.store import Store
from planner_tui.store.loader import load_snapshot
from planner_tui.timeutil import utcnow

# serverkit's fixtures, used here (assigned, not imported: a test's parameter of the same name is them)
plant_server = serverkit.plant_server
shared_server = serverkit.shared_server
sample_plant_db = serverkit.sample_plant_db

# Tests that only read, or triage an exception of a kind no other test here triages, share one server per
# module (and worker); a test whose plant must be the sample's exactly, or that loads, has its own.
# Kinds triaged on the shared server: machine_down (two clients), quality_hold (viewer: stays open),
# shortage (ETag), the first late_order and no_supply (spoofing), the second late_order (revoked token),
# the last late_order (every action).


@pytest.fixture
def server(shared_server: RunningServer) -> RunningServer:
    return shared_server


OS_USER = pwd.getpwuid(os.getuid()).pw_name  # who the kernel says the client (and the server) is


# --- helpers --------------------------------------------------------------------------------------------


def over_wire(answer: Any) -> Any:
    """An in-process answer as it reads back from JSON (times to the second, tuples as lists)."""
    return wire.loads(wire.to_json(answer))


def raw_client(server: RunningServer) -> httpx.Client:
    """Plain HTTP over the server's Unix socket (no RemotePlant), to see statuses and headers."""
    return httpx.Client(
        transport=httpx.HTTPTransport(uds=str(server.socket)), base_url="http://planner-tui", timeout=10.0
    )


def live_exception(plant: RemotePlant | LocalPlant, kind: str, index: int = 0) -> str:
    """The id of an exception of `kind` raised now (triage acts at the server's clock): the `index`th in id
    order, whatever triage did to the others (tests sharing a server each take their own)."""
    listed = plant.exceptions(at=utcnow(), include_resolved=True)["exceptions"]
    found = sorted(e["exception_id"] for e in listed if e["kind"] == kind)
    assert len(found) > max(index, -index - 1), f"the sample plant raises too few {kind} now: {found}"
    return found[index]


def triage_history(plant: RemotePlant, exception_id: str) -> list[dict]:
    """The triage actions in an exception's history (which also holds its subject's events)."""
    return [entry for entry in plant.exception(exception_id, at=utcnow())["history"] if entry["kind"] == "triage"]


def wait_changed(plant: RemotePlant, within: float) -> float:
    """Seconds until the client's poll_feed says something changed (fails after `within`)."""
    started = time.monotonic()
    while time.monotonic() - started < within:
        if plant.poll_feed()["changed"]:
            return time.monotonic() - started
    raise AssertionError(f"no change heard within {within} s")


def one_line_error(result: Any) -> str:
    """A CLI failure's message: one line on stderr, no traceback."""
    assert "Traceback" not in result.stderr + result.stdout, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


# --- every question answers as in-process --------------------------------------------------------------


@dataclass
class SampleIds:
    """Real ids from the sample plant, found through its own answers."""

    exception: str
    machine: str  # stopped
    hold: str
    lot: str
    item: str
    other_item: str
    production_order: str
    sales_order_line: str
    shipment: str
    customer: str
    resource: str


def sample_ids(plant: LocalPlant) -> SampleIds:
    machine = plant.machines(stopped_only=True)[0]["machine_id"]
    hold = plant.holds()[0]
    shortages = plant.shortages(at=AT)["shortages"]
    next_op = plant.machine(machine, at=AT)["next_operations"][0]
    return SampleIds(
        exception=plant.exceptions(at=AT)["exceptions"][0]["exception_id"],
        machine=machine,
        hold=hold["hold_id"],
        lot=hold["lot_id"],
        item=shortages[0]["item_id"],
        other_item=plant.find("casting", kind="item", limit=1)[0]["id"],
        production_order=next_op["production_order_id"],
        sales_order_line=f"{next_op['sales_order_id']}/{next_op['line_no']}",
        shipment=plant.find("SH", kind="shipment", limit=1)[0]["id"],
        customer=plant.find("water", kind="customer", limit=1)[0]["id"],
        resource=plant.find("", kind="resource", limit=1)[0]["id"],
    )


Call = tuple[tuple[Any, ...], dict[str, Any]]


def question_cases(ids: SampleIds) -> dict[str, list[Call]]:
    """Each question with the arguments it is asked with: every optional argument at least once."""
    hour = timedelta(hours=1)
    return {
        "exceptions": [
            ((), {"at": AT}),
            ((), {"at": AT, "include_resolved": True, "include_snoozed": False}),
            ((), {"at": AT, "kinds": ["machine_down", "quality_hold"]}),
            ((), {"at": AT, "as_of": AT - hour}),  # the plant as it stood (issue 14): the same on both sides
        ],
        "exception_kinds": [((), {})],
        "exception": [((ids.exception,), {"at": AT}), ((ids.exception,), {"at": AT, "as_of": AT})],
        "owners": [((), {})],
        # Nothing was sent on the sample plant: both answer [] (test_notify_cli compares real deliveries).
        "notifications": [((), {}), ((), {"failed": True, "exception_id": ids.exception})],
        "route_test": [((ids.exception,), {"at": AT})],
        "machines": [((), {}), ((), {"stopped_only": True, "as_of": AT})],
        "machine": [((ids.machine,), {"at": AT}), ((ids.machine,), {"at": AT, "limit": 2, "as_of": AT})],
        "machine_impact": [
            ((ids.machine,), {"at": AT}),
            ((ids.machine,), {"at": AT, "down_minutes": 45.0}),
            ((ids.machine,), {"as_of": AT}),
        ],
        "resource": [((ids.resource,), {"at": AT}), ((ids.resource,), {"at": AT, "limit": 2, "as_of": AT})],
        "resource_impact": [
            ((ids.resource,), {"at": AT}),
            ((ids.resource,), {"at": AT, "down_minutes": 240.0, "as_of": AT}),
        ],
        "reschedule": [((), {"at": AT}), ((), {"as_of": AT})],
        "order_links": [((ids.production_order,), {}), ((ids.sales_order_line,), {})],
        "shipment": [((ids.shipment,), {})],
        "customer": [((ids.customer,), {"at": AT})],
        "trace_lot": [((ids.lot,), {})],
        "trace_hold": [((ids.hold,), {})],
        "holds": [((), {}), ((), {"as_of": AT})],
        "shortages": [((), {"at": AT}), ((), {"at": AT, "horizon_days": 3}), ((), {"at": AT, "as_of": AT})],
        "projection": [((ids.item,), {"at": AT}), ((ids.item,), {"at": AT, "horizon_days": 3})],
        "balance_series": [
            (([ids.item, ids.other_item],), {"at": AT}),
            (([ids.item],), {"at": AT, "horizon_days": 2, "as_of": AT}),
        ],
        "find": [(("weld",), {}), (("pump",), {"kind": ["item", "machine"], "limit": 3}), (("a",), {"kind": "lot"})],
        "starting_points": [((), {}), ((), {"kind": "machine", "limit": 1})],
        "status": [((), {}), ((), {"as_of": AT})],
        "plant_name": [((), {})],
        "shift_report": [((), {"at": AT}), ((), {"at": AT, "start": AT - 2 * hour, "end": AT})],
        "event_history": [
            ((), {}),
            ((), {"type": "machine.*", "limit": 3}),
            ((), {"since": AT - 2 * hour, "outcome": "applied"}),
        ],
        "event_lag": [((), {}), ((), {"since": AT - 2 * hour})],
        "feed_status": [((), {})],  # None from both: the sample server follows no feed
    }


def test_every_question_through_the_server_is_the_in_process_answer(plant_server, sample_plant_db):
    local = LocalPlant(Store.open(sample_plant_db, read_only=True))  # the same plant, not the served file
    remote = plant_server.client()
    try:
        ids = sample_ids(local)
        cases = question_cases(ids)
        questions = {name for name, endpoint in endpoints().items() if endpoint.verb == "GET"}
        assert questions - set(cases) == set(), "a PlantData question without a case here: add one"
        assert set(cases) - questions == set(), "a case for a question the server does not serve"
        compared = 0
        for name, calls in cases.items():
            for args, kwargs in calls:
                ours = getattr(local, name)(*args, **kwargs)
                theirs = getattr(remote, name)(*args, **kwargs)
                assert theirs == over_wire(ours), f"{name}{args}{kwargs}"
                if name not in ("feed_status", "notifications"):
                    assert ours, f"{name}{args}{kwargs} answered nothing: compare something real"
                compared += 1
        assert compared >= len(questions)
        # The same over TCP with a token, and the errors: same kind, same message.
        token = plant_server.add_user("reader", "viewer")
        over_tcp = plant_server.client(token=token)
        assert over_tcp.exceptions(at=AT) == over_wire(local.exceptions(at=AT))
        for call in (
            lambda plant: plant.machine("M-NOPE", at=AT),
            lambda plant: plant.order_links("SO-NOPE/1"),
            lambda plant: plant.exceptions(at=AT, kinds=["no_such_kind"]),
            lambda plant: plant.find("weld", kind="planet"),
        ):
            with pytest.raises(PlannerError) as ours_raised:
                call(local)
            with pytest.raises(PlannerError) as theirs_raised:
                call(remote)
            assert type(theirs_raised.value) is type(ours_raised.value)
            assert str(theirs_raised.value) == str(ours_raised.value)
            assert theirs_raised.value.exit_code == ours_raised.value.exit_code
    finally:
        local.close()


def triage_cases(person: str, until: datetime) -> list[tuple[str, tuple[Any, ...], dict[str, Any]]]:
    """A triage story touching every action (and assign's new_person), in order."""
    return [
        ("acknowledge", (), {}),
        ("assign", (person,), {}),
        ("assign", ("Someone New",), {"new_person": True}),
        ("note", ("called the supplier",), {}),
        ("snooze", (until,), {}),
        ("reopen", (), {}),
        ("resolve", (), {}),
        ("reopen", (), {}),
        ("resolve", (), {"reason": "supplier sent a new certificate"}),  # issue 15: the reason is kept
    ]


def test_every_triage_action_through_the_server_does_what_it_does_in_process(server, sample_plant_db, tmp_path):
    twin = tmp_path / "twin.duckdb"
    shutil.copyfile(sample_plant_db, twin)
    local = LocalPlant(Store.open(twin))
    remote = server.client()
    try:
        exception_id = live_exception(remote, "late_order", -1)  # the spoofing test takes the first
        person = local.owners()[0]["person"]
        until = (utcnow() + timedelta(hours=3)).replace(second=0, microsecond=0)
        story = triage_cases(person, until)
        actions = {name for name, endpoint in endpoints().items() if endpoint.verb == "POST"}
        assert {name for name, _, _ in story} == actions, "a triage action without a step here: add one"
        for name, args, kwargs in story:
            ours = getattr(local, name)(exception_id, *args, **kwargs, who=OS_USER)
            theirs = getattr(remote, name)(exception_id, *args, **kwargs)
            for record in (ours, theirs):  # the clocks of two processes: close, not equal
                assert abs(record.pop("updated_at") - utcnow()) < timedelta(minutes=2)
                assert abs(record["last_action"].pop("at") - utcnow()) < timedelta(minutes=2)
            assert theirs == over_wire(ours), f"{name}{args}"
        assert theirs["status"] == "resolved" and theirs["assignee"] == "Someone New"
        with pytest.raises(BadRequest) as ours_refused:
            local.assign(exception_id, "Nobody Known")
        with pytest.raises(BadRequest) as theirs_refused:
            remote.assign(exception_id, "Nobody Known")
        assert str(theirs_refused.value) == str(ours_refused.value)
    finally:
        local.close()


# --- two clients, triage, the live stream ---------------------------------------------------------------


def test_a_triage_over_the_socket_is_seen_over_tcp_and_on_its_stream_within_a_second(server):
    local_user = server.client()
    token = server.add_user("ana", "planner")
    other = server.client(token=token)
    assert other.whoami() == {"user": "ana", "role": "planner", "via": "token"}
    assert local_user.whoami() == {"user": OS_USER, "role": "admin", "via": "unix"}
    exception_id = live_exception(other, "machine_down")
    assert other.exception(exception_id, at=utcnow())["status"] == "open"
    follow(other)
    record = local_user.acknowledge(exception_id)
    assert record["status"] == "acknowledged" and record["last_action"]["who"] == OS_USER
    assert wait_changed(other, within=1.0) < 1.0
    assert other.exception(exception_id, at=utcnow())["status"] == "acknowledged"
    assert [(e["who"], e["action"]) for e in triage_history(other, exception_id)] == [(OS_USER, "acknowledge")]
    # and back the other way: the TCP planner assigns, the socket user sees it
    follow(local_user)
    other.assign(exception_id, "Marta Lindqvist")
    assert wait_changed(local_user, within=1.0) < 1.0
    assert local_user.exception(exception_id, at=utcnow())["assignee"] == "Marta Lindqvist"
    assert triage_history(local_user, exception_id)[-1]["who"] == "ana"


# --- roles and tokens -----------------------------------------------------------------------------------


def test_a_viewer_may_read_but_not_triage_via_the_client_and_the_cli(server):
    token = server.add_user("vic", "viewer")
    viewer = server.client(token=token)
    exception_id = live_exception(viewer, "quality_hold")  # no other test here triages one
    with pytest.raises(NotAllowed) as refused:
        viewer.acknowledge(exception_id)
    assert refused.value.exit_code == 10 and "viewer" in str(refused.value)
    response = httpx.post(  # the status itself, over TCP
        f"http://{server.tcp[4:]}{PREFIX}/acknowledge/{exception_id}",
        headers={"Authorization": f"Bearer {token}"},
        json={},
    )
    assert response.status_code == 403 and response.json()["kind"] == "NotAllowed"
    result = server.cli("triage", "ack", exception_id, "--server", server.tcp, env={"PLANNER_TUI_TOKEN": token})
    assert result.returncode == 10, result.stderr
    assert "viewer" in one_line_error(result)
    assert server.client().exception(exception_id, at=utcnow())["status"] == "open"  # nothing recorded


def test_an_unknown_or_revoked_token_is_refused_at_once(server):
    bogus = server.client(token="not-a-token")
    with pytest.raises(NotAuthenticated) as refused:
        bogus.status()
    assert refused.value.exit_code == 9
    nobody = server.client(tcp=True)  # TCP without a token
    with pytest.raises(NotAuthenticated):
        nobody.machines()
    response = httpx.get(f"http://{server.tcp[4:]}{PREFIX}/status", headers={"Authorization": "Bearer x"})
    assert response.status_code == 401 and response.headers["www-authenticate"].startswith("Bearer")

    token = server.add_user("tom", "planner")
    tom = server.client(token=token)
    assert tom.status()["plant"]
    toms_stream = Stream(server, token=token)
    revoked = server.cli("users", "revoke", "tom", "--server", server.unix)
    assert revoked.returncode == 0, revoked.stderr
    with pytest.raises(NotAuthenticated):
        tom.status()  # the same client, its next call: no grace period, no cache
    # nor does the live stream it opened before go on telling it what happens
    exception_id = live_exception(server.client(), "late_order", 1)
    server.client().note(exception_id, "after tom left")
    assert toms_stream.ended.wait(5), "a revoked token's stream goes on"
    assert not [data for event, data in toms_stream.heard if event == "change"]
    toms_stream.close()
    result = server.cli("status", "--server", server.tcp, env={"PLANNER_TUI_TOKEN": token})
    assert result.returncode == 9, result.stderr
    assert "revoked" in one_line_error(result)


def test_users_add_prints_the_token_alone_and_list_never_shows_it(server):
    added = server.cli("users", "add", "vera", "--role", "viewer", "--server", server.unix)
    assert added.returncode == 0, added.stderr
    token = added.stdout.rstrip("\n").splitlines()[-1]
    assert token == token.strip() and " " not in token and len(token) >= 40
    assert server.client(token=token).whoami() == {"user": "vera", "role": "viewer", "via": "token"}
    listed = server.cli("users", "list", "--json", "--server", server.unix)
    assert listed.returncode == 0, listed.stderr
    people = json.loads(listed.stdout)
    vera = next(person for person in people if person["name"] == "vera")
    assert vera["role"] == "viewer" and vera["created_by"] == OS_USER and vera["revoked_at"] is None
    assert token not in listed.stdout
    assert not [key for person in people for key in person if "token" in key or "hash" in key or "sha" in key]


# --- who acts is who the kernel says --------------------------------------------------------------------


def test_a_client_cannot_claim_to_be_someone_else(server):
    spoof = {"USER": "Plant Manager", "LOGNAME": "Plant Manager"}
    plant = server.client()
    first = live_exception(plant, "late_order")
    result = server.cli("triage", "ack", first, "--server", server.unix, "--json", env=spoof)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["last_action"]["who"] == OS_USER != "Plant Manager"
    assert [entry["who"] for entry in triage_history(plant, first)] == [OS_USER]

    refused = server.cli("triage", "note", first, "hi", "--server", server.unix, "--who", "Plant Manager")
    assert refused.returncode == BadRequest.exit_code
    assert "--who" in one_line_error(refused)

    second = live_exception(plant, "no_supply")
    record = plant.acknowledge(second, who="Plant Manager", at=AT)  # what a client claims is not even sent
    assert record["last_action"]["who"] == OS_USER
    assert record["last_action"]["at"] > AT + timedelta(days=1)  # the server's clock, not the claimed time
    assert [entry["who"] for entry in triage_history(plant, second)] == [OS_USER]


def test_triage_of_an_exception_never_raised_is_not_found(server):
    plant = server.client()
    version = plant.server_version()["version"]
    running = next(m["machine_id"] for m in plant.machines() if m["state"] == "running")
    for exception_id in (f"machine_down:{running}", "machine_down:M-NOPE"):
        with pytest.raises(NotFound) as missing:
            plant.acknowledge(exception_id)
        assert missing.value.exit_code == 3
        with raw_client(server) as raw:
            response = raw.post(f"{PREFIX}/acknowledge/{exception_id}", json={})
        assert response.status_code == 404 and response.json()["kind"] == "NotFound"
    assert plant.server_version()["version"] == version  # nothing was recorded
    ids = {e["exception_id"] for e in plant.exceptions(at=utcnow(), include_resolved=True)["exceptions"]}
    assert f"machine_down:{running}" not in ids


def test_a_db_client_is_told_to_use_the_server(server):
    result = server.cli("status", "--db", str(server.db))
    assert result.returncode == 4, result.stderr
    message = one_line_error(result)
    assert f"served by planner-tui serve, PID {server.pid}, user {OS_USER}" in message
    assert f"use --server {server.unix}" in message
    assert server.alive()


# --- ETags ---------------------------------------------------------------------------------------------


def test_an_unchanged_answer_is_a_304_and_a_triage_changes_its_etag(server):
    with raw_client(server) as raw:
        first = raw.get(f"{PREFIX}/exceptions", params={"at": "2026-11-23T09:00:00"})
        etag = first.headers["etag"]
        assert first.status_code == 200 and json.loads(first.content)["exceptions"]
        again = raw.get(f"{PREFIX}/exceptions", params={"at": "2026-11-23T09:00:00"}, headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
        other = raw.get(f"{PREFIX}/holds", headers={"If-None-Match": etag})
        assert other.status_code == 200 and other.headers["etag"] != etag  # an ETag is one question's

        exception_id = live_exception(server.client(), "shortage")
        acted = raw.post(f"{PREFIX}/acknowledge/{exception_id}", json={})
        assert acted.status_code == 200
        after = raw.get(f"{PREFIX}/exceptions", params={"at": "2026-11-23T09:00:00"}, headers={"If-None-Match": etag})
        assert after.status_code == 200 and after.headers["etag"] != etag
        assert int(after.headers["x-plant-version"]) > int(first.headers["x-plant-version"])


# --- loads through the server --------------------------------------------------------------------------


@pytest.fixture
def renamed_snapshot(tmp_path: Path) -> Path:
    folder = tmp_path / "renamed"
    shutil.copytree(SNAPSHOT, folder)
    meta = json.loads((folder / "snapshot.json").read_text())
    (folder / "snapshot.json").write_text(json.dumps({**meta, "plant": "Nordhavn, reloaded"}))
    return folder


@pytest.fixture
def broken_snapshot(tmp_path: Path) -> Path:
    folder = tmp_path / "broken"
    shutil.copytree(SNAPSHOT, folder)
    states = folder / "machine_states.csv"
    text = states.read_text()
    assert "2026-11-23T06:00:00" in text
    states.write_text(text.replace("2026-11-23T06:00:00", "this morning", 1))
    return folder


def test_a_load_through_the_server_replaces_the_snapshot_and_keeps_triage(plant_server, renamed_snapshot):
    plant = plant_server.client()
    exception_id = live_exception(plant, "quality_hold")
    plant.acknowledge(exception_id)
    stream = Stream(plant_server)
    watcher = plant_server.client(token=plant_server.add_user("wes", "viewer"))
    follow(watcher)
    try:
        before = plant.status()
        report = plant.load_snapshot(str(renamed_snapshot))
        assert report["source"] == str(renamed_snapshot.resolve())
        after = plant.status()
        assert before["plant"] != after["plant"] == "Nordhavn, reloaded"
        assert after["loaded_from"] == str(renamed_snapshot.resolve())
        change = stream.wait_for(lambda event, data: event == "change" and data["what"] == "load", timeout=1.0)
        assert change["who"] == OS_USER and change["source"] == report["source"]
        assert wait_changed(watcher, within=1.0) < 1.0
        history = triage_history(plant, exception_id)
        assert [entry["action"] for entry in history] == ["acknowledge"]  # triage survived the load
    finally:
        stream.close()


def test_a_broken_snapshot_is_refused_as_a_local_load_refuses_it_and_changes_nothing(
    server, broken_snapshot, renamed_snapshot
):
    with pytest.raises(SnapshotError) as local_refusal:
        load_snapshot(Store.memory(), str(broken_snapshot))
    assert "machine_states.csv, row 2, column since" in str(local_refusal.value)
    plant = server.client()
    before = plant.status()
    with pytest.raises(PlannerError) as refused:
        plant.load_snapshot(str(broken_snapshot))
    assert str(refused.value) == str(local_refusal.value)
    assert refused.value.exit_code == SnapshotError.exit_code
    assert plant.status() == before
    # a viewer may not load at all
    viewer = server.client(token=server.add_user("vi", "viewer"))
    with pytest.raises(NotAllowed):
        viewer.load_snapshot(str(renamed_snapshot))
    assert plant.status() == before


def load_has_server_option() -> bool:
    from planner_tui.cli import app

    command = typer.main.get_command(app)
    load = command.commands["load"]  # type: ignore[attr-defined]
    return any("--server" in param.opts for param in load.params)


@pytest.mark.skipif(not load_has_server_option(), reason="`planner-tui load` has no --server yet")
def test_the_load_command_goes_through_the_server(plant_server, renamed_snapshot, broken_snapshot):
    bad = plant_server.cli("load", str(broken_snapshot), "--server", plant_server.unix)
    assert bad.returncode == SnapshotError.exit_code
    assert "machine_states.csv, row 2, column since" in bad.stderr and "Traceback" not in bad.stderr
    good = plant_server.cli("load", str(renamed_snapshot), "--server", plant_server.unix, "--json")
    assert good.returncode == 0, good.stderr
    assert plant_server.client().status()["plant"] == "Nordhavn, reloaded"
