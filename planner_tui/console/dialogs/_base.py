"""What the triage dialogs share: a centred box, a title, a hint line, Escape to cancel (dialogs.tcss)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, TypeVar

from textual.binding import Binding, BindingType
from textual.screen import ModalScreen

T = TypeVar("T")

# Absolute, so a dialog subclassed in another folder still finds it. Textual loads a screen's CSS_PATH
# when the screen is first shown; the selectors name the dialog classes, so it styles nothing else.
DIALOGS_TCSS = Path(__file__).with_name("dialogs.tcss")


class Dialog(ModalScreen[T]):
    CSS_PATH = DIALOGS_TCSS
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel", id="dialog.cancel")]

    def action_cancel(self) -> None:
        self.dismiss(None)
