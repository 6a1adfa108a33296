"""What if the stop lasts N? The downtime for a machine's impact, or how long a person or tool is
unavailable for a resource's: minutes, or 90m / 4h / 1.5d."""

from __future__ import annotations

import re

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Input, Label

from planner_tui.access.rules import MAX_DOWN_MINUTES
from planner_tui.console.dialogs._base import Dialog

_DURATION = re.compile(r"^\s*(?P<n>\d+(?:\.\d+)?)\s*(?P<unit>m|min|mins|minutes?|h|hours?|d|days?)?\s*$", re.IGNORECASE)


def parse_downtime(text: str) -> int:
    """Minutes from `240`, `90m`, `4h` or `1.5d`; ValueError says what is accepted."""
    match = _DURATION.match(text or "")
    if not match:
        raise ValueError(f"{text.strip()!r} is not a duration: type minutes (240) or 90m, 4h, 1.5d")
    n = float(match["n"])
    unit = (match["unit"] or "m")[0].lower()
    minutes = round(n * {"m": 1, "h": 60, "d": 1440}[unit])
    if minutes > MAX_DOWN_MINUTES:
        raise ValueError(f"{text.strip()!r} is too long: at most ten years")
    return minutes


class DowntimeDialog(Dialog[int]):
    """Dismisses with the downtime in minutes, or None."""

    def __init__(self, machine_id: str, current: int | None = None, *, question: str | None = None) -> None:
        super().__init__()
        self.machine_id = machine_id
        self.current = current
        self.question = question or f"How long will {machine_id} be down?"

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(self.question, classes="dialog-title")
            yield Input(
                value="" if self.current is None else str(self.current),
                placeholder="minutes, or 90m, 4h, 1.5d",
                id="downtime-value",
            )
            yield Label("", id="downtime-error", classes="dialog-error")
            yield Label("Enter recompute the impact   Esc cancel", classes="dialog-hint")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    @on(Input.Submitted)
    def _submit(self, event: Input.Submitted) -> None:
        try:
            minutes = parse_downtime(event.value)
        except ValueError as error:
            self.query_one("#downtime-error", Label).update(str(error))
            return
        self.dismiss(minutes)
