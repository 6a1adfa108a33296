"""The event types planner_tui applies: every module of `planner_tui.store.events.types` (one per type,
named after it: `machine_down.py` for "machine.down") defines `TYPE = EventType(...)`. Adding a type is
one new module there plus its row in docs/events.md (tests/test_event_types.py holds them to each other).
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

from planner_tui.store.events import types as _types_package
from planner_tui.store.events.base import EventType


def discover(package: ModuleType) -> dict[str, EventType]:
    """The `TYPE` of every module of `package` (helpers named "_..." aside), by CloudEvents type.
    ImportError for a module without one, or named otherwise than its type."""
    found: dict[str, EventType] = {}
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        event_type = getattr(module, "TYPE", None)
        if not isinstance(event_type, EventType):
            raise ImportError(f"{module.__name__} must define TYPE = EventType(...)")
        if event_type.name.replace(".", "_") != info.name:
            raise ImportError(
                f"{module.__name__} defines {event_type.name!r}: the module must be named "
                f"{event_type.name.replace('.', '_')}.py"
            )
        found[event_type.name] = event_type
    return found


# The CloudEvents type -> its EventType, in the order of their module names.
REGISTRY: dict[str, EventType] = discover(_types_package)
KNOWN_TYPES: tuple[str, ...] = tuple(REGISTRY)


def event_type(name: str | None) -> EventType | None:
    """The EventType of a CloudEvents `type`; None for a type planner_tui does not apply."""
    return REGISTRY.get(name or "")


def types_raising(kind: str) -> tuple[str, ...]:
    """The event types that can raise or clear exception kind `kind` ("machine_down" ->
    ("machine.down", "machine.up")), in registry order; () for a kind no event touches (feed_stale)."""
    return tuple(name for name, event_type in REGISTRY.items() if kind in event_type.raises)


def kinds_raised() -> dict[str, tuple[str, ...]]:
    """Every exception kind some event type names -> the event types that raise or clear it."""
    kinds = sorted({kind for event_type in REGISTRY.values() for kind in event_type.raises})
    return {kind: types_raising(kind) for kind in kinds}
