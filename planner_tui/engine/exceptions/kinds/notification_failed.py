"""notification_failed:<person>: messages to a person could not be delivered after the last retry.

Raised while the person's newest message that ended (delivered or failed for good) failed: a later
delivery to them clears it. Severity: high (whoever was to be told does not know). Owner: none; routing
rules can send it to whoever keeps the channels working.
"""

from __future__ import annotations

import duckdb

from planner_tui.engine.exceptions.base import Context, ExceptionKind, Row, clock, exception_row, plural
from planner_tui.store.db import rows
from planner_tui.urls import redact_url

_FAILED_SQL = """
WITH ended AS (
    SELECT person, state, coalesce(delivered_at, next_attempt_at) AS ended_at, exception_id, channel, last_error,
           row_number() OVER (PARTITION BY person ORDER BY coalesce(delivered_at, next_attempt_at) DESC) AS newest
    FROM notify_outbox WHERE state IN ('delivered', 'failed')
),
failing AS (SELECT person FROM ended WHERE newest = 1 AND state = 'failed')
SELECT e.person, count(*) AS failed, min(e.ended_at) AS since, max(e.ended_at) AS last_at,
       arg_max(e.last_error, e.ended_at) AS last_error, arg_max(e.channel, e.ended_at) AS channel,
       list(DISTINCT e.exception_id ORDER BY e.exception_id) AS about
FROM ended e JOIN failing f USING (person)
WHERE e.state = 'failed'
  AND e.ended_at > coalesce((SELECT max(d.delivered_at) FROM notify_outbox d
                             WHERE d.person = e.person AND d.state = 'delivered'), TIMESTAMP '1900-01-01')
  AND (? IS NULL OR e.person = ?)
GROUP BY e.person ORDER BY e.person
"""


def detect(ctx: Context, only: str | None = None) -> list[Row]:
    try:
        found = rows(ctx.cur, _FAILED_SQL, [only, only])
    except duckdb.CatalogException:  # an older store: no outbox, nothing failed
        return []
    out = []
    for f in found:
        title = (
            f"Messages to {f['person']} not delivered: {plural(f['failed'], 'message')} failed since "
            f"{clock(f['since'], ctx.at)} ({f['last_error'] or 'no reason given'})"
        )
        out.append(
            exception_row(
                "notification_failed",
                f["person"],
                severity="high",
                title=title,
                raised_at=f["since"],
                owner=None,
                detail={
                    "failed": f["failed"],
                    "last_error": f["last_error"],
                    "channel": redact_url(f["channel"]) if f["channel"] else None,
                    "about": f["about"],
                },
                at=ctx.at,
            )
        )
    return out


KIND = ExceptionKind(
    name="notification_failed",
    words="undelivered message",
    rank=15,
    raised_while="a person's newest message failed for good after its retries (a later delivery clears it)",
    severities="high",
    detect=detect,
    cleared_note=lambda ctx, person: f"a message to {person} was delivered since",
    true_start=True,
)
