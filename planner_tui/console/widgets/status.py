"""The main screen's header line and the stale-feed banner. A feed status is PlantData.feed_status's
dict: {feed, state, since, last_error, last_event_at, lag_seconds, ...}; times may be ISO text."""

from __future__ import annotations

from datetime import datetime

from rich.text import Text
from textual.widgets import Static

from planner_tui.access import Record
from planner_tui.present import duration, moment, seconds, short_time

# Named colours, as in planner_tui.present: they read on a 256-colour terminal; the words carry the meaning.
FEED_STYLE = {"live": "bold green", "catching_up": "bold yellow", "starting": "yellow", "stale": "bold white on red"}


def feed_words(status: Record | None, error: str | None = None, disconnected: str | None = None) -> Text:
    """The feed state in words: live / catching up / stale since T; reconnecting to the plant server."""
    if disconnected:
        return Text("server: reconnecting...", style=FEED_STYLE["stale"])
    if error:
        return Text("feed DEAD", style=FEED_STYLE["stale"])
    if status is None:
        return Text("no feed", style="dim")
    state = status.get("state") or "starting"
    if state == "stale":
        return Text(f"feed STALE since {short_time(status.get('since'))}", style=FEED_STYLE["stale"])
    if state == "catching_up":
        return Text("feed catching up", style=FEED_STYLE["catching_up"])
    if state == "live":
        return Text("feed live", style=FEED_STYLE["live"])
    return Text(f"feed {state}", style=FEED_STYLE.get(state, ""))


def lag_words(status: Record | None, lag: Record | None, speed: float = 1.0) -> str:
    """The feed's lag in real seconds: a replay measures it on its own clock, `speed` times faster."""
    if status is None:
        return ""  # without a feed, past lags would only confuse
    value = status.get("lag_seconds")
    if value is None and isinstance(lag, dict):
        for key in ("latest", "p50"):
            if lag.get(key) is not None:
                value = lag[key]
                break
    if value is None:
        return ""
    return f"event lag {seconds(float(value) / (speed or 1.0))}"


class PlantHeader(Static):
    """Plant, clock, feed state, event lag: one line, always on top."""

    DEFAULT_CSS = """
    PlantHeader { height: 1; width: 1fr; background: $primary-background; color: $text; padding: 0 1; }
    """

    def show(
        self,
        *,
        plant: str,
        now: datetime,
        clock_note: str | None,
        status: Record | None,
        lag: Record | None,
        error: str | None,
        events: int | None = None,
        disconnected: str | None = None,
        past: bool = False,
        speed: float = 1.0,
        snapshot_as_of: datetime | None = None,
    ) -> None:
        text = Text()
        if past:  # the time slider: unmistakably not now, in words and colour
            text.append(f"AS OF {moment(now)} UTC", style="bold black on yellow")
        else:
            text.append(moment(now) + " UTC")
        if clock_note:
            text.append(f" ({clock_note})", style="bold" if past else "dim")
        text.append("  |  ")
        text.append_text(feed_words(status, error, disconnected))
        if snapshot_as_of is not None and snapshot_as_of <= now:  # how old the loaded plant is, always in view
            text.append(f"  |  snapshot {duration((now - snapshot_as_of).total_seconds() / 60)} old")
        width = (self.size.width or 120) - 2
        lag_text = lag_words(status, lag, speed)
        if lag_text and text.cell_len + 5 + len(lag_text) <= width:  # whole or not at all: never "event lag" cut short
            text.append(f"  |  {lag_text}")
        # The plant name gives way first: clock, feed state and the snapshot's age must show at 80 columns.
        room = width - text.cell_len - 5
        name = plant if len(plant) <= room else plant[: max(room - 1, 0)] + "…"
        if room >= 4:
            text = Text.assemble((name, "bold"), "  |  ", text)
        self.update(text)


class FeedBanner(Static):
    """Shown only while the feed is stale or dead: what went wrong, and that the data shown is older."""

    DEFAULT_CSS = """
    FeedBanner { height: auto; width: 1fr; background: $error; color: $text; padding: 0 1; display: none; }
    FeedBanner.-shown { display: block; }
    """

    def show(
        self, status: Record | None, error: str | None, disconnected: str | None = None, stale_snapshot: str = ""
    ) -> None:
        state = status.get("state") if status is not None else None
        if disconnected:
            message = (
                f"{disconnected[:1].upper()}{disconnected[1:]}. Showing the last answers; triage is refused "
                "until it is back."
            )
        elif error:
            message = f"Feed DEAD: {error}. Showing the data already in the store."
        elif status is not None and state == "stale":
            last_error = status.get("last_error") or "no answer"
            last = status.get("last_event_at")
            since = short_time(status.get("since"))
            message = f"Feed STALE since {since}: {last_error}. Still retrying; showing data"
            message += f" as of the last event at {short_time(last)}." if last else " already in the store."
        elif stale_snapshot:
            message = stale_snapshot
        else:
            self.set_class(False, "-shown")
            return
        if stale_snapshot and stale_snapshot not in message:
            message += " " + stale_snapshot
        self.update(Text(message, style="bold"))
        self.set_class(True, "-shown")
