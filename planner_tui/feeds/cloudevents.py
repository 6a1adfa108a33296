"""CloudEvents 1.0 structured JSON: parse and validate one event into a plain dict.

The envelope rules themselves (specversion, id, source, type, time, sequence, data) live in
`planner_tui.store.events`, because applying must validate what it is given and the store layer may not
import the feeds layer; this module is the feeds' front door to them, plus JSON Lines and batch parsing.
What each type's `data` must hold is checked where the event is applied (it needs the store).
"""

from __future__ import annotations

import json
import re
from typing import Any

from planner_tui.store.events import (
    TooDeep,
    fingerprint,
    json_int,
    parse_event,
    parse_event_time,
    parse_sequence,
)

__all__ = [
    "BATCH_CONTENT_TYPE",
    "EVENT_CONTENT_TYPE",
    "TooDeep",
    "fingerprint",
    "json_int",
    "loads_lenient",
    "parse_batch",
    "parse_event",
    "parse_event_time",
    "parse_line",
    "parse_sequence",
]

BATCH_CONTENT_TYPE = "application/cloudevents-batch+json"
EVENT_CONTENT_TYPE = "application/cloudevents+json"


def parse_line(line: str, *, fallback_source: str, fallback_id: str) -> dict:
    """One line of a JSON Lines feed; invalid JSON gives a rejected event with the parser's reason.
    A member nested too deeply for Python to decode still leaves the rest of the event readable."""
    try:
        obj = loads_lenient(line, descend="{")
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


# --- JSON nested too deeply --------------------------------------------------------------------------
# Python's json raises RecursionError on JSON nested about a thousand levels deep (valid JSON: `[[[...]]]`).
# One such value must not make a whole line or page unreadable, so the decoder then reads the outer
# levels itself and puts a TooDeep where the unreadable value was.

_WS = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder(parse_int=json_int)
_BRACKET_OR_QUOTE = re.compile(r'[\[\]{}"]')
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)


def loads_lenient(text: str, *, descend: str) -> Any:
    """json.loads, except that where a value is nested too deeply to decode, the outer levels named by
    `descend` are read one by one ("[{": a top-level array, then objects within it; "{": a top-level
    object) and each unreadable value becomes a TooDeep. ValueError for invalid JSON, as json.loads."""
    try:
        return json.loads(text, parse_int=json_int)
    except RecursionError:
        pass
    value, end = _value(text, _ws(text, 0), descend)
    if _ws(text, end) != len(text):
        raise ValueError(f"Extra data: char {end}")
    return value


def _ws(text: str, index: int) -> int:
    return _WS.match(text, index).end()


def _value(text: str, index: int, descend: str) -> tuple[Any, int]:
    try:
        return _DECODER.raw_decode(text, index)
    except RecursionError:
        pass
    opener = text[index]
    if descend and opener == descend[0]:
        return (_array if opener == "[" else _object)(text, index, descend[1:])
    end = _skip(text, index)
    return TooDeep(text[index:end]), end


def _skip(text: str, start: int) -> int:
    """The end of the array or object at `start`, found by its brackets (without recursion)."""
    depth, index = 0, start
    while True:
        found = _BRACKET_OR_QUOTE.search(text, index)
        if found is None:
            raise ValueError(f"Unterminated value starting at char {start}")
        if found[0] == '"':
            string = _STRING.match(text, found.start())
            if string is None:
                raise ValueError(f"Unterminated string starting at char {found.start()}")
            index = string.end()
            continue
        depth += 1 if found[0] in "[{" else -1
        index = found.end()
        if depth <= 0:
            if depth < 0:
                raise ValueError(f"Unexpected {found[0]!r} at char {found.start()}")
            return index


def _array(text: str, index: int, descend: str) -> tuple[list, int]:
    items: list = []
    index = _ws(text, index + 1)
    if text.startswith("]", index):
        return items, index + 1
    while True:
        item, index = _value(text, index, descend)
        items.append(item)
        index = _ws(text, index)
        if text.startswith(",", index):
            index = _ws(text, index + 1)
        elif text.startswith("]", index):
            return items, index + 1
        else:
            raise ValueError(f"Expecting ',' delimiter: char {index}")


def _object(text: str, index: int, descend: str) -> tuple[dict, int]:
    obj: dict = {}
    index = _ws(text, index + 1)
    if text.startswith("}", index):
        return obj, index + 1
    while True:
        if not text.startswith('"', index):
            raise ValueError(f"Expecting property name enclosed in double quotes: char {index}")
        key, index = _DECODER.raw_decode(text, index)
        index = _ws(text, index)
        if not text.startswith(":", index):
            raise ValueError(f"Expecting ':' delimiter: char {index}")
        obj[key], index = _value(text, _ws(text, index + 1), descend)
        index = _ws(text, index)
        if text.startswith(",", index):
            index = _ws(text, index + 1)
        elif text.startswith("}", index):
            return obj, index + 1
        else:
            raise ValueError(f"Expecting ',' delimiter: char {index}")
