"""Answers as JSON, both ways: what `--json` prints, what the plant server sends, and reading it back.

Times are written as `timeutil.iso` writes them (`2026-11-25T08:00:00`, naive UTC) and dates as
`2026-11-25`; `loads` turns strings of exactly those shapes back into datetime and date, so an answer read
from the server is the same Python value the in-process plant returns.
"""

from __future__ import annotations

import json
import math
import re
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from planner_tui.errors import PlannerError
from planner_tui.timeutil import iso


def _json_default(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return iso(value)
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if hasattr(value, "to_dict"):
        return value.to_dict()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _finite(value: Any) -> Any:
    """`value` with every NaN and infinity replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_finite(item) for item in value]
    if hasattr(value, "to_dict"):
        return _finite(value.to_dict())
    return value


def to_json(obj: Any, *, indent: int | None = 2) -> str:
    """The answer as JSON: times in ISO 8601, NaN and infinity as null (a script's parser refuses them)."""
    try:
        return json.dumps(obj, default=_json_default, indent=indent, ensure_ascii=False, allow_nan=False)
    except ValueError:
        pass
    # The walk is paid only by an answer that holds a non-finite number.
    try:
        return json.dumps(_finite(obj), default=_json_default, indent=indent, ensure_ascii=False, allow_nan=False)
    except (ValueError, RecursionError) as exc:
        raise PlannerError(f"cannot write the answer as JSON: {exc}") from None


_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _revive(value: Any) -> Any:
    if isinstance(value, str):
        if len(value) == 19 and _DATETIME.match(value):
            try:
                return datetime.fromisoformat(value)
            except ValueError:
                return value
        if len(value) == 10 and _DATE.match(value):
            try:
                return date.fromisoformat(value)
            except ValueError:
                return value
        return value
    if isinstance(value, list):
        return [_revive(item) for item in value]
    if isinstance(value, dict):
        return {key: _revive(item) for key, item in value.items()}
    return value


def loads(text: str | bytes) -> Any:
    """JSON written by `to_json`, with its times and dates as datetime and date again."""
    return _revive(json.loads(text))
