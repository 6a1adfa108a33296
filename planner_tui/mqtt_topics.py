"""The `mqtt` setting (issue 13): the MQTT client's identity and how plain machine-state messages on
topics map to planner_tui events, so a floor whose gateways publish bare JSON needs no adapter.

STUB: filled in by the MQTT work of issue 13.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


class TopicMapError(ValueError):
    """An `mqtt` setting that cannot be used: `key` is its place (`topics[0].machine`), `value` what was there."""

    def __init__(self, key: str, why: str, value: Any):
        super().__init__(f"{key}: {why}")
        self.key, self.why, self.value = key, why, value


def parse(value: Any, base: Path | None) -> Any:
    """The checked `mqtt` setting (a table); TopicMapError naming the bad entry."""
    return value


def shown(value: Any) -> Any:
    """The parsed setting as `config show` prints it: plain JSON values."""
    return value
