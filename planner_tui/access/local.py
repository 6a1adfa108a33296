"""LocalPlant: PlantData over the in-process store, by calling the engine (and store.triage for triage).

Each call takes a cursor of its own and closes it before returning, so any thread may call any method
(the Store's rule: one cursor per thread). Triage writes go through ``store.triage``, which serialises
writers on the store's write lock. The feed, when there is one, is opened on the first ``poll_feed`` and
polled by whoever calls it (the console's feed worker); its last status is what ``exceptions`` and
``feed_status`` report, as a plant server would report its own feed.
"""

from __future__ import annotations

import difflib
import functools
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from typing import TYPE_CHECKING

import duckdb

from planner_tui.access.interface import PlantUnavailable, Record
from planner_tui.engine import exceptions as exception_engine
from planner_tui.engine import impact, orders, resources, search, shift, shortages, trace
from planner_tui.engine.notify import route_test
from planner_tui.errors import BadRequest
from planner_tui.feeds.poller import Feed, FeedStatus, open_feed
from planner_tui.store import Store, occurrences, outbox, triage
from planner_tui.store.events import event_history, lag_stats
from planner_tui.store.past import earliest, past_cursor
from planner_tui.store.status import plant_name, plant_status
from planner_tui.store.users import user_names
from planner_tui.timeutil import parse_timestamp, utcnow
from planner_tui.urls import redact_url

if TYPE_CHECKING:
    from planner_tui.routing import Routing


class LocalPlant:
    """The plant in this process's DuckDB store (see the module docstring)."""

    def __init__(
        self,
        store: Store,
        *,
        events: str | None = None,
        clock: Callable[[], datetime] | None = None,
        routing: Routing | None = None,
    ) -> None:
        self.store = store
        # Who is told what (`route_test`): the routing given, else the settings' in force when asked.
        self.routing = routing
        self.events = events  # the feed to follow: a .jsonl file or an http(s) URL; None: no feed
        self._clock = clock  # the feed's clock (the demo's replay clock); None: the real UTC clock
        self._feed: Feed | None = None
        self._status: FeedStatus | None = None  # as of the last finished poll
        self._feed_lock = threading.Lock()
        self._closed = False

    # ------------------------------------------------------------------ plumbing

    @contextmanager
    def _cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        if self._closed:
            raise PlantUnavailable("the plant's database is closed")
        cur = self.store.cursor()
        try:
            yield cur
        finally:
            try:
                cur.close()
            except duckdb.Error:
                pass  # the connection went first: nothing left to release

    @contextmanager
    def _reading(self, as_of: datetime | None, option: str = "--as-of") -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor on the plant now, or as it stood at `as_of` (store/past.py: later events taken back); a
        moment before the snapshot is refused in the words of `option`, the way it was asked for."""
        if as_of is None:
            with self._cursor() as cur:
                yield cur
            return
        if self._closed:
            raise PlantUnavailable("the plant's database is closed")
        with past_cursor(self.store, as_of, option=option) as cur:
            yield cur

    def _stood(self, at: datetime | None) -> AbstractContextManager[duckdb.DuckDBPyConnection]:
        """The cursor of a question asked as things stood at `at` (interface.AS_IT_STOOD: `--at TS`)."""
        return self._reading(at, "--at")

    def _triage(
        self,
        act: Callable[..., Record],
        exception_id: str,
        *args: object,
        who: str | None,
        at: datetime | None,
        known_person: str | None = None,
    ) -> Record:
        """`act` on an exception that is raised as of `at`, or already in triage (NotFound otherwise); and
        with `known_person`, only if that person is known (BadRequest otherwise)."""
        with self._cursor() as cur:
            exception_id = triage.check_exception_id(cur, exception_id)  # malformed; unknown subject
            when = utcnow() if at is None else parse_timestamp(at, what="action time")
            # Which occurrence it acts on: a resolve ends that one only (a later one is a new exception).
            occurrence = exception_engine.get_exception(cur, exception_id, at=when, feed_status=self._status)[
                "occurrence"
            ]
            if known_person is not None:
                _check_known(cur, known_person)
        state = act(self.store, exception_id, *args, who=who, at=at, occurrence=occurrence)
        return {"exception_id": exception_id, **state}

    def fallback_owners(self) -> dict[str, str]:
        """Who owns an exception the plant names nobody for: the `fallback_owners` setting in force."""
        from planner_tui.settings import SettingsError, current

        owners = dict(current().fallback_owners)
        unknown = sorted(set(owners) - set(exception_engine.KINDS) - {"*"})
        if unknown:
            raise SettingsError(
                f"setting fallback_owners: {unknown[0]!r} is not an exception kind (the kinds are "
                f'{", ".join(exception_engine.KINDS)}, or "*" for every kind)'
            )
        return owners

    # ------------------------------------------------------------------ the exception inbox

    def exceptions(
        self,
        *,
        at: datetime,
        include_resolved: bool = False,
        include_snoozed: bool = True,
        kinds: Sequence[str] | None = None,
        as_of: datetime | None = None,
    ) -> Record:
        problems: list[str] = []
        detected: list[tuple[str, str, datetime]] = []
        at = at if as_of is None else as_of
        with self._reading(as_of) as cur:
            rows = exception_engine.list_exceptions(
                cur,
                at=at,
                feed_status=self._status if as_of is None else None,  # the feed's state now says nothing of then
                include_resolved=include_resolved,
                include_snoozed=include_snoozed,
                problems=problems,
                kinds=kinds,
                detected=detected,
                fallback_owners=self.fallback_owners(),
            )
        if as_of is None:
            occurrences.record(self.store, detected)  # first detected now: its age counts from here on
        answer = {"at": at, "total": len(rows), "exceptions": rows, "problems": problems}
        return answer if as_of is None else {**answer, "shown_as_of": as_of}

    def exception_kinds(self) -> list[Record]:
        if self._closed:
            raise PlantUnavailable("the plant's database is closed")
        return exception_engine.exception_kinds()

    def exception(self, exception_id: str, *, at: datetime, as_of: datetime | None = None) -> Record:
        with self._reading(as_of) as cur:
            status = self._status if as_of is None else None
            return exception_engine.get_exception(
                cur, exception_id, at=as_of or at, feed_status=status, fallback_owners=self.fallback_owners()
            )

    def owners(self, *, at: datetime | None = None) -> list[Record]:
        with self._stood(at) as cur:
            return triage.owners(cur)

    def notifications(self, *, failed: bool = False, exception_id: str | None = None) -> list[Record]:
        with self._cursor() as cur:
            return outbox.deliveries(cur, exception_id=exception_id, failed_only=failed)

    def route_test(self, exception_id: str, *, at: datetime | None = None) -> Record:
        routing = self.routing
        if routing is None:
            from planner_tui import settings

            routing = settings.current().routing_config()
        when = utcnow() if at is None else parse_timestamp(at, what="--at timestamp")
        with self._cursor() as cur:
            exception_id = triage.check_exception_id(cur, exception_id)  # malformed; unknown subject
            return route_test(cur, routing, exception_id, at=when)

    # ------------------------------------------------------------------ triage

    def acknowledge(self, exception_id: str, *, who: str | None = None, at: datetime | None = None) -> Record:
        return self._triage(triage.acknowledge, exception_id, who=who, at=at)

    def assign(
        self,
        exception_id: str,
        person: str,
        *,
        who: str | None = None,
        at: datetime | None = None,
        new_person: bool = False,
    ) -> Record:
        return self._triage(
            triage.assign, exception_id, person, who=who, at=at, known_person=None if new_person else person
        )

    def note(self, exception_id: str, text: str, *, who: str | None = None, at: datetime | None = None) -> Record:
        return self._triage(triage.add_note, exception_id, text, who=who, at=at)

    def snooze(
        self, exception_id: str, until: datetime | str, *, who: str | None = None, at: datetime | None = None
    ) -> Record:
        return self._triage(triage.snooze, exception_id, until, who=who, at=at)

    def resolve(
        self, exception_id: str, *, who: str | None = None, at: datetime | None = None, reason: str | None = None
    ) -> Record:
        return self._triage(functools.partial(triage.resolve, reason=reason), exception_id, who=who, at=at)

    def reopen(self, exception_id: str, *, who: str | None = None, at: datetime | None = None) -> Record:
        return self._triage(triage.reopen, exception_id, who=who, at=at)

    # ------------------------------------------------------------------ machines

    def machines(self, *, stopped_only: bool = False, as_of: datetime | None = None) -> list[Record]:
        with self._reading(as_of) as cur:
            return orders.list_machines(cur, stopped_only=stopped_only)

    def machine(
        self,
        machine_id: str,
        *,
        at: datetime | None = None,
        limit: int = orders.NEXT_OPERATIONS,
        as_of: datetime | None = None,
    ) -> Record:
        with self._reading(as_of) as cur:
            return orders.machine_detail(cur, machine_id, at=as_of or at, limit=limit)

    def machine_impact(
        self,
        machine_id: str,
        *,
        at: datetime | None = None,
        down_minutes: float | None = None,
        as_of: datetime | None = None,
    ) -> Record:
        with self._reading(as_of) as cur:
            return impact.machine_impact(cur, machine_id, at=as_of or at, down_minutes=down_minutes)

    def resource(
        self,
        resource_id: str,
        *,
        at: datetime | None = None,
        limit: int = resources.NEXT_OPERATIONS,
        as_of: datetime | None = None,
    ) -> Record:
        with self._reading(as_of) as cur:
            return resources.resource_detail(cur, resource_id, at=as_of or at, limit=limit)

    def resource_impact(
        self,
        resource_id: str,
        *,
        at: datetime | None = None,
        down_minutes: float | None = None,
        as_of: datetime | None = None,
    ) -> Record:
        with self._reading(as_of) as cur:
            return impact.resource_impact(cur, resource_id, at=as_of or at, down_minutes=down_minutes)

    def reschedule(self, *, at: datetime | None = None, as_of: datetime | None = None) -> Record:
        with self._reading(as_of) as cur:
            return impact.reschedule(cur, at=as_of or at)

    # ------------------------------------------------------------------ orders, shipments, customers

    def order_links(self, order_id: str, *, at: datetime | None = None) -> Record:
        with self._stood(at) as cur:
            return orders.order_links(cur, order_id)

    def shipment(self, shipment_id: str, *, at: datetime | None = None) -> Record:
        with self._stood(at) as cur:
            return orders.shipment_detail(cur, shipment_id)

    def customer(self, customer_id: str, *, at: datetime | None = None) -> Record:
        with self._cursor() as cur:
            return orders.customer_detail(cur, customer_id, at=at)

    # ------------------------------------------------------------------ lots and holds

    def trace_lot(self, lot_id: str, *, at: datetime | None = None) -> Record:
        with self._stood(at) as cur:
            return trace.trace_lot(cur, lot_id)

    def trace_hold(self, hold_id: str, *, at: datetime | None = None) -> Record:
        with self._stood(at) as cur:
            return trace.trace_hold(cur, hold_id)

    def holds(self, *, at: datetime | None = None, as_of: datetime | None = None) -> list[Record]:
        with self._stood(at) if as_of is None else self._reading(as_of) as cur:
            return orders.active_holds(cur)

    # ------------------------------------------------------------------ materials

    def shortages(self, *, at: datetime, horizon_days: int | None = None, as_of: datetime | None = None) -> Record:
        with self._reading(as_of) as cur:
            return shortages.shortages(cur, at=as_of or at, horizon_days=horizon_days)

    def projection(self, item_id: str, *, at: datetime, horizon_days: int | None = None) -> Record:
        with self._cursor() as cur:
            return shortages.projection(cur, item_id, at=at, horizon_days=horizon_days)

    def balance_series(
        self,
        item_ids: Sequence[str],
        *,
        at: datetime,
        horizon_days: int | None = None,
        as_of: datetime | None = None,
    ) -> dict[str, list[tuple[datetime, float]]]:
        with self._reading(as_of) as cur:
            return shortages.balance_series(cur, list(item_ids), at=as_of or at, horizon_days=horizon_days)

    # ------------------------------------------------------------------ finding things

    def find(
        self, words: str, *, kind: str | Sequence[str] | None = None, limit: int = 20, at: datetime | None = None
    ) -> list[Record]:
        with self._stood(at) as cur:
            return search.find(cur, words, kind=kind, limit=limit)

    def starting_points(
        self, *, kind: str | Sequence[str] | None = None, limit: int | None = None, at: datetime | None = None
    ) -> list[Record]:
        with self._stood(at) as cur:
            return search.starting_points(cur, kind=kind, limit=limit)

    # ------------------------------------------------------------------ the plant and its feed

    def status(self, *, at: datetime | None = None, as_of: datetime | None = None) -> Record:
        with self._stood(at) if as_of is None else self._reading(as_of) as cur:
            summary = plant_status(cur)
        if as_of is not None:
            summary["shown_as_of"] = as_of
        if summary.get("loaded_from"):  # a database loaded by an older version may hold a password there
            summary["loaded_from"] = redact_url(summary["loaded_from"])
        return summary

    def plant_name(self) -> str | None:
        with self._cursor() as cur:
            return plant_name(cur)

    def shift_report(self, *, at: datetime, start: datetime | None = None, end: datetime | None = None) -> Record:
        with self._cursor() as cur:
            window = shift.window(cur, at=at, start=start, end=end)
            name = plant_name(cur)
            first = earliest(cur)
        # Told as the plant stood at the window's end (what was open then, by whom), whatever came after;
        # a window ending before the snapshot can only be told from the present.
        past = window["end"] if first is None or window["end"] >= first else None
        late_before = None  # the lines late when the window began: which turned late in it, which recovered
        if first is None or window["start"] >= first:
            with self._reading(window["start"]) as cur:
                late_before = shift.late_lines_at(cur, window["start"])
        with self._reading(past) as cur:
            report = shift.shift_report(
                cur,
                window["start"],
                window["end"],
                basis=window["basis"],
                feed_status=None if past else self._status,
                late_before=late_before,
            )
        return {"plant": name, **report}

    def event_history(
        self,
        *,
        type: str | None = None,
        since: datetime | None = None,
        limit: int | None = None,
        outcome: str | None = None,
        at: datetime | None = None,
    ) -> list[Record]:
        with self._stood(at) as cur:  # its event log is cut at `at`
            return event_history(cur, type=type, since=since, limit=limit, outcome=outcome)

    def event_lag(self, *, since: datetime | None = None, at: datetime | None = None) -> Record:
        with self._stood(at) as cur:
            return lag_stats(cur, since=since)

    @property
    def feed_listens(self) -> bool:
        """Whether the feed's poll waits for events itself (MQTT), so a follower asks again at once."""
        return bool(getattr(self._feed, "listens", False))

    def feed_status(self) -> Record | None:
        status = self._status
        return status.to_dict() if status is not None else None

    def poll_feed(self) -> Record:
        if self.events is None:
            return {"applied": 0, "status": None}
        with self._feed_lock:  # one poll at a time; the feed writes under the store's write lock
            if self._closed:
                raise PlantUnavailable("the plant's database is closed")
            if self._feed is None:
                self._feed = open_feed(
                    self.store, self.events, **({"clock": self._clock} if self._clock is not None else {})
                )
            result = self._feed.poll_once()
            self._status = result.status
        return {"applied": result.applied, "status": result.status.to_dict()}

    def close_feed(self) -> None:
        """Close the feed only, not the store (which other plants may share); a later poll opens it again.
        The caller makes sure no poll is running."""
        feed, self._feed = self._feed, None
        if feed is not None:
            feed.close()

    def close(self) -> None:
        """Close the feed and the store (the caller makes sure no call is still running)."""
        self._closed = True
        try:
            self.close_feed()
        finally:
            self.store.close()


def _check_known(cur: duckdb.DuckDBPyConnection, person: str) -> None:
    """BadRequest unless `person` is one of the plant's owners or an active server user (an empty name is
    left to the triage's own check)."""
    name = person.strip()
    if not name:
        return
    known = {p["person"] for p in triage.owners(cur)} | user_names(cur)
    if name in known:
        return
    close = difflib.get_close_matches(name, known, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise BadRequest(
        f"{name!r} is not a known person{hint}: not one of the plant's owners (`planner-tui owners`) nor a "
        "server user; use --new-person to assign someone not yet known"
    )
