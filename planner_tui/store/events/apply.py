"""Applying a batch of events to the store, in one transaction with its history and the feed's cursor.

`apply_events` takes a batch of events (CloudEvents 1.0 structured JSON objects, or events already
normalised by `parse_event`): they are put in the feed's order (`_order`), duplicates are dropped
(source+id, or the HTTP feed's cursor), the rows the batch names are read once (working.py), each event
is played by its EventType (registry.py), the changed rows are written back, and the history records and
the cursor are written, all in ONE transaction: a crash never leaves half an event applied, and the
state always agrees with its history.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import duckdb
import pyarrow as pa

from planner_tui.store.db import Store
from planner_tui.store.events import working
from planner_tui.store.events.cursors import feed_cursor, write_cursor
from planner_tui.store.events.envelope import (
    _SURROGATE,
    _has_surrogate,
    integer_sequence,
    is_normalised,
    parse_event,
)
from planner_tui.store.events.fields import Reject
from planner_tui.store.events.registry import REGISTRY
from planner_tui.store.events.working import arrow_table
from planner_tui.urls import redact_url

APPLIED, UNKNOWN_TYPE, REJECTED = "applied", "unknown_type", "rejected"


# ---------------------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------------------


@dataclass
class ApplyResult:
    """What one `apply_events` call did."""

    applied: int = 0
    duplicates: int = 0  # seen before (same source+id), or at/below the feed's cursor: not applied again
    rejected: int = 0  # malformed, or naming something the store does not hold: kept with the reason
    unknown: int = 0  # a type planner_tui does not know: kept, never fatal
    last_sequence: str | None = None  # the feed's cursor after this batch, as the feed sent it
    changed: list[str] = field(default_factory=list)  # one short summary per applied event
    lag_seconds: list[float] = field(default_factory=list)  # applied_at - event time, per applied event
    rejections: list[tuple[str, str]] = field(default_factory=list)  # (event id, reason)
    touched: dict[str, set] = field(default_factory=dict)  # table -> keys whose rows changed

    @property
    def received(self) -> int:
        return self.applied + self.duplicates + self.rejected + self.unknown

    def lag_summary(self) -> dict:
        return _summarise_lags(self.lag_seconds)

    def merge(self, other: ApplyResult) -> ApplyResult:
        """Fold another batch's result into this one (a poll applies several batches)."""
        self.applied += other.applied
        self.duplicates += other.duplicates
        self.rejected += other.rejected
        self.unknown += other.unknown
        if other.last_sequence is not None:
            self.last_sequence = other.last_sequence
        self.changed += other.changed
        self.lag_seconds += other.lag_seconds
        self.rejections += other.rejections
        for name, keys in other.touched.items():
            self.touched.setdefault(name, set()).update(keys)
        return self

    def to_dict(self) -> dict:
        return {
            "applied": self.applied,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "unknown": self.unknown,
            "last_sequence": self.last_sequence,
            "lag": self.lag_summary(),
            "changed": self.changed,
            "rejections": [{"id": i, "reason": r} for i, r in self.rejections],
        }


def _summarise_lags(lags: list[float]) -> dict:
    if not lags:
        return {"count": 0, "p50": None, "p95": None, "max": None}
    ordered = sorted(lags)

    def pick(q: float) -> float:
        # Linear interpolation, like DuckDB's quantile_cont used by lag_stats.
        pos = q * (len(ordered) - 1)
        low = int(pos)
        high = min(low + 1, len(ordered) - 1)
        return round(ordered[low] + (ordered[high] - ordered[low]) * (pos - low), 3)

    return {"count": len(ordered), "p50": pick(0.5), "p95": pick(0.95), "max": round(ordered[-1], 3)}


_LOG_COLUMNS = [
    ("source", "VARCHAR"),
    ("event_id", "VARCHAR"),
    ("sequence", "VARCHAR"),
    ("type", "VARCHAR"),
    ("event_time", "TIMESTAMP"),
    ("received_at", "TIMESTAMP"),
    ("applied_at", "TIMESTAMP"),
    ("outcome", "VARCHAR"),
    ("reason", "VARCHAR"),
    ("changes", "VARCHAR"),
    ("data", "VARCHAR"),
    ("feed", "VARCHAR"),
]


def _write_event_log(cur: duckdb.DuckDBPyConnection, records: list[dict]) -> None:
    if not records:
        return
    cols = [c for c, _ in _LOG_COLUMNS]
    cur.register("_new_events", arrow_table(cols, [t for _, t in _LOG_COLUMNS], records))
    try:
        quoted = ", ".join(cols)
        cur.execute(f"INSERT INTO event_log ({quoted}) SELECT {quoted} FROM _new_events")
    finally:
        cur.unregister("_new_events")


# ---------------------------------------------------------------------------------------------------
# Applying a batch
# ---------------------------------------------------------------------------------------------------


def _precise_now() -> datetime:
    # Lag is measured in fractions of a second, so keep the microseconds timeutil.utcnow drops.
    return datetime.now(UTC).replace(tzinfo=None)


def _raw_json(event: dict) -> str:
    raw = event["raw"]
    if not isinstance(raw, dict):
        # Keep what arrived, but always as an object so the log's `data` reads the same way.
        raw = {"invalid": raw}
    try:
        text = json.dumps(raw, default=str, ensure_ascii=False, separators=(",", ":"))
    except (RecursionError, ValueError, TypeError) as exc:
        # Only an event given as Python objects can get here (what a feed decoded is checked first).
        return json.dumps({"invalid": f"<not kept: {type(exc).__name__}>"})
    if _has_surrogate(text):
        # Lone surrogates cannot be stored: keep them as the text of their escape ("\ud800"), so the
        # history reads back as plain text.
        text = _SURROGATE.sub(lambda found: f"\\\\u{ord(found[0]):04x}", text)
    return text


class PartlyApplied(Exception):
    """`apply_events` failed after committing part of its batch (one event at a time): `result` is
    what was committed, so a caller can report it; the cause is chained."""

    def __init__(self, result: ApplyResult, cause: BaseException):
        super().__init__(f"{type(cause).__name__}: {cause}".splitlines()[0][:300])
        self.result = result


def apply_events(
    store: Store,
    events: list[dict],
    *,
    feed: str,
    received_at: datetime | None = None,
    position: int | None = None,
    file_identity: tuple[str | None, str | None] | None = None,
    clock: Callable[[], datetime] | None = None,
    paged: bool | None = None,
) -> ApplyResult:
    """Apply a batch of events in one transaction with their history and the feed's cursor.

    `events` are CloudEvents structured JSON objects (or `parse_event` results). They are applied in the
    feed's order: when every sequence in the batch is an integer (a JSON integer, or a string of ASCII
    digits, leading zeros allowed) by number, events without a sequence after those with one; otherwise
    (ULIDs, timestamps, "partition-offset"...) in the order they arrived, as sequences are opaque strings.
    The feed's cursor after the batch is its last sequence in that order, exactly as sent: the highest
    number (never lower than an integer cursor), or the last event's sequence. An event is a duplicate,
    and not applied again, when its source+id is already in the log or earlier in the batch, or (HTTP
    feeds, paged by ?after=) the batch's sequences and the cursor are integers and its sequence is at or
    below the cursor; strings are never compared for this. A file feed (`position` given) is read by byte
    offset, so there a sequence at or below the cursor may be a new event (another producer numbering its
    own): only source+id decide. Unknown types are kept (unknown_type);
    malformed events and events naming something the store does not hold are kept as rejected with the
    reason; neither stops the batch. `position` (file feeds) is stored with the cursor.

    `paged` says whether the feed is paged by its cursor (?after=), so that an integer sequence at or below
    it is a duplicate; default: when no `position` is given. Feeds whose producers number their own events
    (MQTT topics interleaving, events pushed to the plant server) pass False: source+id alone decide.

    `received_at` is when the batch arrived (default: now); a normalised event may carry its own
    `received_at` (the poller stamps each page as it arrives), which wins.

    `file_identity` (file feeds) is (device:inode, head fingerprint) of the file `position` is in,
    stored with it so a replaced or truncated file is noticed (see `feed_file_identity`).

    `feed` is stored and shown, so it is redacted here too: a URL never keeps its credentials.

    `clock` stamps applied_at (default: the real UTC clock); a replay passes its own clock so lags are
    measured in the replay's time.

    Raises PartlyApplied (with what was committed) if the store fails while the batch is being
    applied one event at a time.

    On a large plant the first call also creates the lookup indexes (see `working._LOOKUP_INDEXES`), after
    the batch is committed: about a second, once.
    """
    clock = clock or _precise_now
    received_at = received_at or clock()
    feed = redact_url(feed)
    normalised = [_text_sequence(e) if is_normalised(e) else parse_event(e, fallback_source=feed) for e in events]
    numeric = _numeric(normalised)
    missing_indexes: list[tuple[str, str]] = []
    by_sequence = position is None if paged is None else paged
    with store.write_lock:
        cur = store.cursor()
        try:
            try:
                result = _apply_in_transaction(
                    cur,
                    normalised,
                    feed=feed,
                    received_at=received_at,
                    position=position,
                    file_identity=file_identity,
                    missing_indexes=missing_indexes,
                    clock=clock,
                    by_sequence=by_sequence,
                    numeric=numeric,
                )
            except _WRITE_ERRORS:
                # Something the validators let through failed the batch's write. Rather than fail
                # this batch (and so every later poll) forever, apply its events one at a time so
                # only the culprit is lost, kept as rejected with the error.
                missing_indexes.clear()
                result = _apply_one_by_one(
                    cur,
                    normalised,
                    feed=feed,
                    received_at=received_at,
                    position=position,
                    file_identity=file_identity,
                    missing_indexes=missing_indexes,
                    clock=clock,
                    by_sequence=by_sequence,
                    numeric=numeric,
                )
            if missing_indexes:
                working.create_lookup_indexes(store, cur, missing_indexes)
        finally:
            cur.close()
    return result


def _text_sequence(event: dict) -> dict:
    # A caller's normalised event may carry an int sequence (as parse_event gave before cursors were text).
    seq = event["sequence"]
    return {**event, "sequence": str(seq)} if type(seq) is int else event


def _numeric(events: list[dict]) -> bool:
    """Whether the batch is ordered by number: every sequence it carries is an integer (see _order)."""
    return all(integer_sequence(e["sequence"]) is not None for e in events if e["sequence"] is not None)


def _order(events: list[dict], numeric: bool) -> list[int]:
    """The indexes of `events` in the feed's order: by number when `numeric` (events without a sequence
    last, ties in arrival order), else as they arrived (a feed's strings may not sort as it numbers them:
    "0-10" comes after "0-9" in a partition, though not lexicographically)."""
    if not numeric:
        return list(range(len(events)))

    def key(i: int) -> tuple[bool, int, int]:
        number = integer_sequence(events[i]["sequence"])
        return (number is None, number or 0, i)

    return sorted(range(len(events)), key=key)


def _apply_in_transaction(cur, events: list[dict], **kwargs) -> ApplyResult:
    cur.begin()
    try:
        result = _apply(cur, events, **kwargs)
        cur.commit()
    except BaseException:
        cur.rollback()
        raise
    return result


# What a batch's write may fail with on a value the validators let through; RecursionError for JSON
# nested too deeply to write (an event given as Python objects).
_WRITE_ERRORS = (duckdb.Error, ArithmeticError, ValueError, TypeError, RecursionError)


def _apply_one_by_one(
    cur,
    events: list[dict],
    *,
    feed: str,
    received_at: datetime,
    position: int | None,
    file_identity: tuple | None,
    missing_indexes: list,
    clock: Callable[[], datetime],
    by_sequence: bool,
    numeric: bool,
) -> ApplyResult:
    """The slow path for a batch that failed as a whole: each event in its own transaction, in the
    batch's order (and compared as the batch is: `numeric`); the batch's file position is stored with the
    last one. Should even that fail, PartlyApplied carries what was committed before."""
    order = _order(events, numeric)
    total = ApplyResult()
    try:
        for n, i in enumerate(order):
            ev = events[i]
            here = position if n == len(order) - 1 else None
            where = file_identity if here is not None else None
            try:
                one = _apply_in_transaction(
                    cur,
                    [ev],
                    feed=feed,
                    received_at=received_at,
                    position=here,
                    file_identity=where,
                    missing_indexes=missing_indexes,
                    clock=clock,
                    by_sequence=by_sequence,
                    numeric=numeric,
                )
            except _WRITE_ERRORS as exc:
                reason = f"could not be stored: {type(exc).__name__}: {exc}".splitlines()[0][:300]
                # Log it without what may have failed the write (an out-of-range sequence or time, text
                # that is not Unicode).
                kept = {
                    **ev,
                    "error": _storable(reason),
                    "type": None,
                    "sequence": None,
                    "time": None,
                    "source": _storable(ev["source"]),
                    "id": _storable(ev["id"]),
                }
                one = _apply_in_transaction(
                    cur,
                    [kept],
                    feed=feed,
                    received_at=received_at,
                    position=here,
                    file_identity=where,
                    missing_indexes=None,
                    clock=clock,
                    by_sequence=by_sequence,
                    numeric=numeric,
                )
            total.merge(one)
        if not order and position is not None:
            total = _apply_in_transaction(
                cur,
                [],
                feed=feed,
                received_at=received_at,
                position=position,
                file_identity=file_identity,
                missing_indexes=None,
                clock=clock,
            )
    except Exception as exc:
        if total.received:
            raise PartlyApplied(total, exc) from exc
        raise
    return total


def _storable(text: Any) -> Any:
    """Text with any lone surrogate spelled as its escape, so UTF-8 (and so DuckDB) can hold it."""
    if isinstance(text, str) and _has_surrogate(text):
        return _SURROGATE.sub(lambda found: f"\\u{ord(found[0]):04x}", text)
    return text


def _apply(
    cur,
    events: list[dict],
    *,
    feed: str,
    received_at: datetime,
    position: int | None,
    file_identity: tuple | None = None,
    missing_indexes: list | None = None,
    clock: Callable[[], datetime] = _precise_now,
    by_sequence: bool = True,
    numeric: bool | None = None,
) -> ApplyResult:
    result = ApplyResult()
    cursor = feed_cursor(cur, feed)
    if numeric is None:
        numeric = _numeric(events)
    events = [events[i] for i in _order(events, numeric)]
    moved = _next_cursor(events, cursor, numeric)
    # Only integers are compared with the cursor: an opaque string says nothing about what came before it.
    below = integer_sequence(cursor) if numeric and by_sequence else None

    # Duplicates: seen earlier in this batch, already in the log, or (below) at/below the cursor.
    fresh: list[dict] = []
    seen: set[tuple[str, str]] = set()
    for ev in events:
        number = integer_sequence(ev["sequence"]) if below is not None else None
        key = (ev["source"], ev["id"])
        if (number is not None and below is not None and number <= below) or key in seen:
            result.duplicates += 1
            continue
        seen.add(key)
        fresh.append(ev)
    if fresh:
        cur.register(
            "_incoming",
            pa.table(
                {
                    "source": pa.array([e["source"] for e in fresh], pa.string()),
                    "event_id": pa.array([e["id"] for e in fresh], pa.string()),
                }
            ),
        )
        try:
            logged = set(
                cur.execute(
                    "SELECT l.source, l.event_id FROM event_log AS l JOIN _incoming AS i USING (source, event_id)"
                ).fetchall()
            )
        finally:
            cur.unregister("_incoming")
        if logged:
            result.duplicates += sum(1 for e in fresh if (e["source"], e["id"]) in logged)
            fresh = [e for e in fresh if (e["source"], e["id"]) not in logged]

    plant = working.Plant(cur)
    if missing_indexes is not None:
        missing_indexes.extend(plant.unindexed)
    wanted = working.Wanted()
    for ev in fresh:
        if ev["error"] is None and ev["type"] in REGISTRY:
            REGISTRY[ev["type"]].wants(ev["data"], wanted)
    working.preload(plant, wanted)

    outcomes: list[tuple[dict, str, str | None, list]] = []
    for ev in fresh:
        changes: list[dict] = []
        if ev["error"] is not None:
            outcomes.append((ev, REJECTED, ev["error"], changes))
            continue
        event_type = REGISTRY.get(ev["type"])
        if event_type is None:
            outcomes.append((ev, UNKNOWN_TYPE, None, changes))
            continue
        try:
            summary = event_type.apply(plant, ev, ev["data"], changes)
        except Reject as exc:
            # Changes are only recorded after every check passed, so a rejected event left nothing.
            outcomes.append((ev, REJECTED, str(exc), []))
            continue
        result.changed.append(summary)
        outcomes.append((ev, APPLIED, None, changes))

    for name in working.TABLES:
        working.write_table(plant, name)
    for _, _outcome, _, changes in outcomes:
        for change in changes:
            result.touched.setdefault(change["table"], set()).add(change["key"])

    applied_at = clock()
    records = []
    for ev, outcome, reason, changes in outcomes:
        if outcome == APPLIED:
            result.applied += 1
            if ev["time"] is not None:
                result.lag_seconds.append((applied_at - ev["time"]).total_seconds())
        elif outcome == UNKNOWN_TYPE:
            result.unknown += 1
        else:
            result.rejected += 1
            result.rejections.append((ev["id"], reason or ""))
        records.append(
            {
                "source": ev["source"],
                "event_id": ev["id"],
                "sequence": ev["sequence"],
                "type": ev["type"],
                "event_time": ev["time"],
                "received_at": ev.get("received_at") or received_at,
                "applied_at": applied_at if outcome == APPLIED else None,
                "outcome": outcome,
                "reason": reason,
                "changes": json.dumps(changes, ensure_ascii=False, separators=(",", ":")) if changes else None,
                "data": _raw_json(ev),
                "feed": feed,
            }
        )
    _write_event_log(cur, records)
    write_cursor(cur, feed, moved, position, applied_at, file_identity)
    result.last_sequence = moved if moved is not None else cursor
    return result


def _next_cursor(events: list[dict], cursor: str | None, numeric: bool) -> str | None:
    """The feed's cursor after `events` (in the feed's order), as the feed sent it; None when it stays.

    Integers: the highest sequence, unless an integer cursor is already at or above it (an old event
    re-sent never moves the cursor back). Strings: the last event's sequence, as the feed ordered them."""
    sequences = [e["sequence"] for e in events if e["sequence"] is not None]
    if not sequences:
        return None
    if not numeric:
        return sequences[-1]
    best = max(sequences, key=lambda s: integer_sequence(s) or 0)  # the first of equal numbers
    held = integer_sequence(cursor)
    top = integer_sequence(best)
    if held is not None and top is not None and top <= held:
        return None
    return best
