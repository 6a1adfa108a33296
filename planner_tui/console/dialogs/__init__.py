"""The console's dialogs (modal screens: triage, the downtime what-if, the `?` keys) and the keyboard
triage actions any screen showing an exception can mix in. Their CSS is dialogs.tcss."""

from planner_tui.console.dialogs.assign import AssignDialog
from planner_tui.console.dialogs.downtime import DowntimeDialog, parse_downtime
from planner_tui.console.dialogs.help import HelpScreen, describe_bindings
from planner_tui.console.dialogs.note import NoteDialog
from planner_tui.console.dialogs.snooze import SnoozeDialog, snooze_presets
from planner_tui.console.dialogs.triage import (
    TRIAGE_BINDINGS,
    TRIAGE_BINDINGS_QUIET,
    TriageActions,
    TriageDone,
)

__all__ = [
    "TRIAGE_BINDINGS",
    "TRIAGE_BINDINGS_QUIET",
    "AssignDialog",
    "DowntimeDialog",
    "HelpScreen",
    "NoteDialog",
    "SnoozeDialog",
    "TriageActions",
    "TriageDone",
    "describe_bindings",
    "parse_downtime",
    "snooze_presets",
]
