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
from datetime import date, datetime
from typing import Any

from rich.text import Text

from planner_tui.access import PlantData, Record
from planner_tui.timeutil import as_datetime
from planner_tui.timeutil import short_time as fmt_ts

log = logging.getLogger(__name__)

# How many rows a panel table holds; the rest are reached with `/` (filter). Textual's DataTable is
# comfortable up to a few thousand rows; beyond that a paged table is the honest answer.
ROW_LIMIT = 500
# Sparklines for the first shortages only (one query, but the points grow with the rows).
SPARK_ROWS = 60


@dataclass(frozen=True)
class Row:
    key: str
    cells: tuple[Any, ...]
    drill: tuple[str, str] | None = None  # (kind, ident) for PlannerApp.action_drill
    search: str = ""  # lower-case text the `/` filter matches


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    width: int  # for a flex column: the least it gets
    flex: bool = False  # takes the width the others leave


@dataclass
class Panel:
    name: str  # key, also the widget id suffix
    title: str  # shown in the panel border and the panel switcher
    columns: tuple[Column, ...]
    load: Callable[[PlantData, datetime], list[Row]]  # (plant, at) -> rows
    empty: str = "nothing to show"
    short: str = ""  # the name in the panel switcher (80 columns hold all five)


# ---------------------------------------------------------------- formatting helpers

STATE_STYLE = {
    "down": "bold #ffffff on #b03a2e",
    "maintenance": "bold #000000 on #e5c07b",
    "idle": "#e5c07b",
    "running": "#7ee787",
}
SEVERITY_RANK = {"critical": 0, "high": 1, "medium": 2, "warning": 2, "low": 3, "info": 4}
SEVERITY_STYLE = {"critical": "bold #ffffff on #b03a2e", "high": "bold #ff7b72", "medium": "#e5c07b", "warning": "#e5c07b",
                  "low": "dim", "info": "dim"}
STATUS_STYLE = {"open": "bold", "acknowledged": "", "snoozed": "dim", "resolved": "dim", "cleared": "#7ee787"}


def fmt_since(value: datetime | None, at: datetime) -> str:
    """HH:MM on the same day as `at`, else MM-DD."""
    if value is None:
        return "?"
    return value.strftime("%H:%M") if value.date() == at.date() else value.strftime("%m-%d")


def fmt_day(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        text = value
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            return text
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        return value.strftime("%m-%d")
    return str(value)


def fmt_minutes(minutes: float | None) -> str:
    """45m, 3h05, 2d04h: short, and readable at a glance."""
    if minutes is None:
        return "-"
    minutes = int(max(0, minutes))
    if minutes < 60:
        return f"{minutes}m"
    hours, mins = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h{mins:02d}"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours:02d}h"


def fmt_slip(minutes: float | None) -> str:
    """How far an ETA moved, in 4 characters: +45m, +30h, +5d; "-" when it did not move."""
    if not minutes or minutes <= 0:
        return "-"
    if minutes < 60:
        return f"+{int(minutes)}m"
    if minutes < 100 * 60:
        return f"+{round(minutes / 60)}h"
    return f"+{round(minutes / 1440)}d"


def fmt_qty(value: Any) -> str:
    if value is None:
        return "-"
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if number == int(number):
        return f"{int(number):,}"
    return f"{number:,.1f}"


def as_date(value: Any) -> date | None:
    moment = as_datetime(value)
    return moment.date() if moment else None


BLOCKS = "▁▂▃▄▅▆▇█"


def sparkline(values: list[float], width: int = 16) -> Text:
    """The projected balance as block characters; buckets that go below zero are drawn as `×`
    (and red where colour exists), so the dip reads without colour too."""
    if not values:
        return Text("")
    if len(values) < width:
        # Few points: widen each into a step, so a dip is a visible stretch rather than one cell.
        values = [values[int(i * len(values) / width)] for i in range(width)]
    elif len(values) > width:
        # Keep each bucket's minimum: the dip is what the planner needs to see.
        size = len(values) / width
        values = [min(values[int(i * size): max(int((i + 1) * size), int(i * size) + 1)]) for i in range(width)]
    low = min(min(values), 0.0)
    high = max(max(values), 0.0)
    span = (high - low) or 1.0
    text = Text()
    for value in values:
        if value < 0:
            text.append("×", style="bold #ff7b72")
        else:
            level = int((value - low) / span * (len(BLOCKS) - 1))
            text.append(BLOCKS[level], style="#7ee787")
    return text


# ---------------------------------------------------------------- panels

def load_machines(plant: PlantData, at: datetime) -> list[Row]:
    out = []
    for m in plant.machines():  # the `planner-tui machines` answer, stopped first
        machine_id, state, stopped = m["machine_id"], m["state"], m["stopped"]
        since_dt = as_datetime(m["since"])
        duration = fmt_minutes((at - since_dt).total_seconds() / 60) if (stopped and since_dt) else ""
        why = m["reason"] or ""
        if stopped and m["expected_minutes"]:
            why = f"{why} (expect {fmt_minutes(m['expected_minutes'])})".strip()
        state_cell = Text(state.upper() if stopped else state, style=STATE_STYLE.get(state, ""))
        out.append(Row(
            key=machine_id,
            cells=(machine_id, state_cell, f"{fmt_since(since_dt, at)} {duration}" if stopped else "", why,
                   m["supervisor"] or "", m["work_center"] or ""),
            drill=("machine", machine_id),
            search=" ".join(str(m[k] or "") for k in ("machine_id", "name", "state", "reason", "supervisor",
                                                      "work_center")).lower(),
        ))
    return out


def load_exceptions(plant: PlantData, at: datetime) -> list[Row]:
    items = plant.exceptions(at=at).get("exceptions") or []

    def sort_key(e: Record) -> tuple[int, float, str]:
        return (SEVERITY_RANK.get(str(e.get("severity")), 9), -(e.get("age_minutes") or 0), str(e.get("exception_id")))

    out = []
    for e in sorted(items, key=sort_key):
        severity = str(e.get("severity") or "")
        status = str(e.get("status") or "open")
        if e.get("cause_cleared"):
            status_cell = Text(f"{status}, cleared", style="#7ee787")
        else:
            status_cell = Text(status, style=STATUS_STYLE.get(status, ""))
        who = e.get("assignee") or e.get("owner") or ""
        title = str(e.get("title") or e.get("exception_id"))
        out.append(Row(
            key=str(e.get("exception_id")),
            cells=(Text(severity, style=SEVERITY_STYLE.get(severity, "")), fmt_minutes(e.get("age_minutes")),
                   status_cell, who, title),
            drill=("exception", str(e.get("exception_id"))),
            search=" ".join(str(x or "") for x in (severity, status, who, title, e.get("kind"),
                                                   e.get("subject_id"))).lower(),
        ))
    return out


def load_orders_at_risk(plant: PlantData, at: datetime) -> list[Row]:
    """Lines late (ETA's day after the promise, by a stop or already in the plan) or whose ETA moved.

    The engine's order: late first, then the biggest slip. Slip is how far the ETA moved ("-" for a line
    the plan already had late, with nothing moving it).
    """
    lines = plant.reschedule(at=at).get("lines_at_risk") or []
    out = []
    for line in lines:
        late = bool(line.get("late"))
        slip_minutes = line.get("slip_minutes") or 0
        so_line = f"{line.get('sales_order_id')}/{line.get('line_no')}"
        customer = line.get("customer_name") or line.get("customer_id") or ""  # the engine joins the name
        status = Text("LATE", style="bold #ff7b72") if late else Text("moved", style="#e5c07b")
        slip = fmt_slip(slip_minutes)
        out.append(Row(
            key=so_line,
            cells=(so_line, status, slip, fmt_ts(line.get("eta")), fmt_day(line.get("promised_date")), str(customer)),
            drill=("sales_order", so_line),
            search=" ".join(str(x or "") for x in (so_line, status.plain, customer, line.get("customer_id"),
                                                   line.get("item_id"))).lower(),
        ))
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
        out.append(Row(
            key=item_id,
            cells=(item_id, spark, fmt_ts(s.get("first_short_at")), Text(f"-{fmt_qty(s.get('max_short_qty'))}", style="#ff7b72"),
                   fmt_ts(recovers) if recovers else "not in view", str(affected), s.get("buyer") or ""),
            drill=("item", item_id),
            search=f"{item_id} {s.get('buyer') or ''}".lower(),
        ))
    return out


def load_holds(plant: PlantData, at: datetime) -> list[Row]:
    out = []
    for hold in plant.holds():  # the `planner-tui holds` answer
        hold_id, lot_id, reason, item_id = hold["hold_id"], hold["lot_id"], hold["reason"], hold["item_id"]
        placed_at, lots, stock, names = hold["placed_at"], hold["lots_reached"], hold["stock_qty"], hold["shipped_to"]
        shipped = ", ".join(names) if names else "not shipped"
        shipped_cell = Text(shipped, style="bold #ff7b72") if names else Text(shipped)
        out.append(Row(
            key=hold_id,
            cells=(hold_id, lot_id, str(lots or 1), fmt_qty(stock), shipped_cell, fmt_ts(placed_at), item_id or "",
                   reason or ""),
            drill=("hold", hold_id),
            search=" ".join(str(x or "") for x in (hold_id, lot_id, item_id, reason, shipped)).lower(),
        ))
    return out


PANELS: tuple[Panel, ...] = (
    Panel("inbox", "Exceptions", (
        Column("severity", "Severity", 8), Column("age", "Age", 5), Column("status", "Status", 12),
        Column("who", "Owner", 16), Column("title", "Exception", 20, flex=True),
    ), load_exceptions, empty="no open exceptions", short="Inbox"),
    Panel("machines", "Machines", (
        Column("machine", "Machine", 10), Column("state", "State", 11), Column("since", "Stopped", 11),
        Column("why", "Why", 16, flex=True), Column("supervisor", "Supervisor", 15),
        Column("wc", "Work centre", 11),
    ), load_machines, empty="no machines", short="Machines"),
    Panel("orders", "Orders at risk", (
        Column("order", "Order", 10), Column("status", "Status", 6), Column("slip", "Slip", 4),
        Column("eta", "ETA", 11), Column("promise", "Promise", 7), Column("customer", "Customer", 6, flex=True),
    ), load_orders_at_risk, empty="no customer order at risk", short="Orders"),
    Panel("materials", "Materials", (
        Column("item", "Item", 11), Column("spark", "Projected", 16), Column("from", "Short from", 11),
        Column("qty", "Short", 6), Column("recovers", "Recovers", 11), Column("hits", "Hits", 4),
        Column("buyer", "Buyer", 14, flex=True),
    ), load_materials, empty="no shortage ahead", short="Materials"),
    Panel("holds", "Quality holds", (
        # How far the lot travelled (lots, stock) stays in view at 80 columns: before the flex column.
        Column("hold", "Hold", 11), Column("lot", "Lot", 14), Column("lots", "Lots", 4), Column("stock", "Stock", 6),
        Column("shipped", "Shipped to", 16, flex=True), Column("placed", "Placed", 11),
        Column("item", "Item", 12), Column("reason", "Reason", 30),
    ), load_holds, empty="no active hold", short="Holds"),
)
PANELS_BY_NAME = {p.name: p for p in PANELS}


def load_header(plant: PlantData, at: datetime) -> dict[str, Any]:
    header: dict[str, Any] = {"plant": plant.plant_name() or "plant", "lag": None}
    try:
        header["lag"] = plant.event_lag()
    except Exception:
        log.exception("lag stats")
    return header
