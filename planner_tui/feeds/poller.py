"""Event feeds: a JSON Lines file or an HTTP endpoint, polled and applied to the store.

Both kinds resume from the cursor stored in `feed_cursors` (so a restart neither loses nor repeats
events), and `poll_once()` never raises for trouble with the feed: a refused connection, a timeout,
5xx answers, invalid JSON or the wrong content type are recorded in `status` (stale since the first
failure, with the last error), and the store is left as it was. Safe to call from a worker thread.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import threading
import time
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import httpx

from planner_tui.errors import BadRequest, PlannerError
from planner_tui.feeds.cloudevents import (
    BATCH_CONTENT_TYPE,
    TooDeep,
    json_int,
    loads_lenient,
    parse_batch,
    parse_line,
)
from planner_tui.store import Store
from planner_tui.store.events import (
    ApplyResult,
    PartlyApplied,
    apply_events,
    feed_cursor,
    feed_file_identity,
    feed_position,
)
from planner_tui.urls import redact_text, redact_url

LIVE, CATCHING_UP, STALE, STARTING = "live", "catching_up", "stale", "starting"


class FeedUnavailable(PlannerError):
    """The feed could not be read (dead, refusing, timing out, answering nonsense)."""

    exit_code = 7


class _FeedTrouble(Exception):
    """Something wrong with the feed (not the store); the message is what the planner sees."""


class _DeadlinePassed(Exception):
    """A request outlived its wall-clock deadline (retried like a timeout)."""


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


@dataclass
class FeedStatus:
    """What the console shows about a feed."""

    feed: str
    state: str = STARTING  # "live" | "catching_up" | "stale" | "starting"
    since: datetime | None = None  # when it entered this state (for stale: the first failure)
    last_error: str | None = None
    last_sequence: int | None = None  # the cursor: last sequence applied
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

    def _apply(self, progress: _Progress, events: list[dict], *, position: int | None = None,
               file_identity: tuple | None = None, final: bool = False) -> None:
        if not events and position is None:
            return
        try:
            result = apply_events(self.store, events, feed=self.feed, position=position,
                                  file_identity=file_identity, clock=self.clock)
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

    def _cursor(self) -> int | None:
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

    def _safe_cursor(self, fallback: int | None) -> int | None:
        try:
            return self._cursor()
        except Exception:
            return fallback

    def close(self) -> None:
        pass

    def __enter__(self) -> "Feed":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


_UTF8_BOM = b"\xef\xbb\xbf"
# The most one answer of a feed may hold: an HTTP page, or one line of a file feed.
MAX_ANSWER_BYTES = 64 << 20
# How much of the start of a file feed is fingerprinted (never beyond what was consumed): enough to
# tell two files apart by their first events, cheap to read on every poll.
HEAD_BYTES = 1024


def _head(data: bytes) -> str:
    return f"{len(data)}:{hashlib.sha1(data).hexdigest()}"


def _head_matches(stored: str | None, first: bytes) -> bool:
    if not stored:
        return True
    length, _, digest = stored.partition(":")
    if not length.isdigit() or len(first) < int(length):
        return False
    return hashlib.sha1(first[:int(length)]).hexdigest() == digest


class FileFeed(Feed):
    """A JSON Lines file, one event a line, read from where the last poll stopped.

    The cursor is the byte offset after the last complete line consumed, kept with the sequence in
    `feed_cursors`; a line still being written (no newline yet, not valid JSON yet) waits for the next
    poll. A line that is not valid JSON is kept as rejected and the feed goes on.

    The file's identity (device and inode) and a fingerprint of its first bytes are kept with the
    offset: a file replaced under the same name (logrotate's rename, an atomic rewrite) or truncated in
    place (copytruncate) is read again from its start, and the events' source+id keep what was already
    applied from applying twice.
    """

    def __init__(self, store: Store, path: str | Path, **opts: Any):
        self.path = Path(path)
        super().__init__(store, str(self.path.resolve()), **opts)

    def high_water(self) -> Any:
        try:
            return self.path.stat().st_size
        except OSError:
            return None

    def reached(self, mark: Any) -> bool:
        if mark is None:
            return False
        cur = self.store.cursor()
        try:
            return feed_position(cur, self.feed) >= mark
        finally:
            cur.close()

    def _poll(self, progress: _Progress) -> None:
        cur = self.store.cursor()
        try:
            start = feed_position(cur, self.feed)
            stored_identity, stored_head = feed_file_identity(cur, self.feed)
        finally:
            cur.close()
        try:
            with self.path.open("rb") as handle:
                # The identity and size of what is read, not of whatever the name points to a moment later.
                info = os.fstat(handle.fileno())
                first = handle.read(HEAD_BYTES)
                identity = f"{info.st_dev}:{info.st_ino}" if info.st_ino else None
                replaced = start > 0 and (
                    info.st_size < start  # truncated in place, or a shorter file
                    or (stored_identity is not None and identity is not None and identity != stored_identity)
                    or not _head_matches(stored_head, first)  # other content, though maybe the same inode
                )
                if replaced:
                    start = 0
                chunk = b""
                if info.st_size > start:
                    handle.seek(start)
                    chunk = handle.read()
        except FileNotFoundError:
            raise _FeedTrouble(f"no such file {self.path}") from None
        except OSError as exc:
            raise _FeedTrouble(f"cannot read {self.path}: {exc.strerror or exc}") from None
        # A cursor without the file's identity (an older version wrote it) gains it now.
        unrecorded = start > 0 and stored_identity is None and identity is not None
        if not chunk and not replaced and not unrecorded:
            return
        arrived = self.clock()
        head_source = chunk if start == 0 else first

        def where(offset: int) -> tuple[str | None, str]:
            return identity, _head(head_source[:min(offset, HEAD_BYTES)])

        events: list[dict] = []
        offset = start
        lines = chunk.split(b"\n")
        for index, raw in enumerate(lines):
            last = index == len(lines) - 1
            if last and not raw.strip():
                break
            line_start = offset
            body = raw
            if offset == 0 and raw.startswith(_UTF8_BOM):
                body = raw[len(_UTF8_BOM):]  # a file saved "with BOM"; the offsets still count it
            event = None
            # The offset alone would name another line once the file is replaced: add its content.
            line_id = f"line@{line_start}:{hashlib.sha1(raw).hexdigest()[:8]}"
            if len(body) > MAX_ANSWER_BYTES and not last:
                event = _refused_line(self.feed, line_id, f"a line of {len(body):,} bytes is over the "
                                      f"{MAX_ANSWER_BYTES:,} one event may take")
            else:
                try:
                    text = body.decode("utf-8").strip()
                except UnicodeDecodeError as exc:
                    # Never guess at what the producer meant: U+FFFD in an id would be applied as real.
                    text = ""
                    event = _refused_line(self.feed, line_id, f"not valid UTF-8 (byte {exc.start + 1} of the "
                                          f"line is {body[exc.start:exc.start + 1]!r})")
                if text:
                    event = parse_line(text, fallback_source=self.feed, fallback_id=line_id)
            if last and event is not None and event["error"] is not None and event["error"].startswith("not valid JSON"):
                break  # probably still being written: wait for its newline
            offset += len(raw) + (0 if last else 1)
            if event is not None:
                event["received_at"] = arrived
                events.append(event)
            if len(events) >= self.apply_batch:
                self._apply(progress, events, position=offset, file_identity=where(offset))
                events = []
                if progress.result is not None and progress.result.received >= self.max_events_per_poll:
                    progress.more = offset < start + len(chunk)
                    return
        if events or offset != start or replaced or unrecorded:
            self._apply(progress, events, position=offset, file_identity=where(offset), final=True)


def _refused_line(feed: str, line_id: str, reason: str) -> dict:
    """A file feed's line refused before JSON parsing: kept as rejected with the reason, never whole."""
    event = parse_line("null", fallback_source=feed, fallback_id=line_id)
    event["raw"] = f"<not kept: {reason}>"
    event["error"] = reason
    return event


class HttpFeed(Feed):
    """An HTTP endpoint answering `GET <url>?after=<sequence>` with a CloudEvents batch.

    Pages are fetched while they come back full (with `page_limit`; without one, until one comes back
    empty), up to `max_events_per_poll` (then the status says catching up); connection errors, timeouts and 5xx answers are
    retried with exponential backoff and jitter, a bounded number of times, so one poll never blocks
    for long. A server that sends an ETag is asked with If-None-Match, and 304 means nothing new.
    """

    def __init__(
        self,
        store: Store,
        url: str,
        *,
        timeout: float = 2.0,
        retries: int = 2,
        backoff: float = 0.2,
        backoff_max: float = 2.0,
        page_limit: int | None = 1000,
        max_body_bytes: int = MAX_ANSWER_BYTES,
        client: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
        **opts: Any,
    ):
        # Stored and shown without credentials; only the HTTP client sees the URL as given.
        super().__init__(store, shown_url(url), **opts)
        self.url = url
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.backoff_max = backoff_max
        self.page_limit = page_limit
        self.max_body_bytes = max_body_bytes
        self.sleep = sleep
        self.jitter = jitter
        self._own_client = client is None
        self.client = client or httpx.Client(timeout=httpx.Timeout(timeout), follow_redirects=True)
        self._etag: tuple[int | None, str] | None = None  # (after, ETag) of the last answer

    def close(self) -> None:
        if self._own_client:
            self.client.close()

    def _delay(self, attempt: int) -> float:
        base = min(self.backoff_max, self.backoff * (2**attempt))
        return base / 2 + base / 2 * self.jitter()  # "equal jitter": never zero, never in lockstep

    def _fetch(self, after: int | None) -> list | None:
        """One page (a JSON array), or None for 304 Not Modified."""
        params: dict[str, Any] = {}
        if after is not None:
            params["after"] = after
        if self.page_limit:
            params["limit"] = self.page_limit
        headers = {"Accept": f"{BATCH_CONTENT_TYPE}, application/json;q=0.5"}
        if self._etag is not None and self._etag[0] == after:
            headers["If-None-Match"] = self._etag[1]
        error = "no answer"
        for attempt in range(self.retries + 1):
            if attempt:
                self.sleep(self._delay(attempt - 1))
            try:
                response, body = self._get(params, headers)
            except (httpx.TimeoutException, _DeadlinePassed) as exc:
                error = f"timed out after {self.timeout:g} s" + self._elsewhere(exc)
                continue
            except httpx.ConnectError as exc:
                error = self._redact(_connect_message(exc)) + self._elsewhere(exc)
                continue
            except httpx.TransportError as exc:
                error = self._redact(f"transport error: {exc}") + self._elsewhere(exc)
                continue
            except httpx.InvalidURL as exc:
                raise _FeedTrouble(self._redact(f"invalid feed URL {self.url}: {exc}")) from None
            if response.status_code >= 500:
                error = f"HTTP {response.status_code} {response.reason_phrase}".strip() + self._elsewhere(response)
                continue
            return self._read(response, body, after)
        tries = self.retries + 1
        raise _FeedTrouble(f"{error} ({tries} attempt{'s' if tries > 1 else ''})")

    def _redact(self, text: str) -> str:
        return redact_text(text, self.url)

    def _elsewhere(self, failed: Any) -> str:
        """" from <URL>" when what failed was not the feed's own URL (a redirect led elsewhere), so the
        message names the server that failed; "" otherwise. Redacted, without the query."""
        try:
            url = failed.url if isinstance(failed, httpx.Response) else failed.request.url
            place = str(url.copy_with(query=None, fragment=None))
            own = str(httpx.URL(self.url).copy_with(query=None, fragment=None))
        except (AttributeError, RuntimeError, httpx.InvalidURL):  # no request was made
            return ""
        if place == own:
            return ""
        return f" from {shown_url(place)} (redirected from the feed)"

    def _get(self, params: dict, headers: dict) -> tuple[httpx.Response, bytes]:
        """One request and, for a 200, its body, within `timeout` seconds of wall-clock time in all.

        httpx's timeout bounds each socket read, so a server trickling a byte at a time would never
        trip it: the body is streamed and the deadline checked between chunks. The body is capped
        so a runaway answer cannot fill the memory."""
        deadline = time.monotonic() + self.timeout
        with self.client.stream("GET", self.url, params=params, headers=headers) as response:
            if response.status_code != 200:
                return response, b""
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > self.max_body_bytes:
                raise _FeedTrouble(self._too_large())
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > self.max_body_bytes:
                    raise _FeedTrouble(self._too_large())
                chunks.append(chunk)
                if time.monotonic() > deadline:
                    raise _DeadlinePassed()
            if time.monotonic() > deadline:
                raise _DeadlinePassed()
            return response, b"".join(chunks)

    def _too_large(self) -> str:
        return f"answer larger than {self.max_body_bytes:,} bytes: refused"

    def _read(self, response: httpx.Response, body_bytes: bytes, after: int | None) -> list | None:
        if response.status_code == 304:
            return None
        if response.status_code != 200:
            raise _FeedTrouble(f"HTTP {response.status_code} {response.reason_phrase}".strip()
                               + self._elsewhere(response))
        content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type not in (BATCH_CONTENT_TYPE, "application/json"):
            raise _FeedTrouble(
                f"unexpected content type {content_type or 'none'!r} (expected {BATCH_CONTENT_TYPE})"
                + self._elsewhere(response)
            )
        try:
            body = _decode_body(body_bytes)
        except ValueError as exc:
            raise _FeedTrouble(f"invalid JSON from the feed: {exc}") from None
        if not isinstance(body, list):
            if isinstance(body, TooDeep):
                raise _FeedTrouble("invalid JSON from the feed: nested too deeply to read")
            raise _FeedTrouble("expected a JSON array of events")
        if body and all(isinstance(item, TooDeep) for item in body):
            # Nothing readable at all: the answer is broken, not one event in it.
            raise _FeedTrouble("invalid JSON from the feed: nested too deeply to read")
        etag = response.headers.get("etag")
        self._etag = (after, etag) if etag else None
        return body

    def _poll(self, progress: _Progress) -> None:
        after = self._cursor()
        pending: list[dict] = []
        received = 0
        try:
            while True:
                page = self._fetch(after)
                if not page:
                    break
                events = parse_batch(page, fallback_source=self.feed)
                arrived = self.clock()
                for event in events:
                    # When the page arrived, not when its batch is applied (a page may wait for more).
                    event["received_at"] = arrived
                sequences = [e["sequence"] for e in events if e["sequence"] is not None]
                pending += events
                if not sequences:
                    raise _FeedTrouble("the feed's events carry no `sequence`: cannot page with ?after=")
                top = max(sequences)
                if after is not None and top <= after:
                    raise _FeedTrouble(f"the feed ignored ?after={after} (sent sequence {top} again)")
                after = top
                received += len(events)
                if self.page_limit and len(page) < self.page_limit:
                    # A partial page: the feed had nothing more at that moment. Stop here rather than
                    # chase a live stream, so the poll ends and its events become visible now.
                    break
                if len(pending) >= self.apply_batch:
                    self._apply(progress, pending)
                    pending = []
                if received >= self.max_events_per_poll:
                    progress.more = True
                    break
        finally:
            # Whatever arrived before a failure is still applied: the cursor then says where to resume.
            if pending:
                self._apply(progress, pending, final=True)

    def high_water(self) -> Any:
        return self.clock()

    def reached(self, mark: Any) -> bool:
        # An HTTP feed does not say how far it reaches; the newest event of the last poll happening at or
        # after the mark (when a pull began) says the feed has caught up with that moment.
        newest = self.status.last_event_at
        return mark is not None and newest is not None and newest >= mark


def _decode_body(body: bytes) -> Any:
    """A JSON body; a value in it nested too deeply to decode becomes a TooDeep (see loads_lenient)."""
    try:
        # Bytes: json detects UTF-8 (with or without a BOM), UTF-16 and UTF-32 itself.
        return json.loads(body, parse_int=json_int)
    except RecursionError:
        pass
    # Decoded as json.loads decodes bytes, then read level by level.
    return loads_lenient(body.decode(json.detect_encoding(body), "surrogatepass"), descend="[{")


def shown_url(url: str) -> str:
    """A feed URL as stored and shown: redacted (redact_text too, for a URL redact_url cannot parse)."""
    return redact_text(redact_url(url), url)


def _connect_message(exc: httpx.ConnectError) -> str:
    text = str(exc)
    if "refused" in text.lower():
        return "connection refused"
    if "name or service not known" in text.lower() or "nodename nor servname" in text.lower():
        return "unknown host"
    return f"cannot connect: {text}" if text else "cannot connect"


def open_feed(store: Store, source: str, **opts: Any) -> Feed:
    """A feed for `source`: an http(s) URL (HttpFeed) or a JSON Lines file path (FileFeed)."""
    text = str(source)
    if text.startswith(("http://", "https://")):
        return HttpFeed(store, text, **opts)
    if "://" in text:
        raise BadRequest(f"unsupported feed {shown_url(text)!r}: give a .jsonl file or an http(s) URL")
    file_opts = {k: v for k, v in opts.items() if k in ("apply_batch", "max_events_per_poll", "clock")}
    return FileFeed(store, text, **file_opts)
