"""feed_stale:<feed>: a live feed the plant follows is stale (the console follows one; the CLI none).

Severity: high. Owner: none. The feeds come in the Context (`feed_status`: a FeedStatus, several, or
None), read by attribute so any object with `feed`, `state`, `since` and `last_error` will do.
"""

from __future__ import annotations

from planner_tui.engine.exceptions.base import Context, ExceptionKind, Row, clock, exception_row
from planner_tui.timeutil import as_datetime

STALE_FEED_STATES = ("stale", "dead", "down", "error", "failed")


def _state(feed_status: object) -> str:
    state = getattr(feed_status, "state", None)
    state = getattr(state, "value", state)  # an Enum or a plain string
    return str(state or "").strip().lower().replace(" ", "_")


def _name(feed_status: object) -> str:
    return str(getattr(feed_status, "feed", None) or "feed")


def _statuses(feed_status: object | None) -> list[object]:
    """One FeedStatus, several (a console following more than one feed), or none."""
    if feed_status is None:
        return []
    if isinstance(feed_status, (list, tuple, set)):
        return [s for s in feed_status if s is not None]
    return [feed_status]


def detect(ctx: Context, only: str | None = None) -> list[Row]:
    out = []
    for status in _statuses(ctx.feed_status):
        if _state(status) not in STALE_FEED_STATES:
            continue
        feed = _name(status)
        if only is not None and feed != only:
            continue
        since = as_datetime(getattr(status, "since", None))
        error = getattr(status, "last_error", None)
        title = f"Feed {feed} stale" + (f" since {clock(since, ctx.at)}" if since else "")
        if error:
            title += f": {error}"
        out.append(
            exception_row(
                "feed_stale",
                feed,
                severity="high",
                title=title,
                raised_at=since or ctx.at,
                owner=None,
                detail={"feed": feed, "state": _state(status), "since": since, "last_error": error},
                at=ctx.at,
            )
        )
    return out


def cleared_note(ctx: Context, feed: str) -> str:
    for status in _statuses(ctx.feed_status):
        if _name(status) == feed:
            return f"feed {_state(status).replace('_', ' ')} again"
    return "feed not followed here"  # e.g. the CLI, which runs no feed: nothing says it is still stale


KIND = ExceptionKind(
    name="feed_stale",
    words="stale feed",
    rank=10,  # first among equals: while the feed is stale, everything else may be out of date
    raised_while="the live feed is stale (console only)",
    severities="high",
    detect=detect,
    cleared_note=cleared_note,
    true_start=True,  # a feed that goes stale again after a resolve is a new occurrence
)
