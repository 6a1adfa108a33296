"""machine.up: a machine runs again (state `running`, reason and estimate cleared)."""

from __future__ import annotations

from planner_tui.store.events.base import EventType
from planner_tui.store.events.fields import Reject, get_id, peek_id
from planner_tui.store.events.working import Plant, Wanted


def wants(data: dict, wanted: Wanted) -> None:
    wanted.add("machines", peek_id(data, "machine_id"))


def apply(p: Plant, ev: dict, data: dict, changes: list) -> str:
    machine_id = get_id(data, "machine_id")
    if machine_id not in p.known["machines"]:
        raise Reject(f"unknown machine {machine_id}")
    p.put(
        "machine_states",
        {"machine_id": machine_id, "state": "running", "since": ev["time"], "reason": None, "expected_minutes": None},
        changes,
    )
    return f"machine {machine_id} running"


def describe(d: dict) -> str:
    return f"{d.get('machine_id')} running"


TYPE = EventType(
    name="machine.up",
    keys=("machine_id",),
    wants=wants,
    apply=apply,
    describe=describe,
    raises=("machine_down",),
)
