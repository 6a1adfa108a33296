"""Running the plant server: its sockets, uvicorn, signals, and the note beside the database.

- Unix socket (the default, `<db>.sock`): mode 0660, group `--group` if given; every connection's OS user
  comes from the kernel (SO_PEERCRED), read when the connection is made and put in the request's state.
- TCP: plain HTTP on loopback only; any other address needs TLS (`--tls-cert`, `--tls-key`).
- A request whose head has not arrived whole within `HEADER_SECONDS` of the connection (or, on a kept-alive
  connection, of its first byte) is cut off: a client trickling bytes cannot hold a slot
  (PLANNER_TUI_HEADER_SECONDS overrides the 10 s, for tests). At most `MAX_CONNECTIONS` at once (beyond:
  503); bodies are capped by the app. SIGTERM or SIGINT: stop accepting, end the live streams, finish the
  requests under way, stop following the feeds, checkpoint and close the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import grp
import ipaddress
import json
import logging
import os
import signal
import socket
import struct
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from planner_tui.access.address import Address, parse_address
from planner_tui.errors import PlannerError
from planner_tui.server.core import PlantServer
from planner_tui.server.http import build_app
from planner_tui.store.db import server_note

log = logging.getLogger(__name__)


def _header_seconds(default: float = 10.0) -> float:
    try:
        return max(0.1, float(os.environ.get("PLANNER_TUI_HEADER_SECONDS") or default))
    except ValueError:
        return default


HEADER_SECONDS = _header_seconds()
MAX_CONNECTIONS = 1000
KEEP_ALIVE_SECONDS = 30
GRACEFUL_SECONDS = 10
_PEERCRED = struct.Struct("3i")  # struct ucred: pid, uid, gid


class PlantProtocol(H11Protocol):
    """uvicorn's HTTP/1.1 protocol, plus who is on the other end of a Unix socket and a deadline for each
    request's head: from the connection for the first, from its first byte for the next ones on a kept-alive
    connection (an idle kept-alive connection is left to uvicorn's keep-alive timeout)."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family == socket.AF_UNIX:
            pid, uid, gid = _PEERCRED.unpack(sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _PEERCRED.size))
            # The request's `state` is a copy of this per request: the peer rides along with each.
            self.app_state = {**self.app_state, "peer_uid": uid, "peer_pid": pid}
        self._deadline_after: object = None  # the request before the one the deadline waits for
        self._deadline = asyncio.get_running_loop().call_later(HEADER_SECONDS, self._too_slow, None)

    def data_received(self, data: bytes) -> None:
        cycle = self.cycle
        if cycle is not None and cycle.response_complete and self._deadline_after is not cycle:
            self._deadline.cancel()  # the first byte of another request on this connection
            self._deadline_after = cycle
            self._deadline = asyncio.get_running_loop().call_later(HEADER_SECONDS, self._too_slow, cycle)
        super().data_received(data)

    def _too_slow(self, before: object) -> None:
        if self.cycle is before and not self.transport.is_closing():
            log.info("closing a connection that sent no whole request in %g s", HEADER_SECONDS)
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self._deadline.cancel()
        super().connection_lost(exc)


class _Listener(uvicorn.Server):
    """A uvicorn server that leaves signals to `serve()` (several listeners share one process)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _unix_socket(address: Address, group: str | None) -> socket.socket:
    path = Path(str(address.path))
    if path.exists() or path.is_symlink():
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(str(path))
        except OSError:
            path.unlink()  # a socket left by a server that was killed: nobody answers on it
        else:
            raise PlannerError(f"{path}: another plant server is already listening there")
        finally:
            probe.close()
    if not path.parent.is_dir():
        raise PlannerError(f"cannot listen on {address}: the folder {path.parent} does not exist")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old_umask = os.umask(0o117)  # created 0660: no moment where anyone else could connect
    try:
        sock.bind(str(path))
    except OSError as error:
        sock.close()
        raise PlannerError(f"cannot listen on {address}: {error.strerror or error}") from None
    finally:
        os.umask(old_umask)
    if group is not None:
        try:
            os.chown(path, -1, grp.getgrnam(group).gr_gid)
        except KeyError:
            sock.close()
            path.unlink(missing_ok=True)
            raise PlannerError(f"--group {group}: no such group") from None
        except OSError as error:
            sock.close()
            path.unlink(missing_ok=True)
            raise PlannerError(f"--group {group}: cannot give the socket to it: {error.strerror}") from None
    os.chmod(path, 0o660)
    sock.listen(2048)
    return sock


def _tcp_socket(address: Address) -> socket.socket:
    host = str(address.host)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP named, not 0: asyncio turns Nagle off (TCP_NODELAY) only on sockets whose proto says TCP,
    # and without that every answer written in two parts (head, body) waits ~40 ms for the client's delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, int(address.port or 0)))
    except OSError as error:
        sock.close()
        raise PlannerError(f"cannot listen on {address}: {error.strerror or error}") from None
    sock.listen(2048)
    return sock


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def plan_listeners(listen: Sequence[str], db: Path, tls: bool) -> list[Address]:
    """The addresses to listen on, checked: default the Unix socket beside the database."""
    addresses = [parse_address(text, what="--listen") for text in listen] or [parse_address(f"unix:{db}.sock")]
    checked = []
    for address in addresses:
        if address.kind == "tcp":
            address = Address("tcp", host=address.host, port=address.port, tls=tls)
            if not tls and not _is_loopback(str(address.host)):
                raise PlannerError(
                    f"--listen {address}: plain TCP is for loopback only; give --tls-cert and --tls-key to "
                    "listen on another address"
                )
        checked.append(address)
    return checked


def listening_address(address: Address, sock: socket.socket) -> str:
    """What a client gives --server (the port filled in when 0 was asked)."""
    if address.kind == "unix":
        return str(address)
    host, port = sock.getsockname()[:2]
    return str(Address("tcp", host=address.host, port=port, tls=address.tls))


def serve(
    server: PlantServer,
    *,
    db: Path,
    listen: Sequence[str] = (),
    group: str | None = None,
    tls_cert: Path | None = None,
    tls_key: Path | None = None,
    max_upload_bytes: int,
    ready: Any = None,
) -> None:
    """Listen, answer and follow the feeds until SIGTERM or SIGINT. `ready(addresses)` is called once
    the sockets listen (the CLI prints them)."""
    if (tls_cert is None) != (tls_key is None):
        raise PlannerError("give both --tls-cert and --tls-key (or neither)")
    addresses = plan_listeners(listen, db, tls_cert is not None)
    sockets: list[tuple[Address, socket.socket]] = []
    try:
        for address in addresses:
            sockets.append((address, _unix_socket(address, group) if address.kind == "unix" else _tcp_socket(address)))
        shown = [listening_address(address, sock) for address, sock in sockets]
        asyncio.run(_serve(server, sockets, tls_cert, tls_key, max_upload_bytes, db, shown, ready))
    finally:
        for address, sock in sockets:
            sock.close()
            if address.kind == "unix":
                Path(str(address.path)).unlink(missing_ok=True)


async def _serve(
    server: PlantServer,
    sockets: list[tuple[Address, socket.socket]],
    tls_cert: Path | None,
    tls_key: Path | None,
    max_upload_bytes: int,
    db: Path,
    shown: list[str],
    ready: Any,
) -> None:
    app = build_app(server, max_upload_bytes=max_upload_bytes)

    def config(tls: bool) -> uvicorn.Config:
        return uvicorn.Config(
            app,
            http=PlantProtocol,
            lifespan="off",
            log_config=None,  # our logging: one format on stderr
            access_log=False,
            limit_concurrency=MAX_CONNECTIONS,
            timeout_keep_alive=KEEP_ALIVE_SECONDS,
            timeout_graceful_shutdown=GRACEFUL_SECONDS,
            ssl_certfile=str(tls_cert) if tls and tls_cert else None,
            ssl_keyfile=str(tls_key) if tls and tls_key else None,
        )

    listeners = [_Listener(config(address.kind == "tcp" and address.tls)) for address, _ in sockets]

    loop = asyncio.get_running_loop()

    def stop(signum: int) -> None:
        log.info("%s: stopping (requests under way finish; nothing accepted is lost)", signal.Signals(signum).name)
        server.hub.close()  # the live streams end, so the graceful shutdown does not wait on them
        for listener in listeners:
            listener.should_exit = True

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop, signum)
    server.addresses = list(shown)  # what a message tells people to run (`planner-tui run --server ...`)
    server.start()
    note = server_note(db)
    tasks = [asyncio.create_task(listener.serve(sockets=[sock])) for listener, (_, sock) in zip(listeners, sockets)]
    try:
        while not all(listener.started for listener in listeners):
            if any(task.done() for task in tasks):
                break
            await asyncio.sleep(0.02)
        _write_note(note, shown)
        log.info("serving %s on %s (PID %d)", db, ", ".join(shown), os.getpid())
        if ready is not None:
            ready(shown)
        await asyncio.gather(*tasks)
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
        await asyncio.get_running_loop().run_in_executor(None, server.stop)
        with contextlib.suppress(OSError, ValueError):
            if json.loads(note.read_text()).get("pid") == os.getpid():
                note.unlink()
        log.info("stopped; %s closed", db)


def _write_note(note: Path, listen: list[str]) -> None:
    """How a `--db` client is told to connect instead (store/db.py reads it)."""
    import getpass

    body = json.dumps({"pid": os.getpid(), "user": getpass.getuser(), "listen": listen})
    temporary = note.with_name(note.name + f".{os.getpid()}")
    try:
        temporary.write_text(body, encoding="utf-8")
        os.replace(temporary, note)
    except OSError as error:
        log.warning("cannot write %s (a --db client will not be told where to connect): %s", note, error)
