"""hold.released: a quality hold ends (its lot is released when no other active hold remains)."""

from __future__ import annotations

from planner_tui.store.events.base import EventType
from planner_tui.store.events.fields import Reject, get_id, peek_id
from planner_tui.store.events.working import Plant, Wanted


def wants(data: dict, wanted: Wanted) -> None:
    wanted.add("holds", peek_id(data, "hold_id"))
    wanted.add("lots", peek_id(data, "lot_id"))


def apply(p: Plant, ev: dict, data: dict, changes: list) -> str:
    hold_id = get_id(data, "hold_id")
    hold = p.get("quality_holds", hold_id)
    if hold is None:
        raise Reject(f"unknown hold {hold_id}")
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


def describe(d: dict) -> str:
    return f"hold {d.get('hold_id')} released"


TYPE = EventType(
    name="hold.released",
    keys=("hold_id",),
    wants=wants,
    apply=apply,
    describe=describe,
    raises=("quality_hold",),
)
