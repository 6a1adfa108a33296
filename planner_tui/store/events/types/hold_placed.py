"""hold.placed: a quality hold on a lot (a released lot goes on `hold`)."""

from __future__ import annotations

from planner_tui.store.events.base import EventType
from planner_tui.store.events.fields import Reject, get_id, get_text, peek_id
from planner_tui.store.events.working import Plant, Wanted


def wants(data: dict, wanted: Wanted) -> None:
    wanted.add("holds", peek_id(data, "hold_id"))
    wanted.add("lots", peek_id(data, "lot_id"))


def apply(p: Plant, ev: dict, data: dict, changes: list) -> str:
    hold_id, lot_id = get_id(data, "hold_id"), get_id(data, "lot_id")
    reason, placed_by = get_text(data, "reason"), get_text(data, "placed_by")
    lot = p.get("lots", lot_id)
    if lot is None:
        raise Reject(f"unknown lot {lot_id}")
    existing = p.get("quality_holds", hold_id)
    if existing is not None:
        if existing["status"] == "active" and existing["lot_id"] == lot_id:
            return f"hold {hold_id} on lot {lot_id} already active"
        raise Reject(f"hold {hold_id} already exists (lot {existing['lot_id']}, {existing['status']})")
    p.put(
        "quality_holds",
        {
            "hold_id": hold_id,
            "lot_id": lot_id,
            "reason": reason,
            "placed_at": ev["time"],
            "placed_by": placed_by,
            "status": "active",
        },
        changes,
    )
    # A lot that already left (shipped) or was used up (consumed) keeps that status: the hold row
    # records the hold, and the trace must still see where the lot went.
    if lot["status"] == "released":
        lot["status"] = "hold"
        p.put("lots", lot, changes)
    return f"hold {hold_id} placed on lot {lot_id} ({lot['status']})" + (f": {reason}" if reason else "")


def describe(d: dict) -> str:
    return f"hold {d.get('hold_id')} on lot {d.get('lot_id')}" + (f": {d['reason']}" if d.get("reason") else "")


TYPE = EventType(
    name="hold.placed",
    keys=("hold_id", "lot_id", "reason", "placed_by"),
    wants=wants,
    apply=apply,
    describe=describe,
    raises=("quality_hold",),
)
