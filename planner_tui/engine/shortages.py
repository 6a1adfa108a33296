"""Material shortages: a time-phased balance per item, computed set-based in DuckDB.

The rules (issue 3):

- Start: on-hand inventory, except lots on hold (lot status ``hold``, or an active quality hold on the
  lot). Unlotted stock always counts.
- Supply: open purchase orders at their due date (a date means its midnight in the plant's time zone,
  snapshot.json `timezone`, UTC when none: judged by the plant's local day as lateness is); production orders
  that are planned, released or in progress, their qty of their item at planned_end.
- Demand: the direct BOM components of planned and released production orders (order qty x qty_per)
  at the order's planned_start; open sales order lines at their promised_date.
- At one instant supply counts before demand. Anything dated before ``at`` counts at ``at`` (what is past
  due is still owed) and is flagged ``overdue``. With a horizon, events after ``at + horizon_days`` are
  ignored.
- An item is short where its running balance goes below zero. The affected demands are those that find
  the balance below zero: the one that takes it below zero and every later one while it stays there.
  ``recovers_at`` is when the balance is back to >= 0 for good (the end of the last short period; null
  if it is still short at the end of the horizon); ``periods`` lists each short period. A shortage is
  ``overdue`` when the item is already short at ``at``.
- An item whose balance drops below its safety stock but never below zero gets a warning instead.

Everything runs as one SQL statement: a running ``SUM`` over (PARTITION BY item ORDER BY time, supply
before demand); Python only shapes the per-item answer rows.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import duckdb

from planner_tui.engine.etas import local_midnight_sql, plant_timezone
from planner_tui.errors import BadRequest, NotFound
from planner_tui.store.db import rows

# Order inside one instant: the on-hand start first, then supply, then demand.
RANK_START, RANK_SUPPLY, RANK_DEMAND = -1, 0, 1

# Balances are rounded before comparing with zero so that float sums (0.1 * 3 ...) make no phantom
# shortage of 1e-16.
ROUND_DIGITS = 6


# One row per event: the on-hand start of every item, then supply and demand. Parameters, in order:
# at, horizon_end (NULL = none), item_ids (NULL = all items), the plant's time zone. The item filter is written as an IN
# subquery, not list_contains, so DuckDB pushes it into the scans (3x faster for one item).
_EVENTS_SQL = f"""
WITH params AS (
    SELECT CAST(? AS TIMESTAMP) AS now_at, CAST(? AS TIMESTAMP) AS horizon_end, CAST(? AS VARCHAR[]) AS only_items,
           CAST(? AS VARCHAR) AS tz
),
held AS (
    SELECT lot_id FROM lots WHERE status = 'hold'
    UNION
    SELECT lot_id FROM quality_holds WHERE status = 'active'
),
on_hand AS (
    SELECT i.item_id, sum(i.qty) AS qty
    FROM inventory i, params
    WHERE (params.only_items IS NULL OR i.item_id IN (SELECT unnest(only_items) FROM params))
      AND (i.lot_id IS NULL OR i.lot_id NOT IN (SELECT lot_id FROM held))
    GROUP BY i.item_id
),
raw_events AS (
    SELECT po.item_id, {local_midnight_sql("po.due_date", "params.tz")} AS due_at, po.qty AS delta, {RANK_SUPPLY} AS rank,
           'purchase_order' AS kind, po.purchase_order_id AS ref, po.item_id AS order_item_id
    FROM purchase_orders po, params
    WHERE po.status = 'open' AND (params.only_items IS NULL OR po.item_id IN (SELECT unnest(only_items) FROM params))
    UNION ALL
    SELECT p.item_id, p.planned_end, p.qty, {RANK_SUPPLY}, 'production_order', p.production_order_id, p.item_id
    FROM production_orders p, params
    WHERE p.status IN ('planned', 'released', 'in_progress')
      AND (params.only_items IS NULL OR p.item_id IN (SELECT unnest(only_items) FROM params))
    UNION ALL
    SELECT b.component_item_id, p.planned_start, -(p.qty * b.qty_per), {RANK_DEMAND}, 'component',
           p.production_order_id, p.item_id
    FROM production_orders p JOIN bom b ON b.parent_item_id = p.item_id, params
    WHERE p.status IN ('planned', 'released')
      AND (params.only_items IS NULL OR b.component_item_id IN (SELECT unnest(only_items) FROM params))
    UNION ALL
    SELECT so.item_id, {local_midnight_sql("so.promised_date", "params.tz")}, -so.qty, {RANK_DEMAND}, 'sales_order',
           so.sales_order_id || '/' || CAST(so.line_no AS VARCHAR), so.item_id
    FROM sales_orders so, params
    WHERE so.status = 'open' AND (params.only_items IS NULL OR so.item_id IN (SELECT unnest(only_items) FROM params))
),
events AS (
    SELECT e.item_id, greatest(e.due_at, params.now_at) AS event_at, e.due_at, e.delta, e.rank, e.kind, e.ref,
           e.order_item_id, e.due_at < params.now_at AS overdue
    FROM raw_events e, params
    WHERE params.horizon_end IS NULL OR greatest(e.due_at, params.now_at) <= params.horizon_end
    UNION ALL
    SELECT it.item_id, params.now_at, params.now_at, coalesce(oh.qty, 0), {RANK_START}, 'on_hand', NULL, it.item_id, false
    FROM items it LEFT JOIN on_hand oh ON oh.item_id = it.item_id, params
    WHERE params.only_items IS NULL OR it.item_id IN (SELECT unnest(only_items) FROM params)
),
balanced AS (
    SELECT *,
           round(sum(delta) OVER w, {ROUND_DIGITS}) AS balance,
           -- the balance just before this event, from the same window (no second pass for a lag)
           round(sum(delta) OVER w - delta, {ROUND_DIGITS}) AS balance_before,
           row_number() OVER w AS seq
    FROM events
    WINDOW w AS (PARTITION BY item_id ORDER BY event_at, rank, due_at, ref
                 ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
)
"""

# One aggregate pass over the balanced events: a short period starts at an event that takes the balance
# below zero and ends at the one that brings it back (both found row by row from balance_before, so no
# extra window pass); the affected demands are the demand events that leave the balance below zero.
_SHORTAGES_SQL = (
    _EVENTS_SQL
    + """
SELECT b.item_id,
       any_value(it.description) AS description,
       any_value(it.buyer) AS buyer,
       coalesce(any_value(it.safety_stock), 0) AS safety_stock,
       min(b.balance) AS min_balance,
       min(b.event_at) FILTER (WHERE b.balance < 0) AS first_short_at,
       min(b.event_at) FILTER (WHERE b.balance < coalesce(it.safety_stock, 0)) AS below_safety_at,
       list(b.event_at ORDER BY b.seq) FILTER (WHERE b.balance < 0 AND b.balance_before >= 0) AS short_starts,
       list(b.event_at ORDER BY b.seq) FILTER (WHERE b.balance >= 0 AND b.balance_before < 0) AS recoveries,
       list({'kind': CASE b.kind WHEN 'sales_order' THEN 'sales_order' ELSE 'production_order' END,
             'id': b.ref, 'item_id': b.order_item_id, 'need_at': b.due_at, 'counted_at': b.event_at,
             'qty': -b.delta, 'overdue': b.overdue, 'balance': b.balance} ORDER BY b.seq)
           FILTER (WHERE b.balance < 0 AND b.kind IN ('component', 'sales_order')) AS affected
FROM balanced b LEFT JOIN items it ON it.item_id = b.item_id
GROUP BY b.item_id
HAVING min(b.balance) < 0 OR count(*) FILTER (WHERE b.balance < coalesce(it.safety_stock, 0)) > 0
"""
)

_POINTS_SQL = (
    _EVENTS_SQL
    + """
SELECT item_id, seq, event_at AS at, due_at, delta, balance, kind, ref, order_item_id, overdue, rank
FROM balanced ORDER BY item_id, seq
"""
)


MAX_HORIZON_DAYS = 3650  # ten years


def _window(at: datetime, horizon_days: int | None) -> datetime | None:
    if not isinstance(at, datetime):
        raise BadRequest(f"'at' must be a timestamp, got {at!r}")
    if horizon_days is None:
        return None
    if isinstance(horizon_days, bool) or not isinstance(horizon_days, (int, float)):
        raise BadRequest(f"horizon must be a number of days, got {horizon_days!r}")
    if not math.isfinite(horizon_days) or horizon_days > MAX_HORIZON_DAYS:
        raise BadRequest(f"horizon must be at most {MAX_HORIZON_DAYS} days, got {horizon_days}")
    if horizon_days < 0:
        raise BadRequest(f"horizon must not be negative, got {horizon_days} days")
    return at + timedelta(days=horizon_days)


def _periods(starts: list, recoveries: list, affected: list[dict], min_balance: float) -> list[dict]:
    """Pair each start of a short period with its recovery (the last may have none) and find each
    period's deepest point among its affected demands (only a demand lowers the balance)."""
    periods = []
    for i, start in enumerate(starts):
        end = recoveries[i] if i < len(recoveries) else None
        depth = [-a["balance"] for a in affected if a["counted_at"] >= start and (end is None or a["counted_at"] < end)]
        periods.append({"short_at": start, "recovers_at": end, "max_short_qty": max(depth, default=-min_balance)})
    return periods


def shortages(cur: duckdb.DuckDBPyConnection, *, at: datetime, horizon_days: int | None = None) -> dict:
    """Every item that runs short (balance below zero) within the horizon, and every item that only
    dips below its safety stock (``warnings``). Shortages are sorted by first_short_at."""
    horizon_end = _window(at, horizon_days)
    found, warnings = [], []
    for r in rows(cur, _SHORTAGES_SQL, [at, horizon_end, None, plant_timezone(cur)]):
        if r["first_short_at"] is None:
            warnings.append(
                {
                    "item_id": r["item_id"],
                    "description": r["description"],
                    "buyer": r["buyer"],
                    "below_safety_at": r["below_safety_at"],
                    "min_balance": r["min_balance"],
                    "safety_stock": r["safety_stock"],
                }
            )
            continue
        affected = r["affected"] or []
        periods = _periods(r["short_starts"] or [], r["recoveries"] or [], affected, r["min_balance"])
        found.append(
            {
                "item_id": r["item_id"],
                "description": r["description"],
                "buyer": r["buyer"],
                "first_short_at": r["first_short_at"],
                "max_short_qty": -r["min_balance"],
                # Back to >= 0 for good: the end of the last short period (None: still short at the end).
                "recovers_at": periods[-1]["recovers_at"],
                "overdue": r["first_short_at"] <= at,
                "safety_stock": r["safety_stock"],
                "periods": periods,
                "affected": affected,
            }
        )
    found.sort(key=lambda s: (s["first_short_at"], s["item_id"]))
    warnings.sort(key=lambda w: (w["below_safety_at"], w["item_id"]))
    return {"at": at, "horizon_end": horizon_end, "shortages": found, "warnings": warnings}


def projection(cur: duckdb.DuckDBPyConnection, item_id: str, *, at: datetime, horizon_days: int | None = None) -> dict:
    """The time-phased balance of one item: one point per event, the on-hand start first."""
    horizon_end = _window(at, horizon_days)
    item = cur.execute(
        "SELECT item_id, description, buyer, coalesce(safety_stock, 0) FROM items WHERE item_id = ?", [item_id]
    ).fetchone()
    if item is None:
        raise NotFound(f"unknown item {item_id!r}: no such item_id in items")
    points = rows(cur, _POINTS_SQL, [at, horizon_end, [item_id], plant_timezone(cur)])
    on_hand = points[0]["delta"] if points and points[0]["rank"] == RANK_START else 0.0
    for p in points:
        del p["item_id"], p["seq"]
        rank = p.pop("rank")
        p["direction"] = "start" if rank == RANK_START else "supply" if rank == RANK_SUPPLY else "demand"
    safety = item[3]
    negative = [p for p in points if p["balance"] < 0]
    below_safety = [p for p in points if p["balance"] < safety]
    # Recovery "for good": the first point after the last negative one (none: still short at the end).
    recovers_at = None
    if negative:
        last = max(i for i, p in enumerate(points) if p["balance"] < 0)
        recovers_at = points[last + 1]["at"] if last + 1 < len(points) else None
    return {
        "item_id": item[0],
        "description": item[1],
        "buyer": item[2],
        "at": at,
        "horizon_end": horizon_end,
        "on_hand": on_hand,
        "safety_stock": safety,
        "min_balance": min((p["balance"] for p in points), default=on_hand),
        "end_balance": points[-1]["balance"] if points else on_hand,
        "first_short_at": negative[0]["at"] if negative else None,
        "recovers_at": recovers_at,
        "below_safety_at": below_safety[0]["at"] if below_safety else None,
        "points": points,
    }


def balance_series(
    cur: duckdb.DuckDBPyConnection, item_ids: list[str], *, at: datetime, horizon_days: int | None = None
) -> dict[str, list[tuple[datetime, float]]]:
    """(time, balance) after each event for several items in one query: what sparklines are drawn from."""
    horizon_end = _window(at, horizon_days)
    if not item_ids:
        return {}
    series: dict[str, list[tuple[datetime, float]]] = {item: [] for item in item_ids}
    for item, when, balance in cur.execute(
        'SELECT item_id, "at", balance FROM (' + _POINTS_SQL + ") ORDER BY item_id, seq",
        [at, horizon_end, list(item_ids), plant_timezone(cur)],
    ).fetchall():
        series.setdefault(item, []).append((when, balance))
    return series
