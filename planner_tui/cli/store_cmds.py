"""CLI commands over the store: load, status, generate."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from planner_tui.cli.common import (
    ID,
    NUMBER,
    DbOption,
    JsonOption,
    SnapshotOption,
    emit_json,
    open_store,
    progress_enabled,
    stdout,
    table,
)
from planner_tui.store import Store
from planner_tui.store.status import plant_status


def load(
    snapshot: Annotated[str, typer.Argument(help="A snapshot folder, or an http(s) base URL serving the same files.")],
    db: Annotated[Path, typer.Option("--db", help="The planner_tui DuckDB file to load into (created if missing).")],
    json: JsonOption = False,
) -> None:
    """Load a plant snapshot into the database: validated as a whole, swapped in at once.

    A snapshot with problems is rejected with every problem listed, and the database keeps its
    previous snapshot. planner_tui's own tables (event history, triage) survive a reload.
    """
    from planner_tui.store.loader import load_snapshot

    created = not db.exists()
    try:
        with Store.open(db) as store:
            report = load_snapshot(store, snapshot, progress=progress_enabled() and not json)
    except BaseException:
        if created:  # a first load that fails leaves no empty database behind
            for leftover in (db, db.with_name(db.name + ".wal")):
                leftover.unlink(missing_ok=True)
        raise
    if json:
        emit_json(report)
        return
    # Paths on their own lines, whole (soft_wrap) so they copy and paste; the rest fits 80 columns.
    stdout.print(f"Loaded {report['source']}", highlight=False, soft_wrap=True)
    stdout.print(f"  into {db}", highlight=False, soft_wrap=True)
    stdout.print(_row_counts(report["tables"]))
    total = sum(report["tables"].values())
    stdout.print(f"{total:,} rows in {report['seconds']:.2f} s", highlight=False)
    if report.get("plant") or report.get("as_of"):
        stdout.print(f"plant: {report.get('plant') or '?'}", highlight=False)
        stdout.print(f"extract as of {report.get('as_of') or '?'}", highlight=False)


def _row_counts(tables: dict[str, int]):
    counts = table(None, ("table", ID), ("rows", NUMBER))
    for name, count in tables.items():
        counts.add_row(name, f"{count:,}")
    return counts


def status(db: DbOption = None, snapshot: SnapshotOption = None, json: JsonOption = False) -> None:
    """What the store holds: rows per table, stopped machines, active holds, open orders, last event."""
    with open_store(db, snapshot, read_only=True) as store:
        summary = plant_status(store.cursor())
    if json:
        emit_json(summary)
        return
    # The plant's name on its own line: as the title of a narrow table it would wrap to the table's width.
    stdout.print(f"[bold]Plant {summary['plant'] or '?'}[/]", highlight=False, soft_wrap=True)
    stdout.print(_row_counts(summary["tables"]))
    for label, key in (
        ("machines stopped", "machines_stopped"),
        ("active quality holds", "active_holds"),
        ("open sales order lines", "open_sales_order_lines"),
        ("open production orders", "open_production_orders"),
        ("events received", "events_received"),
    ):
        stdout.print(f"{label}: [bold]{summary[key]:,}[/]")
    if summary["loaded_at"]:
        stdout.print(f"snapshot loaded at {summary['loaded_at']} from {summary['loaded_from']}", highlight=False)


def register(app: typer.Typer) -> None:
    app.command()(load)
    app.command()(status)
