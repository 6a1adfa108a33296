"""Benchmark the live-event path.

    python benchmarks/bench_events.py [--data DIR] [--events 50000] [--batch 1000 5000]
                                      [--latency-seconds 20] [--latency-rate 300] [--poll 1.0]

1. Apply rate: realistic events (inventory moves, operations completed, machine stops and restarts,
   receipts, shipments, new and changed orders, holds, plus a few unknown and rejected ones) generated
   from the plant's own ids, applied with `apply_events` in polling-sized batches into the plant in a
   DuckDB file. Reports sustained events/s (everything included: envelope parsing, duplicate check,
   state reads, writes, history, cursor, commit). Target >= 5,000/s on the large plant.
2. Served-to-visible latency: a FeedServer on loopback releases events over time (restamped, so each
   event's `time` is the moment it was released), an HttpFeed polls every --poll seconds in a worker
   thread, and an observer thread queries the event log every 10 ms with its own cursor and notes when
   each event first becomes visible. Reports p50/p99/max of visible - released. Target p99 < 1.2 s.

DIR is a Parquet plant (planner-tui generate); default the large plant (benchmarks/plant.py), or with
--scale a plant generated at that scale into a temporary folder. The plant is copied into a temporary database
with one CREATE TABLE AS per table (the loader has its own benchmark).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from plant import large_plant  # noqa: E402

from planner_tui.feeds.http import HttpFeed  # noqa: E402
from planner_tui.feeds.server import FeedServer  # noqa: E402
from planner_tui.store import Store  # noqa: E402
from planner_tui.store.contract import TABLES  # noqa: E402
from planner_tui.store.events import apply_events  # noqa: E402


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def load_plant(store: Store, data: Path) -> dict[str, int]:
    cur = store.cursor()
    counts = {}
    for t in TABLES:
        path = data / f"{t.name}.parquet"
        if not path.exists():
            continue
        present = {d[0] for d in cur.execute(f"SELECT * FROM read_parquet('{path}') LIMIT 0").description}
        cols = ", ".join(
            (
                f'CAST("{c.name}" AS {c.type}) AS "{c.name}"'
                if c.name in present
                else f'CAST(NULL AS {c.type}) AS "{c.name}"'
            )
            for c in t.columns
        )
        cur.execute(f'DROP TABLE IF EXISTS "{t.name}"')
        cur.execute(f"CREATE TABLE \"{t.name}\" AS SELECT {cols} FROM read_parquet('{path}')")
        counts[t.name] = cur.execute(f'SELECT count(*) FROM "{t.name}"').fetchall()[0][0]
    cur.execute("CHECKPOINT")
    return counts


class EventMaker:
    """Events naming the plant's real ids, in a realistic mix."""

    MIX = [
        ("inventory.adjusted", 40),
        ("operation.completed", 25),
        ("machine.down", 4),
        ("machine.up", 4),
        ("receipt.posted", 7),
        ("shipment.shipped", 7),
        ("order.confirmed", 5),
        ("order.changed", 4),
        ("hold.placed", 1.5),
        ("hold.released", 0.5),
        ("order.cancelled", 1),
        ("shift.started", 0.5),
        ("bad.machine", 0.5),
    ]

    def __init__(self, store: Store, seed: int = 7):
        cur = store.cursor()
        pick = lambda sql: cur.execute(sql).fetchall()  # noqa: E731
        self.rng = random.Random(seed)
        self.machines = [r[0] for r in pick("SELECT machine_id FROM machines")]
        self.operations = pick(
            "SELECT production_order_id, op_seq FROM operations WHERE status <> 'done' "
            "ORDER BY hash(production_order_id, op_seq) LIMIT 200000"
        )
        self.lots = [
            r[0] for r in pick("SELECT lot_id FROM lots WHERE status = 'released' ORDER BY hash(lot_id) LIMIT 50000")
        ]
        self.open_lines = pick(
            "SELECT sales_order_id, line_no FROM sales_orders WHERE status = 'open' "
            "ORDER BY hash(sales_order_id, line_no) LIMIT 50000"
        )
        self.pos = [
            r[0]
            for r in pick(
                "SELECT purchase_order_id FROM purchase_orders WHERE status = 'open' "
                "ORDER BY hash(purchase_order_id) LIMIT 50000"
            )
        ]
        self.shipments = [
            r[0]
            for r in pick(
                "SELECT shipment_id FROM shipments WHERE status IN ('planned', 'picked') "
                "ORDER BY hash(shipment_id) LIMIT 50000"
            )
        ]
        self.stock = pick(
            "SELECT item_id, location, lot_id FROM inventory ORDER BY hash(item_id, location, lot_id) LIMIT 50000"
        )
        self.customers = [r[0] for r in pick("SELECT customer_id FROM customers")]
        self.finished = [r[0] for r in pick("SELECT item_id FROM items WHERE item_type = 'finished'")]
        cur.close()
        self.kinds = [k for k, _ in self.MIX]
        self.weights = [w for _, w in self.MIX]
        self.placed: list[str] = []
        self.serial = 0

    def data(self, kind: str) -> tuple[str, dict]:
        r = self.rng
        if kind == "inventory.adjusted" and self.stock:
            item, location, lot = r.choice(self.stock)
            return kind, {
                "item_id": item,
                "location": location,
                "lot_id": lot,
                "qty_delta": r.choice([-5, -2, -1, 1, 3]),
            }
        if kind == "operation.completed" and self.operations:
            order, seq = self.operations.pop()
            return kind, {"production_order_id": order, "op_seq": seq}
        if kind == "machine.down":
            return kind, {
                "machine_id": r.choice(self.machines),
                "reason": "fault",
                "expected_minutes": r.randint(10, 240),
            }
        if kind == "machine.up":
            return kind, {"machine_id": r.choice(self.machines)}
        if kind == "receipt.posted" and self.pos:
            return kind, {"purchase_order_id": r.choice(self.pos), "qty": r.randint(1, 50)}
        if kind == "shipment.shipped" and self.shipments:
            return kind, {"shipment_id": self.shipments.pop()}
        if kind == "order.confirmed":
            self.serial += 1
            return kind, {
                "sales_order_id": f"BENCH-SO-{self.serial}",
                "line_no": 1,
                "customer_id": r.choice(self.customers),
                "item_id": r.choice(self.finished),
                "qty": r.randint(1, 20),
                "promised_date": "2026-12-15",
            }
        if kind in ("order.changed", "order.cancelled") and self.open_lines:
            so, line = self.open_lines.pop()
            data = {"sales_order_id": so, "line_no": line}
            if kind == "order.changed":
                data["qty"] = r.randint(1, 30)
            return kind, data
        if kind == "hold.placed" and self.lots:
            self.serial += 1
            hold = f"BENCH-H-{self.serial}"
            self.placed.append(hold)
            return kind, {"hold_id": hold, "lot_id": self.lots.pop(), "reason": "audit", "placed_by": "QA"}
        if kind == "hold.released" and self.placed:
            return kind, {"hold_id": self.placed.pop(0)}
        if kind == "bad.machine":
            return "machine.down", {"machine_id": "NO-SUCH-MACHINE"}
        if kind == "shift.started":
            return kind, {"shift": "B"}
        return "machine.up", {"machine_id": r.choice(self.machines)}

    def events(self, n: int, *, prefix: str, start_seq: int, start_time: datetime, spacing: float) -> list[dict]:
        out = []
        for i in range(n):
            kind, data = self.data(self.rng.choices(self.kinds, self.weights)[0])
            out.append(
                {
                    "specversion": "1.0",
                    "id": f"{prefix}-{i}",
                    "source": "urn:bench:mes",
                    "type": kind,
                    "time": (start_time + timedelta(seconds=i * spacing)).isoformat(timespec="milliseconds") + "Z",
                    "sequence": start_seq + i,
                    "datacontenttype": "application/json",
                    "data": data,
                }
            )
        return out


def bench_apply(store: Store, maker: EventMaker, n: int, batch: int, seq0: int) -> dict:
    events = maker.events(
        n, prefix=f"apply-{batch}", start_seq=seq0, start_time=utcnow() - timedelta(hours=1), spacing=0.01
    )
    totals = {"applied": 0, "duplicates": 0, "rejected": 0, "unknown": 0}
    started = time.perf_counter()
    cpu_started = time.process_time()
    batch_times = []
    for i in range(0, n, batch):
        t = time.perf_counter()
        result = apply_events(store, events[i : i + batch], feed=f"bench-apply-{batch}")
        batch_times.append(time.perf_counter() - t)
        for k in totals:
            totals[k] += getattr(result, k)
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu_started  # all threads of this process, DuckDB's included
    return {
        "events": n,
        "batch": batch,
        "seconds": round(seconds, 2),
        "events_per_s": round(n / seconds),
        "cpu_seconds": round(cpu, 2),
        "events_per_cpu_s": round(n / cpu),
        "batch_ms_p50": round(statistics.median(batch_times) * 1000, 1),
        "batch_ms_max": round(max(batch_times) * 1000, 1),
        **totals,
    }


def bench_latency(
    store: Store, maker: EventMaker, seconds: float, rate: float, poll: float, seq0: int, tmp: Path
) -> dict:
    n = int(seconds * rate)
    rng = random.Random(11)
    # Poisson arrivals at `rate` a second: bursts and lulls, like a floor.
    gaps = [rng.expovariate(rate) for _ in range(n)]
    events = maker.events(n, prefix="latency", start_seq=seq0, start_time=datetime(2026, 11, 23, 6, 0), spacing=0)
    t = datetime(2026, 11, 23, 6, 0)
    for event, gap in zip(events, gaps):
        t += timedelta(seconds=gap)
        event["time"] = t.isoformat(timespec="microseconds") + "Z"
    script = tmp / "latency.jsonl"
    script.write_text("".join(json.dumps(e) + "\n" for e in events))

    server = FeedServer(None, script, restamp=True).start()
    feed = HttpFeed(store, server.feed_url, timeout=2.0, retries=2)
    released = {i: server.release_time(i) for i in range(n)}
    seen: dict[int, datetime] = {}
    stop = threading.Event()

    def poller():
        tick = time.monotonic()
        while not stop.is_set():
            feed.poll_once()
            tick += poll
            stop.wait(max(0.0, tick - time.monotonic()))

    def observer():
        cur = store.cursor()
        last = seq0 - 1
        while not stop.is_set() and len(seen) < n:
            rows = cur.execute(
                "SELECT sequence FROM event_log WHERE feed = ? AND sequence > ?", [server.feed_url, last]
            ).fetchall()
            now = utcnow()
            for (sequence,) in rows:
                seen.setdefault(sequence - seq0, now)
                last = max(last, sequence)
            time.sleep(0.01)
        cur.close()

    threads = [threading.Thread(target=poller, daemon=True), threading.Thread(target=observer, daemon=True)]
    for th in threads:
        th.start()
    deadline = time.monotonic() + server.offsets[-1] + 5 * poll + 10
    while len(seen) < n and time.monotonic() < deadline:
        time.sleep(0.1)
    stop.set()
    for th in threads:
        th.join(timeout=10)
    server.stop()
    feed.close()
    latencies = sorted((seen[i] - released[i]).total_seconds() for i in seen)
    q = lambda p: round(latencies[min(len(latencies) - 1, int(p * len(latencies)))], 3)  # noqa: E731
    return {
        "events": n,
        "visible": len(seen),
        "rate_per_s": rate,
        "poll_s": poll,
        "p50_s": q(0.5),
        "p99_s": q(0.99),
        "max_s": round(latencies[-1], 3) if latencies else None,
        "status": feed.status.describe(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument(
        "--scale", type=float, default=None, help="generate a plant at this scale instead of using the large one"
    )
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--batch", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument("--latency-seconds", type=float, default=20)
    parser.add_argument("--latency-rate", type=float, default=300)
    parser.add_argument("--poll", type=float, default=1.0)
    parser.add_argument("--skip-apply", action="store_true")
    parser.add_argument("--skip-latency", action="store_true")
    args = parser.parse_args()
    print(
        f"load average at start: {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs", flush=True
    )

    with tempfile.TemporaryDirectory(prefix="bench-events-") as tmp_name:
        tmp = Path(tmp_name)
        data = args.data or (None if args.scale else large_plant())
        if data is None:
            from planner_tui.generate import generate_plant

            data = tmp / "plant"
            print(f"generating a plant at scale {args.scale} in {data} ...", flush=True)
            generate_plant(data, scale=args.scale, seed=1)
        store = Store.open(tmp / "bench.db")
        t = time.perf_counter()
        counts = load_plant(store, data)
        print(
            f"plant {data}: {counts.get('machines', 0):,} machines, {counts.get('operations', 0):,} operations, "
            f"{counts.get('sales_orders', 0):,} sales order lines, {counts.get('inventory', 0):,} inventory rows, "
            f"{counts.get('lots', 0):,} lots (copied in {time.perf_counter() - t:.1f} s)",
            flush=True,
        )
        maker = EventMaker(store)
        seq = 1
        if not args.skip_apply:
            for batch in args.batch:
                report = bench_apply(store, maker, args.events, batch, seq)
                seq += args.events
                print(
                    f"apply: {report['events']:,} events in batches of {batch:,}: {report['seconds']} s, "
                    f"{report['events_per_s']:,} events/s sustained, {report['events_per_cpu_s']:,} per CPU-second "
                    f"(batch p50 {report['batch_ms_p50']} ms, "
                    f"max {report['batch_ms_max']} ms; applied {report['applied']:,}, rejected "
                    f"{report['rejected']:,}, unknown {report['unknown']:,})",
                    flush=True,
                )
        if not args.skip_latency:
            report = bench_latency(store, maker, args.latency_seconds, args.latency_rate, args.poll, 10_000_000, tmp)
            print(
                f"served-to-visible: {report['visible']:,}/{report['events']:,} events at ~{args.latency_rate:g}/s, "
                f"poll {args.poll:g} s: p50 {report['p50_s']} s, p99 {report['p99_s']} s, max {report['max_s']} s "
                f"(feed {report['status']})",
                flush=True,
            )
        print(f"load average at end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}", flush=True)
        store.close()


if __name__ == "__main__":
    main()
