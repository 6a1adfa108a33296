"""shipment.shipped: a shipment leaves; its lots are shipped, and its order line when all its shipments are."""

from __future__ import annotations

from typing import cast

from planner_tui.store.events.base import EventType
from planner_tui.store.events.fields import Reject, get_id, peek_id
from planner_tui.store.events.working import Plant, Wanted


def wants(data: dict, wanted: Wanted) -> None:
    # The preload also reads the shipment's lots, its order's other shipments and the order lines.
    wanted.add("shipments", peek_id(data, "shipment_id"))


def apply(p: Plant, ev: dict, data: dict, changes: list) -> str:
    shipment_id = get_id(data, "shipment_id")
    shipment = p.get("shipments", shipment_id)
    if shipment is None:
        raise Reject(f"unknown shipment {shipment_id}")
    if shipment["status"] in ("shipped", "delivered"):
        return f"shipment {shipment_id} already {shipment['status']}"
    shipment["status"] = "shipped"
    p.put("shipments", shipment, changes)
    for lot_id in p.lots_by_shipment.get(shipment_id, []):
        lot = p.get("lots", lot_id)
        if lot is not None and lot["status"] != "shipped":
            lot["status"] = "shipped"
            p.put("lots", lot, changes)
    so_id, line_no = shipment["sales_order_id"], shipment["line_no"]
    text = f"shipment {shipment_id} shipped"
    siblings = p.shipments_by_line.get((so_id, line_no), [])
    if all(cast(dict, p.rows["shipments"][(s,)])["status"] in ("shipped", "delivered") for s in siblings):
        line = p.get("sales_orders", so_id, line_no)
        if line is not None and line["status"] == "open":
            line["status"] = "shipped"
            p.put("sales_orders", line, changes)
            text += f"; order {so_id}/{line_no} shipped"
    return text


def describe(d: dict) -> str:
    return f"shipment {d.get('shipment_id')} shipped"


TYPE = EventType(
    name="shipment.shipped",
    keys=("shipment_id",),
    wants=wants,
    apply=apply,
    describe=describe,
    raises=("late_order",),
)
