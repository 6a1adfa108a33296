"""The `?` screen: every key of the screen underneath, from its live bindings, plus the table keys."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

TABLE_KEYS = (
    ("up / down, j / k", "move in a table"),
    ("page up / page down, home / end", "move by a page, to the top or bottom"),
    ("enter", "open what the row is about (drill down)"),
    ("escape", "back to the previous screen"),
)


class HelpScreen(ModalScreen[None]):
    crumb = "Keys"
    BINDINGS = [
        Binding("escape,q,question_mark", "dismiss", "Close", id="help.close"),
    ]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 76; max-width: 100%; height: auto; max-height: 100%;
        border: round $accent; background: $surface; padding: 0 1;
    }
    """

    def __init__(self, bindings: list[tuple[str, str]]) -> None:
        super().__init__()
        self.rows = bindings

    def compose(self) -> ComposeResult:
        table = Table(box=None, show_header=True, expand=True, pad_edge=False)
        table.add_column("key", style="bold", no_wrap=True)
        table.add_column("what it does")
        for key, description in self.rows:
            table.add_row(key, description)
        for key, description in TABLE_KEYS:
            table.add_row(key, description)
        with VerticalScroll():
            yield Static(Text("Keys (escape closes)", style="bold"))
            yield Static(table)

    def action_dismiss(self) -> None:  # type: ignore[override]
        self.dismiss(None)


KEY_NAMES = {"question_mark": "?", "slash": "/", "escape": "esc", "ctrl+p": "ctrl+p", "shift+tab": "shift+tab"}


def key_name(key: str) -> str:
    """Keys as a planner types them: ? and /, not question_mark and slash."""
    return KEY_NAMES.get(key, key)


def describe_bindings(app) -> list[tuple[str, str]]:
    """Every binding active on the current screen and app, once each, as (key, description)."""
    seen: dict[str, str] = {}
    for key, active in app.active_bindings.items():
        binding = active.binding
        description = binding.description or binding.action.replace("_", " ")
        seen.setdefault(key_name(key), description)
    seen.setdefault("ctrl+p", "command palette: go to a machine, order, lot, item; impact of a machine; trace a lot")
    return sorted(seen.items(), key=lambda kv: (len(kv[0]) > 1, kv[0].lower()))
