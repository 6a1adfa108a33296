"""The time slider's prompt (`t`): which moment to show the plant at. Presets step back from now; a typed
time is an ISO time (UTC) or how long ago (90m, 2h, 1d)."""

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
from planner_tui.timeutil import parse_timestamp

STEPS = (("1h ago", timedelta(hours=1)), ("4h ago", timedelta(hours=4)), ("8h ago", timedelta(hours=8)))


def as_of_presets(now: datetime) -> list[tuple[str, datetime]]:
    return [(name, (now - step).replace(second=0, microsecond=0)) for name, step in STEPS]


def parse_moment(text: str, now: datetime) -> datetime:
    """A typed moment: an ISO time (UTC), or how long ago (30m, 2h, 1d). BadRequest with why."""
    text = text.strip()
    if text and text[0].isdigit() and text[-1] in "smhd" and not any(c in text for c in "-:T"):
        ago = parse_until(text, now=now) - now
        moment_asked = now - ago
    else:
        moment_asked = parse_timestamp(text.removesuffix(" UTC"), what="the moment")
    if moment_asked > now:
        raise BadRequest(f"{moment(moment_asked)} is after now ({moment(now)}): the slider shows the past")
    return moment_asked


class AsOfDialog(Dialog[datetime]):
    """Dismisses with the moment to show (naive UTC), or None."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("1", "preset(0)", "1h ago", id="as_of.1h"),
        Binding("4", "preset(1)", "4h ago", id="as_of.4h"),
        Binding("8", "preset(2)", "8h ago", id="as_of.8h"),
    ]

    def __init__(self, now: datetime) -> None:
        super().__init__()
        self.now = now
        self.presets = as_of_presets(now)

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label("Show the plant as it stood at", classes="dialog-title")
            yield OptionList(
                *[Option(f"{name:<8} {when:%a} {moment(when)} UTC") for name, when in self.presets],
                id="as-of-presets",
            )
            yield Input(placeholder="or type a time: 2026-11-23T07:00, or how long ago: 90m, 2h, 1d", id="as-of-time")
            yield Label("", id="as-of-error", classes="dialog-error")
            yield Label("Enter pick  Tab typed time  1/4/8 presets  Esc cancel", classes="dialog-hint")

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        options.highlighted = 0
        options.focus()

    def action_preset(self, index: int) -> None:
        if isinstance(self.focused, Input):
            return
        self.dismiss(self.presets[index][1])

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return not (action == "preset" and isinstance(self.focused, Input))

    @on(OptionList.OptionSelected)
    def _picked(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(self.presets[event.option_index][1])

    @on(Input.Submitted, "#as-of-time")
    def _typed(self, event: Input.Submitted) -> None:
        error = self.query_one("#as-of-error", Label)
        if not event.value.strip():
            error.update("type a time, or Tab back to the presets")
            return
        try:
            when = parse_moment(event.value, self.now)
        except PlannerError as problem:
            error.update(str(problem))
            return
        self.dismiss(when)
