"""inventory.adjusted: on-hand stock of an item at a location (and lot) changes by a delta."""

from __future__ import annotations

from planner_tui.store.events.base import EventType
from planner_tui.store.events.fields import Reject, get_id, get_number, peek_id
from planner_tui.store.events.working import Plant, Wanted, add_stock


def wants(data: dict, wanted: Wanted) -> None:
    item_id, lot_id = peek_id(data, "item_id"), peek_id(data, "lot_id")
    wanted.add("items", item_id)
    wanted.add("stock", (item_id, peek_id(data, "location"), lot_id))
    wanted.add("lots", lot_id)


def apply(p: Plant, ev: dict, data: dict, changes: list) -> str:
    item_id, location = get_id(data, "item_id"), get_id(data, "location")
    lot_id = get_id(data, "lot_id", required=False)
    delta = get_number(data, "qty_delta")
    if item_id not in p.known["items"]:
        raise Reject(f"unknown item {item_id}")
    if lot_id:
        lot_item = p.item_of_lot.get(lot_id)
        if lot_item is None:
            raise Reject(f"unknown lot {lot_id}")
        if lot_item != item_id:
            raise Reject(f"lot {lot_id} holds item {lot_item}, not {item_id}")
    on_hand = add_stock(p, item_id, location, lot_id, delta, changes)
    where = location + (f" lot {lot_id}" if lot_id else "")
    return f"inventory {item_id} at {where} {delta:+g} (now {on_hand:g})"


def describe(d: dict) -> str:
    return (
        f"{d.get('item_id')} at {d.get('location')}"
        + (f" lot {d['lot_id']}" if d.get("lot_id") else "")
        + f" {d.get('qty_delta')}"
    )


TYPE = EventType(
    name="inventory.adjusted",
    keys=("item_id", "location", "lot_id", "qty_delta"),
    wants=wants,
    apply=apply,
    describe=describe,
    raises=("shortage",),
)
