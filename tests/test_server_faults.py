"""The plant server when things go wrong: killed outright, stopped, restarted under its clients, clients
that die mid-request, and hostile clients that try to hold it up. Real server processes
(tests/serverkit.py), raw sockets where a well-behaved client would not do.

The servers here run with a deadline for a request's head of `serverkit.HEADER_SECONDS` (2 s), set through
PLANNER_TUI_HEADER_SECONDS (read by planner_tui/server/listen.py; the default is 10 s), so the test that a
trickling client is cut off does not wait ten seconds.
"""

from __future__ import annotations

import io
import json
import os
import pwd
import shutil
import signal
import socket
import stat
import tarfile
import threading
import time
from pathlib import Path

import httpx
import pytest
import serverkit
from serverkit import SNAPSHOT, RunningServer, follow, start_server

from planner_tui.access import PlantUnavailable
from planner_tui.access.api import PREFIX
from planner_tui.access.remote import RemotePlant
from planner_tui.errors import BadRequest
from planner_tui.store import Store
from planner_tui.timeutil import utcnow

plant_server = serverkit.plant_server  # serverkit's fixtures (assigned: see tests/test_server.py)
shared_server = serverkit.shared_server
sample_plant_db = serverkit.sample_plant_db


@pytest.fixture
def server(shared_server: RunningServer) -> RunningServer:
    """The hostile-client tests share a server: each leaves it as it found it (that is what they test)."""
    return shared_server


OS_USER = pwd.getpwuid(os.getuid()).pw_name


def live_exception(plant: RemotePlant, kind: str) -> str:
    found = [e["exception_id"] for e in plant.exceptions(at=utcnow())["exceptions"] if e["kind"] == kind]
    assert found, f"the sample plant raises no {kind} now"
    return found[0]


def unix_connection(server: RunningServer) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(5.0)
    sock.connect(str(server.socket))
    return sock


def closed_by_peer(sock: socket.socket) -> bool:
    """True once the server has closed the connection (EOF or reset); False while it is open."""
    sock.setblocking(False)
    try:
        return sock.recv(4096) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True
    finally:
        sock.setblocking(True)


def triage_rows(db: Path, exception_id: str) -> tuple[list[tuple], list[tuple]]:
    """(exception_actions, exception_triage) rows of one exception, read from the file itself."""
    store = Store.open(db, read_only=True)
    try:
        actions = store.con.execute(
            "SELECT who, action FROM exception_actions WHERE exception_id = ? ORDER BY acted_at", [exception_id]
        ).fetchall()
        state = store.con.execute(
            "SELECT status FROM exception_triage WHERE exception_id = ?", [exception_id]
        ).fetchall()
    finally:
        store.close()
    return actions, state


# --- killed, stopped, restarted ------------------------------------------------------------------------


def test_a_triage_answered_survives_a_kill_9_at_once(plant_server):
    plant = plant_server.client()
    exception_id = live_exception(plant, "machine_down")
    record = plant.acknowledge(exception_id)
    os.kill(plant_server.pid, signal.SIGKILL)  # no checkpoint, no goodbye: the answer was the promise
    assert plant_server.process.wait(10) == -signal.SIGKILL
    actions, state = triage_rows(plant_server.db, exception_id)
    assert record["status"] == "acknowledged"
    assert actions == [(OS_USER, "acknowledge")] and state == [("acknowledged",)]


def test_sigterm_stops_cleanly_and_ends_the_streams(plant_server):
    listener = plant_server.client()
    follow(listener)
    raw = httpx.Client(transport=httpx.HTTPTransport(uds=str(plant_server.socket)), base_url="http://planner-tui")
    ended = threading.Event()
    lines: list[str] = []

    def read_stream() -> None:
        try:
            with raw.stream("GET", f"{PREFIX}/stream", timeout=httpx.Timeout(30.0, connect=5.0)) as response:
                for line in response.iter_lines():
                    lines.append(line)
        except httpx.HTTPError as error:
            lines.append(f"error: {error}")
        finally:
            ended.set()

    reader = threading.Thread(target=read_stream, daemon=True)
    reader.start()
    for _ in range(250):
        if any(line.startswith("event: hello") for line in lines):
            break
        time.sleep(0.02)
    else:
        raise AssertionError(f"the stream never said hello: {lines}")
    assert json.loads(plant_server.note.read_text())["pid"] == plant_server.pid
    assert stat.S_IMODE(plant_server.socket.stat().st_mode) == 0o660

    started = time.monotonic()
    plant_server.process.send_signal(signal.SIGTERM)
    assert plant_server.process.wait(15) == 0, plant_server.log()
    assert ended.wait(5), "the stream client hangs after the server stopped"
    assert time.monotonic() - started < 10
    reader.join(5)
    raw.close()
    assert not plant_server.socket.exists() and not plant_server.note.exists()
    assert "Traceback" not in plant_server.log()
    store = Store.open(plant_server.db)  # released: a writer may open it at once
    store.close()


def test_a_restarted_server_is_found_again_and_an_outage_is_said(plant_server):
    plant = plant_server.client()
    exception_id = live_exception(plant, "quality_hold")
    follow(plant)
    plant_server.kill()
    deadline = time.monotonic() + 10
    while True:  # what was heard before the kill is drained; then the outage is said
        assert time.monotonic() < deadline, "poll_feed never said the server is gone"
        try:
            plant.poll_feed()
        except PlantUnavailable as down:
            assert "reconnecting" in str(down)
            break
    with pytest.raises(PlantUnavailable) as refused:
        plant.acknowledge(exception_id)
    assert "not answering" in str(refused.value)

    again = start_server(plant_server.db, folder=plant_server.folder, socket=plant_server.socket)
    try:
        deadline = time.monotonic() + 15
        while True:
            assert time.monotonic() < deadline, "the client never found the server again"
            try:
                if plant.poll_feed()["changed"]:  # the resync: whatever it missed, it reloads
                    break
            except PlantUnavailable as down:
                assert "reconnecting" in str(down)
        assert plant.acknowledge(exception_id)["status"] == "acknowledged"  # the triage refused was not done
        assert plant.status()["plant"]
    finally:
        plant.close()
        code = again.stop()
        print(f"--- restarted server (exit {code}) ---\n{again.log()}")


# --- a client that dies mid-request ----------------------------------------------------------------------


def _tar(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for path in sorted(folder.iterdir()):
            tar.add(path, arcname=path.name)
    return buffer.getvalue()


def test_a_client_killed_mid_request_changes_nothing(sample_plant_db, tmp_path):
    db = serverkit.copy_db(sample_plant_db, tmp_path / "served")
    uploads = tmp_path / "tmp"
    uploads.mkdir()
    server = start_server(db, env={"TMPDIR": str(uploads)})  # its uploads land where this test can see
    try:
        plant = server.client()
        before = plant.status()
        renamed = tmp_path / "renamed"
        shutil.copytree(SNAPSHOT, renamed)
        (renamed / "snapshot.json").write_text(json.dumps({"plant": "half a plant", "as_of": "2026-11-23T06:00:00"}))
        archive = _tar(renamed)

        sock = unix_connection(server)  # a load, half sent, then the client is gone
        head = (
            f"POST {PREFIX}/load HTTP/1.1\r\nHost: planner-tui\r\nContent-Type: application/x-tar\r\n"
            f"Content-Length: {len(archive)}\r\n\r\n"
        )
        sock.sendall(head.encode() + archive[: len(archive) // 2])
        time.sleep(0.3)
        sock.close()

        exception_id = live_exception(plant, "shortage")  # a triage, half a JSON body, then gone
        body = json.dumps({"text": "half a note"}).encode()
        sock = unix_connection(server)
        sock.sendall(
            f"POST {PREFIX}/note/{exception_id} HTTP/1.1\r\nHost: planner-tui\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body[: len(body) // 2]
        )
        time.sleep(0.3)
        sock.close()

        for _ in range(200):  # the server notices both, and cleans up after the upload
            if server.log().count("the client went away") == 2 and not list(uploads.glob("planner-tui-upload-*")):
                break
            time.sleep(0.05)
        assert server.alive()
        assert server.log().count("the client went away") == 2  # both reached the server, half-way
        assert "Traceback" not in server.log()  # a client going away is not the server failing
        assert plant.status() == before
        assert plant.exception(exception_id, at=utcnow())["last_action"] is None
        assert not list(uploads.glob("planner-tui-upload-*")), "an abandoned upload was left behind"
        assert plant.load_snapshot(str(renamed))["source"]  # nothing is left stuck: the whole one loads
        assert plant.status()["plant"] == "half a plant"
    finally:
        code = server.stop()
        print(f"--- server (exit {code}) ---\n{server.log()}")


# --- hostile clients ---------------------------------------------------------------------------------------


def test_idle_and_trickling_connections_cannot_stall_others_and_are_cut_off(server):
    count = 200
    idle = [unix_connection(server) for _ in range(count // 2)]
    tcp_host, tcp_port = server.tcp[4:].rsplit(":", 1)
    tricklers = []
    for _ in range(count // 2):
        sock = socket.create_connection((tcp_host, int(tcp_port)), timeout=5.0)
        tricklers.append(sock)
    request = f"GET {PREFIX}/status HTTP/1.1\r\nHost: x\r\n\r\n".encode()
    stop = threading.Event()

    def trickle() -> None:  # one byte a second on each, never a whole request
        for index in range(len(request) - 1):
            for sock in tricklers:
                try:
                    sock.send(request[index : index + 1])
                except OSError:
                    pass
            if stop.wait(1.0):
                return

    trickler = threading.Thread(target=trickle, daemon=True)
    opened = time.monotonic()
    trickler.start()
    try:
        plant = server.client()
        slowest = 0.0
        while time.monotonic() - opened < 1.5:
            started = time.monotonic()
            assert plant.status()["plant"]
            slowest = max(slowest, time.monotonic() - started)
        assert slowest < 2.0, f"status took {slowest:.2f} s beside {count} idle and trickling connections"
        cut_off = serverkit.HEADER_SECONDS + 3.0
        connections = idle + tricklers
        while time.monotonic() - opened < cut_off:
            if all(closed_by_peer(sock) for sock in connections):
                break
            time.sleep(0.1)
        still_open = [sock for sock in connections if not closed_by_peer(sock)]
        assert not still_open, f"{len(still_open)} connections still open {cut_off:.0f} s after they opened"
        assert time.monotonic() - opened >= serverkit.HEADER_SECONDS - 0.5  # the deadline, not at once
        assert plant.status()["plant"]
        assert "sent no whole request" in server.log()
    finally:
        stop.set()
        trickler.join(5)
        for sock in idle + tricklers:
            sock.close()


def test_a_second_request_trickled_on_a_kept_alive_connection_is_cut_off_too(server):
    sock = unix_connection(server)
    try:
        sock.sendall(f"GET {PREFIX}/version HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        first = sock.recv(65536)
        assert first.startswith(b"HTTP/1.1 200"), first
        opened = time.monotonic()
        request = f"GET {PREFIX}/status HTTP/1.1\r\nHost: x\r\n\r\n".encode()
        for index in range(len(request) - 1):  # the next request, a byte every 0.2 s, never whole
            try:
                sock.send(request[index : index + 1])
            except OSError:
                break
            if closed_by_peer(sock):
                break
            time.sleep(0.2)
            if time.monotonic() - opened > serverkit.HEADER_SECONDS + 3.0:
                break
        held = time.monotonic() - opened
        assert closed_by_peer(sock), f"a trickled second request held its connection for {held:.1f} s"
        assert held < serverkit.HEADER_SECONDS + 3.0
    finally:
        sock.close()


def test_a_json_body_over_a_megabyte_is_refused_quickly(server):
    plant = server.client()
    exception_id = live_exception(plant, "late_order")
    big = json.dumps({"text": "x" * (1 << 20)}).encode()
    with httpx.Client(transport=httpx.HTTPTransport(uds=str(server.socket)), base_url="http://planner-tui") as raw:
        started = time.monotonic()
        declared = raw.post(f"{PREFIX}/note/{exception_id}", content=big, headers={"Content-Type": "application/json"})
        assert declared.status_code == 400 and declared.json()["kind"] == "BadRequest"
        assert declared.json()["exit_code"] == BadRequest.exit_code

        def chunks():  # no Content-Length: the cap is counted as it arrives
            for start in range(0, len(big), 64 << 10):
                yield big[start : start + (64 << 10)]

        streamed = raw.post(
            f"{PREFIX}/note/{exception_id}", content=chunks(), headers={"Content-Type": "application/json"}
        )
        assert streamed.status_code == 400 and "over" in streamed.json()["error"]
        assert time.monotonic() - started < 3.0
    assert plant.exception(exception_id, at=utcnow())["last_action"] is None
    assert plant.status()["plant"]
