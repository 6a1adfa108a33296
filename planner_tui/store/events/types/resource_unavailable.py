"""resource.unavailable: a person, tool or crew an operation needs is not there (state `unavailable` since
the event's time, with a reason and an estimate)."""

from __future__ import annotations

from planner_tui.present import duration
from planner_tui.store.events.base import EventType
from planner_tui.store.events.fields import Reject, get_id, get_int, get_text, peek_id
from planner_tui.store.events.working import Plant, Wanted


def wants(data: dict, wanted: Wanted) -> None:
    wanted.add("resources", peek_id(data, "resource_id"))


def apply(p: Plant, ev: dict, data: dict, changes: list) -> str:
    resource_id = get_id(data, "resource_id")
    reason = get_text(data, "reason")
    expected = get_int(data, "expected_minutes", required=False, minimum=0)
    if resource_id not in p.known["resources"]:
        raise Reject(f"unknown resource {resource_id}")
    p.put(
        "resource_states",
        {
            "resource_id": resource_id,
            "state": "unavailable",
            "since": ev["time"],
            "reason": reason,
            "expected_minutes": expected,
        },
        changes,
    )
    text = f"resource {resource_id} unavailable"
    if reason:
        text += f": {reason}"
    if expected is not None:
        text += f" (expected {duration(expected)})"
    return text


def describe(d: dict) -> str:
    return (
        f"{d.get('resource_id')} unavailable"
        + (f": {d['reason']}" if d.get("reason") else "")
        + (f" (expected {duration(d['expected_minutes'])})" if d.get("expected_minutes") is not None else "")
    )


TYPE = EventType(
    name="resource.unavailable",
    keys=("resource_id", "reason", "expected_minutes"),
    wants=wants,
    apply=apply,
    describe=describe,
    raises=("resource_unavailable",),
)
