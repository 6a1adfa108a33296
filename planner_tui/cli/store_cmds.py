"""CLI commands over the store: load, status, generate."""

from __future__ import annotations

import typer
from rich.table import Table as RichTable

from planner_tui.cli.common import DbOption, JsonOption, SnapshotOption, emit_json, open_store, stdout
from planner_tui.store.status import plant_status


def status(db: DbOption = None, snapshot: SnapshotOption = None, json: JsonOption = False) -> None:
    """What the store holds: rows per table, stopped machines, active holds, open orders, last event."""
    with open_store(db, snapshot, read_only=True) as store:
        summary = plant_status(store.cursor())
    if json:
        emit_json(summary)
        return
    table = RichTable(title=f"Plant {summary['plant'] or ''}".strip(), show_lines=False)
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, count in summary["tables"].items():
        table.add_row(name, f"{count:,}")
    stdout.print(table)
    for label, key in (
        ("machines stopped", "machines_stopped"),
        ("active quality holds", "active_holds"),
        ("open sales order lines", "open_sales_order_lines"),
        ("open production orders", "open_production_orders"),
        ("events received", "events_received"),
    ):
        stdout.print(f"{label}: [bold]{summary[key]:,}[/]")
    if summary["loaded_at"]:
        stdout.print(f"snapshot loaded at {summary['loaded_at']} from {summary['loaded_from']}")


def register(app: typer.Typer) -> None:
    app.command()(status)
