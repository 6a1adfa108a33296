"""CLI commands: telling people (issue 12). What the plant server sent and whether it got there
(`notifications`), who an exception would go to and why (`routes test`), and whether the settings'
people, teams, rules and channels can be used (`routes check`). The server plans and delivers
(server/notifier.py); these only read."""

from __future__ import annotations

import logging
from typing import Annotated, Any, Optional

import typer
from rich.text import Text

from planner_tui.cli.common import (
    ID,
    NUMBER,
    AtOption,
    DbOption,
    JsonOption,
    ServerOption,
    SnapshotOption,
    emit_json,
    open_plant,
    parse_at,
    short_time,
    short_times_in,
    stamp,
    stderr,
    stdout,
    table,
)
from planner_tui.cli.triage_cmds import IdArgument
from planner_tui.errors import PlannerError
from planner_tui.present import duration

STATE_STYLE = {"delivered": "green", "failed": "bold red", "pending": "yellow", "sending": "yellow"}
PLANT_ROLES_ONLY = frozenset({"assignee"})  # a role that is not the plant's: assigned once, by someone


# ----------------------------------------------------------------------------------------- notifications


def notifications(
    failed: Annotated[
        bool, typer.Option("--failed", help="Only the messages that failed after the last retry.")
    ] = False,
    exception_id: Annotated[
        Optional[str], typer.Option("--exception", metavar="ID", help="Only the messages about this exception.")
    ] = None,
    db: DbOption = None,
    snapshot: SnapshotOption = None,
    server: ServerOption = None,
    as_json: JsonOption = False,
) -> None:
    """The messages the plant server sent (or is sending), newest first: to whom, by which channel, about
    which exception, why, and whether each was delivered."""
    with open_plant(db, snapshot, server) as plant:
        sent = plant.notifications(failed=failed, exception_id=exception_id)
    if as_json:
        emit_json(sent)
        return
    what = "Failed notifications" if failed else "Notifications"
    if not sent:
        stdout.print(f"{what}: none" + (" failed" if failed else " sent yet") + ".")
        return
    # Two lines a message, so every column fits 80: person over channel, exception over reason, the state
    # and attempts over the last error.
    listing = table(
        f"{what}: {len(sent)}",
        ("when", ID),
        ("person / channel", {"no_wrap": True, "max_width": 22, "overflow": "ellipsis"}),
        ("exception / reason", {"no_wrap": True, "max_width": 26, "overflow": "ellipsis"}),
        ("delivery / last error", {"ratio": 1, "min_width": 16, "overflow": "fold"}),
    )
    for d in sent:
        state = Text(d["state"], style=STATE_STYLE.get(d["state"], ""))
        attempts = d["attempts"] or 0
        state.append(f", {attempts} attempt{'' if attempts == 1 else 's'}")
        if d["last_error"]:
            state.append(f"\n{d['last_error']}", style="dim")
        listing.add_row(
            short_time(d["delivered_at"] or d["created_at"]),
            Text.assemble(d["person"], "\n", (d["channel"], "dim")),
            Text.assemble(d["exception_id"], "\n", (d["reason"], "dim")),
            state,
        )
    stdout.print(listing)


# ----------------------------------------------------------------------------------------------- routes

routes_app = typer.Typer(
    help="Who is told what: try the routing on an exception, check the settings' people, teams and rules.",
    no_args_is_help=True,
)


@routes_app.command("test")
def test_cmd(
    exception_id: IdArgument,
    at: AtOption = None,
    db: DbOption = None,
    snapshot: SnapshotOption = None,
    server: ServerOption = None,
    as_json: JsonOption = False,
) -> None:
    """Who would be told about an exception now and why, by which channels, and the message; sends nothing.

    Also the escalation levels that match it and when each falls due. Through --server, by the server's
    own settings."""
    with open_plant(db, snapshot, server) as plant:
        answer = plant.route_test(exception_id, at=parse_at(at))
    if as_json:
        emit_json(answer)
        return
    _print_route_test(answer)


def _print_route_test(answer: dict) -> None:
    stdout.print(Text.assemble((str(answer["title"]), "bold"), "\n", (str(answer["exception_id"]), "dim")))
    pacing = (
        f"severity {answer['severity']}, status {answer.get('status') or 'open'}; "
        f"group_wait {_seconds(answer['group_wait_seconds'])}, "
        f"repeat_interval {_seconds(answer['repeat_interval_seconds'])}"
    )
    stdout.print(Text(pacing, style="dim"))
    if answer.get("folded_into_stop"):
        stdout.print(
            Text("While a stop is open this line is told in the stop's message, not on its own.", style="yellow")
        )
    recipients = answer["recipients"]
    if not recipients:
        stdout.print("Nobody would be told: no one on its notify list and no routing rule matches.")
    else:
        told = table(
            f"Would be told: {sum(1 for r in recipients if r['sent'])} of {len(recipients)}",
            ("person", {"no_wrap": True, "max_width": 20, "overflow": "ellipsis"}),
            ("channels", {"max_width": 22, "overflow": "fold"}),
            ("why", {"ratio": 1, "min_width": 20}),
        )
        for r in recipients:
            if r["sent"]:
                channels: Text | str = "\n".join(r["channels"])
            elif r["configured_as"] is None:
                channels = Text("not told: no [people] entry", style="yellow")
            else:
                channels = Text("not told: no channel", style="yellow")
            name = Text(r["person"])
            if r["configured_as"] not in (None, r["person"]):
                name.append(f"\nas {r['configured_as']}", style="dim")  # the [people] key they are under
            why = Text("\n".join(short_times_in(w) for w in r["why"]))
            why.append(f"\n({r['via']})", style="dim")
            told.add_row(name, channels, why)
        stdout.print(told)
    if answer["escalation"]:
        levels = table(
            "Escalation, if not acknowledged",
            ("level", NUMBER),
            ("after", {"no_wrap": True}),
            ("due", {"no_wrap": True}),
            ("to", {"ratio": 1, "min_width": 20}),
        )
        for level in answer["escalation"]:
            levels.add_row(
                str(level["level"]),
                duration(level["after_minutes"]),
                stamp(level["due_at"]),
                ", ".join(level["to"]) or "-",
            )
        stdout.print(levels)
    else:
        stdout.print(Text("No escalation level matches it.", style="dim"))
    stdout.print()
    stdout.print(Text("The message, as the first of them would read it:", style="bold"))
    # As it reads: the terminal wraps a long line, nothing is cut or re-flowed.
    stdout.print(Text(f"Subject: {answer['message']['subject']}"), soft_wrap=True)
    stdout.print(Text(answer["message"]["body"]), soft_wrap=True)


def _seconds(value: float) -> str:
    seconds = int(value)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


@routes_app.command("check")
def check_cmd(
    db: DbOption = None,
    snapshot: SnapshotOption = None,
    server: ServerOption = None,
    as_json: JsonOption = False,
) -> None:
    """Check the people, teams, routing rules and escalation of the settings file (exit 2 on a problem).

    Problems, one line each naming the key: unknown people, channels Apprise cannot use (after ${VAR}
    expansion), unset variables, people with no channel. Warnings: with a plant (--db, --server or the
    settings), the plant's people no people entry names. A value that cannot be read at all stops every
    command when the settings load."""
    from planner_tui import settings

    in_force = settings.current()
    routing = in_force.routing_config()
    problems = routing.problems() + _channel_problems(routing)
    warnings: list[str] = []
    unconfigured: list[dict[str, Any]] = []
    named = db is not None or snapshot is not None or server is not None
    people: list[dict[str, Any]] | None = None
    if named or in_force.server or in_force.db:
        try:
            with open_plant(db, snapshot, server) as plant:
                people = plant.owners()
        except PlannerError as error:
            if named:
                raise
            # Only the settings named the plant (the server's own file, its database in use): the settings
            # are still checked.
            warnings.append(f"the plant's people were not compared: {error}")
    elif routing.people:
        warnings.append("the plant's people were not compared: give --db FILE or --server ADDR")
    for p in people or []:
        roles = [r for r in p["roles"] if r not in PLANT_ROLES_ONLY]
        if roles and routing.person(p["person"]) is None:
            unconfigured.append({"person": p["person"], "roles": roles})
            warnings.append(
                f"people: {p['person']} ({', '.join(roles)}) has no [people] entry: the plant server tells them nothing"
            )
    if not routing.people:
        warnings.append("people: no [people] entry: the plant server tells nobody anything")
    where = str(in_force.config_file) if in_force.config_found else None
    if as_json:
        emit_json(
            {
                "settings_file": where,
                "ok": not problems,
                "problems": problems,
                "warnings": warnings,
                "people": len(routing.people),
                "teams": len(routing.teams),
                "rules": len(routing.rules),
                "escalation_levels": len(routing.escalation),
                "unconfigured": unconfigured,
            }
        )
    else:
        prefix = f"{where}: " if where else ""
        for problem in problems:
            stderr.print(Text.assemble(("error:", "bold red"), f" {prefix}{problem}"), soft_wrap=True, highlight=False)
        for warning in warnings:
            stderr.print(Text.assemble(("warning:", "yellow"), f" {prefix}{warning}"), soft_wrap=True, highlight=False)
        counts = ", ".join(
            [
                _count(len(routing.people), "person", "people"),
                _count(len(routing.teams), "team"),
                _count(len(routing.rules), "rule"),
                _count(len(routing.escalation), "escalation level"),
            ]
        )
        verdict = _count(len(problems), "problem") if problems else "fine"
        stdout.print(
            f"routes check: {where or 'no settings file'}: {counts}: {verdict}", highlight=False, soft_wrap=True
        )
    if problems:
        from planner_tui.settings import SettingsError

        raise typer.Exit(SettingsError.exit_code)


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else many or one + 's'}"


def _channel_problems(routing: Any) -> list[str]:
    """Each channel Apprise cannot use, after ${VAR} expansion (an unset variable is one, naming it), and
    each person with none. The message names the key; the URL is shown without its credentials."""
    from planner_tui.routing import RoutingError
    from planner_tui.urls import redact_url

    found = []
    apprise = _apprise()
    for person in routing.people.values():
        place = f"people.{person.key}.notify"
        if not person.channels:
            found.append(f"{place}: no channel: nothing can reach {person.key} (give notify = [Apprise URLs])")
        for i, url in enumerate(person.channels):
            try:
                expanded = routing.expand(url)
            except RoutingError as bad:
                found.append(f"{place}[{i}]: {bad.why} (it is in {redact_url(url)})")
                continue
            if not apprise.Apprise().add(expanded):
                found.append(f"{place}[{i}]: Apprise cannot use {redact_url(url)} (unknown scheme or malformed)")
    return found


def _apprise() -> Any:
    """The apprise module, quiet (it logs every URL it refuses; the check says it once, by key)."""
    import apprise

    logging.getLogger("apprise").setLevel(logging.CRITICAL)
    return apprise


def register(app: typer.Typer) -> None:
    app.command("notifications")(notifications)
    app.add_typer(routes_app, name="routes")
