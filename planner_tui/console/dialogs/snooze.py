"""Snooze an exception until a time: presets (+1h, +4h, tomorrow 06:00) or a typed ISO time."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import Input, Label, OptionList
from textual.widgets.option_list import Option

from planner_tui.access.rules import parse_until
from planner_tui.console.dialogs._base import Dialog
from planner_tui.errors import BadRequest, PlannerError
from planner_tui.present import moment


def snooze_presets(now: datetime) -> list[tuple[str, datetime]]:
    tomorrow_six = (now + timedelta(days=1)).replace(hour=6, minute=0, second=0, microsecond=0)
    return [
        ("+1h", (now + timedelta(hours=1)).replace(microsecond=0)),
        ("+4h", (now + timedelta(hours=4)).replace(microsecond=0)),
        ("tomorrow 06:00", tomorrow_six),
    ]


def parse_snooze(text: str, now: datetime) -> datetime:
    """A typed snooze end: ISO time (UTC), or a duration like 30m, 2h, 1d. Raises BadRequest with why."""
    until = parse_until(text.strip(), now=now)
    if until <= now:
        raise BadRequest(f"{moment(until)} is not after now ({moment(now)})")
    return until


class SnoozeDialog(Dialog[datetime]):
    """Dismisses with the snooze end (naive UTC), or None."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("1", "preset(0)", "+1h", id="snooze.1h"),
        Binding("4", "preset(1)", "+4h", id="snooze.4h"),
        Binding("t", "preset(2)", "Tomorrow 06:00", id="snooze.tomorrow"),
    ]

    def __init__(self, exception_id: str, now: datetime) -> None:
        super().__init__()
        self.exception_id = exception_id
        self.now = now
        self.presets = snooze_presets(now)

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(f"Snooze {self.exception_id} until", classes="dialog-title")
            yield OptionList(
                *[Option(f"{name:<15} {until:%a} {moment(until)} UTC") for name, until in self.presets],
                id="snooze-presets",
            )
            yield Input(placeholder="or type a time: 2026-11-26T14:00 or 90m, 2h, 1d", id="snooze-time")
            yield Label("", id="snooze-error", classes="dialog-error")
            yield Label("Enter pick  Tab typed time  1/4/t presets  Esc cancel", classes="dialog-hint")

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        options.highlighted = 0
        options.focus()

    def action_preset(self, index: int) -> None:
        if isinstance(self.focused, Input):
            return  # typing "1" or "t" into the time field is text, not a preset
        self.dismiss(self.presets[index][1])

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return not (action == "preset" and isinstance(self.focused, Input))

    @on(OptionList.OptionSelected)
    def _picked(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(self.presets[event.option_index][1])

    @on(Input.Submitted, "#snooze-time")
    def _typed(self, event: Input.Submitted) -> None:
        error = self.query_one("#snooze-error", Label)
        if not event.value.strip():
            error.update("type a time, or Tab back to the presets")
            return
        try:
            until = parse_snooze(event.value, self.now)
        except PlannerError as problem:
            error.update(str(problem))
            return
        self.dismiss(until)
