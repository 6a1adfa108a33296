"""The plant's event history (`event_log`), its one-line descriptions, and the lag from floor to planner."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import duckdb

from planner_tui.store.events.cursors import first_row
from planner_tui.store.events.registry import event_type
from planner_tui.urls import redact_url

# Sequences are text: integer ones ("9", "00000010") by number, then the rest as text (a tie-break only).
SEQUENCE_ORDER_DESC = "try_cast(sequence AS HUGEINT) DESC NULLS LAST, sequence DESC NULLS LAST"


def describe_event(kind: str | None, data: Any) -> str:
    """A one-line description of an event from its data alone (for lists and the console's history):
    its EventType's `describe`, or the type itself for a type planner_tui does not apply."""
    if not isinstance(data, dict):
        return kind or "?"
    known = event_type(kind)
    if known is None:
        return kind or "?"
    return known.describe({k: v for k, v in data.items() if v is not None})


def event_history(
    cur: duckdb.DuckDBPyConnection,
    *,
    type: str | None = None,  # noqa: A002 - the CloudEvents attribute's name
    since: datetime | None = None,
    limit: int | None = None,
    outcome: str | None = None,
) -> list[dict]:
    """The event log, oldest first; with `limit`, the most recent `limit` events.

    Events of the same time are in sequence order: by number where sequences are integers ("00000002"
    is 2), else as text; `sequence` is the text the feed sent (a JSON integer as its digits), or None.

    `type` is an exact type, or a prefix ending in `.` or `.*` ("machine.*"); `since` compares with the
    event's own time (its arrival time when it had none).
    """
    where: list[str] = []
    params: list[Any] = []
    if type:
        if type.endswith(".*") or type.endswith("."):
            where.append("starts_with(type, ?)")
            params.append(type.rstrip("*"))
        else:
            where.append("type = ?")
            params.append(type)
    if since is not None:
        where.append("coalesce(event_time, received_at) >= ?")
        params.append(since)
    if outcome:
        where.append("outcome = ?")
        params.append(outcome)
    sql = (
        "SELECT source, event_id, sequence, type, event_time, received_at, applied_at, outcome, reason, "
        "changes, data, feed FROM event_log"
        + (" WHERE " + " AND ".join(where) if where else "")
        + " ORDER BY coalesce(event_time, received_at) DESC, received_at DESC, "
        + SEQUENCE_ORDER_DESC
    )
    if limit is not None:
        sql += " LIMIT ?"
        params.append(int(limit))
    rows = cur.execute(sql, params).fetchall()
    history = []
    shown: dict[str, str] = {}  # a database an older version wrote may hold feed URLs with credentials

    def redacted(text: str | None) -> str | None:
        if text is None or "://" not in text:
            return text
        if text not in shown:
            shown[text] = redact_url(text)
        return shown[text]

    for (
        source,
        event_id,
        sequence,
        kind,
        event_time,
        received,
        applied,
        outcome_,
        reason,
        changes,
        data,
        feed,
    ) in reversed(rows):
        raw = json.loads(data) if data else {}
        payload = raw.get("data") if isinstance(raw, dict) else None
        history.append(
            {
                "source": redacted(source),
                "id": event_id,
                "sequence": None if sequence is None else str(sequence),  # str: an older read-only file
                "type": kind,
                "time": event_time,
                "received_at": received,
                "applied_at": applied,
                "outcome": outcome_,
                "reason": reason,
                "lag_seconds": round((applied - event_time).total_seconds(), 3) if applied and event_time else None,
                "changes": json.loads(changes) if changes else [],
                "summary": describe_event(kind, payload),
                "data": payload,
                "feed": redacted(feed),
            }
        )
    return history


def lag_stats(cur: duckdb.DuckDBPyConnection, since: datetime | None = None) -> dict:
    """Event time to applied time for applied events: count, p50, p95 and max seconds, and the latest.

    This is the "order-to-production lag" the console shows: how long the floor's news took to reach
    the planner's screen.
    """
    params: list[Any] = []
    where = "outcome = 'applied' AND event_time IS NOT NULL"
    if since is not None:
        where += " AND event_time >= ?"
        params.append(since)
    row = first_row(
        cur,
        f"""
        SELECT count(*),
               quantile_cont(lag, 0.5), quantile_cont(lag, 0.95), max(lag),
               arg_max(lag, applied_at)
        FROM (SELECT epoch(applied_at) - epoch(event_time) AS lag, applied_at FROM event_log WHERE {where})
        """,
        params,
    )
    count, p50, p95, worst, latest = row or (0, None, None, None, None)
    rounded = lambda v: None if v is None else round(float(v), 3)  # noqa: E731
    return {
        "count": int(count),
        "p50": rounded(p50),
        "p95": rounded(p95),
        "max": rounded(worst),
        "latest": rounded(latest),
    }
