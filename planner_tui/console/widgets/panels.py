"""What the main screen's panels show: one function per panel turns the plant's answers into table rows.

These run in worker threads (inside the app's ``reading()``), never on the UI thread; each asks the
plant through `PlantData`. Each returns a list of ``Row``: a stable key (so tables update in place), the
cells as shown, and the drill-down target. Words always carry the meaning (DOWN, critical...); colour
only repeats it, for NO_COLOR terminals.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rich.text import Text

from planner_tui.access import PlantData
from planner_tui.present import (
    MACHINE_STATE_STYLE,
    STATUS_STYLE,
    day_of,
    duration,
    eta,
    quantity,
    severity_short,
    severity_text,
    short_time,
    slip,
    sparkline,
    status_short,
)
from planner_tui.timeutil import as_datetime

log = logging.getLogger(__name__)

# How many rows a panel table holds; the rest are reached with `/` (filter). Textual's DataTable is
# comfortable up to a few thousand rows; beyond that a paged table is the honest answer.
ROW_LIMIT = 500
# Sparklines for the first shortages only (one query, but the points grow with the rows).
SPARK_ROWS = 60
# A shortage that does not recover within the plan's horizon.
NOT_IN_VIEW = "not in view"


@dataclass(frozen=True)
class Row:
    key: str
    cells: tuple[Any, ...]
    drill: tuple[str, str] | None = None  # (kind, ident) for PlannerApp.action_drill
    search: str = ""  # lower-case text the `/` filter matches
    # An exception's news, to mark what is new or changed since the planner last looked (MainScreen):
    raised_at: datetime | None = None
    acted_at: datetime | None = None  # its last triage action, and by whom
    acted_by: str | None = None


@dataclass(frozen=True)
class Column:
    """A panel's column. When the panel is narrow (80 columns, or a side panel at 120) the flex column
    (the long text) keeps `want` cells: first the others shrink to `least` (their cells shortened by
    `abbrev`, their header to `short`), then the ones with a `drop` rank leave the table, 1 first. Text
    still too long is cut with an ellipsis at a word's end (present.clip). See LiveTable.fit_columns."""

    key: str
    label: str
    width: int  # for a flex column: the least it gets
    flex: bool = False  # takes the width the others leave
    least: int = 0  # the narrowest it may get (0: its width, it never shrinks)
    short: str = ""  # the header when the column is narrower than its label
    abbrev: Callable[[str], str] | None = None  # a cell's short form, when the column has shrunk
    drop: int = 0  # leaves a table too narrow for it, lowest rank first (0: never)
    want: int = 0  # a flex column: the width it keeps before another column leaves (0: its width)

    @property
    def narrowest(self) -> int:
        return min(self.least, self.width) if self.least else self.width


@dataclass(frozen=True)
class Answer:
    """What a panel loader may return instead of bare rows: the rows, and what the plant could not check
    for them (one line each, said beside the panel: its rows may be missing some)."""

    rows: list[Row]
    problems: tuple[str, ...] = ()


def answer_of(loaded: list[Row] | Answer) -> Answer:
    return loaded if isinstance(loaded, Answer) else Answer(loaded)


@dataclass
class Panel:
    name: str  # key, also the widget id suffix
    title: str  # shown in the panel border and the panel switcher
    columns: tuple[Column, ...]
    load: Callable[[PlantData, datetime], list[Row] | Answer]  # (plant, at) -> rows
    empty: str = "nothing to show"
    short: str = ""  # the name in the panel switcher (80 columns hold all five)


# ---------------------------------------------------------------- panels


def load_machines(plant: PlantData, at: datetime) -> list[Row]:
    out = []
    for m in plant.machines():  # the `planner-tui machines` answer, stopped first
        machine_id, state, stopped = m["machine_id"], m["state"], m["stopped"]
        since = as_datetime(m["since"])
        # How long it has been stopped, as `planner-tui machines` says it (the drill-down has the time).
        stopped_for = duration((at - since).total_seconds() / 60) if stopped and since and since <= at else ""
        why = m["reason"] or ""
        if stopped and m["expected_minutes"] is not None:
            why = f"{why} (expect {duration(m['expected_minutes'], unknown='unknown')})".strip()
        state_cell = Text(state.upper() if stopped else state, style=MACHINE_STATE_STYLE.get(state, ""))
        out.append(
            Row(
                key=machine_id,
                cells=(machine_id, state_cell, stopped_for, why, m["supervisor"] or "", m["work_center"] or ""),
                drill=("machine", machine_id),
                search=" ".join(
                    str(m[k] or "") for k in ("machine_id", "name", "state", "reason", "supervisor", "work_center")
                ).lower(),
            )
        )
    return out


def load_exceptions(plant: PlantData, at: datetime, *, show_all: bool = False) -> Answer:
    """The inbox as `planner-tui exceptions` lists it: snoozed and resolved ones hidden, unless `show_all`
    (the console's `S`, the CLI's --all), when they are listed with their status."""
    answer = plant.exceptions(at=at, include_resolved=show_all, include_snoozed=show_all)
    items = answer.get("exceptions") or []
    out = []
    for e in items:  # in the engine's order, as the CLI lists them (causes before their consequences)
        severity = str(e.get("severity") or "")
        status = str(e.get("status") or "open")
        if e.get("cause_cleared"):
            status_cell = Text(f"{status}, cleared", style=STATUS_STYLE["cleared"])
        else:
            status_cell = Text(status, style=STATUS_STYLE.get(status, ""))
        who = e.get("assignee") or e.get("owner") or ""
        title = str(e.get("title") or e.get("exception_id"))
        action = e.get("last_action") or {}
        out.append(
            Row(
                key=str(e.get("exception_id")),
                cells=(severity_text(severity), duration(e.get("age_minutes")), status_cell, who, title),
                drill=("exception", str(e.get("exception_id"))),
                search=" ".join(
                    str(x or "") for x in (severity, status, who, title, e.get("kind"), e.get("subject_id"))
                ).lower(),
                raised_at=as_datetime(e.get("raised_at")),
                acted_at=as_datetime(action.get("at")),
                acted_by=action.get("who"),
            )
        )
    # A kind the plant could not check (a loop in its data) is missing from the rows: say so.
    return Answer(out, tuple(str(p) for p in answer.get("problems") or ()))


def load_orders_at_risk(plant: PlantData, at: datetime) -> list[Row]:
    """Lines late (ETA's day after the promise, by a stop or already in the plan) or whose ETA moved.

    The engine's order: late first, then the biggest slip. Status is where the line stands against its
    promise: OVERDUE (open after its promised day by the clock), LATE (the stops turn it late), LATE in
    plan (late before any stop), moved (on time, later than planned); an ETA that has passed is "overdue". Slip, apart, is how far the ETA moved ("-" for a line nothing moves).
    """
    lines = plant.reschedule(at=at).get("lines_at_risk") or []
    out = []
    for line in lines:
        late = bool(line.get("late"))
        so_line = f"{line.get('sales_order_id')}/{line.get('line_no')}"
        customer = line.get("customer_name") or line.get("customer_id") or ""  # the engine joins the name
        if late and line.get("overdue"):
            status = Text("OVERDUE", style="bold red")  # past its promise by the clock, whatever the plan says
        elif late and line.get("late_in_plan"):
            status = Text("LATE in plan", style="red")
        elif late:
            status = Text("LATE", style="bold red")
        else:
            status = Text("moved", style="yellow")
        slip_cell = Text(slip(line.get("slip_minutes")), justify="right")
        out.append(
            Row(
                key=so_line,
                cells=(
                    so_line,
                    status,
                    slip_cell,
                    eta(line),
                    short_time(line.get("promised_date")),
                    str(customer),
                ),
                drill=("sales_order", so_line),
                search=" ".join(
                    str(x or "")
                    for x in (so_line, status.plain, customer, line.get("customer_id"), line.get("item_id"))
                ).lower(),
            )
        )
    return out


def _balances(plant: PlantData, item_ids: list[str], at: datetime) -> dict[str, list[float]]:
    """Projected balance after each event, per item, in one question (PlantData.balance_series)."""
    if not item_ids:
        return {}
    try:
        answer = plant.balance_series(item_ids, at=at)
    except Exception:  # the chart is a help, never a reason to lose the panel
        log.exception("balance series")
        return {}
    return {item: [float(b or 0) for _, b in points] for item, points in answer.items()}


def load_materials(plant: PlantData, at: datetime) -> list[Row]:
    items = list(plant.shortages(at=at).get("shortages") or [])
    items.sort(key=lambda s: (as_datetime(s.get("first_short_at")) or datetime.max, str(s.get("item_id"))))
    balances = _balances(plant, [str(s.get("item_id")) for s in items[:SPARK_ROWS]], at)
    out = []
    for s in items:
        item_id = str(s.get("item_id"))
        spark = sparkline(balances.get(item_id, []))
        affected = len(s.get("affected") or [])
        recovers = s.get("recovers_at")
        out.append(
            Row(
                key=item_id,
                cells=(
                    item_id,
                    spark,
                    short_time(s.get("first_short_at")),
                    Text(f"-{quantity(s.get('max_short_qty'))}", style="red", justify="right"),
                    short_time(recovers) if recovers else NOT_IN_VIEW,
                    str(affected),
                    s.get("buyer") or "",
                ),
                drill=("item", item_id),
                search=f"{item_id} {s.get('buyer') or ''}".lower(),
            )
        )
    return out


def load_holds(plant: PlantData, at: datetime) -> list[Row]:
    out = []
    for hold in plant.holds():  # the `planner-tui holds` answer
        hold_id, lot_id, reason, item_id = hold["hold_id"], hold["lot_id"], hold["reason"], hold["item_id"]
        placed_at, lots, stock, names = hold["placed_at"], hold["lots_reached"], hold["stock_qty"], hold["shipped_to"]
        shipped = ", ".join(names) if names else "not shipped"
        shipped_cell = Text(shipped, style="bold red") if names else Text(shipped)
        out.append(
            Row(
                key=hold_id,
                cells=(
                    hold_id,
                    lot_id,
                    str(lots or 1),
                    quantity(stock),
                    shipped_cell,
                    short_time(placed_at),
                    item_id or "",
                    reason or "",
                ),
                drill=("hold", hold_id),
                search=" ".join(str(x or "") for x in (hold_id, lot_id, item_id, reason, shipped)).lower(),
            )
        )
    return out


# Widths hold present.py's texts whole: a duration up to "23h 59m" (7), a slip up to "+23h 59m" (8), a
# short time "11-25 02:05" (11); ids are never cut. The flex column takes what is left (its cursor cell is
# shown in full under the panel). Narrow (80 columns; a side panel at 120 has 58): times show their day,
# words their short form, and the columns with a `drop` rank leave (the drill-down has them all).
_SHORTER = {"maintenance": "maint", "MAINTENANCE": "MAINT", "LATE in plan": "LATE plan", NOT_IN_VIEW: "later"}


def _shorter(text: str) -> str:
    return _SHORTER.get(text, text)


PANELS: tuple[Panel, ...] = (
    Panel(
        "inbox",
        "Exceptions",
        (
            Column("severity", "Severity", 8, least=4, short="Sev", abbrev=severity_short),
            Column("age", "Age", 7),
            Column("status", "Status", 12, least=8, abbrev=status_short),
            Column("who", "Owner", 16, least=10),
            Column("title", "Exception", 20, flex=True, want=36),
        ),
        load_exceptions,
        empty="no open exceptions",
        short="Inbox",
    ),
    Panel(
        "machines",
        "Machines",
        (
            Column("machine", "Machine", 10),
            Column("state", "State", 11, least=7, abbrev=_shorter),
            Column("stopped", "Stopped for", 11, least=7, short="Stopped"),
            Column("why", "Why", 12, flex=True, want=16),
            Column("supervisor", "Supervisor", 15, least=10, drop=2),
            Column("wc", "Work centre", 11, short="WC", drop=1),
        ),
        load_machines,
        empty="no machines",
        short="Machines",
    ),
    Panel(
        "orders",
        "Orders at risk",
        (
            Column("order", "Order", 10),
            Column("status", "Status", 12, least=9, abbrev=_shorter),
            Column("slip", "Slip", 8),
            Column("eta", "ETA", 11, least=7, abbrev=day_of),  # 7: "overdue" whole
            Column("promise", "Promise", 7, least=5, short="Due", drop=1),
            Column("customer", "Customer", 6, flex=True, want=12),
        ),
        load_orders_at_risk,
        empty="no customer order at risk",
        short="Orders",
    ),
    Panel(
        "materials",
        "Materials",
        (
            Column("item", "Item", 11),
            Column("spark", "Projected", 16, drop=1),
            Column("from", "Short from", 11, least=5, short="From", abbrev=day_of),
            Column("qty", "Short", 6),
            Column("recovers", "Recovers", 11, least=5, short="To", abbrev=lambda t: _shorter(day_of(t))),
            Column("hits", "Hits", 4),
            Column("buyer", "Buyer", 8, flex=True, want=10),
        ),
        load_materials,
        empty="no shortage ahead",
        short="Materials",
    ),
    Panel(
        "holds",
        "Quality holds",
        (
            # How far the lot travelled (lots, stock) stays in view at 80 columns: before the flex column.
            Column("hold", "Hold", 11),
            Column("lot", "Lot", 14),
            Column("lots", "Lots", 4),
            Column("stock", "Stock", 6),
            Column("shipped", "Shipped to", 10, flex=True, want=10),
            Column("placed", "Placed", 11, least=5, abbrev=day_of, drop=1),
            Column("item", "Item", 12, drop=2),
            Column("reason", "Reason", 30, least=12, drop=3),
        ),
        load_holds,
        empty="no active hold",
        short="Holds",
    ),
)
PANELS_BY_NAME = {p.name: p for p in PANELS}


def load_header(plant: PlantData, at: datetime) -> dict[str, Any]:
    header: dict[str, Any] = {"plant": plant.plant_name() or "plant", "lag": None}
    try:
        header["lag"] = plant.event_lag()
        header["snapshot_as_of"] = as_datetime(plant.status().get("snapshot_as_of"))
    except Exception:
        log.exception("lag stats, snapshot age")
    return header
