"""CLI commands: the console (`run`), the one-command demo (`demo`) and the README screenshots."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from planner_tui.cli.common import AtOption, DbOption, SnapshotOption, open_store, stderr
from planner_tui.errors import PlannerError, StoreLocked
from planner_tui.store import Store
from planner_tui.timeutil import parse_timestamp

EventsOption = Annotated[
    Optional[str],
    typer.Option("--events", help="The feed to follow: a .jsonl file or an http(s) feed URL."),
]
PollOption = Annotated[float, typer.Option("--poll", min=0.1, help="Seconds between feed polls.")]


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


def run_console(store: Store, *, at: str | None, events: str | None, poll: float, clock=None) -> None:
    """Run the console on a store until the planner quits (or the terminal hangs up), then release it."""
    from planner_tui.console.app import PlannerApp

    app = PlannerApp(store, at=at, events=events, poll_seconds=poll, clock=clock)
    try:
        app.run()
    finally:
        app.release()
    if app.return_code:
        raise typer.Exit(app.return_code)


def run(
    db: DbOption = None,
    snapshot: SnapshotOption = None,
    events: EventsOption = None,
    poll: PollOption = 2.0,
    at: AtOption = None,
) -> None:
    """Open the planner console on a database (or a snapshot loaded in memory), following a feed."""
    if at is not None:
        parse_timestamp(at, what="--at timestamp")  # a bad --at is a message before the screen opens
    store = open_store(db, snapshot)
    run_console(store, at=at, events=events, poll=poll)


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
    speed: Annotated[float, typer.Option("--speed", min=0.1, help="Replay speed of the scenario (60 = a scripted minute a second).")] = 60.0,
    poll: PollOption = 1.0,
) -> None:
    """Replay a morning on the sample plant's floor through a live feed and open the console on it.

    Nothing to set up: the feed runs on loopback, and the console's clock is the scenario's, at --speed.
    """
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
    try:
        run_console(store, at=None, events=server.feed_url, poll=poll, clock=clock)
    finally:
        server.stop()


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
