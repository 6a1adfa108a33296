"""machine.down: a machine stops (state `down` since the event's time, with a reason and an estimate)."""

from __future__ import annotations

from planner_tui.present import duration
from planner_tui.store.events.base import EventType
from planner_tui.store.events.fields import Reject, get_id, get_int, get_text, peek_id
from planner_tui.store.events.working import Plant, Wanted


def wants(data: dict, wanted: Wanted) -> None:
    wanted.add("machines", peek_id(data, "machine_id"))


def apply(p: Plant, ev: dict, data: dict, changes: list) -> str:
    machine_id = get_id(data, "machine_id")
    reason = get_text(data, "reason")
    expected = get_int(data, "expected_minutes", required=False, minimum=0)
    if machine_id not in p.known["machines"]:
        raise Reject(f"unknown machine {machine_id}")
    p.put(
        "machine_states",
        {
            "machine_id": machine_id,
            "state": "down",
            "since": ev["time"],
            "reason": reason,
            "expected_minutes": expected,
        },
        changes,
    )
    text = f"machine {machine_id} down"
    if reason:
        text += f": {reason}"
    if expected is not None:
        text += f" (expected {duration(expected)})"
    return text


def describe(d: dict) -> str:
    return (
        f"{d.get('machine_id')} down"
        + (f": {d['reason']}" if d.get("reason") else "")
        + (f" (expected {duration(d['expected_minutes'])})" if d.get("expected_minutes") is not None else "")
    )


TYPE = EventType(
    name="machine.down",
    keys=("machine_id", "reason", "expected_minutes"),
    wants=wants,
    apply=apply,
    describe=describe,
    raises=("machine_down",),
)
