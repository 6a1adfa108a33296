"""The inbox: every kind's exceptions as of a time, triage merged in, worst first; one exception with
its history; and those whose cause has cleared but that someone is still triaging."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime

import duckdb

from planner_tui.engine.exceptions.base import SEVERITY_RANK, Context, Row, age_in_minutes, exception_row, first
from planner_tui.engine.exceptions.history import exception_history
from planner_tui.engine.exceptions.registry import KINDS, check_kinds, kind_named
from planner_tui.errors import NotFound, PlannerError
from planner_tui.store.occurrences import first_detected
from planner_tui.store.triage import effective_status, is_new_occurrence, parse_exception_id, triage_state
from planner_tui.timeutil import parse_timestamp

log = logging.getLogger(__name__)


def _sort_key(row: Row) -> tuple:
    """Severity, then cause still there before cleared, then oldest first; among equals the kind's rank
    (causes before their consequences: the stopped machine before the lines it makes late), then the id."""
    return (
        SEVERITY_RANK[row["severity"]],
        row["cause_cleared"],
        -(row["age_minutes"] or 0),
        KINDS[row["kind"]].rank,
        row["exception_id"],
    )


Detected = list[tuple[str, str, datetime]]  # (exception id, occurrence, first detected at) to keep


def _occurrences(ctx: Context, raised: list[Row], detected: Detected | None) -> None:
    """Each row's occurrence and when it was first detected: as kept (store/occurrences.py), else now, when
    its kind's `began` says it most likely began; rows first detected now are added to `detected`. A kind
    that knows when its occurrences begin keeps that as raised_at; the others are as old as their first
    detection, so their age ticks on from it instead of starting again at every look."""
    kept = first_detected(ctx.cur)
    fresh: dict[str, list[Row]] = {}
    for row in raised:
        kind = KINDS[row["kind"]]
        row["occurrence"] = kind.occurrence_of(row)
        found = kept.get((row["exception_id"], row["occurrence"]))
        if found is not None and found <= ctx.at:  # a moment shown before its detection did not know it
            row["first_detected_at"] = found
            if not kind.true_start:
                row["raised_at"] = found
        else:
            fresh.setdefault(kind.name, []).append(row)
    for name, rows in fresh.items():
        kind = KINDS[name]
        if kind.began is not None:
            kind.began(ctx, rows)
        for row in rows:
            row["first_detected_at"] = min(row["raised_at"] or ctx.at, ctx.at)
            if detected is not None:
                detected.append((row["exception_id"], row["occurrence"], row["first_detected_at"]))
    for row in raised:
        row["age_minutes"] = age_in_minutes(row["raised_at"], ctx.at)


def _with_triage(row: Row, state: dict | None, at: datetime) -> Row:
    if is_new_occurrence(state, row.get("occurrence")):
        assert state is not None
        # The resolve ended an earlier occurrence: this one is new, open, with a history of its own.
        last = state.get("last_action") or {}
        reason = last.get("detail") if last.get("action") == "resolve" else None  # a later note is not it
        row["previous_occurrence"] = _previous(state["occurrence"], state["updated_at"], state["updated_by"], reason)
        return row
    if state:
        row["status"] = effective_status(state, at)
        if (
            row["status"] == "resolved"
            and KINDS[row["kind"]].true_start
            and not row["cause_cleared"]
            and row["raised_at"] is not None
            and row["raised_at"] > state["updated_at"]
        ):
            row["status"] = "open"  # it happened again after being resolved: a new occurrence, not the old one
        row["assignee"] = state["assignee"]
        row["snoozed_until"] = state["snoozed_until"] if row["status"] == "snoozed" else None
        row["last_action"] = state["last_action"]
    return row


def _previous(occurrence: str, resolved_at: datetime, resolved_by: str, reason: str | None) -> dict:
    """The occurrence a resolve ended before this one, as an exception shows it."""
    return {"occurrence": occurrence, "resolved_at": resolved_at, "resolved_by": resolved_by, "reason": reason}


def _visible(row: Row, include_resolved: bool, include_snoozed: bool) -> bool:
    if row["status"] == "resolved":
        return include_resolved
    if row["status"] == "snoozed":
        return include_snoozed
    return True


CLEARED = "cleared"


def _first_action_at(cur: duckdb.DuckDBPyConnection, exception_id: str) -> datetime | None:
    row = first(cur.execute("SELECT min(acted_at) FROM exception_actions WHERE exception_id = ?", [exception_id]))
    return row[0] if row else None


def _cleared(ctx: Context, exception_id: str) -> Row:
    """An exception nothing raises any more, as its triage keeps it listed: low, saying why it cleared."""
    name, subject = parse_exception_id(exception_id)
    kind = kind_named(name)
    row = exception_row(
        name,
        subject,
        severity="low",  # the cause is gone; what is left is closing the triage
        title=f"{subject}: {kind.words} (cleared)",
        raised_at=_first_action_at(ctx.cur, exception_id) or ctx.at,
        owner=kind.owner_of(ctx.cur, subject),
        detail={},
        at=ctx.at,
    )
    row["cause_cleared"] = True
    row["occurrence"] = CLEARED  # whatever raises it next is a new occurrence
    row["cleared_note"] = kind.cleared_note(ctx, subject)
    row["title"] = f"{subject}: {kind.words}, cleared: {row['cleared_note']}"
    return row


def list_exceptions(
    cur: duckdb.DuckDBPyConnection,
    *,
    at: datetime,
    feed_status: object | None = None,
    include_resolved: bool = False,
    include_snoozed: bool = True,
    problems: list[str] | None = None,
    kinds: Iterable[str] | None = None,
    detected: Detected | None = None,
    fallback_owners: dict[str, str] | None = None,
) -> list[Row]:
    """Every exception as of `at`, worst first (severity, then cause not cleared, then oldest); of the
    `kinds` named only (None: all; BadRequest for an unknown one).

    A kind whose detector fails on the plant data (a CycleError: a feeding loop that events brought in)
    is left out and said in `problems` (when given; "late_order: could not check: ...") and the log;
    every other kind is still listed.

    Occurrences first detected by this question are added to `detected` (when given) for the caller to
    keep (store/occurrences.py: a reader cannot). An exception the plant names nobody for goes to
    `fallback_owners` (the `fallback_owners` setting: kind -> person, "*" for any kind)."""
    at = parse_timestamp(at, what="--at timestamp")
    wanted = check_kinds(kinds)
    ctx = Context(cur, at, feed_status)
    raised = []
    for kind in KINDS.values():
        if wanted is not None and kind.name not in wanted:
            continue
        try:
            raised += kind.detect(ctx, None)
        except PlannerError as error:  # one kind's data problem must not empty the whole inbox
            problem = f"{kind.name}: could not check: {error}"
            log.warning("%s", problem)
            if problems is not None:
                problems.append(problem)
    _occurrences(ctx, raised, detected)
    states = triage_state(cur)
    rows = []
    seen = set()
    for row in raised:
        seen.add(row["exception_id"])
        rows.append(_with_triage(row, states.get(row["exception_id"]), at))
    for exception_id, state in states.items():
        if exception_id in seen:
            continue
        if wanted is not None and exception_id.partition(":")[0] not in wanted:
            continue
        if state["status"] == "resolved" and not include_resolved:
            continue  # a resolved exception whose cause is gone is history: skip the lookups
        try:
            rows.append(_with_triage(_cleared(ctx, exception_id), state, at))
        except PlannerError:
            continue  # an id that no longer parses (written by a newer version): not ours to show
    _fall_back(rows, fallback_owners)
    rows = [r for r in rows if _visible(r, include_resolved, include_snoozed)]
    rows.sort(key=_sort_key)
    return rows


def _fall_back(rows: list[Row], owners: dict[str, str] | None) -> None:
    for row in rows:
        if not row["owner"] and owners:
            row["owner"] = owners.get(row["kind"]) or owners.get("*")


def get_exception(
    cur: duckdb.DuckDBPyConnection,
    exception_id: str,
    *,
    at: datetime,
    feed_status: object | None = None,
    fallback_owners: dict[str, str] | None = None,
) -> Row:
    """One exception, raised or still in triage, with its `history`: triage actions and the events
    that raised or cleared it, in time order."""
    at = parse_timestamp(at, what="--at timestamp")
    exception_id = (exception_id or "").strip()
    name, subject = parse_exception_id(exception_id)
    ctx = Context(cur, at, feed_status)
    raised = kind_named(name).detect(ctx, subject)
    _occurrences(ctx, raised, None)
    state = triage_state(cur, [exception_id]).get(exception_id)
    if raised:
        row = raised[0]
    elif state:
        row = _cleared(ctx, exception_id)
    else:
        raise NotFound(
            f"no exception {exception_id} as of {at.isoformat(timespec='seconds')}: nothing raises it "
            "and nobody has triaged it (see `planner-tui exceptions --all`)"
        )
    row = _with_triage(row, state, at)
    _fall_back([row], fallback_owners)
    history = exception_history(cur, exception_id)
    # A resolve of an earlier occurrence ends that one's history: this occurrence's begins after it.
    ended = [
        i
        for i, h in enumerate(history)
        if h["kind"] == "triage" and h["action"] == "resolve" and h.get("occurrence") not in (None, row["occurrence"])
    ]
    if ended:
        last = history[ended[-1]]
        row["previous_occurrence"] = _previous(last["occurrence"], last["at"], last["who"], last["detail"])
        history = history[ended[-1] + 1 :]
    row["history"] = history
    return row
