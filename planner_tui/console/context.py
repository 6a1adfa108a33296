"""What the console's screens, dialogs, widgets and palette need from the app that hosts them.

`ConsoleApp` is that interface, typed; `PlannerApp` implements it. A screen reaches it with
``console_of(self)`` (never ``getattr(self.app, ...)``), and reads the plant only inside
``console_of(self).reading()``: it registers the read with the app (quitting waits for it before the
plant is closed) and gives the `PlantData` to ask.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from textual.app import App
from textual.worker import Worker

from planner_tui.access import PlantData, Record


@runtime_checkable
class ConsoleApp(Protocol):
    """The planner console's app, as its screens see it."""

    user: str  # who triage actions are recorded as
    data_version: int  # bumped after every applied feed batch: a screen that missed one reloads
    feed_status: Record | None  # the feed as of its last poll (PlantData.feed_status), None without one
    feed_error: str | None  # the feed could not be opened at all
    disconnected: str | None  # the plant server cannot be reached (why), None when connected or local
    as_of: datetime | None  # the time slider: the moment every panel shows (None: now)
    last_looked: datetime | None  # when this person last left this plant's console (console/looked.py)

    def now(self) -> datetime:
        """The console's clock: pinned (--at), a replay clock, or the real UTC clock."""
        ...

    def triage_time(self) -> datetime | None:
        """When a triage action is recorded: None, the plant's real clock (never the pinned --at)."""
        ...

    @property
    def clock_pinned(self) -> bool:
        """True when --at pinned the clock (nothing ages: no periodic refresh)."""
        ...

    @property
    def clock_speed(self) -> float:
        """How many times faster than real time the clock runs (a replay's speed, else 1): lags are shown in
        real seconds, divided by it."""
        ...

    @property
    def clock_note(self) -> str | None:
        """Said beside the clock when it is not the real time ("pinned", "replay x60")."""
        ...

    def reading(self) -> AbstractContextManager[PlantData]:
        """Wrap every plant call of a worker: ``with console_of(self).reading() as plant: ...``.
        Raises PlantUnavailable once the console is closing."""
        ...

    def action_drill(self, kind: str, ident: str) -> None:
        """Open the drill-down screen for an id (see navigation.screen_for)."""
        ...

    def report_worker_failure(self, worker: Worker[Any]) -> None:
        """A worker failed: tell the planner (a notification), never crash."""
        ...


class InApp(Protocol):
    """Anything Textual places in an app: a screen, widget, command provider."""

    @property
    def app(self) -> App[Any]: ...


def console_of(node: InApp) -> ConsoleApp:
    """The console app hosting `node` (a screen, dialog, widget or command provider)."""
    app = node.app
    if not isinstance(app, ConsoleApp):
        raise TypeError(
            f"{type(app).__name__} does not host the planner console: it lacks what "
            "planner_tui.console.context.ConsoleApp asks for"
        )
    return app


@runtime_checkable
class Crumbed(Protocol):
    """A screen that names itself in the breadcrumb ("Plant", "M-WELD-01 impact")."""

    @property
    def crumb(self) -> str: ...
