"""RemotePlant: PlantData over HTTP to a plant server (`planner-tui serve`), the second implementation
beside LocalPlant. Every method is one request to the endpoint access/api.py derives from the protocol,
and returns the same values LocalPlant would (the JSON read back with its times, `wire.loads`).

- **Errors** come back as the same PlannerError the server raised (same message, same exit status). A
  server that cannot be reached is PlantUnavailable, whose message says how to get it back.
- **Changes** arrive on the server's live stream (server-sent events), read by a background thread.
  `poll_feed` waits briefly for the next ones, so the console's feed loop becomes "wait for the server
  to say something changed": a triage in another console shows here within a fraction of a second. While
  the stream is down it says "reconnecting..." and tries again with backoff.
- **Answers** are revalidated with their ETag: an unchanged answer costs the server a 304, not a query.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from planner_tui import errors, wire
from planner_tui.access.address import Address, parse_address
from planner_tui.access.api import PREFIX, endpoints, to_wire
from planner_tui.access.interface import PlantData, PlantUnavailable, Record
from planner_tui.errors import PlannerError

log = logging.getLogger(__name__)

CONNECT_SECONDS = 5.0
ANSWER_SECONDS = 300.0  # a whole-plant reschedule of a large plant takes a while
LOAD_SECONDS = 3600.0
POLL_WAIT_SECONDS = 0.5  # poll_feed waits this long for a change (the console asks again at once)
STREAM_READ_SECONDS = 40.0  # the server pings every 15 s: silence this long means the stream is dead
RECONNECT_SECONDS = (0.2, 0.5, 1.0, 2.0)  # then every 2 s: a restart is back within seconds
_ETAGS_KEPT = 512

_ERRORS: dict[str, type[PlannerError]] = {
    cls.__name__: cls
    for cls in (
        errors.BadRequest,
        errors.NotFound,
        errors.StoreLocked,
        errors.CycleError,
        errors.NotAuthenticated,
        errors.NotAllowed,
        PlantUnavailable,
    )
}


def connect(address: str, *, token: str | None = None, ca: str | Path | None = None) -> RemotePlant:
    """A PlantData for the plant server at `address` (unix:PATH, tcp:HOST:PORT, https://HOST:PORT). The
    token and CA file default to the settings (`token` / PLANNER_TUI_TOKEN, `ca` / PLANNER_TUI_CA): a
    token is never a flag, as flags show in `ps` and shell history."""
    from planner_tui import settings

    in_force = settings.current()
    return RemotePlant(
        parse_address(address),
        token=token if token is not None else in_force.token,
        ca=ca if ca is not None else in_force.ca,
    )


class _RemoteError(PlannerError):
    """A PlannerError of a kind this client does not know by name: the message and exit status as sent."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code


class RemotePlant:
    """The plant at a plant server (see the module docstring)."""

    follows_changes = True  # poll_feed waits for the server's changes: poll again at once

    def __init__(self, address: Address, *, token: str | None = None, ca: str | Path | None = None) -> None:
        self.address = address
        headers = {"User-Agent": "planner-tui"}
        if token and address.kind == "tcp":  # on the Unix socket the kernel says who we are
            headers["Authorization"] = f"Bearer {token}"
        transport = httpx.HTTPTransport(uds=address.path) if address.kind == "unix" else None
        verify: Any = True
        if ca is not None:
            import ssl

            verify = ssl.create_default_context(cafile=str(ca))
        self._client = httpx.Client(
            base_url=address.base_url,
            transport=transport,
            headers=headers,
            verify=verify,
            timeout=httpx.Timeout(ANSWER_SECONDS, connect=CONNECT_SECONDS),
        )
        self._etags: dict[tuple, tuple[str, Any]] = {}
        self._etags_lock = threading.Lock()
        self._closed = False
        self._changes: queue.Queue[dict] = queue.Queue()
        self._stream: threading.Thread | None = None
        self._stream_lock = threading.Lock()
        self._stream_error: str | None = None
        self._stream_down_since: float | None = None
        self._seen: tuple[str, int] | None = None  # (boot, version) last heard on the stream
        self._feed_status: Record | None = None
        self.version = 0

    # ------------------------------------------------------------------ plumbing

    def _unavailable(self, error: Exception) -> PlantUnavailable:
        reason = str(error) or type(error).__name__
        if "CERTIFICATE_VERIFY_FAILED" in reason:  # it answers, with a certificate nobody told us to trust
            return PlantUnavailable(
                f"the plant server at {self.address} presents a certificate this client does not trust ({reason}); "
                "set PLANNER_TUI_CA (or `ca` in the settings) to the site's CA file"
            )
        return PlantUnavailable(
            f"the plant server at {self.address} is not answering ({reason}); is `planner-tui serve` running?"
        )

    def _request(self, verb: str, url: str, **kwargs: Any) -> httpx.Response:
        if self._closed:
            raise PlantUnavailable("the connection to the plant server is closed")
        try:
            response = self._client.request(verb, url, **kwargs)
        except httpx.TransportError as error:
            raise self._unavailable(error) from None
        if response.status_code >= 400:
            raise self._error_of(response)
        return response

    @staticmethod
    def _error_of(response: httpx.Response) -> PlannerError:
        try:
            body = response.json()
            message, kind, code = str(body["error"]), str(body.get("kind", "")), int(body.get("exit_code", 1))
        except (ValueError, KeyError, TypeError):
            return PlannerError(f"the plant server answered HTTP {response.status_code}: {response.text[:200]}")
        cls = _ERRORS.get(kind)
        return cls(message) if cls is not None else _RemoteError(message, code)

    def _call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        endpoint = endpoints()[name]
        url = endpoint.url(args[0] if endpoint.path_param is not None else None)
        given = {key: to_wire(value) for key, value in kwargs.items() if value is not None}
        if endpoint.verb == "POST":
            return wire.loads(self._request("POST", url, json=given).content)
        key = (url, tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in given.items())))
        with self._etags_lock:
            known = self._etags.get(key)
        headers = {"If-None-Match": known[0]} if known else {}
        response = self._request("GET", url, params=given, headers=headers)
        if response.status_code == 304 and known is not None:
            return known[1]
        answer = wire.loads(response.content)
        etag = response.headers.get("etag")
        if etag:
            with self._etags_lock:
                if len(self._etags) >= _ETAGS_KEPT:
                    self._etags.clear()
                self._etags[key] = (etag, answer)
        return answer

    # ------------------------------------------------------------------ beyond PlantData: the server itself

    def whoami(self) -> Record:
        return wire.loads(self._request("GET", f"{PREFIX}/whoami").content)

    def server_version(self) -> Record:
        return wire.loads(self._request("GET", f"{PREFIX}/version").content)

    def load_snapshot(self, source: str) -> Record:
        """Load a snapshot through the server: a folder is sent as a tar archive, a URL is fetched by the
        server. Answers what `planner-tui load --json` prints."""
        timeout = httpx.Timeout(LOAD_SECONDS, connect=CONNECT_SECONDS)
        if source.startswith(("http://", "https://")):
            response = self._request("POST", f"{PREFIX}/load", json={"source": source}, timeout=timeout)
            return wire.loads(response.content)
        folder = Path(source)
        if not folder.is_dir():
            raise errors.BadRequest(f"{source}: not a snapshot folder (or an http(s) URL)")
        with _tar_of(folder) as archive:
            response = self._request(
                "POST",
                f"{PREFIX}/load",
                content=archive,
                headers={"Content-Type": "application/x-tar", "X-Snapshot-Source": str(folder.resolve())},
                timeout=timeout,
            )
        return wire.loads(response.content)

    def users(self) -> list[Record]:
        return wire.loads(self._request("GET", f"{PREFIX}/users").content)

    def add_user(self, name: str, role: str, sources: Sequence[str] | None = None) -> Record:
        body = {"name": name, "role": role, "sources": list(sources) if sources else None}
        return wire.loads(self._request("POST", f"{PREFIX}/users", json=body).content)

    def revoke_user(self, name: str) -> Record:
        from urllib.parse import quote

        return wire.loads(self._request("POST", f"{PREFIX}/users/{quote(name, safe='')}/revoke").content)

    # ------------------------------------------------------------------ the live stream

    def _ensure_stream(self) -> None:
        with self._stream_lock:
            if self._stream is None or not self._stream.is_alive():
                self._stream = threading.Thread(target=self._listen, name="plant server stream", daemon=True)
                self._stream.start()

    def _listen(self) -> None:
        attempt = 0
        timeout = httpx.Timeout(STREAM_READ_SECONDS, connect=CONNECT_SECONDS)
        while not self._closed:
            try:
                with self._client.stream("GET", f"{PREFIX}/stream", timeout=timeout) as response:
                    if response.status_code >= 400:
                        response.read()
                        raise self._error_of(response)
                    attempt = 0
                    for event, data in _events(response.iter_lines()):
                        if self._closed:
                            return
                        self._heard(event, data)
                if not self._closed:
                    self._down("the plant server ended the stream")
            except PlannerError as error:
                self._down(str(error))
            except (httpx.HTTPError, ValueError) as error:
                self._down(str(error) or type(error).__name__)
            if self._closed:
                return
            time.sleep(RECONNECT_SECONDS[min(attempt, len(RECONNECT_SECONDS) - 1)])
            attempt += 1

    def _down(self, reason: str) -> None:
        if self._closed:  # closing the client broke its own stream: nothing is down
            return
        if self._stream_down_since is None:
            self._stream_down_since = time.monotonic()
            log.warning("the plant server stream at %s is down: %s", self.address, reason)
        self._stream_error = reason

    def _heard(self, event: str, data: dict) -> None:
        if event == "hello":
            boot, version = str(data.get("boot")), int(data.get("version") or 0)
            feeds = data.get("feeds") or []
            self._feed_status = feeds[0] if feeds else None
            resync = self._seen is not None and self._seen != (boot, version)
            self._seen = (boot, version)
            self.version = version
            if self._stream_down_since is not None:
                log.info("the plant server stream at %s is back", self.address)
            self._stream_error, self._stream_down_since = None, None
            if resync:  # changes were missed while the stream was down (or the server restarted)
                self._changes.put({"what": "resync", "version": version})
            return
        if event == "change":
            version = int(data.get("version") or 0)
            if self._seen is not None:
                self._seen = (self._seen[0], version)
            self.version = version
            feed = data.get("feed")
            if isinstance(feed, dict) and (
                self._feed_status is None or feed.get("feed") == self._feed_status.get("feed")
            ):
                self._feed_status = feed
            self._changes.put(data)

    # ------------------------------------------------------------------ PlantData

    def exceptions(
        self,
        *,
        at: datetime,
        include_resolved: bool = False,
        include_snoozed: bool = True,
        kinds: Sequence[str] | None = None,
        as_of: datetime | None = None,
    ) -> Record:
        return self._call(
            "exceptions",
            at=at,
            include_resolved=include_resolved,
            include_snoozed=include_snoozed,
            kinds=None if kinds is None else list(kinds),
            as_of=as_of,
        )

    def exception_kinds(self) -> list[Record]:
        return self._call("exception_kinds")

    def exception(self, exception_id: str, *, at: datetime, as_of: datetime | None = None) -> Record:
        return self._call("exception", exception_id, at=at, as_of=as_of)

    def owners(self, *, at: datetime | None = None) -> list[Record]:
        return self._call("owners", at=at)

    def notifications(self, *, failed: bool = False, exception_id: str | None = None) -> list[Record]:
        return self._call("notifications", failed=failed, exception_id=exception_id)

    def route_test(self, exception_id: str, *, at: datetime | None = None) -> Record:
        return self._call("route_test", exception_id, at=at)

    # `who` and `at` are the server's to say: what a client claims is not sent.
    def acknowledge(self, exception_id: str, *, who: str | None = None, at: datetime | None = None) -> Record:
        return self._call("acknowledge", exception_id)

    def assign(
        self,
        exception_id: str,
        person: str,
        *,
        who: str | None = None,
        at: datetime | None = None,
        new_person: bool = False,
    ) -> Record:
        return self._call("assign", exception_id, person=person, new_person=new_person)

    def note(self, exception_id: str, text: str, *, who: str | None = None, at: datetime | None = None) -> Record:
        return self._call("note", exception_id, text=text)

    def snooze(
        self, exception_id: str, until: datetime | str, *, who: str | None = None, at: datetime | None = None
    ) -> Record:
        return self._call("snooze", exception_id, until=until)

    def resolve(
        self, exception_id: str, *, who: str | None = None, at: datetime | None = None, reason: str | None = None
    ) -> Record:
        return self._call("resolve", exception_id, reason=reason)

    def reopen(self, exception_id: str, *, who: str | None = None, at: datetime | None = None) -> Record:
        return self._call("reopen", exception_id)

    def machines(self, *, stopped_only: bool = False, as_of: datetime | None = None) -> list[Record]:
        return self._call("machines", stopped_only=stopped_only, as_of=as_of)

    def machine(
        self, machine_id: str, *, at: datetime | None = None, limit: int = 10, as_of: datetime | None = None
    ) -> Record:
        return self._call("machine", machine_id, at=at, limit=limit, as_of=as_of)

    def machine_impact(
        self,
        machine_id: str,
        *,
        at: datetime | None = None,
        down_minutes: float | None = None,
        as_of: datetime | None = None,
    ) -> Record:
        return self._call("machine_impact", machine_id, at=at, down_minutes=down_minutes, as_of=as_of)

    def resource(
        self, resource_id: str, *, at: datetime | None = None, limit: int = 10, as_of: datetime | None = None
    ) -> Record:
        return self._call("resource", resource_id, at=at, limit=limit, as_of=as_of)

    def resource_impact(
        self,
        resource_id: str,
        *,
        at: datetime | None = None,
        down_minutes: float | None = None,
        as_of: datetime | None = None,
    ) -> Record:
        return self._call("resource_impact", resource_id, at=at, down_minutes=down_minutes, as_of=as_of)

    def reschedule(self, *, at: datetime | None = None, as_of: datetime | None = None) -> Record:
        return self._call("reschedule", at=at, as_of=as_of)

    def order_links(self, order_id: str, *, at: datetime | None = None) -> Record:
        return self._call("order_links", order_id, at=at)

    def shipment(self, shipment_id: str, *, at: datetime | None = None) -> Record:
        return self._call("shipment", shipment_id, at=at)

    def customer(self, customer_id: str, *, at: datetime | None = None) -> Record:
        return self._call("customer", customer_id, at=at)

    def trace_lot(self, lot_id: str, *, at: datetime | None = None) -> Record:
        return self._call("trace_lot", lot_id, at=at)

    def trace_hold(self, hold_id: str, *, at: datetime | None = None) -> Record:
        return self._call("trace_hold", hold_id, at=at)

    def holds(self, *, at: datetime | None = None, as_of: datetime | None = None) -> list[Record]:
        return self._call("holds", at=at, as_of=as_of)

    def shortages(self, *, at: datetime, horizon_days: int | None = None, as_of: datetime | None = None) -> Record:
        return self._call("shortages", at=at, horizon_days=horizon_days, as_of=as_of)

    def projection(self, item_id: str, *, at: datetime, horizon_days: int | None = None) -> Record:
        return self._call("projection", item_id, at=at, horizon_days=horizon_days)

    def balance_series(
        self,
        item_ids: Sequence[str],
        *,
        at: datetime,
        horizon_days: int | None = None,
        as_of: datetime | None = None,
    ) -> dict[str, list[tuple[datetime, float]]]:
        return self._call("balance_series", item_ids=list(item_ids), at=at, horizon_days=horizon_days, as_of=as_of)

    def find(
        self, words: str, *, kind: str | Sequence[str] | None = None, limit: int = 20, at: datetime | None = None
    ) -> list[Record]:
        return self._call("find", words=words, kind=_kinds(kind), limit=limit, at=at)

    def starting_points(
        self, *, kind: str | Sequence[str] | None = None, limit: int | None = None, at: datetime | None = None
    ) -> list[Record]:
        return self._call("starting_points", kind=_kinds(kind), limit=limit, at=at)

    def status(self, *, at: datetime | None = None, as_of: datetime | None = None) -> Record:
        return self._call("status", at=at, as_of=as_of)

    def plant_name(self) -> str | None:
        return self._call("plant_name")

    def shift_report(self, *, at: datetime, start: datetime | None = None, end: datetime | None = None) -> Record:
        return self._call("shift_report", at=at, start=start, end=end)

    def event_history(
        self,
        *,
        type: str | None = None,
        since: datetime | None = None,
        limit: int | None = None,
        outcome: str | None = None,
        at: datetime | None = None,
    ) -> list[Record]:
        return self._call("event_history", type=type, since=since, limit=limit, outcome=outcome, at=at)

    def event_lag(self, *, since: datetime | None = None, at: datetime | None = None) -> Record:
        return self._call("event_lag", since=since, at=at)

    def feed_status(self) -> Record | None:
        return self._call("feed_status")

    def poll_feed(self) -> Record:
        """Wait up to POLL_WAIT_SECONDS for the server's next changes: {applied (events applied),
        changed (anything changed: triage, a load, a feed's state), status (the feed's state)}."""
        if self._closed:
            raise PlantUnavailable("the connection to the plant server is closed")
        self._ensure_stream()
        heard: list[dict] = []
        try:
            heard.append(self._changes.get(timeout=POLL_WAIT_SECONDS))
            while True:
                heard.append(self._changes.get_nowait())
        except queue.Empty:
            pass
        if not heard and self._stream_error is not None:
            down = time.monotonic() - (self._stream_down_since or time.monotonic())
            raise PlantUnavailable(
                f"the plant server at {self.address} has not answered for {down:.0f} s ({self._stream_error}); "
                "reconnecting"
            )
        applied = sum(int(change.get("applied") or 0) for change in heard if change.get("what") == "events")
        loads = [change for change in heard if change.get("what") == "load"]
        return {
            "applied": applied,
            "changed": bool(heard),
            "status": self._feed_status,
            "loaded": loads[-1] if loads else None,  # a new snapshot: {source, as_of, who}
        }

    def close(self) -> None:
        self._closed = True
        self._client.close()


def _kinds(kind: str | Sequence[str] | None) -> str | list[str] | None:
    return kind if kind is None or isinstance(kind, str) else list(kind)


def _events(lines: Iterator[str]) -> Iterator[tuple[str, dict]]:
    """(event, data) of a server-sent event stream; comments (pings) are skipped."""
    event, data = "message", list[str]()
    for line in lines:
        if not line:
            if data:
                yield event, wire.loads("\n".join(data))
            event, data = "message", []
        elif line.startswith(":"):
            continue
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].lstrip())


class _tar_of:
    """A snapshot folder as an uncompressed tar archive in a temporary file (Parquet is compressed
    already; CSV compresses well, but gzip on a 2-core box costs more than the loopback saves)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def __enter__(self) -> Any:
        import tarfile
        import tempfile

        self._file = tempfile.TemporaryFile()
        with tarfile.open(fileobj=self._file, mode="w", dereference=True) as tar:
            for path in sorted(self.folder.rglob("*")):
                if path.is_file():
                    tar.add(path, arcname=str(path.relative_to(self.folder)), recursive=False)
        self._file.seek(0)
        return self._file

    def __exit__(self, *exc: object) -> None:
        self._file.close()


def _is_plant_data(plant: RemotePlant) -> PlantData:
    """Never called: the type checker proves here that RemotePlant is a PlantData."""
    return plant
