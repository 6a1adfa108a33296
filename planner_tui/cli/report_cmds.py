"""`planner-tui report shift`: the handover a leaving supervisor gives (engine/shift.py, handover.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from planner_tui.cli.common import AtOption, DbOption, JsonOption, ServerOption, SnapshotOption, open_plant, stdout
from planner_tui.errors import BadRequest, PlannerError
from planner_tui.present import moment
from planner_tui.timeutil import parse_timestamp, resolve_now
from planner_tui.wire import to_json

report_app = typer.Typer(help="Reports: the shift's story, told back.", no_args_is_help=True)
FORMATS = ("md", "html", "json")


@report_app.command("shift")
def shift(
    start: Annotated[
        Optional[str],
        typer.Option(
            "--from", metavar="TS", help="The window's start (default: the current shift's, by the plant calendar)."
        ),
    ] = None,
    end: Annotated[
        Optional[str], typer.Option("--to", metavar="TS", help="The window's end (default: now, or the shift's end).")
    ] = None,
    format: Annotated[
        str, typer.Option("--format", help="md (chat, e-mail), html (one self-contained page) or json.")
    ] = "md",
    out: Annotated[
        Optional[Path], typer.Option("--out", metavar="FILE", help="Write the report here instead of printing it.")
    ] = None,
    at: AtOption = None,
    db: DbOption = None,
    snapshot: SnapshotOption = None,
    server: ServerOption = None,
    json: JsonOption = False,
) -> None:
    """The shift handover: what needs attention now, stops, holds, late lines, shortages, orders, who did
    what, who was told, and the feed's health.

    Without --from/--to: the shift now running (or just ended) by the calendar most machines work to,
    up to now; a plant without calendars gets the last 8 hours."""
    from planner_tui.handover import to_html, to_markdown

    chosen = "json" if json else format.lower()
    if chosen not in FORMATS:
        raise BadRequest(f"--format {format!r}: choose md, html or json")
    now = resolve_now(at)
    window_start = None if start is None else parse_timestamp(start, what="--from timestamp")
    window_end = None if end is None else parse_timestamp(end, what="--to timestamp")
    with open_plant(db, snapshot, server) as plant:
        report = plant.shift_report(at=now, start=window_start, end=window_end)
    if chosen == "json":
        text = to_json(report) + "\n"
    elif chosen == "html":
        text = to_html(report, plant=report.get("plant"))
    else:
        text = to_markdown(report, plant=report.get("plant"))
    if out is None:
        stdout.out(text, end="", highlight=False)
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as error:
        raise PlannerError(f"cannot write the report to {out}: {error.strerror or error}") from None
    window = report["window"]
    stdout.print(
        f"wrote {out} ({chosen}, {moment(window['from'])} to {moment(window['to'])} UTC)",
        highlight=False,
        soft_wrap=True,
    )


def register(app: typer.Typer) -> None:
    app.add_typer(report_app, name="report")
