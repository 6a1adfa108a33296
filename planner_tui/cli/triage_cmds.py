"""CLI commands: the exception inbox and its triage (the console's inbox panel, from a shell)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table as RichTable
from rich.text import Text

from planner_tui.cli.common import (
    AsOfOption,
    AtOption,
    DbOption,
    JsonOption,
    ServerOption,
    SnapshotOption,
    StoodAtOption,
    emit_json,
    open_plant,
    parse_as_of,
    parse_at,
    short_time,
    short_times_in,
    stamp,
    stdout,
    stood,
    table,
)
from planner_tui.errors import BadRequest
from planner_tui.present import SEVERITY_STYLE, STATUS_STYLE, duration, earlier_occurrence
from planner_tui.store.kinds import EXCEPTION_KINDS
from planner_tui.timeutil import iso, resolve_now

WhoOption = Annotated[
    Optional[str], typer.Option("--who", help="Record the action as this person (default: the OS user).")
]
ActionAtOption = Annotated[
    Optional[str], typer.Option("--at", help="Record the action at this ISO 8601 time (default: now).")
]
_EXAMPLE = next(f"{kind}:{subject.example}" for kind, subject in EXCEPTION_KINDS.items())
IdArgument = Annotated[str, typer.Argument(help=f"The exception id, e.g. {_EXAMPLE} (see `planner-tui exceptions`).")]


def _status_text(row: dict) -> Text:
    status = row["status"]
    text = Text(status, style=STATUS_STYLE.get(status, ""))
    if status == "snoozed" and row.get("snoozed_until"):
        text.append(f" until {iso(row['snoozed_until'])}")
    if row.get("cause_cleared"):
        text.append(", cleared", style="green")
    return text


# ------------------------------------------------------------------------------------------ exceptions


TABLE_LIMIT = 100  # rows a terminal table shows unless --limit says otherwise


def exceptions(
    at: AtOption = None,
    as_of: AsOfOption = None,
    all_: Annotated[bool, typer.Option("--all", help="Also list snoozed and resolved exceptions.")] = False,
    kind: Annotated[
        Optional[list[str]],
        typer.Option(
            "--kind",
            help=f"Only this kind (repeatable): {', '.join(EXCEPTION_KINDS)} (see `planner-tui exception kinds`).",
        ),
    ] = None,
    limit: Annotated[
        Optional[int],
        typer.Option(
            "--limit",
            help=f"Show at most N, worst first (0: all). Default: {TABLE_LIMIT} in the table, all with --json.",
            min=0,
        ),
    ] = None,
    db: DbOption = None,
    snapshot: SnapshotOption = None,
    server: ServerOption = None,
    as_json: JsonOption = False,
) -> None:
    """The exception inbox, worst first: machine stops, quality holds, shortages, late and unsupplied
    customer lines, with severity, age, owner and triage status. A kind that could not be checked (a
    loop in the plant data) is said after the table; the others are still listed."""
    past = parse_as_of(as_of, at)
    now = past or resolve_now(at)
    with open_plant(db, snapshot, server) as plant:
        answer = plant.exceptions(at=now, include_resolved=all_, include_snoozed=all_, kinds=kind or None, as_of=past)
    rows, total, problems = answer["exceptions"], answer["total"], answer["problems"]
    if limit is None and not as_json:
        limit = TABLE_LIMIT
    if limit:
        rows = rows[:limit]
    if as_json:
        emit_json({**answer, "exceptions": rows})
        return
    if not rows:
        stdout.print(f"No open exceptions {'as the plant stood at' if past else 'as of'} {iso(now)}.")
        _print_problems(problems)
        return
    shown = f"{total}" if len(rows) == total else f"{len(rows)} worst of {total}"
    # The exception's text is what a planner reads: it gets the width; the rest stays on one line.
    inbox = table(f"Exceptions {'as the plant stood at' if past else 'as of'} {iso(now)}: {shown}")
    inbox.add_column("severity", no_wrap=True)
    inbox.add_column("age", justify="right", no_wrap=True)
    inbox.add_column("exception", ratio=1, min_width=26)
    inbox.add_column("status", no_wrap=True, max_width=12, overflow="ellipsis")
    inbox.add_column("owner", no_wrap=True, max_width=16, overflow="ellipsis")
    for row in rows:
        owner = row["assignee"] or row["owner"] or ""
        what = Text(row["title"])
        what.append(f"\n{row['exception_id']}", style="dim")
        if row.get("cleared_note"):
            what.append(f"  cleared: {row['cleared_note']}", style="green")
        inbox.add_row(
            Text(
                row["severity"].upper() if row["severity"] == "critical" else row["severity"],
                style=SEVERITY_STYLE.get(row["severity"], ""),
            ),
            duration(row["age_minutes"], unknown=""),
            what,
            _status_text(row),
            owner,
        )
    stdout.print(inbox)
    if len(rows) < total:
        stdout.print(
            f"... and {total - len(rows)} more: --limit 0 shows all, --kind narrows, --json for scripts.",
            highlight=False,
        )
    _print_problems(problems)


def _print_problems(problems: list[str]) -> None:
    """What could not be checked, one line each (the inbox lacks those kinds)."""
    for problem in problems:
        stdout.print(Text(f"not checked: {problem}", style="yellow"))


# ------------------------------------------------------------------------------------- exception show

exception_app = typer.Typer(
    help="One exception: its detail and history; and the kinds of exception.", no_args_is_help=True
)


@exception_app.command("show")
def show(
    exception_id: IdArgument,
    at: AtOption = None,
    db: DbOption = None,
    snapshot: SnapshotOption = None,
    server: ServerOption = None,
    as_json: JsonOption = False,
) -> None:
    """An exception's detail and history: the events that raised or cleared it, every triage action and
    who was told (each notification and whether it was delivered)."""
    with open_plant(db, snapshot, server) as plant:
        row = plant.exception(exception_id, at=resolve_now(at))
    if as_json:
        emit_json(row)
        return
    stdout.print(Text.assemble((row["title"], "bold"), "\n", (row["exception_id"], "dim")))
    facts = [
        ("severity", row["severity"]),
        ("status", _status_text(row)),
        ("owner", row["owner"] or "-"),
        ("assignee", row["assignee"] or "-"),
        ("raised", f"{stamp(row['raised_at'])} ({duration(row['age_minutes'])} ago)" if row["raised_at"] else "-"),
    ]
    if row.get("first_detected_at") and row["first_detected_at"] != row["raised_at"]:
        facts.append(("first detected", stamp(row["first_detected_at"])))
    earlier = earlier_occurrence(row.get("previous_occurrence"))
    if earlier:
        facts.append(("earlier", earlier))
    if row["cause_cleared"]:
        facts.append(("cleared", Text(row["cleared_note"] or "yes", style="green")))
    for key, value in row["detail"].items():
        if value not in (None, "", [], {}):
            facts.append((key.replace("_", " "), stamp(value) if hasattr(value, "isoformat") else str(value)))
    grid = RichTable.grid(padding=(0, 2))
    grid.add_column(style="dim", no_wrap=True)
    grid.add_column()
    for key, value in facts:
        grid.add_row(key, value)
    stdout.print(grid)
    stdout.print()
    if not row["history"]:
        stdout.print("No history yet.")
        return
    history = table("History")
    history.add_column("when", no_wrap=True)
    history.add_column("who / source", no_wrap=True, max_width=18, overflow="ellipsis")
    history.add_column("what", ratio=1, min_width=30)
    for entry in row["history"]:
        if entry["kind"] == "triage":
            what = entry["action"] + (f": {entry['detail']}" if entry["detail"] else "")
            history.add_row(short_time(entry["at"]), entry["who"], short_times_in(what))
        elif entry["kind"] == "delivery":
            history.add_row(short_time(entry["at"]), f"told {entry['person']}", delivery_text(entry))
        else:
            what = entry["summary"] + ("" if entry["outcome"] == "applied" else f" [{entry['outcome']}]")
            history.add_row(
                short_time(entry["at"]),
                f"event {_source_name(entry['source'])}",
                Text(short_times_in(what), style="cyan"),
            )
    stdout.print(history)


@exception_app.command("kinds")
def kinds_cmd(server: ServerOption = None, as_json: JsonOption = False) -> None:
    """The kinds of exception: what raises each, its severities and who owns it."""
    from planner_tui.settings import current

    if server is None and current().server is None:
        from planner_tui.engine.exceptions import exception_kinds

        described = exception_kinds()  # this version's kinds: no database needed
    else:
        with open_plant(None, None, server) as plant:
            described = plant.exception_kinds()
    if as_json:
        emit_json(described)
        return
    listing = table(f"Exception kinds: {len(described)}")
    listing.add_column("kind", no_wrap=True)
    listing.add_column("raised while", ratio=1, min_width=24)
    listing.add_column("owner", no_wrap=True, max_width=18, overflow="ellipsis")
    for k in described:
        what = Text(k["raised_while"])
        what.append(f"\nseverity: {k['severities']}\ne.g. {k['example']}", style="dim")
        listing.add_row(k["kind"], what, k["owner_role"] or "-")
    stdout.print(listing)


def delivery_text(entry: dict) -> Text:
    """A delivery in a history: the reason, the channel, and whether it got there."""
    state = str(entry.get("state") or "")
    text = Text(f"{entry.get('reason')} by {entry.get('channel')}: ")
    style = {"delivered": "green", "failed": "bold red"}.get(state, "yellow")
    text.append(state, style=style)
    attempts = entry.get("attempts") or 0
    if attempts and (state != "delivered" or attempts > 1):
        text.append(f" after {attempts} attempt{'' if attempts == 1 else 's'}")
    if entry.get("last_error") and state != "delivered":
        text.append(f" ({entry['last_error']})", style="dim")
    return text


def _source_name(source: str | None) -> str:
    """urn:plant:nordhavn-aar:mes -> mes: a source's last part names the system; --json has it whole."""
    return (source or "?").rstrip(":/").replace("/", ":").rsplit(":", 1)[-1] or (source or "?")


# --------------------------------------------------------------------------------------------- triage

triage_app = typer.Typer(
    help="Triage an exception: ack, assign, note, snooze, resolve, reopen (recorded with who and when).",
    no_args_is_help=True,
)


def _act(
    verb: str,
    action: str,
    exception_id: str,
    *args: str,
    db: Path | None,
    server: str | None,
    who: str | None,
    at: str | None,
    as_json: bool,
    **options: object,
) -> None:
    """`action` (a PlantData triage method) on the plant, then one line (or its --json) saying so."""
    when = parse_at(at)
    with open_plant(db, None, server, read_only=False) as plant:
        from planner_tui.access.local import LocalPlant

        if (who is not None or at is not None) and not isinstance(plant, LocalPlant):
            raise BadRequest(
                "--who and --at cannot be used with --server: the server records who acted (from your login "
                "or token) and when (its clock)"
            )
        state = getattr(plant, action)(exception_id, *args, who=who, at=when, **options)
    if as_json:
        emit_json(state)
        return
    action_done = state["last_action"] or {}
    line = (
        f"{state['exception_id']}: {verb} by {action_done.get('who')} at {iso(action_done.get('at'))}; "
        f"now {state['status']}"
    )
    if state["assignee"]:
        line += f", assigned to {state['assignee']}"
    if state["status"] == "snoozed":
        line += f" until {iso(state['snoozed_until'])}"
    stdout.print(line, highlight=False, markup=False, soft_wrap=True)


@triage_app.command("ack")
def ack(
    exception_id: IdArgument,
    db: DbOption = None,
    server: ServerOption = None,
    who: WhoOption = None,
    at: ActionAtOption = None,
    as_json: JsonOption = False,
) -> None:
    """Acknowledge: someone has seen it and is on it."""
    _act("acknowledged", "acknowledge", exception_id, db=db, server=server, who=who, at=at, as_json=as_json)


@triage_app.command("assign")
def assign_cmd(
    exception_id: IdArgument,
    person: Annotated[str, typer.Argument(help="Who takes it (see `planner-tui owners`).")],
    new_person: Annotated[
        bool,
        typer.Option("--new-person", help="Assign someone not yet known (not among `planner-tui owners`)."),
    ] = False,
    db: DbOption = None,
    server: ServerOption = None,
    who: WhoOption = None,
    at: ActionAtOption = None,
    as_json: JsonOption = False,
) -> None:
    """Assign it to a person: one of `planner-tui owners` or a server user, or anyone with --new-person."""
    _act(
        f"assigned to {person.strip()}",
        "assign",
        exception_id,
        person,
        new_person=new_person,
        db=db,
        server=server,
        who=who,
        at=at,
        as_json=as_json,
    )


@triage_app.command("note")
def note(
    exception_id: IdArgument,
    text: Annotated[str, typer.Argument(help="The note (quote it).")],
    db: DbOption = None,
    server: ServerOption = None,
    who: WhoOption = None,
    at: ActionAtOption = None,
    as_json: JsonOption = False,
) -> None:
    """Add a note to its history."""
    _act("note added", "note", exception_id, text, db=db, server=server, who=who, at=at, as_json=as_json)


@triage_app.command("snooze")
def snooze_cmd(
    exception_id: IdArgument,
    until: Annotated[str, typer.Argument(help="Until when: an ISO 8601 time, or a duration such as 30m, 2h, 1d.")],
    db: DbOption = None,
    server: ServerOption = None,
    who: WhoOption = None,
    at: ActionAtOption = None,
    as_json: JsonOption = False,
) -> None:
    """Hide it until a time; it comes back open after that."""
    _act("snoozed", "snooze", exception_id, until, db=db, server=server, who=who, at=at, as_json=as_json)


@triage_app.command("resolve")
def resolve_cmd(
    exception_id: IdArgument,
    reason: Annotated[
        Optional[str], typer.Option("--reason", help="Why it is done (kept in its history, like a note).")
    ] = None,
    db: DbOption = None,
    server: ServerOption = None,
    who: WhoOption = None,
    at: ActionAtOption = None,
    as_json: JsonOption = False,
) -> None:
    """Resolve it: it leaves the inbox (see it again with `exceptions --all`)."""
    _act("resolved", "resolve", exception_id, db=db, server=server, who=who, at=at, as_json=as_json, reason=reason)


@triage_app.command("reopen")
def reopen_cmd(
    exception_id: IdArgument,
    db: DbOption = None,
    server: ServerOption = None,
    who: WhoOption = None,
    at: ActionAtOption = None,
    as_json: JsonOption = False,
) -> None:
    """Reopen it after a resolve, an acknowledge or a snooze."""
    _act("reopened", "reopen", exception_id, db=db, server=server, who=who, at=at, as_json=as_json)


# --------------------------------------------------------------------------------------------- owners


def owners(
    at: StoodAtOption = None,
    db: DbOption = None,
    snapshot: SnapshotOption = None,
    server: ServerOption = None,
    as_json: JsonOption = False,
) -> None:
    """The plant's people an exception can be assigned to, with their roles."""
    when = parse_at(at)
    with open_plant(db, snapshot, server) as plant:
        people = plant.owners(at=when)
    if as_json:
        emit_json(people)
        return
    listing = table(f"Owners{stood(when)}: {len(people)}")
    listing.add_column("person", no_wrap=True)
    listing.add_column("roles", ratio=1, min_width=20)
    for p in people:
        listing.add_row(p["person"], ", ".join(p["roles"]))
    stdout.print(listing)


def register(app: typer.Typer) -> None:
    app.command("exceptions")(exceptions)
    app.add_typer(exception_app, name="exception")
    app.add_typer(triage_app, name="triage")
    app.command("owners")(owners)
