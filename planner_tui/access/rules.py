"""What the plant accepts, for checking a request before it is sent: a dialog says what is wrong while
the planner is still typing, rather than after a round trip. The plant checks again (BadRequest)."""

from __future__ import annotations

from planner_tui.engine.schedule import MAX_DOWN_MINUTES
from planner_tui.store.triage import MAX_TEXT as MAX_NOTE_LENGTH
from planner_tui.store.triage import parse_until

__all__ = ["MAX_DOWN_MINUTES", "MAX_NOTE_LENGTH", "parse_until"]
