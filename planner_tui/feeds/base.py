"""What every feed shares: applying its events in batches, its cursor, and its status (live, catching up,
stale). The kinds are the JSON Lines file feed (file.py) and the HTTP feed (http.py); `open_feed`
(poller.py) picks one for a location.

Both kinds resume from the cursor stored in `feed_cursors` (so a restart neither loses nor repeats
events; the sequence is kept as the feed sent it, opaque text), and `poll_once()` never raises for trouble with the feed: a refused connection, a timeout,
5xx answers, invalid JSON or the wrong content type are recorded in `status` (stale since the first
failure, with the last error), and the store is left as it was. Safe to call from a worker thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from planner_tui.errors import PlannerError
from planner_tui.store import Store
from planner_tui.store.events import ApplyResult, PartlyApplied, apply_events, feed_cursor

LIVE, CATCHING_UP, STALE, STARTING = "live", "catching_up", "stale", "starting"


class FeedUnavailable(PlannerError):
    """The feed could not be read (dead, refusing, timing out, answering nonsense)."""

    exit_code = 7


class _FeedTrouble(Exception):
    """Something wrong with the feed (not the store); the message is what the planner sees."""


class _DeadlinePassed(Exception):
    """A request outlived its wall-clock deadline (retried like a timeout)."""


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass
class FeedStatus:
    """What the console shows about a feed."""

    feed: str
    state: str = STARTING  # "live" | "catching_up" | "stale" | "starting"
    since: datetime | None = None  # when it entered this state (for stale: the first failure)
    last_error: str | None = None
    last_sequence: str | None = None  # the cursor: last sequence applied, as the feed sent it
    last_poll_at: datetime | None = None
    last_event_at: datetime | None = None  # the `time` of the newest event received
    lag_seconds: float | None = None  # event time to applied time of the newest applied event

    def describe(self) -> str:
        if self.state == STALE:
            text = "stale"
            if self.since is not None:
                text += f" since {self.since:%H:%M}"
            if self.last_error:
                text += f" ({self.last_error})"
            return text
        return {LIVE: "live", CATCHING_UP: "catching up", STARTING: "starting"}.get(self.state, self.state)

    def to_dict(self) -> dict:
        return {
            "feed": self.feed,
            "state": self.state,
            "description": self.describe(),
            "since": self.since,
            "last_error": self.last_error,
            "last_sequence": self.last_sequence,
            "last_poll_at": self.last_poll_at,
            "last_event_at": self.last_event_at,
            "lag_seconds": self.lag_seconds,
        }


@dataclass
class PollResult:
    applied: int
    result: ApplyResult | None
    status: FeedStatus

    @property
    def ok(self) -> bool:
        return self.status.state != STALE


@dataclass
class _Progress:
    result: ApplyResult | None = None
    newest_event: datetime | None = None
    more: bool = False  # stopped at the per-poll cap with events still waiting


class Feed:
    """The common part of file and HTTP feeds: applying, the cursor and the status."""

    def __init__(
        self,
        store: Store,
        feed: str,
        *,
        apply_batch: int = 5000,
        max_events_per_poll: int = 50_000,
        clock: Callable[[], datetime] = _now,
    ):
        self.store = store
        self.feed = feed
        self.apply_batch = apply_batch
        self.max_events_per_poll = max_events_per_poll
        self.clock = clock
        self._poll_lock = threading.Lock()
        cur = store.cursor()
        try:
            self.status = FeedStatus(feed=feed, last_sequence=feed_cursor(cur, feed))
        finally:
            cur.close()

    # Subclasses fill `progress` by calling `_apply`; they raise _FeedTrouble for feed problems.
    def _poll(self, progress: _Progress) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _apply(
        self,
        progress: _Progress,
        events: list[dict],
        *,
        position: int | None = None,
        file_identity: tuple | None = None,
        final: bool = False,
        paged: bool | None = None,
    ) -> None:
        if not events and position is None:
            return
        try:
            result = apply_events(
                self.store,
                events,
                feed=self.feed,
                position=position,
                file_identity=file_identity,
                clock=self.clock,
                paged=paged,
            )
        except PartlyApplied as exc:
            # Part of the batch is committed: count it, so the poll reports what the store holds.
            self._merge(progress, exc.result)
            raise _FeedTrouble(f"could not store the events: {exc}") from None
        self._merge(progress, result)
        times = [e["time"] for e in events if e.get("time") is not None]
        if times:
            newest = max(times)
            progress.newest_event = newest if progress.newest_event is None else max(newest, progress.newest_event)
        if not final:
            # Other threads (the console) see that a long poll is still working through a backlog.
            self.status = replace(self.status, state=CATCHING_UP, last_sequence=result.last_sequence)

    @staticmethod
    def _merge(progress: _Progress, result: ApplyResult) -> None:
        progress.result = result if progress.result is None else progress.result.merge(result)

    def high_water(self) -> Any:
        """A mark of how far the feed reaches now, for `reached` (a pull that must end)."""
        return None

    def reached(self, mark: Any) -> bool:
        """Whether what the feed held at `high_water()` time has been read; False when unknown."""
        return False

    def _cursor(self) -> str | None:
        cur = self.store.cursor()
        try:
            return feed_cursor(cur, self.feed)
        finally:
            cur.close()

    def poll_once(self) -> PollResult:
        """Fetch everything available now and apply it. Never raises for trouble with the feed."""
        with self._poll_lock:
            progress = _Progress()
            error: str | None = None
            try:
                self._poll(progress)
            except _FeedTrouble as exc:
                error = str(exc)
            except PlannerError as exc:
                error = str(exc)
            except Exception as exc:  # the console's worker must survive anything a feed does
                error = f"{type(exc).__name__}: {exc}"
            now = self.clock()
            previous = self.status
            result = progress.result
            status = replace(
                previous,
                last_poll_at=now,
                last_sequence=self._safe_cursor(previous.last_sequence),
            )
            if progress.newest_event is not None:
                status.last_event_at = progress.newest_event
            if result is not None and result.lag_seconds:
                status.lag_seconds = round(result.lag_seconds[-1], 3)
            if error is not None:
                status.state = STALE
                status.since = previous.since if previous.state == STALE else now
                status.last_error = error
            else:
                state = CATCHING_UP if progress.more else LIVE
                if previous.state != state:
                    status.since = now
                status.state = state
                status.last_error = None
            self.status = status
            return PollResult(applied=result.applied if result else 0, result=result, status=status)

    def _safe_cursor(self, fallback: str | None) -> str | None:
        try:
            return self._cursor()
        except Exception:
            return fallback

    def close(self) -> None:
        pass

    def __enter__(self) -> Feed:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# The most one answer of a feed may hold: an HTTP page, or one line of a file feed.
MAX_ANSWER_BYTES = 64 << 20
