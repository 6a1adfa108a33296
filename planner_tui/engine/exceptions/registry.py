"""The exception kinds, in the order store/kinds.py declares them: one module per kind in `kinds/`.

Every name declared in planner_tui/store/kinds.py (EXCEPTION_KINDS) is loaded from
`planner_tui.engine.exceptions.kinds.<name>`, which defines `KIND`, an ExceptionKind of that name. A
declared kind without its module, or a module whose KIND has another name, fails at import: the inbox
never runs with a kind half there.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from typing import Any

from planner_tui.engine.exceptions.base import ExceptionKind
from planner_tui.errors import BadRequest
from planner_tui.store.kinds import EXCEPTION_KINDS

KINDS_PACKAGE = "planner_tui.engine.exceptions.kinds"


def load() -> dict[str, ExceptionKind]:
    """name -> kind, for every declared kind, in declaration order."""
    found: dict[str, ExceptionKind] = {}
    for name in EXCEPTION_KINDS:
        module = importlib.import_module(f"{KINDS_PACKAGE}.{name}")
        kind = getattr(module, "KIND", None)
        if not isinstance(kind, ExceptionKind) or kind.name != name:
            raise ImportError(f"{module.__name__} must define KIND = ExceptionKind(name={name!r}, ...)")
        found[name] = kind
    return found


KINDS: dict[str, ExceptionKind] = load()


def all_kinds() -> list[ExceptionKind]:
    """Every kind, in declaration order (the order they are detected and listed in)."""
    return list(KINDS.values())


def kind_named(name: str) -> ExceptionKind:
    """The kind of that name (an id's kind is checked by store.triage.parse_exception_id first)."""
    try:
        return KINDS[name]
    except KeyError:
        raise BadRequest(f"unknown kind {name!r}: expected one of {', '.join(KINDS)}") from None


def check_kinds(names: Iterable[str] | None) -> list[str] | None:
    """The kind names asked for, each known (BadRequest naming the unknown ones); None: every kind."""
    if names is None:
        return None
    wanted = list(dict.fromkeys(names))
    unknown = sorted(set(wanted) - set(KINDS))
    if unknown:
        raise BadRequest(f"unknown kind(s) {', '.join(unknown)}: expected {', '.join(KINDS)}")
    return wanted


def exception_kinds() -> list[dict[str, Any]]:
    """Every kind as plain data, in declaration order (`planner-tui exception kinds --json`)."""
    return [kind.describe() for kind in KINDS.values()]
