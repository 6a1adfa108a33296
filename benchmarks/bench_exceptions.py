"""How long the exception inbox takes, whole and by kind (the console calls it on every refresh).

    python benchmarks/bench_exceptions.py [PLANT] [--at TS] [--repeat N] [--slow]

PLANT is a planner_tui database file (opened read-only) or a snapshot folder (loaded into memory
first; the load is not timed). Default: the large plant (benchmarks/plant.py). Prints seconds per call of
`list_exceptions` (best and median of N), the time of each kind's part, and the counts by kind.
--slow also times the reference machine counts (one `machine_impact` per stop that hits work, what
the inbox did before) and checks that the set-based counts agree with it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from plant import large_plant  # noqa: E402

from planner_tui.engine import exceptions as ex  # noqa: E402
from planner_tui.engine.exceptions.counts import slow_counts  # noqa: E402
from planner_tui.store import Store  # noqa: E402
from planner_tui.store.triage import triage_state  # noqa: E402
from planner_tui.timeutil import resolve_now  # noqa: E402


def open_plant(plant: str) -> Store:
    path = Path(plant)
    if path.is_file():
        return Store.open(path, read_only=True, create=False)
    from planner_tui.store.loader import load_snapshot

    store = Store.memory()
    started = time.perf_counter()
    load_snapshot(store, plant)
    print(f"loaded {plant} in memory in {time.perf_counter() - started:.1f} s (not part of the figures)")
    return store


def timed(fn):
    """(wall seconds, result); the process CPU seconds of the last call are kept in timed.cpu."""
    started, cpu = time.perf_counter(), time.process_time()
    result = fn()
    timed.cpu = time.process_time() - cpu
    return time.perf_counter() - started, result


def record_occurrences(store: Store, at, repeat: int) -> None:
    """The inbox as a writer asks it (the console, the plant server: issue 15): the first call on a store
    that has no first detections yet records them all; later calls read them back. A database file is
    opened read-only here, so this runs on a copy of it."""
    import shutil
    import tempfile

    from planner_tui.store import occurrences

    with tempfile.TemporaryDirectory() as folder:
        writer = store
        if store.read_only and store.path is not None:
            copy = Path(folder) / "copy.duckdb"
            shutil.copy(store.path, copy)
            writer = Store.open(copy)
        cur = writer.cursor()
        cur.execute("DELETE FROM exception_occurrences")
        detected: list = []
        seconds, rows = timed(lambda: ex.list_exceptions(cur, at=at, detected=detected))
        kept, _ = timed(lambda: occurrences.record(writer, detected))
        print(f"as a writer, first call: {seconds:.3f} s, then {kept:.3f} s to keep {len(detected):,} first detections")
        again = []
        for _ in range(repeat):
            detected = []
            seconds, rows = timed(lambda found=detected: ex.list_exceptions(cur, at=at, detected=found))
            again.append(seconds)
        print(
            f"as a writer, later calls: best {min(again):.3f} s, median {statistics.median(again):.3f} s; "
            f"{len(detected)} first detected"
        )
        if writer is not store:
            writer.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "plant", nargs="?", default=None, help="a db file or snapshot folder (default: the generated large plant)"
    )
    parser.add_argument("--at", default=None, help="pin 'now' (default: the snapshot's as_of, else the clock)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--slow", action="store_true", help="time machine_impact per stop and compare")
    parser.add_argument(
        "--record",
        action="store_true",
        help="also time the inbox as a writer asks it (the console, the server): on a copy of the database, "
        "the first call records every occurrence's first detection, the later ones read them back",
    )
    args = parser.parse_args()

    store = open_plant(args.plant if args.plant and not os.path.isdir(args.plant) else str(large_plant(args.plant)))
    cur = store.cursor()
    at = args.at
    if at is None:
        row = cur.execute("SELECT value FROM store_meta WHERE key = 'as_of'").fetchone()
        at = row[0] if row and row[0] else None
    at = resolve_now(at)
    stopped = cur.execute("SELECT count(*) FROM machine_states WHERE state IN ('down', 'maintenance')").fetchone()[0]
    holds = cur.execute("SELECT count(*) FROM quality_holds WHERE status = 'active'").fetchone()[0]
    ops = cur.execute("SELECT count(*) FROM operations").fetchone()[0]
    load = Path("/proc/loadavg").read_text().split()[0] if Path("/proc/loadavg").exists() else "?"
    print(f"load average at start: {load} (wall times stretch on a shared machine; CPU times less so)")
    print(f"plant: {ops:,} operations, {stopped} stopped machines, {holds} active holds; at {at.isoformat()}")

    totals, cpus = [], []
    rows = []
    for _ in range(max(1, args.repeat)):
        seconds, rows = timed(lambda: ex.list_exceptions(cur, at=at))
        totals.append(seconds)
        cpus.append(timed.cpu)
    print(
        f"list_exceptions: best {min(totals):.3f} s, median {statistics.median(totals):.3f} s wall "
        f"(CPU best {min(cpus):.3f} s) over {len(totals)} call(s); {len(rows)} exceptions"
    )
    print("  by kind:", dict(Counter(r["kind"] for r in rows)))
    if args.record:
        record_occurrences(store, at, max(1, args.repeat))
    print("  by severity:", dict(Counter(r["severity"] for r in rows)))

    # The parts, each once: the shared answers first (computed where first used), then each kind's detection
    # in the registry's order, then the triage merge.
    ctx = ex.Context(cur, at)
    parts = [("shortages() once", ctx.shortages), ("reschedule() once", ctx.reschedule)]
    parts += [(f"{kind.name} rows", lambda kind=kind: kind.detect(ctx, None)) for kind in ex.all_kinds()]
    parts.append(("triage merge", lambda: triage_state(cur)))
    results = {}
    for label, fn in parts:
        seconds, results[label] = timed(fn)
        print(f"  {label:<55} {seconds:7.3f} s wall {timed.cpu:7.3f} s CPU")

    if args.slow:
        machines = results["machine_down rows"]
        working = [r for r in machines if r["detail"]["production_orders"] or "error" in r["detail"]]
        seconds, slow = timed(lambda: {r["subject_id"]: slow_counts(cur, r["subject_id"]) for r in working})
        differ = [
            r["subject_id"]
            for r in working
            if {k: r["detail"].get(k) for k in slow[r["subject_id"]]} != slow[r["subject_id"]]
            and "error" not in r["detail"]
        ]
        print(
            f"  {'reference: machine_impact per stop (' + str(len(working)) + ' stops)':<55} {seconds:7.3f} s wall "
            f"{timed.cpu:7.3f} s CPU; counts differ for {len(differ)} stop(s) {differ[:5]}"
        )
    store.close()


if __name__ == "__main__":
    main()
