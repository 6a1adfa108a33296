"""Keyboard triage of one exception: a acknowledge, s assign, n note, z snooze, r resolve, o reopen.

`TriageActions` is a mixin for any Screen that shows an exception (the exception detail, the impact and
trace screens): the screen says which exception is selected (`triage_target`), the mixin asks for what it
needs in a dialog, acts through the plant (`PlantData.acknowledge`...) in a thread worker with who =
the console's user and when = its clock, then posts `TriageDone` to the screen (which refreshes).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from textual import work
from textual.binding import Binding, BindingType
from textual.message import Message

from planner_tui.access import PlantData, Record
from planner_tui.console.context import console_of
from planner_tui.console.dialogs.assign import AssignDialog
from planner_tui.console.dialogs.note import NoteDialog
from planner_tui.console.dialogs.resolve import ResolveDialog
from planner_tui.console.dialogs.snooze import SnoozeDialog
from planner_tui.errors import PlannerError

if TYPE_CHECKING:
    from textual.screen import Screen

    _Host = Screen[Any]  # what the mixin is mixed into, for the type checker
else:
    _Host = object

TRIAGE_BINDINGS: list[BindingType] = [
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
TRIAGE_BINDINGS_QUIET: list[BindingType] = [
    Binding(b.key, b.action, b.description, id=b.id, tooltip=b.tooltip, show=b.key in ("a", "s"))
    for b in TRIAGE_BINDINGS
    if isinstance(b, Binding)
]

# ... and for the main screen's inbox: every key works on the row under the cursor, none in the footer.
TRIAGE_BINDINGS_HIDDEN: list[BindingType] = [
    Binding(b.key, b.action, b.description, id=b.id, tooltip=b.tooltip, show=False)
    for b in TRIAGE_BINDINGS
    if isinstance(b, Binding)
]

PAST = {
    "acknowledge": "acknowledged",
    "assign": "assigned",
    "note": "noted",
    "snooze": "snoozed",
    "resolve": "resolved",
    "reopen": "reopened",
}


def kind_about(kinds: list[Record], record: str) -> str | None:
    """The kind of exception raised about a plant record (a "machine": its stop), from the plant's
    `exception_kinds()`: the first, causes first, whose subject is that kind of record; None if none is."""
    about = [k for k in kinds if k.get("subject_record") == record]
    about.sort(key=lambda k: k.get("rank") or 0)
    return str(about[0]["kind"]) if about else None


class TriageDone(Message):
    """A triage action was written (error is None) or refused (error says why)."""

    def __init__(self, exception_id: str, action: str, state: Record | None, error: str | None = None) -> None:
        super().__init__()
        self.exception_id = exception_id
        self.action = action
        self.state = state
        self.error = error


class TriageActions(_Host):
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

    def triage_severity(self) -> str | None:
        """The exception's severity: resolving a critical one asks first."""
        return None

    # --- the actions -------------------------------------------------------------------------------

    def action_triage_acknowledge(self) -> None:
        self._triage("acknowledge")

    def action_triage_resolve(self) -> None:
        target = self._target_or_say()
        if not target:
            return

        def chosen(reason: str | None) -> None:
            if reason is not None:  # "" resolves without a reason; None (Escape) leaves it open
                self._triage("resolve", reason or None, target=target)

        critical = (self.triage_severity() or "").lower() == "critical"
        self.app.push_screen(ResolveDialog(target, critical=critical), chosen)

    def action_triage_reopen(self) -> None:
        self._triage("reopen")

    def action_triage_assign(self) -> None:
        target = self._target_or_say()
        if target:
            self.app.push_screen(
                AssignDialog(target, current=self.triage_assignee(), owner=self.triage_owner()),
                self._then("assign", target),
            )

    def action_triage_note(self) -> None:
        target = self._target_or_say()
        if target:
            self.app.push_screen(NoteDialog(target), self._then("note", target))

    def action_triage_snooze(self) -> None:
        target = self._target_or_say()
        if target:
            self.app.push_screen(SnoozeDialog(target, console_of(self).now()), self._then("snooze", target))

    # --- plumbing ----------------------------------------------------------------------------------

    def _then(self, action: str, target: str) -> Callable[[Any], None]:
        """A dialog's result callback: act with what was chosen; a cancelled dialog (None) does nothing."""

        def chosen(argument: Any) -> None:
            if argument:
                self._triage(action, argument, target=target)

        return chosen

    def _target_or_say(self) -> str | None:
        target = self.triage_target()
        if not target:
            self.app.notify("no exception selected", severity="warning")
        return target

    def _triage(self, action: str, argument: Any = None, *, target: str | None = None) -> None:
        target = target or self._target_or_say()
        if not target:
            return
        console = console_of(self)
        # who: None lets the plant record the OS user (as the CLI does); a plant server records who is
        # connected whatever is sent. When: the real clock, never a pinned --at (the audit trail).
        self._triage_worker(action, target, argument, console.user or None, console.triage_time())

    @work(thread=True, exit_on_error=False, group="triage")
    def _triage_worker(
        self, action: str, exception_id: str, argument: Any, who: str | None, at: datetime | None
    ) -> None:
        calls: dict[str, Callable[[PlantData], Record]] = {
            "acknowledge": lambda plant: plant.acknowledge(exception_id, who=who, at=at),
            "assign": lambda plant: plant.assign(exception_id, argument, who=who, at=at),
            "note": lambda plant: plant.note(exception_id, argument, who=who, at=at),
            "snooze": lambda plant: plant.snooze(exception_id, argument, who=who, at=at),
            "resolve": lambda plant: plant.resolve(exception_id, who=who, at=at, reason=argument),
            "reopen": lambda plant: plant.reopen(exception_id, who=who, at=at),
        }
        try:
            with console_of(self).reading() as plant:
                state = calls[action](plant)
        except PlannerError as error:
            self.post_message(TriageDone(exception_id, action, None, str(error)))
            return
        except Exception as error:  # noqa: BLE001 - never a traceback in the planner's face
            self.post_message(TriageDone(exception_id, action, None, f"{action} failed: {error!r}"))
            return
        self.post_message(TriageDone(exception_id, action, state))

    def on_triage_done(self, message: TriageDone) -> None:
        message.stop()
        if message.error:
            self.app.notify(message.error, title=f"{message.exception_id}", severity="error")
        else:
            who = console_of(self).user or "you"
            self.app.notify(f"{message.exception_id} {PAST.get(message.action, message.action)} by {who}", timeout=3)
        self.triage_changed(message)

    def triage_changed(self, message: TriageDone) -> None:
        """Refresh whatever shows the exception (override)."""
