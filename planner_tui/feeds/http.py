"""An HTTP feed: `GET <url>?after=<sequence>` answered with a CloudEvents batch, paged, retried, bounded.

The cursor is opaque: `after` is the last sequence applied exactly as the feed sent it ("00000002", a
ULID, "3-1042"), so a feed comparing its own strings finds its place."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from typing import Any

import httpx

from planner_tui import credentials
from planner_tui.feeds.base import MAX_ANSWER_BYTES, Feed, _DeadlinePassed, _FeedTrouble, _Progress
from planner_tui.store import Store
from planner_tui.store.events import (
    BATCH_CONTENT_TYPE,
    TooDeep,
    integer_sequence,
    json_int,
    loads_lenient,
    parse_batch,
)
from planner_tui.urls import redact_text, redact_url


class HttpFeed(Feed):
    """An HTTP endpoint answering `GET <url>?after=<sequence>` with a CloudEvents batch.

    Pages are fetched while they come back full (with `page_limit`; without one, until one comes back
    empty), up to `max_events_per_poll` (then the status says catching up); connection errors, timeouts and 5xx answers are
    retried with exponential backoff and jitter, a bounded number of times, so one poll never blocks
    for long. A server that sends an ETag is asked with If-None-Match, and 304 means nothing new.

    Each page's `after` is the previous page's last sequence, byte for byte: the highest when the page's
    sequences are all integers, else its last event's (the feed's order; see apply_events). A page that
    leads nowhere (its last sequence at or below `after` for integers; for strings, one already sent as
    `after` in this poll) means the feed ignores `after`: the feed is reported stale, never looped on.

    Headers, auth and client certificates for the URL come from the settings (`credentials`), when the
    feed makes its own HTTP client.
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
        super().__init__(store, redact_url(url), **opts)
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
        if client is None:
            # headers, auth, cert, verify from the settings; the requests' own headers (Accept) add to them.
            options = {**credentials.httpx_options(url), "timeout": httpx.Timeout(timeout), "follow_redirects": True}
            client = httpx.Client(**options)
        self.client = client
        self._etag: tuple[str | None, str] | None = None  # (after, ETag) of the last answer

    def close(self) -> None:
        if self._own_client:
            self.client.close()

    def _delay(self, attempt: int) -> float:
        base = min(self.backoff_max, self.backoff * (2**attempt))
        return base / 2 + base / 2 * self.jitter()  # "equal jitter": never zero, never in lockstep

    def _fetch(self, after: str | None) -> list | None:
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
        """ " from <URL>" when what failed was not the feed's own URL (a redirect led elsewhere), so the
        message names the server that failed; "" otherwise. Redacted, without the query."""
        try:
            url = failed.url if isinstance(failed, httpx.Response) else failed.request.url
            place = str(url.copy_with(query=None, fragment=None))
            own = str(httpx.URL(self.url).copy_with(query=None, fragment=None))
        except (AttributeError, RuntimeError, httpx.InvalidURL):  # no request was made
            return ""
        if place == own:
            return ""
        return f" from {redact_url(place)} (redirected from the feed)"

    def _get(self, params: dict, headers: dict) -> tuple[httpx.Response, bytes]:
        """One request and, for a 200, its body, within `timeout` seconds of wall-clock time in all.

        httpx's timeout bounds each socket read, so a server trickling a byte at a time would never
        trip it: the body is streamed and the deadline checked between chunks. The body is capped
        so a runaway answer cannot fill the memory."""
        deadline = time.monotonic() + self.timeout
        # The feed URL's own query (a token, a line filter) stays: httpx's `params=` would replace it.
        url = httpx.URL(self.url).copy_merge_params(params)
        with self.client.stream("GET", url, headers=headers) as response:
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

    def _read(self, response: httpx.Response, body_bytes: bytes, after: str | None) -> list | None:
        if response.status_code == 304:
            return None
        if response.status_code != 200:
            raise _FeedTrouble(
                f"HTTP {response.status_code} {response.reason_phrase}".strip() + self._elsewhere(response)
            )
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
        asked: set[str] = set()  # every `after` sent in this poll
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
                top = _page_cursor(sequences)
                if after is not None:
                    asked.add(after)
                    if _went_nowhere(after, top, sequences, asked):
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


def _page_cursor(sequences: list[str]) -> str:
    """Where the next page starts: the highest sequence when all are integers, else the page's last."""
    numbers = [integer_sequence(s) for s in sequences]
    if all(n is not None for n in numbers):
        return sequences[numbers.index(max(n for n in numbers if n is not None))]
    return sequences[-1]


def _went_nowhere(after: str, top: str, sequences: list[str], asked: set[str]) -> bool:
    """Whether a page asked for with ?after=`after` and ending at `top` shows the feed ignoring `after`:
    integers at or below it; otherwise (opaque strings, never compared) a cursor sent before in this poll."""
    held = integer_sequence(after)
    if held is not None and all(integer_sequence(s) is not None for s in sequences):
        return int(top) <= held
    return top in asked


def _decode_body(body: bytes) -> Any:
    """A JSON body; a value in it nested too deeply to decode becomes a TooDeep (see loads_lenient)."""
    try:
        # Bytes: json detects UTF-8 (with or without a BOM), UTF-16 and UTF-32 itself.
        return json.loads(body, parse_int=json_int)
    except RecursionError:
        pass
    # Decoded as json.loads decodes bytes, then read level by level.
    return loads_lenient(body.decode(json.detect_encoding(body), "surrogatepass"), descend="[{")


def _connect_message(exc: httpx.ConnectError) -> str:
    text = str(exc)
    if "refused" in text.lower():
        return "connection refused"
    if "name or service not known" in text.lower() or "nodename nor servname" in text.lower():
        return "unknown host"
    return f"cannot connect: {text}" if text else "cannot connect"
