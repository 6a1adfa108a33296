"""What every command shares: opening the store from --db or --snapshot, --at, --json, errors."""

from __future__ import annotations

import json
import math
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from planner_tui.errors import BadRequest, PlannerError
from planner_tui.present import short_time, short_times_in  # noqa: F401 - the CLI's house style
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


def _finite(value: Any) -> Any:
    """`value` with every NaN and infinity replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_finite(item) for item in value]
    if hasattr(value, "to_dict"):
        return _finite(value.to_dict())
    return value


def to_json(obj: Any) -> str:
    try:
        return json.dumps(obj, default=_json_default, indent=2, ensure_ascii=False, allow_nan=False)
    except ValueError:
        pass
    # NaN and Infinity are not JSON (a script's parser refuses them): an unknown number is null. The
    # walk is paid only by an answer that holds one.
    try:
        return json.dumps(_finite(obj), default=_json_default, indent=2, ensure_ascii=False, allow_nan=False)
    except (ValueError, RecursionError) as exc:
        raise PlannerError(f"cannot write the answer as JSON: {exc}") from None


def emit_json(obj: Any) -> None:
    sys.stdout.write(to_json(obj) + "\n")
    sys.stdout.flush()


def fail(error: PlannerError) -> None:
    # The message is data, not markup: a value like "[red]x" must print as it is.
    stderr.print(f"[bold red]error:[/] {escape(str(error))}", highlight=False, markup=True, soft_wrap=True)
