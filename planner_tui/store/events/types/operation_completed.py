"""operation.completed: an operation is done; its production order progresses or completes."""

from __future__ import annotations

from typing import cast

from planner_tui.store.events.base import EventType
from planner_tui.store.events.fields import Reject, get_id, get_int, peek_id, quiet
from planner_tui.store.events.working import Plant, Wanted


def wants(data: dict, wanted: Wanted) -> None:
    order_id = peek_id(data, "production_order_id")
    wanted.add("production_orders", order_id)
    wanted.add("operations", (order_id, quiet(lambda: get_int(data, "op_seq"))))


def apply(p: Plant, ev: dict, data: dict, changes: list) -> str:
    order_id = get_id(data, "production_order_id")
    op_seq = get_int(data, "op_seq")
    op = p.get("operations", order_id, op_seq)
    if op is None:
        raise Reject(f"unknown operation {order_id}/{op_seq}")
    order = p.get("production_orders", order_id)
    if order is None:
        raise Reject(f"unknown production order {order_id}")
    if order["status"] == "cancelled":
        raise Reject(f"production order {order_id} is cancelled")
    if op["status"] != "done":
        op["status"] = "done"
        p.put("operations", op, changes)
    all_done = all(cast(dict, p.rows["operations"][k])["status"] == "done" for k in p.ops_by_order.get(order_id, []))
    if all_done:
        order["status"] = "completed"
    elif order["status"] in ("planned", "released"):
        order["status"] = "in_progress"
    p.put("production_orders", order, changes)
    return f"operation {order_id}/{op_seq} done; order {order_id} {order['status']}"


def describe(d: dict) -> str:
    return f"{d.get('production_order_id')}/{d.get('op_seq')} done"


TYPE = EventType(
    name="operation.completed",
    keys=("production_order_id", "op_seq"),
    wants=wants,
    apply=apply,
    describe=describe,
    raises=(),
)
