"""Benchmark: lot trace and material shortages on a large plant.

    python benchmarks/bench_material.py                          # the large plant (benchmarks/plant.py)
    python benchmarks/bench_material.py --data DIR [--data DIR2]  # one or more generated plants (Parquet)
    python benchmarks/bench_material.py --synthetic 0.1 --synthetic 1.0   # built in memory, no files

A plant folder is loaded with `planner_tui.store.loader.load_snapshot` (validation included). The
`--synthetic SCALE` plants are built directly in DuckDB by this script (scale 1.0 is about the issue's
large plant: 1.1M genealogy edges, 200k production orders, 500k sales order lines, 20k items) so the
engine can be measured before, or beside, the generator's output.

Reported per plant, without and then with the trace's lookup indexes (`--indexes none|with|both`,
`engine.trace.create_lookup_indexes`): the trace of the raw lot with the most lots made directly from
it and of a typical lot, the level-at-a-time genealogy walk beside a recursive-CTE walk, all shortages
and one item's projection, each the median wall time with the process CPU time beside it (the machine
may be shared), and the process's peak RSS. `--raw` reads the Parquet files without the validating
loader (quicker set-up; the answers are the same).
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from plant import large_plant  # noqa: E402

from planner_tui.engine.shortages import projection, shortages  # noqa: E402
from planner_tui.engine.trace import create_lookup_indexes, trace_lot  # noqa: E402
from planner_tui.store import Store  # noqa: E402
from planner_tui.store.contract import TABLES, create_table_sql  # noqa: E402


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


CPU: dict[str, float] = {}  # label -> median CPU ms of the last timed() call with that label


def timed(fn, runs: int, label: str = "") -> tuple[float, object]:
    """Median wall ms over runs (and the median process CPU ms in CPU[label]: the machine is shared, so
    wall time includes waiting for a core; CPU time counts DuckDB's threads too)."""
    times, cpu, result = [], [], None
    for _ in range(runs):
        started, started_cpu = time.perf_counter(), time.process_time()
        result = fn()
        times.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
    CPU[label] = statistics.median(cpu)
    return statistics.median(times), result


def load_folder(store: Store, folder: Path, raw: bool = False) -> None:
    try:
        from planner_tui.store.loader import load_snapshot
    except ImportError:  # no loader: read the Parquet files straight into contract tables
        raw = True
    if raw:
        cur = store.cursor()
        for t in TABLES:
            path = folder / f"{t.name}.parquet"
            cur.execute(f'DROP TABLE IF EXISTS "{t.name}"')
            if path.exists():
                cols = ", ".join(f'CAST("{c.name}" AS {c.type}) AS "{c.name}"' for c in t.columns if not c.optional)
                cur.execute(f'CREATE TABLE "{t.name}" AS SELECT {cols} FROM read_parquet(?)', [str(path)])
            else:
                cur.execute(create_table_sql(t))
        return
    load_snapshot(store, folder)


def synthesize(store: Store, scale: float, seed: int = 7) -> None:
    """A plant shaped like the generator's, in SQL: items in four levels with BOMs, orders, stock and a
    four-level lot genealogy where each output lot has two input lots (diamonds everywhere) and a few
    raw lots are used very widely (a coil lot that went into thousands of parts)."""
    cur = store.cursor()
    n = lambda base: max(int(base * scale), 10)  # noqa: E731
    items, orders, so_lines, pos, raw_lots = n(20_000), n(200_000), n(500_000), n(50_000), n(50_000)
    level_lots = [raw_lots, n(200_000), n(200_000), n(150_000)]
    cur.execute(f"SELECT setseed({seed / 100})")
    for t in TABLES:
        cur.execute(f'DELETE FROM "{t.name}"')
    # Items: level 0 raw .. level 3 finished; each item above raw has 3 components one level down.
    cur.execute(
        """INSERT INTO items SELECT 'I' || i, 'item ' || i,
             CASE i % 4 WHEN 0 THEN 'raw' WHEN 1 THEN 'component' WHEN 2 THEN 'subassembly' ELSE 'finished' END,
             'ea', CASE WHEN i % 7 = 0 THEN 50 ELSE 0 END, 'buyer ' || (i % 40)
           FROM range(?) r(i)""",
        [items],
    )
    cur.execute(
        """INSERT INTO bom SELECT DISTINCT 'I' || i, 'I' || (((i - 1) // 4 + k * 977 + i * 13) % (? // 4) * 4 + (i % 4) - 1),
             1 + k
           FROM range(?) r(i), range(3) c(k) WHERE i % 4 <> 0""",
        [items, items],
    )
    cur.execute("INSERT INTO customers SELECT 'C' || i, 'customer ' || i, 'A', 'am ' || (i % 30) FROM range(2000) r(i)")
    cur.execute(
        "INSERT INTO machines SELECT 'M' || i, 'machine', 'WC', 'L', 'P', 'sup ' || (i % 50) FROM range(2000) r(i)"
    )
    cur.execute(
        """INSERT INTO sales_orders SELECT 'SO' || (i // 2), i % 2 + 1, 'C' || (i % 2000), 'I' || ((i * 7) % ? // 4 * 4 + 3),
             1 + i % 9, DATE '2026-01-01' + CAST(i % 120 AS INTEGER), TIMESTAMP '2025-12-01',
             CASE WHEN i % 5 = 0 THEN 'shipped' ELSE 'open' END
           FROM range(?) r(i)""",
        [items, so_lines],
    )
    cur.execute(
        """INSERT INTO production_orders SELECT 'P' || i, 'I' || ((i * 11) % ? // 4 * 4 + 1 + i % 3), 5 + i % 20,
             CASE i % 10 WHEN 0 THEN 'completed' WHEN 1 THEN 'in_progress' WHEN 2 THEN 'cancelled'
                         WHEN 3 THEN 'released' ELSE 'planned' END,
             TIMESTAMP '2026-01-01' + INTERVAL (i % 2880) HOUR,
             TIMESTAMP '2026-01-01' + INTERVAL (i % 2880 + 8) HOUR, NULL, NULL, NULL
           FROM range(?) r(i)""",
        [items, orders],
    )
    cur.execute(
        """INSERT INTO operations SELECT 'P' || i, 10, 'M' || (i % 2000),
             TIMESTAMP '2026-01-01' + INTERVAL (i % 2880) HOUR, TIMESTAMP '2026-01-01' + INTERVAL (i % 2880 + 8) HOUR,
             CASE WHEN i % 10 = 1 THEN 'running' ELSE 'waiting' END
           FROM range(?) r(i)""",
        [orders],
    )
    cur.execute(
        """INSERT INTO purchase_orders SELECT 'PO' || i, 'I' || ((i * 13) % ? // 4 * 4), 100 + i % 400,
             DATE '2025-12-20' + CAST(i % 150 AS INTEGER), 'supplier', CASE WHEN i % 6 = 0 THEN 'received' ELSE 'open' END
           FROM range(?) r(i)""",
        [items, pos],
    )
    # Lots by level; lot k of level L is 'L<L>-<k>'.
    for level, count in enumerate(level_lots):
        cur.execute(
            """INSERT INTO lots SELECT 'L' || ? || '-' || k, 'I' || ((k * 17) % ? // 4 * 4 + ?), 10,
                 CASE WHEN ? > 0 THEN 'P' || (k % ?) END,
                 CASE WHEN k % 97 = 0 THEN 'hold' WHEN ? = 3 AND k % 3 = 0 THEN 'shipped' ELSE 'released' END
               FROM range(?) r(k)""",
            [level, items, level, level, orders, level, count],
        )
    # Each output lot has two inputs one level down: one spread evenly, one drawn from a small "popular"
    # set (the first 5000 lots of the level below, skewed to the first ones) so some inputs have thousands of descendants.
    for level in (1, 2, 3):
        below = level_lots[level - 1]
        cur.execute(
            """INSERT INTO lot_genealogy SELECT DISTINCT * FROM (
                 SELECT 'L' || (? - 1) || '-' || ((k * 7919) % ?), 'L' || ? || '-' || k, 1 FROM range(?) r(k)
                 UNION ALL
                 SELECT 'L' || (? - 1) || '-' || (CAST(pow(random(), 2) * least(?, 5000) AS BIGINT)), 'L' || ? || '-' || k, 1
                 FROM range(?) r(k))""",
            [level, below, level, level_lots[level], level, below, level, level_lots[level]],
        )
    cur.execute(
        """INSERT INTO inventory SELECT l.item_id, 'WH' || (hash(l.lot_id) % 20), l.lot_id, l.qty
           FROM lots l WHERE l.status IN ('released', 'hold')"""
    )
    cur.execute(
        """INSERT INTO shipments SELECT 'SH' || i, 'SO' || (i // 2), i % 2 + 1, 1, DATE '2026-01-01' + CAST(i % 90 AS INTEGER),
             CASE WHEN i % 3 = 0 THEN 'shipped' ELSE 'planned' END, NULL FROM range(?) r(i)""",
        [so_lines // 2],
    )
    cur.execute(
        """INSERT INTO shipment_lots SELECT 'SH' || (k % ?), lot_id, 1
           FROM (SELECT lot_id, row_number() OVER () AS k FROM lots WHERE lot_id LIKE 'L3-%' AND status = 'shipped')""",
        [so_lines // 2],
    )
    cur.execute(
        """INSERT INTO quality_holds SELECT 'QH' || row_number() OVER (), lot_id, 'bench', TIMESTAMP '2026-01-01', 'qa', 'active'
           FROM lots WHERE status = 'hold'"""
    )


# The same forward walk as one recursive CTE (a lot expanded once: USING KEY plus a visited check on the
# recurring table), measured beside the engine's level-at-a-time walk to justify the engine's choice.
CTE_WALK = """
WITH RECURSIVE walk(lot_id, depth) USING KEY (lot_id) AS (
    SELECT CAST(? AS VARCHAR), 0
    UNION
    SELECT g.output_lot_id, walk.depth + 1
    FROM walk JOIN lot_genealogy g ON g.input_lot_id = walk.lot_id
    WHERE g.output_lot_id NOT IN (SELECT lot_id FROM recurring.walk)
)
SELECT lot_id, depth FROM walk
"""


def counts(cur) -> dict[str, int]:
    return {
        t: cur.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0]
        for t in ("lot_genealogy", "lots", "production_orders", "sales_orders", "items", "bom")
    }


def pick_lots(cur) -> tuple[str, str]:
    """The raw lot (no inputs) with the most lots made directly from it, and a typical lot: one in the
    middle of the genealogy (median number of outputs among lots that have both inputs and outputs)."""
    wide = cur.execute(
        """SELECT input_lot_id FROM lot_genealogy
           WHERE input_lot_id NOT IN (SELECT output_lot_id FROM lot_genealogy)
           GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1"""
    ).fetchone()[0]
    typical = cur.execute(
        """WITH mid AS (SELECT input_lot_id AS lot_id, count(*) AS n FROM lot_genealogy
                        WHERE input_lot_id IN (SELECT output_lot_id FROM lot_genealogy) GROUP BY 1)
           SELECT lot_id FROM mid ORDER BY n, hash(lot_id) LIMIT 1 OFFSET (SELECT count(*) // 2 FROM mid)"""
    ).fetchone()[0]
    return wide, typical


def pick_at(cur) -> datetime:
    row = cur.execute(
        "SELECT min(planned_start) FROM production_orders WHERE status IN ('planned', 'released')"
    ).fetchone()
    return row[0] or datetime(2026, 1, 1)


def snapshot_as_of(folder: Path) -> datetime | None:
    meta = folder / "snapshot.json"
    if meta.exists():
        as_of = json.loads(meta.read_text()).get("as_of")
        return datetime.fromisoformat(as_of) if as_of else None
    return None


def bench_plant(label: str, store: Store, runs: int, at: datetime | None = None) -> dict:
    cur = store.cursor()
    sizes = counts(cur)
    wide, typical = pick_lots(cur)
    at = at or pick_at(cur)
    result = {"plant": label, **sizes}
    trace_lot(cur, wide)  # warm up: first touch of the tables
    result["trace_wide_ms"], wide_answer = timed(lambda: trace_lot(cur, wide), runs, "wide")
    result["trace_wide_lots"] = wide_answer["summary"]["lots"]
    result["trace_typical_ms"], typical_answer = timed(lambda: trace_lot(cur, typical), runs, "typical")
    result["trace_typical_lots"] = typical_answer["summary"]["lots"] + typical_answer["summary"]["ancestors"]
    from planner_tui.engine.trace import _walk

    result["walk_levels_ms"], walks = timed(lambda: _walk(cur, typical), runs, "walk")
    result["walk_cte_ms"], cte = timed(lambda: cur.execute(CTE_WALK, [typical]).fetchall(), runs, "cte")
    assert {r[0] for r in cte} == {w["lot_id"] for w in walks["forward"]}, "the two walks disagree"
    result["shortages_ms"], answer = timed(lambda: shortages(cur, at=at), max(3, runs // 3), "shortages")
    result["short_items"] = len(answer["shortages"])
    result["affected"] = sum(len(s["affected"]) for s in answer["shortages"])
    result["warnings"] = len(answer["warnings"])
    item = (
        answer["shortages"][0]["item_id"]
        if answer["shortages"]
        else cur.execute("SELECT min(item_id) FROM items").fetchone()[0]
    )
    result["projection_ms"], _ = timed(lambda: projection(cur, item, at=at), runs, "projection")
    result["cpu"] = dict(CPU)
    result["peak_rss_mb"] = peak_rss_mb()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", action="append", type=Path, help="a plant folder (Parquet); repeatable")
    parser.add_argument("--synthetic", action="append", type=float, help="build a plant of this scale in memory")
    parser.add_argument("--runs", type=int, default=9, help="runs per measurement (the median is reported)")
    parser.add_argument(
        "--raw",
        action="store_true",
        help="read the Parquet files straight into tables instead of the validating loader",
    )
    parser.add_argument(
        "--indexes",
        choices=("none", "with", "both"),
        default="both",
        help="measure without / with the trace's lookup indexes (create_lookup_indexes), or both",
    )
    parser.add_argument("--threads", type=int, default=2, help="DuckDB threads (the target machine has 2 cores)")
    args = parser.parse_args()
    plants: list[tuple[str, object]] = []
    for scale in args.synthetic or []:
        plants.append((f"synthetic x{scale}", scale))
    for folder in args.data or ([] if args.synthetic else [large_plant()]):
        if not folder.exists():
            parser.error(f"no plant at {folder}: pass --data DIR or --synthetic SCALE")
        plants.append((str(folder), folder))
    rows = []
    for label, source in plants:
        store = Store.memory()
        store.con.execute(f"SET threads = {args.threads}")
        started = time.perf_counter()
        if isinstance(source, Path):
            load_folder(store, source, args.raw)
        else:
            synthesize(store, source)
        print(f"{label}: ready in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        at = snapshot_as_of(source) if isinstance(source, Path) else None
        if args.indexes in ("none", "both"):
            rows.append(bench_plant(label + " (no lookup indexes)", store, args.runs, at))
        if args.indexes in ("with", "both"):
            started = time.perf_counter()
            create_lookup_indexes(store.cursor())
            print(f"{label}: lookup indexes built in {time.perf_counter() - started:.1f} s", file=sys.stderr)
            rows.append(bench_plant(label + " (with lookup indexes)", store, args.runs, at))
        store.close()
    print(
        f"lot trace and shortages, median of {args.runs} runs (shortages: of {max(3, args.runs // 3)}), "
        f"DuckDB threads={args.threads}; wall ms (process CPU ms)"
    )
    for r in rows:
        print(
            f"\n{r['plant']}: {r['lot_genealogy']:,} genealogy edges, {r['lots']:,} lots, "
            f"{r['production_orders']:,} production orders, {r['sales_orders']:,} sales order lines, "
            f"{r['items']:,} items, {r['bom']:,} BOM rows"
        )
        c = r["cpu"]
        print(
            f"  trace, widest raw lot   {r['trace_wide_ms']:8.1f} ms ({c['wide']:7.1f})  "
            f"{r['trace_wide_lots']:,} lots in the trace"
        )
        print(
            f"  trace, typical lot      {r['trace_typical_ms']:8.1f} ms ({c['typical']:7.1f})  "
            f"{r['trace_typical_lots']:,} lots"
        )
        print(
            f"  walk of the typical lot: levels, both directions {r['walk_levels_ms']:.1f} ms ({c['walk']:.1f}); "
            f"recursive CTE, forward only {r['walk_cte_ms']:.1f} ms ({c['cte']:.1f})"
        )
        print(
            f"  all shortages           {r['shortages_ms']:8.1f} ms ({c['shortages']:7.1f})  "
            f"{r['short_items']:,} short items, {r['affected']:,} affected demands, {r['warnings']:,} warnings"
        )
        print(f"  one item's projection   {r['projection_ms']:8.1f} ms ({c['projection']:7.1f})")
        print(f"  peak RSS so far         {r['peak_rss_mb']:8.0f} MB")


if __name__ == "__main__":
    main()
