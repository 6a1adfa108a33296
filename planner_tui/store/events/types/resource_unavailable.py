"""resource.unavailable: a person, tool or crew an operation needs is not there (state `unavailable` since
the event's time, with a reason and an estimate)."""

from __future__ import annotations

from planner_tui.store.events.types._states import RESOURCE, state_event

TYPE = state_event("resource.unavailable", RESOURCE, "unavailable", stop=True)
