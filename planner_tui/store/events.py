"""Applying CloudEvents to the store, keeping them as the plant's history.

`apply_events` takes a batch of events (CloudEvents 1.0 structured JSON objects, or events already
normalised by `parse_event`) and applies it in ONE transaction together with its `event_log` records
and the feed's cursor: a crash never leaves half an event applied, and the state always agrees with
its history.

How a batch is applied, and why it is fast: the rows the batch can touch are read once per table
(set-based, by the ids the batch names), the events are then played in order over those rows in
Python (so a hold placed and released in the same batch, or an order confirmed then changed, come out
right), and only the rows that finally changed are written back, one UPDATE and one INSERT per table.

The envelope (specversion, id, source, type, time, sequence, data) is validated here rather than in
the feeds layer, because the store must check whatever it is given and may not import upward;
`planner_tui.feeds.cloudevents` re-exports it.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import weakref
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any, Callable, Iterable

import duckdb
import pyarrow as pa

from planner_tui.store.contract import table as contract_table
from planner_tui.store.db import Store
from planner_tui.urls import redact_text, redact_url

KNOWN_TYPES = (
    "machine.down",
    "machine.up",
    "hold.placed",
    "hold.released",
    "order.confirmed",
    "order.changed",
    "order.cancelled",
    "operation.completed",
    "receipt.posted",
    "shipment.shipped",
    "inventory.adjusted",
)

# Where received purchased stock is booked (a receipt names no location).
RECEIVING_LOCATION = "RECEIVING"

APPLIED, UNKNOWN_TYPE, REJECTED = "applied", "unknown_type", "rejected"

# The largest values the store's columns hold: sequences are BIGINT, event integers (line_no, op_seq,
# expected_minutes) INTEGER. A larger value is rejected rather than failing the batch's write.
MAX_SEQUENCE = 2**63 - 1
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
            value = value.replace(tzinfo=timezone(sign * offset)).astimezone(timezone.utc).replace(tzinfo=None)
        except OverflowError:
            # The offset carries it past year 1 or 9999.
            raise ValueError(f"time {text!r} is out of range once converted to UTC") from None
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise ValueError(f"time {text!r} is out of range (years {FIRST_YEAR} to {LAST_YEAR}, UTC)")
    return value


def parse_sequence(value: Any) -> int:
    """The `sequence` extension: an integer, or a string of digits (CloudEvents extensions are strings)."""
    if isinstance(value, bool):
        raise ValueError("sequence must be an integer")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.strip().isdigit():
        number = int(value.strip())
    else:
        raise ValueError(f"sequence {value!r} is not an integer")
    if number < 0:
        raise ValueError(f"sequence {value!r} is negative")
    if number > MAX_SEQUENCE:
        # event_log.sequence and feed_cursors.last_sequence are BIGINT.
        raise ValueError(f"sequence {value!r} is above {MAX_SEQUENCE}")
    return number


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

    Always returns a dict: source, id, type, time (naive UTC datetime or None), sequence (int or None),
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
        event["raw"] = {k: (f"<not kept: nested deeper than {MAX_DEPTH} levels>" if unsafe.get(k) == "deep" else v)
                        for k, v in obj.items()}
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
        problems.append("missing specversion" if spec is None else f'specversion must be the string "1.0", got {spec!r}')
    for name, why in unsafe.items():
        if name not in ("source", "id", "type"):
            problems.append(_unsafe_reason(name, why))
    if "sequence" in obj and obj["sequence"] is not None:
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
    if isinstance(data, str) and "data" not in unsafe and isinstance(content_type, str) \
            and "json" in content_type.lower():
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
    last_sequence: int | None = None  # the feed's cursor after this batch
    changed: list[str] = field(default_factory=list)  # one short summary per applied event
    lag_seconds: list[float] = field(default_factory=list)  # applied_at - event time, per applied event
    rejections: list[tuple[str, str]] = field(default_factory=list)  # (event id, reason)
    touched: dict[str, set] = field(default_factory=dict)  # table -> keys whose rows changed

    @property
    def received(self) -> int:
        return self.applied + self.duplicates + self.rejected + self.unknown

    def lag_summary(self) -> dict:
        return _summarise_lags(self.lag_seconds)

    def merge(self, other: "ApplyResult") -> "ApplyResult":
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


class _Reject(Exception):
    """An event that cannot be applied; its message is the reason kept in the log."""


# ---------------------------------------------------------------------------------------------------
# Reading the data of an event
# ---------------------------------------------------------------------------------------------------


def _id(data: dict, name: str, *, required: bool = True) -> str | None:
    value = data.get(name)
    if value is None or value == "":
        if required:
            raise _Reject(f"data.{name} is missing")
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise _Reject(f"data.{name} must be a string")
    return str(value)


def _text(data: dict, name: str) -> str | None:
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, (dict, list)):
        raise _Reject(f"data.{name} must be text")
    return str(value)


def _int(data: dict, name: str, *, required: bool = True, minimum: int | None = None) -> int | None:
    value = data.get(name)
    if value is None or value == "":
        if required:
            raise _Reject(f"data.{name} is missing")
        return None
    if isinstance(value, bool):
        raise _Reject(f"data.{name} must be an integer")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value.strip())
    if not isinstance(value, int):
        raise _Reject(f"data.{name} must be an integer, got {value!r}")
    if minimum is not None and value < minimum:
        raise _Reject(f"data.{name} must be at least {minimum}, got {value}")
    if not -MAX_INTEGER - 1 <= value <= MAX_INTEGER:
        raise _Reject(f"data.{name} must be at most {MAX_INTEGER}, got {value}")
    return value


def _number(data: dict, name: str, *, positive: bool = False) -> float:
    value = data.get(name)
    if value is None:
        raise _Reject(f"data.{name} is missing")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _Reject(f"data.{name} must be a number, got {value!r}")
    if value != value or value in (float("inf"), float("-inf")):
        raise _Reject(f"data.{name} must be a finite number")
    if positive and value <= 0:
        raise _Reject(f"data.{name} must be greater than 0, got {value}")
    return float(value)


def _date(data: dict, name: str) -> date:
    value = data.get(name)
    if value is None or value == "":
        raise _Reject(f"data.{name} is missing")
    if not isinstance(value, str):
        raise _Reject(f"data.{name} must be a date (YYYY-MM-DD)")
    try:
        return date.fromisoformat(value.strip()[:10])
    except ValueError:
        raise _Reject(f"data.{name} {value!r} is not a date (YYYY-MM-DD)") from None


def _so_key(data: dict) -> tuple[str, int]:
    return _id(data, "sales_order_id"), _int(data, "line_no", minimum=0)


def _peek_id(data: dict, name: str) -> str | None:
    """An id for reading ahead, or None when absent or malformed (applying reports those)."""
    value = data.get(name)
    if isinstance(value, str):
        return value or None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def _quiet(fn: Callable[[], Any]) -> Any:
    """The value, or None when the data is malformed (key collection must not reject: applying does)."""
    try:
        return fn()
    except _Reject:
        return None


# ---------------------------------------------------------------------------------------------------
# The rows a batch can touch, read once, changed in memory, written back once
# ---------------------------------------------------------------------------------------------------

# Table -> its key columns (from the contract).
_KEYS = {
    name: contract_table(name).key
    for name in (
        "machine_states",
        "quality_holds",
        "lots",
        "sales_orders",
        "production_orders",
        "operations",
        "purchase_orders",
        "inventory",
        "shipments",
    )
}

# The columns events read or change, per table: only these are fetched for existing rows (fetching a
# timestamp column into Python costs more than finding the row), and only changed ones are written.
_WORKING = {
    "machine_states": ("machine_id", "state", "since", "reason", "expected_minutes"),
    "quality_holds": ("hold_id", "lot_id", "status"),
    "lots": ("lot_id", "item_id", "qty", "status"),
    "sales_orders": ("sales_order_id", "line_no", "qty", "promised_date", "status"),
    "production_orders": ("production_order_id", "status"),
    "operations": ("production_order_id", "op_seq", "status"),
    "purchase_orders": ("purchase_order_id", "item_id", "qty", "status"),
    "inventory": ("item_id", "location", "lot_id", "qty"),
    "shipments": ("shipment_id", "sales_order_id", "line_no", "status"),
}


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def _key_text(key: tuple) -> str:
    return "/".join("" if k is None else str(k) for k in key)


# Composite keys are matched as one string, so a batch asks for exactly the rows it names (an item has
# many inventory rows; an order many lines) rather than everything that shares the first key column.
_UNIT, _NULL = "\x1f", "\x1e"


def _key_string(key: tuple) -> str:
    return _UNIT.join(_NULL if k is None else str(k) for k in key)


def _key_sql(name: str) -> str:
    parts = [f'coalesce(CAST("{k}" AS VARCHAR), chr(30))' for k in _KEYS[name]]
    return " || chr(31) || ".join(parts)


# Lookup indexes. Without them every lookup is a scan of the looked-up key column (10-15 ms for a table
# of 500,000 rows), about ten a batch: a fixed cost of ~0.1 s that a poll of a few hundred events pays
# in full. DuckDB answers `col IN (<a few hundred constants>)` from an ART index instead, so the events
# layer creates these itself, on its first apply to a large plant (snapshot loads stay as fast as they
# were; a reload drops them with the old tables and the next apply makes them again).
_LOOKUP_INDEXES = (
    ("lots", "lot_id"),
    ("operations", "production_order_id"),
    ("production_orders", "production_order_id"),
    ("sales_orders", "sales_order_id"),
    ("shipments", "shipment_id"),
    ("shipments", "sales_order_id"),
    ("shipment_lots", "shipment_id"),
    ("purchase_orders", "purchase_order_id"),
)
_INDEX_PREFIX = "planner_events_"
# Below this many rows a scan costs about what an index lookup does: no index.
INDEX_MIN_ROWS = 50_000
# An index lookup costs ~30 us a key; past a few hundred keys (a batch catching up) one scan is cheaper.
_INDEX_KEYS_MAX = 200


def _index_name(table: str, column: str) -> str:
    return f"{_INDEX_PREFIX}{table}_{column}"


class _Plant:
    """The slice of the plant one batch can touch: rows by key, with their rowids for writing back."""

    def __init__(self, cur: duckdb.DuckDBPyConnection):
        self.cur = cur
        self.indexed: set[tuple[str, str]] = set()  # lookup indexes present
        self.unindexed: list[tuple[str, str]] = []  # lookup indexes worth creating (large tables)
        self.columns = self._present_columns()
        self.rows: dict[str, dict[tuple, dict | None]] = {name: {} for name in _KEYS}
        self.rowids: dict[str, dict[tuple, int]] = {name: {} for name in _KEYS}
        self.original: dict[str, dict[tuple, dict | None]] = {name: {} for name in _KEYS}
        self.known: dict[str, set[str]] = {"machines": set(), "customers": set(), "items": set()}
        self.item_of_lot: dict[str, str] = {}
        self.active_holds_by_lot: dict[str, set[str]] = {}
        self.ops_by_order: dict[str, list[tuple]] = {}
        self.shipments_by_line: dict[tuple, list[str]] = {}
        self.lots_by_shipment: dict[str, list[str]] = {}

    def _present_columns(self) -> dict[str, list[str]]:
        """The contract columns each table really has; also notes the lookup indexes present and the
        ones worth creating (one catalog query for all of it)."""
        tables = sorted(set(_KEYS) | {t for t, _ in _LOOKUP_INDEXES})
        rows = self.cur.execute(
            "SELECT 'column', table_name, column_name FROM duckdb_columns() "
            "WHERE schema_name = 'main' AND table_name = ANY(?) "
            "UNION ALL SELECT 'index', table_name, index_name FROM duckdb_indexes() "
            "WHERE schema_name = 'main' AND starts_with(index_name, ?) "
            "UNION ALL SELECT 'rows', table_name, CAST(estimated_size AS VARCHAR) FROM duckdb_tables() "
            "WHERE schema_name = 'main' AND table_name = ANY(?)",
            [tables, _INDEX_PREFIX, tables],
        ).fetchall()
        present: dict[str, set[str]] = {}
        index_names: set[str] = set()
        sizes: dict[str, int] = {}
        for what, table_name, value in rows:
            if what == "column":
                present.setdefault(table_name, set()).add(value)
            elif what == "index":
                index_names.add(value)
            else:
                sizes[table_name] = int(value or 0)
        for table_name, column in _LOOKUP_INDEXES:
            if column not in present.get(table_name, set()):
                continue
            if _index_name(table_name, column) in index_names:
                self.indexed.add((table_name, column))
            elif sizes.get(table_name, 0) >= INDEX_MIN_ROWS:
                self.unindexed.append((table_name, column))
        if "expected_minutes" not in present.get("machine_states", set()):
            # A snapshot may lack planner_tui's own column; machine.down needs it.
            self.cur.execute("ALTER TABLE machine_states ADD COLUMN expected_minutes INTEGER")
            present.setdefault("machine_states", set()).add("expected_minutes")
        return {name: [c for c in contract_table(name).column_names if c in present.get(name, set())]
                for name in _KEYS}

    # reading -------------------------------------------------------------------------------------

    def load_known(self, wanted: dict[str, set]) -> None:
        """Which of the machines, customers and items the batch names exist (one query for all)."""
        lookups = {"machines": "machine_id", "customers": "customer_id", "items": "item_id"}
        parts, params = [], []
        for name, column in lookups.items():
            ids = sorted(wanted[name] - {None})
            if ids:
                parts.append(f"SELECT '{name}', \"{column}\" FROM \"{name}\" WHERE \"{column}\" = ANY(?)")
                params.append(ids)
        if parts:
            for name, found in self.cur.execute(" UNION ALL ".join(parts), params).fetchall():
                self.known[name].add(found)

    def load(self, name: str, where: str, params: list, *, absent: Iterable[Any] = ()) -> list[dict]:
        """Read the rows of `name` matching `where` into the cache; `absent` are single-column keys
        asked for, which are then known not to exist when not found."""
        cols = [c for c in _WORKING[name] if c in self.columns[name]]
        select = ", ".join(f'"{c}"' for c in cols)
        result = self.cur.execute(f'SELECT rowid, {select} FROM "{name}" WHERE {where}', params).fetchall()
        key_cols = _KEYS[name]
        loaded = []
        cache, rowids = self.rows[name], self.rowids[name]
        for rowid, *values_row in result:
            row = dict(zip(cols, values_row))
            key = tuple(row[k] for k in key_cols)
            if key not in cache:  # never overwrite a row the batch already changed
                cache[key] = row
                rowids[key] = rowid
                self.index(name, key, row)
            loaded.append(cache[key])
        for value in absent:
            cache.setdefault((value,), None)
        return loaded

    def match(self, name: str, column: str, values: list) -> tuple[str, list]:
        """A predicate `column` in `values` and its parameters: a list of constants when an index can
        answer it (DuckDB looks each up in the ART index), else one list parameter (one scan)."""
        if (name, column) in self.indexed and len(values) <= _INDEX_KEYS_MAX:
            return f'"{column}" IN ({", ".join("?" for _ in values)})', list(values)
        return f'"{column}" = ANY(?)', [values]

    def load_keys(self, name: str, keys: Iterable[tuple]) -> list[dict]:
        """Read exactly these (composite) keys; keys not found are then known not to exist."""
        keys = {k for k in keys if all(part is not None for part in k[:1])}
        if not keys:
            return []
        first, params = self.match(name, _KEYS[name][0], sorted({k[0] for k in keys}))
        wanted = sorted(_key_string(k) for k in keys)
        return self.load(name, f"{first} AND {_key_sql(name)} = ANY(?)", params + [wanted])

    def load_by(self, name: str, column: str, values: Iterable[Any]) -> list[dict]:
        values = sorted({v for v in values if v is not None})
        if not values:
            return []
        absent = values if _KEYS[name] == (column,) else ()
        where, params = self.match(name, column, values)
        return self.load(name, where, params, absent=absent)

    def index(self, name: str, key: tuple, row: dict) -> None:
        if name == "lots":
            self.item_of_lot[row["lot_id"]] = row["item_id"]
        elif name == "quality_holds" and row["status"] == "active":
            self.active_holds_by_lot.setdefault(row["lot_id"], set()).add(row["hold_id"])
        elif name == "operations":
            self.ops_by_order.setdefault(row["production_order_id"], []).append(key)
        elif name == "shipments":
            line = (row["sales_order_id"], row["line_no"])
            if key[0] not in self.shipments_by_line.setdefault(line, []):
                self.shipments_by_line[line].append(key[0])

    def get(self, name: str, *key: Any) -> dict | None:
        row = self.rows[name].get(tuple(key))
        return dict(row) if row is not None else None

    # changing ------------------------------------------------------------------------------------

    def put(self, name: str, row: dict, changes: list[dict]) -> None:
        """Set a row (insert or update), recording what changed for the event's `changes`."""
        key = tuple(row[k] for k in _KEYS[name])
        cache = self.rows[name]
        before = cache.get(key)
        if key not in self.original[name]:
            self.original[name][key] = dict(before) if before is not None else None
        if before is None:
            after = {c: row.get(c) for c in self.columns[name]}
            changes.append({"table": name, "key": _key_text(key), "before": None,
                            "after": {c: _jsonable(v) for c, v in after.items()}})
            self.index(name, key, after)
        else:
            after = {c: row.get(c, before[c]) for c in before}
            diff = [c for c in before if before[c] != after[c]]
            if not diff:
                return
            changes.append({"table": name, "key": _key_text(key),
                            "before": {c: _jsonable(before[c]) for c in diff},
                            "after": {c: _jsonable(after[c]) for c in diff}})
        cache[key] = after

    def dirty(self, name: str) -> tuple[list[dict], list[tuple[int, dict]], list[str]]:
        """(new rows, (rowid, row) of changed existing rows, the columns that changed) for one table."""
        inserts, updates, changed = [], [], set()
        for key, original in self.original[name].items():
            current = self.rows[name][key]
            if current is None:
                continue
            if original is None:
                if key in self.rowids[name]:  # cannot happen: a loaded row is never "absent"
                    raise AssertionError(f"{name} {key} both loaded and new")
                inserts.append(current)
            elif current != original:
                updates.append((self.rowids[name][key], current))
                changed.update(c for c in current if current[c] != original.get(c))
        return inserts, updates, [c for c in self.columns[name] if c in changed]


# ---------------------------------------------------------------------------------------------------
# What each event type does
# ---------------------------------------------------------------------------------------------------


def _machine_down(p: _Plant, ev: dict, data: dict, changes: list) -> str:
    machine_id = _id(data, "machine_id")
    reason = _text(data, "reason")
    expected = _int(data, "expected_minutes", required=False, minimum=0)
    if machine_id not in p.known["machines"]:
        raise _Reject(f"unknown machine {machine_id}")
    p.put("machine_states", {"machine_id": machine_id, "state": "down", "since": ev["time"],
                             "reason": reason, "expected_minutes": expected}, changes)
    text = f"machine {machine_id} down"
    if reason:
        text += f": {reason}"
    if expected is not None:
        text += f" (expected {expected} min)"
    return text


def _machine_up(p: _Plant, ev: dict, data: dict, changes: list) -> str:
    machine_id = _id(data, "machine_id")
    if machine_id not in p.known["machines"]:
        raise _Reject(f"unknown machine {machine_id}")
    p.put("machine_states", {"machine_id": machine_id, "state": "running", "since": ev["time"],
                             "reason": None, "expected_minutes": None}, changes)
    return f"machine {machine_id} running"


def _hold_placed(p: _Plant, ev: dict, data: dict, changes: list) -> str:
    hold_id, lot_id = _id(data, "hold_id"), _id(data, "lot_id")
    reason, placed_by = _text(data, "reason"), _text(data, "placed_by")
    lot = p.get("lots", lot_id)
    if lot is None:
        raise _Reject(f"unknown lot {lot_id}")
    existing = p.get("quality_holds", hold_id)
    if existing is not None:
        if existing["status"] == "active" and existing["lot_id"] == lot_id:
            return f"hold {hold_id} on lot {lot_id} already active"
        raise _Reject(f"hold {hold_id} already exists (lot {existing['lot_id']}, {existing['status']})")
    p.put("quality_holds", {"hold_id": hold_id, "lot_id": lot_id, "reason": reason,
                            "placed_at": ev["time"], "placed_by": placed_by, "status": "active"}, changes)
    # A lot that already left (shipped) or was used up (consumed) keeps that status: the hold row
    # records the hold, and the trace must still see where the lot went.
    if lot["status"] == "released":
        lot["status"] = "hold"
        p.put("lots", lot, changes)
    return f"hold {hold_id} placed on lot {lot_id} ({lot['status']})" + (f": {reason}" if reason else "")


def _hold_released(p: _Plant, ev: dict, data: dict, changes: list) -> str:
    hold_id = _id(data, "hold_id")
    hold = p.get("quality_holds", hold_id)
    if hold is None:
        raise _Reject(f"unknown hold {hold_id}")
    if hold["status"] == "released":
        return f"hold {hold_id} already released"
    hold["status"] = "released"
    p.put("quality_holds", hold, changes)
    lot_id = hold["lot_id"]
    others = p.active_holds_by_lot.get(lot_id, set())
    others.discard(hold_id)
    lot = p.get("lots", lot_id)
    if lot is not None and lot["status"] == "hold" and not others:
        lot["status"] = "released"
        p.put("lots", lot, changes)
        return f"hold {hold_id} released; lot {lot_id} released"
    return f"hold {hold_id} released; lot {lot_id} " + (
        f"still held by {', '.join(sorted(others))}" if others else f"stays {lot['status'] if lot else 'unknown'}"
    )


def _order_confirmed(p: _Plant, ev: dict, data: dict, changes: list) -> str:
    so_id, line_no = _so_key(data)
    customer_id, item_id = _id(data, "customer_id"), _id(data, "item_id")
    qty = _number(data, "qty", positive=True)
    promised = _date(data, "promised_date")
    if p.get("sales_orders", so_id, line_no) is not None:
        raise _Reject(f"sales order line {so_id}/{line_no} already exists")
    if customer_id not in p.known["customers"]:
        raise _Reject(f"unknown customer {customer_id}")
    if item_id not in p.known["items"]:
        raise _Reject(f"unknown item {item_id}")
    p.put("sales_orders", {"sales_order_id": so_id, "line_no": line_no, "customer_id": customer_id,
                           "item_id": item_id, "qty": qty, "promised_date": promised,
                           "confirmed_at": ev["time"], "status": "open"}, changes)
    return f"order {so_id}/{line_no} confirmed: {qty:g} x {item_id} for {customer_id}, promised {promised}"


def _open_line(p: _Plant, data: dict) -> dict:
    so_id, line_no = _so_key(data)
    line = p.get("sales_orders", so_id, line_no)
    if line is None:
        raise _Reject(f"unknown sales order line {so_id}/{line_no}")
    return line


def _order_changed(p: _Plant, ev: dict, data: dict, changes: list) -> str:
    line = _open_line(p, data)
    label = f"{line['sales_order_id']}/{line['line_no']}"
    if "qty" not in data and "promised_date" not in data:
        raise _Reject("nothing to change: give qty and/or promised_date")
    if line["status"] != "open":
        raise _Reject(f"sales order line {label} is {line['status']}")
    parts = []
    if "qty" in data:
        line["qty"] = _number(data, "qty", positive=True)
        parts.append(f"qty {line['qty']:g}")
    if "promised_date" in data:
        line["promised_date"] = _date(data, "promised_date")
        parts.append(f"promised {line['promised_date']}")
    p.put("sales_orders", line, changes)
    return f"order {label} changed: {', '.join(parts)}"


def _order_cancelled(p: _Plant, ev: dict, data: dict, changes: list) -> str:
    line = _open_line(p, data)
    label = f"{line['sales_order_id']}/{line['line_no']}"
    if line["status"] == "cancelled":
        return f"order {label} already cancelled"
    if line["status"] == "shipped":
        raise _Reject(f"sales order line {label} is already shipped")
    line["status"] = "cancelled"
    p.put("sales_orders", line, changes)
    return f"order {label} cancelled"


def _operation_completed(p: _Plant, ev: dict, data: dict, changes: list) -> str:
    order_id = _id(data, "production_order_id")
    op_seq = _int(data, "op_seq")
    op = p.get("operations", order_id, op_seq)
    if op is None:
        raise _Reject(f"unknown operation {order_id}/{op_seq}")
    order = p.get("production_orders", order_id)
    if order is None:
        raise _Reject(f"unknown production order {order_id}")
    if order["status"] == "cancelled":
        raise _Reject(f"production order {order_id} is cancelled")
    if op["status"] != "done":
        op["status"] = "done"
        p.put("operations", op, changes)
    all_done = all(p.rows["operations"][k]["status"] == "done" for k in p.ops_by_order.get(order_id, []))
    if all_done:
        order["status"] = "completed"
    elif order["status"] in ("planned", "released"):
        order["status"] = "in_progress"
    p.put("production_orders", order, changes)
    return f"operation {order_id}/{op_seq} done; order {order_id} {order['status']}"


def _receipt_posted(p: _Plant, ev: dict, data: dict, changes: list) -> str:
    po_id = _id(data, "purchase_order_id")
    qty = _number(data, "qty", positive=True)
    lot_id = _id(data, "lot_id", required=False)
    po = p.get("purchase_orders", po_id)
    if po is None:
        raise _Reject(f"unknown purchase order {po_id}")
    if po["status"] == "cancelled":
        raise _Reject(f"purchase order {po_id} is cancelled")
    item_id = po["item_id"]
    lot = p.get("lots", lot_id) if lot_id else None
    if lot is not None and lot["item_id"] != item_id:
        raise _Reject(f"lot {lot_id} holds item {lot['item_id']}, not {item_id} of {po_id}")
    if po["status"] == "open":
        # An open PO's qty is what is still due, so the shortage projection never counts received
        # stock twice: a partial receipt lowers it, a full one closes the PO.
        if qty >= po["qty"] - 1e-9:
            po["status"] = "received"
        else:
            po["qty"] = po["qty"] - qty
        p.put("purchase_orders", po, changes)
    if lot_id:
        if lot is None:
            lot = {"lot_id": lot_id, "item_id": item_id, "qty": qty, "produced_by": None, "status": "released"}
        else:
            lot["qty"] = (lot["qty"] or 0) + qty
        p.put("lots", lot, changes)
    _add_stock(p, item_id, RECEIVING_LOCATION, lot_id, qty, changes)
    state = "received" if po["status"] == "received" else f"{po['qty']:g} still due"
    return f"receipt {qty:g} x {item_id} on {po_id} ({state})" + (f" into lot {lot_id}" if lot_id else "")


def _add_stock(p: _Plant, item_id: str, location: str, lot_id: str | None, delta: float, changes: list) -> float:
    row = p.get("inventory", item_id, location, lot_id)
    if row is None:
        row = {"item_id": item_id, "location": location, "lot_id": lot_id, "qty": 0.0}
    row["qty"] = (row["qty"] or 0) + delta
    p.put("inventory", row, changes)
    return row["qty"]


def _shipment_shipped(p: _Plant, ev: dict, data: dict, changes: list) -> str:
    shipment_id = _id(data, "shipment_id")
    shipment = p.get("shipments", shipment_id)
    if shipment is None:
        raise _Reject(f"unknown shipment {shipment_id}")
    if shipment["status"] in ("shipped", "delivered"):
        return f"shipment {shipment_id} already {shipment['status']}"
    shipment["status"] = "shipped"
    p.put("shipments", shipment, changes)
    for lot_id in p.lots_by_shipment.get(shipment_id, []):
        lot = p.get("lots", lot_id)
        if lot is not None and lot["status"] != "shipped":
            lot["status"] = "shipped"
            p.put("lots", lot, changes)
    so_id, line_no = shipment["sales_order_id"], shipment["line_no"]
    text = f"shipment {shipment_id} shipped"
    siblings = p.shipments_by_line.get((so_id, line_no), [])
    if all(p.rows["shipments"][(s,)]["status"] in ("shipped", "delivered") for s in siblings):
        line = p.get("sales_orders", so_id, line_no)
        if line is not None and line["status"] == "open":
            line["status"] = "shipped"
            p.put("sales_orders", line, changes)
            text += f"; order {so_id}/{line_no} shipped"
    return text


def _inventory_adjusted(p: _Plant, ev: dict, data: dict, changes: list) -> str:
    item_id, location = _id(data, "item_id"), _id(data, "location")
    lot_id = _id(data, "lot_id", required=False)
    delta = _number(data, "qty_delta")
    if item_id not in p.known["items"]:
        raise _Reject(f"unknown item {item_id}")
    if lot_id:
        lot_item = p.item_of_lot.get(lot_id)
        if lot_item is None:
            raise _Reject(f"unknown lot {lot_id}")
        if lot_item != item_id:
            raise _Reject(f"lot {lot_id} holds item {lot_item}, not {item_id}")
    on_hand = _add_stock(p, item_id, location, lot_id, delta, changes)
    where = location + (f" lot {lot_id}" if lot_id else "")
    return f"inventory {item_id} at {where} {delta:+g} (now {on_hand:g})"


_HANDLERS: dict[str, Callable[[_Plant, dict, dict, list], str]] = {
    "machine.down": _machine_down,
    "machine.up": _machine_up,
    "hold.placed": _hold_placed,
    "hold.released": _hold_released,
    "order.confirmed": _order_confirmed,
    "order.changed": _order_changed,
    "order.cancelled": _order_cancelled,
    "operation.completed": _operation_completed,
    "receipt.posted": _receipt_posted,
    "shipment.shipped": _shipment_shipped,
    "inventory.adjusted": _inventory_adjusted,
}
assert set(_HANDLERS) == set(KNOWN_TYPES)


def _preload(p: _Plant, events: list[dict]) -> None:
    """Read every row the batch can touch, a few set-based queries per table."""
    wanted: dict[str, set] = {k: set() for k in (
        "machines", "customers", "items", "holds", "lots", "lines", "production_orders", "operations",
        "purchase_orders", "shipments", "stock")}
    receipts: list[tuple[str | None, str | None]] = []  # (purchase order, lot): the item comes from the PO
    for ev in events:
        data, kind = ev["data"], ev["type"]
        get = lambda name: _peek_id(data, name)  # noqa: E731
        if kind in ("machine.down", "machine.up"):
            wanted["machines"].add(get("machine_id"))
        elif kind in ("hold.placed", "hold.released"):
            wanted["holds"].add(get("hold_id"))
            wanted["lots"].add(get("lot_id"))
        elif kind.startswith("order."):
            wanted["lines"].add(_quiet(lambda: _so_key(data)))
            wanted["customers"].add(get("customer_id"))
            wanted["items"].add(get("item_id"))
        elif kind == "operation.completed":
            wanted["production_orders"].add(get("production_order_id"))
            wanted["operations"].add((get("production_order_id"), _quiet(lambda: _int(data, "op_seq"))))
        elif kind == "receipt.posted":
            wanted["purchase_orders"].add(get("purchase_order_id"))
            wanted["lots"].add(get("lot_id"))
            receipts.append((get("purchase_order_id"), get("lot_id")))
        elif kind == "shipment.shipped":
            wanted["shipments"].add(get("shipment_id"))
        elif kind == "inventory.adjusted":
            wanted["items"].add(get("item_id"))
            wanted["stock"].add((get("item_id"), get("location"), get("lot_id")))
            wanted["lots"].add(get("lot_id"))
    wanted["lines"].discard(None)

    p.load_known(wanted)
    p.load_by("machine_states", "machine_id", wanted["machines"])
    holds = sorted(wanted["holds"] - {None})
    placed_lots = sorted(wanted["lots"] - {None})
    if holds:
        # The holds named, and every active hold on their lots (a release must know the others).
        for hold in p.load(
            "quality_holds",
            "hold_id = ANY(?) OR (status = 'active' AND (lot_id = ANY(?) OR lot_id IN "
            "(SELECT lot_id FROM quality_holds WHERE hold_id = ANY(?))))",
            [holds, placed_lots, holds],
            absent=holds,
        ):
            wanted["lots"].add(hold["lot_id"])
    shipment_ids = sorted(wanted["shipments"] - {None})
    if shipment_ids:
        # The shipments named and every other shipment of their orders: a line ships when all of its do.
        named = p.load_by("shipments", "shipment_id", shipment_ids)
        shipments = p.load_by("shipments", "sales_order_id", {s["sales_order_id"] for s in named})
        wanted["lines"] |= {(s["sales_order_id"], s["line_no"]) for s in shipments}
        where, params = p.match("shipment_lots", "shipment_id", shipment_ids)
        rows = p.cur.execute(f"SELECT shipment_id, lot_id FROM shipment_lots WHERE {where}", params).fetchall()
        for shipment_id, lot_id in rows:
            p.lots_by_shipment.setdefault(shipment_id, []).append(lot_id)
            wanted["lots"].add(lot_id)
    p.load_by("purchase_orders", "purchase_order_id", wanted["purchase_orders"])
    for po_id, lot_id in receipts:
        po = p.get("purchase_orders", po_id)
        if po is not None:
            wanted["stock"].add((po["item_id"], RECEIVING_LOCATION, lot_id))
    p.load_by("lots", "lot_id", wanted["lots"])
    p.load_keys("sales_orders", wanted["lines"])
    p.load_by("production_orders", "production_order_id", wanted["production_orders"])
    orders = sorted(wanted["production_orders"] - {None})
    if orders:
        # Operations already done need not be read to know whether an order is complete; the ones
        # named are read whatever their status.
        named = sorted(_key_string(k) for k in wanted["operations"] if None not in k)
        where, params = p.match("operations", "production_order_id", orders)
        p.load("operations", f"{where} AND (status <> 'done' OR {_key_sql('operations')} = ANY(?))",
               params + [named])
    p.load_keys("inventory", wanted["stock"])


# ---------------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------------

_ARROW_TYPES = {
    "VARCHAR": pa.string(),
    "INTEGER": pa.int32(),
    "BIGINT": pa.int64(),
    "DOUBLE": pa.float64(),
    "TIMESTAMP": pa.timestamp("us"),
    "DATE": pa.date32(),
}


def _arrow(columns: list[str], types: list[str], rows: list[dict]) -> pa.Table:
    return pa.table({c: pa.array([r.get(c) for r in rows], type=_ARROW_TYPES[t]) for c, t in zip(columns, types)})


def _write_table(p: _Plant, name: str) -> None:
    inserts, updates, changed = p.dirty(name)
    if not inserts and not updates:
        return
    spec = contract_table(name)
    view = f"_changed_{name}"
    if updates:
        # By rowid, read in this same transaction: no join on the key over the whole table.
        data = {"_rowid": pa.array([rowid for rowid, _ in updates], pa.int64())}
        for c in changed:
            data[c] = pa.array([row[c] for _, row in updates], _ARROW_TYPES[spec.column(c).type])
        p.cur.register(view, pa.table(data))
        try:
            assignments = ", ".join(f'"{c}" = v."{c}"' for c in changed)
            p.cur.execute(f'UPDATE "{name}" AS t SET {assignments} FROM {view} AS v WHERE t.rowid = v._rowid')
        finally:
            p.cur.unregister(view)
    if inserts:
        cols = p.columns[name]
        quoted = ", ".join(f'"{c}"' for c in cols)
        p.cur.register(view, _arrow(cols, [spec.column(c).type for c in cols], inserts))
        try:
            p.cur.execute(f'INSERT INTO "{name}" ({quoted}) SELECT {quoted} FROM {view}')
        finally:
            p.cur.unregister(view)


_LOG_COLUMNS = [
    ("source", "VARCHAR"), ("event_id", "VARCHAR"), ("sequence", "BIGINT"), ("type", "VARCHAR"),
    ("event_time", "TIMESTAMP"), ("received_at", "TIMESTAMP"), ("applied_at", "TIMESTAMP"),
    ("outcome", "VARCHAR"), ("reason", "VARCHAR"), ("changes", "VARCHAR"), ("data", "VARCHAR"),
    ("feed", "VARCHAR"),
]


def _write_event_log(cur: duckdb.DuckDBPyConnection, records: list[dict]) -> None:
    if not records:
        return
    cols = [c for c, _ in _LOG_COLUMNS]
    cur.register("_new_events", _arrow(cols, [t for _, t in _LOG_COLUMNS], records))
    try:
        quoted = ", ".join(cols)
        cur.execute(f"INSERT INTO event_log ({quoted}) SELECT {quoted} FROM _new_events")
    finally:
        cur.unregister("_new_events")


def _write_cursor(cur: duckdb.DuckDBPyConnection, feed: str, sequence: int | None, position: int | None,
                  now: datetime, file_identity: tuple | None = None) -> None:
    identity, head = file_identity if file_identity is not None else (None, None)
    cur.execute(
        """
        INSERT INTO feed_cursors (feed, last_sequence, etag, updated_at, position, file_identity, file_head)
        VALUES (?, ?, NULL, ?, ?, ?, ?)
        ON CONFLICT (feed) DO UPDATE SET
            last_sequence = coalesce(excluded.last_sequence, feed_cursors.last_sequence),
            position = coalesce(excluded.position, feed_cursors.position),
            file_identity = coalesce(excluded.file_identity, feed_cursors.file_identity),
            file_head = coalesce(excluded.file_head, feed_cursors.file_head),
            updated_at = excluded.updated_at
        """,
        [feed, sequence, now, position, identity, head],
    )


# ---------------------------------------------------------------------------------------------------
# Applying a batch
# ---------------------------------------------------------------------------------------------------


def _precise_now() -> datetime:
    # Lag is measured in fractions of a second, so keep the microseconds timeutil.utcnow drops.
    return datetime.now(timezone.utc).replace(tzinfo=None)


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


def _first(cur: duckdb.DuckDBPyConnection, sql: str, params: list) -> tuple | None:
    # fetchall, not fetchone: DuckDB refuses further work on a cursor with an unfinished result.
    rows = cur.execute(sql, params).fetchall()
    return rows[0] if rows else None


def feed_cursor(cur: duckdb.DuckDBPyConnection, feed: str) -> int | None:
    """The last sequence applied from `feed` (None before its first event with a sequence)."""
    row = _first(cur, "SELECT last_sequence FROM feed_cursors WHERE feed = ?", [feed])
    return row[0] if row else None


def feed_position(cur: duckdb.DuckDBPyConnection, feed: str) -> int:
    """A file feed's byte offset after the last complete line it consumed (0 at the start)."""
    row = _first(cur, "SELECT position FROM feed_cursors WHERE feed = ?", [feed])
    return int(row[0]) if row and row[0] is not None else 0


def feed_file_identity(cur: duckdb.DuckDBPyConnection, feed: str) -> tuple[str | None, str | None]:
    """The (device:inode, head fingerprint) of the file a file feed's position is in, as stored with
    it; (None, None) before the first read, or for a cursor from an older version."""
    row = _first(cur, "SELECT file_identity, file_head FROM feed_cursors WHERE feed = ?", [feed])
    return (row[0], row[1]) if row else (None, None)


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
) -> ApplyResult:
    """Apply a batch of events in one transaction with their history and the feed's cursor.

    `events` are CloudEvents structured JSON objects (or `parse_event` results). They are applied in
    `sequence` order (events without a sequence after those with one, in arrival order). An event is
    a duplicate, and not applied again, when its source+id is already in the log or earlier in the
    batch, or (HTTP feeds, paged by ?after=) its sequence is at or below the feed's cursor. A file feed
    (`position` given) is read by byte offset, so there a sequence at or below the cursor may be a new
    event (another producer numbering its own): only source+id decide. Unknown types are kept (unknown_type);
    malformed events and events naming something the store does not hold are kept as rejected with the
    reason; neither stops the batch. `position` (file feeds) is stored with the cursor.

    `received_at` is when the batch arrived (default: now); a normalised event may carry its own
    `received_at` (the poller stamps each page as it arrives), which wins.

    `file_identity` (file feeds) is (device:inode, head fingerprint) of the file `position` is in,
    stored with it so a replaced or truncated file is noticed (see `feed_file_identity`).

    `feed` is stored and shown, so it is redacted here too: a URL never keeps its credentials.

    `clock` stamps applied_at (default: the real UTC clock); a replay passes its own clock so lags are
    measured in the replay's time.

    Raises PartlyApplied (with what was committed) if the store fails while the batch is being
    applied one event at a time.

    On a large plant the first call also creates the lookup indexes (see `_LOOKUP_INDEXES`), after
    the batch is committed: about a second, once.
    """
    clock = clock or _precise_now
    received_at = received_at or clock()
    feed = redact_text(redact_url(feed), feed)
    normalised = [e if is_normalised(e) else parse_event(e, fallback_source=feed) for e in events]
    missing_indexes: list[tuple[str, str]] = []
    by_sequence = position is None
    with store.write_lock:
        cur = store.cursor()
        try:
            try:
                result = _apply_in_transaction(cur, normalised, feed=feed, received_at=received_at,
                                               position=position, file_identity=file_identity,
                                               missing_indexes=missing_indexes, clock=clock, by_sequence=by_sequence)
            except _WRITE_ERRORS:
                # Something the validators let through failed the batch's write. Rather than fail
                # this batch (and so every later poll) forever, apply its events one at a time so
                # only the culprit is lost, kept as rejected with the error.
                missing_indexes.clear()
                result = _apply_one_by_one(cur, normalised, feed=feed, received_at=received_at,
                                           position=position, file_identity=file_identity,
                                           missing_indexes=missing_indexes, clock=clock, by_sequence=by_sequence)
            if missing_indexes:
                _create_lookup_indexes(store, cur, missing_indexes)
        finally:
            cur.close()
    return result


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


def _apply_one_by_one(cur, events: list[dict], *, feed: str, received_at: datetime, position: int | None,
                      file_identity: tuple | None, missing_indexes: list, clock: Callable[[], datetime],
                      by_sequence: bool) -> ApplyResult:
    """The slow path for a batch that failed as a whole: each event in its own transaction, in the
    batch's order; the batch's file position is stored with the last one. Should even that fail,
    PartlyApplied carries what was committed before."""
    order = sorted(range(len(events)), key=lambda i: (events[i]["sequence"] is None, events[i]["sequence"] or 0, i))
    total = ApplyResult()
    try:
        for n, i in enumerate(order):
            ev = events[i]
            here = position if n == len(order) - 1 else None
            where = file_identity if here is not None else None
            try:
                one = _apply_in_transaction(cur, [ev], feed=feed, received_at=received_at, position=here,
                                            file_identity=where, missing_indexes=missing_indexes, clock=clock,
                                            by_sequence=by_sequence)
            except _WRITE_ERRORS as exc:
                reason = f"could not be stored: {type(exc).__name__}: {exc}".splitlines()[0][:300]
                # Log it without what may have failed the write (an out-of-range sequence or time, text
                # that is not Unicode).
                kept = {**ev, "error": _storable(reason), "type": None, "sequence": None, "time": None,
                        "source": _storable(ev["source"]), "id": _storable(ev["id"])}
                one = _apply_in_transaction(cur, [kept], feed=feed, received_at=received_at, position=here,
                                            file_identity=where, missing_indexes=None, clock=clock,
                                            by_sequence=by_sequence)
            total.merge(one)
        if not order and position is not None:
            total = _apply_in_transaction(cur, [], feed=feed, received_at=received_at, position=position,
                                          file_identity=file_identity, missing_indexes=None, clock=clock)
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


# Lookup indexes that could not be created, per store: not tried again on every batch (a failed build
# can cost as long as a good one).
_FAILED_INDEXES: "weakref.WeakKeyDictionary[Store, set[tuple[str, str]]]" = weakref.WeakKeyDictionary()


def _create_lookup_indexes(store: Store, cur: duckdb.DuckDBPyConnection, wanted: list[tuple[str, str]]) -> None:
    """Create the lookup indexes, each in its own short transaction (the batch is already visible).
    They only make lookups faster, so a failure leaves that lookup a scan."""
    failed = _FAILED_INDEXES.setdefault(store, set())
    for table_name, column in wanted:
        if (table_name, column) in failed:
            continue
        try:
            cur.execute(f'CREATE INDEX IF NOT EXISTS "{_index_name(table_name, column)}" '
                        f'ON "{table_name}" ("{column}")')
        except duckdb.Error:
            failed.add((table_name, column))


def _apply(cur, events: list[dict], *, feed: str, received_at: datetime, position: int | None,
           file_identity: tuple | None = None, missing_indexes: list | None = None,
           clock: Callable[[], datetime] = _precise_now, by_sequence: bool = True) -> ApplyResult:
    result = ApplyResult()
    cursor = feed_cursor(cur, feed)
    order = sorted(range(len(events)), key=lambda i: (events[i]["sequence"] is None, events[i]["sequence"] or 0, i))
    events = [events[i] for i in order]
    highest = cursor

    # Duplicates: seen earlier in this batch, already in the log, or (by_sequence) at/below the cursor.
    fresh: list[dict] = []
    seen: set[tuple[str, str]] = set()
    for ev in events:
        seq = ev["sequence"]
        if seq is not None:
            highest = seq if highest is None else max(highest, seq)
        key = (ev["source"], ev["id"])
        if (by_sequence and seq is not None and cursor is not None and seq <= cursor) or key in seen:
            result.duplicates += 1
            continue
        seen.add(key)
        fresh.append(ev)
    if fresh:
        cur.register("_incoming", pa.table({
            "source": pa.array([e["source"] for e in fresh], pa.string()),
            "event_id": pa.array([e["id"] for e in fresh], pa.string()),
        }))
        try:
            logged = set(cur.execute(
                "SELECT l.source, l.event_id FROM event_log AS l JOIN _incoming AS i USING (source, event_id)"
            ).fetchall())
        finally:
            cur.unregister("_incoming")
        if logged:
            result.duplicates += sum(1 for e in fresh if (e["source"], e["id"]) in logged)
            fresh = [e for e in fresh if (e["source"], e["id"]) not in logged]

    plant = _Plant(cur)
    if missing_indexes is not None:
        missing_indexes.extend(plant.unindexed)
    playable = [e for e in fresh if e["error"] is None and e["type"] in _HANDLERS]
    _preload(plant, playable)

    outcomes: list[tuple[dict, str, str | None, list]] = []
    for ev in fresh:
        changes: list[dict] = []
        if ev["error"] is not None:
            outcomes.append((ev, REJECTED, ev["error"], changes))
            continue
        handler = _HANDLERS.get(ev["type"])
        if handler is None:
            outcomes.append((ev, UNKNOWN_TYPE, None, changes))
            continue
        try:
            summary = handler(plant, ev, ev["data"], changes)
        except _Reject as exc:
            # Changes are only recorded after every check passed, so a rejected event left nothing.
            outcomes.append((ev, REJECTED, str(exc), []))
            continue
        result.changed.append(summary)
        outcomes.append((ev, APPLIED, None, changes))

    for name in _KEYS:
        _write_table(plant, name)
    for _, outcome, _, changes in outcomes:
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
            result.rejections.append((ev["id"], reason))
        records.append({
            "source": ev["source"], "event_id": ev["id"], "sequence": ev["sequence"], "type": ev["type"],
            "event_time": ev["time"], "received_at": ev.get("received_at") or received_at,
            "applied_at": applied_at if outcome == APPLIED else None,
            "outcome": outcome, "reason": reason,
            "changes": json.dumps(changes, ensure_ascii=False, separators=(",", ":")) if changes else None,
            "data": _raw_json(ev), "feed": feed,
        })
    _write_event_log(cur, records)
    _write_cursor(cur, feed, highest, position, applied_at, file_identity)
    result.last_sequence = highest
    return result


# ---------------------------------------------------------------------------------------------------
# History and lag
# ---------------------------------------------------------------------------------------------------


def describe_event(kind: str | None, data: Any) -> str:
    """A one-line description of an event from its data alone (for lists and the console's history)."""
    if not isinstance(data, dict):
        return kind or "?"
    d = {k: v for k, v in data.items() if v is not None}
    line = f"{d.get('sales_order_id')}/{d.get('line_no')}"
    texts = {
        "machine.down": f"{d.get('machine_id')} down" + (f": {d['reason']}" if d.get("reason") else "")
        + (f" (expected {d['expected_minutes']} min)" if d.get("expected_minutes") is not None else ""),
        "machine.up": f"{d.get('machine_id')} running",
        "hold.placed": f"hold {d.get('hold_id')} on lot {d.get('lot_id')}" + (f": {d['reason']}" if d.get("reason") else ""),
        "hold.released": f"hold {d.get('hold_id')} released",
        "order.confirmed": f"{line} confirmed: {d.get('qty')} x {d.get('item_id')} for {d.get('customer_id')}, "
        f"promised {d.get('promised_date')}",
        "order.changed": f"{line} changed: " + ", ".join(f"{k} {d[k]}" for k in ("qty", "promised_date") if k in d),
        "order.cancelled": f"{line} cancelled",
        "operation.completed": f"{d.get('production_order_id')}/{d.get('op_seq')} done",
        "receipt.posted": f"{d.get('qty')} received on {d.get('purchase_order_id')}"
        + (f" into lot {d['lot_id']}" if d.get("lot_id") else ""),
        "shipment.shipped": f"shipment {d.get('shipment_id')} shipped",
        "inventory.adjusted": f"{d.get('item_id')} at {d.get('location')}"
        + (f" lot {d['lot_id']}" if d.get("lot_id") else "") + f" {d.get('qty_delta')}",
    }
    return texts.get(kind or "", kind or "?")


def event_history(
    cur: duckdb.DuckDBPyConnection,
    *,
    type: str | None = None,  # noqa: A002 - the CloudEvents attribute's name
    since: datetime | None = None,
    limit: int | None = None,
    outcome: str | None = None,
) -> list[dict]:
    """The event log, oldest first; with `limit`, the most recent `limit` events.

    `type` is an exact type, or a prefix ending in `.` or `.*` ("machine.*"); `since` compares with the
    event's own time (its arrival time when it had none).
    """
    where, params = [], []
    if type:
        if type.endswith(".*") or type.endswith("."):
            where.append("starts_with(type, ?)")
            params.append(type.rstrip("*"))
        else:
            where.append("type = ?")
            params.append(type)
    if since is not None:
        where.append("coalesce(event_time, received_at) >= ?")
        params.append(since)
    if outcome:
        where.append("outcome = ?")
        params.append(outcome)
    sql = (
        "SELECT source, event_id, sequence, type, event_time, received_at, applied_at, outcome, reason, "
        "changes, data, feed FROM event_log"
        + (" WHERE " + " AND ".join(where) if where else "")
        + " ORDER BY coalesce(event_time, received_at) DESC, received_at DESC, sequence DESC NULLS LAST"
    )
    if limit is not None:
        sql += " LIMIT ?"
        params.append(int(limit))
    rows = cur.execute(sql, params).fetchall()
    history = []
    shown: dict[str, str] = {}  # a database an older version wrote may hold feed URLs with credentials

    def redacted(text: str | None) -> str | None:
        if text is None or "://" not in text:
            return text
        if text not in shown:
            shown[text] = redact_text(redact_url(text), text)
        return shown[text]

    for (source, event_id, sequence, kind, event_time, received, applied, outcome_, reason, changes, data,
         feed) in reversed(rows):
        raw = json.loads(data) if data else {}
        payload = raw.get("data") if isinstance(raw, dict) else None
        history.append({
            "source": redacted(source), "id": event_id, "sequence": sequence, "type": kind, "time": event_time,
            "received_at": received, "applied_at": applied, "outcome": outcome_, "reason": reason,
            "lag_seconds": round((applied - event_time).total_seconds(), 3) if applied and event_time else None,
            "changes": json.loads(changes) if changes else [],
            "summary": describe_event(kind, payload),
            "data": payload,
            "feed": redacted(feed),
        })
    return history


def lag_stats(cur: duckdb.DuckDBPyConnection, since: datetime | None = None) -> dict:
    """Event time to applied time for applied events: count, p50, p95 and max seconds, and the latest.

    This is the "order-to-production lag" the console shows: how long the floor's news took to reach
    the planner's screen.
    """
    params: list[Any] = []
    where = "outcome = 'applied' AND event_time IS NOT NULL"
    if since is not None:
        where += " AND event_time >= ?"
        params.append(since)
    row = _first(
        cur,
        f"""
        SELECT count(*),
               quantile_cont(lag, 0.5), quantile_cont(lag, 0.95), max(lag),
               arg_max(lag, applied_at)
        FROM (SELECT epoch(applied_at) - epoch(event_time) AS lag, applied_at FROM event_log WHERE {where})
        """,
        params,
    )
    count, p50, p95, worst, latest = row
    rounded = lambda v: None if v is None else round(float(v), 3)  # noqa: E731
    return {"count": int(count), "p50": rounded(p50), "p95": rounded(p95), "max": rounded(worst),
            "latest": rounded(latest)}
