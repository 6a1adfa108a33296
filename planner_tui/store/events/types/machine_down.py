"""machine.down: a machine stops (state `down` since the event's time, with a reason and an estimate)."""

from __future__ import annotations

from planner_tui.store.events.types._states import MACHINE, state_event

TYPE = state_event("machine.down", MACHINE, "down", stop=True)
