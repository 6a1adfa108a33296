"""CloudEvents 1.0 structured JSON: parse and validate one event into a plain dict.

The envelope rules themselves (specversion, id, source, type, time, sequence, data) live in
`planner_tui.store.events`, because applying must validate what it is given and the store layer may not
import the feeds layer; this module is the feeds' front door to them, plus JSON Lines and batch parsing.
What each type's `data` must hold is checked where the event is applied (it needs the store).
"""

from __future__ import annotations

import json
from typing import Any

from planner_tui.store.events import fingerprint, parse_event, parse_event_time, parse_sequence

__all__ = [
    "BATCH_CONTENT_TYPE",
    "EVENT_CONTENT_TYPE",
    "fingerprint",
    "parse_batch",
    "parse_event",
    "parse_event_time",
    "parse_line",
    "parse_sequence",
]

BATCH_CONTENT_TYPE = "application/cloudevents-batch+json"
EVENT_CONTENT_TYPE = "application/cloudevents+json"


def parse_line(line: str, *, fallback_source: str, fallback_id: str) -> dict:
    """One line of a JSON Lines feed; invalid JSON gives a rejected event with the parser's reason."""
    try:
        obj = json.loads(line)
    except ValueError as exc:
        event = parse_event(None, fallback_source=fallback_source, fallback_id=fallback_id)
        event["raw"] = line
        event["error"] = f"not valid JSON: {exc}"
        return event
    return parse_event(obj, fallback_source=fallback_source, fallback_id=fallback_id)


def parse_batch(body: Any, *, fallback_source: str) -> list[dict]:
    """A decoded `application/cloudevents-batch+json` body (a JSON array) as normalised events.

    ValueError when the body is not an array at all; elements that are not valid events come back
    rejected (with their reason) so the rest of the batch still applies.
    """
    if not isinstance(body, list):
        raise ValueError(f"expected a JSON array of events, got {_json_kind(body)}")
    return [parse_event(item, fallback_source=fallback_source) for item in body]


def _json_kind(value: Any) -> str:
    if isinstance(value, dict):
        return "a JSON object"
    if isinstance(value, str):
        return "a JSON string"
    if value is None:
        return "null"
    return f"a JSON {type(value).__name__}"
