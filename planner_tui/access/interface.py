"""PlantData: the one interface the console reads the plant through, and triages it through.

Every method is one question of the engine (or one triage action), named after the CLI command that asks
it, and returns exactly what that command prints with ``--json``: plain dicts and lists of str, int,
float, bool, None and naive UTC datetimes. Arguments are plain values of the same kinds. No DuckDB cursor,
``Store`` or Textual object crosses this interface, so it can be served over HTTP as it is.

Design for a plant that is far away: any call may be slow (call it from a worker thread, never the UI
thread) and any call may fail. A failure is a ``planner_tui.errors.PlannerError``: ``NotFound`` for an
unknown id, ``BadRequest`` for a request the plant refuses (a malformed time, a resolved exception
resolved again), ``CycleError`` for broken plant data, ``PlantUnavailable`` when the plant cannot be
reached or is closed. Its message is what the planner reads.

Implementations: ``planner_tui.access.local.LocalPlant`` (the in-process store).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from planner_tui.errors import PlannerError

Record = dict[str, Any]  # one JSON object of an answer (datetimes allowed)


# The questions whose `at` is the moment they are answered as things stood (`--at TS` on status, order, shipment,
# trace lot|hold, holds, find, owners, events list|lag): the plant as it stood at TS (store/past.py: the
# events after TS taken back, triage replayed to TS, the event log cut at TS), with TS the clock of anything
# time-dependent. Without `at` (or with an `at` a plant server counts as now) they answer from the present;
# an `at` after the newest event has nothing to take back; one before the snapshot's extract is BadRequest
# naming the earliest time.
AS_IT_STOOD = frozenset(
    {
        "order_links",
        "shipment",
        "trace_lot",
        "trace_hold",
        "holds",
        "status",
        "find",
        "starting_points",
        "owners",
        "event_history",
        "event_lag",
    }
)


class PlantUnavailable(PlannerError):
    """The plant cannot answer at all: its database is closed, its server unreachable."""

    exit_code = 8  # beside SnapshotError 6 and FeedUnavailable 7


@runtime_checkable
class PlantData(Protocol):
    """The plant's questions and triage actions (see the module docstring for the rules every one keeps)."""

    # --- the exception inbox ---------------------------------------------------------------------------

    def exceptions(
        self,
        *,
        at: datetime,
        include_resolved: bool = False,
        include_snoozed: bool = True,
        kinds: Sequence[str] | None = None,
        as_of: datetime | None = None,
    ) -> Record:
        """`planner-tui exceptions --json`: {at, total, exceptions, problems}, worst first; `--all` sets both
        flags, `--kind` gives `kinds` (None: every kind; BadRequest for an unknown one). The plant's own feed
        state counts (a stale feed is an exception). `problems`: one line per kind that could not be
        checked ("late_order: could not check: ..."), whose exceptions are missing. Each exception carries
        `first_detected_at` (when its current occurrence was first listed; kept by the plant that answers),
        `occurrence` (its kind's fingerprint of it) and, when a resolve ended an earlier occurrence,
        `previous_occurrence` {occurrence, resolved_at, resolved_by, reason}; `owner` falls back to the
        `fallback_owners` setting of the plant that answers when the plant data names nobody.

        `as_of` (`--as-of TS`, here and on machines, machine_impact, resource_impact, holds, shortages and
        status): the answer as the plant stood at TS, rebuilt from the snapshot and the events up to TS
        (store/past.py), at TS; then {shown_as_of: TS} is in the answer. BadRequest naming the earliest time
        for a TS before the snapshot's extract."""
        ...

    def exception_kinds(self) -> list[Record]:
        """`planner-tui exception kinds --json`: every kind of exception, {kind, words, rank, raised_while,
        severities, subject_kind, subject_words, subject_record (the record kind `find` lists the subject
        as, None if none), example, link (what opening the subject shows), owner_role, event_types,
        true_start}, in the order the plant declares them."""
        ...

    def exception(self, exception_id: str, *, at: datetime, as_of: datetime | None = None) -> Record:
        """`planner-tui exception show ID --json`: one exception with its `history`, in time order: the
        events about its subject (`kind` event), its triage actions (triage) and the notifications about
        it (delivery: person, channel without credentials, reason, state, attempts, last_error): those of
        its current occurrence (after the resolve of an earlier one, `previous_occurrence`)."""
        ...

    def owners(self, *, at: datetime | None = None) -> list[Record]:
        """`planner-tui owners --json`: the people an exception can go to, {person, roles}. `at` (`--at TS`,
        here and on order_links, shipment, trace_lot, trace_hold, holds, find, starting_points,
        event_history and event_lag): the answer as things stood at TS, the plant rebuilt from the snapshot
        and the events up to TS and its triage replayed to TS (store/past.py), TS the clock of anything
        time-dependent; none: the present. BadRequest naming the earliest time for a TS before the
        snapshot's extract."""
        ...

    def notifications(self, *, failed: bool = False, exception_id: str | None = None) -> list[Record]:
        """`planner-tui notifications [--failed] --json`: the messages the plant server planned to send and
        their delivery, newest first: {message_key, exception_id, person, channel (without credentials),
        why, reason (new, update, repeat, escalation), subject, created_at, state (pending, sending,
        delivered, failed), attempts, last_error, delivered_at}; `failed`: only those that failed for good;
        `exception_id`: only those about it. Empty where nothing was ever sent."""
        ...

    def route_test(self, exception_id: str, *, at: datetime | None = None) -> Record:
        """`planner-tui routes test ID --json`: who would be told about the exception now and why, by which
        channels (without credentials), without sending: {exception_id, title, severity, status, facts,
        recipients: [{person, configured_as, channels, why, via, sent}], escalation: [{level,
        after_minutes, due_at, to}], folded_into_stop, group_wait_seconds, repeat_interval_seconds,
        message: {subject, body}}, by the routing settings of the plant (a plant server's own)."""
        ...

    # --- triage: each returns `planner-tui triage ACTION ID --json`, {exception_id, status, assignee, ...}.
    # Each refuses (NotFound) an exception that is not raised as of `at` (default: now) and was never
    # triaged. `who` and `at` default to the OS user and the clock of the plant; a plant server records
    # who is asking and its own clock instead.

    def acknowledge(self, exception_id: str, *, who: str | None = None, at: datetime | None = None) -> Record:
        """`planner-tui triage ack ID`: someone is on it."""
        ...

    def assign(
        self,
        exception_id: str,
        person: str,
        *,
        who: str | None = None,
        at: datetime | None = None,
        new_person: bool = False,
    ) -> Record:
        """`planner-tui triage assign ID PERSON [--new-person]`: `person` must be known, one of `owners()` or
        a user of the plant server, unless `new_person` (BadRequest otherwise)."""
        ...

    def note(self, exception_id: str, text: str, *, who: str | None = None, at: datetime | None = None) -> Record:
        """`planner-tui triage note ID TEXT`: a note in the exception's history (at most 2,000 characters)."""
        ...

    def snooze(
        self, exception_id: str, until: datetime | str, *, who: str | None = None, at: datetime | None = None
    ) -> Record:
        """`planner-tui triage snooze ID UNTIL`: hidden until then; `until` is a time, or a duration from `at`
        such as 2h (see `rules.parse_until`)."""
        ...

    def resolve(
        self, exception_id: str, *, who: str | None = None, at: datetime | None = None, reason: str | None = None
    ) -> Record:
        """`planner-tui triage resolve ID [--reason TEXT]`: done; it comes back if what raised it happens again.
        The reason (optional, at most 2,000 characters) is kept in its history."""
        ...

    def reopen(self, exception_id: str, *, who: str | None = None, at: datetime | None = None) -> Record:
        """`planner-tui triage reopen ID`: open again."""
        ...

    # --- machines and what their stops hit -------------------------------------------------------------

    def machines(self, *, stopped_only: bool = False, as_of: datetime | None = None) -> list[Record]:
        """`planner-tui machines [--stopped] --json`: every machine and its state, stopped first."""
        ...

    def machine(
        self, machine_id: str, *, at: datetime | None = None, limit: int = 10, as_of: datetime | None = None
    ) -> Record:
        """`planner-tui machine ID --json`: its state (`stopped`), since when, why, next open operations."""
        ...

    def machine_impact(
        self,
        machine_id: str,
        *,
        at: datetime | None = None,
        down_minutes: float | None = None,
        as_of: datetime | None = None,
    ) -> Record:
        """`planner-tui impact machine ID [--down-minutes N] --json`."""
        ...

    def resource(
        self, resource_id: str, *, at: datetime | None = None, limit: int = 10, as_of: datetime | None = None
    ) -> Record:
        """`planner-tui resource ID --json`: a person, tool or crew operations need: its kind, calendar,
        supervisor, state (`unavailable`), since when, why, and its next open operations (machine, order,
        planned times, the customer line each is for)."""
        ...

    def resource_impact(
        self,
        resource_id: str,
        *,
        at: datetime | None = None,
        down_minutes: float | None = None,
        as_of: datetime | None = None,
    ) -> Record:
        """`planner-tui impact resource ID [--down-minutes N] --json`: machine_impact's answer for an absence
        of the resource (the operations needing it, each on its machine), plus resource_id, resource_name
        and resource_kind."""
        ...

    def reschedule(self, *, at: datetime | None = None, as_of: datetime | None = None) -> Record:
        """`planner-tui reschedule --json`: the whole plan repaired around every stopped machine."""
        ...

    # --- orders, shipments, customers ------------------------------------------------------------------

    def order_links(self, order_id: str, *, at: datetime | None = None) -> Record:
        """`planner-tui order ID --json`: a production order or sales order line "SO/line", what feeds it
        and what it feeds (as things stood at `at`, see owners)."""
        ...

    def shipment(self, shipment_id: str, *, at: datetime | None = None) -> Record:
        """`planner-tui shipment ID --json`: the shipment, its order line, customer, lots and the active holds
        on them and upstream of them (as things stood at `at`, see owners)."""
        ...

    def customer(self, customer_id: str, *, at: datetime | None = None) -> Record:
        """`planner-tui customer ID --json`."""
        ...

    # --- lots and quality holds ------------------------------------------------------------------------

    def trace_lot(self, lot_id: str, *, at: datetime | None = None) -> Record:
        """`planner-tui trace lot ID --json`: where the lot went and where it came from (as things stood at
        `at`, see owners)."""
        ...

    def trace_hold(self, hold_id: str, *, at: datetime | None = None) -> Record:
        """`planner-tui trace hold ID --json`: the trace of the held lot, with the hold (as things stood at
        `at`, see owners)."""
        ...

    def holds(self, *, at: datetime | None = None, as_of: datetime | None = None) -> list[Record]:
        """`planner-tui holds --json`: every active hold, newest first, with how far its lot travelled. `at`
        (`--at TS`, see owners) and `as_of` (`--as-of TS`) both show the holds as they stood at TS; given
        both, `as_of` is the moment."""
        ...

    # --- materials -------------------------------------------------------------------------------------

    def shortages(self, *, at: datetime, horizon_days: int | None = None, as_of: datetime | None = None) -> Record:
        """`planner-tui shortages --json`: {at, horizon_end, shortages, warnings}."""
        ...

    def projection(self, item_id: str, *, at: datetime, horizon_days: int | None = None) -> Record:
        """`planner-tui shortages --item ID --json`: one item's time-phased balance."""
        ...

    def balance_series(
        self,
        item_ids: Sequence[str],
        *,
        at: datetime,
        horizon_days: int | None = None,
        as_of: datetime | None = None,
    ) -> dict[str, list[tuple[datetime, float]]]:
        """item id -> (time, balance) after each event, for several items at once (the sparklines of
        `planner-tui shortages`). Over JSON a pair is a two-element list: read it as a sequence."""
        ...

    # --- finding things --------------------------------------------------------------------------------

    def find(
        self, words: str, *, kind: str | Sequence[str] | None = None, limit: int = 20, at: datetime | None = None
    ) -> list[Record]:
        """`planner-tui find WORDS --json`: {kind, id, label, score}, best first (among what there was at
        `at`, see owners)."""
        ...

    def starting_points(
        self, *, kind: str | Sequence[str] | None = None, limit: int | None = None, at: datetime | None = None
    ) -> list[Record]:
        """`planner-tui find --json` without words: the stopped machines and active holds, {kind, id, label}
        (those of `at`, see owners)."""
        ...

    # --- the plant and its feed ------------------------------------------------------------------------

    def status(self, *, at: datetime | None = None, as_of: datetime | None = None) -> Record:
        """`planner-tui status --json`: the plant's name, row counts, stopped machines, active holds... `at`
        (`--at TS`, see owners) and `as_of` (`--as-of TS`) both show them as they stood at TS (`as_of` adds
        {shown_as_of: TS}, as everywhere); given both, `as_of` is the moment."""
        ...

    def plant_name(self) -> str | None:
        """The plant's name (`status`'s "plant", without counting every table)."""
        ...

    def shift_report(self, *, at: datetime, start: datetime | None = None, end: datetime | None = None) -> Record:
        """`planner-tui report shift --format json`: the handover for [start, end) of floor time (default: the
        shift `at` is in by the plant calendar, up to `at`; else the last 8 hours): {plant, window {from,
        to, basis, hours}, attention, stops, holds, late_lines, shortages, orders {confirmed, changed,
        cancelled, lag}, actions (by person), told, feed} (engine/shift.py). A window ended before `at`
        is told as the plant stood at its end."""
        ...

    def event_history(
        self,
        *,
        type: str | None = None,
        since: datetime | None = None,
        limit: int | None = None,
        outcome: str | None = None,
        at: datetime | None = None,
    ) -> list[Record]:
        """`planner-tui events list --json`: the event history, oldest first; `type` is a type or a prefix
        like "machine.*", `since` compares with the event's time, `limit` keeps the most recent N,
        `outcome` is applied, rejected or unknown_type; `at`: only the events that had happened by then
        (their time, else their arrival, at or before it; see owners). Each event's `sequence` is a string
        as the feed sent it (a JSON integer as its digits), or None."""
        ...

    def event_lag(self, *, since: datetime | None = None, at: datetime | None = None) -> Record:
        """`planner-tui events lag --json`: event time to applied time, {count, p50, p95, max, latest}; `at`:
        of the events that had happened by then (see owners)."""
        ...

    def feed_status(self) -> Record | None:
        """The plant's live feed as of its last poll: {feed, state, description, since, last_error,
        last_sequence, last_poll_at, last_event_at, lag_seconds}; None when it follows no feed (or has not
        polled yet). last_sequence is the feed's cursor as the feed sent it, a string ("6", "00000006", a
        ULID), or None."""
        ...

    def poll_feed(self) -> Record:
        """Bring in what the feed has now: {applied: events applied, status: feed_status() or None}.
        Trouble with the feed itself is reported in the status (stale), not raised; a feed that cannot
        even be opened raises PlannerError (and is tried again on the next poll)."""
        ...

    def close(self) -> None:
        """Release the plant (the database file, the connection). Calls after this raise PlantUnavailable."""
        ...
