"""The time slider's prompt (`t`): which moment to show the plant at. Presets step back from now; a typed
time is an ISO time (UTC) or how long ago (90m, 2h, 1d)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import ClassVar

from textual.binding import Binding, BindingType

from planner_tui.access.rules import parse_until
from planner_tui.console.dialogs._time import TimeDialog
from planner_tui.errors import BadRequest
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


class AsOfDialog(TimeDialog):
    """Dismisses with the moment to show (naive UTC), or None."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("1", "preset(0)", "1h ago", id="as_of.1h"),
        Binding("4", "preset(1)", "4h ago", id="as_of.4h"),
        Binding("8", "preset(2)", "8h ago", id="as_of.8h"),
    ]
    prefix = "as-of"
    heading = "Show the plant as it stood at"
    placeholder = "or type a time: 2026-11-23T07:00, or how long ago: 90m, 2h, 1d"
    hint = "Enter pick  Tab typed time  1/4/8 presets  Esc cancel"

    def __init__(self, now: datetime) -> None:
        super().__init__(now, as_of_presets(now))

    def parse(self, text: str) -> datetime:
        return parse_moment(text, self.now)
