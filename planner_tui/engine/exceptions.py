"""The exception inbox: everything a planner must act on now, worst first, with its triage state.

Each exception has a stable id built from what raised it, so triage (store/triage.py) attaches to it
across refreshes, snapshot reloads and restarts:

| kind | id | raised while |
|---|---|---|
| machine_down | `machine_down:<machine_id>` | the machine is down or in maintenance |
| quality_hold | `quality_hold:<hold_id>` | the hold is active |
| shortage | `shortage:<item_id>` | the shortage projection finds the item short |
| late_order | `late_order:<SO>/<line>` | the whole-plant reschedule makes the line late |
| no_supply | `no_supply:<SO>/<line>` | an open line is short, and nothing is planned for its item: no order made for it, no open purchase or make-to-stock order |
| feed_stale | `feed_stale:<feed>` | the live feed is stale |

An exception whose cause has cleared but that someone is still triaging (any status except resolved)
stays listed, flagged `cause_cleared` with a note, so it never vanishes mid-triage.
"""

from __future__ import annotations

import json
import logging
from datetime import date, datetime

import duckdb
import pyarrow as pa

from planner_tui.engine.impact import machine_impact, reschedule
from planner_tui.engine.orders import find_feeding_cycle, hold_reach
from planner_tui.engine.schedule import Stop, repair
from planner_tui.engine.shortages import shortages
from planner_tui.errors import NotFound, PlannerError
from planner_tui.store.contract import OPEN_PRODUCTION_STATUSES, STOPPED_STATES
from planner_tui.store.db import rows
from planner_tui.store.triage import (
    effective_status,
    history as triage_history,
    parse_exception_id,
    split_order_line,
    triage_state,
)
from planner_tui.timeutil import as_datetime, parse_timestamp

log = logging.getLogger(__name__)

_OPEN_SQL = ", ".join(f"'{s}'" for s in OPEN_PRODUCTION_STATUSES)  # constants from the contract
SEVERITIES = ("critical", "high", "medium", "low")
_SEVERITY_RANK = {s: i for i, s in enumerate(SEVERITIES)}
STALE_FEED_STATES = ("stale", "dead", "down", "error", "failed")
# A shortage that starts within this many hours is treated as happening now.
SHORTAGE_IMMINENT_HOURS = 24


# ------------------------------------------------------------------------------------------- helpers


def _first(result) -> tuple | None:
    """The first row of a result, read to its end (DuckDB keeps a half-read result open on the cursor,
    which blocks some later calls on it)."""
    rows = result.fetchall()
    return rows[0] if rows else None


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n == 1 else (plural or word + 's')}"


def _as_date(value) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return parse_timestamp(value).date()


def _clock(value: datetime | None, at: datetime) -> str:
    """A time as a planner says it: 10:42 today, else with its date."""
    if value is None:
        return "?"
    return value.strftime("%H:%M") if value.date() == at.date() else value.strftime("%Y-%m-%d %H:%M")


def _day(value, at: datetime) -> str:
    """A day as short as it can be read: 11-24 this year, else 2027-01-04."""
    if value is None:
        return "?"
    day = _as_date(value)
    return day.strftime("%m-%d") if day.year == at.year else day.isoformat()


def _qty(value) -> str:
    return f"{float(value):g}" if value is not None else "?"


def _line_key(sales_order_id, line_no) -> str:
    return f"{sales_order_id}/{line_no}"


def _exception(kind: str, subject_id: str, *, severity: str, title: str, raised_at: datetime | None,
               owner: str | None, detail: dict, at: datetime) -> dict:
    raised_at = as_datetime(raised_at)
    age = None if raised_at is None else max(0, int((at - raised_at).total_seconds() // 60))
    return {
        "exception_id": f"{kind}:{subject_id}",
        "kind": kind,
        "severity": severity,
        "title": title,
        "subject_kind": _SUBJECT_KIND[kind],
        "subject_id": subject_id,
        "raised_at": raised_at,
        "age_minutes": age,
        "owner": owner,
        "assignee": None,
        "status": "open",
        "snoozed_until": None,
        "cause_cleared": False,
        "cleared_note": None,
        "detail": detail,
        "last_action": None,
    }


_SUBJECT_KIND = {
    "machine_down": "machine",
    "quality_hold": "hold",
    "shortage": "item",
    "late_order": "sales_order_line",
    "no_supply": "sales_order_line",
    "feed_stale": "feed",
}


class _Context:
    """What one inbox computation shares: the clock and the plant-wide answers, each computed once."""

    def __init__(self, cur: duckdb.DuckDBPyConnection, at: datetime):
        self.cur = cur
        self.at = at
        self._reschedule: dict | None = None
        self._shortages: dict | None = None

    def reschedule(self) -> dict:
        if self._reschedule is None:
            self._reschedule = reschedule(self.cur, at=self.at)
        return self._reschedule

    def shortages(self) -> dict:
        if self._shortages is None:
            self._shortages = shortages(self.cur, at=self.at)
        return self._shortages


# --------------------------------------------------------------------------------------- machine_down


def _machine_severity(late_lines: int, exposed_lines: int, orders: int) -> str:
    if late_lines:
        return "critical"
    if exposed_lines:
        return "high"
    if orders:
        return "medium"
    return "low"


_IMPACT_COUNTS = ("production_orders", "sales_lines", "late_lines", "customers", "shipments", "notify")


def machine_counts_slow(cur: duckdb.DuckDBPyConnection, machine_id: str) -> dict:
    """What a stop hits, counted from a full `machine_impact` (the reference `machine_counts` agrees with).

    Raises what machine_impact raises (e.g. CycleError on a feeding loop)."""
    impact = machine_impact(cur, machine_id)  # no `at`: the stop starts at its `since`, for its expected minutes
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


# What each stop hits, for all stops at once. Query 1: the operations each stop touches directly (the
# test of machine_impact), plus the orders its repair moves, and every order they feed up the chain.
_STOP_ORDERS_SQL = f"""
WITH RECURSIVE
hit AS (
    SELECT DISTINCT s.machine_id, o.production_order_id AS po
    FROM stops_in s
    JOIN operations o ON o.machine_id = s.machine_id
    JOIN production_orders p ON p.production_order_id = o.production_order_id
    WHERE o.status <> 'done' AND p.status IN ({_OPEN_SQL})
      AND (s.window_end IS NULL OR o.planned_start < s.window_end)
      AND (o.planned_end > s.start OR o.status = 'running')
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

# Query 2: per stop, the open lines those orders are made for (ETA: latest new end of the open orders
# made for the line, as `_lines_report`), their open shipments, customers and the people to tell.
_STOP_LINES_SQL = f"""
WITH
line_keys AS (SELECT DISTINCT machine_id, sales_order_id, line_no FROM orders_in WHERE sales_order_id IS NOT NULL),
lines AS (
    SELECT k.machine_id, so.sales_order_id, so.line_no, so.promised_date, c.customer_id, c.account_manager
    FROM line_keys k
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
    WHERE p.status IN ({_OPEN_SQL})
    GROUP BY l.machine_id, l.sales_order_id, l.line_no
),
line_counts AS (
    SELECT l.machine_id, count(*) AS sales_lines,
           count(*) FILTER (WHERE CAST(e.eta AS DATE) > l.promised_date
                            AND NOT CAST(e.planned_eta AS DATE) > l.promised_date) AS late_lines,
           count(DISTINCT l.customer_id) AS customers
    FROM lines l LEFT JOIN etas e USING (machine_id, sales_order_id, line_no)
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
    fast, slow = [], []
    moved, shifted, knock = [], [], []
    for s in stops:
        machine_id = s["machine_id"]
        minutes = None if s["expected_minutes"] is None else float(s["expected_minutes"])
        stop = Stop(machine_id, s["since"], minutes)
        try:
            rep = repair(cur, [stop]) if minutes is not None else None
        except PlannerError:
            slow.append(machine_id)
            continue
        fast.append((machine_id, s["since"], stop.end, s["supervisor"]))
        if rep is None:
            continue
        moved += [(machine_id, po) for po in rep.touched_orders]
        shifted += [(machine_id, po, shift.new_end) for po, shift in rep.orders.items()]
        knock += sorted({(machine_id, op.machine_id) for op in rep.ops.values()
                         if op.machine_id != machine_id and op.new_end > op.planned_end})
    out: dict[str, dict] = {}
    if fast:
        tables = {
            "stops_in": pa.table({
                "machine_id": pa.array([f[0] for f in fast], pa.string()),
                "start": pa.array([f[1] for f in fast], pa.timestamp("us")),
                "window_end": pa.array([f[2] for f in fast], pa.timestamp("us")),
                "supervisor": pa.array([f[3] for f in fast], pa.string()),
            }),
            "moved_in": pa.table({"machine_id": pa.array([m[0] for m in moved], pa.string()),
                                  "po": pa.array([m[1] for m in moved], pa.string())}),
            "shifts_in": pa.table({"machine_id": pa.array([m[0] for m in shifted], pa.string()),
                                   "po": pa.array([m[1] for m in shifted], pa.string()),
                                   "new_end": pa.array([m[2] for m in shifted], pa.timestamp("us"))}),
            "knock_in": pa.table({"machine_id": pa.array([k[0] for k in knock], pa.string()),
                                  "knock_machine": pa.array([k[1] for k in knock], pa.string())}),
        }
        # A cursor of its own: the Arrow tables are registered on it alone, and go with it.
        own = cur.cursor()
        try:
            for name, table in tables.items():
                own.register(name, table)
            orders = own.sql(_STOP_ORDERS_SQL).to_arrow_table()
            parent_of = dict(zip(orders.column("po").to_pylist(), orders.column("parent").to_pylist()))
            if find_feeding_cycle(parent_of):
                return {s["machine_id"]: _slow_counts(cur, s["machine_id"]) for s in stops}
            own.register("orders_in", orders)
            counted = own.execute(_STOP_LINES_SQL, [list(_OPEN_SHIPMENT_STATUSES)]).fetchall()
        finally:
            own.close()
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
        out[machine_id] = _slow_counts(cur, machine_id)
    return out


def _slow_counts(cur: duckdb.DuckDBPyConnection, machine_id: str) -> dict:
    try:
        return machine_counts_slow(cur, machine_id)
    except PlannerError as error:  # e.g. a feeding cycle: the stop is still listed, saying why it has no impact
        return {"error": str(error)}


def _machines_down(ctx: _Context, only: str | None = None) -> list[dict]:
    # With each stop, how many open operations it hits (on the machine, overlapping the downtime, or
    # running): the same test machine_impact applies. A stop that hits none moves nothing, so its counts
    # are all zero and are not computed.
    sql = f"""
        SELECT s.machine_id, s.state, s.since, s.reason, s.expected_minutes, m.name, m.supervisor,
               (SELECT count(*) FROM operations o JOIN production_orders p USING (production_order_id)
                WHERE o.machine_id = s.machine_id AND o.status <> 'done'
                  AND p.status IN ({_OPEN_SQL})
                  AND o.planned_start < coalesce(s.since + to_minutes(CAST(s.expected_minutes AS BIGINT)),
                                                 TIMESTAMP '9999-12-31')
                  AND (o.planned_end > s.since OR o.status = 'running')) AS hit_operations
        FROM machine_states s JOIN machines m USING (machine_id)
        WHERE list_contains(?, s.state) AND (? IS NULL OR s.machine_id = ?)
        ORDER BY s.machine_id"""
    stopped = rows(ctx.cur, sql, [list(STOPPED_STATES), only, only])
    counts = machine_counts(ctx.cur, [m for m in stopped if m["hit_operations"]])
    out = []
    for m in stopped:
        machine_id = m["machine_id"]
        detail = {
            "state": m["state"],
            "since": m["since"],
            "reason": m["reason"],
            "expected_minutes": m["expected_minutes"],
        }
        counted = counts.get(machine_id) or dict.fromkeys(_IMPACT_COUNTS, 0)
        if "error" in counted:
            detail["error"] = counted["error"]
            counted = dict.fromkeys(_IMPACT_COUNTS, 0)
        detail.update(counted)
        late, lines, orders = counted["late_lines"], counted["sales_lines"], counted["production_orders"]
        state = "down" if m["state"] == "down" else "in maintenance"
        if "error" in detail:
            what = "impact unknown (plant data error)"
        elif late:
            what = f"{_plural(late, 'customer line')} late"
        elif lines:
            what = f"{_plural(lines, 'customer line')} exposed"
        elif orders:
            what = f"{_plural(orders, 'production order')} affected"
        else:
            what = "nothing scheduled on it"
        # Subject, what happened and its consequence first (the inbox column truncates); the name last.
        title = f"{machine_id} {state}: {what}" + (f" ({m['name']})" if m["name"] else "")
        out.append(
            _exception(
                "machine_down",
                machine_id,
                severity="high" if "error" in detail else _machine_severity(late, lines, orders),
                title=title,
                raised_at=m["since"],
                owner=m["supervisor"],
                detail=detail,
                at=ctx.at,
            )
        )
    return out


# --------------------------------------------------------------------------------------- quality_hold


def _quality_holds(ctx: _Context, only: str | None = None) -> list[dict]:
    out = []
    for h in hold_reach(ctx.cur, only):
        lot_id = h["lot_id"]
        shipped, pending = h["shipped"], h["shipments"] - h["shipped"]
        descendants, stock = h["descendants"], float(h["stock_qty"] or 0)
        detail = {
            "lot_id": lot_id,
            "item_id": h["item_id"],
            "reason": h["reason"],
            "placed_by": h["placed_by"],
            "descendants": descendants,
            "shipments": h["shipments"],
            "shipped": shipped,
            "customers": h["customers"],
            "customers_shipped_to": h["customers_shipped_to"],
            "stock_qty": stock,
        }
        if shipped:
            severity = "critical"  # goods already at customers: a recall question
            to = h["customers_shipped_to"]
            what = f"shipped to {_plural(to, 'customer')}" if to else f"shipped in {_plural(shipped, 'shipment')}"
        elif pending:
            severity = "high"
            what = f"in {_plural(pending, 'open shipment')}"
        elif descendants or stock:
            severity = "medium"
            reach = [_plural(descendants, "lot") + " made from it"] if descendants else []
            what = ", ".join(reach + ([f"{_qty(stock)} in stock"] if stock else []))
        else:
            severity = "low"
            what = "contained"
        out.append(
            _exception(
                "quality_hold",
                h["hold_id"],
                severity=severity,
                title=f"Hold {h['hold_id']} on {lot_id}: {what}" + (f" ({h['item_id']})" if h["item_id"] else ""),
                raised_at=h["placed_at"],
                owner=h["placed_by"],
                detail=detail,
                at=ctx.at,
            )
        )
    return out


# ------------------------------------------------------------------------------------------- shortage


def _shortages(ctx: _Context, only: str | None = None) -> list[dict]:
    out = []
    for s in ctx.shortages().get("shortages") or []:
        item_id = s["item_id"]
        if only is not None and item_id != only:
            continue
        affected = s.get("affected") or []
        lines = [a for a in affected if a.get("kind") == "sales_order"]
        orders = [a for a in affected if a.get("kind") == "production_order"]
        first = as_datetime(s.get("first_short_at"))
        imminent = first is not None and (first - ctx.at).total_seconds() <= SHORTAGE_IMMINENT_HOURS * 3600
        if imminent and lines:
            severity = "critical"
        elif imminent or lines:
            severity = "high"
        elif orders:
            severity = "medium"
        else:
            severity = "low"
        hits = []  # customers first: they are what a planner answers for
        if lines:
            hits.append(_plural(len(lines), "customer line"))
        if orders:
            hits.append(_plural(len(orders), "production order"))
        if first is not None and first <= ctx.at:
            when = "now"
        elif first is not None and first.date() == ctx.at.date():
            when = f"from {first:%H:%M}"
        else:
            when = f"from {_day(first, ctx.at)}"
        title = f"{item_id} short {_qty(s.get('max_short_qty'))} {when}"
        if hits:
            title += ": hits " + " and ".join(hits)
        out.append(
            _exception(
                "shortage",
                item_id,
                severity=severity,
                title=title,
                # The projection does not know when it first appeared: a shortage that has begun is as old
                # as its start, one still ahead is new.
                raised_at=min(first, ctx.at) if first is not None else ctx.at,
                owner=s.get("buyer"),
                detail={
                    "first_short_at": first,
                    "max_short_qty": s.get("max_short_qty"),
                    "recovers_at": s.get("recovers_at"),
                    "affected": len(affected),
                    "production_orders": len(orders),
                    "sales_lines": len(lines),
                },
                at=ctx.at,
            )
        )
    return out


# ----------------------------------------------------------------------------------------- late_order


def _lines_info(cur: duckdb.DuckDBPyConnection, keys: list[tuple[str, int]]) -> dict[tuple[str, int], dict]:
    if not keys:
        return {}
    found = rows(
        cur,
        """SELECT so.sales_order_id, so.line_no, so.customer_id, so.item_id, so.qty, so.promised_date,
                  so.confirmed_at, so.status, c.name AS customer_name, c.account_manager
           FROM sales_orders so
           JOIN (SELECT unnest(?::VARCHAR[]) AS sales_order_id, unnest(?::INTEGER[]) AS line_no) k
             USING (sales_order_id, line_no)
           LEFT JOIN customers c ON c.customer_id = so.customer_id""",
        [[k[0] for k in keys], [int(k[1]) for k in keys]],
    )
    return {(r["sales_order_id"], r["line_no"]): r for r in found}


def _earliest_stop(cur: duckdb.DuckDBPyConnection) -> datetime | None:
    return _first(cur.execute(
        "SELECT min(since) FROM machine_states WHERE list_contains(?, state)", [list(STOPPED_STATES)]
    ))[0]


def _late_orders(ctx: _Context, only: str | None = None) -> list[dict]:
    late = [s for s in ctx.reschedule().get("sales_orders") or [] if s.get("late")]
    if only is not None:
        late = [s for s in late if _line_key(s["sales_order_id"], s["line_no"]) == only]
    info = _lines_info(ctx.cur, [(s["sales_order_id"], s["line_no"]) for s in late])
    stop = _earliest_stop(ctx.cur) if late else None
    out = []
    for s in late:
        key = (s["sales_order_id"], s["line_no"])
        line = info.get(key, {})
        if line.get("status") not in (None, "open"):
            continue
        promised = _as_date(s.get("promised_date") or line.get("promised_date"))
        eta = as_datetime(s.get("eta"))
        slip = (eta.date() - promised).days if eta and promised else None
        overdue = promised is not None and promised <= ctx.at.date()
        customer = line.get("customer_name") or s.get("customer_id") or line.get("customer_id")
        title = (f"{_line_key(*key)} late" + (f" +{slip}d" if slip is not None else "")
                 + f": ETA {_day(eta, ctx.at)}, promised {_day(promised, ctx.at)}"
                 + (f" ({customer})" if customer else ""))
        confirmed = as_datetime(line.get("confirmed_at"))
        # Lateness has no recorded start: it began when the order was confirmed, or with the earliest
        # current stop if that came later (a stop is what usually turns a line late).
        raised = max(t for t in (confirmed, stop) if t is not None) if (confirmed or stop) else ctx.at
        out.append(
            _exception(
                "late_order",
                _line_key(*key),
                severity="critical" if overdue else "high",
                title=title,
                raised_at=min(raised, ctx.at),
                owner=line.get("account_manager"),
                detail={
                    "customer_id": s.get("customer_id") or line.get("customer_id"),
                    "item_id": line.get("item_id"),
                    "qty": line.get("qty"),
                    "promised_date": promised,
                    "eta": eta,
                    "slip_days": slip,
                },
                at=ctx.at,
            )
        )
    return out


# ------------------------------------------------------------------------------------------ no_supply


_NO_SUPPLY_SQL = """
WITH affected AS (
    SELECT regexp_extract(line, '^(.+)/([0-9]+)$', 1) AS sales_order_id,
           TRY_CAST(regexp_extract(line, '^(.+)/([0-9]+)$', 2) AS INTEGER) AS line_no,
           short_item, need_at
    FROM {table}
),
short_lines AS (
    SELECT sales_order_id, line_no, arg_min(short_item, need_at) AS short_item, min(need_at) AS need_at
    FROM affected WHERE line_no IS NOT NULL GROUP BY sales_order_id, line_no
)
SELECT so.sales_order_id || '/' || so.line_no AS subject_id,
       CASE WHEN so.promised_date - CAST(? AS DATE) <= 2 THEN 'critical' ELSE 'high' END AS severity,
       so.sales_order_id || '/' || so.line_no || ' confirmed with no supply'
           || coalesce(' (' || coalesce(c.name, so.customer_id) || ')', '') AS title,
       least(so.confirmed_at, ?) AS raised_at,
       greatest(0, (epoch_us(CAST(? AS TIMESTAMP)) - epoch_us(least(so.confirmed_at, ?))) // 60000000) AS age_minutes,
       c.account_manager, so.customer_id, so.item_id, so.qty, so.promised_date, k.short_item, k.need_at
FROM short_lines k
JOIN sales_orders so ON so.sales_order_id = k.sales_order_id AND so.line_no = k.line_no
LEFT JOIN customers c ON c.customer_id = so.customer_id
WHERE so.status = 'open'
  AND NOT EXISTS (SELECT 1 FROM production_orders p
                  WHERE p.sales_order_id = so.sales_order_id AND p.line_no = so.line_no
                    AND p.status <> 'cancelled')
  -- "No supply" means nothing is planned that could cover it: no open purchase order and no open
  -- make-to-stock order for the item. Supply that exists but comes too late is the item's shortage
  -- exception, raised once per item rather than once per line.
  AND NOT EXISTS (SELECT 1 FROM purchase_orders po WHERE po.item_id = so.item_id AND po.status = 'open')
  AND NOT EXISTS (SELECT 1 FROM production_orders p
                  WHERE p.item_id = so.item_id AND p.sales_order_id IS NULL
                    AND p.status IN ('planned', 'released', 'in_progress'))
ORDER BY so.sales_order_id, so.line_no
"""


def _no_supply(ctx: _Context, only: str | None = None) -> list[dict]:
    """Open lines the shortage projection finds short and that no production order is made for.

    A large plant can have hundreds of thousands of them, so the lines go to DuckDB as one Arrow table
    and come back already joined and filtered; the Python loop only shapes the rows.
    """
    lines, items, needs = [], [], []
    for s in ctx.shortages().get("shortages") or []:
        item_id = s["item_id"]
        for a in s.get("affected") or []:
            if a.get("kind") == "sales_order" and (only is None or a.get("id") == only):
                lines.append(str(a["id"]))
                items.append(item_id)
                needs.append(as_datetime(a.get("need_at")))
    if not lines:
        return []
    table = pa.table({"line": pa.array(lines, pa.string()), "short_item": pa.array(items, pa.string()),
                      "need_at": pa.array(needs, pa.timestamp("us"))})
    # A cursor of its own: the Arrow table is registered on it alone, and goes with it.
    cur = ctx.cur.cursor()
    try:
        cur.register("short_lines_in", table)
        rows = cur.execute(_NO_SUPPLY_SQL.format(table="short_lines_in"), [ctx.at] * 4).fetchall()
    finally:
        cur.close()
    # The rows are shaped here directly (the same keys as `_exception`): there can be very many.
    return [
        {
            "exception_id": "no_supply:" + subject,
            "kind": "no_supply",
            "severity": severity,
            "title": title,
            "subject_kind": "sales_order_line",
            "subject_id": subject,
            "raised_at": raised,
            "age_minutes": age,
            "owner": manager,
            "assignee": None,
            "status": "open",
            "snoozed_until": None,
            "cause_cleared": False,
            "cleared_note": None,
            "detail": {"customer_id": customer_id, "item_id": item_id, "qty": qty, "promised_date": promised,
                       "short_item_id": short_item, "need_at": need_at},
            "last_action": None,
        }
        for subject, severity, title, raised, age, manager, customer_id, item_id, qty, promised, short_item, need_at
        in rows
    ]


# ----------------------------------------------------------------------------------------- feed_stale


def _feed_state(feed_status: object) -> str:
    state = getattr(feed_status, "state", None)
    state = getattr(state, "value", state)  # an Enum or a plain string
    return str(state or "").strip().lower().replace(" ", "_")


def _statuses(feed_status: object | None) -> list[object]:
    """One FeedStatus, several (a console following more than one feed), or none."""
    if feed_status is None:
        return []
    if isinstance(feed_status, (list, tuple, set)):
        return [s for s in feed_status if s is not None]
    return [feed_status]


def _feed_stale(feed_status: object | None, at: datetime, only: str | None = None) -> list[dict]:
    out = []
    for status in _statuses(feed_status):
        out += _one_feed_stale(status, at, only)
    return out


def _one_feed_stale(feed_status: object, at: datetime, only: str | None) -> list[dict]:
    if _feed_state(feed_status) not in STALE_FEED_STATES:
        return []
    feed = str(getattr(feed_status, "feed", None) or "feed")
    if only is not None and feed != only:
        return []
    since = as_datetime(getattr(feed_status, "since", None))
    error = getattr(feed_status, "last_error", None)
    title = f"Feed {feed} stale" + (f" since {_clock(since, at)}" if since else "")
    if error:
        title += f": {error}"
    return [
        _exception(
            "feed_stale",
            feed,
            severity="high",
            title=title,
            raised_at=since or at,
            owner=None,
            detail={"feed": feed, "state": _feed_state(feed_status), "since": since, "last_error": error},
            at=at,
        )
    ]


# ------------------------------------------------------------------------------------ cleared causes


def _first_action_at(cur: duckdb.DuckDBPyConnection, exception_id: str) -> datetime | None:
    return _first(cur.execute("SELECT min(acted_at) FROM exception_actions WHERE exception_id = ?", [exception_id]))[0]


def _last_event_time(cur: duckdb.DuckDBPyConnection, kind: str, subject: str, types: tuple[str, ...]) -> datetime | None:
    sql, params = _events_filter(kind, subject)
    if sql is None:
        return None
    row = _first(cur.execute(
        f"SELECT max(coalesce(event_time, received_at)) FROM event_log WHERE list_contains(?, type) AND {sql}",
        [list(types), *params],
    ))
    return row[0] if row else None


def _cleared_note(cur: duckdb.DuckDBPyConnection, kind: str, subject: str, at: datetime,
                  feed_status: object | None = None) -> str:
    if kind == "machine_down":
        row = _first(cur.execute(
            """SELECT m.machine_id, s.state, s.since FROM machines m LEFT JOIN machine_states s USING (machine_id)
               WHERE m.machine_id = ?""",
            [subject],
        ))
        if row is None:
            return "machine no longer in the plant data"
        if row[1] is None:
            return "machine running"
        return f"machine back up ({row[1]}) since {_clock(row[2], at)}"
    if kind == "quality_hold":
        row = _first(cur.execute("SELECT status FROM quality_holds WHERE hold_id = ?", [subject]))
        if row is None:
            return "hold no longer in the plant data"
        released = _last_event_time(cur, kind, subject, ("hold.released",))
        return "hold released" + (f" at {_clock(released, at)}" if released else "")
    if kind == "shortage":
        return "no longer short"
    if kind in ("late_order", "no_supply"):
        so, line = split_order_line(subject)
        row = _first(cur.execute(
            "SELECT status FROM sales_orders WHERE sales_order_id = ? AND line_no = ?", [so, line]
        ))
        if row is None:
            return "order line no longer in the plant data"
        if row[0] != "open":
            return f"order line {row[0]}"
        if kind == "late_order":
            return "back on time"
        order = _first(cur.execute(
            """SELECT production_order_id FROM production_orders
               WHERE sales_order_id = ? AND line_no = ? AND status <> 'cancelled'
               ORDER BY production_order_id LIMIT 1""",
            [so, line],
        ))
        return f"supply planned: production order {order[0]}" if order else "no longer short"
    for status in _statuses(feed_status):
        if str(getattr(status, "feed", None) or "feed") == subject:
            return f"feed {_feed_state(status).replace('_', ' ')} again"
    return "feed not followed here"  # e.g. the CLI, which runs no feed: nothing says it is still stale


def _cleared(cur: duckdb.DuckDBPyConnection, exception_id: str, at: datetime,
             feed_status: object | None = None) -> dict:
    kind, subject = parse_exception_id(exception_id)
    row = _exception(
        kind,
        subject,
        severity="low",  # the cause is gone; what is left is closing the triage
        title=f"{subject}: {_KIND_WORDS[kind]} (cleared)",
        raised_at=_first_action_at(cur, exception_id) or at,
        owner=_default_owner(cur, kind, subject),
        detail={},
        at=at,
    )
    row["cause_cleared"] = True
    row["cleared_note"] = _cleared_note(cur, kind, subject, at, feed_status)
    row["title"] = f"{subject}: {_KIND_WORDS[kind]}, cleared: {row['cleared_note']}"
    return row


_KIND_WORDS = {
    "machine_down": "machine stop",
    "quality_hold": "quality hold",
    "shortage": "material shortage",
    "late_order": "late customer line",
    "no_supply": "confirmed line without supply",
    "feed_stale": "stale feed",
}


def _default_owner(cur: duckdb.DuckDBPyConnection, kind: str, subject: str) -> str | None:
    if kind == "machine_down":
        row = _first(cur.execute("SELECT supervisor FROM machines WHERE machine_id = ?", [subject]))
    elif kind == "quality_hold":
        row = _first(cur.execute("SELECT placed_by FROM quality_holds WHERE hold_id = ?", [subject]))
    elif kind == "shortage":
        row = _first(cur.execute("SELECT buyer FROM items WHERE item_id = ?", [subject]))
    elif kind in ("late_order", "no_supply"):
        so, line = split_order_line(subject)
        row = _first(cur.execute(
            """SELECT c.account_manager FROM sales_orders so JOIN customers c USING (customer_id)
               WHERE so.sales_order_id = ? AND so.line_no = ?""",
            [so, line],
        ))
    else:
        row = None
    return row[0] if row else None


# ------------------------------------------------------------------------------------------ the inbox


# On a tie, causes come before their consequences: the stopped machine before the lines it makes late.
_KIND_RANK = {k: i for i, k in enumerate(
    ("feed_stale", "machine_down", "quality_hold", "shortage", "no_supply", "late_order"))}


def _sort_key(row: dict):
    return (
        _SEVERITY_RANK[row["severity"]],
        row["cause_cleared"],
        -(row["age_minutes"] or 0),
        _KIND_RANK[row["kind"]],
        row["exception_id"],
    )


# Kinds whose raised_at is the true start of the occurrence (not an estimate), so a later start means a
# new occurrence under the same id.
_TRUE_START_KINDS = ("machine_down", "feed_stale")


def _with_triage(row: dict, state: dict | None, at: datetime) -> dict:
    if state:
        row["status"] = effective_status(state, at)
        if (
            row["status"] == "resolved"
            and row["kind"] in _TRUE_START_KINDS
            and not row["cause_cleared"]
            and row["raised_at"] is not None
            and row["raised_at"] > state["updated_at"]
        ):
            row["status"] = "open"  # it stopped again after being resolved: a new stop, not the old one
        row["assignee"] = state["assignee"]
        row["snoozed_until"] = state["snoozed_until"] if row["status"] == "snoozed" else None
        row["last_action"] = state["last_action"]
    return row


def _visible(row: dict, include_resolved: bool, include_snoozed: bool) -> bool:
    if row["status"] == "resolved":
        return include_resolved
    if row["status"] == "snoozed":
        return include_snoozed
    return True


def list_exceptions(
    cur: duckdb.DuckDBPyConnection,
    *,
    at: datetime,
    feed_status: object | None = None,
    include_resolved: bool = False,
    include_snoozed: bool = True,
    problems: list[str] | None = None,
) -> list[dict]:
    """Every exception as of `at`, worst first (severity, then cause not cleared, then oldest).

    A kind whose detector fails on the plant data (a CycleError: a feeding loop that events brought in)
    is left out and said in `problems` (when given) and the log; every other kind is still listed."""
    at = parse_timestamp(at, what="--at timestamp")
    ctx = _Context(cur, at)
    detectors = (
        ("machine_down", lambda: _machines_down(ctx)),
        ("quality_hold", lambda: _quality_holds(ctx)),
        ("shortage", lambda: _shortages(ctx)),
        ("late_order", lambda: _late_orders(ctx)),
        ("no_supply", lambda: _no_supply(ctx)),
        ("feed_stale", lambda: _feed_stale(feed_status, at)),
    )
    raised = []
    for kind, detect in detectors:
        try:
            raised += detect()
        except PlannerError as error:  # one kind's data problem must not empty the whole inbox
            problem = f"{kind} exceptions cannot be computed: {error}"
            log.warning("%s", problem)
            if problems is not None:
                problems.append(problem)
    states = triage_state(cur)
    rows = []
    seen = set()
    for row in raised:
        seen.add(row["exception_id"])
        rows.append(_with_triage(row, states.get(row["exception_id"]), at))
    for exception_id, state in states.items():
        if exception_id in seen:
            continue
        if state["status"] == "resolved" and not include_resolved:
            continue  # a resolved exception whose cause is gone is history: skip the lookups
        try:
            rows.append(_with_triage(_cleared(cur, exception_id, at, feed_status), state, at))
        except PlannerError:
            continue  # an id that no longer parses (written by a newer version): not ours to show
    rows = [r for r in rows if _visible(r, include_resolved, include_snoozed)]
    rows.sort(key=_sort_key)
    return rows


def get_exception(cur: duckdb.DuckDBPyConnection, exception_id: str, *, at: datetime,
                  feed_status: object | None = None) -> dict:
    """One exception, raised or still in triage, with its `history`: triage actions and the events
    that raised or cleared it, in time order."""
    at = parse_timestamp(at, what="--at timestamp")
    exception_id = (exception_id or "").strip()
    kind, subject = parse_exception_id(exception_id)
    ctx = _Context(cur, at)
    if kind == "machine_down":
        raised = _machines_down(ctx, subject)
    elif kind == "quality_hold":
        raised = _quality_holds(ctx, subject)
    elif kind == "shortage":
        raised = _shortages(ctx, subject)
    elif kind == "late_order":
        raised = _late_orders(ctx, subject)
    elif kind == "no_supply":
        raised = _no_supply(ctx, subject)
    else:
        raised = _feed_stale(feed_status, at, subject)
    state = triage_state(cur, [exception_id]).get(exception_id)
    if raised:
        row = raised[0]
    elif state:
        row = _cleared(cur, exception_id, at, feed_status)
    else:
        raise NotFound(
            f"no exception {exception_id} as of {at.isoformat(timespec='seconds')}: nothing raises it "
            "and nobody has triaged it (see `planner-tui exceptions --all`)"
        )
    row = _with_triage(row, state, at)
    row["history"] = exception_history(cur, exception_id)
    return row


# ---------------------------------------------------------------------------------------- the history


def _events_filter(kind: str, subject: str) -> tuple[str | None, list]:
    """SQL condition on event_log matching events about the subject, whether `data` holds the whole
    CloudEvent (fields under `$.data`) or only its data."""

    def field(name: str) -> str:
        return f"coalesce(json_extract_string(data, '$.data.{name}'), json_extract_string(data, '$.{name}'))"

    if kind == "machine_down":
        return f"{field('machine_id')} = ?", [subject]
    if kind == "quality_hold":
        return f"{field('hold_id')} = ?", [subject]
    if kind in ("late_order", "no_supply"):
        so, line = split_order_line(subject)
        return f"{field('sales_order_id')} = ? AND TRY_CAST({field('line_no')} AS INTEGER) = ?", [so, line]
    if kind == "shortage":
        return (
            f"""({field('item_id')} = ? OR {field('purchase_order_id')} IN
                 (SELECT purchase_order_id FROM purchase_orders WHERE item_id = ?))""",
            [subject, subject],
        )
    return None, []


_EVENT_TYPES = {
    "machine_down": ("machine.down", "machine.up"),
    "quality_hold": ("hold.placed", "hold.released"),
    "late_order": ("order.confirmed", "order.changed", "order.cancelled", "shipment.shipped"),
    "no_supply": ("order.confirmed", "order.changed", "order.cancelled"),
    "shortage": ("inventory.adjusted", "receipt.posted", "order.confirmed", "order.changed"),
}
MAX_EVENTS = 200  # the most recent ones; a machine that flaps all day would bury the triage otherwise


def _event_summary(event_type: str, payload: dict) -> str:
    data = payload.get("data") if isinstance(payload.get("data"), dict) else payload
    skip = {"machine_id", "hold_id", "sales_order_id", "line_no"}
    parts = [f"{k}={v}" for k, v in data.items() if k not in skip and v not in (None, "")]
    return event_type + (": " + ", ".join(parts) if parts else "")


def subject_events(cur: duckdb.DuckDBPyConnection, kind: str, subject: str) -> list[dict]:
    types = _EVENT_TYPES.get(kind)
    condition, params = _events_filter(kind, subject)
    if not types or condition is None:
        return []
    rows = cur.execute(
        f"""SELECT * FROM (
                SELECT coalesce(event_time, received_at) AS t, type, source, event_id, outcome, reason, data
                FROM event_log
                WHERE list_contains(?, type) AND {condition}
                ORDER BY t DESC, sequence DESC NULLS LAST LIMIT {MAX_EVENTS}
            ) ORDER BY t""",
        [list(types), *params],
    ).fetchall()
    out = []
    for t, event_type, source, event_id, outcome, reason, data in rows:
        try:
            payload = json.loads(data) if data else {}
        except ValueError:
            payload = {}
        out.append(
            {
                "kind": "event",
                "at": t,
                "type": event_type,
                "source": source,
                "event_id": event_id,
                "outcome": outcome,
                "reason": reason,
                "summary": _event_summary(event_type, payload if isinstance(payload, dict) else {}),
            }
        )
    return out


def exception_history(cur: duckdb.DuckDBPyConnection, exception_id: str) -> list[dict]:
    """Triage actions and the subject's events merged in time order (an event before an action at the
    same instant: it is what the planner reacted to)."""
    kind, subject = parse_exception_id(exception_id)
    actions = [{"kind": "triage", **a} for a in triage_history(cur, exception_id)]
    events = subject_events(cur, kind, subject)
    merged = [(e["at"], 0, i, e) for i, e in enumerate(events)] + [(a["at"], 1, i, a) for i, a in enumerate(actions)]
    merged.sort(key=lambda m: (m[0], m[1], m[2]))
    return [m[3] for m in merged]
