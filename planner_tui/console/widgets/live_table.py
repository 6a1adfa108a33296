"""A DataTable that is updated in place by row key, keeps the cursor, filters, and marks what changed."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, ClassVar

from rich.cells import cell_len
from rich.console import RenderableType
from rich.text import Text
from textual.binding import Binding, BindingType
from textual.widgets import DataTable
from textual.widgets._data_table import RowRenderables
from textual.widgets.data_table import ColumnKey

from planner_tui.console.widgets.panels import ROW_LIMIT, Column, Row
from planner_tui.present import ELLIPSIS, clip

MORE_KEY = "__more__"
HIGHLIGHT_SECONDS = 4.0
HIGHLIGHT_STYLE = "reverse"  # visible with NO_COLOR too


def _plain(cell: Any) -> str:
    return cell.plain if isinstance(cell, Text) else str(cell)


# Room a table keeps on its right for the vertical scrollbar.
SCROLLBAR = 2


def fit_columns(spec: Sequence[Column], room: int, padding: int) -> list[tuple[Column, int]]:
    """The columns shown in `room` cells, with their widths, so that nothing scrolls sideways.

    The flex column (the long text) keeps its `want`: first every other column shrinks to its narrowest,
    then the columns with a drop rank leave, lowest rank first; a column that shrank gets its width back
    if the flex column can spare it. The flex column takes what is left (never less than its width)."""
    flex = next((c for c in spec if c.flex), None)
    if flex is None:
        return [(c, c.width) for c in spec]
    want = max(flex.want, flex.width)
    widths = {c.key: c.width for c in spec if not c.flex}
    shown = list(spec)

    def left() -> int:
        return room - sum(widths[c.key] + padding for c in shown if not c.flex) - padding

    if left() < want:
        widths = {c.key: c.narrowest for c in spec if not c.flex}
    for column in sorted((c for c in spec if c.drop and not c.flex), key=lambda c: c.drop):
        if left() >= want:
            break
        shown.remove(column)
    for column in shown:
        if column.flex or widths[column.key] >= column.width:
            continue
        if left() - (column.width - widths[column.key]) >= want:
            widths[column.key] = column.width
    width = max(left(), flex.width)
    return [(c, width if c.flex else widths[c.key]) for c in shown]


def header(column: Column, width: int) -> str:
    """The column's header in `width` cells: its label, else its short label, else the label cut."""
    if cell_len(column.label) <= width:
        return column.label
    if column.short and cell_len(column.short) <= width:
        return column.short
    return clip(column.label, width)


def fit_cell(cell: RenderableType, column: Column, width: int) -> RenderableType:
    """A cell as shown in `width` cells: its short form when the column has shrunk, then cut with an
    ellipsis at a word's end if still too long (the styles stay)."""
    if not isinstance(cell, Text):
        return cell
    if column.abbrev is not None and width < column.width and not column.flex:
        short = column.abbrev(cell.plain)
        if short != cell.plain:
            whole = [span.style for span in cell.spans if span.start == 0 and span.end >= len(cell.plain)]
            cell = Text(short, style=cell.style, justify=cell.justify, no_wrap=cell.no_wrap, end=cell.end)
            for style in whole:  # the brief highlight of a change covers the whole cell: it stays
                cell.stylize(style)
    if cell.cell_len <= width:
        return cell
    cut = clip(cell.plain, width)
    kept = cut[: -len(ELLIPSIS)] if cut.endswith(ELLIPSIS) else cut
    fitted = cell[: len(kept)]
    fitted.append(ELLIPSIS)
    fitted.no_wrap, fitted.end = cell.no_wrap, cell.end
    return fitted


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
        self._by_key = {c.key: c for c in self.spec}
        self._index = {c.key: i for i, c in enumerate(self.spec)}
        # The columns shown and their widths (fit_columns): all of them until the table knows its size.
        self.layout_columns: list[tuple[Column, int]] = [(c, c.width) for c in self.spec]

    def on_mount(self) -> None:
        for column, width in self.layout_columns:
            self.add_column(header(column, width), width=width, key=column.key)
        self.set_interval(1.0, self._fade_highlights)

    def on_resize(self) -> None:
        self.fit_columns()

    def fit_columns(self) -> None:
        """Columns sized to the table's width (see `fit_columns`): the long text gets the room, nothing
        scrolls sideways; a column that leaves or comes back rebuilds the table, keeping the cursor."""
        if not self.size.width:
            return
        layout = fit_columns(self.spec, self.size.width - SCROLLBAR, 2 * self.cell_padding)
        if [c.key for c, _ in layout] != [c.key for c, _ in self.layout_columns]:
            self.layout_columns = layout
            self._rebuild_columns()
            return
        self.layout_columns = layout
        changed = False
        for spec, width in layout:
            column = self.columns.get(ColumnKey(spec.key))
            if column is not None and column.width != width:
                column.width = width
                column.label = Text(header(spec, width))
                changed = True
        if changed:
            self._require_update_dimensions = True
            self._clear_caches()

    @property
    def shown_keys(self) -> list[str]:
        return [c.key for c, _ in self.layout_columns]

    def _cells(self, cells: Sequence[Any]) -> tuple[Any, ...]:
        """A row's cells for the columns shown."""
        return tuple(cells[self._index[key]] for key in self.shown_keys)

    def _rebuild_columns(self) -> None:
        cursor_key = self.cursor_key
        keys = [key for row in self.ordered_rows if (key := row.key.value) is not None]
        self.clear(columns=True)
        for column, width in self.layout_columns:
            self.add_column(header(column, width), width=width, key=column.key)
        for key in keys:
            self.add_row(*self._cells(self._shown[key]), key=key)
        if cursor_key in keys:
            self.move_cursor(row=keys.index(cursor_key), animate=False)
        self._paint_highlights()

    def _compute_row_renderables(self, row_index: int) -> RowRenderables:
        """Each cell fitted to its column's width (short forms, an ellipsis at a word's end), at drawing
        time: the table's data stays whole (get_row, the filter and the detail line read it)."""
        renderables = super()._compute_row_renderables(row_index)
        if row_index < 0:
            return renderables
        cells = [
            fit_cell(cell, self._by_key[str(column.key.value)], column.width)
            if column.key.value in self._by_key
            else cell
            for cell, column in zip(renderables.cells, self.ordered_columns)
        ]
        return RowRenderables(renderables.label, cells)

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
                    self.add_row(*self._cells(row.cells), key=row.key)
                    if highlight and current_keys:
                        for column in self.spec:
                            self._fresh[(row.key, column.key)] = now + HIGHLIGHT_SECONDS
                elif old != row.cells:
                    shown = self.shown_keys
                    for column, before, after in zip(self.spec, old, row.cells):
                        if _plain(before) != _plain(after) or before != after:
                            if column.key in shown:
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
            self.add_row(*self._cells(row.cells), key=row.key)
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
        shown = self.shown_keys
        for (row_key, column_key), _ in list(self._fresh.items()):
            cells = self._shown.get(row_key)
            if cells is None:
                self._fresh.pop((row_key, column_key), None)
                continue
            if column_key not in shown:
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
                if cells is not None and column_key in self.shown_keys:
                    index = [c.key for c in self.spec].index(column_key)
                    self.update_cell(row_key, column_key, cells[index])

    @property
    def highlighted_cells(self) -> set[tuple[str, str]]:
        return set(self._fresh)
