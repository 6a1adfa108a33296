"""The scenario feed server: a snapshot's files and a scripted event file replayed as a live feed.

    server = FeedServer(Path("sample_data/plant"), Path("sample_data/scenario.jsonl"), speed=10)
    server.start()
    load_snapshot(store, server.snapshot_url)
    feed = open_feed(store, server.feed_url)

Events are released over time as their `time` offsets from the first event say, divided by `speed`
(the first at once). `GET /events?after=N&limit=M` answers the released events with a sequence above N,
oldest first, as `application/cloudevents-batch+json`, with an ETag. The server numbers its events with
integers, so N is a number (leading zeros allowed): the text a client sends back is one of its own. It drives the demo and the tests,
and binds to 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import math
import mimetypes
import re
import socket
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from planner_tui.errors import BadRequest, PlannerError
from planner_tui.store.events import BATCH_CONTENT_TYPE, integer_sequence, parse_event_time, parse_sequence

_SAFE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
_CONTENT_TYPES = {
    ".csv": "text/csv; charset=utf-8",
    ".json": "application/json",
    ".jsonl": "application/x-ndjson",
    ".parquet": "application/vnd.apache.parquet",
}


def _utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _rfc3339(value: datetime) -> str:
    return value.isoformat(timespec="milliseconds") + "Z"


def read_script(events_path: Path) -> list[dict]:
    """The scripted events, each with an integer sequence (given ones kept, missing or unreadable ones
    numbered on from the one before). BadRequest naming the line for one that cannot be read."""
    try:
        raw = Path(events_path).read_bytes()
    except OSError as exc:
        raise PlannerError(f"cannot read the event script {events_path}: {exc.strerror or exc}") from None
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]  # saved "with BOM"
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        number = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - raw.rfind(b"\n", 0, exc.start)
        raise BadRequest(
            f"{events_path}, line {number}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at "
            f"column {column}); save the script as UTF-8"
        ) from None
    events: list[dict] = []
    last = 0
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            event = json.loads(line)
        except ValueError as exc:
            raise BadRequest(f"{events_path}, line {number}: not valid JSON ({exc})") from None
        except RecursionError:
            raise BadRequest(
                f"{events_path}, line {number}: nested too deeply to read (JSON nested beyond what Python can decode)"
            ) from None
        if not isinstance(event, dict):
            raise BadRequest(f"{events_path}, line {number}: not a JSON object")
        sequence = _script_sequence(event.get("sequence"))
        # The server is the feed's sequencer, by number: a missing, unreadable or non-integer one is renumbered.
        if sequence is None:
            last += 1
            event = {**event, "sequence": last}
        else:
            last = max(last, sequence)
        events.append(event)
    return events


def _script_sequence(value: Any) -> int | None:
    """A scripted event's sequence as the number the server pages by; None when it is not an integer."""
    if value is None:
        return None
    try:
        return integer_sequence(parse_sequence(value))
    except ValueError:
        return None


def release_offsets(events: list[dict], speed: float) -> list[float]:
    """Seconds after the start at which each event is released: its time offset from the first event
    divided by speed, never before the event scripted ahead of it (so what is released is always a
    prefix of the script). Events without a readable time go with the one before them."""
    offsets: list[float] = []
    first: datetime | None = None
    current = 0.0
    for event in events:
        try:
            when = parse_event_time(event.get("time"))
        except ValueError:
            when = None
        if when is not None:
            if first is None:
                first = when
            offset = (when - first).total_seconds() / speed
            current = max(current, offset)
        offsets.append(current)
    return offsets


class FeedServer:
    def __init__(
        self,
        snapshot_dir: Path | None,
        events_path: Path,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        speed: float = 1.0,
        restamp: bool = False,
        page_size: int = 100,
        max_page_size: int = 1000,
        clock: Callable[[], float] = time.monotonic,
        utc_clock: Callable[[], datetime] = _utc_now,
    ):
        if not isinstance(speed, (int, float)) or not math.isfinite(speed) or speed <= 0:
            # nan would pass a "<= 0" check and make every release time nan (nothing ever released).
            raise BadRequest(f"--speed must be a finite number above 0 (60 plays an hour in a minute), got {speed}")
        if page_size < 1 or max_page_size < page_size:
            raise BadRequest("page size must be at least 1 and at most the maximum page size")
        if snapshot_dir is not None and not Path(snapshot_dir).is_dir():
            raise BadRequest(f"no snapshot folder at {snapshot_dir}")
        self.snapshot_dir = Path(snapshot_dir) if snapshot_dir is not None else None
        self.events_path = Path(events_path)
        self.host = host
        self.port = port
        self.speed = speed
        self.restamp = restamp
        self.page_size = page_size
        self.max_page_size = max_page_size
        self.clock = clock
        self.utc_clock = utc_clock
        self.events = read_script(self.events_path)
        self.offsets = release_offsets(self.events, speed)
        self._sequences = [_script_sequence(e["sequence"]) or 0 for e in self.events]
        self._by_sequence = sorted(range(len(self.events)), key=lambda i: (self._sequences[i], i))
        # The usual script is in sequence order; then a page is a bisect, not a scan.
        self._ordered = all(a < b for a, b in zip(self._sequences, self._sequences[1:]))
        self._served: list[dict | None] = [None] * len(self.events)
        self._started: float | None = None
        self._started_utc: datetime | None = None
        self._httpd: _TrackingServer | None = None
        self._thread: threading.Thread | None = None
        self._stopped = threading.Event()

    # the schedule --------------------------------------------------------------------------------

    def begin(self) -> None:
        """Start the release clock (start() does it; tests with an injected clock may call it alone)."""
        if self._started is None:
            self._started = self.clock()
            self._started_utc = self.utc_clock()

    def released_count(self) -> int:
        if self._started is None:
            return 0
        return bisect.bisect_right(self.offsets, self.clock() - self._started)

    def release_time(self, index: int) -> datetime:
        """When event `index` is (or was) released, UTC."""
        assert self._started_utc is not None
        return self._started_utc + timedelta(seconds=self.offsets[index])

    def served_event(self, index: int) -> dict:
        event = self._served[index]
        if event is None:
            event = dict(self.events[index])
            if self.restamp:
                # The demo wants real lag: the event happens when it is released; the script's own
                # time stays visible for whoever wants it.
                event["scriptedtime"] = event.get("time")
                event["time"] = _rfc3339(self.release_time(index))
            self._served[index] = event
        return event

    def page(self, after: int | None, limit: int | None = None) -> list[dict]:
        """The released events with a sequence above `after`, oldest first, at most `limit`."""
        limit = self.page_size if limit is None else limit
        released = self.released_count()
        if self._ordered:
            start = 0 if after is None else bisect.bisect_right(self._sequences, after, 0, released)
            return [self.served_event(i) for i in range(start, min(released, start + limit))]
        chosen = [i for i in self._by_sequence if i < released and (after is None or self._sequences[i] > after)]
        return [self.served_event(i) for i in chosen[:limit]]

    # HTTP ----------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("the feed server is not started")
        host = "127.0.0.1" if self.host in ("", "0.0.0.0") else self.host
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    @property
    def feed_url(self) -> str:
        return f"{self.url}/events"

    @property
    def snapshot_url(self) -> str:
        return f"{self.url}/snapshot"

    def start(self) -> FeedServer:
        if self._httpd is not None:
            return self
        handler = _make_handler(self)
        server_class: type[_TrackingServer] = type("_Server", (_TrackingServer,), {})
        if ":" in self.host:
            server_class.address_family = socket.AF_INET6
        try:
            self._httpd = server_class((self.host, self.port), handler)
        except OSError as exc:
            raise PlannerError(f"cannot listen on {self.host}:{self.port}: {exc.strerror or exc}") from None
        self.port = self._httpd.server_address[1]
        self.begin()
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1}, name="feed-server", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.server_close()
        self._httpd.close_connections()  # a stopped server must look dead, even on kept-alive connections
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None
        self._thread = None
        self._stopped.set()

    def serve_forever(self) -> None:
        """Serve until Ctrl-C (or stop() from another thread)."""
        self.start()
        try:
            while not self._stopped.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    def __enter__(self) -> FeedServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class _TrackingServer(ThreadingHTTPServer):
    """Remembers open connections so stop() can cut them (HTTP/1.1 keeps them alive otherwise)."""

    daemon_threads = True
    # http.server listens with a backlog of 5: a burst of clients (a demo room, a load test) overflows
    # it and the kernel drops connections, which then wait out SYN retries of 1, 3, 7... seconds.
    request_queue_size = 1024

    def __init__(self, *args: Any, **kwargs: Any):
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(*args, **kwargs)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # socketserver prints a traceback to stderr; one line says the same to whoever runs the demo.
        error = sys.exc_info()[1]
        if isinstance(error, (ConnectionError, TimeoutError)):
            return  # a client that went away
        print(f"feed server: could not answer {client_address[0]}: {type(error).__name__}: {error}", file=sys.stderr)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections, self._connections = list(self._connections), set()
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            connection.close()


def _page_body(events: list[dict]) -> bytes:
    try:
        return json.dumps(events, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        # A script holding a lone surrogate ("\ud800"): serve it as the JSON escape it was written as,
        # so the client sees the event (and rejects it) rather than a dropped connection.
        return json.dumps(events).encode()


def _make_handler(server: FeedServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "planner-tui-feed/1"
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet by default
            pass

        def _send(self, status: int, body: bytes, content_type: str, headers: dict | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            if body and self.command != "HEAD":
                self.wfile.write(body)

        def _json(self, status: int, obj: Any, content_type: str = "application/json") -> None:
            self._send(status, json.dumps(obj).encode(), content_type)

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            parts = urlsplit(self.path)
            path = unquote(parts.path).rstrip("/") or "/"
            query = parse_qs(parts.query)
            try:
                if path == "/events":
                    self._events(query)
                elif path == "/healthz":
                    self._json(200, {"status": "ok", "events": len(server.events), "released": server.released_count()})
                elif path == "/snapshot":
                    self._listing()
                elif path.startswith("/snapshot/"):
                    self._file(path[len("/snapshot/") :])
                elif path == "/":
                    self._json(
                        200, {"events": "/events?after=N&limit=M", "snapshot": "/snapshot/<file>", "health": "/healthz"}
                    )
                else:
                    self._json(404, {"error": f"no such path {path}"})
            except (BrokenPipeError, ConnectionResetError):
                pass

        do_HEAD = do_GET

        def _number(self, query: dict, name: str) -> int | None:
            values = query.get(name)
            if not values:
                return None
            text = values[-1].strip()
            if not text.isdigit():
                raise ValueError(f"{name} must be a non-negative integer, got {text!r}")
            return int(text)

        def _events(self, query: dict) -> None:
            try:
                after = self._number(query, "after")
                limit = self._number(query, "limit")
            except ValueError as exc:
                self._json(400, {"error": str(exc)})
                return
            if limit is not None:
                limit = max(1, min(limit, server.max_page_size))
            body = _page_body(server.page(after, limit))
            etag = '"' + hashlib.sha1(body).hexdigest()[:20] + '"'
            headers = {"ETag": etag, "Cache-Control": "no-cache"}
            if etag in [t.strip() for t in self.headers.get("If-None-Match", "").split(",")]:
                self.send_response(304)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self._send(200, body, BATCH_CONTENT_TYPE, headers)

        def _listing(self) -> None:
            if server.snapshot_dir is None:
                self._json(404, {"error": "this feed server serves no snapshot"})
                return
            names = sorted(p.name for p in server.snapshot_dir.iterdir() if p.is_file())
            self._json(200, {"files": names})

        def _file(self, name: str) -> None:
            if server.snapshot_dir is None or not _SAFE_NAME.match(name):
                self._json(404, {"error": f"no such file {name}"})
                return
            file = server.snapshot_dir / name
            if not file.is_file():
                self._json(404, {"error": f"no such file {name}"})
                return
            content_type = _CONTENT_TYPES.get(file.suffix.lower()) or (
                mimetypes.guess_type(name)[0] or "application/octet-stream"
            )
            self._send(200, file.read_bytes(), content_type)

    return Handler
