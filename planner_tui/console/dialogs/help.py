"""The `?` screen: every key of the screen underneath, from its live bindings, plus the table keys."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from planner_tui.console.dialogs._base import DIALOGS_TCSS


class HelpScreen(ModalScreen[None]):
    CSS_PATH = DIALOGS_TCSS
    crumb = "Keys"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark", "dismiss", "Close", id="help.close"),
    ]

    def __init__(self, bindings: list[tuple[str, str]]) -> None:
        super().__init__()
        self.rows = bindings

    def compose(self) -> ComposeResult:
        table = Table(box=None, show_header=True, expand=True, pad_edge=False)
        table.add_column("key", style="bold", no_wrap=True)
        table.add_column("what it does")
        for key, description in self.rows:
            table.add_row(key, description)
        with VerticalScroll():
            yield Static(Text("Keys (escape closes)", style="bold"))
            yield Static(table)

    def action_dismiss(self) -> None:  # type: ignore[override]  # sync: closes at once
        self.dismiss(None)


KEY_NAMES = {"question_mark": "?", "slash": "/", "escape": "esc", "ctrl+p": "ctrl+p", "shift+tab": "shift+tab"}
# Say what a key does for a planner, not what the widget calls it.
PLAIN_WORDS = {
    "select_cursor": "open what the row is about (drill down)",
    "drill": "open what the row is about (drill down)",
    "back": "back to the previous screen",
    "command_palette": "go to a machine, resource, order, lot, item; impact of machine X or resource R; trace lot Y",
    "filter": "filter the focused table (enter keeps it, esc clears it)",
    "help": "this list of keys",
    "quit": "quit (the database is released)",
    "refresh": "refresh now (the screen also refreshes on every event)",
    "next_panel": "next panel",
    "previous_panel": "previous panel",
}
SKIPPED_ACTIONS = {"screen.copy_text", "copy_text", "scroll_left", "scroll_right"}
SKIPPED_KEYS = {"super+c", "ctrl+c", "ctrl+pageup", "ctrl+pagedown"}
FIRST = ["enter", "esc", "tab", "shift+tab", "/", "?", "ctrl+p", "q"]


def key_name(key: str) -> str:
    """Keys as a planner types them: ? and /, not question_mark and slash."""
    return KEY_NAMES.get(key, key)


def describe_bindings(app: App[Any]) -> list[tuple[str, str]]:
    """Every binding active on the current screen and app, once each, as (key, description);
    the everyday keys first."""
    seen: dict[str, str] = {}
    for key, active in app.active_bindings.items():
        binding = active.binding
        if key in SKIPPED_KEYS or binding.action in SKIPPED_ACTIONS:
            continue
        action = binding.action.split("(")[0].removeprefix("app.").removeprefix("screen.")
        description = PLAIN_WORDS.get(action) or binding.description or action.replace("_", " ")
        name = key_name(key)
        if name == "enter" and name in seen and action != "select_cursor":
            continue
        seen.setdefault(name, description)
        if action in ("drill", "select_cursor"):
            seen[name] = PLAIN_WORDS["drill"]
    seen.setdefault("ctrl+p", PLAIN_WORDS["command_palette"])
    return sorted(seen.items(), key=lambda kv: (FIRST.index(kv[0]) if kv[0] in FIRST else len(FIRST), kv[0]))
