"""CLI commands: the console (`run`), the one-command demo (`demo`) and the README screenshots."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from planner_tui import settings
from planner_tui.cli.common import (
    AtOption,
    DbOption,
    ServerOption,
    SnapshotOption,
    open_store,
    stderr,
)
from planner_tui.errors import BadRequest, PlannerError, StoreLocked
from planner_tui.store import Store
from planner_tui.timeutil import parse_timestamp
from planner_tui.urls import redact_url

# Flags default to None so that a flag not given leaves the setting (file, PLANNER_TUI_*) in force.
EventsOption = Annotated[
    str | None,
    typer.Option(
        "--events",
        help="The feed to follow: a .jsonl file, an http(s) feed URL or an mqtt(s):// broker and topic filter "
        "(default: the events setting).",
    ),
]
PollOption = Annotated[
    float | None, typer.Option("--poll", min=0.1, help="Seconds between feed polls (default: the poll setting).")
]
ThemeOption = Annotated[
    str | None, typer.Option("--theme", help="A Textual theme, e.g. nord (default: the theme setting).")
]
DEMO_FALLBACK_OWNERS = {"shortage": "Henrik Dahl"}  # the sample plant's buyer of castings
DEMO_POLL_SECONDS = 1.0  # the demo replays a minute a second: poll faster than a plant's 2 s default


def sample_data_dir() -> Path:
    """sample_data/ beside the package (a source checkout)."""
    import planner_tui

    path = Path(planner_tui.__file__).resolve().parents[1] / "sample_data"
    if not (path / "plant").is_dir() or not (path / "scenario.jsonl").is_file():
        raise PlannerError(
            f"the sample plant is missing: expected {path / 'plant'} and {path / 'scenario.jsonl'}. "
            "The demo runs from a source checkout of planner_tui (git clone, then pip install -e .)."
        )
    return path


def run_console(
    store: Store | None,
    *,
    plant=None,
    user: str | None = None,
    at: str | None,
    events: str | None,
    poll: float,
    clock=None,
    in_force: settings.Settings | None = None,
) -> None:
    """Run the console on a store until the planner quits (or the terminal hangs up), then release it.
    `in_force` gives the theme, keymap and log level (default: the settings of this command)."""
    from planner_tui import logs
    from planner_tui.console.app import PlannerApp

    in_force = in_force or settings.current()
    # From here to the end of the screen, logs go to the log file: a line on stderr would corrupt the screen.
    log_path = logs.configure(in_force.log_level, console=True)
    log = logging.getLogger(logs.CONSOLE_LOGGER)
    log.info(
        "console starting: %s, feed %s, settings file %s",
        f"plant server {plant.address}" if plant is not None else f"database {(store and store.path) or 'in memory'}",
        redact_url(events) if events else "none",
        in_force.config_file,
    )
    app = PlannerApp(store, plant=plant, at=at, events=events, poll_seconds=poll, clock=clock, user=user)
    # Textual's own App API, usable before run(): the theme reactive and the binding-id keymap.
    if in_force.theme is not None:
        app.theme = in_force.theme
    if in_force.keymap:
        app.set_keymap(dict(in_force.keymap))
    try:
        app.run()
    finally:
        app.release()
        log.info("console stopped (return code %s)", app.return_code)
        logs.configure(in_force.log_level, console=False)  # the terminal is ours again
    if app.return_code:
        if log_path is not None:
            stderr.print(f"the console's log: {log_path}", highlight=False, markup=False, soft_wrap=True)
        raise typer.Exit(app.return_code)


def _one_feed(in_force: settings.Settings) -> str | None:
    """The feed the console follows: it follows one, so a settings list of several is a choice to make."""
    if len(in_force.events) > 1:
        raise in_force.rejected("events", "the console follows one feed: choose one with --events")
    return in_force.events[0] if in_force.events else None


def run(
    db: DbOption = None,
    snapshot: SnapshotOption = None,
    server: ServerOption = None,
    events: EventsOption = None,
    poll: PollOption = None,
    theme: ThemeOption = None,
    at: AtOption = None,
) -> None:
    """Open the planner console on a database (or a snapshot loaded in memory), following a feed.

    --db, --events, --poll and --theme default to the settings (`planner-tui config show`)."""
    if at is not None:
        parse_timestamp(at, what="--at timestamp")  # a bad --at is a message before the screen opens
    in_force = settings.current().with_flags(db=db, events=(events,) if events else None, poll=poll, theme=theme)
    from planner_tui.console.theme import check_theme  # Textual only for a console or its check

    check_theme(in_force)  # messages before the screen opens
    address = server or (in_force.server if db is None and snapshot is None else None)
    if address is not None:
        if db is not None or snapshot is not None or events is not None:
            raise BadRequest("--server cannot be given with --db, --snapshot or --events: the server owns those")
        from planner_tui.access.remote import connect

        plant = connect(address)
        try:
            me = plant.whoami()  # fails here, before the screen, if the server is away or refuses us
        except BaseException:
            plant.close()
            raise
        run_console(None, plant=plant, user=me["user"], at=at, events=None, poll=in_force.poll, in_force=in_force)
        return
    feed = _one_feed(in_force)
    # --snapshot wins over a db setting (only a --db flag given with it is a conflict).
    store = open_store(in_force.db if snapshot is None else db, snapshot)
    run_console(store, at=at, events=feed, poll=in_force.poll, in_force=in_force)


def _demo_db_path() -> Path:
    """A fresh demo database under the user data folder; a second demo running gets a temp file."""
    import tempfile

    from platformdirs import user_data_dir

    try:
        folder = Path(user_data_dir("planner-tui", appauthor=False))
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        folder = Path(tempfile.mkdtemp(prefix="planner-tui-demo-"))
    path = folder / "demo.duckdb"
    if path.exists():
        try:
            Store.open(path).close()  # in use by another demo? then StoreLocked
        except StoreLocked:
            return Path(tempfile.mkdtemp(prefix="planner-tui-demo-")) / "demo.duckdb"
        except PlannerError:
            pass
        for stale in (path, path.with_name(path.name + ".wal")):
            stale.unlink(missing_ok=True)
    return path


def demo(
    speed: Annotated[
        float, typer.Option("--speed", min=0.1, help="Replay speed of the scenario (60 = a scripted minute a second).")
    ] = 60.0,
    poll: PollOption = None,
    theme: ThemeOption = None,
) -> None:
    """Replay a morning on the sample plant's floor through a live feed and open the console on it.

    Nothing to set up: the feed runs on loopback, and the console's clock is the scenario's, at --speed.
    It keeps its own database and feed (the db and events settings are not used); --poll defaults to 1
    second unless the poll setting is set.
    """
    in_force = settings.current().with_flags(poll=poll, theme=theme)
    if not in_force.fallback_owners:
        # The sample's P-200X names no buyer: as a plant would with [fallback_owners], its shortage goes to
        # a buyer instead of nobody (LocalPlant reads the settings in force).
        in_force = in_force.with_flags(fallback_owners=DEMO_FALLBACK_OWNERS)
        settings.use(in_force)
    poll_seconds = DEMO_POLL_SECONDS if in_force.sources["poll"] == settings.DEFAULT else in_force.poll
    from planner_tui.console.theme import check_theme  # Textual only for a console or its check

    check_theme(in_force)
    from planner_tui.feeds.server import FeedServer
    from planner_tui.store.loader import load_snapshot
    from planner_tui.timeutil import ReplayClock

    sample = sample_data_dir()
    server = FeedServer(sample / "plant", sample / "scenario.jsonl", speed=speed)
    if not server.events:
        raise PlannerError(f"the scenario {sample / 'scenario.jsonl'} holds no events")
    path = _demo_db_path()
    store = Store.open(path)
    try:
        server.start()
        # The console, the poller and the event history read the scenario's clock: the story's times,
        # ages and lags then agree with the plan (a real clock would make a 2026-11-23 plan all overdue).
        clock = ReplayClock(parse_timestamp(server.events[0]["time"], what="scenario time"), speed)
        stderr.print(f"demo: feed on {server.feed_url}, database {path}", highlight=False)
        load_snapshot(store, server.snapshot_url)
    except BaseException:
        store.close()
        server.stop()
        raise
    notifier = _demo_notifier(store, clock, in_force)
    try:
        run_console(store, at=None, events=server.feed_url, poll=poll_seconds, clock=clock, in_force=in_force)
    finally:
        if notifier is not None:
            notifier.stop()
        server.stop()


class _DemoPlant:
    """What the notifier needs of a plant server, for the demo's own store and clock: nothing listens to
    its changes (the console polls its store)."""

    def __init__(self, store: Store, clock: Callable[[], datetime]):
        self.store = store
        self.clock = clock

    def changed(self, what: str, **detail: Any) -> int:
        return 0


def _demo_notifier(store: Store, clock: Callable[[], datetime], in_force: settings.Settings) -> Any:
    """With people given channels in the settings, the demo tells them as a plant server would (it plans
    every second: the scenario's clock runs faster than the wall's); else None."""
    routing = in_force.routing_config()
    if not routing.enabled:
        return None
    from planner_tui.server.notifier import Notifier

    notifier = Notifier(_DemoPlant(store, clock), routing, follow_due=False)
    notifier.start()
    stderr.print("demo: notifications on (the [people] in the settings)", highlight=False)
    return notifier


def screenshots(
    out: Annotated[Path, typer.Option("--out", help="Folder for the SVG files.")] = Path("screenshots"),
) -> None:
    """Write the README's SVG screenshots from the sample scenario at a pinned clock."""
    import asyncio

    from planner_tui.console.screenshots import write_screenshots

    sample = sample_data_dir()
    written = asyncio.run(write_screenshots(sample, out))
    for path in written:
        typer.echo(str(path))


def register(app: typer.Typer) -> None:
    app.command()(run)
    app.command()(demo)
    app.command()(screenshots)
