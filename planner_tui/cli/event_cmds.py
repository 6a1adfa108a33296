"""CLI commands for live events: `events pull|list|lag` and `feed serve`."""

from __future__ import annotations

import json as jsonlib
import time
from pathlib import Path
from typing import Annotated, Optional

import typer

from planner_tui.cli.common import (
    ID,
    NUMBER,
    DbOption,
    JsonOption,
    ServerOption,
    SnapshotOption,
    StoodAtOption,
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
from planner_tui.present import seconds
from planner_tui.store import Store
from planner_tui.timeutil import iso, parse_timestamp
from planner_tui.urls import redact_url

events_app = typer.Typer(
    help="Live events: pull a CloudEvents feed into the database, list the history, show the lag.",
    no_args_is_help=True,
)
feed_app = typer.Typer(help="The scenario feed server (a snapshot plus a scripted event feed).", no_args_is_help=True)

# How long `events pull` (without --follow) may keep polling a feed that always has more.
PULL_MAX_SECONDS = 120.0


def _counts_line(result) -> str:
    if result is None:
        return "applied 0, duplicates 0, rejected 0, unknown 0"
    lag = result.lag_summary()
    text = (
        f"applied {result.applied}, duplicates {result.duplicates}, rejected {result.rejected}, "
        f"unknown {result.unknown}"
    )
    if lag["count"]:
        text += f"; lag p50 {seconds(lag['p50'])}, max {seconds(lag['max'])}"
    return text


@events_app.command("pull")
def pull(
    source: Annotated[
        str,
        typer.Argument(
            help="A .jsonl event file, an http(s) feed URL, or an mqtt(s)://HOST[:PORT]/TOPIC-FILTER broker."
        ),
    ],
    db: Annotated[Path, typer.Option("--db", help="The planner_tui DuckDB file to apply the events to.")],
    follow: Annotated[bool, typer.Option("--follow", help="Keep polling until Ctrl-C.")] = False,
    poll: Annotated[float, typer.Option("--poll", help="Seconds between polls with --follow.", min=0.05)] = 1.0,
    timeout: Annotated[float, typer.Option("--timeout", help="HTTP timeout per request, seconds.", min=0.01)] = 2.0,
    retries: Annotated[int, typer.Option("--retries", help="Retries on connection errors and 5xx.", min=0)] = 2,
    max_time: Annotated[
        float,
        typer.Option(
            "--max-time", help="Without --follow: stop after this many seconds even if the feed has more.", min=0.1
        ),
    ] = PULL_MAX_SECONDS,
    json: JsonOption = False,
) -> None:
    """Apply everything the feed has now (resuming where the last pull stopped), then exit.

    Exits non-zero with the reason when the feed is dead or misbehaving; what was applied before the
    trouble stays applied, and the next pull resumes after it.
    """
    from planner_tui.feeds.base import STALE, FeedUnavailable
    from planner_tui.feeds.poller import open_feed

    shown = redact_url(source)
    with Store.open(db, create=False) as store, open_feed(store, source, timeout=timeout, retries=retries) as feed:
        if not follow:
            outcome = _pull_all(feed, max_seconds=max_time)
            _report(outcome, json=json, quiet_when_empty=False)
            if outcome.status.state == STALE:
                raise FeedUnavailable(f"feed {shown}: {outcome.status.last_error}")
            return
        if not json:
            stderr.print(f"following {shown} every {poll:g} s (Ctrl-C to stop)", highlight=False)
        last_state = None
        try:
            while True:
                started = time.monotonic()
                outcome = feed.poll_once()
                changed_state = outcome.status.describe() != last_state
                last_state = outcome.status.describe()
                if json:
                    if outcome.applied or outcome.result and outcome.result.received or changed_state:
                        emit_json_line(outcome)
                elif outcome.result and outcome.result.received or changed_state:
                    _report(outcome, json=False, quiet_when_empty=True)
                # An MQTT poll waits for messages itself: ask again at once (unless the broker is away).
                if not getattr(feed, "listens", False) or outcome.status.state == STALE:
                    time.sleep(max(0.0, poll - (time.monotonic() - started)))
        except KeyboardInterrupt:
            return


def _pull_all(feed, *, max_seconds: float = PULL_MAX_SECONDS):
    """Poll until the feed has nothing more of what it held when the pull began: one poll may stop
    early (a server capping its pages below our limit, or the per-poll cap), so ask again while polls
    bring events or say catching up. A feed that keeps producing would keep that going forever, so it
    also stops once the feed's high-water mark at the start is reached (a file's length then; for HTTP,
    events stamped at or after the start) and, in any case, after `max_seconds` (then the status says
    catching up). Stops on an empty or stale poll; the outcome carries every poll's counts and the
    last status."""
    from dataclasses import replace

    from planner_tui.feeds.base import CATCHING_UP, STALE, PollResult

    deadline = time.monotonic() + max_seconds
    mark = feed.high_water()
    total = None
    while True:
        outcome = feed.poll_once()
        if outcome.result is not None:
            total = outcome.result if total is None else total.merge(outcome.result)
        brought = outcome.result is not None and outcome.result.received > 0
        status = outcome.status
        done = status.state == STALE or not (brought or status.state == CATCHING_UP) or feed.reached(mark)
        if not done and time.monotonic() >= deadline:
            done = True
            status = replace(status, state=CATCHING_UP)  # stopped with more to read: say so
        if done:
            return PollResult(applied=total.applied if total else 0, result=total, status=status)


def _payload(outcome) -> dict:
    from planner_tui.store.events import ApplyResult

    result = outcome.result or ApplyResult(last_sequence=outcome.status.last_sequence)  # nothing new
    return {"status": outcome.status.to_dict(), "result": result.to_dict()}


def emit_json_line(outcome) -> None:
    """One compact JSON object per line, for `--follow --json` (a stream of polls)."""
    from planner_tui.cli.common import to_json

    typer.echo(jsonlib.dumps(jsonlib.loads(to_json(_payload(outcome)))))


def _report(outcome, *, json: bool, quiet_when_empty: bool) -> None:
    status, result = outcome.status, outcome.result
    if json:
        emit_json(_payload(outcome))
        return
    stamp = iso(status.last_poll_at) or ""
    stdout.print(
        f"{stamp} {status.describe()}: {_counts_line(result)}; cursor {status.last_sequence}",
        highlight=False,
        soft_wrap=True,
    )
    if result is not None:
        for event_id, reason in result.rejections[:20]:
            stdout.print(f"  rejected {event_id}: {reason}", highlight=False, soft_wrap=True)
        if len(result.rejections) > 20:
            stdout.print(
                f"  ... and {len(result.rejections) - 20} more rejected (see `planner-tui events list`)",
                highlight=False,
            )


def _what(event: dict) -> str:
    if event["outcome"] == "rejected":
        return f"rejected: {event['reason']}"
    if event["outcome"] == "unknown_type":
        return "unknown type: kept, not applied"
    return event["summary"]


@events_app.command("list")
def list_events(
    type_: Annotated[Optional[str], typer.Option("--type", help="An event type, or a prefix like machine.*")] = None,
    since: Annotated[
        Optional[str], typer.Option("--since", help="Only events at or after this time (ISO 8601).")
    ] = None,
    limit: Annotated[Optional[int], typer.Option("--limit", help="Only the most recent N events.", min=1)] = None,
    outcome: Annotated[Optional[str], typer.Option("--outcome", help="applied, rejected or unknown_type.")] = None,
    at: StoodAtOption = None,
    db: DbOption = None,
    snapshot: SnapshotOption = None,
    server: ServerOption = None,
    json: JsonOption = False,
) -> None:
    """The event history: when each event happened, arrived, was applied, and what it changed."""
    since_at = parse_timestamp(since, what="--since timestamp") if since else None
    when = parse_at(at)
    with open_plant(db, snapshot, server) as plant:
        events = plant.event_history(type=type_, since=since_at, limit=limit, outcome=outcome, at=when)
    if json:
        emit_json(events)
        return
    # No outcome column: "what" says rejected or unknown type in words, and the text needs the width.
    # A sequence is the feed's text (a ULID is 26 characters): capped so the description keeps its width.
    history = table(
        None,
        ("seq", {**NUMBER, "max_width": 12, "overflow": "ellipsis"}),
        ("time", ID),
        ("type", ID),
        ("lag", NUMBER),
        ("what", {"ratio": 1, "min_width": 24}),
    )
    for event in events:
        history.add_row(
            event["sequence"] or "",
            short_time(event["time"]),
            event["type"] or "-",
            seconds(event["lag_seconds"]) if event["lag_seconds"] is not None else "",
            short_times_in(_what(event)),
        )
    stdout.print(history)
    stdout.print(f"{len(events)} event(s)" + (f" by {stamp(when)}" if when else ""), highlight=False)


@events_app.command("lag")
def lag(
    since: Annotated[
        Optional[str], typer.Option("--since", help="Only events at or after this time (ISO 8601).")
    ] = None,
    at: StoodAtOption = None,
    db: DbOption = None,
    snapshot: SnapshotOption = None,
    server: ServerOption = None,
    json: JsonOption = False,
) -> None:
    """Event time to applied time of applied events: p50, p95, max (the order-to-production lag)."""
    since_at = parse_timestamp(since, what="--since timestamp") if since else None
    when = parse_at(at)
    with open_plant(db, snapshot, server) as plant:
        stats = plant.event_lag(since=since_at, at=when)
    if json:
        emit_json(stats)
        return
    if not stats["count"]:
        stdout.print("no applied events yet" + (f" by {stamp(when)}" if when else ""), highlight=False)
        return
    stdout.print(
        f"{stats['count']} applied event(s){f' by {stamp(when)}' if when else ''}: lag p50 {seconds(stats['p50'])}, p95 {seconds(stats['p95'])}, "
        f"max {seconds(stats['max'])}, latest {seconds(stats['latest'])}",
        highlight=False,
    )


@feed_app.command("serve")
def serve(
    snapshot_dir: Annotated[Path, typer.Argument(help="The snapshot folder to serve under /snapshot.")],
    events: Annotated[Path, typer.Argument(help="The scripted events, a JSON Lines file.")],
    port: Annotated[int, typer.Option("--port", help="TCP port (0 picks a free one).", min=0, max=65535)] = 8765,
    host: Annotated[str, typer.Option("--host", help="Address to bind; loopback unless told otherwise.")] = "127.0.0.1",
    speed: Annotated[float, typer.Option("--speed", help="Replay speed: 60 plays an hour in a minute.")] = 1.0,
    restamp: Annotated[bool, typer.Option("--restamp", help="Serve each event with time = its release time.")] = False,
    page_size: Annotated[int, typer.Option("--page-size", help="Events per page when no limit is asked.", min=1)] = 100,
) -> None:
    """Serve a snapshot and replay a scripted event file as a live CloudEvents feed, until Ctrl-C."""
    from planner_tui.feeds.server import FeedServer

    server = FeedServer(snapshot_dir, events, host=host, port=port, speed=speed, restamp=restamp, page_size=page_size)
    server.start()
    span = server.offsets[-1] if server.offsets else 0.0
    stdout.print(f"feed:     {server.feed_url}", highlight=False)
    stdout.print(f"snapshot: {server.snapshot_url}", highlight=False)
    stdout.print(
        f"{len(server.events)} events released over {seconds(span)} (speed {speed:g}"
        f"{', restamped' if restamp else ''}); Ctrl-C to stop",
        highlight=False,
    )
    server.serve_forever()
    stdout.print("stopped", highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(events_app, name="events")
    app.add_typer(feed_app, name="feed")
