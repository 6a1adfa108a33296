"""The plant server (`planner-tui serve`) with many consoles: refresh latency, server CPU per change,
triage and floor events to every console, and a machine-stop impact through a warm server.

    python benchmarks/bench_server.py                      # the large plant; 1 and 50 consoles
    python benchmarks/bench_server.py --quick              # a small plant, 1 and 10 consoles: < 60 s
    python benchmarks/bench_server.py --clients 1,10,50 --changes 20 --events 20

For each console count N a fresh copy of the plant's database is served by a real `planner-tui serve`
subprocess on a Unix socket, following a JSON Lines feed at a 1 s poll (`--events FEED --poll 1`). N
consoles connect, each a `RemotePlant` used as the console uses it: one thread waits on `poll_feed` (the
server's live stream), and after every change it hears the console refreshes its main screen, asking what
`MainScreen._load_panels` asks (console/screens/main.py, console/widgets/panels.py), in its two batches
side by side: [plant_name, event_lag, machines, holds, reschedule(at), shortages(at),
balance_series(first 60 short items, at)] and [plant_name, event_lag, exceptions(at)], `at` being the
console's clock (the real UTC clock, as a console without --at). Rows are not built (the server's work
is what is measured). The consoles run as threads in a few worker processes (`--per-process`), so no one
GIL serves them all; their CPU time is printed beside the server's, as all of it shares this machine.

One more client, "A", makes the changes:

1. triage: A adds a note to an exception, `--changes` times, one every `--interval` seconds (8 s: longer
   than the 4-6 s fifty consoles take to refresh here, so a change never lands on the last one's refresh;
   and the same cadence for every console count, so the server's "live" answers, reused for 5 s, expire
   alike). Refresh latency is from A's triage answer to a console having all its refreshed answers;
   triage-to-console is from A's answer to a console's `poll_feed` returning changed (0 when it heard
   before A had its answer).
2. floor events: a `machine.down` / `machine.up` line appended to the feed file, `--events` times, each
   after a random pause (so the appends fall anywhere in the server's 1 s poll); timed from the append to
   the last console hearing it.
3. server CPU: utime + stime of the server process (/proc/PID/stat) over the triage rounds (changes x
   interval seconds), per change; its idle rate (feed polls, stream pings) over a few quiet seconds is
   printed too.
4. machine_impact(busiest machine, down_minutes=1800, at=the plant's as_of) through the server: the
   first call after a floor event (cold: the plant's data changed, the server computes it) and the same
   call repeated (warm: the server's cache for this plant version, and the client's ETag: a 304); also
   without `at` (the server's clock: a "live" answer). Beside it the same call in-process (LocalPlant on
   the unchanged database), as docs/performance.md measured it. Run with the first console count only.
5. no changes for `--age-window` seconds while every console refreshes on its 30 s timer (the main
   screen's AGE_REFRESH_SECONDS, each at a random phase): the server's CPU per second.
"""

from __future__ import annotations

import argparse
import itertools
import json
import multiprocessing
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from plant import large_plant  # noqa: E402

from planner_tui.access.address import parse_address  # noqa: E402
from planner_tui.access.remote import RemotePlant  # noqa: E402
from planner_tui.timeutil import utcnow  # noqa: E402

LARGE_DB = Path(tempfile.gettempdir()) / "bench_server_large.duckdb"
SPARK_ROWS = 60  # console/widgets/panels.py: the materials panel charts its first 60 items
CLK_TCK = os.sysconf("SC_CLK_TCK")
PLANNER_TUI = Path(sys.executable).with_name("planner-tui")


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * (len(ordered) - 1) + 0.5))]


def cpu_of(pid: int) -> float:
    """User + system CPU seconds of a process (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime: fields 14 and 15 of stat(5)


# ------------------------------------------------------------------------------------------ a console


@dataclass
class Console:
    """One console's use of the plant: hears changes on the stream, refreshes its main screen after each."""

    plant: RemotePlant
    heard: list[tuple[float, int]] = field(default_factory=list)  # (monotonic, version heard)
    refreshed: list[tuple[float, float, int]] = field(default_factory=list)  # (start, done, version at start)
    errors: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.wanted = threading.Event()
        self.stopping = False
        self.lock = threading.Lock()

    def start(self) -> None:
        threading.Thread(target=self._listen, daemon=True).start()
        threading.Thread(target=self._refresher, daemon=True).start()
        self.wanted.set()  # the first screen

    def start_ageing(self, every: float) -> None:
        """The main screen's timer: a refresh every `every` seconds (ages move), from a random phase."""

        def tick() -> None:
            time.sleep(random.uniform(0, every))
            while not self.stopping:
                self.wanted.set()
                time.sleep(every)

        threading.Thread(target=tick, daemon=True).start()

    def _listen(self) -> None:
        while not self.stopping:
            try:
                polled = self.plant.poll_feed()
            except Exception as error:  # noqa: BLE001 - said in the report, the console goes on
                self.errors.append(f"poll: {error}")
                time.sleep(0.2)
                continue
            if polled.get("changed"):
                with self.lock:
                    self.heard.append((time.monotonic(), self.plant.version))
                self.wanted.set()

    def _refresher(self) -> None:
        while not self.stopping:
            if not self.wanted.wait(0.5):
                continue
            self.wanted.clear()
            version, started = self.plant.version, time.monotonic()
            try:
                refresh(self.plant, utcnow())
            except Exception as error:  # noqa: BLE001
                self.errors.append(f"refresh: {error}")
                continue
            with self.lock:
                self.refreshed.append((started, time.monotonic(), version))

    def covered(self, version: int) -> bool:
        with self.lock:
            return any(v >= version for _, _, v in self.refreshed)


def _header(plant: RemotePlant) -> None:
    plant.plant_name()
    plant.event_lag()


def _batch_panels(plant: RemotePlant, at: datetime) -> None:
    _header(plant)
    plant.machines()
    plant.holds()
    plant.reschedule(at=at)
    items = list(plant.shortages(at=at).get("shortages") or [])
    items.sort(key=lambda s: (str(s.get("first_short_at") or "9999"), str(s.get("item_id"))))
    ids = [str(s.get("item_id")) for s in items[:SPARK_ROWS]]
    if ids:
        plant.balance_series(ids, at=at)


def _batch_inbox(plant: RemotePlant, at: datetime) -> None:
    _header(plant)
    plant.exceptions(at=at)


def refresh(plant: RemotePlant, at: datetime) -> None:
    """The main screen's refresh: its two batches (the inbox on a thread of its own), both finished."""
    failed: list[BaseException] = []

    def inbox() -> None:
        try:
            _batch_inbox(plant, at)
        except BaseException as error:  # noqa: BLE001 - raised below, in the refreshing thread
            failed.append(error)

    side = threading.Thread(target=inbox, daemon=True)
    side.start()
    _batch_panels(plant, at)
    side.join()
    if failed:
        raise failed[0]


def worker(conn, address: str, count: int) -> None:
    """A process holding `count` consoles; answers the coordinator's commands on `conn`."""
    consoles = [Console(RemotePlant(parse_address(address))) for _ in range(count)]
    for console in consoles:
        console.start()
    while True:
        command, *args = conn.recv()
        if command == "wait":  # until every console has refreshed at `version` or later
            version, timeout = args
            deadline = time.monotonic() + timeout
            while not all(c.covered(version) for c in consoles) and time.monotonic() < deadline:
                time.sleep(0.005)
            conn.send(all(c.covered(version) for c in consoles))
        elif command == "cpu":
            conn.send(time.process_time())
        elif command == "age":
            for console in consoles:
                console.start_ageing(args[0])
            conn.send(True)
        elif command == "stop":
            for console in consoles:
                console.stopping = True
            conn.send([(c.heard, c.refreshed, c.errors[:5]) for c in consoles])
            for console in consoles:
                console.plant.close()
            return


# ------------------------------------------------------------------------------------------ the server


class Server:
    """A `planner-tui serve` subprocess on a copy of the plant's database."""

    def __init__(self, base_db: Path, workdir: Path, poll: float) -> None:
        self.db = workdir / "served.duckdb"
        shutil.copy(base_db, self.db)
        self.feed = workdir / "feed.jsonl"
        self.feed.write_text("")
        self.socket = workdir / "served.sock"
        self.address = f"unix:{self.socket}"
        settings = workdir / "settings.toml"
        settings.write_text("")  # no user settings: the flags say everything
        self.log = (workdir / "server.log").open("w")
        env = {k: v for k, v in os.environ.items() if not k.startswith("PLANNER_TUI_")}
        env["PLANNER_TUI_CONFIG"] = str(settings)
        command = [str(PLANNER_TUI), "serve", "--db", str(self.db), "--events", str(self.feed)]
        command += ["--poll", str(poll), "--listen", self.address]
        self.process = subprocess.Popen(command, stdout=self.log, stderr=self.log, env=env)
        self.plant = RemotePlant(parse_address(self.address))  # client A: the one making changes
        deadline = time.monotonic() + 120
        while True:
            if self.process.poll() is not None:
                raise SystemExit(f"the server exited ({self.process.returncode}): see {workdir / 'server.log'}")
            try:
                self.pid = int(self.plant.server_version()["pid"])
                break
            except Exception:  # noqa: BLE001 - not listening yet
                if time.monotonic() > deadline:
                    raise SystemExit("the server did not answer within 120 s") from None
                time.sleep(0.1)

    def version(self) -> int:
        return int(self.plant.server_version()["version"])

    def cpu(self) -> float:
        return cpu_of(self.pid)

    def stop(self) -> None:
        self.plant.close()
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


# ------------------------------------------------------------------------------------------ one run


@dataclass
class Run:
    clients: int
    first_screen: float = 0.0
    refresh: list[float] = field(default_factory=list)  # triage answer -> a console's refreshed answers
    triage_heard: list[float] = field(default_factory=list)  # triage answer -> a console heard it
    triage_heard_sent: list[float] = field(default_factory=list)  # triage request sent -> heard
    event_all: list[float] = field(default_factory=list)  # feed line appended -> the last console heard it
    event_first: list[float] = field(default_factory=list)  # feed line appended -> the first console heard it
    event_refresh: list[float] = field(default_factory=list)  # appended -> a console's refreshed answers
    server_cpu_per_change: float = 0.0
    server_idle_rate: float = 0.0
    server_ageing_rate: float = 0.0  # CPU seconds per second while the consoles refresh on their timers
    ageing_refreshes: int = 0
    client_cpu_per_change: float = 0.0
    triage_answer: list[float] = field(default_factory=list)  # the triage call itself
    errors: list[str] = field(default_factory=list)
    timeouts: int = 0
    late_slots: int = 0


def _event_line(seq: int, run_id: str, machine_id: str) -> str:
    kind = "machine.down" if seq % 2 else "machine.up"
    data: dict = {"machine_id": machine_id}
    if kind == "machine.down":
        data.update(reason="bench: stopped", expected_minutes=60)
    event = {
        "specversion": "1.0",
        "id": f"bench-{run_id}-{seq}",
        "source": "urn:bench:server",
        "type": kind,
        "time": utcnow().isoformat() + "Z",
        "sequence": seq,
        "data": data,
    }
    return json.dumps(event) + "\n"


def one_run(args, base_db: Path, clients: int, impact: dict | None) -> Run:
    run = Run(clients)
    ageing_from = float("inf")
    with tempfile.TemporaryDirectory(prefix="bench-server-") as tmp:
        server = Server(base_db, Path(tmp), args.poll)
        pipes, processes = [], []
        try:
            ctx = multiprocessing.get_context("spawn")
            sizes = [args.per_process] * (clients // args.per_process)
            if clients % args.per_process:
                sizes.append(clients % args.per_process)
            started = time.monotonic()
            for size in sizes:
                parent, child = ctx.Pipe()
                process = ctx.Process(target=worker, args=(child, server.address, size), daemon=True)
                process.start()
                pipes.append(parent)
                processes.append(process)

            def wait_all(version: int) -> bool:
                for pipe in pipes:
                    pipe.send(("wait", version, args.timeout))
                done = all([pipe.recv() for pipe in pipes])
                if not done:
                    run.timeouts += 1
                    if server.process.poll() is not None:
                        raise SystemExit(f"the server exited ({server.process.returncode}) during the run")
                return done

            if not wait_all(0):
                raise SystemExit(f"the consoles' first screens did not come within {args.timeout:.0f} s")
            run.first_screen = time.monotonic() - started
            while server.plant.server_version()["listeners"] < clients:  # every stream open
                if time.monotonic() - started > args.timeout:
                    raise SystemExit("the consoles' streams did not all open")
                time.sleep(0.05)
            print(f"  {clients} console(s) connected, first screens in {run.first_screen:.1f} s", flush=True)
            exception_id = server.plant.exceptions(at=utcnow())["exceptions"][0]["exception_id"]

            # The server's idle rate: feed polls, stream pings.
            time.sleep(0.5)
            cpu0, t0 = server.cpu(), time.monotonic()
            time.sleep(args.idle)
            run.server_idle_rate = (server.cpu() - cpu0) / (time.monotonic() - t0)

            # 1-3: triage by client A, one change every `interval` seconds (once all consoles refreshed).
            marks = []
            cpu_server0 = server.cpu()
            cpu_clients0 = sum(_ask(pipe, "cpu") for pipe in pipes)
            first_slot = time.monotonic()
            for i in range(args.changes):
                slot = first_slot + i * args.interval
                if time.monotonic() < slot:
                    time.sleep(slot - time.monotonic())
                elif i:
                    run.late_slots += 1  # the last change's refresh outlasted the interval
                before = server.version()
                sent = time.monotonic()
                server.plant.note(exception_id, f"bench note {i}")
                answered = time.monotonic()
                run.triage_answer.append(answered - sent)
                marks.append((before, sent, answered))
                wait_all(before + 1)
            end = first_slot + args.changes * args.interval
            if time.monotonic() < end:
                time.sleep(end - time.monotonic())
            run.server_cpu_per_change = (server.cpu() - cpu_server0) / args.changes
            run.client_cpu_per_change = (sum(_ask(pipe, "cpu") for pipe in pipes) - cpu_clients0) / args.changes

            # 4: floor events through the feed file.
            events = []
            run_id, sequence = f"{time.time_ns():x}", itertools.count(1)

            def floor_event() -> tuple[int, float]:
                """Append a machine event; once every console has refreshed after it, (version before, appended)."""
                before = server.version()
                line = _event_line(next(sequence), run_id, args.machine_for_events)
                with server.feed.open("a") as feed:
                    feed.write(line)
                appended = time.monotonic()
                wait_all(before + 1)
                return before, appended

            for _ in range(args.events):
                time.sleep(random.uniform(0, args.poll))
                events.append(floor_event())

            if impact is not None:
                impact.update(impact_through(server, args, floor_event))

            # 5: no changes, but every console refreshes on its timer (AGE_REFRESH_SECONDS) at its phase.
            if args.age_window > 0:
                for pipe in pipes:
                    pipe.send(("age", args.age_every))
                    pipe.recv()
                ageing_from = time.monotonic()
                cpu0, t0 = server.cpu(), time.monotonic()
                time.sleep(args.age_window)
                run.server_ageing_rate = (server.cpu() - cpu0) / (time.monotonic() - t0)
        finally:
            records = []
            for pipe in pipes:
                try:
                    pipe.send(("stop",))
                    records.extend(pipe.recv())
                except (EOFError, OSError):
                    pass
            for process in processes:
                process.join(10)
            server.stop()

    for heard, refreshed, errors in records:
        run.errors.extend(errors)
        if args.age_window > 0:
            run.ageing_refreshes += sum(1 for s, _, _ in refreshed if s >= ageing_from)
        for before, sent, answered in marks:
            hearing = next((t for t, v in heard if v > before), None)
            if hearing is not None:
                run.triage_heard.append(max(0.0, hearing - answered))
                run.triage_heard_sent.append(hearing - sent)
            done = next((d for s, d, v in refreshed if v > before), None)
            if done is not None:
                run.refresh.append(max(0.0, done - answered))
        for before, appended in events:
            done = next((d for s, d, v in refreshed if v > before), None)
            if done is not None:
                run.event_refresh.append(done - appended)
    for before, appended in events:
        last = []
        for heard, _, _ in records:
            hearing = next((t for t, v in heard if v > before), None)
            last.append(hearing - appended if hearing is not None else float("inf"))
        run.event_all.append(max(last))
        run.event_first.append(min(last))
    return run


def _ask(pipe, command: str):
    pipe.send((command,))
    return pipe.recv()


# ------------------------------------------------------------------------------------------ machine impact


def busiest_machine(base_db: Path) -> tuple[str, datetime, str]:
    """The machine bench_impact.py stops (most open operations in the day after the plant's as_of), that
    as_of, and a running machine for the feed's machine.down / machine.up events."""
    from datetime import timedelta

    from planner_tui.store import Store

    store = Store.open(base_db, read_only=True, create=False)
    try:
        cur = store.cursor()
        row = cur.execute("SELECT value FROM store_meta WHERE key = 'as_of'").fetchone()
        as_of = datetime.fromisoformat(row[0]) if row and row[0] else utcnow()
        busy = cur.execute(
            """SELECT o.machine_id, count(*) FROM operations o
               WHERE o.status <> 'done' AND o.planned_start >= ? AND o.planned_start < ?
               GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 1""",
            [as_of, as_of + timedelta(days=1)],
        ).fetchall()[0][0]
        quiet = cur.execute(
            """SELECT m.machine_id FROM machines m LEFT JOIN machine_states s USING (machine_id)
               WHERE coalesce(s.state, 'running') NOT IN ('down', 'maintenance') AND m.machine_id <> ?
               ORDER BY m.machine_id LIMIT 1""",
            [busy],
        ).fetchall()[0][0]
    finally:
        store.close()
    return busy, as_of, quiet


def impact_through(server: Server, args, floor_event) -> dict:
    machine, at = args.impact_machine, args.impact_at
    cold, warm, cold_live, warm_live = [], [], [], []
    size = None
    for _ in range(args.impact_runs):  # each after a floor event: the server computes it afresh
        floor_event()  # returns once the consoles' refresh is over: the impact runs alone
        t0 = time.perf_counter()
        answer = server.plant.machine_impact(machine, at=at, down_minutes=1800)
        cold.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        server.plant.machine_impact(machine, down_minutes=1800)  # at the server's clock ("now")
        cold_live.append(time.perf_counter() - t0)
        size = (len(answer["production_orders"]), len(answer["sales_orders"]), len(answer["notify"]))
    server.plant.machine_impact(machine, at=at, down_minutes=1800)  # the warm-up call
    for _ in range(args.warm_runs):
        t0 = time.perf_counter()
        server.plant.machine_impact(machine, at=at, down_minutes=1800)
        warm.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        server.plant.machine_impact(machine, down_minutes=1800)
        warm_live.append(time.perf_counter() - t0)
    fresh = RemotePlant(parse_address(server.address))  # no ETags yet: the whole answer sent and read
    try:
        t0 = time.perf_counter()
        fresh.machine_impact(machine, at=at, down_minutes=1800)
        no_etag = time.perf_counter() - t0
    finally:
        fresh.close()
    return {
        "cold": cold,
        "warm": warm,
        "cold_live": cold_live,
        "warm_live": warm_live,
        "no_etag": no_etag,
        "size": size,
    }


def impact_in_process(base_db: Path, machine: str, at: datetime, runs: int) -> list[float]:
    from planner_tui.access import LocalPlant
    from planner_tui.store import Store

    plant = LocalPlant(Store.open(base_db, read_only=True, create=False))
    try:
        times = []
        for _ in range(runs + 1):
            t0 = time.perf_counter()
            plant.machine_impact(machine, at=at, down_minutes=1800)
            times.append(time.perf_counter() - t0)
        return times[1:]  # the first call pays for DuckDB's first reads of the file
    finally:
        plant.close()


# ------------------------------------------------------------------------------------------ the plant


def prepare_db(args, workdir: Path) -> tuple[Path, str]:
    from planner_tui.store import Store
    from planner_tui.store.loader import load_snapshot

    if args.quick:
        from planner_tui.generate import generate_plant

        folder = workdir / "small"
        generate_plant(folder, scale=args.scale, seed=1)
        db = workdir / "small.duckdb"
    elif args.db is not None:
        return args.db, str(args.db)
    else:
        folder = large_plant(args.data)
        db = LARGE_DB
        if db.exists():
            return db, f"{folder} (loaded once into {db})"
    started = time.perf_counter()
    store = Store.open(db)
    try:
        load_snapshot(store, str(folder))
        store.con.execute("CHECKPOINT")
    finally:
        store.close()
    print(f"  (loaded {folder} into {db} in {time.perf_counter() - started:.1f} s, not timed)", flush=True)
    return db, f"{folder} (into {db})"


def plant_size(db: Path) -> str:
    from planner_tui.store import Store

    store = Store.open(db, read_only=True, create=False)
    try:
        ops, orders, machines = (
            store.cursor()
            .execute(
                "SELECT (SELECT count(*) FROM operations), (SELECT count(*) FROM production_orders), "
                "(SELECT count(*) FROM machines)"
            )
            .fetchone()
        )
    finally:
        store.close()
    return f"{machines:,} machines, {orders:,} production orders, {ops:,} operations"


# ------------------------------------------------------------------------------------------ main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a small generated plant, 1 and 10 consoles (< 60 s)")
    parser.add_argument("--data", type=Path, help="a Parquet plant (default: the large plant of plant.py)")
    parser.add_argument("--db", type=Path, help="a planner_tui database to serve (copied per run)")
    parser.add_argument("--scale", type=float, default=0.02, help="the --quick plant's scale")
    parser.add_argument("--clients", default=None, help="console counts to run, e.g. 1,50 (default; --quick: 1,10)")
    parser.add_argument("--changes", type=int, default=None, help="triage changes per run (default 20; quick 5)")
    parser.add_argument("--events", type=int, default=None, help="feed events per run (default 20; quick 5)")
    parser.add_argument("--poll", type=float, default=1.0, help="the server's feed poll, seconds")
    parser.add_argument("--per-process", type=int, default=10, help="consoles per client process")
    parser.add_argument(
        "--interval", type=float, default=None, help="seconds from one triage change to the next (default 8; quick 1)"
    )
    parser.add_argument(
        "--idle", type=float, default=None, help="seconds to measure the server's idle CPU (3; quick 1)"
    )
    parser.add_argument("--impact-runs", type=int, default=None, help="cold machine_impact calls (default 7)")
    parser.add_argument("--warm-runs", type=int, default=30, help="warm machine_impact calls")
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds to wait for the consoles' refresh")
    parser.add_argument(
        "--age-window", type=float, default=None, help="seconds of timer refreshes only (default 65; quick 10; 0: skip)"
    )
    parser.add_argument("--age-every", type=float, default=30.0, help="the console's timer refresh (main.py: 30 s)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    random.seed(args.seed)
    args.clients = [int(c) for c in (args.clients or ("1,10" if args.quick else "1,50")).split(",")]
    args.changes = args.changes or (5 if args.quick else 20)
    args.events = args.events or (5 if args.quick else 20)
    args.impact_runs = args.impact_runs or (3 if args.quick else 7)
    args.interval = args.interval or (1.0 if args.quick else 8.0)
    args.idle = args.idle or (1.0 if args.quick else 3.0)
    if args.age_window is None:
        args.age_window = 4.0 if args.quick else 65.0
    if args.quick:
        args.warm_runs = min(args.warm_runs, 10)

    print(
        f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; "
        f"started {utcnow().isoformat(timespec='seconds')} UTC",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="bench-server-plant-") as tmp:
        base_db, source = prepare_db(args, Path(tmp))
        print(f"plant: {source}: {plant_size(base_db)}", flush=True)
        args.impact_machine, args.impact_at, args.machine_for_events = busiest_machine(base_db)
        inproc = impact_in_process(base_db, args.impact_machine, args.impact_at, args.impact_runs)

        runs, impact = [], {}
        for n, clients in enumerate(args.clients):
            print(f"run: {clients} console(s), {args.changes} triage changes, {args.events} feed events", flush=True)
            run = one_run(args, base_db, clients, impact if n == 0 else None)
            runs.append(run)
            report_run(run, args)
        report_impact(impact, inproc, args)
        report_table(runs, impact, inproc, args)
    print(f"finished {utcnow().isoformat(timespec='seconds')} UTC, load average {os.getloadavg()[0]:.1f}")


def report_run(run: Run, args) -> None:
    if run.errors or run.timeouts or run.late_slots:
        print(
            f"  problems: {run.timeouts} waits timed out; {run.late_slots} triage changes came late (the refresh "
            f"before outlasted --interval {args.interval:g} s); errors: {run.errors[:3]}"
        )
    print(
        f"  triage call p50 {ms(statistics.median(run.triage_answer))}; server CPU per change "
        f"{ms(run.server_cpu_per_change)} (idle {ms(run.server_idle_rate)}/s); consoles' CPU per change "
        f"{ms(run.client_cpu_per_change)}",
        flush=True,
    )
    print(f"  feed event to every console, each in order: {', '.join(ms(t) for t in run.event_all)}")
    print(f"  feed event to the first console, each in order: {', '.join(ms(t) for t in run.event_first)}")
    if args.age_window > 0:
        print(
            f"  no changes, timer refreshes every {args.age_every:.0f} s: server CPU {ms(run.server_ageing_rate)}/s "
            f"over {args.age_window:.0f} s ({run.ageing_refreshes} refreshes)",
            flush=True,
        )


def report_impact(impact: dict, inproc: list[float], args) -> None:
    orders, lines, people = impact["size"]
    print(
        f"machine_impact({args.impact_machine}, 1800 min, at {args.impact_at}): {orders} orders, {lines} lines, "
        f"{people} people"
    )
    print(f"  in-process (LocalPlant): p50 {ms(statistics.median(inproc))}, max {ms(max(inproc))}")
    print(
        f"  server, cold (first call after a change): p50 {ms(statistics.median(impact['cold']))}, "
        f"max {ms(max(impact['cold']))} over {len(impact['cold'])}"
    )
    print(
        f"  server, warm (repeated, same version): p50 {ms(statistics.median(impact['warm']))}, "
        f"p95 {ms(pct(impact['warm'], 0.95))} over {len(impact['warm'])}; "
        f"a new client without the ETag: {ms(impact['no_etag'])}"
    )
    print(
        f"  at the server's clock (live): cold p50 {ms(statistics.median(impact['cold_live']))}, "
        f"warm p95 {ms(pct(impact['warm_live'], 0.95))}"
    )


def report_table(runs: list[Run], impact: dict, inproc: list[float], args) -> None:
    print()
    print(f"| what | target | {' | '.join(f'{r.clients} console(s)' for r in runs)} |")
    print(f"|---|---|{'---|' * len(runs)}")

    def row(what: str, target: str, cell) -> None:
        print(f"| {what} | {target} | {' | '.join(cell(r) for r in runs)} |")

    row(
        "refresh after a triage: p50 / p95",
        "",
        lambda r: f"{ms(pct(r.refresh, 0.5))} / {ms(pct(r.refresh, 0.95))}" if r.refresh else "-",
    )
    row("server CPU per change", "50 <= 1.5x 1", lambda r: ms(r.server_cpu_per_change))
    row("consoles' CPU per change (same machine)", "", lambda r: ms(r.client_cpu_per_change))
    row(
        "server CPU, idle / consoles' 30 s timer refreshes only",
        "",
        lambda r: f"{ms(r.server_idle_rate)}/s / {ms(r.server_ageing_rate)}/s",
    )
    row(
        "triage to other console: p50 / p99",
        "p99 < 1 s",
        lambda r: f"{ms(pct(r.triage_heard, 0.5))} / {ms(pct(r.triage_heard, 0.99))}" if r.triage_heard else "-",
    )
    row(
        "feed event to every console: p50 / p99",
        "p99 < 1.2 s",
        lambda r: f"{ms(pct(r.event_all, 0.5))} / {ms(pct(r.event_all, 0.99))}" if r.event_all else "-",
    )
    row(
        "feed event to refreshed answers: p50 / p95",
        "",
        lambda r: f"{ms(pct(r.event_refresh, 0.5))} / {ms(pct(r.event_refresh, 0.95))}" if r.event_refresh else "-",
    )
    if len(runs) >= 2 and runs[0].server_cpu_per_change > 0:
        ratio = runs[-1].server_cpu_per_change / runs[0].server_cpu_per_change
        print(f"\nserver CPU per change, {runs[-1].clients} vs {runs[0].clients}: {ratio:.2f}x (target <= 1.5x)")
    print(
        f"machine_impact 30 h, warm p95 {ms(pct(impact['warm'], 0.95))} (target < 50 ms); cold p50 "
        f"{ms(statistics.median(impact['cold']))}; in-process p50 {ms(statistics.median(inproc))}"
    )


if __name__ == "__main__":
    main()
