"""What the fault suite shares: running planner-tui as a real process, killing it, reading a database file
back, a feed stream with its model, and a loopback HTTP server that misbehaves on purpose.

Everything here is real: processes started with `python -m planner_tui` (the same code as the
`planner-tui` entry point, and it works from any virtualenv), files on disk, sockets on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from eventkit import SOURCE, ce

from planner_tui.store import Store
from planner_tui.store.contract import TABLES

# The seeds of the kill tests; each seed is one test case with its own random delays.
SEEDS = (11, 23, 37)

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "sample_data" / "plant"

# Every kill waits at most this long for the process to be reaped, every CLI call at most CLI_TIMEOUT.
REAP_TIMEOUT = 30
CLI_TIMEOUT = 120


# ------------------------------------------------------------------------------------- hypothesis


def fault_settings(examples: int, **more):
    """The suite's hypothesis profile (registered in conftest.py; FAULTS_HYPOTHESIS_PROFILE picks another)
    with a test's own bound on its examples; under faults-long, the profile's many more."""
    from hypothesis import settings

    profile = settings.get_profile(os.environ.get("FAULTS_HYPOTHESIS_PROFILE", "faults"))
    return settings(profile, max_examples=examples if profile.max_examples <= 25 else profile.max_examples, **more)


# --------------------------------------------------------------------------------------- processes


def cli_command(*args: object, file_size_limit: int | None = None, own_terminal: bool = False) -> list[str]:
    """`python -m planner_tui ARGS`; optionally started through a small exec shim that first limits the
    size of any file it may write (RLIMIT_FSIZE) or makes its stdin terminal its controlling terminal.
    (A shim rather than subprocess's preexec_fn, which is not safe in a process running threads.)"""
    command = [sys.executable, "-m", "planner_tui", *(str(a) for a in args)]
    if file_size_limit is None and not own_terminal:
        return command
    shim = ["import os, sys"]
    if file_size_limit is not None:
        shim.append(
            f"import resource; resource.setrlimit(resource.RLIMIT_FSIZE, ({file_size_limit}, {file_size_limit}))"
        )
    if own_terminal:
        shim.append("import fcntl, termios; os.setsid(); fcntl.ioctl(0, termios.TIOCSCTTY, 0)")
    shim.append("os.execv(sys.argv[1], sys.argv[1:])")
    return [sys.executable, "-c", "; ".join(shim), *command]


_HOME: Path | None = None


def _private_home() -> Path:
    """Empty config and state folders for the children: no settings file or log of the machine that runs
    the suite is read or written (also for session fixtures, which run before tests/conftest.py's)."""
    global _HOME
    if _HOME is None:
        _HOME = Path(tempfile.mkdtemp(prefix="faults-home-"))
    return _HOME


def cli_env(**extra: str) -> dict[str, str]:
    """The environment of a planner-tui child: this one without PLANNER_TUI_* settings, private config
    and state folders, and wide enough that no message is wrapped."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLANNER_TUI_")}
    home = _private_home()
    env.update(
        {
            "COLUMNS": "250",
            "NO_COLOR": "1",
            "PYTHONFAULTHANDLER": "1",
            "XDG_CONFIG_HOME": str(home / "config"),
            "XDG_STATE_HOME": str(home / "state"),
        }
    )
    env.update(extra)
    return env


def run_cli(
    *args: object, timeout: float = CLI_TIMEOUT, env: dict | None = None, file_size_limit: int | None = None
) -> subprocess.CompletedProcess:
    """`planner-tui ARGS` to its end (stdin closed)."""
    return subprocess.run(
        cli_command(*args, file_size_limit=file_size_limit),
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        env=env or cli_env(),
        check=False,
    )


def spawn_cli(*args: object, env: dict | None = None, log: Path | None = None) -> subprocess.Popen:
    """`planner-tui ARGS` started and left running; its output goes to `log` (or nowhere), never to a
    pipe nobody reads (a full pipe would stall the process and hide where it was killed)."""
    if log is None:
        return subprocess.Popen(
            cli_command(*args),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env or cli_env(),
        )
    with open(log, "ab") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            cli_command(*args), stdin=subprocess.DEVNULL, stdout=out, stderr=out, env=env or cli_env()
        )


def sigkill(proc: subprocess.Popen) -> int:
    """SIGKILL (unless it already ended) and reap; the exit status (negative: the signal)."""
    if proc.poll() is None:
        try:
            proc.send_signal(signal.SIGKILL)
        except ProcessLookupError:
            pass
    return proc.wait(timeout=REAP_TIMEOUT)


def wait_for(predicate: Callable[[], object], timeout: float, interval: float = 0.02, what: str = "condition"):
    """Poll until predicate() is truthy (returned), or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def assert_clean_failure(
    result: subprocess.CompletedProcess, *, codes: Iterable[int] | None = None, one_line: bool = True
) -> str:
    """A refusal as a user should see it: a non-zero status (one of `codes`), `error: ...` on stderr
    (on one line unless the message is a list of snapshot problems), and never a traceback."""
    both = result.stdout + result.stderr
    assert "Traceback" not in both, both[-3000:]
    assert result.returncode != 0, f"exit 0: {both[-2000:]}"
    if codes is not None:
        assert result.returncode in set(codes), f"exit {result.returncode}: {both[-2000:]}"
    lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
    assert lines and lines[0].startswith("error:"), result.stderr[-2000:]
    if one_line:
        assert len(lines) == 1, result.stderr[-2000:]
    return lines[0]


# --------------------------------------------------------------------------------------- the store


def contract_counts(store: Store) -> dict[str, int]:
    cur = store.cursor()
    return {t.name: cur.execute(f'SELECT count(*) FROM "{t.name}"').fetchall()[0][0] for t in TABLES}


def staging_tables(store: Store) -> list[str]:
    return [
        r[0]
        for r in store.cursor()
        .execute("SELECT table_name FROM duckdb_tables() WHERE starts_with(table_name, '_load_') ORDER BY 1")
        .fetchall()
    ]


def store_meta(store: Store) -> dict[str, str]:
    return dict(store.cursor().execute("SELECT key, value FROM store_meta").fetchall())


def database_state(db: Path) -> dict:
    """Everything a hostile source could change in a database file, to prove it was not changed: every
    table's rows (contract and planner_tui's own), read by opening the file as the next command would."""
    with Store.open(db) as store:
        cur = store.cursor()
        names = [
            r[0]
            for r in cur.execute(
                "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main' ORDER BY 1"
            ).fetchall()
        ]
        state = {n: sorted(map(repr, cur.execute(f'SELECT * FROM "{n}"').fetchall())) for n in names}
    assert {t.name for t in TABLES} <= set(state), sorted(state)
    return state


# ------------------------------------------------------------------------------- a feed and its model


MACHINES = ("M1", "M2")  # the machines of eventkit's plant
LOCATIONS = ("WH", "L-A", "L-B")
# eventkit's plant before any event: machine states and the stock of FG1.
INITIAL_MACHINES = {"M2": ("idle", datetime(2026, 1, 5, 6, 0), None)}
INITIAL_STOCK = {("FG1", "WH", None): 5.0}


def make_stream(
    n: int,
    rng: random.Random,
    *,
    resend_every: int = 40,
    start: datetime | None = None,
    spacing: timedelta = timedelta(seconds=1),
) -> list[dict]:
    """`n` distinct events of eventkit's plant (stock adjustments, machine stops and restarts), with a
    re-sent copy of an earlier event (same source and id) about every `resend_every` events. Every
    element has its own increasing `sequence` (a re-send too, as an outbox re-sent under new numbers),
    so feed order, sequence order and the order of application are one."""
    start = start or datetime(2026, 1, 5, 6, 0)
    stream: list[dict] = []
    sent: list[dict] = []
    made = 0
    while made < n:
        if sent and resend_every and rng.random() < 1 / resend_every:
            stream.append(dict(rng.choice(sent)))
        else:
            made += 1
            when = (start + spacing * made).isoformat() + "Z"
            roll = rng.random()
            if roll < 0.15:
                machine = rng.choice(MACHINES)
                if rng.random() < 0.5:
                    event = ce(
                        f"ev-{made}",
                        "machine.down",
                        {"machine_id": machine, "reason": f"stop {made}", "expected_minutes": rng.randint(0, 480)},
                        time=when,
                    )
                else:
                    event = ce(f"ev-{made}", "machine.up", {"machine_id": machine}, time=when)
            else:
                event = ce(
                    f"ev-{made}",
                    "inventory.adjusted",
                    {"item_id": "FG1", "location": rng.choice(LOCATIONS), "qty_delta": rng.randint(-3, 9)},
                    time=when,
                )
            sent.append(event)
            stream.append(event)
    for seq, event in enumerate(stream, start=1):
        stream[seq - 1] = {**event, "sequence": seq}
    return stream


def distinct(stream: list[dict]) -> list[dict]:
    """The stream without re-sends: each identity at its first appearance, in order."""
    seen: set[tuple[str, str]] = set()
    out = []
    for event in stream:
        key = (event["source"], event["id"])
        if key not in seen:
            seen.add(key)
            out.append(event)
    return out


def expected_outcome(event: dict) -> str:
    """How eventkit's plant takes an event of these streams: a machine it does not have is rejected."""
    if event["type"].startswith("machine.") and event["data"].get("machine_id") not in MACHINES:
        return "rejected"
    return "applied"


@dataclass
class PlantModel:
    """What a prefix of a stream does to eventkit's plant, computed in plain Python."""

    machines: dict[str, tuple] = field(default_factory=lambda: dict(INITIAL_MACHINES))
    stock: dict[tuple, float] = field(default_factory=lambda: dict(INITIAL_STOCK))
    applied: list[str] = field(default_factory=list)

    def apply(self, event: dict) -> None:
        if expected_outcome(event) != "applied":
            return  # kept in the history, changes nothing
        data = event["data"]
        when = datetime.fromisoformat(event["time"].rstrip("Z"))
        if event["type"] == "machine.down":
            self.machines[data["machine_id"]] = ("down", when, data.get("reason"))
        elif event["type"] == "machine.up":
            self.machines[data["machine_id"]] = ("running", when, None)
        elif event["type"] == "inventory.adjusted":
            key = (data["item_id"], data["location"], data.get("lot_id"))
            self.stock[key] = self.stock.get(key, 0.0) + float(data["qty_delta"])
        else:  # pragma: no cover - the streams hold only these
            raise AssertionError(event["type"])
        self.applied.append(event["id"])

    @classmethod
    def of(cls, events: Iterable[dict]) -> PlantModel:
        model = cls()
        for event in events:
            model.apply(event)
        return model


def observed_plant(store: Store) -> tuple[dict, dict]:
    """(machine states, FG1 stock) as the store holds them, in the model's shape."""
    cur = store.cursor()
    machines = {
        m: (s, since, reason)
        for m, s, since, reason in cur.execute("SELECT machine_id, state, since, reason FROM machine_states").fetchall()
    }
    stock = {
        (i, loc, lot): float(q)
        for i, loc, lot, q in cur.execute(
            "SELECT item_id, location, lot_id, qty FROM inventory WHERE item_id = 'FG1'"
        ).fetchall()
    }
    return machines, stock


def applied_log(store: Store, source: str = SOURCE) -> list[tuple[str, str, int]]:
    """(event id, outcome, how many rows) per identity of `source` in the event log."""
    return (
        store.cursor()
        .execute("SELECT event_id, min(outcome), count(*) FROM event_log WHERE source = ? GROUP BY event_id", [source])
        .fetchall()
    )


def check_prefix_applied(store: Store, stream: list[dict], *, complete: bool | int) -> int:
    """The store's history of `stream` is a prefix of its distinct events, each logged once, applied (or
    rejected, for a machine the plant does not have), and the plant equals the model of exactly that
    prefix. `complete`: True, the whole stream; an int n, at least the distinct events of stream[:n].
    Returns the length of the prefix."""
    unique = distinct(stream)
    order = {e["id"]: i for i, e in enumerate(unique)}
    log = applied_log(store)
    unknown = [row for row in log if row[0] not in order]
    assert not unknown, f"events in the log that the feed never sent: {unknown[:5]}"
    twice = [row for row in log if row[2] != 1]
    assert not twice, f"events logged more than once: {twice[:5]}"
    by_id = {e["id"]: e for e in unique}
    wrong = [row for row in log if row[1] != expected_outcome(by_id[row[0]])]
    assert not wrong, f"events with the wrong outcome (event id, outcome, rows): {wrong[:5]}"
    positions = sorted(order[row[0]] for row in log)
    assert positions == list(range(len(positions))), (
        f"the applied events are not a prefix of the feed: a gap after {len(positions)} events "
        f"(first missing: {next((unique[i]['id'] for i in range(len(unique)) if i not in set(positions)), None)})"
    )
    if complete is True:
        assert len(positions) == len(unique), f"{len(unique) - len(positions)} of {len(unique)} events never applied"
    elif complete is not False:
        due = len(distinct(stream[:complete]))
        assert len(positions) >= due, (
            f"{due - len(positions)} of the {due} events delivered before a good poll are missing"
        )
    model = PlantModel.of(unique[: len(positions)])
    machines, stock = observed_plant(store)
    assert machines == model.machines, "machine states differ from the model of the applied events"
    assert stock == model.stock, "stock differs from the model of the applied events"
    # The comparison compared something: the model holds the plant's rows (and, once events applied,
    # their effects).
    assert model.machines and model.stock
    return len(positions)


def write_stream_slowly(
    path: Path, stream: list[dict], rng: random.Random, *, seconds: float, stop: threading.Event
) -> threading.Thread:
    """A producer appending `stream` to a JSON Lines file over about `seconds`: bursts of lines, some of
    them split in two writes (a line half written when a reader looks), flushed each time."""
    lines = [json.dumps(event).encode() + b"\n" for event in stream]
    bursts: list[list[bytes]] = []
    i = 0
    while i < len(lines):
        size = rng.randint(1, 60)
        bursts.append(lines[i : i + size])
        i += size
    pause = seconds / max(1, len(bursts))
    splits = [rng.random() < 0.3 for _ in bursts]

    def produce() -> None:
        with path.open("ab") as handle:
            for burst, split in zip(bursts, splits):
                if stop.is_set():
                    return
                data = b"".join(burst)
                if split and len(data) > 10:
                    cut = len(data) - len(burst[-1]) // 2
                    handle.write(data[:cut])
                    handle.flush()
                    time.sleep(pause / 2)
                    handle.write(data[cut:])
                else:
                    handle.write(data)
                handle.flush()
                time.sleep(pause)

    thread = threading.Thread(target=produce, name="feed-producer", daemon=True)
    thread.start()
    return thread


# ------------------------------------------------------------------------ a server that misbehaves


@dataclass
class Answer:
    """One HTTP answer: `body` is bytes, or an iterable of chunks sent as they come (with `delay`
    seconds before each); `length` is the Content-Length to declare (None: the body's, when bytes;
    "none": no Content-Length and the connection closes after the body)."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | Iterable[bytes] = b""
    delay: float = 0.0
    length: int | str | None = None


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address) -> None:
        pass  # a client that gave up or was killed mid-answer: expected here, not worth a traceback


class HostileServer:
    """A loopback HTTP/1.1 server (threads) whose every GET is answered by `route(path, query)`.

    Unlike the polite servers of the other tests it can trickle, stream without end, declare lengths it
    never sends and compress its bodies, which is what a broken proxy or a hostile host does."""

    def __init__(self, route: Callable[[str, dict], Answer], host: str = "127.0.0.1"):
        self.route = route
        self.requests: list[str] = []
        self.stopping = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                parts = urlsplit(self.path)
                outer.requests.append(self.path)
                answer = outer.route(parts.path, {k: v[-1] for k, v in parse_qs(parts.query).items()})
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                if answer.length == "none":
                    self.send_header("Connection", "close")
                    self.close_connection = True
                elif answer.length is not None:
                    self.send_header("Content-Length", str(answer.length))
                elif isinstance(answer.body, bytes):
                    self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                chunks = [answer.body] if isinstance(answer.body, bytes) else answer.body
                try:
                    for chunk in chunks:
                        if outer.stopping.is_set():
                            break
                        if answer.delay:
                            time.sleep(answer.delay)
                        self.wfile.write(chunk)
                        self.wfile.flush()
                except OSError:
                    pass  # the client gave up: what a hostile server hopes for
                if not isinstance(answer.body, bytes) and answer.length != "none":
                    self.close_connection = True

        self.httpd = _QuietServer((host, 0), Handler)
        self.httpd.daemon_threads = True
        self.host = host
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def url(self, path: str = "/") -> str:
        return f"http://{self.host}:{self.port}{path}"

    def stop(self) -> None:
        self.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()
