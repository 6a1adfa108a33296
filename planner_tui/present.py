"""How planner_tui shows things to a person: times, durations, quantities, severities, the sparkline, who.

The CLI and every console screen use these, so a duration reads the same everywhere (`1d 6h`, `3h 20m`,
`45m`) and a severity has one word and one style. No Textual here (rich only): the CLI and the layers
below the console may use it. `--json` never goes through it: scripts get the raw values.
"""

from __future__ import annotations

import getpass
import math
import os
import re
from datetime import date, datetime
from typing import Any

from rich.cells import cell_len
from rich.text import Text

from planner_tui.timeutil import as_datetime

# --- times --------------------------------------------------------------------------------------------


def short_time(value: object) -> str:
    """A time in a table cell: 11-25 02:05 for a moment, 11-24 for a day, - for none (the year is the
    planning year; --json and the detail screens have the full time). ISO text is read first."""
    if value is None:
        return "-"
    if isinstance(value, str):
        parsed = as_datetime(value)
        if parsed is None:
            return value
        value = parsed
    if isinstance(value, datetime):
        return value.strftime("%m-%d %H:%M")
    if isinstance(value, date):
        return value.strftime("%m-%d")
    return str(value)


# Seconds, a fraction and a UTC offset or Z are dropped with the year (every time here is UTC).
_ISO_MOMENT = re.compile(r"\b\d{4}-(\d\d-\d\d)[T ](\d\d:\d\d)(?::\d\d(?:\.\d+)?)?(?:Z|[+-]\d\d:?\d\d)?(?![\w:])")
_ISO_DAY = re.compile(r"\b\d{4}-(\d\d-\d\d)\b")


def short_times_in(text: str) -> str:
    """The ISO times inside an engine's sentence, shortened as `short_time` does: 11-25 02:05, 11-24."""
    return _ISO_DAY.sub(r"\1", _ISO_MOMENT.sub(r"\1 \2", text))


def day_of(text: str) -> str:
    """A table cell's time cut to its day, for a narrow column: 11-25 02:05 -> 11-25 (other text as is)."""
    head, _, tail = text.partition(" ")
    return head if tail and re.fullmatch(r"\d\d-\d\d", head) and re.fullmatch(r"\d\d:\d\d", tail) else text


def moment(value: object) -> str:
    """A time in a sentence or a detail screen: 2026-11-25 08:10 (UTC, like the whole product)."""
    parsed = as_datetime(value)
    if parsed is None:
        return "-" if value in (None, "") else str(value)
    return parsed.strftime("%Y-%m-%d %H:%M")


def day(value: object) -> str:
    """A date in a sentence: 2026-11-25."""
    parsed = as_datetime(value)
    if parsed is None:
        return "-" if value in (None, "") else str(value)
    return parsed.strftime("%Y-%m-%d")


def eta(record: dict, *, whole: bool = False) -> str:
    """A customer line's (or shipment's) ETA: "overdue" when the engine found it passed with the work not
    reported done (`eta_overdue`), else the time (short for a table cell; `whole` for a sentence)."""
    if record.get("eta_overdue"):
        return "overdue"
    return moment(record.get("eta")) if whole else short_time(record.get("eta"))


def earlier_occurrence(previous: dict | None) -> str | None:
    """The resolve that ended an exception's earlier occurrence, in a sentence (None: there was none)."""
    if not previous:
        return None
    reason = previous.get("reason")
    return (
        f"an earlier occurrence was resolved {moment(previous.get('resolved_at'))} by "
        + str(previous.get("resolved_by") or "?")
        + (f": {reason}" if reason else "")
    )


# --- durations ----------------------------------------------------------------------------------------


def duration(minutes: float | None, *, unknown: str = "-") -> str:
    """A duration in words a planner scans: 45m, 3h 20m, 4h, 1d 6h, 2d. Negative ones keep their sign."""
    if minutes is None or (isinstance(minutes, float) and not math.isfinite(minutes)):
        return unknown
    try:
        total = round(float(minutes))
    except (TypeError, ValueError):
        return str(minutes)  # a history line describes raw event data, which may be anything
    sign = "-" if total < 0 else ""
    days, rest = divmod(abs(total), 1440)
    hours, mins = divmod(rest, 60)
    if days:
        text = f"{days}d {hours}h" if hours else f"{days}d"
    elif hours:
        text = f"{hours}h {mins:02d}m" if mins else f"{hours}h"
    else:
        text = f"{mins}m"
    return sign + text


def slip(minutes: float | None) -> str:
    """How far a time moved later: +1d 6h; "-" when it did not move (or moved earlier)."""
    if minutes is None or not minutes > 0:
        return "-"
    return "+" + duration(minutes)


def seconds(value: float | None) -> str:
    """A lag or an elapsed time: 0.61 s, 45 s under a minute (a feed's lag is seconds), else a duration."""
    if value is None or not math.isfinite(value):
        return "-"
    if abs(value) < 10:
        return f"{value:.2f} s"
    if abs(value) < 60:
        return f"{value:.0f} s"
    return duration(value / 60)


# --- quantities ---------------------------------------------------------------------------------------


def quantity(value: Any) -> str:
    """1,200 or 12.5 or 0.25: thousands separated, at most two decimals, no trailing zeros; - for none."""
    if value is None:
        return "-"
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if not math.isfinite(number):
        return "-"
    if number == int(number):
        return f"{int(number):,}"
    return f"{number:,.2f}".rstrip("0").rstrip(".")


# --- severities and statuses --------------------------------------------------------------------------

SEVERITIES = ("critical", "high", "medium", "low")
SEVERITY_RANK = {name: rank for rank, name in enumerate(SEVERITIES)}
# Styles that read on a 256-colour terminal over SSH; the word carries the meaning without colour.
SEVERITY_STYLE = {"critical": "bold white on red", "high": "bold red", "medium": "yellow", "low": "dim"}
STATUS_STYLE = {"open": "bold", "acknowledged": "cyan", "snoozed": "dim", "resolved": "green", "cleared": "green"}
MACHINE_STATE_STYLE = {
    "down": "bold white on red",
    "maintenance": "bold black on yellow",
    "idle": "yellow",
    "running": "green",
}


def severity_rank(severity: object) -> int:
    """Sort key: critical first; an unknown severity last."""
    return SEVERITY_RANK.get(str(severity), len(SEVERITIES))


def severity_text(severity: object, *, upper: bool = False) -> Text:
    word = str(severity or "-")
    return Text(word.upper() if upper else word, style=SEVERITY_STYLE.get(word, ""))


# Short forms for a narrow column (80 columns): the word still says it, in fewer letters.
SEVERITY_SHORT = {"critical": "CRIT", "high": "HIGH", "medium": "MED", "low": "LOW"}
STATUS_SHORT = {"open": "open", "acknowledged": "ack", "snoozed": "snz", "resolved": "res"}


def severity_short(text: str) -> str:
    """critical -> CRIT, high -> HIGH, medium -> MED, low -> LOW (anything else as is)."""
    return SEVERITY_SHORT.get(text.strip().lower(), text)


def status_short(text: str) -> str:
    """acknowledged -> ack, snoozed -> snz, resolved -> res; "acknowledged, cleared" -> "ack clr"."""
    status, _, rest = text.partition(",")
    short = STATUS_SHORT.get(status.strip(), status.strip())
    return f"{short} clr" if rest.strip() == "cleared" else (short + ("," + rest if rest else ""))


# --- cutting text to a width --------------------------------------------------------------------------

ELLIPSIS = "…"
_TRAILING = " ,;:-/(·"


def clip(text: str, width: int) -> str:
    """`text` in at most `width` cells: whole if it fits, else cut with an ellipsis at the end of a word
    (when one ends in the second half of the room; a single long word or id is cut where the room ends)."""
    if cell_len(text) <= width:
        return text
    if width <= 1:
        return ELLIPSIS[:width]
    room, used = [], 0
    for char in text:
        size = cell_len(char)
        if used + size > width - 1:
            break
        room.append(char)
        used += size
    kept = "".join(room)
    following = text[len(kept) : len(kept) + 1]
    if following not in (" ", ""):  # the room ends inside a word: go back to the last word's end
        space = kept.rfind(" ")
        if space >= width // 2:
            kept = kept[:space]
    return kept.rstrip(_TRAILING) + ELLIPSIS if kept.rstrip(_TRAILING) else kept + ELLIPSIS


# --- the sparkline ------------------------------------------------------------------------------------

SPARK_BLOCKS = "▁▂▃▄▅▆▇█"
BELOW_ZERO = "×"


def sparkline(values: list[float], width: int = 16) -> Text:
    """A balance over time as block characters, `width` cells; a bucket below zero is drawn as `×` (and
    red where colour exists), so the dip reads without colour too. A bucket keeps its minimum: the dip is
    what the planner needs to see."""
    if not values:
        return Text("")
    if len(values) < width:
        # Few points: widen each into a step, so a dip is a visible stretch rather than one cell.
        values = [values[int(i * len(values) / width)] for i in range(width)]
    elif len(values) > width:
        size = len(values) / width
        values = [min(values[int(i * size) : max(int((i + 1) * size), int(i * size) + 1)]) for i in range(width)]
    low = min(min(values), 0.0)
    high = max(max(values), 0.0)
    span = (high - low) or 1.0
    text = Text()
    for value in values:
        if value < 0:
            text.append(BELOW_ZERO, style="bold red")
        else:
            level = int((value - low) / span * (len(SPARK_BLOCKS) - 1))
            text.append(SPARK_BLOCKS[level], style="green")
    return text


# --- who ----------------------------------------------------------------------------------------------


def current_user() -> str:
    """The OS user running this process, the 'who' of a local action."""
    try:
        name = getpass.getuser()
    except Exception:  # noqa: BLE001 - no passwd entry and no LOGNAME/USER (some containers)
        name = os.environ.get("USER") or os.environ.get("LOGNAME") or ""
    return name or "unknown"
