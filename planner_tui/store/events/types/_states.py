"""Event types that set a row of a state table: a machine down or running again (`machine_states`), a
resource unavailable or available again (`resource_states`). One shape, so one builder: the event names
its subject by `<subject>_id`; a stop carries a reason and an expected length, a return clears both."""

from __future__ import annotations

from dataclasses import dataclass

from planner_tui.present import duration
from planner_tui.store.events.base import EventType
from planner_tui.store.events.fields import Reject, get_id, get_int, get_text, peek_id
from planner_tui.store.events.working import Plant, Wanted


@dataclass(frozen=True)
class Subject:
    word: str  # "machine", "resource": the id column is `<word>_id`
    known: str  # which of the working set's `known` ids it must be among ("machines", "resources")
    table: str  # the state table ("machine_states")
    raises: str  # the exception kind it raises or clears

    @property
    def key(self) -> str:
        return f"{self.word}_id"


def state_event(name: str, subject: Subject, state: str, *, stop: bool) -> EventType:
    """The EventType `name` setting `subject`'s state to `state` since the event's time: with a reason and
    expected_minutes when `stop`, clearing them otherwise."""
    key = subject.key

    def wants(data: dict, wanted: Wanted) -> None:
        wanted.add(subject.known, peek_id(data, key))

    def apply(p: Plant, ev: dict, data: dict, changes: list) -> str:
        subject_id = get_id(data, key)
        reason = get_text(data, "reason") if stop else None
        expected = get_int(data, "expected_minutes", required=False, minimum=0) if stop else None
        if subject_id not in p.known[subject.known]:
            raise Reject(f"unknown {subject.word} {subject_id}")
        row = {key: subject_id, "state": state, "since": ev["time"], "reason": reason, "expected_minutes": expected}
        p.put(subject.table, row, changes)
        text = f"{subject.word} {subject_id} {state}"
        if reason:
            text += f": {reason}"
        if expected is not None:
            text += f" (expected {duration(expected)})"
        return text

    def describe(d: dict) -> str:
        return (
            f"{d.get(key)} {state}"
            + (f": {d['reason']}" if stop and d.get("reason") else "")
            + (
                f" (expected {duration(d['expected_minutes'])})"
                if stop and d.get("expected_minutes") is not None
                else ""
            )
        )

    return EventType(
        name=name,
        keys=(key, "reason", "expected_minutes") if stop else (key,),
        wants=wants,
        apply=apply,
        describe=describe,
        raises=(subject.raises,),
    )


MACHINE = Subject("machine", "machines", "machine_states", "machine_down")
RESOURCE = Subject("resource", "resources", "resource_states", "resource_unavailable")
