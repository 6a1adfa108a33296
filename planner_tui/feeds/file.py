"""A JSON Lines file feed: one event a line, read from the byte offset where the last poll stopped."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from planner_tui.feeds.base import MAX_ANSWER_BYTES, Feed, _FeedTrouble, _Progress
from planner_tui.store import Store
from planner_tui.store.events import feed_file_identity, feed_position, parse_event, parse_line

_UTF8_BOM = b"\xef\xbb\xbf"
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
    return hashlib.sha1(first[: int(length)]).hexdigest() == digest


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
            return identity, _head(head_source[: min(offset, HEAD_BYTES)])

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
                body = raw[len(_UTF8_BOM) :]  # a file saved "with BOM"; the offsets still count it
            event = None
            # The offset alone would name another line once the file is replaced: add its content.
            line_id = f"line@{line_start}:{hashlib.sha1(raw).hexdigest()[:8]}"
            if len(body) > MAX_ANSWER_BYTES and not last:
                event = _refused_line(
                    self.feed,
                    line_id,
                    f"a line of {len(body):,} bytes is over the {MAX_ANSWER_BYTES:,} one event may take",
                )
            else:
                try:
                    text = body.decode("utf-8").strip()
                except UnicodeDecodeError as exc:
                    if last and exc.reason == "unexpected end of data":
                        break  # a character cut by a line still being written: wait for the rest
                    # Never guess at what the producer meant: U+FFFD in an id would be applied as real.
                    text = ""
                    event = _refused_line(
                        self.feed,
                        line_id,
                        f"not valid UTF-8 (byte {exc.start + 1} of the line is {body[exc.start : exc.start + 1]!r})",
                    )
                if text:
                    event = parse_line(text, fallback_source=self.feed, fallback_id=line_id)
            if (
                last
                and event is not None
                and event["error"] is not None
                and event["error"].startswith("not valid JSON")
            ):
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
    event = parse_event(None, fallback_source=feed, fallback_id=line_id)
    event["raw"] = f"<not kept: {reason}>"
    event["error"] = reason
    return event
