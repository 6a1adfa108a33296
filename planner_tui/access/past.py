"""PastPlant: any PlantData, asked as the plant stood at one moment (the console's time slider, `t`).

Every question that can be asked of the past (`as_of` in its signature: the inbox, machines, holds,
shortages and the balance sparklines, the repaired plan, impacts, status) is asked with `as_of` = that
moment and `at` = that moment; those whose `at` means "as things stood" (`AS_IT_STOOD`: an order's links,
a shipment, a trace, a search, the owners, the event history) with `at` = that moment. Triage is refused:
the past is looked at, not changed. The feed keeps being polled, so the present goes on arriving
underneath and is there when the planner comes back.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from datetime import datetime
from functools import cache
from typing import Any

from planner_tui.access.api import TRIAGE
from planner_tui.access.interface import AS_IT_STOOD, PlantData
from planner_tui.errors import NotAllowed
from planner_tui.present import moment


@cache
def _parameters(name: str) -> frozenset[str]:
    method = getattr(PlantData, name, None)
    return frozenset(inspect.signature(method).parameters) if method is not None else frozenset()


class PastPlant:
    """`plant` as it stood at `as_of` (see the module docstring). Closing it leaves `plant` open."""

    def __init__(self, plant: PlantData, as_of: datetime) -> None:
        self.plant = plant
        self.as_of = as_of

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.plant, name)
        if name in TRIAGE:
            return self._refused
        if callable(attribute) and "as_of" in _parameters(name):
            return self._in_the_past(attribute, as_of=True, at="at" in _parameters(name))
        if callable(attribute) and name in AS_IT_STOOD:  # `at` means "as things stood": the same moment
            return self._in_the_past(attribute, as_of=False, at=True)
        return attribute

    def _in_the_past(self, method: Callable[..., Any], *, as_of: bool, at: bool) -> Callable[..., Any]:
        def asked(*args: Any, **kwargs: Any) -> Any:
            if as_of:
                kwargs["as_of"] = self.as_of
            if at:
                kwargs["at"] = self.as_of
            return method(*args, **kwargs)

        return asked

    def _refused(self, *args: Any, **kwargs: Any) -> Any:
        raise NotAllowed(
            f"this is the plant as it stood at {moment(self.as_of)} UTC: the past cannot be triaged "
            "(press t to come back to now)"
        )

    def close(self) -> None:
        pass
