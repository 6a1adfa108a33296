"""Benchmark: machine-stop impact, whole-plant reschedule, and the naive per-operation repair.

    python benchmarks/bench_impact.py --data "$(python benchmarks/plant.py)"  # the large plant (generated once)
    python benchmarks/bench_impact.py --orders 20000                     # a synthetic plant built here
    python benchmarks/bench_impact.py --orders 200000 --save /tmp/p.duckdb  # build once, then --db /tmp/p.duckdb
    python benchmarks/bench_impact.py --calendars           # the large plant planned in working time (generated once)
    python benchmarks/bench_impact.py --data "$(python benchmarks/plant.py)" --packed-calendars

Prints, for one plant: load time, the median time of `machine_impact` on a busy machine (4 h and 30 h stops),
`reschedule` (every stopped machine), the fast `repair` alone and `repair_naive` (one run) on the same
stops with their ratio, the size of what moved, and the process's peak RSS.

`--calendars` (issue 11) measures the large plant generated in working time (`generate_plant(...,
calendars=True)`, cached in benchmarks/data/large-calendars/): every machine on two shifts Monday to
Friday in Europe/Berlin, public holidays, an operator on a third of the operations, and a plan that
honours all of it. `--packed-calendars` instead bolts shifts onto the plant as loaded (`add_calendars`:
two shifts, a holiday, a day-shift operator on every third operation of each machine): a plan packed
round the clock then violates them, so a delay never catches up. It shows the repair's worst case, not
a plan a planner would make.
"""

from __future__ import annotations

import argparse
import bisect
import json
import random
import resource
import statistics
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from planner_tui.engine.impact import machine_impact, reschedule  # noqa: E402
from planner_tui.engine.naive_repair import repair_naive  # noqa: E402
from planner_tui.engine.schedule import repair, stops_from_store  # noqa: E402
from planner_tui.store import Store  # noqa: E402


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


CPU_TIMES: list[float] = []  # the last timed() call's process CPU seconds per run


def timed(fn, runs: int) -> tuple[float, object]:
    """Median wall seconds over `runs` (CPU seconds of the process land in CPU_TIMES: on a shared machine
    they say more than wall time, as long as DuckDB runs on one thread)."""
    times, result = [], None
    CPU_TIMES.clear()
    for _ in range(runs):
        start, cpu = time.perf_counter(), time.process_time()
        result = fn()
        times.append(time.perf_counter() - start)
        CPU_TIMES.append(time.process_time() - cpu)
    return statistics.median(times), result


def cpu_ms() -> str:
    return f"{statistics.median(CPU_TIMES) * 1000:.0f} ms CPU"


def synthetic_plant(store: Store, n_orders: int, n_machines: int = 200, seed: int = 7) -> datetime:
    """A consistent, list-scheduled plant (feeders before parents), ~2.5 operations per order.

    Returns "now": 30% into the plan, with the history before it done and 2% of machines down.
    """
    rng = random.Random(seed)
    base = datetime(2026, 1, 5)
    machines = [f"M-{i:04d}" for i in range(n_machines)]
    busy: dict[str, list[tuple[datetime, datetime]]] = {m: [] for m in machines}  # sorted, non-overlapping

    def book(m: str, earliest: datetime, length: timedelta) -> datetime:
        """The first gap on `m` at or after `earliest` that fits `length` (backfilling keeps the plan dense)."""
        slots = busy[m]
        k = bisect.bisect_left(slots, (earliest, earliest))
        t = max(earliest, slots[k - 1][1]) if k else earliest
        while k < len(slots) and slots[k][0] < t + length:
            t = max(t, slots[k][1])
            k += 1
        slots.insert(k, (t, t + length))
        return t

    cols = {k: [] for k in ("po", "seq", "m", "ps", "pe", "st")}
    orders = {k: [] for k in ("po", "item", "status", "ps", "pe", "so", "line", "parent")}
    counter = 0
    # Spread releases so the machines stay busy (append-only list scheduling leaves gaps) but not saturated.
    horizon_minutes = int(n_orders * 2.5 * 60 / n_machines * 1.6)
    now = base + timedelta(minutes=horizon_minutes * 0.3)
    releases = iter(sorted(base + timedelta(minutes=rng.randint(0, horizon_minutes)) for _ in range(n_orders)))

    def make(release: datetime, po: str, parent: str | None, so: str | None) -> datetime:
        prev_end, first = release, None
        statuses = []
        for k in range(rng.randint(1, 4)):
            m = rng.choice(machines)
            length = timedelta(minutes=rng.choice((20, 40, 60, 90, 120)))
            # Planners leave a buffer after most operations: it is the slack that absorbs small stops.
            buffer = timedelta(minutes=rng.choice((0, 15, 30, 60)))
            start = book(m, prev_end + timedelta(minutes=rng.choice((0, 0, 0, 5, 30))), length + buffer)
            end = start + length
            status = "done" if end <= now else ("running" if start < now else "waiting")
            for key, value in zip(cols, (po, 10 * (k + 1), m, start, end, status)):
                cols[key].append(value)
            statuses.append(status)
            first, prev_end = first or start, end
        closed = all(s == "done" for s in statuses)
        for key, value in zip(
            orders,
            (po, "I-" + po[-3:], "completed" if closed else "released", first, prev_end, so, 1 if so else None, parent),
        ):
            orders[key].append(value)
        return prev_end

    groups = []
    while counter < n_orders:
        release = next(releases)
        parent_id = f"PO-{counter:07d}"
        counter += 1
        so = f"SO-{counter:07d}"
        child_ends = []
        for _ in range(rng.choice((0, 1, 1, 2))):
            child = f"PO-{counter:07d}"
            counter += 1
            child_ends.append(make(release, child, parent_id, None))
        end = make(max(child_ends, default=release), parent_id, None, so)
        groups.append((so, end))

    con = store.con
    con.register(
        "ops_in",
        pa.table(
            {
                "production_order_id": cols["po"],
                "op_seq": cols["seq"],
                "machine_id": cols["m"],
                "planned_start": cols["ps"],
                "planned_end": cols["pe"],
                "status": cols["st"],
            }
        ),
    )
    con.execute("INSERT INTO operations SELECT * FROM ops_in ORDER BY planned_start")
    con.register(
        "po_in",
        pa.table(
            {
                "production_order_id": orders["po"],
                "item_id": orders["item"],
                "qty": [1.0] * len(orders["po"]),
                "status": orders["status"],
                "planned_start": orders["ps"],
                "planned_end": orders["pe"],
                "sales_order_id": orders["so"],
                "line_no": pa.array(orders["line"], pa.int32()),
                "parent_production_order_id": orders["parent"],
            }
        ),
    )
    con.execute("INSERT INTO production_orders SELECT * FROM po_in")
    con.register(
        "so_in",
        pa.table(
            {
                "sales_order_id": [g[0] for g in groups],
                "line_no": pa.array([1] * len(groups), pa.int32()),
                "customer_id": [f"C-{rng.randrange(500):03d}" for _ in groups],
                "item_id": ["I"] * len(groups),
                "qty": [1.0] * len(groups),
                "promised_date": [(g[1] + timedelta(days=rng.choice((0, 1, 2)))).date() for g in groups],
                "confirmed_at": [base] * len(groups),
                "status": ["open"] * len(groups),
            }
        ),
    )
    con.execute("INSERT INTO sales_orders SELECT * FROM so_in")
    con.execute(
        "INSERT INTO shipments SELECT 'SH-' || sales_order_id, sales_order_id, line_no, qty, promised_date, "
        "'planned', NULL FROM sales_orders"
    )
    con.execute(
        "INSERT INTO customers SELECT DISTINCT customer_id, 'Customer ' || customer_id, NULL, "
        "'AM-' || (hash(customer_id) % 20) FROM sales_orders"
    )
    con.execute(
        "INSERT INTO machines SELECT DISTINCT machine_id, machine_id, 'WC', 'L', 'P', 'Sup-' || machine_id "
        "FROM operations"
    )
    for m in rng.sample(machines, max(1, n_machines // 50)):
        con.execute(
            "INSERT INTO machine_states VALUES (?, 'down', ?, 'bench', ?)",
            [m, now - timedelta(minutes=rng.randint(0, 120)), rng.choice((60, 120, 240, 480))],
        )
    for name in ("ops_in", "po_in", "so_in"):
        con.unregister(name)
    return now


def plant_now(store: Store, data: Path | None) -> datetime:
    if data is not None and (data / "snapshot.json").exists():
        as_of = json.loads((data / "snapshot.json").read_text()).get("as_of")
        if as_of:
            return datetime.fromisoformat(as_of)
    row = store.con.execute("SELECT max(since) FROM machine_states WHERE state IN ('down', 'maintenance')").fetchall()
    if row[0][0] is not None:
        return row[0][0]
    return store.con.execute("SELECT quantile_disc(planned_start, 0.5) FROM operations").fetchall()[0][0]


def add_calendars(store: Store) -> None:
    """Two shifts Monday to Friday (Europe/Berlin) on every machine, a holiday, and one operator per
    machine on a third of its operations (one at a time: the machine's own order), bolted onto a plant
    whose plan ignores them (`--packed-calendars`)."""
    con = store.con
    con.execute("DELETE FROM store_meta WHERE key IN ('timezone', 'calendar')")
    con.execute("INSERT INTO store_meta VALUES ('timezone', 'Europe/Berlin'), ('calendar', 'TWO-SHIFT')")
    rows = [("TWO-SHIFT", d, "06:00", "22:00") for d in range(1, 6)] + [
        ("DAY", d, "08:00", "16:00") for d in range(1, 6)
    ]
    con.executemany("INSERT INTO calendars VALUES (?, ?, ?, ?)", rows)
    con.execute(
        "INSERT INTO calendar_exceptions VALUES ('TWO-SHIFT', '2026-12-24 23:00', '2026-12-25 23:00', 'false', 'holiday')"
    )
    con.execute(
        """INSERT INTO resources SELECT 'OP-' || machine_id, 'operator of ' || machine_id, 'person', 'DAY', NULL
           FROM machines"""
    )
    con.execute(
        """INSERT INTO operation_resources
           SELECT production_order_id, op_seq, 'OP-' || machine_id FROM (
               SELECT *, row_number() OVER (PARTITION BY machine_id ORDER BY planned_start, production_order_id, op_seq) AS n
               FROM operations) WHERE n % 3 = 0"""
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--data", type=Path, help="a snapshot folder (e.g. the large plant: python benchmarks/plant.py prints it)"
    )
    parser.add_argument("--orders", type=int, default=20000, help="synthetic plant size when --data is not given")
    parser.add_argument("--db", type=Path, help="a planner_tui DuckDB file to read (e.g. one written with --save)")
    parser.add_argument("--save", type=Path, help="write the synthetic plant to this DuckDB file and stop")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-naive", action="store_true", help="skip the naive repair (slow on large plants)")
    parser.add_argument("--threads", type=int, help="DuckDB threads (1 makes CPU time comparable on a busy machine)")
    parser.add_argument(
        "--calendars",
        action="store_true",
        help="the large plant planned in working time (shifts, holidays, operators; generated once), "
        "unless --data or --db names a plant",
    )
    parser.add_argument(
        "--packed-calendars",
        action="store_true",
        help="bolt shifts, a holiday and operators onto the plant as loaded (its plan then violates them)",
    )
    args = parser.parse_args()
    if args.calendars and not args.data and not args.db:
        from plant import large_plant

        args.data = large_plant(calendars=True)

    start = time.perf_counter()
    if args.db:
        store = Store.open(args.db, read_only=True, create=False)
        source = str(args.db)
    elif args.save:
        store = Store.open(args.save)
        synthetic_plant(store, args.orders)
        store.close()
        print(f"wrote a synthetic plant of {args.orders} orders to {args.save}")
        return
    else:
        store = Store.memory()
        if args.data:
            from planner_tui.store.loader import load_snapshot

            load_snapshot(store, str(args.data))
            source = str(args.data)
        else:
            synthetic_plant(store, args.orders)
            source = f"synthetic, {args.orders} orders"
    if args.packed_calendars:
        add_calendars(store)
        print(
            "packed calendars: two shifts Mon-Fri (Europe/Berlin), a holiday; an operator on 1/3 of the "
            "operations, bolted onto a plan made round the clock"
        )
    if args.threads:
        store.con.execute(f"SET threads = {int(args.threads)}")
    now = plant_now(store, args.data)
    cur = store.cursor()
    n_ops, n_orders = cur.execute(
        "SELECT (SELECT count(*) FROM operations), (SELECT count(*) FROM production_orders)"
    ).fetchall()[0]
    print(f"plant: {source}: {n_ops:,} operations, {n_orders:,} production orders; now = {now}")
    print(f"load: {time.perf_counter() - start:.1f} s, peak RSS {peak_rss_mb():.0f} MB")
    zone, default_calendar, n_calendared, n_people = cur.execute(
        """SELECT (SELECT value FROM store_meta WHERE key = 'timezone'), (SELECT value FROM store_meta WHERE key = 'calendar'),
                  (SELECT count(*) FROM machines WHERE calendar_id IS NOT NULL),
                  (SELECT count(DISTINCT (x.production_order_id, x.op_seq)) FROM operation_resources x
                   JOIN resources r USING (resource_id) WHERE r.kind = 'person')"""
    ).fetchall()[0]
    if zone or default_calendar or n_people:
        print(
            f"working time: time zone {zone or 'UTC'}, plant calendar {default_calendar or '-'}, {n_calendared:,} "
            f"machines name a calendar; {n_people:,} operations ({n_people / max(1, n_ops):.0%}) need a person"
        )

    busy = cur.execute(
        """SELECT o.machine_id, count(*) FROM operations o
           WHERE o.status <> 'done' AND o.planned_start >= ? AND o.planned_start < ?
           GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 1""",
        [now, now + timedelta(days=1)],
    ).fetchall()[0][0]
    for minutes in (240, 1800):
        seconds, result = timed(
            lambda minutes=minutes: machine_impact(cur, busy, at=now, down_minutes=minutes), args.runs
        )
        print(
            f"machine_impact({busy}, {minutes} min): {seconds * 1000:.0f} ms median of {args.runs} ({cpu_ms()}); "
            f"{len(result['production_orders'])} orders, {len(result['sales_orders'])} lines "
            f"({result['late_lines']} late), {len(result['notify'])} people"
        )

    stops = stops_from_store(cur, now)
    runs = max(1, args.runs // 2)
    seconds, result = timed(lambda: reschedule(cur, at=now), runs)
    print(
        f"reschedule ({len(stops)} stopped machines): {seconds:.2f} s median of {runs} ({cpu_ms()}); "
        f"{result['operations_moved']:,} operations moved, {len(result['production_orders']):,} orders later, "
        f"{len(result['sales_orders']):,} lines turn late"
    )
    fast_seconds, fast = timed(lambda: repair(cur, stops, now), runs)
    print(f"repair (fast, same stops): {fast_seconds:.2f} s ({cpu_ms()})")
    if not args.no_naive:
        naive_seconds, naive = timed(lambda: repair_naive(cur, stops, now), 1)
        same = {k: (v.new_start, v.new_end) for k, v in fast.ops.items()} == {
            k: (v.new_start, v.new_end) for k, v in naive.ops.items()
        }
        print(
            f"repair_naive (per-operation, whole plant): {naive_seconds:.2f} s; "
            f"ratio naive/fast {naive_seconds / fast_seconds:.1f}x; same answer: {same}"
        )
    print(f"peak RSS: {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
