"""CLI commands over the store: load, status, generate."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Annotated, Optional

import typer

from planner_tui import settings
from planner_tui.cli.common import (
    ID,
    NUMBER,
    AsOfOption,
    DbOption,
    JsonOption,
    ServerOption,
    SnapshotOption,
    StoodAtOption,
    emit_json,
    open_plant,
    parse_as_of,
    parse_at,
    progress_enabled,
    sigterm_unwinds,
    stamp,
    stdout,
    table,
)
from planner_tui.errors import BadRequest, PlannerError
from planner_tui.store import Store


def load(
    snapshot: Annotated[str, typer.Argument(help="A snapshot folder, or an http(s) base URL serving the same files.")],
    db: Annotated[
        Optional[Path], typer.Option("--db", help="The planner_tui DuckDB file to load into (created if missing).")
    ] = None,
    server: ServerOption = None,
    json: JsonOption = False,
) -> None:
    """Load a plant snapshot into the database: validated as a whole, swapped in at once.

    A snapshot with problems is rejected with every problem listed, and the database keeps its
    previous snapshot. planner_tui's own tables (event history, triage) survive a reload. With --server
    (or the server setting) the plant server loads it, as an admin: consoles stay open and show it.
    """
    from planner_tui.store.loader import load_snapshot

    address = server or (settings.current().server if db is None else None)
    if address is not None and db is not None:
        raise BadRequest("give --db FILE or --server ADDR, not both")
    if address is None and db is None:
        raise BadRequest("give --db FILE to load into (or --server ADDR to load through the plant server)")
    progress = progress_enabled() and not json
    if address is not None:
        from planner_tui.access.remote import connect

        plant = connect(address)
        try:
            with sigterm_unwinds("the load"):
                report = plant.load_snapshot(snapshot)
        finally:
            plant.close()
        _print_load(report, f"the plant server at {address}", json)
        return
    assert db is not None
    with sigterm_unwinds("the load"):
        if os.path.lexists(db):
            with Store.open(db) as store:
                report = load_snapshot(store, snapshot, progress=progress)
        else:
            report = _first_load(snapshot, db, progress)
    _print_load(report, str(db), json)


def _print_load(report: dict, into: str, as_json: bool) -> None:
    if as_json:
        emit_json(report)
        return
    # Paths on their own lines, whole (soft_wrap) so they copy and paste; the rest fits 80 columns.
    stdout.print(f"Loaded {report['source']}", highlight=False, soft_wrap=True)
    stdout.print(f"  into {into}", highlight=False, soft_wrap=True)
    stdout.print(_row_counts(report["tables"]))
    total = sum(report["tables"].values())
    stdout.print(f"{total:,} rows in {report['seconds']:.2f} s", highlight=False)
    if report.get("plant") or report.get("as_of"):
        stdout.print(f"plant: {report.get('plant') or '?'}", highlight=False)
        stdout.print(f"extract as of {report.get('as_of') or '?'}", highlight=False)


def _first_load(snapshot: str, db: Path, progress: bool) -> dict:
    """Load into a database that does not exist yet: build it under a name of this process's own, then
    put it in place only if the name is still free, in one step.

    Two first loads racing for one --db (two admins, cron and a person) can then neither delete the
    database the other made nor report success for one that is not there: the loser says so, the
    winner's database stays whole. A failed or interrupted load removes only its own file."""
    from planner_tui.store.loader import load_snapshot

    folder = db.parent
    if not folder.is_dir():
        raise PlannerError(f"cannot create {db}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise PlannerError(f"cannot create {db}: the folder {folder} is not writable")
    own = folder / f".{db.name}.loading-{os.getpid()}-{secrets.token_hex(4)}"
    try:
        with Store.open(own) as store:
            report = load_snapshot(store, snapshot, progress=progress)
            store.con.execute("CHECKPOINT")  # everything in the one file: no WAL to move along with it
        _publish(own, db)
    finally:
        for leftover in (own, own.with_name(own.name + ".wal")):
            leftover.unlink(missing_ok=True)
    return report


def _publish(own: Path, db: Path) -> None:
    """Give the finished database file `own` the name `db`, unless something has taken that name."""
    taken = PlannerError(
        f"{db} was created by another process while this load ran; this load was not kept and that "
        "database was left as it is: run the load again to replace its snapshot"
    )
    try:
        os.link(own, db)  # fails if db exists: no window in which a half-made file bears the name
        return
    except FileExistsError:
        raise taken from None
    except OSError:
        pass  # a filesystem without hard links
    try:
        # Claim the name (O_EXCL: only one process can), then replace our own empty claim in one step.
        # Meanwhile another command sees an empty file there and refuses it as not a database.
        with open(db, "xb"):
            pass
    except FileExistsError:
        raise taken from None
    except OSError as exc:
        raise PlannerError(f"cannot create {db}: {exc.strerror or exc}") from None
    try:
        os.replace(own, db)
    except OSError as exc:
        db.unlink(missing_ok=True)  # our own empty claim
        raise PlannerError(f"cannot create {db}: {exc.strerror or exc}") from None


def _row_counts(tables: dict[str, int]):
    counts = table(None, ("table", ID), ("rows", NUMBER))
    for name, count in tables.items():
        counts.add_row(name, f"{count:,}")
    return counts


def status(
    at: StoodAtOption = None,
    as_of: AsOfOption = None,
    db: DbOption = None,
    snapshot: SnapshotOption = None,
    server: ServerOption = None,
    json: JsonOption = False,
) -> None:
    """What the store holds: rows per table, stopped machines, active holds, open orders, last event."""
    past = parse_as_of(as_of, at)  # --at and --as-of mean the same here: one of them
    when = parse_at(at)
    with open_plant(db, snapshot, server) as plant:
        summary = plant.status(at=when, as_of=past)
    if json:
        emit_json(summary)
        return
    # The plant's name on its own line: as the title of a narrow table it would wrap to the table's width.
    shown = f" as it stood at {stamp(past or when)}" if past or when else ""
    stdout.print(f"[bold]Plant {summary['plant'] or '?'}{shown}[/]", highlight=False, soft_wrap=True)
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
