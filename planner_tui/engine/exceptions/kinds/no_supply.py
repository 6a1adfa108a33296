"""no_supply:<SO>/<line>: an open line the material projection finds short, with nothing planned for its
item: no production order made for the line, no open purchase order, no open make-to-stock order (supply
that exists but comes too late is the item's `shortage`).

Severity: critical if promised within 2 days; else high. Owner: the customer's account manager.
"""

from __future__ import annotations

import pyarrow as pa

from planner_tui.engine.exceptions.base import Context, ExceptionKind, Row, first
from planner_tui.engine.exceptions.lines import LINE_KEYS, line_events, line_gone
from planner_tui.store.kinds import split_order_line
from planner_tui.timeutil import as_datetime

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


def detect(ctx: Context, only: str | None = None) -> list[Row]:
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
    table = pa.table(
        {
            "line": pa.array(lines, pa.string()),
            "short_item": pa.array(items, pa.string()),
            "need_at": pa.array(needs, pa.timestamp("us")),
        }
    )
    # Registered on the context's own cursor (a cursor of the plant as it was holds TEMP tables only it
    # sees: store/past.py), and unregistered after.
    cur = ctx.cur
    cur.register("short_lines_in", table)
    try:
        found = cur.execute(_NO_SUPPLY_SQL.format(table="short_lines_in"), [ctx.at] * 4).fetchall()
    finally:
        cur.unregister("short_lines_in")
    # The rows are shaped here directly (the same keys as `exception_row`): there can be very many.
    subject_kind = KIND.subject.name
    return [
        {
            "exception_id": "no_supply:" + subject,
            "kind": "no_supply",
            "severity": severity,
            "title": title,
            "subject_kind": subject_kind,
            "subject_id": subject,
            "raised_at": raised,
            "age_minutes": age,
            "first_detected_at": None,
            "occurrence": None,
            "owner": manager,
            "assignee": None,
            "status": "open",
            "snoozed_until": None,
            "cause_cleared": False,
            "cleared_note": None,
            "detail": {
                "customer_id": customer_id,
                "item_id": item_id,
                "qty": qty,
                "promised_date": promised,
                "short_item_id": short_item,
                "need_at": need_at,
            },
            "last_action": None,
        }
        for subject, severity, title, raised, age, manager, customer_id, item_id, qty, promised, short_item, need_at in found
    ]


def cleared_note(ctx: Context, subject: str) -> str:
    gone = line_gone(ctx.cur, subject)
    if gone:
        return gone
    so, line = split_order_line(subject)
    order = first(
        ctx.cur.execute(
            """SELECT production_order_id FROM production_orders
           WHERE sales_order_id = ? AND line_no = ? AND status <> 'cancelled'
           ORDER BY production_order_id LIMIT 1""",
            [so, line],
        )
    )
    return f"supply planned: production order {order[0]}" if order else "no longer short"


KIND = ExceptionKind(
    name="no_supply",
    words="confirmed line without supply",
    rank=50,
    raised_while="an open line the material projection finds short, with nothing planned for its item: no "
    "production order made for the line, no open purchase order, no open make-to-stock order",
    severities="critical if promised within 2 days; else high",
    detect=detect,
    cleared_note=cleared_note,
    link="links of order line",
    events_about=line_events,
    event_keys=LINE_KEYS,
)
