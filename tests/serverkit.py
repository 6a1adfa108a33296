"""Real plant servers for tests: `planner-tui serve` as a subprocess over the sample plant, no mocks.

    import serverkit
    plant_server = serverkit.plant_server      # its fixtures, assigned in the test module (not imported:
    shared_server = serverkit.shared_server    # ruff takes a parameter named as an import for a redefinition)

    def test_something(plant_server):          # a fresh server of its own (function scope)
        plant = plant_server.client()           # RemotePlant over the Unix socket (the server's own user: admin)
        token = plant_server.add_user("vic", "viewer")
        viewer = plant_server.client(token=token)   # over TCP, with that token
        result = plant_server.cli("status", "--json", "--server", plant_server.unix)  # the CLI, a subprocess

`sample_db(path)` writes the sample plant with its whole scenario applied (machines down, a hold, late
orders: exceptions to triage) to a database file; `start_server(db)` serves it on a Unix socket and on
`tcp:127.0.0.1:0`, waits for its `listening on` lines (the TCP one carries the real port) and returns a
`RunningServer`; `stop()` sends SIGTERM, then SIGKILL after a grace period. The server's stderr goes to a
file beside the database; the fixtures print it at teardown, so pytest shows it for a failing test only.

Every subprocess (server and CLI) runs with a clean environment: no PLANNER_TUI_* of the caller's, an empty
settings file and its own XDG folders in the test's folder, so module-scoped servers (started before the
autouse settings fixture of conftest.py) are as isolated as function-scoped ones. `HEADER_SECONDS` is the
servers' deadline for a request's head (PLANNER_TUI_HEADER_SECONDS, read by
planner_tui/server/listen.py), shortened so the trickling-client test is quick.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from plantkit import scenario_db

from planner_tui.access.address import parse_address
from planner_tui.access.api import PREFIX
from planner_tui.access.remote import RemotePlant, _events

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_data"
SNAPSHOT = SAMPLE / "plant"
AT = datetime(2026, 11, 23, 9, 0)  # the sample plant's "now": far from the real clock, so never "live"
START_SECONDS = 20.0
STOP_SECONDS = 15.0
HEADER_SECONDS = 2.0


def sample_db(path: Path) -> Path:
    """The sample plant with its whole scenario applied, in a database file at `path`."""
    return scenario_db(path)


def follow(plant: RemotePlant) -> None:
    """Start the client's live stream and wait until the server counts it (so no change is sent before it
    listens); then drain what it heard so far."""
    before = plant.server_version()["listeners"]
    plant.poll_feed()
    for _ in range(250):
        if plant.server_version()["listeners"] > before:
            break
        time.sleep(0.02)
    else:
        raise AssertionError("the stream never connected")
    while plant.poll_feed()["changed"]:
        pass


def clean_env(folder: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a server or CLI subprocess (see the module docstring)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLANNER_TUI_")}
    if "PLANNER_TUI_BENCH_DATA" in os.environ:
        env["PLANNER_TUI_BENCH_DATA"] = os.environ["PLANNER_TUI_BENCH_DATA"]
    settings = folder / "settings"
    settings.mkdir(exist_ok=True)
    (settings / "config.toml").touch()
    env.update(
        PLANNER_TUI_CONFIG=str(settings / "config.toml"),
        XDG_CONFIG_HOME=str(settings / "config"),
        XDG_STATE_HOME=str(settings / "state"),
        PLANNER_TUI_HEADER_SECONDS=str(HEADER_SECONDS),
        PYTHONUNBUFFERED="1",
        COLUMNS="120",
    )
    env.update(extra or {})
    return env


def cli(
    *args: str, folder: Path, env: Mapping[str, str] | None = None, timeout: float = 60.0
) -> subprocess.CompletedProcess[str]:
    """`planner-tui ARGS` in a subprocess (the installed entry point's module), its output as text."""
    return subprocess.run(
        [sys.executable, "-m", "planner_tui", *args],
        env=clean_env(folder, env),
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=folder,
    )


@dataclass
class RunningServer:
    """One `planner-tui serve` process (see the module docstring)."""

    db: Path
    folder: Path
    socket: Path
    process: subprocess.Popen[bytes]
    log_path: Path
    unix: str = ""  # "unix:/.../plant.sock"
    tcp: str = ""  # "tcp:127.0.0.1:PORT"
    _clients: list[RemotePlant] = field(default_factory=list)

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def note(self) -> Path:
        return Path(f"{self.db}.server.json")

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def client(self, *, token: str | None = None, tcp: bool | None = None) -> RemotePlant:
        """A RemotePlant: over TCP with `token` when one is given (or tcp=True), else over the Unix socket.
        Closed at teardown."""
        over_tcp = token is not None if tcp is None else tcp
        plant = RemotePlant(parse_address(self.tcp if over_tcp else self.unix), token=token)
        self._clients.append(plant)
        return plant

    def cli(
        self, *args: str, env: Mapping[str, str] | None = None, timeout: float = 60.0
    ) -> subprocess.CompletedProcess[str]:
        return cli(*args, folder=self.folder, env=env, timeout=timeout)

    def add_user(self, name: str, role: str) -> str:
        """A new user's token, made over the Unix socket (as the server's own user: an admin)."""
        plant = self.client()
        return str(plant.add_user(name, role)["token"])

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = STOP_SECONDS) -> int:
        """Close the clients made by `client()`, stop the server with `sig` (SIGKILL after `timeout`);
        its exit status."""
        for plant in self._clients:
            plant.close()
        self._clients.clear()
        return self.signal(sig, timeout)

    def signal(self, sig: int, timeout: float = STOP_SECONDS) -> int:
        """Send `sig` and wait for the process to end (SIGKILL after `timeout`); its exit status. The
        clients stay open (a test watches them find out)."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)
        return int(self.process.returncode)

    def kill(self) -> int:
        """SIGKILL: no goodbye to anyone (the clients stay open)."""
        return self.signal(signal.SIGKILL)


def start_server(
    db: Path,
    *,
    folder: Path | None = None,
    socket: Path | None = None,
    tcp: bool = True,
    args: tuple[str, ...] = (),
    env: Mapping[str, str] | None = None,
) -> RunningServer:
    """Serve `db` (see the module docstring); raises with the server's stderr if it does not come up."""
    folder = folder or db.parent
    socket = socket or folder / "plant.sock"
    if len(str(socket)) > 100:  # AF_UNIX paths end at 108 bytes: a deep temporary folder gets a short one
        socket = Path(tempfile.mkdtemp(prefix="pt-sock-")) / "plant.sock"
    listens = [f"unix:{socket}"] + (["tcp:127.0.0.1:0"] if tcp else [])
    log_path = folder / f"server-{time.monotonic_ns()}.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "planner_tui",
                "serve",
                "--db",
                str(db),
                *sum((["--listen", a] for a in listens), []),
                *args,
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            env=clean_env(folder, env),
            cwd=folder,
        )
    server = RunningServer(db=db, folder=folder, socket=socket, process=process, log_path=log_path)
    deadline = time.monotonic() + START_SECONDS
    while True:
        heard = [line.removeprefix("listening on ").strip() for line in server.log().splitlines()]
        heard = [line for line in heard if line.startswith(("unix:", "tcp:", "https://"))]
        if len(heard) == len(listens):
            server.unix = next(a for a in heard if a.startswith("unix:"))
            server.tcp = next((a for a in heard if a.startswith(("tcp:", "https://"))), "")
            return server
        if process.poll() is not None or time.monotonic() > deadline:
            server.stop(signal.SIGKILL)
            raise RuntimeError(f"the plant server did not start (exit {process.returncode}):\n{server.log()}")
        time.sleep(0.02)


def served(db: Path, **kwargs: object) -> Iterator[RunningServer]:
    """A fixture body: a server for the test, stopped after it, its log printed (pytest shows it for a
    failing test)."""
    server = start_server(db, **kwargs)  # type: ignore[arg-type]
    try:
        yield server
    finally:
        code = server.stop()
        print(f"--- plant server PID {server.pid} (exit {code}) ---\n{server.log()}")


@pytest.fixture(scope="session")
def sample_plant_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample plant with its scenario, built once per worker; copy it before serving it."""
    return sample_db(tmp_path_factory.mktemp("sample-plant") / "plant.duckdb")


def copy_db(template: Path, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "plant.duckdb"
    shutil.copyfile(template, db)
    return db


@pytest.fixture
def plant_server(sample_plant_db: Path, tmp_path: Path) -> Iterator[RunningServer]:
    """A server of the test's own over a fresh copy of the sample plant (its state is the test's)."""
    yield from served(copy_db(sample_plant_db, tmp_path / "served"))


@pytest.fixture(scope="module")
def shared_server(sample_plant_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """One server for a whole module, for tests that only read (or triage ids no other test uses)."""
    yield from served(copy_db(sample_plant_db, tmp_path_factory.mktemp("shared-server")))


class Stream:
    """The server's live stream, read by a thread of its own: every (event, data) heard, in order."""

    def __init__(self, server: RunningServer, token: str | None = None, *, hello_within: float = 5.0) -> None:
        """Over the Unix socket, or over TCP with `token`; its first message (hello) within `hello_within` s."""
        self.heard: list[tuple[str, dict]] = []
        self.ended = threading.Event()
        timeout = httpx.Timeout(30.0, connect=5.0)
        if token is None:
            self._client = httpx.Client(
                transport=httpx.HTTPTransport(uds=str(server.socket)), base_url="http://planner-tui", timeout=timeout
            )
        else:
            self._client = httpx.Client(
                base_url=f"http://{server.tcp[4:]}", headers={"Authorization": f"Bearer {token}"}, timeout=timeout
            )
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()
        self.wait_for(lambda event, data: event == "hello", hello_within)

    def _read(self) -> None:
        try:
            with self._client.stream("GET", f"{PREFIX}/stream") as response:
                for event, data in _events(response.iter_lines()):
                    self.heard.append((event, data))
        except httpx.HTTPError:
            pass
        finally:
            self.ended.set()

    def wait_for(self, match: Callable[[str, dict], bool], timeout: float = 5.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for event, data in list(self.heard):
                if match(event, data):
                    return data
            if self.ended.is_set():
                break
            time.sleep(0.01)
        raise AssertionError(f"not heard on the stream within {timeout} s; heard {self.heard}")

    def close(self) -> None:
        self._client.close()
