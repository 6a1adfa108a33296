"""Keyboard triage of one exception: a acknowledge, s assign, n note, z snooze, r resolve, o reopen.

`TriageActions` is a mixin for any Screen that shows an exception (the exception detail here; the main
screen's inbox can use it too): the screen says which exception is selected (`triage_target`), the mixin
asks for what it needs in a dialog, writes through `planner_tui.store.triage` in a thread worker with
who = ``app.user`` and when = ``app.now()``, then posts `TriageDone` to the screen (which refreshes).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Callable

from textual import work
from textual.binding import Binding
from textual.message import Message

from planner_tui.console.dialogs.assign import AssignDialog
from planner_tui.console.dialogs.note import NoteDialog
from planner_tui.console.dialogs.snooze import SnoozeDialog
from planner_tui.errors import PlannerError
from planner_tui.timeutil import utcnow

TRIAGE_BINDINGS = [
    Binding("a", "triage_acknowledge", "Ack", id="triage.acknowledge", tooltip="Acknowledge: I have seen it"),
    Binding("s", "triage_assign", "Assign", id="triage.assign", tooltip="Assign to a person"),
    Binding("n", "triage_note", "Note", id="triage.note", tooltip="Add a note"),
    Binding("z", "triage_snooze", "Snooze", id="triage.snooze", tooltip="Snooze until a time"),
    # Not "r": everywhere else "r" refreshes, and a planner refreshing must never close an exception.
    Binding("x", "triage_resolve", "Resolve", id="triage.resolve", tooltip="Resolve (close) the exception"),
    Binding("o", "triage_reopen", "Reopen", id="triage.reopen", tooltip="Reopen"),
]

# The same keys for screens where triage is secondary (impact, trace): only Ack and Assign in the footer,
# every key still listed by `?`.
TRIAGE_BINDINGS_QUIET = [
    Binding(b.key, b.action, b.description, id=b.id, tooltip=b.tooltip,
            show=b.key in ("a", "s"))
    for b in TRIAGE_BINDINGS
]

PAST = {
    "acknowledge": "acknowledged",
    "assign": "assigned",
    "note": "noted",
    "snooze": "snoozed",
    "resolve": "resolved",
    "reopen": "reopened",
}


class TriageDone(Message):
    """A triage action was written (error is None) or refused (error says why)."""

    def __init__(self, exception_id: str, action: str, state: dict | None, error: str | None = None) -> None:
        super().__init__()
        self.exception_id = exception_id
        self.action = action
        self.state = state
        self.error = error


def _user(app: Any) -> str | None:
    user = getattr(app, "user", None)
    return str(user) if user else None  # None: the store falls back to the OS user


def _now(app: Any) -> datetime | None:
    now = getattr(app, "now", None)
    return now() if callable(now) else None


class TriageActions:
    """Mix into a Screen (before Screen in the bases) and add TRIAGE_BINDINGS to its BINDINGS."""

    def triage_target(self) -> str | None:
        """The exception id the keys act on (None: nothing selected)."""
        raise NotImplementedError

    def triage_assignee(self) -> str | None:
        """The current assignee, marked in the assign dialog."""
        return None

    def triage_owner(self) -> str | None:
        """Who owns the exception by default (the machine's supervisor, the buyer...): offered first."""
        return None

    # --- the actions -------------------------------------------------------------------------------

    def action_triage_acknowledge(self) -> None:
        self._triage("acknowledge")

    def action_triage_resolve(self) -> None:
        self._triage("resolve")

    def action_triage_reopen(self) -> None:
        self._triage("reopen")

    def action_triage_assign(self) -> None:
        target = self._target_or_say()
        if target:
            self.app.push_screen(AssignDialog(target, current=self.triage_assignee(), owner=self.triage_owner()),
                                 lambda person: person and self._triage("assign", person, target=target))

    def action_triage_note(self) -> None:
        target = self._target_or_say()
        if target:
            self.app.push_screen(NoteDialog(target), lambda text: text and self._triage("note", text, target=target))

    def action_triage_snooze(self) -> None:
        target = self._target_or_say()
        if target:
            self.app.push_screen(SnoozeDialog(target, _now(self.app) or utcnow()),
                                 lambda until: until and self._triage("snooze", until, target=target))

    # --- plumbing ----------------------------------------------------------------------------------

    def _target_or_say(self) -> str | None:
        target = self.triage_target()
        if not target:
            self.app.notify("no exception selected", severity="warning")
        return target

    def _triage(self, action: str, argument: Any = None, *, target: str | None = None) -> None:
        target = target or self._target_or_say()
        if not target:
            return
        self._triage_worker(action, target, argument, _user(self.app), _now(self.app))

    @work(thread=True, exit_on_error=False, group="triage")
    def _triage_worker(self, action: str, exception_id: str, argument: Any, who: str | None,
                       at: datetime | None) -> None:
        from planner_tui.store import triage

        calls: dict[str, Callable[[], dict]] = {
            "acknowledge": lambda: triage.acknowledge(self.app.store, exception_id, who=who, at=at),
            "assign": lambda: triage.assign(self.app.store, exception_id, argument, who=who, at=at),
            "note": lambda: triage.add_note(self.app.store, exception_id, argument, who=who, at=at),
            "snooze": lambda: triage.snooze(self.app.store, exception_id, argument, who=who, at=at),
            "resolve": lambda: triage.resolve(self.app.store, exception_id, who=who, at=at),
            "reopen": lambda: triage.reopen(self.app.store, exception_id, who=who, at=at),
        }
        try:
            state = calls[action]()
        except PlannerError as error:
            self.post_message(TriageDone(exception_id, action, None, str(error)))
            return
        except Exception as error:  # never a traceback in the planner's face
            self.post_message(TriageDone(exception_id, action, None, f"{action} failed: {error!r}"))
            return
        self.post_message(TriageDone(exception_id, action, state))

    def on_triage_done(self, message: TriageDone) -> None:
        message.stop()
        if message.error:
            self.app.notify(message.error, title=f"{message.exception_id}", severity="error")
        else:
            who = _user(self.app) or "you"
            self.app.notify(f"{message.exception_id} {PAST.get(message.action, message.action)} by {who}",
                            timeout=3)
        self.triage_changed(message)

    def triage_changed(self, message: TriageDone) -> None:
        """Refresh whatever shows the exception (override)."""
