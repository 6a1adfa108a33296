"""The console's speed, measured with Textual's own harness (`App.run_test`, headless, 120x36).

    python benchmarks/bench_console.py [--large DIR] [--skip-large] [--events-per-second N]

1. sample plant: time from starting the app to the first full main screen (every panel filled);
2. large plant (default: the generated large plant of benchmarks/plant.py, loaded once into /tmp/bench_console_large.duckdb,
   the load not timed): the same;
3. keypress latency while a feed server on loopback replays ~1,000 events/s into the large plant
   (inventory.adjusted events): "down" in the machines table, key posted to cursor moved;
4. a 100,000-row answer: the panel table keeps it paged (first 500 rows + "N more"), so what is timed
   is showing it, scrolling it (page down) and narrowing it with `/`; for comparison, a plain
   Textual DataTable given 20,000 rows (--plain-rows; fill time and page-down latency).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from plant import large_plant  # noqa: E402
from textual import events  # noqa: E402

from planner_tui.console.app import PlannerApp  # noqa: E402
from planner_tui.console.screenshots import SCREENSHOT_AT, scenario_store  # noqa: E402
from planner_tui.console.widgets.live_table import LiveTable  # noqa: E402
from planner_tui.console.widgets.panels import PANELS, Row  # noqa: E402
from planner_tui.store import Store  # noqa: E402

SIZE = (120, 36)
LARGE_DB = Path(tempfile.gettempdir()) / "bench_console_large.duckdb"


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * (len(ordered) - 1) + 0.5))]


async def first_screen(store: Store, at: str | None) -> tuple[float, dict[str, int], dict[str, float]]:
    """Seconds from run_test start to every panel shown, and when each panel appeared."""
    started = time.perf_counter()
    app = PlannerApp(store, at=at, animate=False)
    shown: dict[str, float] = {}
    async with app.run_test(size=SIZE):
        while True:
            await asyncio.sleep(0.005)
            screen = app.screen
            loaded = getattr(screen, "_loaded_version", {})
            for name in loaded:
                shown.setdefault(name, time.perf_counter() - started)
            if len(loaded) == len(PANELS):
                break
            if time.perf_counter() - started > 120:
                raise SystemExit("first screen did not come within 120 s")
        elapsed = time.perf_counter() - started
        counts = {p.name: len(screen.table(p.name).all_rows) for p in PANELS}
    return elapsed, counts, shown


def large_store(large_dir: Path) -> Store:
    if not LARGE_DB.exists():
        from planner_tui.store.loader import load_snapshot

        started = time.perf_counter()
        store = Store.open(LARGE_DB)
        load_snapshot(store, str(large_dir))
        store.close()
        print(f"  (loaded {large_dir} into {LARGE_DB} in {time.perf_counter() - started:.1f} s, not timed)")
    return Store.open(LARGE_DB)


def as_of(cur) -> str | None:
    row = cur.execute("SELECT value FROM store_meta WHERE key = 'as_of'").fetchone()
    return row[0] if row and row[0] else None


def write_burst(path: Path, cur, count: int, start: datetime) -> None:
    """`count` inventory.adjusted events one second apart (the server's speed turns that into a rate)."""
    stock = cur.execute("SELECT item_id, location FROM inventory WHERE lot_id IS NULL LIMIT 200").fetchall()
    run = f"{time.time_ns():x}"  # fresh ids: a store that saw an earlier run must not skip them as repeats
    with path.open("w") as out:
        for i in range(count):
            item, location = stock[i % len(stock)]
            out.write(
                json.dumps(
                    {
                        "specversion": "1.0",
                        "id": f"bench-{run}-{i}",
                        "source": f"urn:bench:{run}",
                        "type": "inventory.adjusted",
                        "time": (start + timedelta(seconds=i)).isoformat() + "Z",
                        "sequence": i + 1,
                        "data": {"item_id": item, "location": location, "qty_delta": 1},
                    }
                )
                + "\n"
            )


async def keypress_under_feed(store: Store, snapshot_dir: Path, rate: int, seconds: float) -> dict:
    from planner_tui.feeds.server import FeedServer

    cur = store.cursor()
    at = as_of(cur)
    with tempfile.TemporaryDirectory() as tmp:
        burst = Path(tmp) / "burst.jsonl"
        write_burst(burst, cur, int(rate * seconds * 1.5), datetime(2030, 1, 1))
        cur.close()
        server = FeedServer(snapshot_dir, burst, speed=float(rate)).start()
        latencies: list[float] = []
        try:
            app = PlannerApp(store, at=at, events=server.feed_url, poll_seconds=0.25, animate=False)
            async with app.run_test(size=SIZE) as pilot:
                await pilot.pause(1.0)
                applied_before = store.cursor().execute("SELECT count(*) FROM event_log").fetchone()[0]
                table = app.screen.table("machines")
                table.focus()
                started = time.perf_counter()
                while time.perf_counter() - started < seconds:
                    key = "down" if len(latencies) % 20 < 10 else "up"
                    before = table.cursor_row
                    t0 = time.perf_counter()
                    # The key goes in as the terminal driver would post it; latency is until the
                    # cursor has moved (the app handled it), not until the app is idle.
                    app.post_message(events.Key(key, None))
                    while table.cursor_row == before and time.perf_counter() - t0 < 5:
                        await asyncio.sleep(0.001)
                    latencies.append(time.perf_counter() - t0)
                    await asyncio.sleep(0.1)
                elapsed = time.perf_counter() - started
                applied_after = store.cursor().execute("SELECT count(*) FROM event_log").fetchone()[0]
        finally:
            server.stop()
    return {
        "presses": len(latencies),
        "p50": pct(latencies, 0.5),
        "p95": pct(latencies, 0.95),
        "max": max(latencies),
        "events_per_s": (applied_after - applied_before) / elapsed,
    }


async def page_downs(app, table, count: int) -> list[float]:
    """Page-down latency: key posted as the driver would, until the cursor has moved and the
    screen has been painted once more."""
    times = []
    key = "pagedown"
    for _ in range(count):
        if table.cursor_row >= table.row_count - 1:
            key = "pageup"  # at the end of the table: scroll back
        elif table.cursor_row == 0:
            key = "pagedown"
        before = table.cursor_row
        t0 = time.perf_counter()
        app.post_message(events.Key(key, None))
        while table.cursor_row == before and time.perf_counter() - t0 < 5:
            await asyncio.sleep(0.001)
        await asyncio.sleep(0)  # let the repaint it scheduled run
        times.append(time.perf_counter() - t0)
        await asyncio.sleep(0.02)
    return times


async def big_tables(rows: int, plain_rows: int) -> dict:
    from textual.app import App
    from textual.widgets import DataTable

    columns = PANELS[1].columns
    data = [
        Row(
            f"M{i:06d}",
            (f"M{i:06d}", "running", "", f"reason {i}", "Supervisor", "WC"),
            ("machine", f"M{i:06d}"),
            f"m{i:06d} running reason {i}",
        )
        for i in range(rows)
    ]
    result: dict = {}

    class Paged(App):
        def compose(self):
            yield LiveTable(columns, id="t")

    app = Paged()
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one(LiveTable)
        table.focus()
        table.show(data[:10])
        await pilot.pause()
        t0 = time.perf_counter()
        table.show(data)
        await pilot.pause()
        result["paged_show"] = time.perf_counter() - t0
        result["paged_pagedown_p95"] = pct(await page_downs(app, table, 30), 0.95)
        t0 = time.perf_counter()
        table.set_filter("m09999")
        await pilot.pause()
        result["paged_filter"] = time.perf_counter() - t0
        result["paged_filter_rows"] = table.matching

    class Plain(App):
        def compose(self):
            yield DataTable(id="t")

    app = Plain()
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one(DataTable)
        for c in columns:
            table.add_column(c.label, width=c.width, key=c.key)
        table.focus()
        await pilot.pause()
        t0 = time.perf_counter()
        for r in data[:plain_rows]:
            table.add_row(*r.cells, key=r.key)
        await pilot.pause()
        result["plain_fill"] = time.perf_counter() - t0
        result["plain_pagedown_p95"] = pct(await page_downs(app, table, 30), 0.95)
    return result


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--large", default=None, help="a Parquet plant (default: the generated large plant)")
    parser.add_argument("--skip-large", action="store_true")
    parser.add_argument("--events-per-second", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument(
        "--plain-rows",
        type=int,
        default=20_000,
        help="rows for the plain-DataTable comparison (100,000 takes minutes to fill)",
    )
    args = parser.parse_args()

    sample = ROOT / "sample_data"
    store = scenario_store(sample)
    elapsed, counts, shown = await first_screen(store, SCREENSHOT_AT)
    store.close()
    print(f"machine load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"sample plant, first full screen: {ms(elapsed)} (target < 1 s); rows {counts}")

    large_dir = large_plant(args.large)
    if not args.skip_large and large_dir.is_dir():
        store = large_store(large_dir)
        at = as_of(store.cursor())
        elapsed, counts, shown = await first_screen(store, at)
        print(f"large plant, first full screen: {ms(elapsed)} (target < 3 s); rows {counts}")
        print(
            "  each panel shown after: "
            + ", ".join(f"{k} {ms(v)}" for k, v in sorted(shown.items(), key=lambda kv: kv[1]))
        )
        from planner_tui.engine.exceptions import list_exceptions
        from planner_tui.timeutil import parse_timestamp

        cur = store.cursor()
        t0 = time.perf_counter()
        list_exceptions(cur, at=parse_timestamp(at))
        cur.close()
        print(f"  (engine.exceptions.list_exceptions alone, same plant: {ms(time.perf_counter() - t0)})")
        store.close()
        # The feed writes: give it a copy, so the cached large plant stays as loaded.
        copy = Path(tempfile.gettempdir()) / "bench_console_feed.duckdb"
        shutil.copy(LARGE_DB, copy)
        store = Store.open(copy)
        figures = await keypress_under_feed(store, large_dir, args.events_per_second, args.seconds)
        print(
            f"keypress while the feed applies {figures['events_per_s']:.0f} events/s: "
            f"p50 {ms(figures['p50'])}, p95 {ms(figures['p95'])}, max {ms(figures['max'])} "
            f"over {figures['presses']} presses (target < 100 ms)"
        )
        store.close()
    elif not args.skip_large:
        print(f"large plant: {large_dir} not found, skipped")

    figures = await big_tables(args.rows, args.plain_rows)
    print(
        f"{args.rows:,}-row answer, paged panel table (500 rows + 'N more'): show {ms(figures['paged_show'])}, "
        f"page down/up p95 {ms(figures['paged_pagedown_p95'])}, `/` filter over all rows "
        f"{ms(figures['paged_filter'])} ({figures['paged_filter_rows']} match)"
    )
    print(
        f"{args.plain_rows:,} rows in a plain DataTable, for comparison: fill {ms(figures['plain_fill'])}, "
        f"page down/up p95 {ms(figures['plain_pagedown_p95'])}"
    )


if __name__ == "__main__":
    asyncio.run(main())
