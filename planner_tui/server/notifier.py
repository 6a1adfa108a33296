"""The plant server's notifier: plans who is told what (engine/notify) and delivers it (deliver.py),
through the outbox (store/outbox.py), for as long as the server runs. `PlantServer.start()` starts it when
the routing in force names a channel (`[people]` in the settings file `serve` reads).

Two threads:

- **planning**: on every change the server publishes (events applied, triage, a load: `poke()`), and when
  the pacing state says something falls due with time alone (a group_wait, a repeat, an escalation:
  `engine.notify.next_due`; at least every `IDLE_PLAN_SECONDS`), it runs
  `plan_notifications` at the server's clock over one snapshot of the store (a read transaction: feeds
  and triage go on meanwhile) and writes what it plans with the pacing it changes (`outbox.record`, one
  transaction, under the store's write lock). A triage action committed while it planned (an
  acknowledgement that stops repeats and escalation) makes it plan again under the lock before it
  records, so what is recorded never contradicts triage that came first. A plan that takes long spaces
  the ticks out (at most `PLAN_SHARE` of the time), so a large plant does not spend a core on it; a change
  still plans at once.
- **sending**: takes the due messages (`outbox.due`: pending ones whose attempt is due, and ones left
  `sending` by a server that stopped mid-delivery), marks each `sending`, hands it to its channel and marks
  it `delivered`, or failed with a retry after `outbox.backoff(attempts, first=retry_first)`, or failed for
  good after `retries` attempts (the planner then raises it as a `notification_failed` exception). A
  message is sent again after a crash with the same key, so a receiver can drop the copy.

`stop()` ends both: a plan under way finishes and commits; a delivery under way is waited for up to
`STOP_SECONDS` (it finishes and is recorded), else abandoned: it stays `sending` and is sent again, with
the same key, when the server next starts. Every recorded change is published on the server's live
stream as `what = "notify"`, so consoles showing an exception's delivery record refresh it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

from planner_tui.engine.notify import next_due
from planner_tui.server.deliver import DeliveryFailed, deliver
from planner_tui.store import Store, occurrences, outbox

log = logging.getLogger(__name__)

TICK_SECONDS = 1.0  # plans are at least this far apart
IDLE_PLAN_SECONDS = 30.0  # with no change and nothing due, the plan is looked at again this often
LONG_PLAN_SECONDS = 1.5  # a plan this long may have left exceptions for the next (engine/notify PLAN_SECONDS)
PLAN_SHARE = 0.2  # a plan taking P seconds waits at least P / PLAN_SHARE before the next tick
IDLE_SECONDS = 1.0  # how often the sender looks for due messages when nothing woke it
STOP_SECONDS = 10.0  # how long stop() waits for a delivery under way
BATCH = 50  # due messages taken at a time
PUBLISH_SECONDS = 1.0  # delivery changes are published at most this often (each one makes consoles ask again)


class ServerLike(Protocol):
    store: Store
    clock: Callable[[], datetime]

    def changed(self, what: str, **detail: Any) -> int: ...


Planner = Callable[..., tuple[list[outbox.Planned], list[outbox.Pacing]]]
Deliverer = Callable[..., None]


class Notifier:
    """See the module docstring. `routing` is a `planner_tui.routing.Routing`."""

    def __init__(
        self,
        server: ServerLike,
        routing: Any,
        *,
        plan: Planner | None = None,
        send: Deliverer = deliver,
        tick_seconds: float = TICK_SECONDS,
        follow_due: bool = True,
    ) -> None:
        if plan is None:
            from planner_tui.engine.notify import plan_notifications

            plan = plan_notifications
        self.server = server
        self.store = server.store
        self.routing = routing
        self.plan = plan
        self.send = send
        self.tick_seconds = tick_seconds
        # False: plan every tick (a process whose changes nobody pokes it about, on a clock running faster
        # than the wall's: the demo); True: sleep until something falls due or a change wakes it.
        self.follow_due = follow_due
        self._stop = threading.Event()
        self._plan_wanted = threading.Event()
        self._send_wanted = threading.Event()
        self._threads: list[threading.Thread] = []
        self._planned_at: datetime | None = None  # the clock of the last plan recorded
        self._plan_cursor: Any = None  # the cursor of a plan under way (stop() interrupts it)
        self._unpublished: set[str] = set()  # exceptions whose delivery record changed since the last publication
        self._published = 0.0  # time.monotonic() of the last one
        self.plans = 0  # plans made (tests and benchmarks read them)
        self.delivered = 0
        self.failed_attempts = 0

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        for name, target in (("notify planner", self._planning), ("notify sender", self._sending)):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        people = sum(1 for p in self.routing.people.values() if p.channels)
        log.info("notifications: on, %d %s with a channel", people, "person" if people == 1 else "people")

    def poke(self) -> None:
        """The plant changed: plan again now."""
        self._plan_wanted.set()

    def stop(self, timeout: float = STOP_SECONDS) -> None:
        """Stop planning and sending (see the module docstring)."""
        self._stop.set()
        self._plan_wanted.set()
        self._send_wanted.set()
        planning = self._plan_cursor
        if planning is not None:  # a plan under way is of no use now: its queries end at once
            try:
                planning.interrupt()
            except Exception:  # noqa: BLE001 - it may have ended meanwhile
                pass
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                log.warning(
                    "notifications: the %s is still busy on stop (%s)",
                    thread.name,
                    "what it was sending is sent again on restart"
                    if "sender" in thread.name
                    else "its plan is dropped",
                )

    @property
    def running(self) -> bool:
        return any(thread.is_alive() for thread in self._threads)

    # ------------------------------------------------------------------ planning

    def plan_once(self) -> int:
        """Plan at the server's clock and record it; the outbox rows written (see the module docstring)."""
        started = time.monotonic()
        planned, states, at, mark = self._plan()
        with self.store.write_lock:
            if self._triage_mark() != mark:  # triage while it planned (an ack stops escalation): plan again
                planned, states, at, _ = self._plan()
            written = outbox.record(self.store, planned, states, at=at) if planned or states else 0
        self._planned_at = at  # what fell due after this moment is still to be weighed (`_until_due`)
        self.plans += 1
        if written or self.plans == 1:
            first = " (the first plan)" if self.plans == 1 else ""
            log.info("notifications: %d message(s) planned in %.2f s%s", written, time.monotonic() - started, first)
        if written:
            self._send_wanted.set()
            self.server.changed("notify", planned=written)
        return written

    def _plan(self) -> tuple[list[outbox.Planned], list[outbox.Pacing], datetime, int]:
        """One plan over one snapshot of the store (a read transaction), with the triage mark it saw."""
        cur = self.store.cursor()
        self._plan_cursor = cur
        detected: list = []
        try:
            cur.execute("BEGIN TRANSACTION")
            mark = self._triage_mark(cur)
            at = self.server.clock()
            planned, states = self.plan(cur, self.routing, at=at, open_hint=self.routing.open_with, detected=detected)
            cur.execute("ROLLBACK")
        finally:
            self._plan_cursor = None
            cur.close()
        # The plan may be the first to see an exception (nobody has the inbox open): it dates it from now on.
        occurrences.record(self.store, detected)
        return planned, states, at, mark

    def _triage_mark(self, cur: Any = None) -> int:
        """How many triage actions the store holds (they are only ever added)."""
        own = cur is None
        cur = self.store.cursor() if own else cur
        try:
            found = cur.execute("SELECT count(*) FROM exception_actions").fetchone()
        finally:
            if own:
                cur.close()
        return int(found[0]) if found else 0

    def _planning(self) -> None:
        wait = 0.0
        while not self._stop.is_set():
            self._plan_wanted.wait(wait)
            if self._stop.is_set():
                return
            self._plan_wanted.clear()
            started = time.monotonic()
            try:
                self.plan_once()
            except Exception:  # noqa: BLE001 - the planner must outlive one bad plan (it is tried again)
                if self._stop.is_set():  # interrupted by stop(): nothing to say
                    return
                log.exception("notifications: planning failed")
            took = time.monotonic() - started
            wait = max(self.tick_seconds, took / PLAN_SHARE)
            if self.follow_due and took < LONG_PLAN_SECONDS:
                # Nothing left over: sleep until something falls due with time alone (a group_wait, a
                # repeat, an escalation), at most IDLE_PLAN_SECONDS (what else time changes: a snooze that
                # runs out, a shortage that comes within a day); a change wakes it at once.
                wait = max(wait, min(self._until_due(), IDLE_PLAN_SECONDS))

    def _until_due(self) -> float:
        """Seconds until the pacing state says a plan could send something (IDLE_PLAN_SECONDS if never):
        counted from the last plan's clock, so a moment that fell due while it ran is planned at once."""
        cur = self.store.cursor()
        try:
            now = self.server.clock()
            due = next_due(cur, self.routing, at=self._planned_at or now)
        finally:
            cur.close()
        return IDLE_PLAN_SECONDS if due is None else max(0.0, (due - now).total_seconds())

    # ------------------------------------------------------------------ sending

    def send_due(self) -> int:
        """Deliver every message due now (one at a time); the number handled."""
        handled = 0
        while not self._stop.is_set():
            cur = self.store.cursor()
            try:
                batch = outbox.due(cur, at=self.server.clock(), limit=BATCH)
            finally:
                cur.close()
            if not batch:
                break
            for message in batch:
                if self._stop.is_set():
                    break
                self._send_one(message)
                handled += 1
            if len(batch) < BATCH:
                break
        return handled

    def _send_one(self, message: dict) -> None:
        key = message["message_key"]
        outbox.mark_sending(self.store, key)
        try:
            self.send(message, expand=self.routing.expand)
        except DeliveryFailed as failure:
            self._failed(message, failure.reason, permanent=failure.permanent)
            return
        except Exception as error:  # noqa: BLE001 - a bug in one channel must not stop the others
            log.exception("notifications: sending %s failed", key)
            self._failed(message, f"{type(error).__name__}: {error}", permanent=False)
            return
        outbox.mark_delivered(self.store, key, at=self.server.clock())
        self.delivered += 1
        log.info("notifications: %s delivered to %s", key, message["person"])
        self._touched(message["exception_id"])

    def _failed(self, message: dict, reason: str, *, permanent: bool) -> None:
        key = message["message_key"]
        attempts = int(message.get("attempts") or 0) + 1
        now = self.server.clock()
        last = permanent or attempts >= self.routing.retries
        retry_at = None if last else now + outbox.backoff(attempts, first=self.routing.retry_first)
        outbox.mark_attempt_failed(self.store, key, reason, at=now, retry_at=retry_at)
        self.failed_attempts += 1
        if last:
            log.warning(
                "notifications: %s to %s failed for good after %d attempt(s): %s",
                key,
                message["person"],
                attempts,
                reason,
            )
            self.poke()  # a failure for good is an exception of its own (notification_failed)
        else:
            log.info("notifications: %s attempt %d failed (%s); next at %s", key, attempts, reason, retry_at)
        self._touched(message["exception_id"])

    def _touched(self, exception_id: str) -> None:
        """A delivery's state changed: published on the live stream, at most every PUBLISH_SECONDS."""
        self._unpublished.add(exception_id)
        self._publish(force=False)

    def _publish(self, *, force: bool) -> None:
        if not self._unpublished or (not force and time.monotonic() - self._published < PUBLISH_SECONDS):
            return
        exceptions = sorted(self._unpublished)
        self._unpublished.clear()
        self._published = time.monotonic()
        self.server.changed("notify", exceptions=exceptions)

    def _next_due_seconds(self) -> float:
        """Seconds until the next pending message is due (IDLE_SECONDS at most)."""
        cur = self.store.cursor()
        try:
            found = cur.execute(
                "SELECT min(next_attempt_at) FROM notify_outbox WHERE state = ?", [outbox.PENDING]
            ).fetchone()
        except Exception:  # noqa: BLE001 - no outbox yet: look again later
            return IDLE_SECONDS
        finally:
            cur.close()
        if not found or found[0] is None:
            return IDLE_SECONDS
        return min(IDLE_SECONDS, max(0.0, (found[0] - self.server.clock()).total_seconds()))

    def _sending(self) -> None:
        while not self._stop.is_set():
            try:
                self.send_due()
                self._publish(force=True)
                wait = self._next_due_seconds()
            except Exception:  # noqa: BLE001 - the sender must outlive a bad round (the store is busy, closing)
                if self._stop.is_set():
                    return
                log.exception("notifications: the sender's round failed")
                wait = IDLE_SECONDS
            self._send_wanted.wait(wait)
            self._send_wanted.clear()
