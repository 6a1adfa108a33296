"""Add a note to an exception: one line of text."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Input, Label

from planner_tui.access.rules import MAX_NOTE_LENGTH as MAX_NOTE
from planner_tui.console.dialogs._base import Dialog


class NoteDialog(Dialog[str]):
    """Dismisses with the note text (stripped, not empty), or None."""

    def __init__(self, exception_id: str) -> None:
        super().__init__()
        self.exception_id = exception_id

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(f"Note on {self.exception_id}", classes="dialog-title")
            yield Input(placeholder="what happened, what was agreed...", max_length=MAX_NOTE, id="note-text")
            yield Label("", id="note-error", classes="dialog-error")
            yield Label("Enter save   Esc cancel", classes="dialog-hint")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    @on(Input.Submitted)
    def _submit(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        if not text:
            self.query_one("#note-error", Label).update("a note must not be empty")
            return
        self.dismiss(text)
