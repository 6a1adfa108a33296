"""Benchmark the shift's story (issue 14): the handover report and the plant as it was.

    python benchmarks/bench_shift.py [--data DIR] [--events 100000] [--hours 24] [--repeat 3]

The large plant (benchmarks/plant.py, or DIR) is copied into a DuckDB file, then --events realistic
events (bench_events.EventMaker: moves, completions, stops, receipts, shipments, orders, holds, a few
rejected) are applied in batches of 5,000, spread evenly over the --hours before T. Then, each the best
of --repeat runs:

Machine stops are not EventMaker's random walk (hundreds of machines down at once) but 40 stops of 20 min to
3 h over the window, 3 still down at T: the inbox, a large part of every question below, grows with the
stops.

1. `report shift` for [T - hours, T) (LocalPlant.shift_report): target < 2 s for 24 h and 100k events.
2. `--as-of` half way back (T - hours/2, so half the events are taken back): status, machines, holds and
   exceptions (the inbox: the slowest question on a large plant, timed on its own), and the cost of the
   past cursor alone. Target < 1 s.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STOPS = 40  # machine stops in the window
STILL_DOWN = 3  # of them still down at its end
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_events import EventMaker, load_plant, utcnow  # noqa: E402
from plant import large_plant  # noqa: E402

from planner_tui.access import LocalPlant  # noqa: E402
from planner_tui.store import Store  # noqa: E402
from planner_tui.store.events import apply_events  # noqa: E402
from planner_tui.store.past import past_cursor  # noqa: E402


def realistic_stops(events: list[dict], machines: list[str], start, end) -> list[dict]:
    """EventMaker's stream with its random machine.down / machine.up (a random walk that soon has
    hundreds of machines down at once, which no plant has) replaced by what a day has: STOPS stops of
    20 min to 3 h spread over the window, the last few still down at its end."""
    rng = random.Random(11)
    kept = [e for e in events if e["type"] not in ("machine.down", "machine.up")]
    span = (end - start).total_seconds()
    for n, machine in enumerate(rng.sample(machines, STOPS)):
        down = start + timedelta(seconds=rng.uniform(0, span * 0.95))
        stop = {"specversion": "1.0", "source": "urn:bench:mes", "datacontenttype": "application/json"}
        kept.append(
            {
                **stop,
                "id": f"stop-{n}-down",
                "type": "machine.down",
                "time": _rfc3339(down),
                "data": {"machine_id": machine, "reason": "fault", "expected_minutes": 60},
            }
        )
        up = down + timedelta(minutes=rng.uniform(20, 180))
        if n >= STILL_DOWN and up < end:
            kept.append(
                {
                    **stop,
                    "id": f"stop-{n}-up",
                    "type": "machine.up",
                    "time": _rfc3339(up),
                    "data": {"machine_id": machine},
                }
            )
    kept.sort(key=lambda e: e["time"])
    for i, event in enumerate(kept, start=1):
        event["sequence"] = i
    return kept


def _rfc3339(moment) -> str:
    return moment.isoformat(timespec="milliseconds") + "Z"


def best(repeat: int, call) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--hours", type=float, default=24)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    data = args.data or large_plant()
    print(f"command: python benchmarks/bench_shift.py --events {args.events} --hours {args.hours:g}")
    print(
        f"machine: {platform.node()}, {os.cpu_count()} CPUs, CPython {platform.python_version()}; "
        f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}"
    )
    with tempfile.TemporaryDirectory() as folder:
        store = Store.open(Path(folder) / "plant.duckdb")
        counts = load_plant(store, data)
        print(f"plant {data}: {counts.get('machines', 0):,} machines, {counts.get('operations', 0):,} operations")
        end = utcnow().replace(microsecond=0)
        start = end - timedelta(hours=args.hours)
        spacing = args.hours * 3600 / args.events
        maker = EventMaker(store)
        events = realistic_stops(
            maker.events(args.events, prefix="shift", start_seq=1, start_time=start, spacing=spacing),
            maker.machines,
            start,
            end,
        )
        began = time.perf_counter()
        for i in range(0, len(events), 5000):
            apply_events(store, events[i : i + 5000], feed="bench")
        print(f"applied {len(events):,} events over {args.hours:g} h in {time.perf_counter() - began:.1f} s")

        plant = LocalPlant(store)
        report = plant.shift_report(at=end, start=start, end=end)
        seconds = best(args.repeat, lambda: plant.shift_report(at=end, start=start, end=end))
        print(
            f"report shift, {args.hours:g} h, {report['feed']['events']:,} events: {seconds:.2f} s "
            f"({len(report['attention']):,} open, {len(report['stops']):,} stops, {len(report['holds']):,} holds, "
            f"{len(report['orders']['confirmed']):,} orders confirmed)"
        )
        half = end - timedelta(hours=args.hours / 2)

        def cursor_only() -> None:
            with past_cursor(store, half):
                pass

        print(f"--as-of T-{args.hours / 2:g} h, the past cursor alone: {best(args.repeat, cursor_only):.2f} s")
        for name, call in (
            ("status", lambda: plant.status(as_of=half)),
            ("machines", lambda: plant.machines(as_of=half)),
            ("holds", lambda: plant.holds(as_of=half)),
            ("exceptions", lambda: plant.exceptions(at=half, as_of=half)),
        ):
            print(f"--as-of T-{args.hours / 2:g} h, {name}: {best(args.repeat, call):.2f} s")
        print(f"exceptions now (for comparison): {best(args.repeat, lambda: plant.exceptions(at=end)):.2f} s")
        plant.close()


if __name__ == "__main__":
    main()
