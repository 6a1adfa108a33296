"""Which messages go out now: grouping, pacing, updates, repeats, folding and escalation.

One message per cause per person: an exception's message goes to each person routed to it (route.py)
with everything they are told for in it; a stop's message lists the lines it makes late, and those
lines' own `late_order` exceptions (cause `stop`) are folded into it while a stop is open, not sent
again. For each exception (its state in `notify_sent` under person ""):

  * it is first seen: nothing is sent until `group_wait` has passed (what one event raises arrives
    together; `group_wait = "0s"` sends at once); then each person gets it (`new`);
  * its situation changes (its title or severity: a line turns late, the stop is extended): each person
    whose message would read differently gets an `update`;
  * it stays open and unacknowledged: it is sent again after `repeat_interval` (`repeat`); an
    acknowledgement (or an assignment) stops repeats and escalation; a snoozed or resolved exception is
    silent; one resolved whose cause comes back (raised anew) is news again;
  * `[[routing.escalation]]` levels: open and unacknowledged `after` it was raised, the level's people
    are told (`escalation`), each level once.

Messages are built only for the exceptions that send something now, so a tick with nothing due costs
the inbox and a dictionary walk.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from datetime import datetime
from functools import cache, partial

import duckdb

from planner_tui.engine.exceptions.inbox import list_exceptions
from planner_tui.engine.notify.compose import compose
from planner_tui.engine.notify.route import (
    CONTEXT_KINDS,
    STOP_KINDS,
    context,
    escalation_due,
    facts,
    matches,
    recipients,
)
from planner_tui.present import severity_rank
from planner_tui.routing import Routing
from planner_tui.store.outbox import Pacing, Planned, pacing

WHOLE = ""  # the person key of an exception's own pacing row
STOPS_REPEAT = ("acknowledged", "assigned")  # statuses that stop repeats and escalation


def _fingerprint(*parts: object) -> str:
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode("utf-8")).hexdigest()[:16]


def situation(row: dict) -> str:
    """What a change of makes an update: the exception's title and severity."""
    return _fingerprint(row["title"], row["severity"])


def is_folded(row: dict, stop_open: bool) -> bool:
    """A late line a stop caused, while a stop is open: its news is in the stop's message."""
    return row["kind"] == "late_order" and (row.get("detail") or {}).get("cause") == "stop" and stop_open


PER_PLAN = 100  # stops and holds a plan builds messages for; the rest wait for the next plan, worst first
PLAN_SECONDS = 2.0  # and the time it spends building them (a trace of a far-travelled lot costs ~70 ms)


def plan_notifications(
    cur: duckdb.DuckDBPyConnection,
    routing: Routing,
    *,
    at: datetime,
    open_hint: str | None = None,
    budget: int = PER_PLAN,
    seconds: float = PLAN_SECONDS,
    detected: list | None = None,
) -> tuple[list[Planned], list[Pacing]]:
    """The messages due now and the pacing states they change (store/outbox.py `record` writes both in
    one transaction). Nothing when the routing names no channel.

    A message needs the answer behind its exception (an impact, a trace): a plan builds them for at most
    `budget` exceptions and for about `seconds`, in the inbox's order (worst first), and leaves the rest
    unseen for the next plan, so the first plan on a large plant (thousands of exceptions new at once)
    stays a plan of seconds and the worst go out first. Occurrences it is the first to see are added to
    `detected` (when given) for the caller to keep (list_exceptions)."""
    if not routing.enabled:
        return [], []
    inbox = [
        r for r in list_exceptions(cur, at=at, include_snoozed=False, detected=detected) if not r.get("cause_cleared")
    ]
    state = pacing(cur)
    stop_open = any(r["kind"] in STOP_KINDS for r in inbox)
    folded = [r for r in inbox if is_folded(r, stop_open)]
    planned: list[Planned] = []
    states: list[Pacing] = []
    built = 0
    stop_building = time.monotonic() + seconds
    for row in inbox:
        if time.monotonic() > stop_building:
            budget = built  # out of time: what is left waits as if out of budget
        if is_folded(row, stop_open):
            continue
        eid = row["exception_id"]
        whole = state.get((eid, WHOLE))
        if built >= budget and (whole is None or whole.last_sent_at is None):
            continue  # not seen yet: its turn comes in a later plan
        if whole is None or whole.raised_at is None or (_true_start(row) and whole.raised_at != row["raised_at"]):
            # First seen, back after it was gone, or raised anew (a new stop): news. The revision goes on
            # counting, so no message key is ever reused.
            revision = whole.revision if whole is not None else 0
            whole = Pacing(eid, WHOLE, None, at, None, revision, 0, row["raised_at"])
            states.append(whole)
        reason = _reason(row, whole, routing, at)
        answer_of = cache(partial(context, cur, row))  # the exception's answer: once, when first needed
        levels = _escalations(cur, row, routing, at, whole.escalation_level, answer_of)
        if reason is None and not levels:
            continue
        if built >= budget:
            continue  # an update or a repeat: the next plan sends it
        built += row["kind"] in CONTEXT_KINDS  # the answers that cost (an impact, a trace) count
        answer = answer_of()
        revision = whole.revision + 1
        sent = False
        if reason is not None:
            mine = [f for f in folded if row["kind"] in STOP_KINDS]
            for recipient in recipients(cur, row, routing, answer):
                person = routing.person(recipient.person)
                if person is None or not person.channels:
                    continue
                mark = state.get((eid, person.key))
                print_ = _fingerprint(row["title"], row["severity"], *recipient.why)
                if reason == "update" and mark is not None and mark.fingerprint == print_:
                    continue  # their part did not change
                text = compose(
                    row,
                    answer,
                    recipient.why,
                    reason=reason,
                    at=at,
                    open_hint=open_hint,
                    folded=mine,
                    person=(person.key, person.name or "", recipient.person),
                )
                planned.append(
                    Planned(
                        eid,
                        person.key,
                        reason,
                        "; ".join(recipient.why),
                        text.subject,
                        text.body,
                        text.markdown,
                        person.channels,
                        revision,
                        severity_rank(row["severity"]),
                    )
                )
                states.append(
                    Pacing(
                        eid,
                        person.key,
                        print_,
                        at if mark is None else mark.first_seen_at,
                        at,
                        revision,
                        0,
                        row["raised_at"],
                    )
                )
                sent = True
        top = whole.escalation_level
        for level, people in levels:
            why = f"escalation level {level}: not acknowledged since {row['raised_at']:%Y-%m-%d %H:%M} UTC"
            text = compose(row, answer, [why], reason="escalation", at=at, open_hint=open_hint)
            for name in people:
                person = routing.person(name)
                if person is None or not person.channels:
                    continue
                planned.append(
                    Planned(
                        eid,
                        person.key,
                        "escalation",
                        why,
                        text.subject,
                        text.body,
                        text.markdown,
                        person.channels,
                        revision * 100 + level,
                        severity_rank(row["severity"]),
                    )
                )
            top = max(top, level)
        states = [s for s in states if not (s.exception_id == eid and s.person == WHOLE)]
        states.append(
            Pacing(
                eid,
                WHOLE,
                situation(row) if reason is not None else whole.fingerprint,
                whole.first_seen_at,
                at if (sent or reason is not None) else whole.last_sent_at,
                revision,
                top,
                row["raised_at"],
            )
        )
    # An exception no longer in the inbox (its cause cleared, resolved, snoozed) is forgotten but for its
    # revision: if it comes back it is news again.
    listed = {r["exception_id"] for r in inbox}
    for (eid, who), whole in state.items():
        if who == WHOLE and eid not in listed and whole.raised_at is not None:
            states.append(Pacing(eid, WHOLE, None, at, None, whole.revision, 0, None))
    return planned, states


def next_due(cur: duckdb.DuckDBPyConnection, routing: Routing, *, at: datetime) -> datetime | None:
    """The next moment after `at` a plan could send something without any change in the plant: a
    group_wait that runs out, a repeat, an escalation level falling due (from the pacing state alone,
    cheap; a moment may turn out to send nothing, e.g. a repeat of an acknowledged exception); None when
    nothing waits. The server plans on every change, and at this moment."""
    if not routing.enabled:
        return None
    moments = []
    for (_, who), whole in pacing(cur).items():
        if who != WHOLE or whole.raised_at is None:
            continue
        if whole.last_sent_at is None:
            moments.append(whole.first_seen_at + routing.group_wait)
        else:
            moments.append(whole.last_sent_at + routing.repeat_interval)
        for level in routing.escalation[whole.escalation_level :]:
            moments.append(whole.raised_at + level.after)
    # Moments already past were weighed by the plan just made (the notifier asks right after planning).
    due = [m for m in moments if m > at]
    return min(due) if due else None


def _true_start(row: dict) -> bool:
    """Whether the kind records when its cause truly began (a stop's since): raised anew is then news."""
    from planner_tui.engine.exceptions.registry import kind_named

    return bool(kind_named(row["kind"]).true_start)


def _reason(row: dict, whole: Pacing, routing: Routing, at: datetime) -> str | None:
    """new, update, repeat, or None (nothing to say now)."""
    if whole.last_sent_at is None:
        return "new" if at - whole.first_seen_at >= routing.group_wait else None
    if situation(row) != whole.fingerprint:
        return "update"
    if row.get("status") not in STOPS_REPEAT and at - whole.last_sent_at >= routing.repeat_interval:
        return "repeat"
    return None


def _escalations(
    cur: duckdb.DuckDBPyConnection,
    row: dict,
    routing: Routing,
    at: datetime,
    told_level: int,
    answer_of: Callable[[], dict | None],
) -> list[tuple[int, list[str]]]:
    """The escalation levels above `told_level` that `row` has reached now, with their people."""
    raised = row.get("raised_at")
    if not routing.escalation or row.get("status") != "open" or raised is None:
        return []
    if not any(i + 1 > told_level and at - raised >= level.after for i, level in enumerate(routing.escalation)):
        return []  # no level due by time: nothing to match (the usual case, and free)
    # kind and severity decide most matches without the exception's answer; the rest asks for it.
    needs_answer = any(set(level.match) - {"kind", "severity"} for level in routing.escalation)
    found = facts(cur, row, answer_of()) if needs_answer else {"kind": {row["kind"]}, "severity": {row["severity"]}}
    return [(level, people) for level, people in escalation_due(row, routing, found, at) if level > told_level]


def route_test(cur: duckdb.DuckDBPyConnection, routing: Routing, exception_id: str, *, at: datetime) -> dict:
    """Who would be told about `exception_id` now and why, by which channels, without sending: the
    default list and the rules (`via`), whether the person has a channel, the escalation levels and when
    each falls due, and the message as the first of them would read it."""
    from planner_tui.engine.exceptions.inbox import get_exception

    row = get_exception(cur, exception_id, at=at)
    answer = context(cur, row)
    found = facts(cur, row, answer)
    told = []
    for recipient in recipients(cur, row, routing, answer):
        person = routing.person(recipient.person)
        told.append(
            {
                "person": recipient.person,
                "configured_as": person.key if person else None,
                "channels": [_redacted(c) for c in (person.channels if person else ())],
                "why": recipient.why,
                "via": recipient.via,
                "sent": bool(person and person.channels),
            }
        )
    escalation = []
    for i, level in enumerate(routing.escalation):
        if matches(dict(level.match), found):
            escalation.append(
                {
                    "level": i + 1,
                    "after_minutes": level.after.total_seconds() / 60,
                    "due_at": row["raised_at"] + level.after if row.get("raised_at") else None,
                    "to": routing.expand_names(level.to),
                }
            )
    first_why: list[str] = []
    for t in told:
        if t["sent"] and isinstance(t["why"], list):
            first_why = t["why"]
            break
    text = compose(row, answer, first_why, reason="new", at=at, open_hint=routing.open_with)
    return {
        "exception_id": row["exception_id"],
        "title": row["title"],
        "severity": row["severity"],
        "status": row.get("status"),
        "facts": {k: sorted(v) for k, v in found.items()},
        "recipients": told,
        "escalation": escalation,
        # A line a stop made late is told in the stop's message while the stop is open, not on its own.
        "folded_into_stop": is_folded(row, True),
        "group_wait_seconds": routing.group_wait.total_seconds(),
        "repeat_interval_seconds": routing.repeat_interval.total_seconds(),
        "message": {"subject": text.subject, "body": text.body},
    }


def _redacted(url: str) -> str:
    from planner_tui.urls import redact_url

    return redact_url(url)
