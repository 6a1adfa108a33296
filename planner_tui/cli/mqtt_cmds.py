"""CLI commands for MQTT: `feed publish`, replaying a scenario into a broker (the feed itself is
`events pull mqtt://...`, through open_feed)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from planner_tui.cli.common import stdout
from planner_tui.cli.event_cmds import feed_app
from planner_tui.present import seconds


@feed_app.command("publish")
def publish(
    scenario: Annotated[
        Path, typer.Argument(help="The scripted events, a JSON Lines file (sample_data/scenario.jsonl).")
    ],
    url: Annotated[
        str,
        typer.Argument(
            help="mqtt://HOST[:PORT]/TOPIC or mqtts://...; {type} in the topic becomes each event's type "
            "(plant/events/{type}), else every event goes to that one topic."
        ),
    ],
    speed: Annotated[
        float, typer.Option("--speed", help="Replay speed: 60 plays an hour in a minute.", min=0.001)
    ] = 1.0,
    binary: Annotated[
        bool, typer.Option("--binary", help="CloudEvents binary mode: attributes as MQTT 5 user properties.")
    ] = False,
    qos: Annotated[int, typer.Option("--qos", help="MQTT QoS of each message.", min=0, max=2)] = 1,
    restamp: Annotated[bool, typer.Option("--restamp", help="Publish each event with time = when it is sent.")] = False,
    timeout: Annotated[
        float, typer.Option("--timeout", help="Seconds to wait for the broker to answer or confirm.", min=0.1)
    ] = 10.0,
) -> None:
    """Replay a scenario's events into an MQTT broker, at their scripted pace, so a planner_tui following the
    broker (`events pull --follow mqtt://...`, `serve --events mqtt://...`) sees them arrive."""
    from planner_tui.feeds.mqtt import parse_url, publish_events
    from planner_tui.feeds.server import read_script, release_offsets
    from planner_tui.timeutil import utcnow

    events = read_script(scenario)
    shown = parse_url(url).shown
    offsets = release_offsets(events, speed)
    stdout.print(
        f"publishing {len(events)} events to {shown} over {seconds(offsets[-1] if offsets else 0.0)} "
        f"({'binary' if binary else 'structured'}, QoS {qos}); Ctrl-C to stop",
        highlight=False,
    )
    started = time.monotonic()
    try:
        count = publish_events(
            url,
            events,
            offsets=offsets,
            binary=binary,
            qos=qos,
            restamp=utcnow if restamp else None,
            timeout=timeout,
        )
    except KeyboardInterrupt:
        stdout.print("stopped", highlight=False)
        return
    stdout.print(f"published {count} events in {seconds(time.monotonic() - started)}", highlight=False)


def register(app: typer.Typer) -> None:
    """Nothing to add: `feed publish` hangs on event_cmds' `feed` group, which event_cmds registers."""
