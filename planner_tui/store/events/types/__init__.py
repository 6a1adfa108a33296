"""One module per event type, named after it (`machine_down.py` for "machine.down"), each defining
`TYPE = EventType(...)` (planner_tui/store/events/base.py). The registry finds them; modules whose
name starts with "_" are helpers, not types."""
