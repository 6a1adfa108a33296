"""The exception inbox: everything a planner must act on now, worst first, with its triage state.

Each exception has a stable id, `KIND:SUBJECT` (`machine_down:M-WELD-01`, `late_order:SO-1001/2`), so
triage (store/triage.py) attaches to it across refreshes, snapshot reloads and restarts. An exception
whose cause has cleared but that someone is still triaging (any status except resolved) stays listed,
flagged `cause_cleared` with a note, so it never vanishes mid-triage.

The package: `base.py` (ExceptionKind, the shared Context, row and word helpers), `registry.py` (the
kinds, as store/kinds.py declares them), `kinds/<name>.py` (one per kind: machine_down, quality_hold,
shortage, late_order, no_supply, feed_stale), `inbox.py` (list, sort, triage merge, cleared causes),
`history.py` (a subject's events and triage actions), `counts.py` (what each machine stop hits),
`lines.py` (what the kinds about an order line share).
"""

from planner_tui.engine.exceptions.base import SEVERITIES, Context, ExceptionKind
from planner_tui.engine.exceptions.counts import machine_counts, machine_counts_slow
from planner_tui.engine.exceptions.history import MAX_EVENTS, exception_history, subject_events
from planner_tui.engine.exceptions.inbox import get_exception, list_exceptions
from planner_tui.engine.exceptions.registry import KINDS, all_kinds, check_kinds, exception_kinds, kind_named
from planner_tui.engine.orders import hold_reach

__all__ = [
    "KINDS",
    "MAX_EVENTS",
    "SEVERITIES",
    "Context",
    "ExceptionKind",
    "all_kinds",
    "check_kinds",
    "exception_history",
    "exception_kinds",
    "get_exception",
    "hold_reach",
    "kind_named",
    "list_exceptions",
    "machine_counts",
    "machine_counts_slow",
    "subject_events",
]
