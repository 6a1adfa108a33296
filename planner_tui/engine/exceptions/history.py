"""An exception's history: the events about its subject (each kind says which types and how its subject
is named in them), its triage actions and the notifications about it (who was told, when, by which
channel, whether it was delivered: store/outbox.py), merged in time order."""

from __future__ import annotations

import json

import duckdb

from planner_tui.engine.exceptions.registry import KINDS, all_kinds
from planner_tui.store.events import SEQUENCE_ORDER_DESC
from planner_tui.store.outbox import deliveries as outbox_deliveries
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
                ORDER BY t DESC, {SEQUENCE_ORDER_DESC} LIMIT {MAX_EVENTS}
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


def told(cur: duckdb.DuckDBPyConnection, exception_id: str) -> list[dict]:
    """The deliveries about the exception, oldest first, as history entries: {kind: "delivery", at (when
    it was delivered, else when it was planned), person, channel (without credentials), reason (new,
    update, repeat, escalation), why, subject, state (pending, sending, delivered, failed), attempts,
    last_error, created_at, delivered_at, message_key}; none for a store without an outbox."""
    found = outbox_deliveries(cur, exception_id=exception_id)
    found.sort(key=lambda d: (d["created_at"], d["message_key"]))
    return [
        {
            "kind": "delivery",
            "at": d["delivered_at"] or d["created_at"],
            "person": d["person"],
            "channel": d["channel"],
            "reason": d["reason"],
            "why": d["why"],
            "subject": d["subject"],
            "state": d["state"],
            "attempts": d["attempts"],
            "last_error": d["last_error"],
            "created_at": d["created_at"],
            "delivered_at": d["delivered_at"],
            "message_key": d["message_key"],
        }
        for d in found
    ]


def exception_history(cur: duckdb.DuckDBPyConnection, exception_id: str) -> list[dict]:
    """Triage actions, the subject's events and the deliveries merged in time order (at the same instant
    an event first: it is what the planner reacted to; a delivery last: it tells what happened)."""
    kind, subject = parse_exception_id(exception_id)
    actions = [{"kind": "triage", **a} for a in triage_history(cur, exception_id)]
    events = subject_events(cur, kind, subject)
    sent = told(cur, exception_id)
    merged = (
        [(e["at"], 0, i, e) for i, e in enumerate(events)]
        + [(a["at"], 1, i, a) for i, a in enumerate(actions)]
        + [(d["at"], 2, i, d) for i, d in enumerate(sent)]
    )
    merged.sort(key=lambda m: (m[0], m[1], m[2]))
    return [m[3] for m in merged]
