"""An exception's history: the events about its subject (each kind says which types and how its subject
is named in them) and its triage actions, merged in time order."""

from __future__ import annotations

import json

import duckdb

from planner_tui.engine.exceptions.registry import KINDS, all_kinds
from planner_tui.store.triage import history as triage_history
from planner_tui.store.triage import parse_exception_id

MAX_EVENTS = 200  # the most recent ones; a machine that flaps all day would bury the triage otherwise


def _event_summary(event_type: str, payload: dict) -> str:
    inner = payload.get("data")
    data: dict = inner if isinstance(inner, dict) else payload
    # The fields naming a subject of any kind are said by the exception itself.
    skip = {key for kind in all_kinds() for key in kind.event_keys}
    parts = [f"{k}={v}" for k, v in data.items() if k not in skip and v not in (None, "")]
    return event_type + (": " + ", ".join(parts) if parts else "")


def subject_events(cur: duckdb.DuckDBPyConnection, kind: str, subject: str) -> list[dict]:
    """The latest MAX_EVENTS events of the kind's types about the subject, oldest first (none for a kind
    whose history has no events, or an unknown one)."""
    about = KINDS.get(kind)
    if about is None or not about.event_types or about.events_about is None:
        return []
    condition, params = about.events_about(subject)
    rows = cur.execute(
        f"""SELECT * FROM (
                SELECT coalesce(event_time, received_at) AS t, type, source, event_id, outcome, reason, data
                FROM event_log
                WHERE list_contains(?, type) AND {condition}
                ORDER BY t DESC, sequence DESC NULLS LAST LIMIT {MAX_EVENTS}
            ) ORDER BY t""",
        [list(about.event_types), *params],
    ).fetchall()
    out = []
    for t, event_type, source, event_id, outcome, reason, data in rows:
        try:
            payload = json.loads(data) if data else {}
        except ValueError:
            payload = {}
        out.append(
            {
                "kind": "event",
                "at": t,
                "type": event_type,
                "source": source,
                "event_id": event_id,
                "outcome": outcome,
                "reason": reason,
                "summary": _event_summary(event_type, payload if isinstance(payload, dict) else {}),
            }
        )
    return out


def exception_history(cur: duckdb.DuckDBPyConnection, exception_id: str) -> list[dict]:
    """Triage actions and the subject's events merged in time order (an event before an action at the
    same instant: it is what the planner reacted to)."""
    kind, subject = parse_exception_id(exception_id)
    actions = [{"kind": "triage", **a} for a in triage_history(cur, exception_id)]
    events = subject_events(cur, kind, subject)
    merged = [(e["at"], 0, i, e) for i, e in enumerate(events)] + [(a["at"], 1, i, a) for i, a in enumerate(actions)]
    merged.sort(key=lambda m: (m[0], m[1], m[2]))
    return [m[3] for m in merged]
