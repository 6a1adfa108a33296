"""receipt.posted: purchased stock arrives on a purchase order, booked at RECEIVING."""

from __future__ import annotations

from planner_tui.store.events.base import EventType
from planner_tui.store.events.fields import Reject, get_id, get_number, peek_id
from planner_tui.store.events.working import Plant, Wanted, add_stock

# Where received purchased stock is booked (a receipt names no location).
RECEIVING_LOCATION = "RECEIVING"


def wants(data: dict, wanted: Wanted) -> None:
    wanted.add("purchase_orders", peek_id(data, "purchase_order_id"))
    wanted.add("lots", peek_id(data, "lot_id"))
    wanted.po_stock.append((peek_id(data, "purchase_order_id"), RECEIVING_LOCATION, peek_id(data, "lot_id")))


def apply(p: Plant, ev: dict, data: dict, changes: list) -> str:
    po_id = get_id(data, "purchase_order_id")
    qty = get_number(data, "qty", positive=True)
    lot_id = get_id(data, "lot_id", required=False)
    po = p.get("purchase_orders", po_id)
    if po is None:
        raise Reject(f"unknown purchase order {po_id}")
    if po["status"] == "cancelled":
        raise Reject(f"purchase order {po_id} is cancelled")
    item_id = po["item_id"]
    lot = p.get("lots", lot_id) if lot_id else None
    if lot is not None and lot["item_id"] != item_id:
        raise Reject(f"lot {lot_id} holds item {lot['item_id']}, not {item_id} of {po_id}")
    if po["status"] == "open":
        # An open PO's qty is what is still due, so the shortage projection never counts received
        # stock twice: a partial receipt lowers it, a full one closes the PO.
        if qty >= po["qty"] - 1e-9:
            po["status"] = "received"
        else:
            po["qty"] = po["qty"] - qty
        p.put("purchase_orders", po, changes)
    if lot_id:
        if lot is None:
            lot = {"lot_id": lot_id, "item_id": item_id, "qty": qty, "produced_by": None, "status": "released"}
        else:
            lot["qty"] = (lot["qty"] or 0) + qty
        p.put("lots", lot, changes)
    add_stock(p, item_id, RECEIVING_LOCATION, lot_id, qty, changes)
    state = "received" if po["status"] == "received" else f"{po['qty']:g} still due"
    return f"receipt {qty:g} x {item_id} on {po_id} ({state})" + (f" into lot {lot_id}" if lot_id else "")


def describe(d: dict) -> str:
    return f"{d.get('qty')} received on {d.get('purchase_order_id')}" + (
        f" into lot {d['lot_id']}" if d.get("lot_id") else ""
    )


TYPE = EventType(
    name="receipt.posted",
    keys=("purchase_order_id", "qty", "lot_id"),
    wants=wants,
    apply=apply,
    describe=describe,
    raises=("shortage",),
)
