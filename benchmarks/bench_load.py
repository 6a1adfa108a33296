"""Snapshot load benchmark: our `load_snapshot` (validation included) against DuckDB's bare read.

    python benchmarks/bench_load.py                       # the large plant (benchmarks/plant.py)
    python benchmarks/bench_load.py --data DIR            # any Parquet snapshot folder
    python benchmarks/bench_load.py --synthetic 0.1       # no data yet: write a plant at 10% of large

Both loads read the same Parquet files into a fresh DuckDB file on disk, each in its own fresh
subprocess so that peak memory (RSS, from getrusage) is that load's alone. The bare read is one
`CREATE TABLE t AS SELECT * FROM read_parquet(file)` per table, nothing else. Both timings end with the
same explicit CHECKPOINT (the data on disk, as a finished load leaves it) and start after the database
is opened. The files are read once beforehand so that both runs find them in the page cache. The two
alternate (bare, ours, bare, ours, ...) `--repeat` times (default 5) so that a busy spell on the shared
machine hits both alike; the best and the median of each are reported, and the ratio of the medians
and of the bests, for wall and CPU seconds. Prints seconds, rows/s, peak RSS and the ratios.

Our load stages two files at a time and validates beside the staging (see loader._Work); the bare
read is one CTAS after another. The wall ratio is what a planner waits; the CPU ratio is the extra
work, and what the wall ratio tends to when other processes keep the cores busy.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from plant import large_plant


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def _child_bare(data: Path, db: Path, threads: int | None) -> dict:
    import duckdb

    con = duckdb.connect(str(db))
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    cpu = _cpu_seconds()
    started = time.perf_counter()
    rows = 0
    for path in sorted(data.glob("*.parquet")):
        # CREATE TABLE AS answers its row count: no second query.
        rows += con.execute(f'CREATE TABLE "{path.stem}" AS SELECT * FROM read_parquet(?)', [str(path)]).fetchall()[0][
            0
        ]
    con.execute("CHECKPOINT")
    seconds = time.perf_counter() - started
    cpu = _cpu_seconds() - cpu
    con.close()
    return {"seconds": seconds, "cpu": cpu, "rows": rows}


def _child_ours(data: Path, db: Path, threads: int | None) -> dict:
    from planner_tui.store import Store
    from planner_tui.store.loader import load_snapshot

    store = Store.open(db)
    if threads:
        store.con.execute(f"SET threads = {int(threads)}")
    cpu = _cpu_seconds()
    started = time.perf_counter()
    report = load_snapshot(store, data)
    store.con.execute("CHECKPOINT")
    seconds = time.perf_counter() - started
    cpu = _cpu_seconds() - cpu
    store.close()
    return {"seconds": seconds, "cpu": cpu, "rows": sum(report["tables"].values())}


def _run_child(kind: str, data: Path, workdir: Path, threads: int | None) -> dict:
    db = workdir / f"{kind}.duckdb"
    extra = ["--threads", str(threads)] if threads else []
    out = subprocess.run(
        [sys.executable, __file__, "--child", kind, "--data", str(data), "--db", str(db), *extra],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise SystemExit(f"{kind} load failed:\n{out.stderr}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["db_mb"] = db.stat().st_size / 2**20
    for leftover in workdir.glob(f"{kind}.duckdb*"):
        leftover.unlink()
    return result


def _warm(data: Path) -> int:
    total = 0
    for path in data.iterdir():
        with path.open("rb") as f:
            while chunk := f.read(1 << 24):
                total += len(chunk)
    return total


def write_synthetic(out: Path, scale: float) -> None:
    """A valid plant in the contract at `scale` x the large sizes (1.0: 1M operations), with DuckDB SQL.

    Only for when the project's generator's data is not there; it is not the sample's structure, just
    the contract's row counts, types and references."""
    import duckdb

    n = lambda base: max(10, int(base * scale))  # noqa: E731
    items, machines, customers = n(20_000), n(2_000), n(2_000)
    so_lines, prod, ops, lots, edges = n(500_000), n(200_000), n(1_000_000), n(500_000), n(1_000_000)
    out.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    ts = "TIMESTAMP '2026-11-01 06:00:00'"
    tables = {
        "machines": f"SELECT 'M' || i AS machine_id, 'Machine ' || i AS name, 'WC' || (i % 50) AS work_center, "
        f"'L' || (i % 20) AS line, 'PLANT' AS plant, 'Sup ' || (i % 100) AS supervisor FROM range({machines}) t(i)",
        "machine_states": f"SELECT 'M' || i AS machine_id, CASE WHEN i % 50 = 0 THEN 'down' ELSE 'running' END AS state, "
        f"{ts} AS since, NULL::VARCHAR AS reason FROM range({machines}) t(i)",
        "items": f"SELECT 'I' || i AS item_id, 'Item ' || i AS description, "
        f"['finished', 'subassembly', 'component', 'raw'][i % 4 + 1] AS item_type, 'ea' AS uom, "
        f"(i % 7)::DOUBLE AS safety_stock, 'Buyer ' || (i % 30) AS buyer FROM range({items}) t(i)",
        "bom": f"SELECT 'I' || i AS parent_item_id, 'I' || ((i + 1 + j) % {items}) AS component_item_id, "
        f"(1 + j)::DOUBLE AS qty_per FROM range({items}) t(i), range(2) u(j)",
        "customers": f"SELECT 'C' || i AS customer_id, 'Customer ' || i AS name, 'B' AS tier, "
        f"'AM ' || (i % 40) AS account_manager FROM range({customers}) t(i)",
        "sales_orders": f"SELECT 'SO' || (i // 5) AS sales_order_id, (i % 5 + 1)::INTEGER AS line_no, "
        f"'C' || (i % {customers}) AS customer_id, 'I' || (i % {items}) AS item_id, "
        f"(1 + i % 20)::DOUBLE AS qty, DATE '2026-12-01' + (i % 60)::INTEGER AS promised_date, "
        f"{ts} AS confirmed_at, 'open' AS status FROM range({so_lines}) t(i)",
        "production_orders": f"SELECT 'P' || i AS production_order_id, 'I' || (i % {items}) AS item_id, "
        f"(1 + i % 50)::DOUBLE AS qty, 'released' AS status, "
        f"{ts} + to_minutes(i) AS planned_start, {ts} + to_minutes(i + 300) AS planned_end, "
        f"CASE WHEN i % 2 = 0 THEN 'SO' || ((i // 2 % {so_lines}) // 5) END AS sales_order_id, "
        f"CASE WHEN i % 2 = 0 THEN ((i // 2 % {so_lines}) % 5 + 1)::INTEGER END AS line_no, "
        f"CASE WHEN i % 3 = 1 THEN 'P' || (i - 1) END AS parent_production_order_id "
        f"FROM range({prod}) t(i)",
        "operations": f"SELECT 'P' || (i // 5 % {prod}) AS production_order_id, "
        f"((i % 5 + 1) * 10 + (i // (5 * {prod})) * 100)::INTEGER AS op_seq, "
        f"'M' || (i % {machines}) AS machine_id, {ts} + to_minutes(i) AS planned_start, "
        f"{ts} + to_minutes(i + 60) AS planned_end, 'waiting' AS status FROM range({ops}) t(i)",
        "purchase_orders": f"SELECT 'PO' || i AS purchase_order_id, 'I' || (i % {items}) AS item_id, 100.0 AS qty, "
        f"DATE '2026-12-01' AS due_date, 'Supplier' AS supplier, 'open' AS status "
        f"FROM range({n(50_000)}) t(i)",
        "inventory": f"SELECT 'I' || (i % {items}) AS item_id, 'WH' || (i % 3) AS location, 'L' || i AS lot_id, "
        f"10.0 AS qty FROM range({n(100_000)}) t(i)",
        "lots": f"SELECT 'L' || i AS lot_id, 'I' || (i % {items}) AS item_id, 10.0 AS qty, "
        f"'P' || (i % {prod}) AS produced_by, 'released' AS status FROM range({lots}) t(i)",
        "lot_genealogy": f"SELECT 'L' || (i // 2 % {lots}) AS input_lot_id, "
        f"'L' || ((i // 2 + 1 + i % 2 + (i // (2 * {lots})) * 7) % {lots}) AS output_lot_id, "
        f"1.0 AS qty FROM range({edges}) t(i)",
        "shipments": f"SELECT 'SH' || i AS shipment_id, 'SO' || (i // 5) AS sales_order_id, "
        f"(i % 5 + 1)::INTEGER AS line_no, 1.0 AS qty, DATE '2026-12-01' AS planned_ship_date, "
        f"'planned' AS status, 'DSV' AS carrier FROM range({n(300_000)}) t(i)",
        "shipment_lots": f"SELECT 'SH' || i AS shipment_id, 'L' || i AS lot_id, 1.0 AS qty FROM range({n(300_000)}) t(i)",
        "quality_holds": f"SELECT 'H' || i AS hold_id, 'L' || i AS lot_id, 'reason' AS reason, {ts} AS placed_at, "
        f"'QA' AS placed_by, 'active' AS status FROM range({n(1_000)}) t(i)",
    }
    for name, sql in tables.items():
        con.execute(f"COPY ({sql}) TO '{out / (name + '.parquet')}' (FORMAT parquet)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--data", type=Path, default=None, help="Parquet snapshot folder (default: the large plant, generated once)"
    )
    parser.add_argument(
        "--synthetic",
        type=float,
        default=None,
        help="write a synthetic plant at this fraction of the large sizes and use it",
    )
    parser.add_argument(
        "--repeat", type=int, default=5, help="runs of each, alternating (default 5); best and median are reported"
    )
    parser.add_argument(
        "--threads", type=int, default=None, help="DuckDB threads for both loads (default: DuckDB's, one per CPU)"
    )
    parser.add_argument("--child", choices=["bare", "ours"], help=argparse.SUPPRESS)
    parser.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        result = (_child_bare if args.child == "bare" else _child_ours)(args.data, args.db, args.threads)
        result["peak_rss_mb"] = _peak_rss_mb()
        print(json.dumps(result))
        return

    workdir = Path(tempfile.mkdtemp(prefix="bench_load_"))
    try:
        data = args.data
        if args.synthetic is not None:
            data = workdir / "snapshot"
            write_synthetic(data, args.synthetic)
        data = data or large_plant()
        if not data.is_dir():
            raise SystemExit(
                f"no snapshot at {data}: run `planner-tui generate --out {data} ...` or use --synthetic 0.1"
            )
        size = _warm(data)
        print(f"data: {data} ({size / 2**20:.0f} MiB of files)")
        print(
            f"machine: {os.cpu_count()} CPUs, {_mem_total()}, load average {os.getloadavg()[0]:.1f}, "
            f"Python {platform.python_version()}, duckdb {__import__('duckdb').__version__}, "
            f"threads {args.threads or 'default'}"
        )
        runs: dict[str, list[dict]] = {"bare": [], "ours": []}
        for _ in range(args.repeat):
            for kind in runs:
                runs[kind].append(_run_child(kind, data, workdir, args.threads))
        for kind, results in runs.items():
            print(f"{kind} runs, wall (cpu) s: " + ", ".join(f"{r['seconds']:.2f} ({r['cpu']:.2f})" for r in results))
        print(f"{'':30}{'':>7}{'seconds':>9}{'cpu s':>8}{'rows':>12}{'rows/s':>12}{'peak RSS':>11}{'db file':>10}")
        summary = {}
        for kind, label in (("bare", "DuckDB bare CTAS read_parquet"), ("ours", "planner_tui load_snapshot")):
            results = runs[kind]
            rows, rss, db_mb = results[0]["rows"], max(r["peak_rss_mb"] for r in results), results[0]["db_mb"]
            summary[kind] = {
                "best": (min(r["seconds"] for r in results), min(r["cpu"] for r in results)),
                "median": (
                    statistics.median(r["seconds"] for r in results),
                    statistics.median(r["cpu"] for r in results),
                ),
                "rss": rss,
            }
            for which in ("best", "median"):
                wall, cpu = summary[kind][which]
                print(
                    f"{label:30.30}{which:>7}{wall:9.2f}{cpu:8.2f}{rows:12,}{rows / wall:12,.0f}"
                    f"{rss:8.0f} MB{db_mb:7.0f} MB"
                )
        for which in ("median", "best"):
            (ours_wall, ours_cpu), (bare_wall, bare_cpu) = summary["ours"][which], summary["bare"][which]
            print(
                f"ratio ours / bare, {which + 's:':8} {ours_wall / bare_wall:.2f}x wall, "
                f"{ours_cpu / bare_cpu:.2f}x cpu (target <= 1.5x)"
            )
        print(
            f"peak memory of our load: {summary['ours']['rss'] / 1024:.2f} GB (target < 4 GB); "
            f"load average now {os.getloadavg()[0]:.1f}"
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _mem_total() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                return f"{int(line.split()[1]) / 2**20:.1f} GiB RAM"
    except OSError:
        pass
    return "RAM unknown"


if __name__ == "__main__":
    main()
