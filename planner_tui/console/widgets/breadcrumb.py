"""The breadcrumb: where the planner is in the screen stack, e.g. "Plant > M-WELD-01 impact > PO-1042"."""

from __future__ import annotations

from typing import Any

from textual.app import App
from textual.widgets import Static

from planner_tui.console.context import Crumbed

SEPARATOR = " > "


def trail(app: App[Any]) -> list[str]:
    """Each screen's ``crumb`` (screens without one, like the toast layer or a dialog, are skipped)."""
    return [str(screen.crumb) for screen in app.screen_stack if isinstance(screen, Crumbed) and screen.crumb]


class Breadcrumb(Static):
    """Shows the screen stack's titles; any screen may compose one. It refreshes itself when its
    screen is shown again, so it is always right for the screen it sits on."""

    DEFAULT_CSS = """
    Breadcrumb { height: 1; width: 1fr; padding: 0 1; background: $boost; color: $text-muted; }
    """

    def on_mount(self) -> None:
        self.update_trail()
        self.app.screen_change_signal.subscribe(self, lambda _screen: self.update_trail())

    def on_show(self) -> None:
        self.update_trail()

    def update_trail(self) -> None:
        crumbs = trail(self.app)
        # Only the screens up to (and including) the one this widget sits on.
        mine = self.screen.crumb if isinstance(self.screen, Crumbed) else None
        if mine is not None and mine in crumbs:
            crumbs = crumbs[: len(crumbs) - crumbs[::-1].index(mine)]
        text = SEPARATOR.join(crumbs)
        if self.size.width and len(text) > self.size.width - 2:
            text = "…" + text[-(self.size.width - 3) :]
        self.update(text)
