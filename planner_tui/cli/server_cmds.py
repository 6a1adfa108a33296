"""CLI commands: the plant server (`serve`) and its users (`users add|list|revoke`)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Optional

import typer

from planner_tui import settings
from planner_tui.cli.common import ID, JsonOption, emit_json, stamp, stdout, table
from planner_tui.errors import BadRequest, PlannerError

users_app = typer.Typer(
    help="The plant server's users: a name, a role and a token for TCP clients (as an admin).",
    no_args_is_help=True,
)

ServerAddressOption = Annotated[
    Optional[str],
    typer.Option(
        "--server",
        help="The plant server (unix:PATH, tcp:HOST:PORT or https://HOST:PORT); default: the server setting.",
    ),
]


def serve(
    db: Annotated[
        Optional[Path], typer.Option("--db", help="The database the server owns (default: the db setting).")
    ] = None,
    events: Annotated[
        Optional[list[str]],
        typer.Option(
            "--events",
            help="A feed to follow (repeatable): a .jsonl file, an http(s) URL or an mqtt(s):// broker and topic filter.",
        ),
    ] = None,
    listen: Annotated[
        Optional[list[str]],
        typer.Option(
            "--listen",
            help="Where to listen (repeatable): unix:PATH (default: the database's path + .sock) or tcp:HOST:PORT.",
        ),
    ] = None,
    group: Annotated[
        Optional[str],
        typer.Option("--group", help="Give the Unix socket to this group (mode 0660), so its members connect."),
    ] = None,
    tls_cert: Annotated[Optional[Path], typer.Option("--tls-cert", help="TLS certificate (PEM) for TCP.")] = None,
    tls_key: Annotated[Optional[Path], typer.Option("--tls-key", help="TLS private key (PEM) for TCP.")] = None,
    poll: Annotated[
        Optional[float], typer.Option("--poll", min=0.1, help="Seconds between feed polls (default: the poll setting).")
    ] = None,
) -> None:
    """Serve a plant's database to every console and command: the one process that owns the file,
    follows the feeds, records triage and takes snapshot loads. Logs to stderr; SIGTERM stops it cleanly.

    Clients connect with --server (or PLANNER_TUI_SERVER). See docs/deploy.md."""
    from planner_tui import logs
    from planner_tui.server.core import PlantServer
    from planner_tui.server.listen import serve as run_server
    from planner_tui.store import Store
    from planner_tui.store.sources import max_download_bytes

    in_force = settings.current().with_flags(db=db, events=tuple(events) if events else None, poll=poll)
    if in_force.db is None:
        raise BadRequest("serve needs a database: give --db FILE (or set db: see docs/settings.md)")
    # A server logs what it does: info and above unless the settings or --log-level say otherwise.
    level = in_force.log_level if in_force.sources.get("log_level") != "default" else "info"
    logs.configure(level, console=False)
    logging.getLogger("uvicorn.error").setLevel(logging.WARNING)
    store = Store.open(in_force.db, create=False)
    server = PlantServer(store, events=in_force.events, poll_seconds=in_force.poll, roles=in_force.roles)

    def ready(addresses: list[str]) -> None:
        for address in addresses:
            typer.echo(f"listening on {address}", err=True)

    try:
        run_server(
            server,
            db=in_force.db,
            listen=listen or (),
            group=group,
            tls_cert=tls_cert,
            tls_key=tls_key,
            max_upload_bytes=max_download_bytes(),
            ready=ready,
        )
    except BaseException:
        if not server.hub.closed:  # it never started: the store is still ours to close
            store.close()
        raise


def _remote(server: str | None):
    from planner_tui.access.remote import connect

    address = server or settings.current().server
    if not address:
        raise BadRequest("give --server ADDR (or set PLANNER_TUI_SERVER): users live on the plant server")
    return connect(address)


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="The user's name, as triage records it.")],
    role: Annotated[
        str, typer.Option("--role", help="viewer, planner, admin or ingest (a producer pushing events).")
    ] = "planner",
    source: Annotated[
        Optional[list[str]],
        typer.Option(
            "--source",
            help="With --role ingest: the token may push only events of this CloudEvents source (repeatable); "
            "without it, events of any source.",
        ),
    ] = None,
    server: ServerAddressOption = None,
    json: JsonOption = False,
) -> None:
    """Add a user and print their token once, alone on the last line (only a hash is kept).

    An ingest user is a producer pushing CloudEvents to POST /api/v1/events (docs/api.md); --source holds
    its token to the sources it speaks for."""
    plant = _remote(server)
    try:
        made = plant.add_user(name, role, sources=source or None)
    finally:
        plant.close()
    if json:
        emit_json(made)
        return
    held = f", sources {', '.join(made['sources'])}" if made.get("sources") else ""
    stdout.print(
        f"user {made['name']} ({made['role']}{held}) added; give them this token (PLANNER_TUI_TOKEN), shown only now:",
        highlight=False,
    )
    typer.echo(made["token"])


@users_app.command("list")
def users_list(server: ServerAddressOption = None, json: JsonOption = False) -> None:
    """Every user: role (and the sources an ingest token is held to), who added them and when, revoked or not."""
    plant = _remote(server)
    try:
        people = plant.users()
    finally:
        plant.close()
    if json:
        emit_json(people)
        return
    shown = table(None, ("user", ID), ("role", ID), ("sources", ID), ("added", ID), ("by", ID), ("revoked", ID))
    for person in people:
        sources = person.get("sources")
        shown.add_row(
            person["name"],
            person["role"],
            ", ".join(sources) if sources else ("any" if person["role"] == "ingest" else ""),
            stamp(person["created_at"]),
            person["created_by"],
            stamp(person["revoked_at"]) if person["revoked_at"] else "",
        )
    stdout.print(shown)


@users_app.command("revoke")
def users_revoke(
    name: Annotated[str, typer.Argument(help="The user whose token stops working now.")],
    server: ServerAddressOption = None,
    json: JsonOption = False,
) -> None:
    """Revoke a user's token at once (their past actions keep their name)."""
    plant = _remote(server)
    try:
        revoked = plant.revoke_user(name)
    finally:
        plant.close()
    if json:
        emit_json(revoked)
        return
    stdout.print(f"user {revoked['name']} revoked", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.add_typer(users_app, name="users")


__all__ = ["PlannerError", "register"]
