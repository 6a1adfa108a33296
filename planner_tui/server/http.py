"""The plant server's HTTP API (Starlette): /api/v1, one endpoint per PlantData method (access/api.py),
plus the live stream, loads, users and who-am-I. docs/api.md lists them (generated from here and the
protocol, and checked by tests/test_api_doc.py).

Every request is identified before anything else: on the Unix socket by the kernel's peer credentials
(`scope["state"]["peer_uid"]`, set by server/listen.py), on TCP by its bearer token. Nothing the client
sends can change who it is. An error is JSON `{"error", "kind", "exit_code"}` with the HTTP status of its
kind, so a client raises the same PlannerError (and exits with the same status) as in-process.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import tarfile
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from planner_tui.access import PlantUnavailable
from planner_tui.access.api import PREFIX, Endpoint, arguments, endpoints
from planner_tui.errors import (
    BadRequest,
    CycleError,
    NotAllowed,
    NotAuthenticated,
    NotFound,
    PlannerError,
    SnapshotError,
    StoreLocked,
)
from planner_tui.server.core import Identity, PlantServer
from planner_tui.wire import to_json

log = logging.getLogger(__name__)

MAX_JSON_BODY = 1 << 20  # a triage note is 2,000 characters: a megabyte is generous
STREAM_PING_SECONDS = 15.0  # a comment line now and then: proxies and dead peers are noticed
STATUS_OF: dict[type[PlannerError], int] = {
    BadRequest: 400,
    NotAuthenticated: 401,
    NotAllowed: 403,
    NotFound: 404,
    StoreLocked: 409,
    CycleError: 422,
    SnapshotError: 422,
    PlantUnavailable: 503,
}
JSON = "application/json"


def error_response(error: PlannerError) -> Response:
    status = next((code for kind, code in STATUS_OF.items() if isinstance(error, kind)), 500)
    body = {"error": str(error), "kind": type(error).__name__, "exit_code": error.exit_code}
    headers = {"WWW-Authenticate": 'Bearer realm="planner-tui"'} if status == 401 else None
    return Response(to_json(body), status_code=status, media_type=JSON, headers=headers)


def _json(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(to_json(obj), status_code=status, media_type=JSON, headers=headers)


Handler = Callable[[Request, Identity], Awaitable[Response]]


def build_app(server: PlantServer, *, max_upload_bytes: int) -> Starlette:
    """The ASGI app over a PlantServer."""

    def identify(request: Request) -> Identity:
        uid = getattr(request.state, "peer_uid", None)
        if uid is not None:  # the Unix socket: the kernel said who
            return server.identify_local(int(uid))
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise NotAuthenticated(
                "the plant server needs a token on TCP: set PLANNER_TUI_TOKEN (or `token` in the settings) "
                "to the one `planner-tui users add` printed"
            )
        who = server.identify_token(token.strip())
        if who is None:
            raise NotAuthenticated("unknown or revoked token: ask an admin for a new one (`planner-tui users add`)")
        return who

    def guarded(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            try:
                who = await run_in_threadpool(identify, request)
                return await handler(request, who)
            except PlannerError as error:
                return error_response(error)
            except ClientDisconnect:  # the client went away mid-request: nothing was done, nobody to tell
                log.info("%s %s: the client went away before its request was whole", request.method, request.url.path)
                return Response(status_code=400)
            except Exception:
                log.exception("%s %s failed", request.method, request.url.path)
                return error_response(PlannerError("the plant server failed to answer (see its log)"))

        return endpoint

    async def json_body(request: Request) -> dict[str, Any]:
        raw = await _read_capped(request, MAX_JSON_BODY)
        if not raw.strip():
            return {}
        try:
            body = json.loads(raw)
        except ValueError:
            raise BadRequest("the request body is not JSON") from None
        if not isinstance(body, dict):
            raise BadRequest("the request body must be a JSON object")
        return body

    def question(endpoint: Endpoint) -> Handler:
        async def handle(request: Request, who: Identity) -> Response:
            who.require("read", "read the plant")
            given = {key: request.query_params.getlist(key) for key in request.query_params}
            path_value = request.path_params.get(endpoint.path_param.name) if endpoint.path_param else None
            kwargs = arguments(endpoint, {k: v if len(v) > 1 else v[0] for k, v in given.items()})
            answer = await run_in_threadpool(server.answer, endpoint, path_value, kwargs)
            headers = {"ETag": answer.etag, "X-Plant-Version": str(answer.version), "Cache-Control": "no-cache"}
            if request.headers.get("if-none-match") == answer.etag:
                return Response(status_code=304, headers=headers)
            return Response(answer.body, media_type=JSON, headers=headers)

        return handle

    def action(endpoint: Endpoint) -> Handler:
        async def handle(request: Request, who: Identity) -> Response:
            who.require("triage", "triage exceptions")  # before reading the body: a viewer gets 403
            body = await json_body(request)
            given = {k: v if isinstance(v, list) else str(v) for k, v in body.items() if v is not None}
            kwargs = arguments(endpoint, given)
            exception_id = request.path_params[endpoint.path_param.name] if endpoint.path_param else ""
            record = await run_in_threadpool(server.triage, who, endpoint, exception_id, kwargs)
            return _json(record, headers={"X-Plant-Version": str(record.pop("version"))})

        return handle

    async def whoami(request: Request, who: Identity) -> Response:
        return _json(who.to_dict())

    async def version(request: Request, who: Identity) -> Response:
        return _json(
            {
                "version": server.version,
                "boot": server.boot,
                "started_at": server.started_at,
                "pid": os.getpid(),
                "feeds": server.feed_states(),
                "listeners": server.hub.listeners,
            }
        )

    async def stream(request: Request, who: Identity) -> Response:
        who.require("read", "read the plant")
        queue = server.hub.subscribe()

        async def events() -> AsyncIterator[str]:
            revocations = server.revocations
            try:
                yield _sse("hello", server.hello())
                while True:
                    try:
                        change = await asyncio.wait_for(queue.get(), STREAM_PING_SECONDS)
                    except TimeoutError:
                        change = {}
                    if change is None:  # the server is stopping, or this stream fell behind
                        return
                    if who.via == "token" and server.revocations != revocations:  # is its token still good?
                        revocations = server.revocations
                        try:
                            await run_in_threadpool(identify, request)
                        except PlannerError:
                            return  # revoked: not one more word (its next request is a 401)
                    yield _sse("change", change) if change else ": ping\n\n"
            finally:
                server.hub.unsubscribe(queue)

        return StreamingResponse(
            events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        )

    async def load(request: Request, who: Identity) -> Response:
        who.require("load", "load snapshots")
        shown_as = request.headers.get("x-snapshot-source") or None
        if request.headers.get("content-type", "").startswith(JSON):
            body = await json_body(request)
            source = str(body.get("source") or "")
            if not source.startswith(("http://", "https://")):
                raise BadRequest("a snapshot is sent as a tar archive of its folder, or named by an http(s) URL")
            report = await run_in_threadpool(server.load, who, source)
            return _json(report)
        folder = tempfile.mkdtemp(prefix="planner-tui-upload-")
        try:
            archive = os.path.join(folder, "snapshot.tar")
            await _save_capped(request, archive, max_upload_bytes)
            snapshot = os.path.join(folder, "snapshot")
            await run_in_threadpool(_unpack, archive, snapshot)
            report = await run_in_threadpool(server.load, who, snapshot, shown_as=shown_as)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return _json(report)

    async def users(request: Request, who: Identity) -> Response:
        if request.method == "GET":
            return _json(await run_in_threadpool(server.list_users, who))
        body = await json_body(request)
        made = await run_in_threadpool(server.add_user, who, str(body.get("name") or ""), str(body.get("role") or ""))
        return _json(made, status=201)

    async def revoke(request: Request, who: Identity) -> Response:
        return _json(await run_in_threadpool(server.revoke_user, who, request.path_params["name"]))

    routes = [
        Route(f"{PREFIX}/whoami", guarded(whoami)),
        Route(f"{PREFIX}/version", guarded(version)),
        Route(f"{PREFIX}/stream", guarded(stream)),
        Route(f"{PREFIX}/load", guarded(load), methods=["POST"]),
        Route(f"{PREFIX}/users", guarded(users), methods=["GET", "POST"]),
        Route(f"{PREFIX}/users/{{name}}/revoke", guarded(revoke), methods=["POST"]),
    ]
    for endpoint in endpoints().values():
        handler = action(endpoint) if endpoint.verb == "POST" else question(endpoint)
        routes.append(Route(endpoint.path, guarded(handler), methods=[endpoint.verb]))

    async def not_found(request: Request, exc: Exception) -> Response:
        return error_response(NotFound(f"no such endpoint {request.method} {request.url.path} (see docs/api.md)"))

    async def not_allowed(request: Request, exc: Exception) -> Response:
        return error_response(BadRequest(f"{request.url.path} does not take {request.method}"))

    return Starlette(routes=routes, exception_handlers={404: not_found, 405: not_allowed})


def _sse(event: str, data: dict) -> str:
    return f"event: {event}\ndata: {to_json(data, indent=None)}\n\n"


async def _read_capped(request: Request, cap: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > cap:
        raise BadRequest(f"the request body is {int(declared):,} bytes: the limit is {cap:,}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > cap:
            raise BadRequest(f"the request body is over {cap:,} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def _save_capped(request: Request, path: str, cap: int) -> None:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > cap:
        raise BadRequest(f"the snapshot is {int(declared):,} bytes: the server takes at most {cap:,}")
    size = 0
    with open(path, "wb") as out:
        async for chunk in request.stream():
            size += len(chunk)
            if size > cap:
                raise BadRequest(f"the snapshot is over {cap:,} bytes: the server takes at most that")
            out.write(chunk)
    if not size:
        raise BadRequest("the snapshot upload is empty")


def _unpack(archive: str, into: str) -> None:
    """A snapshot folder from its tar archive: regular files and folders only, nothing outside `into`."""
    os.mkdir(into)
    try:
        with tarfile.open(archive, "r:*") as tar:
            tar.extractall(into, filter="data")
    except (tarfile.TarError, OSError, ValueError) as error:
        raise BadRequest(f"the snapshot upload is not a readable tar archive: {error}") from None
