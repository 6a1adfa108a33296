"""Benchmark: `find` (the ctrl+p palette and `planner-tui find`) on a large plant, against caching the index.

    python benchmarks/bench_search.py                       # the large plant (benchmarks/plant.py), loaded once into
                                                            # /tmp/bench_search_large.duckdb (load not timed)
    python benchmarks/bench_search.py --db PLANT.duckdb     # an existing store (opened read-only)
    python benchmarks/bench_search.py --skip-index          # only `find`

Prints the number of ids, then for each query what one palette keystroke costs with `find` (median wall
ms and process CPU ms over --runs, DuckDB on its default threads), and, for comparison, the palette's
other possible design: `plant_index` read once (its time and the process's RSS growth), then every
keystroke filtered in Python over the cached list (median ms).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from plant import LARGE, large_plant  # noqa: E402

from planner_tui.engine.search import find, plant_index  # noqa: E402
from planner_tui.store import Store  # noqa: E402

LARGE_DB = Path(tempfile.gettempdir()) / "bench_search_large.duckdb"
# What planners type: an exact id of each big kind, id prefixes, name words, one letter, nothing.
QUERIES = (
    "M-ASSY-0007",
    "L-CP000014-015",
    "SO-0000001/2",
    "PRO-0001",
    "SH-0000012",
    "weld",
    "baltic dairy",
    "a",
    "zzz-nothing",
)


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def open_plant(db: Path | None, data: Path) -> Store:
    if db is not None:
        return Store.open(db, read_only=True, create=False)
    if not LARGE_DB.exists():
        from planner_tui.store.loader import load_snapshot

        store = Store.open(LARGE_DB)
        load_snapshot(store, str(data))
        store.close()
    return Store.open(LARGE_DB, read_only=True, create=False)


def timed(fn, runs: int) -> tuple[float, float, object]:
    """Median wall ms, median process CPU ms, the last result."""
    walls, cpus, result = [], [], None
    for _ in range(runs):
        wall, cpu = time.perf_counter(), time.process_time()
        result = fn()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls) * 1000, statistics.median(cpus) * 1000, result


def filter_cached(index: list[tuple[str, dict]], words: str, limit: int = 20) -> list[dict]:
    """The cached design: every word in the lowered "id label", exact id, then prefix, then the rest."""
    terms = words.lower().split()
    hits = [entry for text, entry in index if all(t in text for t in terms)]

    def rank(entry: dict) -> int:
        ident = entry["id"].lower()
        return 0 if ident in terms else 1 if any(ident.startswith(t) for t in terms) else 2

    return sorted(hits, key=rank)[:limit]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", type=Path, help="an existing planner_tui store")
    parser.add_argument("--data", type=Path, default=LARGE, help="a generated plant (Parquet) to load once")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--skip-index", action="store_true", help="do not time the cached-index design")
    args = parser.parse_args()

    store = open_plant(args.db, large_plant(args.data))
    cur = store.cursor()
    counts = {
        t: cur.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
        for t in (
            "machines",
            "quality_holds",
            "items",
            "customers",
            "production_orders",
            "sales_orders",
            "shipments",
            "lots",
        )
    }
    print(f"plant: {sum(counts.values()):,} ids  " + ", ".join(f"{t} {n:,}" for t, n in counts.items()))
    find(cur, "warm-up")

    print(f"\nfind(cur, words, limit=20), per keystroke; median of {args.runs}:")
    print(f"  {'query':<18} {'wall ms':>8} {'CPU ms':>8}  hits  first")
    walls = []
    for query in QUERIES:
        wall, cpu, hits = timed(lambda q=query: find(cur, q), args.runs)
        walls.append(wall)
        first = f"{hits[0]['kind']} {hits[0]['id']} ({hits[0]['score']})" if hits else "-"
        print(f"  {query:<18} {wall:8.1f} {cpu:8.1f}  {len(hits):4}  {first}")
    print(f"  median over the queries: {statistics.median(walls):.1f} ms, worst {max(walls):.1f} ms")

    if args.skip_index:
        return
    before = rss_mb()
    wall, cpu, index = timed(lambda: plant_index(cur), 1)
    cached = [(f"{e['id']} {e['label'] or ''}".lower(), e) for e in index]
    print(
        f"\ncached index instead: plant_index {len(index):,} entries in {wall / 1000:.1f} s "
        f"(CPU {cpu / 1000:.1f} s), RSS +{rss_mb() - before:,.0f} MB with the lowered texts"
    )
    print(f"  {'query':<18} {'wall ms':>8}")
    walls = []
    for query in QUERIES:
        wall, _, _ = timed(lambda q=query: filter_cached(cached, q), min(args.runs, 3))
        walls.append(wall)
        print(f"  {query:<18} {wall:8.1f}")
    print(f"  median over the queries: {statistics.median(walls):.1f} ms, worst {max(walls):.1f} ms")


if __name__ == "__main__":
    main()
