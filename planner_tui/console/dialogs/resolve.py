"""Resolve an exception: an optional reason (kept in its history), and for a critical one a plain question
first, so one key never closes what matters most."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Input, Label

from planner_tui.access.rules import MAX_NOTE_LENGTH
from planner_tui.console.dialogs._base import Dialog


class ResolveDialog(Dialog[str]):
    """Dismisses with the reason ("" for none) to resolve, or None to leave it open."""

    def __init__(self, exception_id: str, *, critical: bool = False) -> None:
        super().__init__()
        self.exception_id = exception_id
        self.critical = critical

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            if self.critical:
                yield Label(f"Resolve {self.exception_id}? It is CRITICAL.", classes="dialog-title")
            else:
                yield Label(f"Resolve {self.exception_id}", classes="dialog-title")
            yield Input(
                placeholder="why it is done (optional): fitter replaced the drive...",
                max_length=MAX_NOTE_LENGTH,
                id="resolve-reason",
            )
            yield Label("Enter resolve   Esc leave it open", classes="dialog-hint")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    @on(Input.Submitted)
    def _submit(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip())
