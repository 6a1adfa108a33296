"""late_order:<SO>/<line>: a customer line is late: the ETA's day (the plant's local day) is after the
promised date.

Two causes, one kind (a line has one exception whichever it is): `cause` "stop" when the whole-plant
reschedule turns the line late (on time in the plan), "plan" when the plan itself already has it late (a
made-to-order line whose orders end after the promise, or a stock line whose stock comes after it).
Severity: a stop's: critical if the promised date is today or past, else high; the plan's, one step
lower: high if the promised date is today or past, else medium. Owner: the customer's account manager.
"""

from __future__ import annotations

from datetime import datetime

import duckdb

from planner_tui.engine.etas import PlantDay
from planner_tui.engine.exceptions.base import Context, ExceptionKind, Row, as_date, day, exception_row, first
from planner_tui.engine.exceptions.lines import LINE_KEYS, line_events, line_gone, line_key, lines_info
from planner_tui.present import slip
from planner_tui.store.contract import STOPPED_STATES
from planner_tui.timeutil import as_datetime


def _earliest_stop(cur: duckdb.DuckDBPyConnection) -> datetime | None:
    """When the earliest current stop began: a machine down or in maintenance, or a resource unavailable."""
    from planner_tui.engine.resources import unavailable_resources

    row = first(
        cur.execute("SELECT min(since) FROM machine_states WHERE list_contains(?, state)", [list(STOPPED_STATES)])
    )
    begun = [row[0] if row else None] + [r["since"] for r in unavailable_resources(cur)]
    return min((t for t in begun if t is not None), default=None)


def detect(ctx: Context, only: str | None = None) -> list[Row]:
    late = [s for s in ctx.reschedule().get("lines_at_risk") or [] if s.get("late")]
    if only is not None:
        late = [s for s in late if line_key(s["sales_order_id"], s["line_no"]) == only]
    info = lines_info(ctx.cur, [(s["sales_order_id"], s["line_no"]) for s in late])
    stop = _earliest_stop(ctx.cur) if late else None
    plant_day = PlantDay.of(ctx.cur)
    out = []
    for s in late:
        key = (s["sales_order_id"], s["line_no"])
        line = info.get(key, {})
        if line.get("status") not in (None, "open"):
            continue
        promised = as_date(s.get("promised_date") or line.get("promised_date"))
        eta = as_datetime(s.get("eta"))
        days_late = s.get("days_late")
        in_plan = bool(s.get("late_in_plan"))
        overdue = promised is not None and promised <= plant_day.day(ctx.at)
        customer = line.get("customer_name") or s.get("customer_id") or line.get("customer_id")
        moved = f", {slip(s['slip_minutes'])} by stops" if in_plan and (s.get("slip_minutes") or 0) > 0 else ""
        title = (
            f"{line_key(*key)} late"
            + (" in plan" if in_plan else "")
            + (f" +{days_late}d" if days_late is not None else "")
            + f": ETA {day(eta, ctx.at)}, promised {day(promised, ctx.at)}{moved}"
            + (f" ({customer})" if customer else "")
        )
        if in_plan:
            severity = "high" if overdue else "medium"
        else:
            severity = "critical" if overdue else "high"
        confirmed = as_datetime(line.get("confirmed_at"))
        # Lateness has no recorded start: it began when the order was confirmed, or (turned late by a stop)
        # with the earliest current stop if that came later.
        began = (confirmed,) if in_plan else (confirmed, stop)
        known = [t for t in began if t is not None]
        raised = max(known) if known else ctx.at
        out.append(
            exception_row(
                "late_order",
                line_key(*key),
                severity=severity,
                title=title,
                raised_at=min(raised, ctx.at),
                owner=line.get("account_manager"),
                detail={
                    "customer_id": s.get("customer_id") or line.get("customer_id"),
                    "item_id": line.get("item_id"),
                    "qty": line.get("qty"),
                    "promised_date": promised,
                    "eta": eta,
                    "planned_eta": as_datetime(s.get("planned_eta")),
                    "eta_from": s.get("eta_from"),
                    "cause": "plan" if in_plan else "stop",
                    "days_late": days_late,
                    "slip_days": days_late,  # kept for older readers: days late against the promise
                    "slip_minutes": s.get("slip_minutes"),
                },
                at=ctx.at,
            )
        )
    return out


KIND = ExceptionKind(
    name="late_order",
    words="late customer line",
    rank=60,  # a consequence: after the stop or shortage that causes it
    raised_while="the line's ETA falls after its promised day: turned late by the whole-plant reschedule, or "
    "late in the plan itself",
    severities="turned late by a stop: critical if the promised date is today or past, else high; late in the "
    "plan: high if the promised date is today or past, else medium",
    detect=detect,
    cleared_note=lambda ctx, subject: line_gone(ctx.cur, subject) or "back on time",
    link="links of order line",
    events_about=line_events,
    event_keys=LINE_KEYS,
)
