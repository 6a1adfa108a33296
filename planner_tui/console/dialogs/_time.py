"""What the dialogs that ask for a time share (snooze until, the time slider's moment): a few presets to
pick, each with its key, or a typed time checked as it is submitted."""

from __future__ import annotations

from datetime import datetime

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Input, Label, OptionList
from textual.widgets.option_list import Option

from planner_tui.console.dialogs._base import Dialog
from planner_tui.errors import PlannerError
from planner_tui.present import moment


class TimeDialog(Dialog[datetime]):
    """Dismisses with the time picked or typed (naive UTC), or None. A subclass names its widgets (`prefix`:
    #PREFIX-presets, #PREFIX-time, #PREFIX-error), gives its heading, presets, placeholder and hint, reads a typed
    time (`parse`), and binds its preset keys to `preset(i)`."""

    prefix = ""
    heading = ""
    placeholder = ""
    hint = ""
    preset_width = 8  # the preset's name column

    def __init__(self, now: datetime, presets: list[tuple[str, datetime]]) -> None:
        super().__init__()
        self.now = now
        self.presets = presets

    def parse(self, text: str) -> datetime:  # pragma: no cover - each subclass reads its own
        raise NotImplementedError

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(self.heading, classes="dialog-title")
            yield OptionList(
                *[Option(f"{label:<{self.preset_width}} {when:%a} {moment(when)} UTC") for label, when in self.presets],
                id=f"{self.prefix}-presets",
            )
            yield Input(placeholder=self.placeholder, id=f"{self.prefix}-time")
            yield Label("", id=f"{self.prefix}-error", classes="dialog-error")
            yield Label(self.hint, classes="dialog-hint")

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        options.highlighted = 0
        options.focus()

    def action_preset(self, index: int) -> None:
        if isinstance(self.focused, Input):
            return  # a preset's key typed into the time field is text, not a preset
        self.dismiss(self.presets[index][1])

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return not (action == "preset" and isinstance(self.focused, Input))

    @on(OptionList.OptionSelected)
    def _picked(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(self.presets[event.option_index][1])

    @on(Input.Submitted)
    def _typed(self, event: Input.Submitted) -> None:
        error = self.query_one(f"#{self.prefix}-error", Label)
        if not event.value.strip():
            error.update("type a time, or Tab back to the presets")
            return
        try:
            when = self.parse(event.value)
        except PlannerError as problem:
            error.update(str(problem))
            return
        self.dismiss(when)
