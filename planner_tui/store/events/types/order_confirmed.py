"""order.confirmed: a new sales order line, `open`."""

from __future__ import annotations

from planner_tui.store.events.base import EventType
from planner_tui.store.events.fields import Reject, get_date, get_id, get_number, peek_id, quiet, so_key
from planner_tui.store.events.working import Plant, Wanted


def wants(data: dict, wanted: Wanted) -> None:
    wanted.add("lines", quiet(lambda: so_key(data)))
    wanted.add("customers", peek_id(data, "customer_id"))
    wanted.add("items", peek_id(data, "item_id"))


def apply(p: Plant, ev: dict, data: dict, changes: list) -> str:
    so_id, line_no = so_key(data)
    customer_id, item_id = get_id(data, "customer_id"), get_id(data, "item_id")
    qty = get_number(data, "qty", positive=True)
    promised = get_date(data, "promised_date")
    if p.get("sales_orders", so_id, line_no) is not None:
        raise Reject(f"sales order line {so_id}/{line_no} already exists")
    if customer_id not in p.known["customers"]:
        raise Reject(f"unknown customer {customer_id}")
    if item_id not in p.known["items"]:
        raise Reject(f"unknown item {item_id}")
    p.put(
        "sales_orders",
        {
            "sales_order_id": so_id,
            "line_no": line_no,
            "customer_id": customer_id,
            "item_id": item_id,
            "qty": qty,
            "promised_date": promised,
            "confirmed_at": ev["time"],
            "status": "open",
        },
        changes,
    )
    return f"order {so_id}/{line_no} confirmed: {qty:g} x {item_id} for {customer_id}, promised {promised}"


def describe(d: dict) -> str:
    return (
        f"{d.get('sales_order_id')}/{d.get('line_no')} confirmed: {d.get('qty')} x {d.get('item_id')} "
        f"for {d.get('customer_id')}, promised {d.get('promised_date')}"
    )


TYPE = EventType(
    name="order.confirmed",
    keys=("sales_order_id", "line_no", "customer_id", "item_id", "qty", "promised_date"),
    wants=wants,
    apply=apply,
    describe=describe,
    raises=("late_order", "no_supply", "shortage"),
)
