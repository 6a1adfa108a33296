"""CLI commands: generate."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from planner_tui.cli.common import JsonOption, emit_json, stderr, stdout


def register(app: typer.Typer) -> None:
    app.command("generate")(generate)


def generate(
    out: Annotated[Path, typer.Option("--out", help="Folder to write the Parquet files and snapshot.json into.")],
    scale: Annotated[
        float,
        typer.Option(
            "--scale",
            help="Plant size. 1 is the large plant: ~2,000 machines, 20,000 items, 200,000 production orders, "
            "1,000,000 operations, 500,000 sales order lines, 1,000,000 lot genealogy edges (other tables in "
            "proportion). 0.01 is ~1% of that; small scales keep a floor (12 machines, 40 items...).",
        ),
    ] = 1.0,
    seed: Annotated[int, typer.Option("--seed", help="Same scale and seed give byte-identical files.")] = 1,
    calendars: Annotated[
        bool,
        typer.Option(
            "--calendars",
            help="Plan the plant in working time: every machine on two shifts Monday to Friday (Europe/Berlin), "
            "closed on weekends and public holidays, an operator on about a third of the operations; "
            "snapshot.json names the time zone and the plant's calendar. Without it the plant runs round the clock.",
        ),
    ] = False,
    shift_operators: Annotated[
        bool,
        typer.Option(
            "--shift-operators",
            help="With --calendars: two operators per lane, one per shift, each on their shift's calendar "
            "(an operation delayed past its shift waits for the next one), instead of one on both shifts.",
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Write a deterministic synthetic plant as Parquet (one file per contract table), for benchmarks and tests.

    It has the sample plant's structure: four-level BOMs, make-to-order chains with feeding orders and make-to-stock orders, a feasible plan on every machine, lots with genealogy, shipments carrying lots, a few machines down and a few active quality holds.

    Load it with: planner-tui load DIR --db FILE
    """
    from planner_tui.generate import generate_plant

    started = time.perf_counter()
    counts = generate_plant(out, scale=scale, seed=seed, calendars=calendars, shift_operators=shift_operators)
    seconds = round(time.perf_counter() - started, 2)
    if as_json:
        emit_json(
            {
                "out": str(out),
                "scale": scale,
                "seed": seed,
                "calendars": calendars,
                "seconds": seconds,
                "tables": counts,
            }
        )
        return
    in_time = ", two shifts" if calendars else ""
    table = Table(title=f"Synthetic plant in {out} (scale {scale:g}, seed {seed}{in_time})")
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, rows in counts.items():
        table.add_row(name, f"{rows:,}")
    stdout.print(table)
    stderr.print(f"written in {seconds:.1f} s; load it with: planner-tui load {out} --db FILE", highlight=False)
