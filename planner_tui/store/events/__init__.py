"""Live events: CloudEvents applied to the store once each, kept as the plant's history (docs/events.md).

The package's front door: everything callers use is importable from here.

- envelope.py: the CloudEvents envelope (parse_event, times, sequences as opaque text, lenient JSON, lines
  and batches);
- base.py, registry.py, types/: one EventType per event type, one module each (`types/machine_down.py`);
- fields.py: reading the fields of an event's data (Reject with the reason);
- working.py: the rows a batch can touch, read once, changed in memory, written back once;
- apply.py: apply_events, one transaction per batch with the history and the cursor (cursors.py);
- history.py: event_history, lag_stats, describe_event.
"""

from __future__ import annotations

from planner_tui.store.events.apply import (
    APPLIED,
    REJECTED,
    UNKNOWN_TYPE,
    ApplyResult,
    PartlyApplied,
    apply_events,
)
from planner_tui.store.events.base import EventType
from planner_tui.store.events.cursors import feed_cursor, feed_file_identity, feed_position
from planner_tui.store.events.envelope import (
    BATCH_CONTENT_TYPE,
    EVENT_CONTENT_TYPE,
    FIRST_YEAR,
    LAST_YEAR,
    MAX_DEPTH,
    MAX_INTEGER,
    MAX_SEQUENCE,
    MAX_SEQUENCE_CHARS,
    TOO_DEEP_REASON,
    HugeNumber,
    TooDeep,
    fingerprint,
    integer_sequence,
    is_normalised,
    json_int,
    loads_lenient,
    parse_batch,
    parse_event,
    parse_event_time,
    parse_line,
    parse_sequence,
)
from planner_tui.store.events.history import SEQUENCE_ORDER_DESC, describe_event, event_history, lag_stats
from planner_tui.store.events.registry import KNOWN_TYPES, REGISTRY, event_type, kinds_raised, types_raising
from planner_tui.store.events.types.receipt_posted import RECEIVING_LOCATION
from planner_tui.store.events.working import INDEX_MIN_ROWS

__all__ = [
    "APPLIED",
    "BATCH_CONTENT_TYPE",
    "EVENT_CONTENT_TYPE",
    "FIRST_YEAR",
    "INDEX_MIN_ROWS",
    "KNOWN_TYPES",
    "LAST_YEAR",
    "MAX_DEPTH",
    "MAX_INTEGER",
    "MAX_SEQUENCE",
    "MAX_SEQUENCE_CHARS",
    "RECEIVING_LOCATION",
    "REGISTRY",
    "REJECTED",
    "SEQUENCE_ORDER_DESC",
    "TOO_DEEP_REASON",
    "UNKNOWN_TYPE",
    "ApplyResult",
    "EventType",
    "HugeNumber",
    "PartlyApplied",
    "TooDeep",
    "apply_events",
    "describe_event",
    "event_history",
    "event_type",
    "feed_cursor",
    "feed_file_identity",
    "feed_position",
    "fingerprint",
    "integer_sequence",
    "is_normalised",
    "json_int",
    "kinds_raised",
    "lag_stats",
    "loads_lenient",
    "parse_batch",
    "parse_event",
    "parse_event_time",
    "parse_line",
    "parse_sequence",
    "types_raising",
]
