"""What the triage dialogs share: a centred box, a title, a hint line, Escape to cancel."""

from __future__ import annotations

from typing import TypeVar

from textual.binding import Binding
from textual.screen import ModalScreen

T = TypeVar("T")

DIALOG_CSS = """
{name} {{
    align: center middle;
    background: $background 60%;
}}
{name} > #dialog {{
    width: 64;
    max-width: 96%;
    height: auto;
    max-height: 90%;
    border: round $accent;
    background: $surface;
    padding: 0 1;
}}
{name} .dialog-title {{
    text-style: bold;
    width: 1fr;
    margin-bottom: 1;
}}
{name} .dialog-hint {{
    color: $text-muted;
    margin-top: 1;
}}
{name} OptionList:nocolor > .option-list--option-highlighted {{
    text-style: reverse;  /* without colour the highlight must still show */
}}
{name} .dialog-error {{
    color: $error;
    text-style: bold;
    height: auto;
}}
"""


class Dialog(ModalScreen[T]):
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="dialog.cancel")]

    def action_cancel(self) -> None:
        self.dismiss(None)
