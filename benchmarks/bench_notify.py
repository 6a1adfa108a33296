"""Notifications (issue 12): from a floor event applied to its message accepted by the receiver, p95.

    python benchmarks/bench_notify.py                         # the sample plant, 30 stops
    python benchmarks/bench_notify.py --events 60 --poll 0.5
    python benchmarks/bench_notify.py --snapshot path/to/snapshot/   # another plant (a larger one)

A real `planner-tui serve` over a fresh database of the snapshot follows a JSON Lines feed (`--poll`), with
a settings file that gives every machine supervisor a channel: a JSON webhook (Apprise `json://`) on a
receiver on loopback (tests/receivers.py), `group_wait = "0s"`. After the first burst (the exceptions the
plant already has at the real clock are told once) has gone quiet, the benchmark appends, `--events`
times, a `machine.down` for a supervised machine (the supervisors' machines in turn) and waits for the
supervisor's message about that stop (`machine_down:<machine>|...` as its Idempotency-Key); then a
`machine.up` (the stop resolved: nothing is sent) and a pause of `--interval` seconds.

Per stop: **applied -> accepted** is the receiver's clock when the request arrived minus the event's
`applied_at` in the event log (the figure issue 12 asks for: target p95 < 2 s); **appended -> accepted**
adds the feed's poll (up to `--poll`). Both are on this machine's one clock. The load average is printed
with them: the machine is shared.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from receivers import WebhookReceiver  # noqa: E402

from planner_tui.store import Store  # noqa: E402
from planner_tui.store.loader import load_snapshot  # noqa: E402


def iso_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def event(n: int, kind: str, machine: str) -> str:
    data = {"machine_id": machine}
    if kind == "machine.down":
        data |= {"reason": f"bench stop {n}", "expected_minutes": 120}
    return json.dumps(
        {
            "specversion": "1.0",
            "id": f"bench-{n}",
            "source": "urn:bench:notify",
            "type": kind,
            "time": iso_now(),
            "sequence": str(n),
            "datacontenttype": "application/json",
            "data": data,
        }
    )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--snapshot", default=str(ROOT / "sample_data" / "plant"))
    parser.add_argument("--events", type=int, default=30, help="machine stops to time")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between one stop's message and the next")
    parser.add_argument("--poll", type=float, default=0.2, help="the server's feed poll, seconds")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for one message")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="bench-notify-"))
    db = folder / "plant.duckdb"
    started = time.monotonic()
    store = Store.open(db, create=True)
    try:
        load_snapshot(store, args.snapshot)
        found = store.con.execute(
            "SELECT machine_id, supervisor FROM machines WHERE supervisor IS NOT NULL ORDER BY machine_id"
        ).fetchall()
    finally:
        store.close()
    if not found:
        sys.exit("no machine in the snapshot has a supervisor: nobody to tell")
    print(f"plant loaded in {time.monotonic() - started:.1f} s; {len(found)} supervised machine(s)")

    with WebhookReceiver() as hook:
        supervisors = sorted({s for _, s in found})
        lines = []
        for i, name in enumerate(supervisors):
            lines += [f'[people."p{i}"]', f"name = {json.dumps(name)}", f'notify = ["{hook.url(f"/p{i}")}"]']
        lines += ["[routing]", 'group_wait = "0s"', 'repeat_interval = "4h"']
        config = folder / "notify.toml"
        config.write_text("\n".join(lines) + "\n", encoding="utf-8")
        feed = folder / "feed.jsonl"
        feed.touch()
        env = {k: v for k, v in os.environ.items() if not k.startswith("PLANNER_TUI_")}
        env |= {"PLANNER_TUI_CONFIG": str(config), "XDG_STATE_HOME": str(folder / "state")}
        log_path = folder / "server.log"
        with open(log_path, "wb") as log:
            server = subprocess.Popen(
                [sys.executable, "-m", "planner_tui", "serve", "--db", str(db), "--listen", f"unix:{folder}/p.sock"]
                + ["--events", str(feed), "--poll", str(args.poll)],
                stdout=log,
                stderr=log,
                env=env,
                cwd=folder,
            )
        try:
            deadline = time.monotonic() + 60
            while "listening on" not in log_path.read_text(errors="replace"):
                if server.poll() is not None or time.monotonic() > deadline:
                    sys.exit(f"the server did not start:\n{log_path.read_text(errors='replace')}")
                time.sleep(0.05)
            # The first burst: what the plant already has is told once; wait until it has gone quiet.
            while "(the first plan)" not in log_path.read_text(errors="replace"):
                if server.poll() is not None or time.monotonic() > deadline + 600:
                    sys.exit(f"the server made no plan:\n{log_path.read_text(errors='replace')}")
                time.sleep(0.1)
            quiet_since, seen = time.monotonic(), -1
            while time.monotonic() - quiet_since < 3:
                if len(hook.got()) != seen:
                    seen, quiet_since = len(hook.got()), time.monotonic()
                time.sleep(0.1)
            print(f"first burst: {seen} message(s) before the timed stops")

            timed: list[tuple[str, float, float]] = []  # event id, appended (epoch), accepted (epoch)
            n = 0
            for i in range(args.events):
                machine = found[i % len(found)][0]
                n += 1
                down_id = f"bench-{n}"
                appended = time.time()
                with open(feed, "a", encoding="utf-8") as out:
                    out.write(event(n, "machine.down", machine) + "\n")
                prefix = f"machine_down:{machine}|"
                wait_until = time.monotonic() + args.timeout
                while True:
                    got = [r for r in hook.got() if (r.key or "").startswith(prefix) and r.at >= appended]
                    if got:
                        timed.append((down_id, appended, min(r.at for r in got)))
                        break
                    if time.monotonic() > wait_until:
                        sys.exit(f"no message for {down_id} ({machine}) within {args.timeout} s")
                    time.sleep(0.005)
                n += 1
                with open(feed, "a", encoding="utf-8") as out:
                    out.write(event(n, "machine.up", machine) + "\n")
                time.sleep(args.interval)
            load = os.getloadavg()
        finally:
            server.terminate()
            server.wait(30)

    con = duckdb.connect(str(db), read_only=True)
    try:
        applied = {
            r[0]: r[1].replace(tzinfo=UTC).timestamp()
            for r in con.execute(
                "SELECT event_id, applied_at FROM event_log WHERE source = 'urn:bench:notify'"
            ).fetchall()
        }
        delivered = con.execute("SELECT count(*) FROM notify_outbox WHERE state = 'delivered'").fetchone()
    finally:
        con.close()
    from_applied = [accepted - applied[eid] for eid, _, accepted in timed]
    from_appended = [accepted - appended for _, appended, accepted in timed]

    def show(name: str, values: list[float]) -> None:
        print(
            f"{name:>26}: p50 {statistics.median(values):.3f} s  p95 {percentile(values, 0.95):.3f} s  "
            f"max {max(values):.3f} s  (n={len(values)})"
        )

    print(
        f"machine: {os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}, {platform.system()}"
    )
    print(f"load average during the run: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; poll {args.poll} s")
    show("applied -> accepted", from_applied)
    show("appended -> accepted", from_appended)
    print(f"outbox: {delivered[0] if delivered else 0} delivered; server log {log_path}")


if __name__ == "__main__":
    main()
