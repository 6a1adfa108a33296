"""resource.available: the person, tool or crew is back (state `available`, reason and estimate cleared)."""

from __future__ import annotations

from planner_tui.store.events.base import EventType
from planner_tui.store.events.fields import Reject, get_id, peek_id
from planner_tui.store.events.working import Plant, Wanted


def wants(data: dict, wanted: Wanted) -> None:
    wanted.add("resources", peek_id(data, "resource_id"))


def apply(p: Plant, ev: dict, data: dict, changes: list) -> str:
    resource_id = get_id(data, "resource_id")
    if resource_id not in p.known["resources"]:
        raise Reject(f"unknown resource {resource_id}")
    p.put(
        "resource_states",
        {
            "resource_id": resource_id,
            "state": "available",
            "since": ev["time"],
            "reason": None,
            "expected_minutes": None,
        },
        changes,
    )
    return f"resource {resource_id} available"


def describe(d: dict) -> str:
    return f"{d.get('resource_id')} available"


TYPE = EventType(
    name="resource.available",
    keys=("resource_id",),
    wants=wants,
    apply=apply,
    describe=describe,
    raises=("resource_unavailable",),
)
