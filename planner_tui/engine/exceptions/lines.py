"""What the kinds about a customer order line (late_order, no_supply) share: its id, its events, and
whether it is still open."""

from __future__ import annotations

import duckdb

from planner_tui.engine.exceptions.base import event_field, first
from planner_tui.store.db import rows
from planner_tui.store.kinds import split_order_line

LINE_KEYS = ("sales_order_id", "line_no")  # the event data fields naming a line


def line_key(sales_order_id: object, line_no: object) -> str:
    return f"{sales_order_id}/{line_no}"


def line_events(subject: str) -> tuple[str, list]:
    """`events_about` a line: its order and line number."""
    so, line = split_order_line(subject)
    return f"{event_field('sales_order_id')} = ? AND TRY_CAST({event_field('line_no')} AS INTEGER) = ?", [so, line]


def line_gone(cur: duckdb.DuckDBPyConnection, subject: str) -> str | None:
    """Why the line is no longer one to act on ("order line shipped"), or None while it is open."""
    so, line = split_order_line(subject)
    row = first(cur.execute("SELECT status FROM sales_orders WHERE sales_order_id = ? AND line_no = ?", [so, line]))
    if row is None:
        return "order line no longer in the plant data"
    if row[0] != "open":
        return f"order line {row[0]}"
    return None


def lines_info(cur: duckdb.DuckDBPyConnection, keys: list[tuple[str, int]]) -> dict[tuple[str, int], dict]:
    """(sales order, line) -> the line with its customer's name and account manager."""
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
