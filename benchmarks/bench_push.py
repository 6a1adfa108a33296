"""Benchmark CloudEvents pushed to the plant server: `POST /api/v1/events` in batch mode, events accepted
per second. Target >= 5,000/s in batches.

    python benchmarks/bench_push.py                          # the large plant: 100 batches of 500
    python benchmarks/bench_push.py --quick                  # a small generated plant (scale 0.02)
    python benchmarks/bench_push.py --batch 500 2000 --producers 1 2 --profile

A real `planner-tui serve` subprocess serves a copy of the plant's database on a Unix socket and a loopback
TCP port; an ingest user is added over the socket, and producers (threads, one httpx client each) push
batches over TCP with its bearer token, each request waiting for its answer before the next (as a producer
that must not lose an event does: it moves on only once the server said the events are recorded). The
events are bench_events.py's realistic mix over the plant's own ids (inventory moves, operations
completed, machine stops, receipts, shipments, orders, holds, a few unknown and rejected ones), made and
encoded before the clock starts. A first batch (the server's first apply creates lookup indexes) is not
timed. Reported per batch size and producer count: events accepted per second (answered 2xx, recorded
and committed), request latency p50/p99, the server's CPU seconds per 1,000 events, and a retry of the
first batches (every event a duplicate). With --single N, also N events pushed one a request in binary
mode (`ce-*` headers), as a gateway forwarding each machine message as it comes does.

--profile splits one batch's cost in-process, on another copy of the database: decoding the JSON body,
`apply_events` (envelope, duplicate check, state, history, commit), and the commit alone (a batch of one
event), beside the time the server took per request.

DIR (--data) is a Parquet plant (planner-tui generate); default the large plant (benchmarks/plant.py), loaded
once into the same database bench_server.py uses; --db serves a planner_tui database of your own (copied).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_events import EventMaker  # noqa: E402
from bench_server import cpu_of, prepare_db  # noqa: E402

from planner_tui.access.address import parse_address  # noqa: E402
from planner_tui.access.remote import RemotePlant  # noqa: E402
from planner_tui.store import Store  # noqa: E402
from planner_tui.timeutil import utcnow  # noqa: E402

BATCH_TYPE = "application/cloudevents-batch+json"
TARGET = 5_000


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * (len(ordered) - 1) + 0.5))]


class Server:
    """`planner-tui serve` on a copy of the database, on a Unix socket and a loopback TCP port."""

    def __init__(self, base_db: Path, workdir: Path) -> None:
        self.db = workdir / "served.duckdb"
        shutil.copy(base_db, self.db)
        self.socket = workdir / "served.sock"
        settings = workdir / "settings.toml"
        settings.write_text("")  # no user settings: the flags say everything
        self.log_path = workdir / "server.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("PLANNER_TUI_")}
        env["PLANNER_TUI_CONFIG"] = str(settings)
        command = [sys.executable, "-m", "planner_tui", "serve", "--db", str(self.db)]
        command += ["--listen", f"unix:{self.socket}", "--listen", "tcp:127.0.0.1:0"]
        with self.log_path.open("w") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=log, env=env)
        deadline = time.monotonic() + 120
        self.tcp = ""
        while not self.tcp:
            if self.process.poll() is not None:
                raise SystemExit(f"the server exited ({self.process.returncode}): see {self.log_path}")
            if time.monotonic() > deadline:
                raise SystemExit("the server did not listen within 120 s")
            for line in self.log_path.read_text().splitlines():
                if line.startswith("listening on tcp:"):
                    self.tcp = line.removeprefix("listening on tcp:").strip()
            time.sleep(0.05)
        self.admin = RemotePlant(parse_address(f"unix:{self.socket}"))  # the server's own user: an admin
        self.token = str(self.admin.add_user("bench-mes", "ingest")["token"])
        self.url = f"http://{self.tcp}/api/v1/events"

    def cpu(self) -> float:
        return cpu_of(self.process.pid)

    def stop(self) -> None:
        self.admin.close()
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.process.kill()


def make_bodies(db: Path, batches: int, batch: int, prefix: str) -> list[bytes]:
    """`batches` request bodies of `batch` events each, unique ids, encoded."""
    store = Store.open(db, read_only=True)
    try:
        maker = EventMaker(store)
    finally:
        store.close()
    events = maker.events(
        batches * batch, prefix=prefix, start_seq=1, start_time=utcnow() - timedelta(hours=1), spacing=0.001
    )
    return [json.dumps(events[i : i + batch]).encode() for i in range(0, len(events), batch)]


def push_all(server: Server, bodies: list[bytes], producers: int) -> dict:
    """Push every body, `producers` at a time (each waits for its answer); the totals and timings."""
    import httpx

    latencies: list[float] = []
    totals = {"applied": 0, "duplicates": 0, "rejected": 0, "unknown": 0}
    failures: list[str] = []
    lock = threading.Lock()
    shares = [bodies[i::producers] for i in range(producers)]
    headers = {"Authorization": f"Bearer {server.token}", "Content-Type": BATCH_TYPE}

    def produce(share: list[bytes]) -> None:
        with httpx.Client(timeout=300.0) as client:
            for body in share:
                started = time.perf_counter()
                answer = client.post(server.url, content=body, headers=headers)
                took = time.perf_counter() - started
                with lock:
                    if answer.status_code != 200:
                        failures.append(f"{answer.status_code}: {answer.text[:200]}")
                        return
                    latencies.append(took)
                    for key in totals:
                        totals[key] += int(answer.json()[key])

    threads = [threading.Thread(target=produce, args=(share,)) for share in shares]
    cpu0, started = server.cpu(), time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    cpu = server.cpu() - cpu0
    if failures:
        raise SystemExit(f"a push failed: {failures[0]}")
    events = sum(totals.values())
    return {
        "events": events,
        "seconds": seconds,
        "per_s": events / seconds,
        "p50_ms": pct(latencies, 0.5) * 1000,
        "p99_ms": pct(latencies, 0.99) * 1000,
        "server_cpu_per_1000": cpu / events * 1000,
        **totals,
    }


def push_single(server: Server, bodies: list[bytes]) -> dict:
    """Each event of `bodies` pushed alone in binary mode, one request after the other."""
    import httpx

    events = [event for body in bodies for event in json.loads(body)]
    latencies: list[float] = []
    cpu0, started = server.cpu(), time.perf_counter()
    with httpx.Client(timeout=60.0) as client:
        for event in events:
            headers = {f"ce-{k}": str(v) for k, v in event.items() if k not in ("data", "datacontenttype")}
            headers |= {"Authorization": f"Bearer {server.token}", "Content-Type": "application/json"}
            took = time.perf_counter()
            answer = client.post(server.url, content=json.dumps(event["data"]), headers=headers)
            latencies.append(time.perf_counter() - took)
            if answer.status_code != 200:
                raise SystemExit(f"a push failed: {answer.status_code}: {answer.text[:200]}")
    seconds = time.perf_counter() - started
    return {
        "events": len(events),
        "per_s": len(events) / seconds,
        "p50_ms": pct(latencies, 0.5) * 1000,
        "p99_ms": pct(latencies, 0.99) * 1000,
        "server_cpu_per_1000": (server.cpu() - cpu0) / len(events) * 1000,
    }


def profile(base_db: Path, workdir: Path, batch: int) -> None:
    """One batch's cost in-process (see the module docstring)."""
    from planner_tui.store.events import apply_events, loads_lenient

    db = workdir / "profile.duckdb"
    shutil.copy(base_db, db)
    bodies = make_bodies(db, 21, batch, "profile")
    decode = []
    for body in bodies:
        started = time.perf_counter()
        loads_lenient(body.decode("utf-8"), descend="[{")
        decode.append(time.perf_counter() - started)
    store = Store.open(db)
    try:
        apply_events(store, json.loads(bodies[0]), feed="push:profile", position=0)  # the lookup indexes
        applying = []
        for body in bodies[1:]:
            events = json.loads(body)
            started = time.perf_counter()
            apply_events(store, events, feed="push:profile", position=0)
            applying.append(time.perf_counter() - started)
        single = []
        for i in range(20):
            one = json.loads(bodies[0])[0] | {"id": f"profile-one-{i}"}
            started = time.perf_counter()
            apply_events(store, [one], feed="push:profile", position=0)
            single.append(time.perf_counter() - started)
    finally:
        store.close()
    print(
        f"  profile, batch of {batch}, in-process: JSON decode p50 {statistics.median(decode) * 1000:.1f} ms, "
        f"apply_events p50 {statistics.median(applying) * 1000:.1f} ms "
        f"({batch / statistics.median(applying):,.0f} events/s), a batch of one event (the fixed cost: "
        f"reads, writes, commit) p50 {statistics.median(single) * 1000:.1f} ms",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a small generated plant (--scale)")
    parser.add_argument("--data", type=Path, help="a Parquet plant (default: the large plant of plant.py)")
    parser.add_argument("--db", type=Path, help="a planner_tui database to serve (copied)")
    parser.add_argument("--scale", type=float, default=0.02, help="the --quick plant's scale")
    parser.add_argument("--batches", type=int, default=100, help="batches per run (default 100)")
    parser.add_argument("--batch", type=int, nargs="+", default=[500], help="events per batch (default 500)")
    parser.add_argument("--producers", type=int, nargs="+", default=[1], help="producers pushing at once")
    parser.add_argument("--retries", type=int, default=20, help="batches pushed again (all duplicates)")
    parser.add_argument("--profile", action="store_true", help="split one batch's cost in-process")
    parser.add_argument("--single", type=int, default=0, help="also push this many events one a request")
    args = parser.parse_args()
    command = "python benchmarks/bench_push.py " + " ".join(sys.argv[1:])
    print(f"load average at start: {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")

    with tempfile.TemporaryDirectory(prefix="bench-push-") as tmp_name:
        tmp = Path(tmp_name)
        base_db, shown = prepare_db(args, tmp)
        print(f"plant: {shown}", flush=True)
        rows = []
        for batch in args.batch:
            for producers in args.producers:
                workdir = tmp / f"run-{batch}-{producers}"
                workdir.mkdir()
                bodies = make_bodies(base_db, args.batches + 1, batch, f"push-{batch}-{producers}")
                server = Server(base_db, workdir)
                try:
                    push_all(server, bodies[:1], 1)  # the first apply creates the lookup indexes: not timed
                    run = push_all(server, bodies[1:], producers)
                    retry = push_all(server, bodies[1 : 1 + args.retries], 1) if args.retries else None
                finally:
                    server.stop()
                rows.append((batch, producers, run, retry))
                print(
                    f"  {args.batches} batches of {batch}, {producers} producer(s): {run['per_s']:,.0f} events/s "
                    f"({run['events']:,} in {run['seconds']:.1f} s; {run['applied']:,} applied, "
                    f"{run['rejected']:,} rejected, {run['unknown']:,} unknown, {run['duplicates']:,} duplicates), "
                    f"request p50 {run['p50_ms']:.0f} ms p99 {run['p99_ms']:.0f} ms, "
                    f"server CPU {run['server_cpu_per_1000']:.3f} s per 1,000 events"
                    + (
                        f"; retried: {retry['per_s']:,.0f} events/s, {retry['duplicates']:,} duplicates"
                        if retry
                        else ""
                    ),
                    flush=True,
                )
                if args.profile and producers == args.producers[0]:
                    profile(base_db, workdir, batch)
        if args.single:
            workdir = tmp / "run-single"
            workdir.mkdir()
            bodies = make_bodies(base_db, 2, args.single, "push-single")
            server = Server(base_db, workdir)
            try:
                push_all(server, bodies[:1], 1)  # the lookup indexes: not timed
                single = push_single(server, bodies[1:])
            finally:
                server.stop()
            print(
                f"  {single['events']:,} events one a request (binary mode): {single['per_s']:,.0f} events/s, "
                f"request p50 {single['p50_ms']:.1f} ms p99 {single['p99_ms']:.1f} ms, "
                f"server CPU {single['server_cpu_per_1000']:.2f} s per 1,000 events",
                flush=True,
            )
        print()
        print("| batch | producers | events/s | request p50 / p99 | server CPU per 1,000 | retried (duplicates) |")
        print("|---|---|---|---|---|---|")
        for batch, producers, run, retry in rows:
            again = f"{retry['per_s']:,.0f}/s" if retry else ""
            print(
                f"| {batch} | {producers} | **{run['per_s']:,.0f}** | {run['p50_ms']:.0f} / {run['p99_ms']:.0f} ms | "
                f"{run['server_cpu_per_1000']:.3f} s | {again} |"
            )
        best = max(run["per_s"] for _, _, run, _ in rows)
        print(f"\ntarget >= {TARGET:,} events/s: {'met' if best >= TARGET else 'NOT met'} (best {best:,.0f}/s)")
        print(f"command: {command}")


if __name__ == "__main__":
    main()
