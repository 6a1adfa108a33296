"""machine_down:<machine_id>: the machine is down or in maintenance.

Severity: critical if the stop makes customer lines late; high if it exposes customer lines (downtime
unknown) or its impact cannot be weighed (plant data error); medium if it only delays production orders;
low if nothing is scheduled on it. Owner: the machine's supervisor.
"""

from __future__ import annotations

from planner_tui.engine.exceptions.base import (
    Context,
    ExceptionKind,
    Row,
    clock,
    events_naming,
    exception_row,
    first,
    plural,
)
from planner_tui.engine.exceptions.counts import IMPACT_COUNTS, OPEN_SQL, machine_counts
from planner_tui.store.contract import STOPPED_STATES
from planner_tui.store.db import rows


def _severity(late_lines: int, exposed_lines: int, orders: int) -> str:
    if late_lines:
        return "critical"
    if exposed_lines:
        return "high"
    if orders:
        return "medium"
    return "low"


def detect(ctx: Context, only: str | None = None) -> list[Row]:
    # With each stop, how many open operations it hits (on the machine, overlapping the downtime, or
    # running): the same test machine_impact applies. A stop that hits none moves nothing, so its counts
    # are all zero and are not computed.
    sql = f"""
        SELECT s.machine_id, s.state, s.since, s.reason, s.expected_minutes, m.name, m.supervisor,
               (SELECT count(*) FROM operations o JOIN production_orders p USING (production_order_id)
                WHERE o.machine_id = s.machine_id AND o.status <> 'done'
                  AND p.status IN ({OPEN_SQL})
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
        counted = counts.get(machine_id) or dict.fromkeys(IMPACT_COUNTS, 0)
        if "error" in counted:
            detail["error"] = counted["error"]
            counted = dict.fromkeys(IMPACT_COUNTS, 0)
        detail.update(counted)
        late, lines, orders = counted["late_lines"], counted["sales_lines"], counted["production_orders"]
        state = "down" if m["state"] == "down" else "in maintenance"
        if "error" in detail:
            what = "impact unknown (plant data error)"
        elif late:
            what = f"{plural(late, 'customer line')} late"
        elif lines:
            what = f"{plural(lines, 'customer line')} exposed"
        elif orders:
            what = f"{plural(orders, 'production order')} affected"
        else:
            what = "nothing scheduled on it"
        # Subject, what happened and its consequence first (the inbox column truncates); the name last.
        title = f"{machine_id} {state}: {what}" + (f" ({m['name']})" if m["name"] else "")
        out.append(
            exception_row(
                "machine_down",
                machine_id,
                severity="high" if "error" in detail else _severity(late, lines, orders),
                title=title,
                raised_at=m["since"],
                owner=m["supervisor"],
                detail=detail,
                at=ctx.at,
            )
        )
    return out


def cleared_note(ctx: Context, machine_id: str) -> str:
    row = first(
        ctx.cur.execute(
            """SELECT m.machine_id, s.state, s.since FROM machines m LEFT JOIN machine_states s USING (machine_id)
           WHERE m.machine_id = ?""",
            [machine_id],
        )
    )
    if row is None:
        return "machine no longer in the plant data"
    if row[1] is None:
        return "machine running"
    return f"machine back up ({row[1]}) since {clock(row[2], ctx.at)}"


KIND = ExceptionKind(
    name="machine_down",
    words="machine stop",
    rank=20,
    raised_while="the machine is down or in maintenance",
    severities="critical if the stop makes customer lines late; high if it exposes customer lines (downtime "
    "unknown); medium if it only delays production orders; low if nothing is scheduled on it",
    detect=detect,
    cleared_note=cleared_note,
    link="impact of machine",
    events_about=events_naming("machine_id"),
    event_keys=("machine_id",),
    true_start=True,  # a machine that stops again after its stop was resolved is a new stop
)
