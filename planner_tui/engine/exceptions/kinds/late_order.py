"""late_order:<SO>/<line>: the whole-plant reschedule makes the customer line late (it was on time in
the plan).

Severity: critical if the promised date is today or past; else high. Owner: the customer's account
manager.
"""

from __future__ import annotations

from datetime import datetime

import duckdb

from planner_tui.engine.exceptions.base import Context, ExceptionKind, Row, as_date, day, exception_row, first
from planner_tui.engine.exceptions.lines import LINE_KEYS, line_events, line_gone, line_key, lines_info
from planner_tui.store.contract import STOPPED_STATES
from planner_tui.timeutil import as_datetime


def _earliest_stop(cur: duckdb.DuckDBPyConnection) -> datetime | None:
    row = first(
        cur.execute("SELECT min(since) FROM machine_states WHERE list_contains(?, state)", [list(STOPPED_STATES)])
    )
    return row[0] if row else None


def detect(ctx: Context, only: str | None = None) -> list[Row]:
    late = [s for s in ctx.reschedule().get("sales_orders") or [] if s.get("late")]
    if only is not None:
        late = [s for s in late if line_key(s["sales_order_id"], s["line_no"]) == only]
    info = lines_info(ctx.cur, [(s["sales_order_id"], s["line_no"]) for s in late])
    stop = _earliest_stop(ctx.cur) if late else None
    out = []
    for s in late:
        key = (s["sales_order_id"], s["line_no"])
        line = info.get(key, {})
        if line.get("status") not in (None, "open"):
            continue
        promised = as_date(s.get("promised_date") or line.get("promised_date"))
        eta = as_datetime(s.get("eta"))
        slip = (eta.date() - promised).days if eta and promised else None
        overdue = promised is not None and promised <= ctx.at.date()
        customer = line.get("customer_name") or s.get("customer_id") or line.get("customer_id")
        title = (
            f"{line_key(*key)} late"
            + (f" +{slip}d" if slip is not None else "")
            + f": ETA {day(eta, ctx.at)}, promised {day(promised, ctx.at)}"
            + (f" ({customer})" if customer else "")
        )
        confirmed = as_datetime(line.get("confirmed_at"))
        # Lateness has no recorded start: it began when the order was confirmed, or with the earliest
        # current stop if that came later (a stop is what usually turns a line late).
        raised = max(t for t in (confirmed, stop) if t is not None) if (confirmed or stop) else ctx.at
        out.append(
            exception_row(
                "late_order",
                line_key(*key),
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


KIND = ExceptionKind(
    name="late_order",
    words="late customer line",
    rank=60,  # a consequence: after the stop or shortage that causes it
    raised_while="the whole-plant reschedule makes the line late (it was on time in the plan)",
    severities="critical if the promised date is today or past; else high",
    detect=detect,
    cleared_note=lambda ctx, subject: line_gone(ctx.cur, subject) or "back on time",
    link="links of order line",
    events_about=line_events,
    event_keys=LINE_KEYS,
)
