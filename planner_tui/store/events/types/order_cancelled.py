"""order.cancelled: a sales order line is cancelled."""

from __future__ import annotations

from planner_tui.store.events.base import EventType
from planner_tui.store.events.fields import Reject, quiet, so_key
from planner_tui.store.events.working import Plant, Wanted, open_line


def wants(data: dict, wanted: Wanted) -> None:
    wanted.add("lines", quiet(lambda: so_key(data)))


def apply(p: Plant, ev: dict, data: dict, changes: list) -> str:
    line = open_line(p, data)
    label = f"{line['sales_order_id']}/{line['line_no']}"
    if line["status"] == "cancelled":
        return f"order {label} already cancelled"
    if line["status"] == "shipped":
        raise Reject(f"sales order line {label} is already shipped")
    line["status"] = "cancelled"
    p.put("sales_orders", line, changes)
    return f"order {label} cancelled"


def describe(d: dict) -> str:
    return f"{d.get('sales_order_id')}/{d.get('line_no')} cancelled"


TYPE = EventType(
    name="order.cancelled",
    keys=("sales_order_id", "line_no"),
    wants=wants,
    apply=apply,
    describe=describe,
    raises=("late_order", "no_supply"),
)
