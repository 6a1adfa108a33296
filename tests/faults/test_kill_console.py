"""SIGKILL of the console (`planner-tui run --db FILE --events FEED`, in a real pseudo-terminal) at random
moments while it follows a growing feed, with triage done from the command line between (and during)
its runs.

After every kill the database opens, its history is a prefix of the feed, each event logged once and the
plant equal to the model of those events; at the end every event is applied exactly once, and every
triage action a CLI call answered with exit 0 is still there.
"""

from __future__ import annotations

import fcntl
import os
import pty
import random
import struct
import subprocess
import termios
import threading
import time

import pytest

from faults.kit import (
    SEEDS,
    check_prefix_applied,
    cli_command,
    cli_env,
    make_stream,
    run_cli,
    sigkill,
    write_stream_slowly,
)
from planner_tui.store import Store

EVENTS = 1000
FEED_SECONDS = 3.0
MIN_KILLS = 3


class Terminal:
    """A command running in its own pseudo-terminal (80x24, its controlling tty), its screen output
    drained by a thread so it never blocks on a full terminal."""

    def __init__(self, argv: list[str], env: dict[str, str], rows: int = 24, cols: int = 80):
        """`argv` should make the terminal its own (cli_command(..., own_terminal=True))."""
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True)
        os.close(slave)
        self.master = master
        self.output = bytearray()
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        while True:
            try:
                data = os.read(self.master, 65536)
            except OSError:
                return
            if not data:
                return
            self.output += data

    def wait_for(self, text: bytes, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while text not in self.output and self.proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        return text in self.output

    def kill(self) -> int:
        status = sigkill(self.proc)
        self._reader.join(5)
        os.close(self.master)
        return status


def _answered_triage(db, who: str, n: int, *, expect_ok: bool) -> tuple | None:
    """One triage action by the CLI; the action as it must be found in the store when it exited 0."""
    # The hold H0 is raised all along (the stream stops and restarts machines): triage of an exception
    # that was never raised is refused, and person-N is nobody the plant knows (hence --new-person).
    if n % 3 == 0:
        args, wanted = (
            ("assign", "quality_hold:H0", f"person-{n}", "--new-person"),
            ("quality_hold:H0", "assign", f"person-{n}"),
        )
    else:
        args, wanted = ("note", "quality_hold:H0", f"note {n}"), ("quality_hold:H0", "note", f"note {n}")
    result = run_cli("triage", *args, "--db", db, "--who", who)
    assert "Traceback" not in result.stdout + result.stderr, result.stderr
    if expect_ok:
        assert result.returncode == 0, result.stdout + result.stderr
    else:
        # The console holds the database: the CLI is refused with the lock message, or, once the console
        # lets other processes write, answered. Either way a clear exit, never a hang.
        assert result.returncode in (0, 4), result.stdout + result.stderr
    return wanted if result.returncode == 0 else None


@pytest.mark.parametrize("seed", SEEDS[:2])
def test_the_console_killed_at_random_loses_no_event_and_no_answered_triage(tmp_path, seed, event_plant_db):
    rng = random.Random(seed)
    who = f"fault-suite-{seed}"
    stream = make_stream(EVENTS, rng)
    feed = tmp_path / "events.jsonl"
    feed.touch()
    env = cli_env(TERM="xterm-256color", LINES="24", COLUMNS="80")
    stop = threading.Event()
    producer = write_stream_slowly(feed, stream, rng, seconds=FEED_SECONDS, stop=stop)
    answered: list[tuple] = []
    prefixes: list[int] = []
    drew = 0
    n = 0
    try:
        while producer.is_alive() or len(prefixes) < MIN_KILLS:
            console = Terminal(
                cli_command("run", "--db", event_plant_db, "--events", feed, "--poll", "0.1", own_terminal=True), env
            )
            try:
                if not prefixes:  # the first run is killed once it is up and has polled the feed
                    assert console.wait_for(b"Inbox", 60), console.output.decode(errors="replace")[-3000:]
                    assert console.wait_for(b"feed live", 30), "the console's header never said 'feed live'"
                time.sleep(rng.uniform(0.3, 1.5))
                n += 1
                # While the console runs: a triage call is refused (the lock) or kept.
                if rng.random() < 0.5:
                    wanted = _answered_triage(event_plant_db, who, n, expect_ok=False)
                    if wanted:
                        answered.append(wanted)
                time.sleep(rng.uniform(0.0, 1.5))
            finally:
                console.kill()
            drew += b"Inbox" in console.output
            assert b"Traceback" not in console.output, console.output.decode(errors="replace")[-3000:]
            with Store.open(event_plant_db) as store:
                prefixes.append(check_prefix_applied(store, stream, complete=False))
            # Between runs the database is free: triage from the shell is answered, and must stay.
            n += 1
            answered.append(_answered_triage(event_plant_db, who, n, expect_ok=True))
    finally:
        stop.set()
        producer.join(10)

    assert drew, "the console never drew its screen before a kill: the kills only hit its start-up"
    assert prefixes == sorted(prefixes) and prefixes[-1] > 0, prefixes  # the console did apply events
    result = run_cli("events", "pull", feed, "--db", event_plant_db)
    assert result.returncode == 0, result.stdout + result.stderr
    with Store.open(event_plant_db) as store:
        check_prefix_applied(store, stream, complete=True)
        kept = (
            store.cursor()
            .execute(
                "SELECT exception_id, action, detail FROM exception_actions WHERE who = ? ORDER BY acted_at", [who]
            )
            .fetchall()
        )
    assert len(answered) >= MIN_KILLS
    missing = [a for a in answered if a not in kept]
    assert not missing, f"triage answered with exit 0 but gone after the console's restarts: {missing}"
    assert len(kept) == len(answered), (kept, answered)
