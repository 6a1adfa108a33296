"""When a customer line will be ready, and whether that is late: one answer for every question.

* **Lateness is judged by the plant's local day.** A line is late when its ETA falls on a day, in the
  plant's time zone (snapshot.json `timezone`, UTC when none), after its promised date: an ETA of
  23:30 UTC on the 4th is the 5th in Berlin. A date (promised, due) begins at the plant's local midnight.
* **A line made to order** (an open production order is made for it) is ready when the latest of those
  orders ends (`lines.lines_report`, with the repair's new ends).
* **A line served from stock** (no open order is made for it) takes stock: the on-hand stock of its item
  (lots on hold excepted), then open purchase orders at their due date, then open make-to-stock orders
  of the item (made for no line) at their end, allocated to the item's stock-served lines in promised-date
  order (then order, line). Its ETA is when what came in so far covers it and every line promised before
  it: `at` when the stock on hand does. A line nothing covers has no ETA (`no_supply` says so).
  Component demand of production orders is not allocated here (the shortages projection weighs it).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import duckdb

from planner_tui.engine.calendar import PlantTime
from planner_tui.store.contract import DEFAULT_TIMEZONE, OPEN_PRODUCTION_STATUSES

_OPEN_SQL = ", ".join(f"'{s}'" for s in OPEN_PRODUCTION_STATUSES)  # constants from the contract


def plant_timezone(cur: duckdb.DuckDBPyConnection) -> str:
    """The plant's IANA time zone (snapshot.json `timezone`), UTC when the snapshot names none."""
    found = cur.execute("SELECT value FROM store_meta WHERE key = 'timezone'").fetchall()
    return (found[0][0] if found else None) or DEFAULT_TIMEZONE


class PlantDay:
    """The plant's local day of a UTC time, and lateness against a promised date by it."""

    def __init__(self, timezone: str = DEFAULT_TIMEZONE):
        self.timezone = timezone
        self._time = PlantTime(timezone=timezone)

    @classmethod
    def of(cls, cur: duckdb.DuckDBPyConnection) -> PlantDay:
        return cls(plant_timezone(cur))

    def day(self, t: datetime) -> date:
        return self._time.local_date(t)

    def starts(self, day: date) -> datetime:
        """When the plant's local day begins, as a naive UTC time (what the store holds)."""
        local = datetime.combine(day, time()).replace(tzinfo=ZoneInfo(self.timezone))
        return local.astimezone(UTC).replace(tzinfo=None)

    def late(self, eta: datetime | None, promised: date | None) -> bool:
        return eta is not None and promised is not None and self.day(eta) > promised

    def days_late(self, eta: datetime | None, promised: date | None) -> int:
        if eta is None or promised is None:
            return 0
        return max(0, (self.day(eta) - promised).days)


def local_day_sql(column: str, tz: str = "?") -> str:
    """SQL for the plant's local day of a naive UTC timestamp `column`, `tz` an SQL expression for the
    time zone (default a `?` parameter). Both are SQL of the caller's own query, never user input."""
    return f"CAST(timezone({tz}, timezone('UTC', {column})) AS DATE)"


def local_midnight_sql(column: str, tz: str = "?") -> str:
    """SQL for the naive UTC instant the date `column` begins at in the plant (`tz` as in
    `local_day_sql`; UTC skips the conversion)."""
    return (
        f"CASE WHEN {tz} = 'UTC' THEN CAST({column} AS TIMESTAMP) "
        f"ELSE CAST(timezone('UTC', timezone({tz}, CAST({column} AS TIMESTAMP))) AS TIMESTAMP) END"
    )


# Stock-served open lines and what covers them, in the plan and with a repair's new ends. Parameters:
# at, time zone, moved order ids, their new ends, only these items (NULL: all). `{supply_now}` and
# `{keep}` are filled from the constants below, never from input.
_STOCK_ETAS_SQL = f"""
WITH params AS (SELECT CAST(? AS TIMESTAMP) AS now_at, CAST(? AS VARCHAR) AS tz),
moved AS (SELECT unnest(CAST(? AS VARCHAR[])) AS po, unnest(CAST(? AS TIMESTAMP[])) AS new_end),
wanted AS (SELECT CAST(? AS VARCHAR[]) AS items),
served AS MATERIALIZED (
    SELECT s.sales_order_id, s.line_no, s.item_id, s.qty, s.promised_date
    FROM sales_orders s, wanted
    WHERE s.status = 'open' AND (wanted.items IS NULL OR s.item_id IN (SELECT unnest(items) FROM wanted))
      AND NOT EXISTS (
          SELECT 1 FROM production_orders p
          WHERE p.sales_order_id = s.sales_order_id AND p.line_no = s.line_no AND p.status IN ({_OPEN_SQL}))
),
served_items AS (SELECT DISTINCT item_id FROM served),
demand AS (
    SELECT sales_order_id, line_no, item_id, promised_date,
           sum(qty) OVER (PARTITION BY item_id ORDER BY promised_date, sales_order_id, line_no
                          ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS need
    FROM served
),
held AS (
    SELECT lot_id FROM lots WHERE status = 'hold'
    UNION
    SELECT lot_id FROM quality_holds WHERE status = 'active'
),
incoming AS MATERIALIZED (
    SELECT i.item_id, params.now_at AS t, params.now_at AS t_now, sum(i.qty) AS qty
    FROM inventory i, params
    WHERE i.item_id IN (SELECT item_id FROM served_items)
      AND (i.lot_id IS NULL OR i.lot_id NOT IN (SELECT lot_id FROM held))
    GROUP BY i.item_id, params.now_at
    UNION ALL
    SELECT po.item_id, due.t, due.t, po.qty
    FROM purchase_orders po, params,
         LATERAL (SELECT greatest({local_midnight_sql("po.due_date", "params.tz")}, params.now_at) AS t) due
    WHERE po.status = 'open' AND po.item_id IN (SELECT item_id FROM served_items)
    UNION ALL
    SELECT p.item_id, greatest(p.planned_end, params.now_at),
           greatest(coalesce(m.new_end, p.planned_end), params.now_at), p.qty
    FROM production_orders p LEFT JOIN moved m ON m.po = p.production_order_id, params
    WHERE p.status IN ({_OPEN_SQL}) AND p.sales_order_id IS NULL
      AND p.item_id IN (SELECT item_id FROM served_items)
),
moved_items AS (
    SELECT DISTINCT p.item_id FROM production_orders p JOIN moved m ON m.po = p.production_order_id
),
supply_plan AS (
    SELECT item_id, t,
           sum(qty) OVER (PARTITION BY item_id ORDER BY t ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS have
    FROM incoming WHERE qty > 0
),
etas AS (
    SELECT d.sales_order_id, d.line_no, d.promised_date, sp.t AS planned_eta{{eta}}
    FROM demand d ASOF LEFT JOIN supply_plan sp ON d.item_id = sp.item_id AND d.need <= sp.have{{supply_now}}
)
SELECT sales_order_id, line_no, planned_eta, eta, promised_date FROM etas, params{{keep}}
"""
_SAME_SUPPLY = ("", "")  # nothing moved: the ETA is the planned one
# Something moved: the items whose supply moved get their own allocation; every other keeps its plan's.
_MOVED_SUPPLY = (
    ", CASE WHEN d.item_id IN (SELECT item_id FROM moved_items) THEN sn.t ELSE sp.t END AS eta",
    """
    ASOF LEFT JOIN (
        SELECT item_id, t_now AS t,
               sum(qty) OVER (PARTITION BY item_id ORDER BY t_now ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
                   AS have
        FROM incoming WHERE qty > 0 AND item_id IN (SELECT item_id FROM moved_items)
    ) sn ON d.item_id = sn.item_id AND d.need <= sn.have""",
)
# Only lines late in the plan, late now, or moved: what a reschedule reports.
_KEEP_LATE_OR_MOVED = f"""
WHERE planned_eta IS DISTINCT FROM eta
   OR {local_day_sql("planned_eta", "params.tz")} > promised_date
   OR {local_day_sql("eta", "params.tz")} > promised_date"""


def stock_etas(
    cur: duckdb.DuckDBPyConnection,
    *,
    at: datetime,
    moved_ends: dict[str, datetime] | None = None,
    items: list[str] | None = None,
    timezone: str | None = None,
    late_or_moved_only: bool = False,
) -> dict[tuple[str, int], tuple[datetime | None, datetime | None, date]]:
    """(sales_order_id, line_no) -> (planned ETA, ETA, promised date) of every open stock-served line
    (of `items`, else all); an ETA is None when nothing covers the line. The ETA uses `moved_ends`, the
    new ends of production orders a repair moved (their supply comes then); the planned ETA does not.
    `late_or_moved_only`: just the lines late (either way, by the plant's local day) or moved: on a
    large plant a few thousand of some 300,000."""
    moved = moved_ends or {}
    eta, supply_now = _MOVED_SUPPLY if moved else _SAME_SUPPLY
    sql = _STOCK_ETAS_SQL.format(
        eta=eta or ", sp.t AS eta", supply_now=supply_now, keep=_KEEP_LATE_OR_MOVED if late_or_moved_only else ""
    )
    found = cur.execute(
        sql,
        [
            at,
            timezone or plant_timezone(cur),
            list(moved),
            list(moved.values()),
            None if items is None else sorted(items),
        ],
    ).fetchall()
    return {(so, line_no): (planned, eta, promised) for so, line_no, planned, eta, promised in found}
