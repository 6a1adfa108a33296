"""What every command shares: opening the store from --db or --snapshot, --at, --json, errors."""

from __future__ import annotations

import json
import sys
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console

from planner_tui.errors import BadRequest, PlannerError
from planner_tui.store import Store
from planner_tui.timeutil import iso

stdout = Console()
stderr = Console(stderr=True)

DbOption = Annotated[
    Optional[Path], typer.Option("--db", help="The planner_tui DuckDB file (made by `planner-tui load`).")
]
SnapshotOption = Annotated[
    Optional[str],
    typer.Option("--snapshot", help="A snapshot folder or http(s) base URL, loaded in memory for this run."),
]
AtOption = Annotated[
    Optional[str], typer.Option("--at", help="Pin 'now' to this ISO 8601 time (default: the real clock).")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts instead of a table.")]


def open_store(db: Path | None, snapshot: str | None, *, read_only: bool = False) -> Store:
    """The store a command works on: a database file, or a snapshot loaded in memory for this run."""
    if (db is None) == (snapshot is None):
        raise BadRequest("give exactly one of --db FILE or --snapshot SNAPSHOT")
    if snapshot is not None:
        from planner_tui.store.loader import load_snapshot

        store = Store.memory()
        load_snapshot(store, snapshot, progress=progress_enabled())
        return store
    return Store.open(db, read_only=read_only, create=False)


def progress_enabled() -> bool:
    """Rich progress on a terminal; quiet when piped or in CI."""
    return stderr.is_terminal


def _json_default(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return iso(value)
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if hasattr(value, "to_dict"):
        return value.to_dict()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def to_json(obj: Any) -> str:
    return json.dumps(obj, default=_json_default, indent=2, ensure_ascii=False)


def emit_json(obj: Any) -> None:
    sys.stdout.write(to_json(obj) + "\n")
    sys.stdout.flush()


def fail(error: PlannerError) -> None:
    stderr.print(f"[bold red]error:[/] {error}", highlight=False, markup=True, soft_wrap=True)
