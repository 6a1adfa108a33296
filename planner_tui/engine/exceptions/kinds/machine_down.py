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
    first,
)
from planner_tui.engine.exceptions.counts import OPEN_SQL, machine_counts, stop_exception
from planner_tui.store.contract import STOPPED_STATES
from planner_tui.store.db import rows


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
    return [
        stop_exception(
            "machine_down",
            m,
            m["machine_id"],
            state_words="down" if m["state"] == "down" else "in maintenance",
            nothing="nothing scheduled on it",
            counted=counts.get(m["machine_id"]),
            detail={k: m[k] for k in ("state", "since", "reason", "expected_minutes")},
            at=ctx.at,
        )
        for m in stopped
    ]


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
