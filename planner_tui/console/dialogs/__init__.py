"""Triage dialogs (modal screens) and the keyboard triage actions any screen showing an exception can mix in."""

from planner_tui.console.dialogs.assign import AssignDialog
from planner_tui.console.dialogs.downtime import DowntimeDialog, parse_downtime
from planner_tui.console.dialogs.note import NoteDialog
from planner_tui.console.dialogs.snooze import SnoozeDialog, snooze_presets
from planner_tui.console.dialogs.triage import TRIAGE_BINDINGS, TRIAGE_BINDINGS_QUIET, TriageActions, TriageDone

__all__ = [
    "AssignDialog",
    "DowntimeDialog",
    "parse_downtime",
    "NoteDialog",
    "SnoozeDialog",
    "snooze_presets",
    "TRIAGE_BINDINGS",
    "TRIAGE_BINDINGS_QUIET",
    "TriageActions",
    "TriageDone",
]
