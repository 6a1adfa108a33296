"""The CloudEvents 1.0 envelope: parse and validate one structured-mode event into a plain dict.

Everything about an event that is not its type's `data`: specversion, id, source, type, time, sequence,
datacontenttype, and what valid JSON may hold that the store cannot (nesting too deep, lone surrogates,
numbers too long to read). Also how feeds decode what they receive: JSON Lines (`parse_line`), batches
(`parse_batch`), and the lenient decoder that reads around a value nested too deeply for Python's json.
It lives in the store because applying must validate whatever it is given, and the store may not import
the feeds layer; the feeds import it from here.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

# Event integers (line_no, op_seq, expected_minutes) are INTEGER in the store: a larger value is rejected
# rather than failing the batch's write. A sequence is kept as text (the feed's own cursor, sent back as
# it came), but a JSON number is refused past 2**63-1 (many JSON readers, maybe the feed's own, lose
# digits there: such a producer should send the string) and any sequence past MAX_SEQUENCE_CHARS.
MAX_SEQUENCE = 2**63 - 1
MAX_SEQUENCE_CHARS = 256
MAX_INTEGER = 2**31 - 1

# Event times outside these years are a producer's mistake (an unset clock, a sentinel date), not plant
# news: rejected rather than skewing the lag and the history's order.
FIRST_YEAR, LAST_YEAR = 1970, 2999

# How deeply an event's JSON may nest. Real events nest two or three levels; far deeper JSON cannot be
# written back or read again by Python's json (RecursionError), so it is rejected when it arrives.
MAX_DEPTH = 64

# ---------------------------------------------------------------------------------------------------
# The envelope
# ---------------------------------------------------------------------------------------------------

# RFC 3339 date-time; the offset is optional here because the rest of planner_tui reads "no offset" as UTC.
_RFC3339 = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})[Tt ](?P<clock>\d{2}:\d{2}(?::\d{2})?)(?:\.(?P<frac>\d+))?"
    r"(?P<tz>[Zz]|[+-]\d{2}:?\d{2})?$"
)


def parse_event_time(text: Any) -> datetime:
    """An RFC 3339 timestamp as a naive UTC datetime; ValueError with a short reason otherwise."""
    if not isinstance(text, str):
        raise ValueError("time must be an RFC 3339 string")
    match = _RFC3339.match(text.strip())
    if not match:
        raise ValueError(f"time {text!r} is not RFC 3339 (e.g. 2026-11-25T08:12:00Z)")
    clock = match["clock"] if match["clock"].count(":") == 2 else match["clock"] + ":00"
    try:
        value = datetime.fromisoformat(f"{match['date']}T{clock}")
    except ValueError:
        raise ValueError(f"time {text!r} is not a valid date and time") from None
    if match["frac"]:
        # Python keeps microseconds; CloudEvents producers may send nanoseconds.
        value = value.replace(microsecond=int(match["frac"][:6].ljust(6, "0")))
    tz = match["tz"]
    if tz and tz not in ("Z", "z"):
        sign = 1 if tz[0] == "+" else -1
        digits = tz[1:].replace(":", "")
        hours, minutes = int(digits[:2]), int(digits[2:])
        if hours > 23 or minutes > 59:
            raise ValueError(f"time {text!r} has an invalid UTC offset {tz} (hours 00-23, minutes 00-59)")
        offset = timedelta(hours=hours, minutes=minutes)
        try:
            value = value.replace(tzinfo=timezone(sign * offset)).astimezone(UTC).replace(tzinfo=None)
        except OverflowError:
            # The offset carries it past year 1 or 9999.
            raise ValueError(f"time {text!r} is out of range once converted to UTC") from None
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise ValueError(f"time {text!r} is out of range (years {FIRST_YEAR} to {LAST_YEAR}, UTC)")
    return value


def parse_sequence(value: Any) -> str:
    """The `sequence` extension as the text the feed's cursor keeps: exactly the string sent ("00000002",
    a ULID, "3-1042"), or a JSON integer written in decimal (2 -> "2"). CloudEvents extensions are strings,
    so any non-empty string is accepted, up to MAX_SEQUENCE_CHARS characters and without control
    characters; a JSON integer must be 0 to MAX_SEQUENCE. ValueError naming the value otherwise.

    How sequences are ordered: see `integer_sequence` and apply.py."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValueError(f"sequence must be a string or an integer, got {_kind(value)}")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"sequence {value!r} is negative")
        if value > MAX_SEQUENCE:
            raise ValueError(f"sequence {value!r} is above {MAX_SEQUENCE} (send a larger one as a string)")
        return str(value)
    if not value:
        raise ValueError("sequence is an empty string")
    if len(value) > MAX_SEQUENCE_CHARS:
        raise ValueError(f"sequence {value[:40]!r}... is longer than {MAX_SEQUENCE_CHARS} characters")
    control = _CONTROL.search(value)
    if control:
        raise ValueError(f"sequence {value!r} holds a control character (U+{ord(control[0]):04X})")
    if _has_surrogate(value):
        raise ValueError(
            f"sequence {ascii(value)} holds a lone surrogate (\\ud800-\\udfff), which is not valid Unicode"
        )
    return value


# C0 and C1 controls and DEL: nothing a cursor is written with, and a line break would split a log line.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def integer_sequence(sequence: Any) -> int | None:
    """The number a sequence stands for when it is all ASCII digits (leading zeros allowed: "00000002" is
    2), else None. A batch whose sequences are all numbers is ordered by number; otherwise the feed's
    own (page) order is kept, as its strings are opaque (CloudEvents compares them lexicographically)."""
    if isinstance(sequence, str) and sequence.isascii() and sequence.isdigit():
        return int(sequence)
    return None


def fingerprint(raw: Any) -> str:
    """A stable id for something that carries none of its own (a malformed event)."""
    if isinstance(raw, TooDeep):
        return "invalid-" + raw.digest
    text = raw if isinstance(raw, str) else json.dumps(raw, sort_keys=True, default=str)
    return "invalid-" + hashlib.sha1(text.encode("utf-8", "replace")).hexdigest()[:16]


class TooDeep:
    """Stands for a JSON value nested too deeply for Python's json to decode (RecursionError).

    The feeds' lenient decoder puts one where such a value was (a whole line, a page's element, or one
    member of an event), so the rest of the event can still be read and kept as rejected."""

    def __init__(self, text: str):
        self.size = len(text)
        self.digest = hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]

    def __str__(self) -> str:
        # What the history keeps in its place (json.dumps(default=str) writes this).
        return f"<not kept: {self.size:,} characters of JSON nested too deeply>"


class HugeNumber:
    """Stands for an integer literal longer than Python converts (sys.get_int_max_str_digits(), 4,300
    digits): json.loads would refuse the whole line or page for it, and no quantity or sequence has that
    many digits, so the event holding it is kept as rejected and the feed goes on."""

    def __init__(self, digits: str):
        self.size = len(digits)

    def __str__(self) -> str:
        return f"<not kept: a number of {self.size:,} digits>"


def json_int(digits: str) -> int | HugeNumber:
    """The `parse_int` of every JSON decoder reading a feed: an int, or a HugeNumber past Python's limit."""
    limit = sys.get_int_max_str_digits()
    if limit and len(digits) - digits.startswith("-") > limit:
        return HugeNumber(digits)
    return int(digits)


TOO_DEEP_REASON = "nested too deeply"
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def _has_surrogate(text: str) -> bool:
    # A lone surrogate ("\ud800" in JSON) is valid JSON but not Unicode: UTF-8, DuckDB and Arrow refuse it.
    return not text.isascii() and _SURROGATE.search(text) is not None


def _unsafe_members(obj: dict) -> dict[str, str]:
    """Top-level members of an event the store cannot keep, with why: "deep" (nested deeper than
    MAX_DEPTH), "too deep" (too deep to decode at all: a TooDeep) or "surrogate" (a lone surrogate)."""
    if _unsafe_value(obj, 1) is None:
        return {}  # the usual case: one walk; naming the members is only needed when something is wrong
    found: dict[str, str] = {}
    for name, member in obj.items():
        why = "surrogate" if _has_surrogate(name) else _unsafe_value(member)
        if why is not None:
            found[ascii(name) if why == "surrogate" and _has_surrogate(name) else name] = why
    return found


def _unsafe_value(member: Any, depth: int = 2) -> str | None:
    # Iterative: the depth is the question, so this must not recurse. Members are level 2.
    stack = [(member, depth)]
    while stack:
        value, depth = stack.pop()
        kind = type(value)
        if kind is str:
            if not value.isascii() and _SURROGATE.search(value):
                return "surrogate"
        elif kind is dict:
            if depth > MAX_DEPTH:
                return "deep"
            for key, item in value.items():
                if type(key) is str and not key.isascii() and _SURROGATE.search(key):
                    return "surrogate"
                if type(item) in _CONTAINERS:
                    stack.append((item, depth + 1))
                elif type(item) is str:
                    if not item.isascii() and _SURROGATE.search(item):
                        return "surrogate"
                elif isinstance(item, TooDeep):
                    return "too deep"
                elif isinstance(item, HugeNumber):
                    return "huge"
        elif kind is list:
            if depth > MAX_DEPTH:
                return "deep"
            stack.extend((item, depth + 1) for item in value)
        elif isinstance(value, (dict, list)):  # subclasses, from a Python caller
            stack.append((dict(value) if isinstance(value, dict) else list(value), depth))
        elif isinstance(value, str):
            if _has_surrogate(value):
                return "surrogate"
        elif isinstance(value, TooDeep):
            return "too deep"
        elif isinstance(value, HugeNumber):
            return "huge"
    return None


_CONTAINERS = (dict, list)


def _unsafe_reason(name: str, why: str) -> str:
    if why == "surrogate":
        return f"{name} holds a lone surrogate (\\ud800-\\udfff), which is not valid Unicode"
    if why == "deep":
        return f"{name} is nested deeper than {MAX_DEPTH} levels"
    if why == "huge":
        return f"{name} holds a number with more digits than can be read"
    return f"{name} is {TOO_DEEP_REASON} to read"


def _envelope_text(obj: dict, name: str, problems: list[str], unsafe: dict[str, str]) -> str | None:
    """A CloudEvents attribute that must be a non-empty string, else None with the problem noted."""
    value = obj.get(name)
    if name in unsafe:
        problems.append(_unsafe_reason(name, unsafe[name]))
    elif value is None or (isinstance(value, str) and not value.strip()):
        problems.append(f"missing {name}")
    elif not isinstance(value, str):
        # CloudEvents: id, source and type are strings; a number is a producer's bug worth naming.
        problems.append(f"{name} must be a string, got {_kind(value)}")
    else:
        return value
    return None


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return f"the JSON boolean {json.dumps(value)}"
    if isinstance(value, (int, float)):
        return f"the number {value!r}"
    if isinstance(value, dict):
        return "a JSON object"
    if isinstance(value, list):
        return "a JSON array"
    return type(value).__name__


def parse_event(obj: Any, *, fallback_source: str = "", fallback_id: str | None = None) -> dict:
    """Normalise one structured-mode CloudEvent.

    Always returns a dict: source, id, type, time (naive UTC datetime or None), sequence (text as the
    feed sent it, or None: see parse_sequence),
    data (dict or None), raw (the event as received) and error (None when valid, else the reason).
    A malformed event still gets a source and id (the fallbacks, or a fingerprint) so it can be logged.
    """
    event: dict[str, Any] = {
        "source": fallback_source,
        "id": fallback_id,
        "type": None,
        "time": None,
        "sequence": None,
        "data": None,
        "raw": obj,
        "error": None,
    }
    if isinstance(obj, TooDeep):
        event["id"] = event["id"] or fingerprint(obj)
        event["raw"] = str(obj)
        event["error"] = f"{TOO_DEEP_REASON} to read (JSON nested beyond what Python can decode)"
        return event
    if not isinstance(obj, dict):
        event["id"] = event["id"] or fingerprint(obj)
        event["error"] = "not a JSON object"
        return event
    problems: list[str] = []
    unsafe = _unsafe_members(obj)
    if unsafe:
        # Keep what can be kept: the deep members give way to a note, so the history can hold the rest.
        event["raw"] = {
            k: (f"<not kept: nested deeper than {MAX_DEPTH} levels>" if unsafe.get(k) == "deep" else v)
            for k, v in obj.items()
        }
    source = _envelope_text(obj, "source", problems, unsafe)
    event_id = _envelope_text(obj, "id", problems, unsafe)
    event_type = _envelope_text(obj, "type", problems, unsafe)
    if source:
        event["source"] = source
    if event_id:
        event["id"] = event_id
    else:
        event["id"] = event["id"] or fingerprint(event["raw"])  # only now: hashing every event would cost
    if event_type:
        event["type"] = event_type
    spec = obj.get("specversion")
    if spec != "1.0":
        problems.append(
            "missing specversion" if spec is None else f'specversion must be the string "1.0", got {spec!r}'
        )
    for name, why in unsafe.items():
        if name not in ("source", "id", "type"):
            problems.append(_unsafe_reason(name, why))
    if "sequence" in obj and obj["sequence"] is not None and "sequence" not in unsafe:
        try:
            event["sequence"] = parse_sequence(obj["sequence"])
        except ValueError as exc:
            problems.append(str(exc))
    if obj.get("time") is None:
        problems.append("missing time")
    else:
        try:
            event["time"] = parse_event_time(obj["time"])
        except ValueError as exc:
            problems.append(str(exc))
    content_type = obj.get("datacontenttype")
    if content_type is not None and not isinstance(content_type, str):
        problems.append(f"datacontenttype must be a string, got {_kind(content_type)}")
    elif isinstance(content_type, str) and "json" not in content_type.lower():
        problems.append(f"datacontenttype {content_type!r} is not JSON")
    if "data_base64" in obj:
        problems.append("binary data (data_base64) is not supported; send data as a JSON object")
    data = obj.get("data")
    if (
        isinstance(data, str)
        and "data" not in unsafe
        and isinstance(content_type, str)
        and "json" in content_type.lower()
    ):
        # Some producers send JSON data as an encoded string.
        try:
            decoded = json.loads(data)
        except (ValueError, RecursionError):
            decoded = data
        if isinstance(decoded, dict) and _unsafe_members(decoded):
            unsafe["data"] = "encoded"
            problems.append(f"data holds JSON nested deeper than {MAX_DEPTH} levels or a lone surrogate")
        else:
            data = decoded
    if "data" in unsafe:
        pass  # its problem is named above
    elif data is None:
        if "data_base64" not in obj:
            problems.append("missing data")
    elif not isinstance(data, dict):
        problems.append("data must be a JSON object")
    else:
        event["data"] = data
    if problems:
        event["error"] = "; ".join(problems)
    return event


def is_normalised(event: Any) -> bool:
    return isinstance(event, dict) and "raw" in event and "error" in event and "data" in event


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
    found = _WS.match(text, index)
    return found.end() if found else index


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
