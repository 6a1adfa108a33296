"""resource_unavailable:<resource_id>: a person, tool or crew operations need is unavailable
(`resource_states`, set by resource.unavailable events).

Severity: critical if the absence makes customer lines late; high if it exposes customer lines (length
unknown) or its impact cannot be weighed (plant data error); medium if it only delays production orders;
low if no open operation needing it is touched. Owner: the resource's supervisor.
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
from planner_tui.engine.exceptions.counts import OPEN_SQL, resource_counts, stop_exception
from planner_tui.engine.resources import UNAVAILABLE, has_resource_states
from planner_tui.store.db import rows


def detect(ctx: Context, only: str | None = None) -> list[Row]:
    if not has_resource_states(ctx.cur):
        return []  # an older database without the table: every resource is available
    # With each absence, how many open operations needing it it touches (overlapping the absence, or
    # running): the test resource_impact applies. One that touches none moves nothing: zero counts.
    sql = f"""
        SELECT s.resource_id, s.state, s.since, s.reason, s.expected_minutes, r.name, r.kind, r.supervisor,
               (SELECT count(*) FROM operation_resources x
                JOIN operations o ON o.production_order_id = x.production_order_id AND o.op_seq = x.op_seq
                JOIN production_orders p ON p.production_order_id = o.production_order_id
                WHERE x.resource_id = s.resource_id AND o.status <> 'done'
                  AND p.status IN ({OPEN_SQL})
                  AND o.planned_start < coalesce(s.since + to_minutes(CAST(s.expected_minutes AS BIGINT)),
                                                 TIMESTAMP '9999-12-31')
                  AND (o.planned_end > s.since OR o.status = 'running')) AS hit_operations
        FROM resource_states s JOIN resources r USING (resource_id)
        WHERE s.state = ? AND (? IS NULL OR s.resource_id = ?)
        ORDER BY s.resource_id"""
    absent = rows(ctx.cur, sql, [UNAVAILABLE, only, only])
    counts = resource_counts(ctx.cur, [a for a in absent if a["hit_operations"]])
    return [
        stop_exception(
            "resource_unavailable",
            a,
            a["resource_id"],
            state_words="unavailable",
            nothing="nothing scheduled needs it",
            counted=counts.get(a["resource_id"]),
            detail={**{k: a[k] for k in ("state", "since", "reason", "expected_minutes")}, "resource_kind": a["kind"]},
            at=ctx.at,
        )
        for a in absent
    ]


def cleared_note(ctx: Context, resource_id: str) -> str:
    if not has_resource_states(ctx.cur):
        row = first(
            ctx.cur.execute("SELECT resource_id, NULL, NULL FROM resources WHERE resource_id = ?", [resource_id])
        )
    else:
        row = first(
            ctx.cur.execute(
                """SELECT r.resource_id, s.state, s.since FROM resources r LEFT JOIN resource_states s USING (resource_id)
                   WHERE r.resource_id = ?""",
                [resource_id],
            )
        )
    if row is None:
        return "resource no longer in the plant data"
    if row[1] is None:
        return "resource available"
    return f"resource {row[1]} again since {clock(row[2], ctx.at)}"


KIND = ExceptionKind(
    name="resource_unavailable",
    words="resource unavailable",
    rank=25,  # a cause, like a machine stop: before the holds, shortages and late lines
    raised_while="a person, tool or crew operations need is unavailable",
    severities="critical if the absence makes customer lines late; high if it exposes customer lines (length "
    "unknown); medium if it only delays production orders; low if nothing scheduled needs it",
    detect=detect,
    cleared_note=cleared_note,
    link="impact of resource",
    events_about=events_naming("resource_id"),
    event_keys=("resource_id",),
    true_start=True,  # a resource unavailable again after its absence was resolved is a new absence
)
