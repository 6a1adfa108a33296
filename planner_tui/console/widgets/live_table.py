"""A DataTable that is updated in place by row key, keeps the cursor, filters, and marks what changed."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey

from planner_tui.console.widgets.panels import ROW_LIMIT, Column, Row

MORE_KEY = "__more__"
HIGHLIGHT_SECONDS = 4.0
HIGHLIGHT_STYLE = "reverse"  # visible with NO_COLOR too


def _plain(cell: Any) -> str:
    return cell.plain if isinstance(cell, Text) else str(cell)


class LiveTable(DataTable[Any]):
    """Rows come from ``show(rows)``; the table keeps them all and displays the filtered first
    ``limit`` of them, plus one "N more" row, so a 100,000-row answer never becomes 100,000 rows."""

    # Enter shows in the footer: a new user must see how to go in.
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", "Open", id="table.open", key_display="enter"),
    ]

    DEFAULT_CSS = """
    LiveTable { height: 1fr; width: 1fr; }
    """

    def __init__(self, columns: Sequence[Column], *, limit: int = ROW_LIMIT, empty: str = "", **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kwargs)
        self.spec = tuple(columns)
        self.limit = limit
        self.empty_text = empty
        self.all_rows: list[Row] = []
        self.filter_text = ""
        self.drill: dict[str, tuple[str, str]] = {}
        self.loaded = False
        self._shown: dict[str, tuple[Any, ...]] = {}  # row key -> cells as last shown (before highlight)
        self._fresh: dict[tuple[str, str], float] = {}  # (row, column) -> highlight expiry
        self._matching = 0

    def on_mount(self) -> None:
        for column in self.spec:
            self.add_column(column.label, width=column.width, key=column.key)
        self.set_interval(1.0, self._fade_highlights)

    def on_resize(self) -> None:
        self.fit_flex_column()

    def fit_flex_column(self) -> None:
        """The flex column (the "why" or title) takes the width the fixed columns leave."""
        flex = [c for c in self.spec if c.flex]
        if not flex or not self.size.width:
            return
        padding = 2 * self.cell_padding
        # Fixed columns before the flex one must fit; those after it may scroll off to the right.
        index = self.spec.index(flex[0])
        used = sum(c.width + padding for c in self.spec[:index])
        width = max(flex[0].width, self.size.width - 2 - used - padding)
        column = self.columns.get(ColumnKey(flex[0].key))
        if column is not None and column.width != width:
            column.width = width
            self._require_update_dimensions = True
            self.refresh()

    # ------------------------------------------------------------------ data in

    def show(self, rows: list[Row] | None) -> None:
        """Replace the table's data; the display changes only where the data did."""
        first = not self.loaded
        self.all_rows = list(rows or [])
        self.loaded = True
        self._sync(highlight=not first)

    def set_filter(self, text: str) -> None:
        self.filter_text = text.strip().lower()
        self._sync(highlight=False)

    @property
    def matching(self) -> int:
        """How many rows match the filter (shown or not)."""
        return self._matching

    def visible_rows(self) -> list[Row]:
        words = self.filter_text.split()
        rows = [r for r in self.all_rows if all(w in r.search for w in words)] if words else self.all_rows
        self._matching = len(rows)
        shown = rows[: self.limit]
        if len(rows) > self.limit:
            more = len(rows) - self.limit
            shown = shown + [
                Row(MORE_KEY, (f"… {more:,} more",) + ("",) * (len(self.spec) - 2) + ("press / to narrow",))
            ]
        return shown

    @property
    def note(self) -> str:
        """What to say under an empty table ("no shortage ahead", or that the filter matches nothing)."""
        if not self.loaded or self._matching:
            return ""
        return f"no row matches '{self.filter_text}'" if self.filter_text else self.empty_text

    def _sync(self, *, highlight: bool) -> None:
        if not self.is_mounted:
            return
        wanted = self.visible_rows()
        wanted_keys = [r.key for r in wanted]
        current_keys = [key for row in self.ordered_rows if (key := row.key.value) is not None]
        self.drill = {r.key: r.drill for r in wanted if r.drill}
        now = time.monotonic()
        new_cells = {r.key: tuple(r.cells) for r in wanted}

        if set(wanted_keys) == set(current_keys) or self._appends_only(current_keys, wanted_keys):
            for key in current_keys:
                if key not in new_cells:
                    self.remove_row(key)
                    self._shown.pop(key, None)
            for row in wanted:
                old = self._shown.get(row.key)
                if old is None:
                    self.add_row(*row.cells, key=row.key)
                    if highlight and current_keys:
                        for column in self.spec:
                            self._fresh[(row.key, column.key)] = now + HIGHLIGHT_SECONDS
                elif old != row.cells:
                    for column, before, after in zip(self.spec, old, row.cells):
                        if _plain(before) != _plain(after) or before != after:
                            self.update_cell(row.key, column.key, after)
                            if highlight and _plain(before) != _plain(after):
                                self._fresh[(row.key, column.key)] = now + HIGHLIGHT_SECONDS
                self._shown[row.key] = row.cells
            if [r.key.value for r in self.ordered_rows] != wanted_keys:
                self._rebuild(wanted)
        else:
            if highlight:
                for row in wanted:
                    old = self._shown.get(row.key)
                    for index, column in enumerate(self.spec):
                        if old is None or _plain(old[index]) != _plain(row.cells[index]):
                            self._fresh[(row.key, column.key)] = now + HIGHLIGHT_SECONDS
            self._rebuild(wanted)
        self._paint_highlights()

    @staticmethod
    def _appends_only(current: list[str], wanted: list[str]) -> bool:
        """Rows only left or joined at the end: update in place rather than rebuild."""
        wanted_set = set(wanted)
        kept = [k for k in current if k in wanted_set]
        return wanted[: len(kept)] == kept

    def _rebuild(self, wanted: list[Row]) -> None:
        """The order changed (a machine stopped and moved up): refill, keeping the cursor on its row."""
        cursor_key = self.cursor_key
        at_top = self.cursor_row == 0  # on the first row: keep watching the top (worst first)
        scroll_y = self.scroll_y
        self.clear()
        self._shown = {}
        for row in wanted:
            self.add_row(*row.cells, key=row.key)
            self._shown[row.key] = row.cells
        keys = [r.key for r in wanted]
        if cursor_key in keys and not at_top:
            self.move_cursor(row=keys.index(cursor_key), animate=False, scroll=False)
        self.scroll_to(y=scroll_y, animate=False, immediate=True)

    @property
    def cursor_key(self) -> str | None:
        if not self.row_count:
            return None
        try:
            return self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        except Exception:  # noqa: BLE001 - a cursor on a row just removed: no key
            return None

    @property
    def cursor_detail(self) -> str:
        """The cursor row's flex column (the long text), in full."""
        key = self.cursor_key
        cells = self._shown.get(key) if key else None
        flex = [i for i, c in enumerate(self.spec) if c.flex]
        if not cells or not flex:
            return ""
        return _plain(cells[flex[0]])

    @property
    def cursor_drill(self) -> tuple[str, str] | None:
        key = self.cursor_key
        return self.drill.get(key) if key else None

    # ------------------------------------------------------------------ brief highlight of changes

    def _paint_highlights(self) -> None:
        for (row_key, column_key), _ in list(self._fresh.items()):
            cells = self._shown.get(row_key)
            if cells is None:
                self._fresh.pop((row_key, column_key), None)
                continue
            index = [c.key for c in self.spec].index(column_key)
            cell = cells[index]
            marked = cell.copy() if isinstance(cell, Text) else Text(str(cell))
            marked.stylize(HIGHLIGHT_STYLE)
            self.update_cell(row_key, column_key, marked)

    def _fade_highlights(self) -> None:
        if not self._fresh:
            return
        now = time.monotonic()
        expired = [k for k, until in self._fresh.items() if until <= now]
        if not expired:
            return
        with self.app.batch_update():
            for row_key, column_key in expired:
                self._fresh.pop((row_key, column_key), None)
                cells = self._shown.get(row_key)
                if cells is not None:
                    index = [c.key for c in self.spec].index(column_key)
                    self.update_cell(row_key, column_key, cells[index])

    @property
    def highlighted_cells(self) -> set[tuple[str, str]]:
        return set(self._fresh)
