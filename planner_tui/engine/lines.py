"""The customer lines a repair reaches, with their shipments and customers: each line's ETA (from its
orders, or from the stock it takes), its slip against the plan and its standing against the promise (by
the plant's local day), and the counts named for what they count. `impact.py` builds its answers on them.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import duckdb

from planner_tui.engine.etas import PlantDay, local_day_sql
from planner_tui.engine.schedule import Repair
from planner_tui.store.contract import OPEN_PRODUCTION_STATUSES
from planner_tui.store.db import rows

_OPEN_SHIPMENT_STATUSES = ("planned", "picked")


def in_minutes(delta: timedelta) -> float:
    return round(delta.total_seconds() / 60, 2)


def lines_report(
    cur: duckdb.DuckDBPyConnection,
    line_keys: set[tuple[str, int]],
    rep: Repair,
    *,
    exposed: bool,
    day: PlantDay,
    at: datetime,
    stock: dict[tuple[str, int], tuple[datetime | None, datetime | None]] | None = None,
) -> list[dict]:
    """Open sales order lines with their ETA: the latest new_end of the open orders made for them, else
    (a line served from stock) from `stock`: (planned ETA, ETA) by `etas.stock_etas`. Late by the plant's
    local day (`day`). `eta_from` says which: "orders", "stock", or None
    (no ETA: nothing covers it).

    The clock `at` outranks the plan: an open line whose promised day is before the plant's day at `at` is
    late (`overdue`) whatever its ETA says, and late in the plan (no stop is needed to explain it); an ETA
    before `at` (`eta_overdue`) is a time that passed with the work not reported done, so how late the
    line is counts from `at`."""
    if not line_keys:
        return []
    keys = sorted(line_keys)
    # The sales order ids narrow each table first (one filtered scan), then the (order, line) keys match.
    params = [sorted({k[0] for k in keys}), [k[0] for k in keys], [k[1] for k in keys]]
    join = "JOIN (SELECT unnest(?::VARCHAR[]) AS so, unnest(?::INTEGER[]) AS ln) k"
    lines = rows(
        cur,
        f"""WITH s AS MATERIALIZED (
                SELECT * FROM sales_orders WHERE sales_order_id IN (SELECT unnest(?::VARCHAR[])) AND status = 'open'
            )
            SELECT s.sales_order_id, s.line_no, s.customer_id, c.name AS customer_name, c.account_manager,
                   s.item_id, s.qty, s.promised_date
            FROM s {join} ON s.sales_order_id = k.so AND s.line_no = k.ln
            LEFT JOIN customers c ON c.customer_id = s.customer_id""",
        params,
    )
    made_for = rows(
        cur,
        f"""WITH p AS MATERIALIZED (
                SELECT production_order_id, sales_order_id, line_no, planned_end FROM production_orders
                WHERE sales_order_id IN (SELECT unnest(?::VARCHAR[]))
                  AND status IN ({", ".join("?" for _ in OPEN_PRODUCTION_STATUSES)})
            )
            SELECT p.production_order_id, p.sales_order_id, p.line_no, p.planned_end
            FROM p {join} ON p.sales_order_id = k.so AND p.line_no = k.ln""",
        [params[0], *OPEN_PRODUCTION_STATUSES, params[1], params[2]],
    )
    planned_eta: dict[tuple, datetime] = {}
    eta: dict[tuple, datetime] = {}
    orders_of: dict[tuple, list[str]] = {}
    for o in made_for:
        key = (o["sales_order_id"], o["line_no"])
        new_end = rep.order_new_end(o["production_order_id"], o["planned_end"])
        planned_eta[key] = max(planned_eta.get(key, o["planned_end"]), o["planned_end"])
        eta[key] = max(eta.get(key, new_end), new_end)
        orders_of.setdefault(key, []).append(o["production_order_id"])
    moved_on: dict[str, set[str]] = {}  # order -> the machines its moved operations run on
    for shift in rep.ops.values():
        moved_on.setdefault(shift.production_order_id, set()).add(shift.machine_id)
    report = []
    today = day.day(at)
    for line in lines:
        key = (line["sales_order_id"], line["line_no"])
        line_eta, line_planned = eta.get(key), planned_eta.get(key)
        eta_from = "orders" if key in eta else None
        if eta_from is None and stock is not None and key in stock:
            line_planned, line_eta = stock[key]
            eta_from = "stock" if line_eta is not None else None
        promised = line["promised_date"]
        overdue = promised is not None and promised < today
        late_by_plan = day.late(line_planned, promised)
        late_in_plan = late_by_plan or overdue
        late = day.late(line_eta, promised) or overdue
        eta_overdue = line_eta is not None and line_eta < at
        slip = in_minutes(line_eta - line_planned) if line_eta is not None and line_planned is not None else 0.0
        report.append(
            {
                **line,
                "eta": line_eta,
                "planned_eta": line_planned,
                "eta_from": eta_from,
                "eta_overdue": eta_overdue,
                "overdue": overdue,
                "late": late,
                "late_in_plan": late_in_plan,
                "late_by_plan": late_by_plan,  # its planned ETA is late: the plan itself, not only the clock
                "turns_late": late and not late_in_plan,
                "at_risk": exposed or slip > 0,
                "slip_minutes": slip,
                "slip_days": round(slip / 1440, 2),
                "days_late": day.days_late(at if line_eta is None or eta_overdue else line_eta, promised)
                if overdue
                else day.days_late(line_eta, promised),
                "production_order_ids": sorted(orders_of.get(key, [])),
                "moved_on": sorted({m for po in orders_of.get(key, []) for m in moved_on.get(po, ())}),
            }
        )
    report.sort(key=lambda r: (not r["late"], -r["days_late"], -r["slip_minutes"], r["sales_order_id"], r["line_no"]))
    return report


def late_in_plan_keys(cur: duckdb.DuckDBPyConnection, day: PlantDay, at: datetime) -> set[tuple[str, int]]:
    """Open lines the plan itself has late: an open order made for them ends after the promised day
    (the plant's local day), or the promised day is already past at `at` (open, so not delivered)."""
    found = cur.execute(
        f"""SELECT DISTINCT s.sales_order_id, s.line_no
            FROM sales_orders s JOIN production_orders p ON p.sales_order_id = s.sales_order_id AND p.line_no = s.line_no
            WHERE s.status = 'open' AND p.status IN ({", ".join("?" for _ in OPEN_PRODUCTION_STATUSES)})
              AND {local_day_sql("p.planned_end")} > s.promised_date
            UNION
            SELECT sales_order_id, line_no FROM sales_orders WHERE status = 'open' AND promised_date < ?""",
        [*OPEN_PRODUCTION_STATUSES, day.timezone, day.day(at)],
    ).fetchall()
    return {(so, line_no) for so, line_no in found}


def shipments_report(cur: duckdb.DuckDBPyConnection, lines: list[dict], day: PlantDay, at: datetime) -> list[dict]:
    """The open shipments of `lines`, with their line's ETA; late when it falls after the planned ship
    day, or when that day has passed (still open at `at`)."""
    if not lines:
        return []
    by_key = {(line["sales_order_id"], line["line_no"]): line for line in lines}
    keys = sorted(by_key)
    found = rows(
        cur,
        f"""WITH sh AS MATERIALIZED (
                SELECT * FROM shipments WHERE sales_order_id IN (SELECT unnest(?::VARCHAR[]))
                  AND status IN ({", ".join("?" for _ in _OPEN_SHIPMENT_STATUSES)})
            )
            SELECT sh.shipment_id, sh.sales_order_id, sh.line_no, sh.qty, sh.planned_ship_date, sh.status, sh.carrier
            FROM sh JOIN (SELECT unnest(?::VARCHAR[]) AS so, unnest(?::INTEGER[]) AS ln) k
              ON sh.sales_order_id = k.so AND sh.line_no = k.ln""",
        [sorted({k[0] for k in keys}), *_OPEN_SHIPMENT_STATUSES, [k[0] for k in keys], [k[1] for k in keys]],
    )
    for shipment in found:
        line = by_key[(shipment["sales_order_id"], shipment["line_no"])]
        shipment["customer_id"] = line["customer_id"]
        eta = line["eta"]
        shipment["eta"] = eta
        shipment["eta_overdue"] = line.get("eta_overdue", False)
        planned = shipment["planned_ship_date"]
        shipment["late"] = day.late(eta, planned) or (planned is not None and planned < day.day(at))
    found.sort(key=lambda s: (not s["late"], s["planned_ship_date"], s["shipment_id"]))
    return found


def customers_report(cur: duckdb.DuckDBPyConnection, lines: list[dict]) -> list[dict]:
    by_customer: dict[str, list[dict]] = {}
    for line in lines:
        by_customer.setdefault(line["customer_id"], []).append(line)
    if not by_customer:
        return []
    found = rows(
        cur,
        "SELECT customer_id, name, tier, account_manager FROM customers WHERE customer_id IN (SELECT unnest(?::VARCHAR[]))",
        [sorted(by_customer)],
    )
    for customer in found:
        mine = by_customer[customer["customer_id"]]
        customer["late_lines"] = [f"{line['sales_order_id']}/{line['line_no']}" for line in mine if line["late"]]
        customer["lines"] = [f"{line['sales_order_id']}/{line['line_no']}" for line in mine]
    found.sort(key=lambda c: (-len(c["late_lines"]), -len(c["lines"]), c["customer_id"]))
    return found


def line_counts(lines: list[dict]) -> dict:
    """What a list of customer lines holds, each count named for what it counts (the console and the CLI
    print these names): `turned_late` (late now, on time in the plan: the stops' doing),
    `already_late_in_plan` (late before any stop), `slipping` (ETA later than planned, late or not) with
    the smallest and largest slip in minutes, `slipping_on_time` (moved, still on time)."""
    slips = [line["slip_minutes"] for line in lines if line["slip_minutes"] > 0]
    return {
        "lines": len(lines),
        "turned_late": sum(1 for line in lines if line["turns_late"]),
        "already_late_in_plan": sum(1 for line in lines if line["late_in_plan"]),
        "slipping": len(slips),
        "slipping_on_time": sum(1 for line in lines if line["slip_minutes"] > 0 and not line["late"]),
        "slip_minutes_min": min(slips, default=0.0),
        "slip_minutes_max": max(slips, default=0.0),
    }
