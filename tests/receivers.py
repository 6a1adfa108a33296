"""Real notification receivers on loopback for tests, no mocks: an SMTP server and an HTTP webhook.

    with SmtpReceiver() as mail, WebhookReceiver() as hook:
        url = mail.url("tomasz.nowak@plant.example")      # an Apprise mailto:// URL: plain SMTP, no TLS, no login
        hook_url = hook.url("/tomasz")                     # an Apprise json:// URL
        ...
        mail.wait(lambda got: len(got) >= 1)               # the messages received so far, once the test holds
        hook.down(); ...; hook.up()                        # an outage: the port refuses connections meanwhile

`SmtpReceiver` is aiosmtpd's `Controller` on 127.0.0.1 at a free port; every message it accepts is kept
parsed (`email.message.Message`). `WebhookReceiver` is a threaded HTTP server on 127.0.0.1 keeping every
request's path, headers and JSON body; it answers 200, or `status` when a test sets it (503: the receiver
refuses), and `hold` (a `threading.Event`) keeps it from answering until set, after recording the request
(a sender killed while it waits for the answer). `by_key()` is the receiver-side dedupe a real consumer of
`Idempotency-Key` keeps: each key once, however often it came.
"""

from __future__ import annotations

import email
import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar
from urllib.parse import quote

from aiosmtpd.controller import Controller

T = TypeVar("T")
WAIT_SECONDS = 30.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(look: Callable[[], T], until: Callable[[T], bool], timeout: float, what: str) -> T:
    deadline = time.monotonic() + timeout
    while True:
        seen = look()
        if until(seen):
            return seen
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: still not there after {timeout:.0f} s; got {seen!r}")
        time.sleep(0.05)


# ------------------------------------------------------------------------------------------ SMTP


class _Keep:
    def __init__(self, receiver: SmtpReceiver) -> None:
        self.receiver = receiver

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's hook name
        content = envelope.original_content or envelope.content
        message = email.message_from_bytes(content if isinstance(content, bytes) else content.encode())
        with self.receiver.lock:
            self.receiver.messages.append(message)
            self.receiver.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 Message accepted for delivery"


class SmtpReceiver:
    """An SMTP server on loopback keeping every message it accepts (see the module docstring)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.messages: list[Message] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.lock = threading.Lock()
        self.controller: Controller | None = None

    def url(self, to: str, *, sender: str = "planner@plant.example") -> str:
        """The Apprise URL that mails `to` through this server: plain SMTP (`mode=insecure`), no login."""
        return f"mailto://127.0.0.1:{self.port}?mode=insecure&from={quote(sender)}&to={quote(to)}"

    def got(self) -> list[Message]:
        with self.lock:
            return list(self.messages)

    def to(self, address: str) -> list[Message]:
        """The messages addressed to `address`."""
        return [m for m in self.got() if address in str(m.get("To", ""))]

    def wait(self, until: Callable[[list[Message]], bool], timeout: float = WAIT_SECONDS) -> list[Message]:
        return _wait(self.got, until, timeout, "SMTP receiver")

    def start(self) -> SmtpReceiver:
        """Listen (again) on the receiver's port."""
        self.controller = Controller(_Keep(self), hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self

    def stop(self) -> None:
        """Stop listening: connections are refused until `start()`."""
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def __enter__(self) -> SmtpReceiver:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()


def text_of(message: Message) -> str:
    """A message's text: its text/plain part (or the first part), decoded."""
    part = message
    if message.is_multipart():
        parts = [p for p in message.walk() if not p.is_multipart()]
        part = next((p for p in parts if p.get_content_type() == "text/plain"), parts[0])
    payload = part.get_payload(decode=True)
    if isinstance(payload, bytes):
        return payload.decode(part.get_content_charset() or "utf-8", errors="replace")
    return str(part.get_payload())


def subject_of(message: Message) -> str:
    return str(email.header.make_header(email.header.decode_header(str(message.get("Subject", "")))))


# ------------------------------------------------------------------------------------------ the webhook


@dataclass(frozen=True)
class Request:
    path: str
    headers: dict[str, str]
    body: Any  # the JSON body (None when it was not JSON)
    at: float  # time.time() when it arrived

    @property
    def key(self) -> str | None:
        return self.headers.get("idempotency-key")


@dataclass
class WebhookReceiver:
    """An HTTP server on loopback keeping every request (see the module docstring)."""

    port: int = field(default_factory=free_port)
    status: int = 200
    hold: threading.Event | None = None
    requests: list[Request] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    def url(self, path: str = "/hook") -> str:
        return f"json://127.0.0.1:{self.port}{path}"

    def up(self) -> WebhookReceiver:
        """Listen (again) on the receiver's port."""
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's hook name
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = None
                request = Request(self.path, {k.lower(): v for k, v in self.headers.items()}, body, time.time())
                with receiver.lock:
                    receiver.requests.append(request)
                    hold, status = receiver.hold, receiver.status
                if hold is not None:
                    hold.wait(WAIT_SECONDS)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        deadline = time.monotonic() + 10
        while True:
            try:
                self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
                break
            except OSError:  # the port still lingers from the last time it was up
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="webhook receiver", daemon=True)
        self._thread.start()
        return self

    def down(self) -> None:
        """Stop listening: connections to the port are refused until `up()`."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None

    def got(self, path: str | None = None) -> list[Request]:
        with self.lock:
            return [r for r in self.requests if path is None or r.path == path]

    def by_key(self, path: str | None = None) -> dict[str | None, Request]:
        """Each Idempotency-Key once (the first request that carried it): what a consumer acts on."""
        seen: dict[str | None, Request] = {}
        for request in self.got(path):
            seen.setdefault(request.key, request)
        return seen

    def wait(
        self, until: Callable[[list[Request]], bool], path: str | None = None, timeout: float = WAIT_SECONDS
    ) -> list[Request]:
        return _wait(lambda: self.got(path), until, timeout, f"webhook receiver {path or ''}")

    def __enter__(self) -> WebhookReceiver:
        return self.up()

    def __exit__(self, *_: object) -> None:
        if self.hold is not None:
            self.hold.set()
        self.down()
