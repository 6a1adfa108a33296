"""What each stopped machine hits, for every stop at once: the counts the machine_down exceptions show;
and the same for every unavailable resource (resource_unavailable).

A stopped machine's counts (production orders, customer lines, late lines, customers, open shipments,
people to tell) are what `machine_impact` reports for that stop alone (`machine_counts_slow`, the
reference). `machine_counts` gets them for all stops with one schedule repair per stop with a known
downtime that hits work, then two set-based queries (docs/triage.md, "How the machine counts are made").
`resource_counts` does the same for absent resources, against `resource_impact` (`resource_counts_slow`).
"""

from __future__ import annotations

from datetime import datetime

import duckdb
import pyarrow as pa

from planner_tui.engine.etas import local_day_sql, plant_timezone
from planner_tui.engine.exceptions.base import Row, exception_row, plural
from planner_tui.engine.impact import machine_impact, resource_impact
from planner_tui.engine.orders import find_feeding_cycle
from planner_tui.engine.schedule import Stop, repair, store_plant_time
from planner_tui.errors import PlannerError
from planner_tui.store.contract import OPEN_PRODUCTION_STATUSES

OPEN_SQL = ", ".join(f"'{s}'" for s in OPEN_PRODUCTION_STATUSES)  # constants from the contract
IMPACT_COUNTS = ("production_orders", "sales_lines", "late_lines", "customers", "shipments", "notify")


def machine_counts_slow(cur: duckdb.DuckDBPyConnection, machine_id: str) -> dict:
    """What a stop hits, counted from a full `machine_impact` (the reference `machine_counts` agrees with).

    Raises what machine_impact raises (e.g. CycleError on a feeding loop)."""
    # no `at`: the stop starts at its `since`, for its expected minutes
    return _counted(machine_impact(cur, machine_id))


def resource_counts_slow(cur: duckdb.DuckDBPyConnection, resource_id: str) -> dict:
    """What an absence hits, counted from a full `resource_impact` (the reference `resource_counts` agrees
    with). Raises what resource_impact raises."""
    return _counted(resource_impact(cur, resource_id))


def _counted(impact: dict) -> dict:
    lines = impact.get("sales_orders") or []
    return {
        "production_orders": len(impact.get("production_orders") or []),
        "sales_lines": len(lines),
        # Lines this stop makes late; a line already late in the plan is not this stop's doing.
        "late_lines": sum(1 for s in lines if s.get("turns_late", s.get("late"))),
        "customers": len(impact.get("customers") or []),
        "shipments": len(impact.get("shipments") or []),
        "notify": len(impact.get("notify") or []),
    }


# The operations each stop touches directly (the test of machine_impact, resource_impact): `s` a row of
# stops_in (its machine_id the machine, or the resource, stopped), `o` the operation.
_HIT_OPS = {
    "machine": "FROM stops_in s JOIN operations o ON o.machine_id = s.machine_id",
    "resource": """FROM stops_in s JOIN operation_resources r ON r.resource_id = s.machine_id
    JOIN operations o ON o.production_order_id = r.production_order_id AND o.op_seq = r.op_seq""",
}


def _hit_sql(kind: str, columns: str) -> str:
    return f"""SELECT DISTINCT {columns}
    {_HIT_OPS[kind]}
    JOIN production_orders p ON p.production_order_id = o.production_order_id
    WHERE o.status <> 'done' AND p.status IN ({OPEN_SQL})
      AND (s.window_end IS NULL OR o.planned_start < s.window_end)
      AND (o.planned_end > s.start OR o.status = 'running')"""


# What each stop hits, for all stops at once. Query 1: the operations each stop touches directly, plus the
# orders its repair moves, and every order they feed up the chain.
_STOP_ORDERS_SQL = """
WITH RECURSIVE
hit AS (
    {hit}
),
chain(machine_id, po) AS (
    SELECT * FROM (SELECT machine_id, po FROM hit UNION SELECT machine_id, po FROM moved_in)
    UNION
    SELECT c.machine_id, p.parent_production_order_id
    FROM chain c JOIN production_orders p ON p.production_order_id = c.po
    WHERE p.parent_production_order_id IS NOT NULL
)
SELECT c.machine_id, p.production_order_id AS po, p.parent_production_order_id AS parent,
       p.sales_order_id, p.line_no
FROM chain c JOIN production_orders p ON p.production_order_id = c.po
"""


def _stop_orders_sql(kind: str) -> str:
    return _STOP_ORDERS_SQL.format(hit=_hit_sql(kind, "s.machine_id, o.production_order_id AS po"))


# Query 2: per stop, the open lines those orders are made for (ETA: latest new end of the open orders
# made for the line, as `lines.lines_report`), their open shipments, customers and the people to tell.
_STOP_LINES_SQL = f"""
WITH
params AS (SELECT CAST(? AS VARCHAR) AS tz),
line_keys AS (SELECT DISTINCT machine_id, sales_order_id, line_no FROM orders_in WHERE sales_order_id IS NOT NULL),
lines AS (
    SELECT k.machine_id, so.sales_order_id, so.line_no, so.promised_date, c.customer_id, c.account_manager,
           -- past its promise when the stop began: late whatever the stop does (lines.lines_report's overdue)
           so.promised_date < {local_day_sql("st.start", "params.tz")} AS overdue
    FROM line_keys k JOIN stops_in st USING (machine_id), params
    JOIN sales_orders so ON so.sales_order_id = k.sales_order_id AND so.line_no = k.line_no
    LEFT JOIN customers c ON c.customer_id = so.customer_id
    WHERE so.status = 'open'
),
etas AS (
    SELECT l.machine_id, l.sales_order_id, l.line_no,
           max(p.planned_end) AS planned_eta, max(coalesce(sh.new_end, p.planned_end)) AS eta
    FROM lines l
    JOIN production_orders p ON p.sales_order_id = l.sales_order_id AND p.line_no = l.line_no
    LEFT JOIN shifts_in sh ON sh.machine_id = l.machine_id AND sh.po = p.production_order_id
    WHERE p.status IN ({OPEN_SQL})
    GROUP BY l.machine_id, l.sales_order_id, l.line_no
),
line_counts AS (
    SELECT l.machine_id, count(*) AS sales_lines,
           count(*) FILTER (WHERE {local_day_sql("e.eta", "params.tz")} > l.promised_date
                            AND NOT {local_day_sql("e.planned_eta", "params.tz")} > l.promised_date
                            AND NOT l.overdue) AS late_lines,
           count(DISTINCT l.customer_id) AS customers
    FROM lines l LEFT JOIN etas e USING (machine_id, sales_order_id, line_no), params
    GROUP BY l.machine_id
),
shipment_counts AS (
    SELECT l.machine_id, count(*) AS shipments
    FROM lines l JOIN shipments sh ON sh.sales_order_id = l.sales_order_id AND sh.line_no = l.line_no
    WHERE list_contains(?, sh.status)
    GROUP BY l.machine_id
),
people AS (
    SELECT machine_id, supervisor AS person FROM stops_in
    UNION ALL SELECT machine_id, account_manager FROM lines
    UNION ALL SELECT k.machine_id, m.supervisor FROM knock_in k JOIN machines m ON m.machine_id = k.knock_machine
),
notify_counts AS (
    SELECT machine_id, count(DISTINCT person) AS notify FROM people
    WHERE person IS NOT NULL AND person <> '' GROUP BY machine_id
)
SELECT s.machine_id, coalesce(sales_lines, 0), coalesce(late_lines, 0), coalesce(customers, 0),
       coalesce(shipments, 0), coalesce(notify, 0)
FROM stops_in s
LEFT JOIN line_counts USING (machine_id)
LEFT JOIN shipment_counts USING (machine_id)
LEFT JOIN notify_counts USING (machine_id)
"""
_OPEN_SHIPMENT_STATUSES = ("planned", "picked")  # as machine_impact's shipments


def machine_counts(cur: duckdb.DuckDBPyConnection, stops: list[dict]) -> dict[str, dict]:
    """The `machine_counts_slow` answer for many stops at once: machine_id -> counts, or {"error": ...}.

    `stops`: dicts with machine_id, since, expected_minutes, supervisor (the machine's). Each stop with a
    known downtime gets its own repair (the same as machine_impact's: stops are weighed one at a time);
    everything else is two set-based queries for all of them. A stop whose repair fails, and every stop
    when the orders reached feed each other in a loop, goes through machine_impact so its error reads
    the same.
    """
    return _stop_counts(cur, stops, "machine")


def resource_counts(cur: duckdb.DuckDBPyConnection, absences: list[dict]) -> dict[str, dict]:
    """The `resource_counts_slow` answer for many unavailable resources at once: resource_id -> counts, or
    {"error": ...}, as `machine_counts` (`absences`: dicts with resource_id, since, expected_minutes,
    supervisor, the resource's). Besides the resource's supervisor, the people to tell are the
    supervisors of the machines its hit operations run on, as resource_impact tells them."""
    stops = [{**a, "machine_id": a["resource_id"]} for a in absences]
    return _stop_counts(cur, stops, "resource")


def _stop_counts(cur: duckdb.DuckDBPyConnection, stops: list[dict], kind: str) -> dict[str, dict]:
    """machine_counts (kind "machine") or resource_counts (kind "resource": `machine_id` names the resource)."""
    fast, slow = [], []
    moved, shifted, knock = [], [], []
    plant = store_plant_time(cur) if stops else None  # read once for every repair below
    for s in stops:
        machine_id = s["machine_id"]
        minutes = None if s["expected_minutes"] is None else float(s["expected_minutes"])
        stop = Stop(machine_id, s["since"], minutes, kind=kind)
        try:
            rep = repair(cur, [stop], plant=plant) if minutes is not None else None
        except PlannerError:
            slow.append(machine_id)
            continue
        fast.append((machine_id, s["since"], stop.end, s["supervisor"]))
        if rep is None:
            continue
        moved += [(machine_id, po) for po in rep.touched_orders]
        shifted += [(machine_id, po, shift.new_end) for po, shift in rep.orders.items()]
        knock += sorted(
            {
                (machine_id, op.machine_id)
                for op in rep.ops.values()
                if (kind != "machine" or op.machine_id != machine_id) and op.new_end > op.planned_end
            }
        )
    out: dict[str, dict] = {}
    if fast:
        stops_in = pa.table(
            {
                "machine_id": pa.array([f[0] for f in fast], pa.string()),
                "start": pa.array([f[1] for f in fast], pa.timestamp("us")),
                "window_end": pa.array([f[2] for f in fast], pa.timestamp("us")),
                "supervisor": pa.array([f[3] for f in fast], pa.string()),
            }
        )
        if kind == "resource":
            # The machines the absence's own operations run on: their supervisors are told too.
            knock += _hit_machines(cur, stops_in)
        tables = {
            "stops_in": stops_in,
            "moved_in": pa.table(
                {
                    "machine_id": pa.array([m[0] for m in moved], pa.string()),
                    "po": pa.array([m[1] for m in moved], pa.string()),
                }
            ),
            "shifts_in": pa.table(
                {
                    "machine_id": pa.array([m[0] for m in shifted], pa.string()),
                    "po": pa.array([m[1] for m in shifted], pa.string()),
                    "new_end": pa.array([m[2] for m in shifted], pa.timestamp("us")),
                }
            ),
            "knock_in": pa.table(
                {
                    "machine_id": pa.array([k[0] for k in knock], pa.string()),
                    "knock_machine": pa.array([k[1] for k in knock], pa.string()),
                }
            ),
        }
        # Registered on the caller's cursor, not a new one: a cursor of the plant as it was (store/past.py)
        # holds its tables as TEMP tables only it sees. Unregistered after.
        try:
            for name, table in tables.items():
                cur.register(name, table)
            orders = cur.sql(_stop_orders_sql(kind)).to_arrow_table()
            parent_of = dict(zip(orders.column("po").to_pylist(), orders.column("parent").to_pylist()))
            if find_feeding_cycle(parent_of):
                return {s["machine_id"]: slow_counts(cur, s["machine_id"], kind) for s in stops}
            cur.register("orders_in", orders)
            counted = cur.execute(_STOP_LINES_SQL, [plant_timezone(cur), list(_OPEN_SHIPMENT_STATUSES)]).fetchall()
        finally:
            for name in [*tables, "orders_in"]:
                cur.unregister(name)
        order_counts: dict[str, int] = {}
        for machine_id in orders.column("machine_id").to_pylist():
            order_counts[machine_id] = order_counts.get(machine_id, 0) + 1
        for machine_id, lines, late, customers, shipments, notify in counted:
            out[machine_id] = {
                "production_orders": order_counts.get(machine_id, 0),
                "sales_lines": lines,
                "late_lines": late,
                "customers": customers,
                "shipments": shipments,
                "notify": notify,
            }
    for machine_id in slow:
        out[machine_id] = slow_counts(cur, machine_id, kind)
    return out


def _hit_machines(cur: duckdb.DuckDBPyConnection, stops_in: pa.Table) -> list[tuple[str, str]]:
    """(resource, machine) for every machine an absent resource's hit operations run on."""
    cur.register("stops_in", stops_in)  # on the caller's cursor: see _stop_counts
    try:
        return [tuple(r) for r in cur.execute(_hit_sql("resource", "s.machine_id, o.machine_id")).fetchall()]
    finally:
        cur.unregister("stops_in")


def slow_counts(cur: duckdb.DuckDBPyConnection, machine_id: str, kind: str = "machine") -> dict:
    """`machine_counts_slow` (`resource_counts_slow` for kind "resource"), or {"error": why} when the
    impact cannot weigh the stop."""
    try:
        if kind == "resource":
            return resource_counts_slow(cur, machine_id)
        return machine_counts_slow(cur, machine_id)
    except PlannerError as error:  # e.g. a feeding cycle: the stop is still listed, saying why it has no impact
        return {"error": str(error)}


def stop_exception(
    kind: str,
    stop: dict,
    subject_id: str,
    *,
    state_words: str,
    nothing: str,
    counted: dict | None,
    detail: dict,
    at: datetime,
) -> Row:
    """The inbox row of one stop (a machine's: machine_down; a resource's absence: resource_unavailable)
    from what it hits (`counted`: its `IMPACT_COUNTS`, or {"error": ...}, or None for nothing hit).

    Severity: critical if it makes customer lines late; high if it exposes customer lines (length
    unknown) or its impact cannot be weighed (plant data error); medium if it only delays production
    orders; low if it touches nothing. `stop` has since, name and supervisor."""
    counted = counted or dict.fromkeys(IMPACT_COUNTS, 0)
    detail = dict(detail)
    if "error" in counted:
        detail["error"] = counted["error"]
        counted = dict.fromkeys(IMPACT_COUNTS, 0)
    detail.update(counted)
    late, lines, orders = counted["late_lines"], counted["sales_lines"], counted["production_orders"]
    if "error" in detail:
        what, severity = "impact unknown (plant data error)", "high"
    elif late:
        what, severity = f"{plural(late, 'customer line')} late", "critical"
    elif lines:
        what, severity = f"{plural(lines, 'customer line')} exposed", "high"
    elif orders:
        what, severity = f"{plural(orders, 'production order')} affected", "medium"
    else:
        what, severity = nothing, "low"
    # Subject, what happened and its consequence first (the inbox column truncates); the name last.
    title = f"{subject_id} {state_words}: {what}" + (f" ({stop['name']})" if stop["name"] else "")
    return exception_row(
        kind,
        subject_id,
        severity=severity,
        title=title,
        raised_at=stop["since"],
        owner=stop["supervisor"],
        detail=detail,
        at=at,
    )
