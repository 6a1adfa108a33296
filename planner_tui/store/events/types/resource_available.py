"""resource.available: the person, tool or crew is back (state `available`, reason and estimate cleared)."""

from __future__ import annotations

from planner_tui.store.events.types._states import RESOURCE, state_event

TYPE = state_event("resource.available", RESOURCE, "available", stop=False)
