"""The plant server's HTTP API, read off `PlantData`: one endpoint per method, so the protocol is the one
place an answer is declared (the server routes it, `RemotePlant` calls it, docs/api.md lists it).

- A question is `GET /api/v1/<method>[/<first argument>]?<other arguments>`: `GET /api/v1/exceptions?at=...`,
  `GET /api/v1/machine/M-WELD-01?limit=5`, `GET /api/v1/order-links/SO-1001/2`. Its answer is exactly what
  the CLI command prints with `--json`.
- A triage action is `POST /api/v1/<action>/<exception id>` with a JSON object of its other arguments.
  `who` and `at` are not arguments over HTTP: the server records who is asking and its own clock.
- Arguments travel as text (times in ISO 8601, booleans `true`/`false`, a list as the argument repeated)
  and are converted by the parameter's type in the protocol.
"""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from planner_tui.access.interface import PlantData
from planner_tui.errors import BadRequest
from planner_tui.timeutil import iso, parse_timestamp

PREFIX = "/api/v1"
TRIAGE = ("acknowledge", "assign", "note", "snooze", "resolve", "reopen")
# Not served: the client's own business (closing its connection, waiting for the server's changes).
CLIENT_ONLY = frozenset({"close", "poll_feed"})
SERVER_STAMPED = frozenset({"who", "at"})  # triage arguments the server fills in


@dataclass(frozen=True)
class Param:
    name: str
    kind: str  # datetime | bool | int | float | str | list | str_or_list | datetime_or_str
    required: bool


@dataclass(frozen=True)
class Endpoint:
    """One PlantData method over HTTP."""

    name: str  # the PlantData method
    verb: str  # GET or POST
    path_param: Param | None  # the first argument, in the path
    params: tuple[Param, ...]  # the others: query string (GET) or JSON body (POST)
    right: str  # what the caller's role must allow: read or triage
    doc: str

    @property
    def path(self) -> str:
        base = f"{PREFIX}/{self.name.replace('_', '-')}"
        return base if self.path_param is None else base + "/{" + self.path_param.name + ":path}"

    def url(self, path_value: str | None) -> str:
        from urllib.parse import quote

        base = f"{PREFIX}/{self.name.replace('_', '-')}"
        return base if path_value is None else f"{base}/{quote(str(path_value), safe='/:')}"


def _kind(annotation: Any) -> str:
    """The wire kind of a parameter's type."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        kinds = sorted({_kind(a) for a in args})
        if kinds == ["datetime", "str"]:
            return "datetime_or_str"
        if kinds == ["list", "str"]:
            return "str_or_list"
        if len(kinds) == 1:
            return kinds[0]
        raise TypeError(f"no wire form for {annotation!r}")
    if origin in (list, Sequence, typing.Sequence) or annotation in (list,):
        return "list"
    for plain in (bool, int, float, str, datetime):
        if annotation is plain:
            return plain.__name__
    raise TypeError(f"no wire form for {annotation!r}")


@cache
def endpoints() -> dict[str, Endpoint]:
    """Every served PlantData method, by name, in the protocol's order."""
    found: dict[str, Endpoint] = {}
    for name, member in vars(PlantData).items():
        if name.startswith("_") or name in CLIENT_ONLY or not callable(member):
            continue
        hints = typing.get_type_hints(member)
        signature = inspect.signature(member)
        params: list[Param] = []
        for parameter in list(signature.parameters.values())[1:]:  # not self
            if name in TRIAGE and parameter.name in SERVER_STAMPED:
                continue
            # `at` may always be left out: the server answers at its own clock ("now").
            required = parameter.default is inspect._empty and parameter.name != "at"
            params.append(Param(parameter.name, _kind(hints[parameter.name]), required))
        # An id is the path ("/machine/M-WELD-01"); words, times and numbers are arguments.
        first = params[0] if params and params[0].kind == "str" and params[0].name.endswith("_id") else None
        found[name] = Endpoint(
            name=name,
            verb="POST" if name in TRIAGE else "GET",
            path_param=first,
            params=tuple(params[1:] if first else params),
            right="triage" if name in TRIAGE else "read",
            doc=inspect.cleandoc(member.__doc__ or ""),
        )
    return found


# ---------------------------------------------------------------------------------- values on the wire


def to_wire(value: Any) -> str | list[str] | None:
    """An argument as text (a list stays a list: it is sent repeated)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, (list, tuple)):
        return [str(item) for item in value]
    return str(value)


def from_wire(param: Param, value: str | list[str]) -> Any:
    """An argument from its text, by its declared kind; BadRequest names the argument and the value."""
    values = value if isinstance(value, list) else [value]
    if param.kind == "list":
        return [str(v) for v in values]
    if param.kind == "str_or_list":
        return values[0] if len(values) == 1 else [str(v) for v in values]
    if len(values) != 1:
        raise BadRequest(f"argument {param.name!r} given {len(values)} times: give it once")
    text = str(values[0])
    convert: Mapping[str, Callable[[str], Any]] = {
        "str": str,
        "datetime": lambda t: parse_timestamp(t, what=f"{param.name} time"),
        "datetime_or_str": str,  # the plant reads a time or a duration such as 2h
        "int": int,
        "float": float,
        "bool": _boolean,
    }
    try:
        return convert[param.kind](text)
    except (ValueError, OverflowError):
        raise BadRequest(f"argument {param.name!r}: expected {param.kind}, got {text!r}") from None


def _boolean(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise ValueError(text)


def arguments(endpoint: Endpoint, given: Mapping[str, str | list[str]]) -> dict[str, Any]:
    """The keyword arguments of a call from the query or body, checked against the protocol."""
    known = {param.name: param for param in endpoint.params}
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise BadRequest(f"{endpoint.name} takes no argument {unknown[0]!r} (it takes: {', '.join(known) or 'none'})")
    out = {name: from_wire(known[name], value) for name, value in given.items()}
    missing = [param.name for param in endpoint.params if param.required and param.name not in out]
    if missing:
        raise BadRequest(f"{endpoint.name} needs the argument {missing[0]!r}")
    return out
