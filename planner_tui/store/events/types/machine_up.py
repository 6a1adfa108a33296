"""machine.up: a machine runs again (state `running`, reason and estimate cleared)."""

from __future__ import annotations

from planner_tui.store.events.types._states import MACHINE, state_event

TYPE = state_event("machine.up", MACHINE, "running", stop=False)
