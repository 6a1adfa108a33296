"""Assign an exception to a person: pick from the plant's owners, filtered as you type."""

from __future__ import annotations

from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import Input, Label, OptionList
from textual.widgets.option_list import Option

from planner_tui.access import Record
from planner_tui.console.context import console_of
from planner_tui.console.dialogs._base import Dialog


class AssignDialog(Dialog[str]):
    """Dismisses with the chosen person, or None. Typing filters the list (name or role); Up/Down move,
    Enter picks the highlighted person, or the typed name when nobody matches."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("down", "move(1)", "Next", id="assign.next", show=False),
        Binding("up", "move(-1)", "Previous", id="assign.previous", show=False),
    ]

    def __init__(
        self,
        exception_id: str,
        owners: list[Record] | None = None,
        *,
        current: str | None = None,
        owner: str | None = None,
    ) -> None:
        super().__init__()
        self.exception_id = exception_id
        self.owners = owners
        self.current = current
        self.owner = owner  # the exception's default owner: the likeliest pick, so listed first
        self.shown: list[Record] = []

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(f"Assign {self.exception_id} to", classes="dialog-title")
            yield Input(placeholder="type to filter: name or role", id="assign-filter")
            yield OptionList(id="assign-people")
            yield Label("", id="assign-error", classes="dialog-error")
            yield Label("Enter assign   Up/Down choose   Esc cancel", classes="dialog-hint")

    def on_mount(self) -> None:
        self.query_one(Input).focus()
        if self.owners is None:
            self.query_one(OptionList).loading = True
            self._load_owners()
        else:
            self._fill("")

    @work(thread=True, exclusive=True, exit_on_error=False, group="assign-owners")
    def _load_owners(self) -> None:
        try:
            with console_of(self).reading() as plant:
                people = plant.owners()
        except Exception as error:  # noqa: BLE001 - shown in the dialog; typing a name still works
            self.app.call_from_thread(self._owners_failed, str(error))
            return
        self.app.call_from_thread(self._owners_loaded, people)

    def _owners_loaded(self, people: list[Record]) -> None:
        self.owners = people
        self.query_one(OptionList).loading = False
        self._fill(self.query_one(Input).value)

    def _owners_failed(self, message: str) -> None:
        self.owners = []
        self.query_one(OptionList).loading = False
        self.query_one("#assign-error", Label).update(f"could not list owners: {message}")

    def _fill(self, needle: str) -> None:
        needle = needle.strip().lower()
        people = self.owners or []
        self.shown = sorted(
            (
                p
                for p in people
                if not needle or needle in p["person"].lower() or any(needle in r.lower() for r in p.get("roles", []))
            ),
            key=lambda p: p["person"] != self.owner,  # stable: the rest keep their order
        )
        options = self.query_one(OptionList)
        options.clear_options()
        for p in self.shown:
            mark = "  (assigned now)" if p["person"] == self.current else ""
            if p["person"] == self.owner:
                mark += "  (owner)"
            options.add_option(Option(f"{p['person']}  [dim]{', '.join(p.get('roles', []))}{mark}[/]"))
        if self.shown:
            options.highlighted = 0
        error = self.query_one("#assign-error", Label)
        if not self.shown and needle:
            error.update(f"nobody matches {needle!r}: Enter assigns to {needle!r} as typed")
        else:
            error.update("")

    @on(Input.Changed, "#assign-filter")
    def _filter(self, event: Input.Changed) -> None:
        self._fill(event.value)

    def action_move(self, step: int) -> None:
        options = self.query_one(OptionList)
        if not self.shown:
            return
        current = options.highlighted if options.highlighted is not None else -1
        options.highlighted = max(0, min(len(self.shown) - 1, current + step))

    @on(Input.Submitted, "#assign-filter")
    def _submit(self, event: Input.Submitted) -> None:
        options = self.query_one(OptionList)
        if self.shown and options.highlighted is not None:
            self.dismiss(self.shown[options.highlighted]["person"])
        elif event.value.strip():
            self.dismiss(event.value.strip())
        else:
            self.query_one("#assign-error", Label).update("choose a person, or type a name")

    @on(OptionList.OptionSelected)
    def _picked(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if 0 <= event.option_index < len(self.shown):
            self.dismiss(self.shown[event.option_index]["person"])
