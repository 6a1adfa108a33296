"""Item -> shortage: the projected balance drawn over time (zero and safety stock marked, dates labelled)
and the table of supply and demand, where the demands that find the balance below zero are the affected
orders, each drillable."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import DataTable, Static

from planner_tui.access import PlantData, Record
from planner_tui.console.screens._common import DrillScreen
from planner_tui.present import moment, quantity, short_time
from planner_tui.timeutil import as_datetime

# Chart cells. Shapes differ as well as colours, so the chart reads with NO_COLOR too.
FULL, SHORT, ZERO, SAFETY, EMPTY = "█", "▒", "─", "┄", " "

# A projection point's kind -> the drill kind of its ref.
POINT_DRILL = {"production_order": "production_order", "component": "production_order", "sales_order": "sales_order"}
POINT_WORDS = {
    "on_hand": "on hand now",
    "purchase_order": "purchase order due",
    "production_order": "made by order",
    "component": "consumed by order",
    "sales_order": "customer line",
}


def _balance_at_columns(
    points: list[Record], on_hand: float, start: datetime, end: datetime, width: int
) -> list[float]:
    """The lowest balance within each column's time slice: a dip between two columns still shows."""
    span = (end - start).total_seconds() or 1.0
    edges = [start + timedelta(seconds=span * c / width) for c in range(width + 1)]
    values: list[float] = []
    balance = on_hand
    i = 0
    ordered = [(as_datetime(p["at"]) or start, float(p["balance"])) for p in points]
    for c in range(width):
        low = balance
        # every point up to the slice's end moves the balance; the slice keeps the lowest seen
        while i < len(ordered) and (ordered[i][0] < edges[c + 1] or (c == width - 1 and ordered[i][0] <= end)):
            balance = ordered[i][1]
            low = min(low, balance)
            i += 1
        values.append(low)
    return values


def projection_chart(
    points: list[Record], *, on_hand: float, safety_stock: float, start: datetime, width: int = 60, height: int = 8
) -> list[Text]:
    """The balance over time as text rows: bars from the zero line (█ above, ▒ short below), the safety
    stock as ┄, a value axis on the left and dates under it."""
    axis_w = 9
    plot_w = max(10, width - axis_w - 1)
    last = max((as_datetime(p["at"]) or start for p in points), default=start)
    end = max(last + (last - start) / 20, start + timedelta(days=1))
    cols = _balance_at_columns(points, on_hand, start, end, plot_w)
    top = max(max(cols, default=0.0), safety_stock, 0.0)
    bottom = min(min(cols, default=0.0), 0.0)
    if top == bottom:
        top = bottom + 1.0
    rows = max(3, height)
    step = (top - bottom) / (rows - 1)

    def row_of(value: float) -> int:  # 0 is the top row
        return round((top - value) / step)

    zero_row = row_of(0.0)
    safety_row = row_of(safety_stock) if safety_stock > 0 else None
    lines: list[Text] = []
    for r in range(rows):
        if r == 0:
            label = quantity(top)
        elif r == zero_row:
            label = "0"
        elif r == safety_row:
            label = f"SS {quantity(safety_stock)}"
        elif r == rows - 1:
            label = quantity(bottom)
        else:
            label = ""
        line = Text(f"{label:>{axis_w}}│", style="dim", no_wrap=True)
        for value in cols:
            value_row = row_of(value)
            if value >= 0 and value_row <= r < zero_row:
                line.append(FULL, style="yellow" if value < safety_stock else "green")
            elif value < 0 and zero_row < r <= value_row:
                line.append(SHORT, style="bold red")
            elif r == zero_row:
                line.append(ZERO, style="dim")
            elif r == safety_row:
                line.append(SAFETY, style="yellow")
            else:
                line.append(EMPTY)
        lines.append(line)
    # Dates under the plot: the start, the end and two ticks between, where they fit.
    ticks = Text(" " * (axis_w + 1), no_wrap=True)
    labels = [" "] * plot_w
    span = end - start
    for frac in (0.0, 1 / 3, 2 / 3):
        when = start + span * frac
        text = short_time(when)
        pos = int(frac * plot_w)
        if pos + len(text) <= plot_w and all(c == " " for c in labels[max(0, pos - 1) : pos + len(text) + 1]):
            labels[pos : pos + len(text)] = list(text)
    end_text = short_time(end)
    if all(c == " " for c in labels[plot_w - len(end_text) - 1 :]):
        labels[plot_w - len(end_text) :] = list(end_text)
    ticks.append("".join(labels), style="dim")
    lines.append(ticks)
    return lines


class ProjectionChart(Static):
    """The chart widget: redraws at its own width (its CSS is in drilldown.tcss)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.projection: Record | None = None

    def set_projection(self, projection: Record) -> None:
        self.projection = projection
        self._draw()

    def on_resize(self) -> None:
        self._draw()

    def _draw(self) -> None:
        p = self.projection
        if p is None:
            return
        start = as_datetime(p.get("at")) or datetime(2000, 1, 1)
        width = max(30, (self.size.width or 80) - 2)
        rows = projection_chart(
            p.get("points") or [],
            on_hand=float(p.get("on_hand") or 0),
            safety_stock=float(p.get("safety_stock") or 0),
            start=start,
            width=width,
            height=7,
        )
        legend = Text(
            "  █ balance   ▒ SHORT (below zero)   ┄ safety stock   ─ zero      Enter on a row opens its order",
            style="dim",
        )
        self.update(Text("\n").join(rows + [legend]))


class ShortageScreen(DrillScreen):
    """Item -> its projected balance and the orders that find it short."""

    kind = "item"

    @property
    def crumb(self) -> str:
        return f"{self.ident} shortage"

    def compose_body(self) -> ComposeResult:
        yield Static(id="drill-summary")
        yield ProjectionChart(id="shortage-chart")
        yield DataTable(id="shortage-table", cursor_type="row", zebra_stripes=True)

    def fetch(self, plant: PlantData, at: datetime) -> Record:
        return plant.projection(self.ident, at=at)

    def show(self, data: Record, *, first: bool) -> None:
        self.query_one("#drill-summary", Static).update(self._summary(data))
        self.query_one(ProjectionChart).set_projection(data)
        table = self.query_one(DataTable)
        cursor = table.cursor_row
        table.clear(columns=True)
        table.add_columns("when", "what", "order", "qty", "balance", "flag")
        for i, p in enumerate(data.get("points") or []):
            balance = float(p.get("balance") or 0)
            delta = float(p.get("delta") or 0)
            if balance < 0 and delta < 0:
                flag = Text("SHORT: affected", style="bold red")
            elif balance < 0:
                flag = Text("still short", style="red")
            elif balance < float(data.get("safety_stock") or 0):
                flag = Text("below safety", style="yellow")
            else:
                flag = Text("")
            if p.get("overdue"):
                flag.append(" overdue" if flag.plain else "overdue", style="italic")
            kind = p.get("kind") or ""
            table.add_row(
                moment(p.get("at")),
                POINT_WORDS.get(kind, kind),
                p.get("ref") or "",
                Text(f"{delta:+,.0f}" if delta == int(delta) else f"{delta:+,.2f}", justify="right"),
                Text(quantity(balance), justify="right", style="bold red" if balance < 0 else ""),
                flag,
                key=str(i),
            )
        if not first and cursor > 0:
            table.move_cursor(row=min(cursor, table.row_count - 1))
        if first:
            table.focus()

    def _summary(self, data: Record) -> Text:
        text = Text.assemble(
            ("item ", ""), (self.ident, "bold"), f" {data.get('description') or ''}  buyer {data.get('buyer') or '-'}\n"
        )
        text.append(
            f"on hand {quantity(data.get('on_hand'))}, safety stock {quantity(data.get('safety_stock'))}, "
            f"lowest {quantity(data.get('min_balance'))}  "
        )
        if data.get("first_short_at"):
            text.append(f"SHORT from {moment(data.get('first_short_at'))}", style="bold red")
            recovers = data.get("recovers_at")
            text.append(f", recovers {moment(recovers)}" if recovers else ", does not recover in view")
        elif data.get("below_safety_at"):
            text.append(f"below safety stock from {moment(data.get('below_safety_at'))}", style="yellow")
        else:
            text.append("covered", style="green")
        return text

    def affected(self) -> list[Record]:
        """The demands that find the balance below zero (the issue's affected orders)."""
        return [
            p
            for p in (self.data or {}).get("points", [])
            if float(p.get("balance") or 0) < 0 and float(p.get("delta") or 0) < 0
        ]

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self._open(int(event.row_key.value or 0))

    def action_open_row(self) -> None:
        table = self.query_one(DataTable)
        if table.row_count:
            self._open(table.cursor_row)

    def _open(self, index: int) -> None:
        points = (self.data or {}).get("points") or []
        if not 0 <= index < len(points):
            return
        p = points[index]
        kind = POINT_DRILL.get(p.get("kind") or "")
        if kind and p.get("ref"):
            self.drill(kind, str(p["ref"]))
        else:
            self.app.notify(
                f"{POINT_WORDS.get(p.get('kind'), p.get('kind'))} {p.get('ref') or ''}: nothing to open",
                severity="information",
            )
