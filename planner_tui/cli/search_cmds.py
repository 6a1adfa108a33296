"""CLI command `find`: any machine, order, lot, item, customer or shipment by id or name (the console's ctrl+p)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer
from rich.markup import escape

from planner_tui.cli.common import (
    ID,
    TEXT,
    DbOption,
    JsonOption,
    ServerOption,
    SnapshotOption,
    StoodAtOption,
    emit_json,
    open_plant,
    parse_at,
    stdout,
    stood,
    table,
)
from planner_tui.engine.search import KINDS

WordsArgument = Annotated[
    Optional[list[str]],
    typer.Argument(
        help="Words that must all occur in the id or the label, any case. None: where to start "
        "(stopped machines and active holds)."
    ),
]
KindOption = Annotated[
    Optional[list[str]],
    typer.Option("--kind", "-k", help=f"Only this kind (repeatable): {', '.join(KINDS)}."),
]
LimitOption = Annotated[int, typer.Option("--limit", "-n", help="At most this many answers.")]


def find_cmd(
    words: WordsArgument = None,
    kind: KindOption = None,
    limit: LimitOption = 20,
    at: StoodAtOption = None,
    json: JsonOption = False,
    db: DbOption = None,
    snapshot: SnapshotOption = None,
    server: ServerOption = None,
) -> None:
    """Find anything a planner can go to by id or name: the exact id first, then ids starting with a word,
    ids containing one, then names and other labels. Sales order lines are SO/line."""
    text = " ".join(words or [])
    when = parse_at(at)
    with open_plant(db, snapshot, server) as plant:
        if text.strip():
            result = plant.find(text, kind=kind or None, limit=limit, at=when)
        else:
            result = plant.starting_points(kind=kind or None, limit=limit, at=when)
    if json:
        emit_json(result)
        return
    if not result:
        stdout.print(f"Nothing matches {text!r}." if text.strip() else "No machine is stopped and no hold active.")
        return
    title = (f"Matching {text!r}" if text.strip() else "Where to start: stopped machines, active holds") + stood(when)
    hits = table(title, ("kind", ID), ("id", {**ID, "style": "bold"}), ("label", TEXT))
    for hit in result:
        hits.add_row(hit["kind"].replace("_", " "), escape(hit["id"]), escape(hit["label"] or ""))
    stdout.print(hits)


def register(app: typer.Typer) -> None:
    app.command("find")(find_cmd)
