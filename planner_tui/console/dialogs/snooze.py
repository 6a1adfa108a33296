"""Snooze an exception until a time: presets (+1h, +4h, tomorrow 06:00) or a typed ISO time."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import ClassVar

from textual.binding import Binding, BindingType

from planner_tui.access.rules import parse_until
from planner_tui.console.dialogs._time import TimeDialog
from planner_tui.errors import BadRequest
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


class SnoozeDialog(TimeDialog):
    """Dismisses with the snooze end (naive UTC), or None."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("1", "preset(0)", "+1h", id="snooze.1h"),
        Binding("4", "preset(1)", "+4h", id="snooze.4h"),
        Binding("t", "preset(2)", "Tomorrow 06:00", id="snooze.tomorrow"),
    ]
    prefix = "snooze"
    placeholder = "or type a time: 2026-11-26T14:00 or 90m, 2h, 1d"
    hint = "Enter pick  Tab typed time  1/4/t presets  Esc cancel"
    preset_width = 15

    def __init__(self, exception_id: str, now: datetime) -> None:
        super().__init__(now, snooze_presets(now))
        self.exception_id = exception_id
        self.heading = f"Snooze {exception_id} until"

    def parse(self, text: str) -> datetime:
        return parse_snooze(text, self.now)
