"""One module per exception kind, named after it, each defining `KIND = ExceptionKind(...)` (base.py):
its detection, words, severity, rank, cleared note, history events and triage rules. The registry loads
one for every kind declared in planner_tui/store/kinds.py; docs/triage.md says how to add one."""
