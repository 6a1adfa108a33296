"""The inbox: every kind's exceptions as of a time, triage merged in, worst first; one exception with
its history; and those whose cause has cleared but that someone is still triaging."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime

import duckdb

from planner_tui.engine.exceptions.base import SEVERITY_RANK, Context, Row, exception_row, first
from planner_tui.engine.exceptions.history import exception_history
from planner_tui.engine.exceptions.registry import KINDS, check_kinds, kind_named
from planner_tui.errors import NotFound, PlannerError
from planner_tui.store.triage import effective_status, parse_exception_id, triage_state
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


def _with_triage(row: Row, state: dict | None, at: datetime) -> Row:
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


def _visible(row: Row, include_resolved: bool, include_snoozed: bool) -> bool:
    if row["status"] == "resolved":
        return include_resolved
    if row["status"] == "snoozed":
        return include_snoozed
    return True


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
) -> list[Row]:
    """Every exception as of `at`, worst first (severity, then cause not cleared, then oldest); of the
    `kinds` named only (None: all; BadRequest for an unknown one).

    A kind whose detector fails on the plant data (a CycleError: a feeding loop that events brought in)
    is left out and said in `problems` (when given; "late_order: could not check: ...") and the log;
    every other kind is still listed."""
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
    rows = [r for r in rows if _visible(r, include_resolved, include_snoozed)]
    rows.sort(key=_sort_key)
    return rows


def get_exception(
    cur: duckdb.DuckDBPyConnection, exception_id: str, *, at: datetime, feed_status: object | None = None
) -> Row:
    """One exception, raised or still in triage, with its `history`: triage actions and the events
    that raised or cleared it, in time order."""
    at = parse_timestamp(at, what="--at timestamp")
    exception_id = (exception_id or "").strip()
    name, subject = parse_exception_id(exception_id)
    ctx = Context(cur, at, feed_status)
    raised = kind_named(name).detect(ctx, subject)
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
    row["history"] = exception_history(cur, exception_id)
    return row
