"""late_order:<SO>/<line>: a customer line is late: the ETA's day (the plant's local day) is after the
promised date.

Three causes, one kind (a line has one exception whichever it is): `cause` "stop" when the whole-plant
reschedule turns the line late (on time in the plan), "plan" when the plan itself already has it late (a
made-to-order line whose orders end after the promise, or a stock line whose stock comes after it),
"overdue" when the line is still open after its promised day by the clock, whatever the plan says (a
snapshot days old still lists it as planned: the clock, not the plan, says it is late).
Severity: a stop's: critical if the promised date is today or past, else high; the plan's and an
overdue line's, one step lower: high if the promised date is today or past, else medium. Owner: the
customer's account manager.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from planner_tui.engine.etas import PlantDay
from planner_tui.engine.exceptions.base import Context, ExceptionKind, Row, as_date, day, exception_row
from planner_tui.engine.exceptions.lines import LINE_KEYS, line_events, line_gone, line_key, lines_info
from planner_tui.present import slip
from planner_tui.timeutil import as_datetime, iso


def _stop_began(stops: list[dict]) -> Callable[[list[str]], datetime | None]:
    """When the stop that delayed a line began, given the machines its own moved operations run on: the
    earliest of their stops; else (moved by knock-on: a feeding order's machine, a person away) the
    earliest current stop. The stops are read once for every line."""
    starts = {s["machine_id"]: as_datetime(s["start"]) for s in stops if s.get("kind", "machine") == "machine"}
    earliest = min((t for t in (as_datetime(s.get("start")) for s in stops) if t is not None), default=None)

    def began(moved_on: list[str]) -> datetime | None:
        own = [t for t in (starts.get(m) for m in moved_on) if t is not None]
        return min(own) if own else earliest

    return began


def detect(ctx: Context, only: str | None = None) -> list[Row]:
    late = [s for s in ctx.reschedule().get("lines_at_risk") or [] if s.get("late")]
    if only is not None:
        late = [s for s in late if line_key(s["sales_order_id"], s["line_no"]) == only]
    info = lines_info(ctx.cur, [(s["sales_order_id"], s["line_no"]) for s in late])
    stop_began = _stop_began(ctx.reschedule().get("stops") or [])
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
        past_promise = bool(s.get("overdue"))  # still open after its promised day: late whatever the plan said
        due = promised is not None and promised <= plant_day.day(ctx.at)  # promised today or before
        customer = line.get("customer_name") or s.get("customer_id") or line.get("customer_id")
        moved = f", {slip(s['slip_minutes'])} by stops" if in_plan and (s.get("slip_minutes") or 0) > 0 else ""
        eta_words = "overdue" if s.get("eta_overdue") or (past_promise and eta is None) else day(eta, ctx.at)
        title = (
            f"{line_key(*key)} "
            + ("past its promise" if past_promise else "late in plan" if in_plan else "late")
            + (f" +{days_late}d" if days_late is not None else "")
            + f": ETA {eta_words}, promised {day(promised, ctx.at)}{moved}"
            + (f" ({customer})" if customer else "")
        )
        if in_plan:
            severity = "high" if due else "medium"
        else:
            severity = "critical" if due else "high"
        confirmed = as_datetime(line.get("confirmed_at"))
        # Lateness has no recorded start: it began when the order was confirmed, or (turned late by a stop)
        # with the stop that delayed it if that came later.
        stop = None if in_plan else stop_began(s.get("moved_on") or [])
        # On time in the plan, late by the clock alone: late since its promised day ended.
        passed = None
        if past_promise and promised is not None and not s.get("late_by_plan"):
            passed = plant_day.starts(promised + timedelta(days=1))
        began = (confirmed, stop, passed)
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
                    "cause": "overdue" if past_promise else "plan" if in_plan else "stop",
                    "eta_overdue": bool(s.get("eta_overdue")),
                    "days_late": days_late,
                    "slip_days": days_late,  # kept for older readers: days late against the promise
                    "slip_minutes": s.get("slip_minutes"),
                },
                at=ctx.at,
            )
        )
    return out


def occurrence(row: Row) -> str:
    """A stop's lateness is the stop's (the line late again by a later stop is a new occurrence); the
    plan's is its promise and planned ETA (a plan that slips further is new; passing the promised day is
    not: it was known)."""
    detail = row["detail"]
    if detail.get("cause") == "stop":
        return f"stop@{iso(row['raised_at']) if row.get('raised_at') else '-'}"
    planned = detail.get("planned_eta")
    return f"plan:{detail.get('promised_date')}:{planned.date() if planned is not None else '-'}"


KIND = ExceptionKind(
    name="late_order",
    words="late customer line",
    rank=60,  # a consequence: after the stop or shortage that causes it
    raised_while="the line's ETA falls after its promised day: turned late by the whole-plant reschedule, or "
    "late in the plan itself, or still open after its promised day by the clock",
    severities="turned late by a stop: critical if the promised date is today or past, else high; late in the "
    "plan or past its promise: high if the promised date is today or past, else medium",
    detect=detect,
    cleared_note=lambda ctx, subject: line_gone(ctx.cur, subject) or "back on time",
    link="links of order line",
    events_about=line_events,
    event_keys=LINE_KEYS,
    occurrence=occurrence,
)
