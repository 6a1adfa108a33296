"""What every command shares: opening the store from --db or --snapshot (or the plant from --server), --at,
--json, errors."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from planner_tui.errors import BadRequest, PlannerError
from planner_tui.present import short_time, short_times_in  # noqa: F401 - the CLI's house style
from planner_tui.store import Store
from planner_tui.timeutil import parse_timestamp
from planner_tui.wire import to_json  # what --json prints (commands and tests import it from here)

if TYPE_CHECKING:
    from planner_tui.access import PlantData

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
# `--at` on the questions of how things stood (order, shipment, trace, holds, find, owners, events list|lag):
# the plant then, not only the clock (access/interface.py AS_IT_STOOD).
StoodAtOption = Annotated[
    Optional[str],
    typer.Option(
        "--at",
        metavar="TS",
        help="As things stood at TS: the events after TS taken back, triage replayed to TS, TS the clock "
        "(not before the snapshot's extract; default: now).",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts instead of a table.")]
AsOfOption = Annotated[
    Optional[str],
    typer.Option(
        "--as-of",
        metavar="TS",
        help="The plant as it stood at TS: rebuilt from the snapshot and the events up to TS (not before the "
        "snapshot's extract).",
    ),
]
ServerOption = Annotated[
    Optional[str],
    typer.Option(
        "--server",
        metavar="ADDR",
        help="The plant server to ask (unix:PATH, tcp:HOST:PORT or https://HOST:PORT) instead of opening a "
        "database; default: the server setting / PLANNER_TUI_SERVER.",
    ),
]


def parse_at(at: str | None) -> datetime | None:
    """--at as a time; None when it was not given (the plant's clock)."""
    return None if at is None else parse_timestamp(at, what="--at timestamp")


def stood(at: datetime | None) -> str:
    """What a table's title adds for `--at TS` on a question of how things stood: " as it stood at TS"."""
    return "" if at is None else f" as it stood at {stamp(at)}"


def parse_as_of(as_of: str | None, at: str | None = None) -> datetime | None:
    """--as-of as a time (None when not given); with it, "now" is that time, so --at is refused beside it."""
    if as_of is None:
        return None
    if at is not None:
        raise BadRequest("give --as-of TS (the plant as it stood then, asked then) or --at TS, not both")
    return parse_timestamp(as_of, what="--as-of timestamp")


@contextmanager
def open_plant(
    db: Path | None, snapshot: str | None, server: str | None, *, read_only: bool = True
) -> Iterator[PlantData]:
    """The plant a command asks, closed after: a --db or --snapshot given opens a store here; else --server
    (or, with none of the three, the server setting, then the db setting) names the plant server to ask."""
    if server is not None and (db is not None or snapshot is not None):
        raise BadRequest("give --server ADDR or --db/--snapshot, not both: one plant answers")
    if server is None and db is None and snapshot is None:
        from planner_tui.settings import current

        server = current().server  # a plant server wins over a database file
        if server is None and current().db is None:
            raise BadRequest(
                (
                    "give exactly one of --db FILE, --snapshot SNAPSHOT or --server ADDR"
                    if read_only
                    else "this command writes to the plant: give --db FILE or --server ADDR"
                )
                + " (or set db or server: see docs/settings.md)"
            )
    plant: PlantData
    if server is not None:
        from planner_tui.access.remote import connect

        plant = connect(server)
    else:
        from planner_tui.access.local import LocalPlant

        plant = LocalPlant(open_store(db, snapshot, read_only=read_only))
    try:
        yield plant
    finally:
        plant.close()


def open_store(db: Path | None, snapshot: str | None, *, read_only: bool = False) -> Store:
    """The store a command works on: a database file, or a snapshot loaded in memory for this run."""
    if db is None and snapshot is None:
        from planner_tui.settings import default_db

        db = default_db()  # the db setting (settings file or PLANNER_TUI_DB)
    if db is not None and snapshot is None:
        return Store.open(db, read_only=read_only, create=False)
    if snapshot is not None and db is None:
        from planner_tui.store.loader import load_snapshot

        store = Store.memory()
        try:
            with sigterm_unwinds():
                load_snapshot(store, snapshot, progress=progress_enabled())
        except BaseException:
            store.close()
            raise
        return store
    raise BadRequest("give exactly one of --db FILE or --snapshot SNAPSHOT (or set db: see docs/settings.md)")


class Terminated(BaseException):
    """SIGTERM arrived. A BaseException, like KeyboardInterrupt: no `except Exception` may swallow it, and
    every `finally` on the way out runs (temporary folders and files go)."""


@contextmanager
def sigterm_unwinds(what: str = "the command") -> Iterator[None]:
    """Inside: SIGTERM (kill, systemd stop, a CI timeout) unwinds the stack like Ctrl-C instead of ending
    the process on the spot, then exits with 143 (128 + SIGTERM) and one line saying so."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers belong to the main thread
        return

    def stop(signum, frame) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM must not cut the cleanup short
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    except Terminated:
        fail(PlannerError(f"stopped by SIGTERM: {what} was abandoned, its temporary files removed"))
        raise SystemExit(128 + signal.SIGTERM) from None
    finally:
        signal.signal(signal.SIGTERM, previous)


# Column kinds for `table(...)`: an id is never broken, the text takes the width that is left, a side column
# is cut short with an ellipsis (--json has it whole), a number is right-aligned.
ID: dict[str, Any] = {"no_wrap": True}
TEXT: dict[str, Any] = {"ratio": 1, "min_width": 18}
SIDE: dict[str, Any] = {"no_wrap": True, "max_width": 14, "overflow": "ellipsis"}
NUMBER: dict[str, Any] = {"no_wrap": True, "justify": "right"}


def table(title: str | None = None, *columns: tuple[str, dict[str, Any]], caption: str | None = None) -> Table:
    """The house table, readable at 80 columns over SSH: a rule under the header instead of boxes, no edge
    padding, and the given (name, kind) columns, kinds from ID, TEXT, SIDE, NUMBER (add_column works too)."""
    made = Table(
        title=title,
        caption=caption,
        title_justify="left",
        caption_justify="left",
        title_style="bold",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        show_edge=False,
    )
    for name, kind in columns:
        made.add_column(name, **kind)
    return made


def stamp(value: datetime | date | None) -> str:
    """A time in a sentence: the year too, no seconds."""
    if value is None:
        return "-"
    return value.strftime("%Y-%m-%d %H:%M") if isinstance(value, datetime) else value.strftime("%Y-%m-%d")


def progress_enabled() -> bool:
    """Rich progress on a terminal; quiet when piped or in CI."""
    return stderr.is_terminal


def emit_json(obj: Any) -> None:
    sys.stdout.write(to_json(obj) + "\n")
    sys.stdout.flush()


def fail(error: PlannerError) -> None:
    # The message is data, not markup: a value like "[red]x" must print as it is.
    stderr.print(f"[bold red]error:[/] {escape(str(error))}", highlight=False, markup=True, soft_wrap=True)
