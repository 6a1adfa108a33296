"""Reading one field of an event's `data`: each reader returns the value or raises Reject with the reason
kept in the history (`data.qty must be greater than 0`). Event types use them in their `apply`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any, Literal, overload

from planner_tui.store.events.envelope import MAX_INTEGER


class Reject(Exception):
    """An event that cannot be applied; its message is the reason kept in the log."""


@overload
def get_id(data: dict, name: str, *, required: Literal[True] = True) -> str: ...
@overload
def get_id(data: dict, name: str, *, required: bool) -> str | None: ...


def get_id(data: dict, name: str, *, required: bool = True) -> str | None:
    value = data.get(name)
    if value is None or value == "":
        if required:
            raise Reject(f"data.{name} is missing")
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise Reject(f"data.{name} must be a string")
    return str(value)


def get_text(data: dict, name: str) -> str | None:
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, (dict, list)):
        raise Reject(f"data.{name} must be text")
    return str(value)


@overload
def get_int(data: dict, name: str, *, required: Literal[True] = True, minimum: int | None = None) -> int: ...
@overload
def get_int(data: dict, name: str, *, required: bool, minimum: int | None = None) -> int | None: ...


def get_int(data: dict, name: str, *, required: bool = True, minimum: int | None = None) -> int | None:
    value = data.get(name)
    if value is None or value == "":
        if required:
            raise Reject(f"data.{name} is missing")
        return None
    if isinstance(value, bool):
        raise Reject(f"data.{name} must be an integer")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value.strip())
    if not isinstance(value, int):
        raise Reject(f"data.{name} must be an integer, got {value!r}")
    if minimum is not None and value < minimum:
        raise Reject(f"data.{name} must be at least {minimum}, got {value}")
    if not -MAX_INTEGER - 1 <= value <= MAX_INTEGER:
        raise Reject(f"data.{name} must be at most {MAX_INTEGER}, got {value}")
    return value


def get_number(data: dict, name: str, *, positive: bool = False) -> float:
    value = data.get(name)
    if value is None:
        raise Reject(f"data.{name} is missing")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise Reject(f"data.{name} must be a number, got {value!r}")
    if value != value or value in (float("inf"), float("-inf")):
        raise Reject(f"data.{name} must be a finite number")
    if positive and value <= 0:
        raise Reject(f"data.{name} must be greater than 0, got {value}")
    return float(value)


def get_date(data: dict, name: str) -> date:
    value = data.get(name)
    if value is None or value == "":
        raise Reject(f"data.{name} is missing")
    if not isinstance(value, str):
        raise Reject(f"data.{name} must be a date (YYYY-MM-DD)")
    try:
        return date.fromisoformat(value.strip()[:10])
    except ValueError:
        raise Reject(f"data.{name} {value!r} is not a date (YYYY-MM-DD)") from None


def so_key(data: dict) -> tuple[str, int]:
    return get_id(data, "sales_order_id"), get_int(data, "line_no", minimum=0)


def peek_id(data: dict, name: str) -> str | None:
    """An id for reading ahead, or None when absent or malformed (applying reports those)."""
    value = data.get(name)
    if isinstance(value, str):
        return value or None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def quiet(fn: Callable[[], Any]) -> Any:
    """The value, or None when the data is malformed (key collection must not reject: applying does)."""
    try:
        return fn()
    except Reject:
        return None
