"""The plant server's HTTP API (Starlette): /api/v1, one endpoint per PlantData method (access/api.py),
plus the live stream, loads, users, who-am-I and pushed events. docs/api.md lists them (generated from here
and the protocol, and checked by tests/test_api_doc.py).

`POST /api/v1/events` takes CloudEvents in the three modes of the CloudEvents HTTP binding: binary (the
attributes as `ce-*` headers, the body is `data`), structured (`application/cloudevents+json`, one event)
and batch (`application/cloudevents-batch+json`, an array). The body is decoded here, in a worker thread;
PlantServer.push records the events and commits before the answer is sent. A body that cannot be read as
events (not JSON, a content type no mode takes, too large) is refused whole and nothing is recorded.

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
from urllib.parse import unquote

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
from planner_tui.store.events import BATCH_CONTENT_TYPE, EVENT_CONTENT_TYPE, loads_lenient
from planner_tui.wire import to_json

log = logging.getLogger(__name__)

MAX_JSON_BODY = 1 << 20  # a triage note is 2,000 characters: a megabyte is generous
MAX_EVENT_BODY = 1 << 20  # one pushed event (binary or structured mode): real ones are a few hundred bytes
MAX_BATCH_BODY = 32 << 20  # a pushed batch: ~100,000 real events, some seconds of applying
MAX_BATCH_EVENTS = 100_000  # and no more events than that: 32 MiB of `{}` would be ten million rejections
STREAM_PING_SECONDS = 15.0  # a comment line now and then: proxies and dead peers are noticed


class PayloadTooLarge(BadRequest):
    """The request body is larger than the server takes (HTTP 413): nothing of it was read or recorded."""


class UnsupportedMediaType(BadRequest):
    """The request body's Content-Type is not one the endpoint takes (HTTP 415): nothing was recorded."""


STATUS_OF: dict[type[PlannerError], int] = {
    PayloadTooLarge: 413,  # before BadRequest, their base: the first kind that matches gives the status
    UnsupportedMediaType: 415,
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
        sources = body.get("sources")
        if sources is not None and (not isinstance(sources, list) or not all(isinstance(s, str) for s in sources)):
            raise BadRequest('"sources" is a JSON list of CloudEvents sources (text), or null for any source')
        name, role = str(body.get("name") or ""), str(body.get("role") or "")
        made = await run_in_threadpool(server.add_user, who, name, role, sources)
        return _json(made, status=201)

    async def push(request: Request, who: Identity) -> Response:
        who.require("ingest", "push events (that takes a token of the ingest role)")  # before reading the body
        mode = _push_mode(request.headers)
        cap = MAX_BATCH_BODY if mode == "batch" else MAX_EVENT_BODY
        body = await _read_capped(request, cap, too_large=PayloadTooLarge)
        headers = dict(request.headers.items())
        events = await run_in_threadpool(_decode_events, mode, headers, body)
        answer = await run_in_threadpool(server.push, who, events)
        return _json(answer, headers={"X-Plant-Version": str(answer["version"])})

    async def revoke(request: Request, who: Identity) -> Response:
        return _json(await run_in_threadpool(server.revoke_user, who, request.path_params["name"]))

    routes = [
        Route(f"{PREFIX}/whoami", guarded(whoami)),
        Route(f"{PREFIX}/version", guarded(version)),
        Route(f"{PREFIX}/stream", guarded(stream)),
        Route(f"{PREFIX}/load", guarded(load), methods=["POST"]),
        Route(f"{PREFIX}/users", guarded(users), methods=["GET", "POST"]),
        Route(f"{PREFIX}/users/{{name}}/revoke", guarded(revoke), methods=["POST"]),
        Route(f"{PREFIX}/events", guarded(push), methods=["POST"]),
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


async def _read_capped(request: Request, cap: int, *, too_large: type[BadRequest] = BadRequest) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > cap:
        raise too_large(f"the request body is {int(declared):,} bytes: the limit is {cap:,}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > cap:
            raise too_large(f"the request body is over {cap:,} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


# ------------------------------------------------------------------------------------------ pushed events


def _media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def _is_json(media_type: str) -> bool:
    return media_type in ("application/json", "text/json") or media_type.endswith("+json")


def _push_mode(headers: Any) -> str:
    """Which mode of the CloudEvents HTTP binding a request is in: batch, structured or binary."""
    media_type = _media_type(headers.get("content-type"))
    if media_type == BATCH_CONTENT_TYPE:
        return "batch"
    if media_type == EVENT_CONTENT_TYPE:
        return "structured"
    if "ce-specversion" in headers:
        return "binary"
    raise UnsupportedMediaType(
        f"a pushed event is sent as Content-Type {EVENT_CONTENT_TYPE} (one event), {BATCH_CONTENT_TYPE} (a JSON "
        f"array of events), or in binary mode with ce-specversion, ce-id, ce-source, ce-type and ce-time headers; "
        f"got Content-Type {headers.get('content-type') or 'none'} and no ce-specversion"
    )


def _decode_events(mode: str, headers: dict[str, str], body: bytes) -> list[Any]:
    """The structured-mode events a request carries, as received (PlantServer.push validates each one).
    BadRequest when the body cannot be read at all: nothing of it is recorded."""
    if mode == "binary":
        # The attribute is the header's name after `ce-`; its value is percent-encoded (the binding).
        event: dict[str, Any] = {
            name[3:]: _header_text(value) for name, value in headers.items() if name[3:] and name[:3] == "ce-"
        }
        if body:
            media_type = _media_type(headers.get("content-type"))
            if not _is_json(media_type):
                raise UnsupportedMediaType(
                    f"a binary-mode event's data (the body) must be JSON (Content-Type application/json), "
                    f"got {headers.get('content-type') or 'no Content-Type'}: planner_tui's events carry JSON objects"
                )
            event["datacontenttype"] = headers["content-type"]
            event["data"] = _decode_json(body, "{", "the event's data")
        return [event]
    if mode == "structured":
        found = _decode_json(body, "{", "the event")
        if not isinstance(found, dict):
            raise BadRequest(f"a {EVENT_CONTENT_TYPE} body is one JSON object (a batch is {BATCH_CONTENT_TYPE})")
        return [found]
    found = _decode_json(body, "[{", "the batch")
    if not isinstance(found, list):
        raise BadRequest(f"a {BATCH_CONTENT_TYPE} body is a JSON array of events (one event is {EVENT_CONTENT_TYPE})")
    if len(found) > MAX_BATCH_EVENTS:
        raise PayloadTooLarge(
            f"the batch holds {len(found):,} events: the server takes at most {MAX_BATCH_EVENTS:,} a request "
            "(send them in several)"
        )
    return found


def _header_text(value: str) -> str:
    """A ce-* header's value: percent-decoded (UTF-8), as the binding says it is sent. A producer sending
    raw UTF-8 instead is read as it meant (the ASGI server hands header bytes over as Latin-1)."""
    try:
        value = value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        pass
    return unquote(value)


def _decode_json(body: bytes, descend: str, what: str) -> Any:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise BadRequest(f"{what} is not UTF-8 text ({error.reason} at byte {error.start})") from None
    if not text.strip():
        raise BadRequest(f"{what} is missing: the request body is empty")
    try:
        # Lenient: a member nested too deeply for Python's json becomes a placeholder, and its event is
        # kept as rejected, as a feed's would be, rather than the whole request failing.
        return loads_lenient(text, descend=descend)
    except ValueError as error:
        raise BadRequest(f"{what} is not JSON: {error}") from None


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
