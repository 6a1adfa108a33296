"""The plant server's heart, without HTTP: it owns the store, follows the feeds, numbers the plant's
versions, answers each question once per version, records triage as who is asking, and tells whoever
listens what changed.

- **Version.** Every change the server makes (events applied, a feed's state, a triage action, a load)
  bumps `version` and is published to the `ChangeHub`: the live stream every console listens to.
- **Answers.** `answer()` computes a question once per plant version and serves the same bytes to every
  client asking it (`AnswerCache`, single-flight: fifty consoles asking after a change cost one query). A
  question about "now" (no `at`, or an `at` within `LIVE_WINDOW` of the server's clock) is answered at the
  server's clock (one whose `at` is a moment of the plant's past, `AS_IT_STOOD`, from the present) and
  reused for at most `live_seconds` while the version stands. A triage action changes
  only what reads triage (`TRIAGE_READERS`: the inbox, one exception, the owners); every other answer is
  kept across it (on a large plant that is ~2 of the ~4 CPU-seconds a change costs: benchmarks/bench_server.py).
- **Notifications.** When the routing in force gives someone a channel, `start()` starts the notifier
  (server/notifier.py): it plans on every change published here and when something falls due, and delivers through the
  outbox; a delivery's change is published as `what = "notify"`, which, like triage, keeps every answer
  but the ones that read triage or the delivery record (`SIDE_READERS`).
- **Who.** The caller is an `Identity` the HTTP layer established (the kernel's peer credentials on the
  Unix socket, a bearer token on TCP); triage is recorded under its name at the server's clock.
- **Pushed events.** `push()` applies CloudEvents a producer sent (`POST /api/v1/events`, decoded by
  server/http.py) with `apply_events`, which records them (applied, or kept as rejected with the reason)
  and commits before `push()` returns: what is answered 2xx is on disk. They are recorded as the feed
  `push:<user>`; a retry is a duplicate by source+id. It needs the `ingest` right (an admin has not: a
  person's token is not a producer's), and a per-source token may push only its sources' events.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import pwd
import secrets
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from planner_tui import settings
from planner_tui.access import LocalPlant
from planner_tui.access.api import Endpoint
from planner_tui.access.interface import AS_IT_STOOD
from planner_tui.errors import NotAllowed, PlannerError
from planner_tui.roles import DEFAULT_LOCAL_ROLE, RIGHTS
from planner_tui.store import Store
from planner_tui.store import users as user_store
from planner_tui.store.events import PartlyApplied, apply_events
from planner_tui.timeutil import iso, utcnow
from planner_tui.wire import to_json

log = logging.getLogger(__name__)

LIVE_WINDOW = timedelta(seconds=10)  # an `at` this close to the server's clock means "now"
DEFAULT_LIVE_SECONDS = 5.0
CACHE_BYTES = 256 << 20  # answers kept in memory; beyond it the oldest go (a new version drops them anyway)
TRIAGE_READERS = frozenset({"exceptions", "exception", "owners"})  # the questions whose answers triage changes
# Changes that only what reads triage (and the delivery record: `notifications`) sees: every other answer holds.
SIDE_CHANGES = frozenset({"triage", "notify"})
SIDE_READERS = TRIAGE_READERS | {"notifications", "route_test"}


def _openable(address: str) -> str:
    """A listening address as a message can tell anyone to open it: a Unix socket by its absolute path."""
    if address.startswith("unix:") and not address[5:].startswith("/"):
        return "unix:" + os.path.abspath(address[5:])
    return address


@dataclass(frozen=True)
class Identity:
    """Who is asking, as the server established it: `via` unix (peer credentials) or token."""

    name: str
    role: str
    via: str
    sources: tuple[str, ...] | None = None  # an ingest token held to these CloudEvents sources; None: any

    def require(self, right: str, what: str) -> None:
        if right not in RIGHTS.get(self.role, frozenset()):
            raise NotAllowed(f"{self.name} is a {self.role}: a {self.role} may not {what}")

    def to_dict(self) -> dict[str, Any]:
        shown: dict[str, Any] = {"user": self.name, "role": self.role, "via": self.via}
        if self.sources is not None:
            shown["sources"] = list(self.sources)
        return shown


# ------------------------------------------------------------------------------------------ the live stream


class ChangeHub:
    """Publishes each change to every subscriber's asyncio queue, from any thread. A subscriber that
    falls `QUEUE` changes behind is dropped (its stream ends; the client reconnects and reloads)."""

    QUEUE = 256

    def __init__(self) -> None:
        self._subscribers: dict[asyncio.Queue[dict | None], asyncio.AbstractEventLoop] = {}
        self._lock = threading.Lock()
        self.closed = False

    def subscribe(self) -> asyncio.Queue[dict | None]:
        queue: asyncio.Queue[dict | None] = asyncio.Queue(self.QUEUE)
        with self._lock:
            self._subscribers[queue] = asyncio.get_running_loop()
            if self.closed:
                queue.put_nowait(None)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[dict | None]) -> None:
        with self._lock:
            self._subscribers.pop(queue, None)

    @property
    def listeners(self) -> int:
        with self._lock:
            return len(self._subscribers)

    def publish(self, change: dict | None) -> None:
        with self._lock:
            targets = list(self._subscribers.items())
        for queue, loop in targets:
            try:
                loop.call_soon_threadsafe(self._put, queue, change)
            except RuntimeError:  # that loop has closed
                self.unsubscribe(queue)

    def _put(self, queue: asyncio.Queue[dict | None], change: dict | None) -> None:
        try:
            queue.put_nowait(change)
        except asyncio.QueueFull:
            self.unsubscribe(queue)
            while not queue.empty():
                queue.get_nowait()
            queue.put_nowait(None)  # the end of its stream: it reconnects and reloads everything

    def close(self) -> None:
        """End every stream (the server is stopping)."""
        self.closed = True
        self.publish(None)


# ------------------------------------------------------------------------------------------ the answers


@dataclass
class Answer:
    version: int
    body: bytes
    etag: str
    computed: float  # time.monotonic() when it was computed
    live: bool


class AnswerCache:
    """One answer per (question, version), computed by one thread while the others asking wait for it."""

    def __init__(self) -> None:
        self._answers: dict[tuple, Answer] = {}  # in insertion order: the oldest first
        self._bytes = 0
        self._computing: dict[tuple, threading.Lock] = {}
        self._lock = threading.Lock()
        self.computed = 0  # answers computed (benchmarks and tests read it)
        self.served = 0

    def get(
        self,
        key: tuple,
        version: Callable[[], int],
        live_seconds: float | None,
        compute: Callable[[], bytes],
        boot: str,
        valid_since: Callable[[], int] | None = None,
    ) -> Answer:
        """The answer to `key`: a kept one computed at `valid_since()` (default: `version()`) or later, else
        computed now and tagged with `version()`."""
        oldest = valid_since or version
        while True:
            now_version = oldest()
            with self._lock:
                found = self._answers.get(key)
                if found is not None and self._fresh(found, now_version, live_seconds):
                    self.served += 1
                    return found
                gate = self._computing.setdefault(key, threading.Lock())
            with gate:
                with self._lock:  # another thread may have computed it while this one waited
                    found = self._answers.get(key)
                    if found is not None and self._fresh(found, oldest(), live_seconds):
                        self.served += 1
                        return found
                started_version = version()
                body = compute()
                answer = Answer(
                    started_version,
                    body,
                    f'"{boot}-{started_version}-{hashlib.sha1(body).hexdigest()[:16]}"',
                    time.monotonic(),
                    live_seconds is not None,
                )
                with self._lock:
                    self.computed += 1
                    self.served += 1
                    self._keep(key, answer, version())
                    self._computing.pop(key, None)
                return answer

    def _keep(self, key: tuple, answer: Answer, version: int) -> None:
        """Store an answer (under self._lock): answers of older versions go first, then the oldest."""
        replaced = self._answers.pop(key, None)
        self._bytes -= len(replaced.body) if replaced is not None else 0
        if self._bytes + len(answer.body) > CACHE_BYTES:
            self._answers = {k: a for k, a in self._answers.items() if a.version == version}
            self._bytes = sum(len(a.body) for a in self._answers.values())
        while self._answers and self._bytes + len(answer.body) > CACHE_BYTES:
            oldest = next(iter(self._answers))
            self._bytes -= len(self._answers.pop(oldest).body)
        self._answers[key] = answer
        self._bytes += len(answer.body)

    @staticmethod
    def _fresh(answer: Answer, oldest: int, live_seconds: float | None) -> bool:
        if answer.version < oldest:
            return False
        return live_seconds is None or time.monotonic() - answer.computed <= live_seconds


# ------------------------------------------------------------------------------------------ the server


class PlantServer:
    """The plant as the server holds it (see the module docstring). `start()` begins following the feeds;
    `stop()` ends that and closes the store, with nothing accepted lost (every write is committed when it
    is answered)."""

    def __init__(
        self,
        store: Store,
        *,
        events: Sequence[str] = (),
        poll_seconds: float = 2.0,
        roles: Mapping[str, str] | None = None,
        default_role: str = DEFAULT_LOCAL_ROLE,
        live_seconds: float = DEFAULT_LIVE_SECONDS,
        clock: Callable[[], datetime] = utcnow,
        routing: Any = None,
    ) -> None:
        self.store = store
        self.events = tuple(events)
        self.poll_seconds = poll_seconds
        self.roles = dict(roles or {})
        self.default_role = default_role
        self.live_seconds = live_seconds
        self.clock = clock
        self.boot = secrets.token_hex(4)  # tells one run's versions from the next's (ETags, streams)
        self.started_at = clock()
        self.hub = ChangeHub()
        self.cache = AnswerCache()
        self._version = 0
        self._data_version = 0  # the last change other than triage: answers not in TRIAGE_READERS hold since
        self._version_lock = threading.Lock()
        # One LocalPlant per feed (each polls its own); the first answers the questions, so its feed's
        # state is the one the inbox reports (a stale feed is an exception).
        self._feed_plants = [LocalPlant(store, events=source) for source in self.events]
        self.plant = self._feed_plants[0] if self._feed_plants else LocalPlant(store)
        self._feed_states: dict[str, str | None] = {}
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.own_uid = os.getuid()
        self.revocations = 0  # tokens revoked while running: a live stream checks its token again when it moves
        # Notifications (server/notifier.py): the routing given, else the settings' in force at start().
        self.routing = routing
        self.notifier: Any = None
        self.addresses: list[str] = []  # where it listens, as a client names it (server/listen.py sets them)

    # ------------------------------------------------------------------ versions and changes

    @property
    def version(self) -> int:
        return self._version

    def changed(self, what: str, **detail: Any) -> int:
        """Record a change: a new version, published to every stream."""
        with self._version_lock:
            self._version += 1
            version = self._version
            if what not in SIDE_CHANGES:
                self._data_version = version
        self.hub.publish({"version": version, "what": what, "at": iso(self.clock()), **detail})
        if self.notifier is not None and what != "notify":
            self.notifier.poke()
        return version

    def hello(self) -> dict:
        """The first message of a stream: where the plant stands."""
        return {
            "version": self._version,
            "boot": self.boot,
            "what": "hello",
            "at": iso(self.clock()),
            "feeds": self.feed_states(),
        }

    # ------------------------------------------------------------------ the feeds

    def start(self) -> None:
        routing = self.routing if self.routing is not None else settings.current().routing_config()
        self.plant.routing = routing
        if routing.open_with is None and self.addresses:
            # The messages say how to open this server: where it listens (`routes test` shows the settings').
            routing = replace(routing, open_with=_openable(self.addresses[0]))
        if routing.enabled:  # someone has a channel: the notifier plans and delivers (a bad setting stops here)
            from planner_tui.server.notifier import Notifier

            self.notifier = Notifier(self, routing)
            self.notifier.start()
        for plant in self._feed_plants:
            thread = threading.Thread(target=self._follow, args=(plant,), name=f"feed {plant.events}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def _follow(self, plant: LocalPlant) -> None:
        """Poll one feed for as long as the server runs: as `events pull --follow` does."""
        while not self._stop.is_set():
            started = time.monotonic()
            status: dict | None = None
            try:
                polled = plant.poll_feed()
                status = polled.get("status")
                applied = int(polled.get("applied") or 0)
            except PlannerError as error:  # the feed cannot even be opened: said, and tried again
                log.warning("feed %s: %s", plant.events, error)
                applied = 0
                status = {"feed": plant.events, "state": "stale", "last_error": str(error)}
            except Exception:  # noqa: BLE001 - a follower must outlive any one bad poll
                log.exception("feed %s: the poll failed", plant.events)
                applied = 0
            state = status.get("state") if status else None
            key = str(plant.events)
            if applied or state != self._feed_states.get(key, "starting"):
                self._feed_states[key] = state
                self.changed("events" if applied else "feed", applied=applied, feed=status)
            if state == "catching_up" and applied:
                continue
            if plant.feed_listens and state != "stale":  # an MQTT poll waits for messages itself: ask again
                continue
            self._stop.wait(max(0.05, self.poll_seconds - (time.monotonic() - started)))

    def feed_states(self) -> list[dict]:
        out = []
        for plant in self._feed_plants:
            out.append(plant.feed_status() or {"feed": plant.events, "state": "starting"})
        return out

    def stop(self) -> None:
        """Stop following the feeds (a poll under way finishes and commits), then close the store."""
        self._stop.set()
        self.hub.close()
        if self.notifier is not None:
            self.notifier.stop()
        for thread in self._threads:
            thread.join(timeout=30)
        for plant in self._feed_plants[1:]:
            plant.close_feed()
        # A write still under way (a load outlasting the graceful shutdown, a triage) finishes and commits
        # first: every writer holds the write lock for its whole transaction.
        with self.store.write_lock:
            try:
                self.store.con.execute("CHECKPOINT")
            except Exception:  # noqa: BLE001 - closing is what matters; DuckDB replays its WAL on open
                log.warning("checkpoint on stop failed", exc_info=True)
            self.plant.close()

    # ------------------------------------------------------------------ who is asking

    def identify_local(self, uid: int) -> Identity:
        """A user on the Unix socket, named by the kernel: the server's own user is an admin, others have
        the role the settings give them (`roles`), else the default."""
        try:
            name = pwd.getpwuid(uid).pw_name
        except KeyError:
            name = f"uid{uid}"
        if uid == self.own_uid:
            return Identity(name, "admin", "unix")
        return Identity(name, self.roles.get(name, self.default_role), "unix")

    def identify_token(self, token: str) -> Identity | None:
        cur = self.store.cursor()
        try:
            user = user_store.user_for_token(cur, token)
        finally:
            cur.close()
        if user is None:
            return None
        sources = user.get("sources")
        return Identity(user["name"], user["role"], "token", None if sources is None else tuple(sources))

    # ------------------------------------------------------------------ questions

    def answer(self, endpoint: Endpoint, path_value: str | None, kwargs: dict[str, Any]) -> Answer:
        """The question's answer as JSON bytes, once per version (see the module docstring)."""
        live = False
        if any(param.name == "at" for param in endpoint.params):
            asked = kwargs.get("at")
            now = self.clock()
            if asked is None or abs(asked - now) <= LIVE_WINDOW:
                live = True
                kwargs = {k: v for k, v in kwargs.items() if k != "at"}
        key = (endpoint.name, path_value, tuple(sorted((k, _hashable(v)) for k, v in kwargs.items())), live)
        method = getattr(self.plant, endpoint.name)

        # Asked about now, a question of how things stood (AS_IT_STOOD) is the present: nothing to take back.
        clocked = live and endpoint.name not in AS_IT_STOOD

        def compute() -> bytes:
            args = (path_value,) if endpoint.path_param is not None else ()
            call_kwargs = {**kwargs, "at": self.clock()} if clocked else kwargs
            return to_json(method(*args, **call_kwargs)).encode("utf-8")

        since = (lambda: self._version) if endpoint.name in SIDE_READERS else (lambda: self._data_version)
        live_seconds = self.live_seconds if live else None
        return self.cache.get(key, lambda: self._version, live_seconds, compute, self.boot, valid_since=since)

    # ------------------------------------------------------------------ writes

    def triage(self, who: Identity, endpoint: Endpoint, exception_id: str, kwargs: dict[str, Any]) -> dict:
        who.require("triage", "triage exceptions")
        record = getattr(self.plant, endpoint.name)(exception_id, **kwargs, who=who.name, at=self.clock())
        version = self.changed("triage", action=endpoint.name, exception_id=record.get("exception_id"), who=who.name)
        return {**record, "version": version}

    def load(self, who: Identity, folder_or_url: str, *, shown_as: str | None = None) -> dict:
        from planner_tui.store.loader import load_snapshot

        who.require("load", "load snapshots")
        report = load_snapshot(self.store, folder_or_url, shown_as=shown_as)
        log.info("snapshot %s loaded by %s", report.get("source"), who.name)
        self.changed("load", source=report.get("source"), as_of=report.get("as_of"), who=who.name)
        return report

    def push(self, who: Identity, events: list[Any]) -> dict:
        """Record CloudEvents a producer pushed (structured-mode objects, as received): applied, or kept as
        rejected with the reason, committed before this returns. What it did, as the HTTP answer says it."""
        who.require("ingest", "push events (that takes a token of the ingest role)")
        if who.sources is not None:
            # A whole request is refused rather than its foreign events rejected one by one: a 403 is a
            # mistake the producer sees and fixes, a 200 with rejections would be taken as delivered.
            foreign = sorted(
                {str(e["source"]) for e in events if isinstance(e, dict) and isinstance(e.get("source"), str)}
                - set(who.sources)
            )
            if foreign:
                raise NotAllowed(
                    f"{who.name} may push events of source {', '.join(who.sources)} only, not of "
                    f"{', '.join(foreign[:5])}{' ...' if len(foreign) > 5 else ''}: nothing of this request was "
                    "recorded (an admin gives the token more sources with `planner-tui users add --source`)"
                )
        feed = f"push:{who.name}"
        answer = {"feed": feed, "applied": 0, "duplicates": 0, "rejected": 0, "unknown": 0, "rejections": []}
        if not events:
            return {**answer, "version": self._version}
        try:
            # Not paged: pushed events are told apart by source+id only. A paged feed would also drop an
            # event whose sequence is at or below the feed's highest so far, and a producer's sequences
            # need not rise across its pushes (several sources, retries out of order).
            result = apply_events(self.store, events, feed=feed, paged=False)
        except PartlyApplied as partly:
            done = partly.result
            if done.applied + done.rejected + done.unknown:
                self.changed("events", applied=done.applied, feed=feed, who=who.name)
            raise PlannerError(
                f"the store failed after recording {done.received} of {len(events)} events ({partly}): send the "
                "request again (what was recorded is then counted as duplicates)"
            ) from partly
        version = self._version
        if result.applied + result.rejected + result.unknown:  # anything new in the plant or its history
            version = self.changed("events", applied=result.applied, feed=feed, who=who.name)
        log.info(
            "%s pushed %d events: %d applied, %d duplicates, %d rejected, %d unknown",
            who.name,
            len(events),
            result.applied,
            result.duplicates,
            result.rejected,
            result.unknown,
        )
        return {
            **answer,
            "applied": result.applied,
            "duplicates": result.duplicates,
            "rejected": result.rejected,
            "unknown": result.unknown,
            "rejections": [{"id": event_id, "reason": reason} for event_id, reason in result.rejections],
            "version": version,
        }

    def add_user(self, who: Identity, name: str, role: str, sources: Sequence[str] | None = None) -> dict:
        who.require("users", "manage users")
        user, token = user_store.add_user(self.store, name, role, by=who.name, at=self.clock(), sources=sources)
        log.info("user %s (%s) added by %s", user["name"], user["role"], who.name)
        return {**user, "token": token}

    def list_users(self, who: Identity) -> list[dict]:
        who.require("users", "manage users")
        cur = self.store.cursor()
        try:
            return user_store.list_users(cur)
        finally:
            cur.close()

    def revoke_user(self, who: Identity, name: str) -> dict:
        who.require("users", "manage users")
        revoked = user_store.revoke_user(self.store, name, by=who.name, at=self.clock())
        self.revocations += 1
        log.info("user %s revoked by %s", revoked["name"], who.name)
        return revoked


def _hashable(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value
