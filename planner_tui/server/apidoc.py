"""docs/api.md, generated: `python -m planner_tui.server.apidoc > docs/api.md` (tests/test_api_doc.py fails when
the file differs from what this prints).

Read off the code, so the page cannot drift from it:

- the plant's endpoints: `access.api.endpoints()` (one per PlantData method: verb, path, arguments and their
  kinds, the right it needs), with the CLI command from the method's docstring (it starts with the command
  in backticks) and the rest of the docstring as what it answers;
- the server's own routes (whoami, version, stream, load, users, events): the Starlette app `server/http.py` builds,
  over a PlantServer on an in-memory store (no socket is opened). What each one takes and answers is
  written here, in `SERVER_ROUTES`: a route the app has and this table does not (or the other way round)
  stops the generation, so a new route in server/http.py must be described here;
- the live stream's changes: every `changed(...)` call in server/core.py (what, and its fields), and the
  hello message `PlantServer.hello()` sends; each must have its description in `STREAM_*` below;
- roles and rights: `roles.RIGHTS`; errors: `server.http.STATUS_OF` and each error's exit status.
"""

from __future__ import annotations

import ast
import inspect
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from planner_tui.access.api import PREFIX, Endpoint, Param, endpoints
from planner_tui.access.remote import RECONNECT_SECONDS
from planner_tui.errors import PlannerError
from planner_tui.roles import DEFAULT_LOCAL_ROLE, RIGHTS
from planner_tui.server import core
from planner_tui.server.core import DEFAULT_LIVE_SECONDS, LIVE_WINDOW, ChangeHub, Identity, PlantServer
from planner_tui.server.http import (
    MAX_BATCH_BODY,
    MAX_BATCH_EVENTS,
    MAX_EVENT_BODY,
    MAX_JSON_BODY,
    STATUS_OF,
    STREAM_PING_SECONDS,
    build_app,
)
from planner_tui.store import Store
from planner_tui.store.events import BATCH_CONTENT_TYPE, EVENT_CONTENT_TYPE
from planner_tui.store.sources import MAX_BYTES_ENV

COMMAND = "python -m planner_tui.server.apidoc > docs/api.md"


# ------------------------------------------------------------------------------------------ hand-written parts
# The server's own routes, beside the PlantData endpoints: keep in step with build_app() in server/http.py.
# (verb, path as the app declares it) -> (who may call it, what it takes, what it answers).


@dataclass(frozen=True)
class RouteDoc:
    right: str  # the right the caller's role needs; "" for any known caller
    takes: str
    answers: str


SERVER_ROUTES: dict[tuple[str, str], RouteDoc] = {
    ("GET", f"{PREFIX}/whoami"): RouteDoc(
        "",
        "nothing",
        "who the server takes the caller for: {user, role, via} (via: `unix`, from the socket's peer "
        "credentials, or `token`), and `sources` for an ingest token held to some. The console asks it first, so "
        "a refused token is said before the screen opens.",
    ),
    ("GET", f"{PREFIX}/version"): RouteDoc(
        "",
        "nothing",
        "{version (the plant version, see [Versions](#versions-etags-and-304)), boot (this run of the server), "
        "started_at, pid, feeds (each followed feed's status, as `feed-status`), listeners (streams open now)}",
    ),
    ("GET", f"{PREFIX}/stream"): RouteDoc(
        "read",
        "nothing",
        "the live stream, `text/event-stream`: see [The live stream](#the-live-stream)",
    ),
    ("POST", f"{PREFIX}/load"): RouteDoc(
        "load",
        "a snapshot folder as a tar archive (any `Content-Type` but JSON; `X-Snapshot-Source` says what to "
        f"record it as), at most `{MAX_BYTES_ENV}` bytes (8 GiB unless set); or JSON "
        '`{"source": "https://..."}`, a URL the server downloads',
        "what `planner-tui load --json` prints; every stream then hears a `load` change",
    ),
    ("GET", f"{PREFIX}/users"): RouteDoc(
        "users",
        "nothing",
        "what `planner-tui users list --json` prints: every user, {name, role, created_at, created_by, "
        "revoked_at, revoked_by, sources} (sources: the list an ingest token is held to, null for any)",
    ),
    ("POST", f"{PREFIX}/users"): RouteDoc(
        "users",
        'JSON `{"name": NAME, "role": ROLE, "sources": [SOURCE, ...]}` (sources: ingest only; left out or '
        "null, any source)",
        "201, the user and its `token`, which the server never shows again (it keeps only a hash): "
        "`planner-tui users add NAME --role ROLE [--source SOURCE ...]`",
    ),
    ("POST", f"{PREFIX}/users/{{name}}/revoke"): RouteDoc(
        "users",
        "nothing",
        "{name, role, revoked_at, revoked_by}; the token stops working at once: `planner-tui users revoke NAME`",
    ),
    ("POST", f"{PREFIX}/events"): RouteDoc(
        "ingest",
        "CloudEvents in a mode of the CloudEvents HTTP binding: binary (`ce-*` headers, the body is `data`, "
        f"JSON), structured (`{EVENT_CONTENT_TYPE}`, one event) or batch (`{BATCH_CONTENT_TYPE}`, an array); "
        f"at most {MAX_EVENT_BODY:,} bytes for one event, {MAX_BATCH_BODY:,} and {MAX_BATCH_EVENTS:,} events for a "
        "batch",
        "once every event is recorded and committed: {feed, applied, duplicates, rejected, unknown, rejections: "
        "[{id, reason}], version}; see [Pushing events](#pushing-events)",
    ),
}

# The fields of the stream's messages. The `what` values and their fields are read from server/core.py.
STREAM_HELLO = {
    "version": "the plant's version now",
    "boot": "this run of the server: a new value means it restarted (versions start again)",
    "what": "`hello`",
    "at": "the server's clock",
    "feeds": "each followed feed's status, as `GET /api/v1/feed-status` gives the first one's",
}
STREAM_COMMON = {
    "version": "the plant's version after this change (one more than the change before)",
    "what": "what changed (below)",
    "at": "the server's clock",
}
STREAM_WHATS = {
    "events": "a feed brought events, or a producer pushed them: recorded (applied or rejected) and committed",
    "feed": "a feed's state changed (live, catching up, stale...) and no event came",
    "triage": "someone triaged an exception",
    "load": "an admin loaded a snapshot",
}
STREAM_FIELDS = {
    "applied": "how many events were applied (0 for `feed`)",
    "feed": "the feed's status as `GET /api/v1/feed-status` gives it, {feed, state, ...}; for a feed that cannot "
    "even be opened {feed, state: stale, last_error}; null when the poll failed outright (see the server's log); "
    "for pushed events the text `push:USER`, the feed they are recorded as",
    "action": "the PlantData triage action: acknowledge, assign, note, snooze, resolve or reopen",
    "exception_id": "the exception acted on",
    "who": "who did it (triaged, loaded, pushed the events), as the server identified them",
    "source": "where the snapshot came from",
    "as_of": "the snapshot's own time (`snapshot.json`), or null",
}
WHOAMI_FIELDS = {"user": "", "role": "", "via": ""}  # checked against Identity.to_dict()

# What every triage action answers (the protocol says it once for all six, above acknowledge).
TRIAGE_ANSWER = (
    "the exception's triage state, as `planner-tui triage ACTION ID --json` prints it: {exception_id, status, "
    "assignee, ...}; NotFound (404) for an exception that is not raised now and was never triaged"
)

KIND_WORDS = {
    "str": "text",
    "int": "a whole number",
    "float": "a number",
    "bool": "`true` or `false` (also `1`/`0`, `yes`/`no`)",
    "datetime": "an ISO 8601 time, naive UTC: `2026-11-25T08:00:00`",
    "datetime_or_str": "an ISO 8601 time, or a duration from now such as `2h`, `30m`, `1d`",
    "list": "a list: the argument repeated (`?item_ids=A&item_ids=B`; a JSON list in a body)",
    "str_or_list": "text, or a list: the argument repeated",
}
ROLE_WORDS = {
    "viewer": "reads the plant",
    "planner": "reads and triages",
    "admin": "reads, triages, loads snapshots and manages users",
    "ingest": "pushes events (`POST /api/v1/events`) and nothing else: a producer's token, which reads nothing "
    "(an admin may not push: a person's token is not a producer's). `users add --source` holds one to its sources",
}


# ------------------------------------------------------------------------------------------ read off the code


def _shown_path(path: str) -> str:
    """`/api/v1/machine/{machine_id:path}` as a reader writes it: `/api/v1/machine/{machine_id}`."""
    return re.sub(r"\{(\w+):\w+\}", r"{\1}", path)


def server_routes() -> list[tuple[str, str]]:
    """(verb, path) of every route of the server's app that is not a PlantData endpoint, in its order."""
    server = PlantServer(Store.memory())
    try:
        app = build_app(server, max_upload_bytes=1)
        plant_paths = {endpoint.path for endpoint in endpoints().values()}
        found = []
        for route in app.routes:
            path = getattr(route, "path", None)
            if path is None or path in plant_paths:
                continue
            for verb in ("GET", "POST", "PUT", "PATCH", "DELETE"):
                if verb in (getattr(route, "methods", None) or ()):
                    found.append((verb, path))
        return found
    finally:
        server.stop()


def hello_fields() -> list[str]:
    server = PlantServer(Store.memory())
    try:
        return list(server.hello())
    finally:
        server.stop()


def _constants(node: ast.expr) -> list[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.IfExp):
        return _constants(node.body) + _constants(node.orelse)
    raise RuntimeError(f"server/core.py line {node.lineno}: changed() names what changed in a way apidoc cannot read")


def stream_changes() -> dict[str, list[str]]:
    """what -> its fields, from every `....changed(what, field=...)` call in server/core.py, in source order."""
    calls = [
        node
        for node in ast.walk(ast.parse(inspect.getsource(core)))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "changed"
        and node.args
    ]
    found: dict[str, list[str]] = {}
    for call in sorted(calls, key=lambda node: node.lineno):
        for what in _constants(call.args[0]):
            fields = found.setdefault(what, [])
            fields += [kw.arg for kw in call.keywords if kw.arg is not None and kw.arg not in fields]
    return found


def cli_of(endpoint: Endpoint) -> tuple[str | None, str]:
    """(the CLI command, what it answers) from the PlantData docstring: "`planner-tui ...`: answer"."""
    doc = re.sub(r"\bNone\b", "null", " ".join(endpoint.doc.split()))  # as the JSON says it
    found = re.match(r"^`(planner-tui [^`]+)`[:.]?\s*(.*)$", doc)
    if found:
        return found[1], found[2]
    return None, doc


def _check(described: set[Any], found: set[Any], what: str, where: str) -> None:
    missing, stale = found - described, described - found
    if missing:
        raise RuntimeError(f"{what} {sorted(map(str, missing))}: describe it in {where} (planner_tui/server/apidoc.py)")
    if stale:
        raise RuntimeError(f"{where} describes {sorted(map(str, stale))}, which the server no longer has")


# ------------------------------------------------------------------------------------------ the page


def _roles_with(right: str) -> str:
    if not right:
        return "any"
    return ", ".join(role for role, rights in RIGHTS.items() if right in rights) or "none yet"


def _param(param: Param) -> str:
    return f"`{param.name}{'' if param.required else '?'}` ({param.kind})"


def _first_sentence(cls: type) -> str:
    doc = " ".join((inspect.getdoc(cls) or "").split())
    doc = re.sub(r"\s*\(HTTP \d+\)", "", doc)
    return doc.split(". ")[0].rstrip(".")


def render() -> str:
    """The whole of docs/api.md."""
    plant = endpoints()
    routes = server_routes()
    _check(set(SERVER_ROUTES), set(routes), "server route", "SERVER_ROUTES")
    changes = stream_changes()
    _check(set(STREAM_WHATS), set(changes), "stream change", "STREAM_WHATS")
    _check(
        set(STREAM_FIELDS), {field for fields in changes.values() for field in fields}, "change field", "STREAM_FIELDS"
    )
    _check(set(STREAM_HELLO), set(hello_fields()), "hello field", "STREAM_HELLO")
    _check(set(WHOAMI_FIELDS), set(Identity("a", "viewer", "unix").to_dict()), "whoami field", "WHOAMI_FIELDS")
    _check(set(ROLE_WORDS), set(RIGHTS), "role", "ROLE_WORDS")
    kinds = {param.kind for endpoint in plant.values() for param in endpoint.params}
    kinds |= {endpoint.path_param.kind for endpoint in plant.values() if endpoint.path_param}
    if kinds - set(KIND_WORDS):
        raise RuntimeError(f"argument kind {sorted(kinds - set(KIND_WORDS))}: describe it in KIND_WORDS (apidoc.py)")
    return "\n".join(_page(plant, routes, changes)) + "\n"


def _page(plant: dict[str, Endpoint], routes: list[tuple[str, str]], changes: dict[str, list[str]]) -> Iterator[str]:
    questions = [e for e in plant.values() if e.verb == "GET"]
    actions = [e for e in plant.values() if e.verb == "POST"]
    yield from [
        "# The plant server's HTTP API",
        "",
        f"*Generated by `{COMMAND}` from the code (planner_tui/server/apidoc.py): do not edit it by hand;",
        "tests/test_api_doc.py fails when this file differs from what that prints.*",
        "",
        "`planner-tui serve` answers every console and command of a plant over HTTP/1.1, on a Unix socket and,",
        "if asked, on TCP (see [deploy.md](deploy.md)). Everything is under `" + PREFIX + "`, answers are JSON",
        "(`application/json`, UTF-8), and every question the console asks is one endpoint, derived from the",
        "`PlantData` protocol (planner_tui/access/interface.py): its answer is exactly what the matching CLI",
        "command prints with `--json`. `planner-tui ... --server ADDR` and the console use this API through",
        "`RemotePlant` (planner_tui/access/remote.py); this page is for scripts and other programs.",
        "",
        f"- {len(plant)} plant endpoints: {len(questions)} questions (`GET`) and {len(actions)} triage actions "
        "(`POST`);",
        f"- {len(routes)} routes of the server itself: who am I, version, the live stream, snapshot loads, users, "
        "pushed events.",
        "",
        "## Calling it",
        "",
        "Over the Unix socket (the host name is ignored; `planner-tui` by convention), the kernel tells the",
        "server who you are, no token needed:",
        "",
        "```bash",
        f"curl --unix-socket plant.sock http://planner-tui{PREFIX}/exceptions",
        f"curl --unix-socket plant.sock 'http://planner-tui{PREFIX}/machine/M-WELD-01?limit=5'",
        f"curl --unix-socket plant.sock 'http://planner-tui{PREFIX}/order-links/SO-24117/1'",
        f"curl --unix-socket plant.sock 'http://planner-tui{PREFIX}/find?words=weld+cell&kind=machine'",
        f"curl --unix-socket plant.sock 'http://planner-tui{PREFIX}/shortages?at=2026-11-25T06:00:00&horizon_days=14'",
        "curl --unix-socket plant.sock -H 'Content-Type: application/json' \\",
        '     -d \'{"person": "Marta Lindqvist"}\' ' + f"http://planner-tui{PREFIX}/assign/machine_down:M-WELD-01",
        f"curl --unix-socket plant.sock -N http://planner-tui{PREFIX}/stream      # the live stream; Ctrl-C ends it",
        "```",
        "",
        "Over TCP, with the token `planner-tui users add` printed (TLS with `https://`; `--cacert` for a site",
        "certificate, as the `ca` setting does for planner-tui):",
        "",
        "```bash",
        'curl -H "Authorization: Bearer $PLANNER_TUI_TOKEN" --cacert /etc/ssl/site-ca.pem \\',
        f"     https://plant.example:8443{PREFIX}/whoami",
        'curl -H "Authorization: Bearer $PLANNER_TUI_TOKEN" ' + f"https://plant.example:8443{PREFIX}/exceptions",
        "```",
        "",
        "Loading a snapshot (an admin): its folder as a tar archive, or a URL the server fetches:",
        "",
        "```bash",
        "tar -C snapshot/ -cf - . | curl --unix-socket plant.sock -H 'Content-Type: application/x-tar' \\",
        f"     --data-binary @- http://planner-tui{PREFIX}/load",
        "curl --unix-socket plant.sock -H 'Content-Type: application/json' \\",
        '     -d \'{"source": "https://erp.example/extract/"}\' ' + f"http://planner-tui{PREFIX}/load",
        "```",
        "",
    ]
    yield from _identity_section()
    yield from _arguments_section()
    yield from _endpoint_tables(questions, actions)
    yield from _server_routes_section(routes)
    yield from _push_section()
    yield from _versions_section()
    yield from _stream_section(changes)
    yield from _errors_section()


def _identity_section() -> Iterator[str]:
    yield from [
        "## Who is asking",
        "",
        "Every request is identified before anything else, and nothing in it can change who it is:",
        "",
        "- **On the Unix socket**, by the kernel: the server reads the connecting process's user from the",
        "  socket's peer credentials (`SO_PEERCRED`). The server's own OS user is `admin`; any other user has",
        f"  the role the server's `roles` setting gives them (docs/settings.md), else `{DEFAULT_LOCAL_ROLE}`.",
        "  Who may connect at all is the socket file's business: mode 0660, owned by the server's user and the",
        "  group `serve --group` names.",
        "- **On TCP**, by a bearer token: `Authorization: Bearer TOKEN`, a token `planner-tui users add` made",
        "  (the server keeps only its SHA-256 hash). No token, or an unknown or revoked one: 401.",
        "",
        "Triage is recorded under that name, at the server's clock: a triage action takes no `who` or `at`.",
        "",
        "| role | may | rights |",
        "|---|---|---|",
    ]
    for role, rights in RIGHTS.items():
        yield f"| `{role}` | {ROLE_WORDS[role]} | {', '.join(sorted(rights))} |"
    yield from [
        "",
        "Questions and the live stream need `read`, triage actions `triage`, loads `load`, users `users`, pushed",
        "events `ingest`; `whoami` and `version` only a caller the server knows. A role without the right gets 403.",
        "",
    ]


def _arguments_section() -> Iterator[str]:
    live = int(LIVE_WINDOW.total_seconds())
    yield from [
        "## Arguments and answers",
        "",
        "- A **question** is `GET " + PREFIX + "/<method>[/<id>]?<arguments>`: the method's name with `-` for",
        "  `_`; an id it is about (a parameter named `..._id`) is the rest of the path, `/` included",
        "  (`/order-links/SO-24117/1`); `%`-encode what a URL path cannot hold (space, `?`, `#`, `%`).",
        "- A **triage action** is `POST " + PREFIX + "/<action>/<exception id>` with a JSON object of its other",
        "  arguments (`{}` or no body when it has none). `who` and `at` are not arguments: the server fills them in.",
        "- Arguments travel as text and are read by their kind in the protocol. An unknown argument, a missing",
        f"  one, or one given twice that takes one value is 400. A JSON body is at most {MAX_JSON_BODY:,} bytes.",
        '- **`at`** ("now") may always be left out: the question is answered at the server\'s clock. An `at` within',
        f"  {live} s of that clock counts as now too. Answers about now are shared by every client and kept for at",
        f"  most {DEFAULT_LIVE_SECONDS:g} s while nothing changes. On the questions of how things stood (see",
        "  `owners`), an `at` in the past is the moment the plant is shown as it stood; now, the present.",
        "- **Answers** are JSON: times in ISO 8601, naive UTC (`2026-11-25T08:00:00`), dates `2026-11-25`, NaN",
        "  and infinity as `null`; a (time, balance) pair is a two-element list.",
        "",
        "| kind | written as |",
        "|---|---|",
    ]
    for kind, words in KIND_WORDS.items():
        yield f"| {kind} | {words} |"
    yield ""


def _endpoint_tables(questions: list[Endpoint], actions: list[Endpoint]) -> Iterator[str]:
    yield from [
        "## The plant's endpoints",
        "",
        "One per `PlantData` method. Arguments: `name` is required, `name?` optional; an id in `{braces}` is",
        "part of the path. The CLI command gives the same answer with `--json`.",
        "",
        "### Questions",
        "",
        "| method | path | arguments | right | CLI |",
        "|---|---|---|---|---|",
    ]
    for endpoint in questions:
        yield _endpoint_row(endpoint)
    yield from [
        "",
        "### Triage actions",
        "",
        "Each answers " + TRIAGE_ANSWER + ".",
        "",
        "| method | path | arguments (JSON body) | right | CLI |",
        "|---|---|---|---|---|",
    ]
    for endpoint in actions:
        yield _endpoint_row(endpoint)
    yield from ["", "### What each answers", ""]
    for endpoint in [*questions, *actions]:
        _, answer = cli_of(endpoint)
        shown = answer or ("the triage state (above)" if endpoint.verb == "POST" else "what its CLI command prints")
        yield f"- **`{endpoint.name}`** (`{endpoint.verb} {_shown_path(endpoint.path)}`): {shown}"
    yield ""


def _endpoint_row(endpoint: Endpoint) -> str:
    command, _ = cli_of(endpoint)
    arguments = ", ".join(_param(param) for param in endpoint.params) or "none"
    cli = f"`{command}`" if command else "none (the console's)"
    return (
        f"| {endpoint.verb} | `{_shown_path(endpoint.path)}` | {arguments} | {endpoint.right} "
        f"({_roles_with(endpoint.right)}) | {cli} |"
    )


def _server_routes_section(routes: list[tuple[str, str]]) -> Iterator[str]:
    yield from [
        "## The server's own routes",
        "",
        "Declared in planner_tui/server/http.py (`build_app`), beside the plant's endpoints.",
        "",
        "| method | path | right | takes | answers |",
        "|---|---|---|---|---|",
    ]
    for verb, path in routes:
        doc = SERVER_ROUTES[(verb, path)]
        right = f"{doc.right} ({_roles_with(doc.right)})" if doc.right else "any known caller"
        yield f"| {verb} | `{_shown_path(path)}` | {right} | {doc.takes} | {doc.answers} |"
    yield ""


def _push_section() -> Iterator[str]:
    yield from [
        "## Pushing events",
        "",
        f"A producer (an MES, a gateway) pushes CloudEvents to `POST {PREFIX}/events` in any mode of the CloudEvents",
        "HTTP binding; each event is what a feed would carry (docs/events.md: its `type` and `data`).",
        "",
        "```bash",
        "# binary mode: the attributes as headers, the body is the event's data",
        f'curl -H "Authorization: Bearer $TOKEN" https://plant.example:8443{PREFIX}/events \\',
        "     -H 'ce-specversion: 1.0' -H 'ce-id: mes-000812' -H 'ce-source: urn:plant:nordhavn-aar:mes' \\",
        "     -H 'ce-type: machine.down' -H 'ce-time: 2026-11-25T06:12:00Z' -H 'ce-sequence: 812' \\",
        '     -H \'Content-Type: application/json\' -d \'{"machine_id": "M-WELD-01", "reason": "wire feed jam"}\'',
        "# structured mode: one event as JSON",
        f"curl -H \"Authorization: Bearer $TOKEN\" -H 'Content-Type: {EVENT_CONTENT_TYPE}' \\",
        f"     --data-binary @event.json https://plant.example:8443{PREFIX}/events",
        "# batch mode: a JSON array of events",
        f"curl -H \"Authorization: Bearer $TOKEN\" -H 'Content-Type: {BATCH_CONTENT_TYPE}' \\",
        f"     --data-binary @events.json https://plant.example:8443{PREFIX}/events",
        "```",
        "",
        "- **Who.** A token of the `ingest` role (`planner-tui users add mes --role ingest`); with `--source SRC`",
        "  (repeatable) the token may push only events whose `source` is one of those, and a request holding",
        "  another source is refused whole (403), nothing of it recorded. On the Unix socket, an OS user whose",
        "  `roles` setting is `ingest`. No token or an unknown one is 401, another role 403: nothing is recorded.",
        "- **Recorded, then answered.** The answer comes once every event is recorded and committed: applied, or",
        "  kept in the event history as rejected (malformed, naming something the plant does not hold) or",
        "  unknown (a type planner_tui does not know), with the reason. Events are recorded as the feed",
        "  `push:USER` (`event_log.feed`; `events history` shows them).",
        '- **Answer** (200): `{"feed": "push:mes", "applied": 1, "duplicates": 0, "rejected": 0, "unknown": 0,',
        '  "rejections": [{"id": ..., "reason": ...}], "version": 43}`; `version` is the plant version after',
        "  them, and every stream hears an `events` change.",
        "- **Retry on any failure.** An event is told by its source and id: one already recorded is a duplicate,",
        "  counted and not applied again. A producer that sends a request again until it gets a 2xx (a timeout,",
        "  a 5xx, a restarting server) loses no event and doubles none.",
        "- **Refused whole**, nothing recorded: a body that is not JSON or not UTF-8, a structured body that is not",
        f"  one object or a batch that is not an array (400), one over the limit (413: {MAX_EVENT_BODY:,} bytes for",
        f"  one event, {MAX_BATCH_BODY:,} and {MAX_BATCH_EVENTS:,} events for a batch), another Content-Type (415;",
        "  binary-mode data is JSON).",
        "",
    ]


def _versions_section() -> Iterator[str]:
    yield from [
        "## Versions, ETags and 304",
        "",
        "Every change the server makes (events applied, a feed's state, a triage action, a load) gives the",
        "plant a new **version**, a number that starts at 0 when the server starts. Each question's answer is",
        "computed once per version and served to every client that asks (fifty consoles asking after a change",
        "cost one query).",
        "",
        '- A question\'s answer carries `ETag` (`"<boot>-<version>-<hash of the answer>"`), `X-Plant-Version`',
        "  and `Cache-Control: no-cache`. Ask again with `If-None-Match: <that ETag>` and, while the answer",
        "  is the same, the server sends `304 Not Modified` with no body.",
        "- A triage action's answer carries `X-Plant-Version`: the version its change made.",
        "",
        "```bash",
        f"curl -si --unix-socket plant.sock http://planner-tui{PREFIX}/holds | grep -i etag",
        "curl -si --unix-socket plant.sock -H 'If-None-Match: \"1f3a9c2e-12-6c0d4e1a9b2f7d35\"' \\",
        f"     http://planner-tui{PREFIX}/holds        # HTTP/1.1 304 Not Modified",
        "```",
        "",
    ]


def _stream_section(changes: dict[str, list[str]]) -> Iterator[str]:
    yield from [
        "## The live stream",
        "",
        f"`GET {PREFIX}/stream` is a server-sent event stream (`text/event-stream`). It begins with one `hello`",
        "event, then one `change` event per change, each `data:` a JSON object on one line. A comment line",
        f"(`: ping`) comes every {STREAM_PING_SECONDS:g} s when nothing else does: silence much longer than that",
        "means the connection is dead.",
        "",
        "```text",
        "event: hello",
        'data: {"version": 41, "boot": "1f3a9c2e", "what": "hello", "at": "2026-11-25T06:12:03", "feeds": [...]}',
        "",
        "event: change",
        'data: {"version": 42, "what": "triage", "at": "2026-11-25T06:12:09", "action": "acknowledge", '
        '"exception_id": "machine_down:M-WELD-01", "who": "ana"}',
        "```",
        "",
        "`hello`:",
        "",
        "| field | what |",
        "|---|---|",
    ]
    for field, words in STREAM_HELLO.items():
        yield f"| `{field}` | {words} |"
    yield from ["", "`change`: always these,", "", "| field | what |", "|---|---|"]
    for field, words in STREAM_COMMON.items():
        yield f"| `{field}` | {words} |"
    yield from ["", "and by `what`:", "", "| what | when | fields |", "|---|---|---|"]
    for what, fields in changes.items():
        yield f"| `{what}` | {STREAM_WHATS[what]} | {', '.join(f'`{f}`' for f in fields)} |"
    yield from ["", "| field | what |", "|---|---|"]
    for field in dict.fromkeys(f for fields in changes.values() for f in fields):
        yield f"| `{field}` | {STREAM_FIELDS[field]} |"
    yield from [
        "",
        "The stream ends when the server stops, and for a client that falls "
        f"{ChangeHub.QUEUE} changes behind. A client then",
        f'reconnects (planner-tui\'s console says "reconnecting..." meanwhile, trying again within {RECONNECT_SECONDS[-1]:g} s) and',
        "compares the new `hello` with what it last heard: a different `boot`, or a `version` it has not",
        "seen, means it missed changes, so it asks its questions again.",
        "",
    ]


def _errors_section() -> Iterator[str]:
    yield from [
        "## Errors",
        "",
        "An error is JSON with the HTTP status of its kind:",
        "",
        "```json",
        '{"error": "unknown machine \'M-NOPE\': no such machine_id in machines", "kind": "NotFound", "exit_code": 3}',
        "```",
        "",
        "`error` is the one line a person reads, `kind` the planner_tui error class and `exit_code` the exit",
        "status the CLI gives for it (docs/operations.md): `planner-tui ... --server` raises the same error and",
        "exits the same way as on a local database.",
        "",
        "| status | kind | exit | when |",
        "|---|---|---|---|",
    ]
    for cls, status in sorted(STATUS_OF.items(), key=lambda item: item[1]):
        yield f"| {status} | `{cls.__name__}` | {cls.exit_code} | {_first_sentence(cls)} |"
    yield from [
        "| 500 | the error's class, e.g. `FeedUnavailable` | its own | any other planner_tui error |",
        f'| 500 | `PlannerError` | {PlannerError.exit_code} | the server failed unexpectedly: "the plant server '
        "failed to answer (see its log)\"; the traceback is in the server's log |",
        "",
        "- An unknown path is 404 `NotFound`, and a method a path does not take is 400 `BadRequest` (not 405),",
        "  both with the JSON above; neither needs a token.",
        '- A 401 carries `WWW-Authenticate: Bearer realm="planner-tui"`.',
        "- Beyond the server's connection limit, uvicorn itself answers `503 Service Unavailable` in plain text,",
        "  not JSON.",
        "",
    ]


def main() -> None:
    sys.stdout.write(render())


if __name__ == "__main__":
    main()
