"""A hostile HTTP server (in this process, on loopback, threads) behind `planner-tui load http://...` and
`planner-tui events pull http://...`: a trickle of one byte a second, a gzip bomb, redirect loops and
redirects to another host, huge bodies, wrong content types, 500s.

Whatever it does, the command must end non-zero, within its deadline, with one `error:` line and no
traceback, leave the database exactly as it was, and leave nothing behind in the temporary folder. The
loads run with a file-size limit (RLIMIT_FSIZE, 100 MiB) so that a loader without a size cap cannot fill
the disk of the machine running the suite; a load stopped by that limit rather than by its own checks
fails the test.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import threading
import time
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest
from eventkit import ce

from faults.kit import (
    Answer,
    HostileServer,
    assert_clean_failure,
    cli_env,
    database_state,
    run_cli,
)
from planner_tui.store.events import BATCH_CONTENT_TYPE

DISK_LIMIT = 100 << 20  # what a refused download may write, at most, in any one file
DOWNLOAD_DEADLINE = 2.0  # seconds, for the loader's overall download deadline (PLANNER_TUI_DOWNLOAD_DEADLINE)
ENDS_WITHIN = 20.0  # seconds: every hostile case must end by then (start-up included)


def gzip_bomb(inflated: int = 3 << 29) -> bytes:
    """A valid gzip stream of `inflated` zero bytes (1.5 GiB by default) in about 1.5 MB: one deflate block
    of 16 MiB of zeros, repeated (full flushes make the blocks independent), then the trailer."""
    chunk = b"\0" * (16 << 20)
    count = inflated // len(chunk)
    squeeze = zlib.compressobj(9, zlib.DEFLATED, 31)
    first = squeeze.compress(chunk) + squeeze.flush(zlib.Z_FULL_FLUSH)
    again = squeeze.compress(chunk) + squeeze.flush(zlib.Z_FULL_FLUSH)
    crc = 0
    for _ in range(count):
        crc = zlib.crc32(chunk, crc)
    return first + again * (count - 1) + b"\x03\x00" + struct.pack("<II", crc, (count * len(chunk)) & 0xFFFFFFFF)


@pytest.fixture(scope="module")
def bomb() -> bytes:
    body = gzip_bomb()
    assert len(body) < 2 << 20  # small on the wire...
    probe = zlib.decompressobj(31)
    assert len(probe.decompress(body[: 1 << 16], 1 << 20)) == 1 << 20  # ...and it does inflate
    return body


def zeros(total: int, chunk: int = 1 << 20):
    sent = 0
    while sent < total:
        yield b"\0" * min(chunk, total - sent)
        sent += chunk


def trickle(text: bytes):
    for byte in text:
        yield bytes([byte])


@pytest.fixture
def hostile():
    servers: list[HostileServer] = []

    def make(route: Callable[[str, dict], Answer], host: str = "127.0.0.1") -> HostileServer:
        server = HostileServer(route, host=host)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


class _DiskWatch:
    """The largest total size the folder reached while the command ran (checked every 20 ms)."""

    def __init__(self, folder: Path):
        self.folder, self.peak, self._stop = folder, 0, threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _size(self) -> int:
        total = 0
        for path in self.folder.rglob("*"):
            try:
                total += path.stat().st_size if path.is_file() else 0
            except OSError:
                pass
        return total

    def _watch(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._size())
            time.sleep(0.02)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(5)
        self.peak = max(self.peak, self._size())


def _refused(
    db: Path,
    tmp_path: Path,
    *args: object,
    codes,
    one_line: bool = True,
    env: dict | None = None,
    limit_disk: bool = False,
) -> tuple[str, float, int]:
    """Run a command that a hostile server must make fail; check everything a failure must keep.
    Returns (the error line, seconds it took, the peak bytes in its temporary folder)."""
    before = database_state(db)
    temp = tmp_path / "tmp"
    temp.mkdir(exist_ok=True)
    started = time.monotonic()
    with _DiskWatch(temp) as disk:
        try:
            result = run_cli(
                *args,
                "--db",
                db,
                timeout=ENDS_WITHIN,
                env=cli_env(TMPDIR=str(temp), **(env or {})),
                file_size_limit=DISK_LIMIT if limit_disk else None,
            )
        except subprocess.TimeoutExpired:
            raise AssertionError(f"still running after {ENDS_WITHIN} s (killed): {args[:2]}") from None
    elapsed = time.monotonic() - started
    line = assert_clean_failure(result, codes=codes, one_line=one_line)
    assert database_state(db) == before, "a refused command changed the database"
    assert list(temp.iterdir()) == [], f"left behind in the temporary folder: {list(temp.iterdir())}"
    return line, elapsed, disk.peak


# ------------------------------------------------------------------------------------------- snapshots

LOAD_ENV = {"PLANNER_TUI_DOWNLOAD_DEADLINE": str(DOWNLOAD_DEADLINE)}


@pytest.fixture
def loaded_db(tmp_path, sample_plant) -> Path:
    """A database holding the sample plant: a hostile reload must leave it exactly so."""
    db = tmp_path / "plant.duckdb"
    assert run_cli("load", sample_plant, "--db", db).returncode == 0
    return db


def test_load_from_a_server_trickling_a_byte_a_second_fails_within_its_deadline(hostile, loaded_db, tmp_path):
    server = hostile(
        lambda path, q: Answer(
            200, {"Content-Type": "text/csv"}, trickle(b"machine_id,name\n" * 50), delay=1.0, length=800
        )
    )
    line, elapsed, _ = _refused(loaded_db, tmp_path, "load", server.url("/snap/"), codes=[1], env=LOAD_ENV)
    # Start-up, the deadline, and the time to notice it: far below a byte a second for 800 bytes.
    assert elapsed < DOWNLOAD_DEADLINE + 8, f"the load took {elapsed:.1f} s against a deadline of {DOWNLOAD_DEADLINE} s"
    assert "deadline" in line or "timed out" in line, line


def test_load_refuses_a_gzip_bomb_without_filling_the_disk(hostile, loaded_db, tmp_path, bomb):
    server = hostile(
        lambda path, q: (
            Answer(200, {"Content-Type": "text/csv", "Content-Encoding": "gzip"}, bomb)
            if path.endswith("/machines.csv")
            else Answer(404)
        )
    )
    line, _, peak = _refused(loaded_db, tmp_path, "load", server.url("/snap/"), codes=[1], limit_disk=True)
    # Refused by the loader itself, not stopped by the test's file-size limit (the safety net for CI's disk).
    assert "File too large" not in line and peak < DISK_LIMIT, (
        f"the loader inflated the bomb until the test's {DISK_LIMIT >> 20} MiB file limit stopped it "
        f"({peak:,} bytes in $TMPDIR): {line}"
    )


def test_load_refuses_a_huge_body(hostile, loaded_db, tmp_path):
    # It says a terabyte is coming, and sends zeros as fast as it can (until 512 MiB, then hangs up).
    server = hostile(
        lambda path, q: (
            Answer(200, {"Content-Type": "text/csv"}, zeros(512 << 20), length=1 << 40)
            if path.endswith("/machines.csv")
            else Answer(404)
        )
    )
    line, _, peak = _refused(loaded_db, tmp_path, "load", server.url("/snap/"), codes=[1], limit_disk=True)
    assert "File too large" not in line and peak < DISK_LIMIT, (
        f"the loader wrote until the test's {DISK_LIMIT >> 20} MiB file limit stopped it: {line}"
    )


def test_load_refuses_a_redirect_loop(hostile, loaded_db, tmp_path):
    server = hostile(lambda path, q: Answer(302, {"Location": path + ("x" if len(path) < 60 else "")}))
    _refused(loaded_db, tmp_path, "load", server.url("/snap/"), codes=[1])
    assert len(server.requests) > 1


def test_load_redirected_to_another_host_names_the_host_that_failed(hostile, loaded_db, tmp_path):
    other = hostile(lambda path, q: Answer(500, {}, b"down for maintenance"), host="127.0.0.2")
    server = hostile(lambda path, q: Answer(302, {"Location": other.url(path)}))
    line, _, _ = _refused(loaded_db, tmp_path, "load", server.url("/snap/"), codes=[1])
    assert other.requests, "the redirect was not followed at all"
    assert "127.0.0.2" in line, line


def test_load_refuses_an_html_login_page_served_for_every_file(hostile, loaded_db, tmp_path):
    page = b"<html><body><form action='/login'>Please sign in</form></body></html>"
    server = hostile(lambda path, q: Answer(200, {"Content-Type": "text/html"}, page))
    _refused(loaded_db, tmp_path, "load", server.url("/snap/"), codes=[1, 6], one_line=False)


def test_load_from_a_server_answering_500_fails_cleanly(hostile, loaded_db, tmp_path):
    server = hostile(lambda path, q: Answer(500, {"Content-Type": "text/plain"}, b"Internal Server Error"))
    line, _, _ = _refused(loaded_db, tmp_path, "load", server.url("/snap/"), codes=[1])
    assert "500" in line


# ----------------------------------------------------------------------------------------------- feeds

PULL = ("--timeout", "0.5", "--retries", "1")


def _good_page(query: dict) -> Answer:
    events = [] if "after" in query else [ce("ok-1", "machine.down", {"machine_id": "M1"}, seq=1)]
    return Answer(200, {"Content-Type": BATCH_CONTENT_TYPE}, json.dumps(events).encode())


def _pull_refused(db, tmp_path, server: HostileServer, path: str = "/events") -> str:
    line, elapsed, _ = _refused(db, tmp_path, "events", "pull", server.url(path), *PULL, codes=[7])
    assert elapsed < ENDS_WITHIN
    return line


def test_pull_from_a_server_trickling_a_byte_a_second_fails_within_its_timeout(hostile, event_plant_db, tmp_path):
    server = hostile(
        lambda path, q: Answer(
            200, {"Content-Type": BATCH_CONTENT_TYPE}, trickle(b"[" + b" " * 100 + b"]"), delay=1.0, length=102
        )
    )
    started = time.monotonic()
    line = _pull_refused(event_plant_db, tmp_path, server)
    assert time.monotonic() - started < 10
    assert "timed out" in line, line


def test_pull_refuses_a_gzip_bomb(hostile, event_plant_db, tmp_path, bomb):
    server = hostile(
        lambda path, q: Answer(200, {"Content-Type": BATCH_CONTENT_TYPE, "Content-Encoding": "gzip"}, bomb)
    )
    _pull_refused(event_plant_db, tmp_path, server)


@pytest.mark.parametrize("declared", [1 << 40, "none"], ids=["declared-terabyte", "no-length"])
def test_pull_refuses_a_huge_body(hostile, event_plant_db, tmp_path, declared):
    def route(path, query):
        body = (b"[" + b" " * (1 << 20) for _ in iter(int, 1))  # without end
        return Answer(200, {"Content-Type": BATCH_CONTENT_TYPE}, body, length=declared)

    server = hostile(route)
    line = _pull_refused(event_plant_db, tmp_path, server)
    assert "larger than" in line or "refused" in line, line


def test_pull_refuses_a_redirect_loop(hostile, event_plant_db, tmp_path):
    server = hostile(lambda path, q: Answer(307, {"Location": path}))
    _pull_refused(event_plant_db, tmp_path, server)
    assert len(server.requests) > 1


def test_pull_redirected_to_another_host_names_the_host_that_failed(hostile, event_plant_db, tmp_path):
    other = hostile(lambda path, q: Answer(500, {}, b"down"), host="127.0.0.2")
    server = hostile(lambda path, q: Answer(302, {"Location": other.url(path)}))
    line = _pull_refused(event_plant_db, tmp_path, server)
    assert other.requests and "127.0.0.2" in line, line


@pytest.mark.parametrize("content_type", ["text/html", "application/xml", "", "application/octet-stream"])
def test_pull_refuses_a_wrong_content_type(hostile, event_plant_db, tmp_path, content_type):
    def route(path, query):
        answer = _good_page(query)
        answer.headers = {"Content-Type": content_type} if content_type else {}
        return answer

    _pull_refused(event_plant_db, tmp_path, hostile(route))


def test_pull_from_a_server_answering_500_fails_cleanly(hostile, event_plant_db, tmp_path):
    server = hostile(lambda path, q: Answer(500, {"Content-Type": "text/plain"}, b"Internal Server Error"))
    line = _pull_refused(event_plant_db, tmp_path, server)
    assert "500" in line and "2 attempts" in line, line


def test_the_same_server_behaving_is_pulled(hostile, event_plant_db, tmp_path):
    """The control: the harness itself lets a good answer through, so the refusals above are the feed's."""
    server = hostile(lambda path, q: _good_page(q))
    result = run_cli("events", "pull", server.url("/events"), "--db", event_plant_db, *PULL)
    assert result.returncode == 0, result.stderr
    assert "applied 1" in result.stdout
    assert os.path.exists(event_plant_db)
