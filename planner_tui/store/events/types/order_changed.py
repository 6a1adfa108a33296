"""order.changed: an open sales order line's quantity and/or promised date change."""

from __future__ import annotations

from planner_tui.store.events.base import EventType
from planner_tui.store.events.fields import Reject, get_date, get_number, quiet, so_key
from planner_tui.store.events.working import Plant, Wanted, open_line


def wants(data: dict, wanted: Wanted) -> None:
    wanted.add("lines", quiet(lambda: so_key(data)))


def apply(p: Plant, ev: dict, data: dict, changes: list) -> str:
    line = open_line(p, data)
    label = f"{line['sales_order_id']}/{line['line_no']}"
    if "qty" not in data and "promised_date" not in data:
        raise Reject("nothing to change: give qty and/or promised_date")
    if line["status"] != "open":
        raise Reject(f"sales order line {label} is {line['status']}")
    parts = []
    if "qty" in data:
        line["qty"] = get_number(data, "qty", positive=True)
        parts.append(f"qty {line['qty']:g}")
    if "promised_date" in data:
        line["promised_date"] = get_date(data, "promised_date")
        parts.append(f"promised {line['promised_date']}")
    p.put("sales_orders", line, changes)
    return f"order {label} changed: {', '.join(parts)}"


def describe(d: dict) -> str:
    return f"{d.get('sales_order_id')}/{d.get('line_no')} changed: " + ", ".join(
        f"{k} {d[k]}" for k in ("qty", "promised_date") if k in d
    )


TYPE = EventType(
    name="order.changed",
    keys=("sales_order_id", "line_no", "qty", "promised_date"),
    wants=wants,
    apply=apply,
    describe=describe,
    raises=("late_order", "no_supply", "shortage"),
)
