"""Time in planner_tui: naive datetimes in UTC everywhere (the contract: no offset means UTC)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from planner_tui.errors import BadRequest


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def parse_timestamp(text: str | datetime | date, *, what: str = "timestamp") -> datetime:
    """Parse ISO 8601; an offset is converted to UTC, no offset means UTC. A date means its midnight."""
    if isinstance(text, datetime):
        value = text
    elif isinstance(text, date):
        return datetime(text.year, text.month, text.day)
    else:
        raw = str(text).strip()
        try:
            value = datetime.fromisoformat(raw.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise BadRequest(
                f"malformed {what} {raw!r}: expected ISO 8601, e.g. 2026-11-25T08:00:00 or 2026-11-25T08:00:00+01:00"
            ) from None
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


def resolve_now(at: str | datetime | None) -> datetime:
    """`--at` pins "now"; without it, the real clock."""
    return utcnow() if at is None else parse_timestamp(at, what="--at timestamp")


def iso(value: datetime | date | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    return value.isoformat()


class ReplayClock:
    """A clock that starts at `start` and runs `speed` times faster than real time.

    The demo replays a scripted morning on the floor: the console, the feed poller and the event
    history all read this clock, so the story's times, ages and lags agree with each other.
    """

    def __init__(self, start: datetime, speed: float = 1.0):
        import time

        self.start = start
        self.speed = speed
        self._monotonic = time.monotonic
        self._origin = time.monotonic()

    def __call__(self) -> datetime:
        from datetime import timedelta

        elapsed = (self._monotonic() - self._origin) * self.speed
        return self.start + timedelta(seconds=elapsed)


def as_datetime(value: object) -> datetime | None:
    """A datetime from what the engine or the store hands over (datetime, date, ISO text); None when
    empty or unreadable: for display and ordering, where a missing time must not stop the screen."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    try:
        return parse_timestamp(str(value))
    except BadRequest:
        return None
