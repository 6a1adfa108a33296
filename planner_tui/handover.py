"""The shift report (engine/shift.py) as a person reads it: Markdown for chat and e-mail, and one
self-contained HTML page (no external assets: it is mailed and archived) with a timeline of the window as
an inline SVG. Times, durations and quantities come from present.py, as everywhere else; `--json` gives
the report itself.
"""

from __future__ import annotations

import html
from datetime import datetime, timedelta
from typing import Any

from planner_tui.present import duration, eta, moment, quantity, seconds, short_time
from planner_tui.timeutil import as_datetime

Record = dict[str, Any]


def _count(items: list, one: str, many: str | None = None) -> str:
    return f"{len(items)} {one if len(items) == 1 else (many or one + 's')}"


def _stop_line(stop: Record) -> str:
    name = f" {stop['machine_name']}" if stop.get("machine_name") else ""
    span = f"down {short_time(stop['down_at'])}"
    if stop.get("over"):
        span += f" to {short_time(stop['up_at'])} ({duration(stop['minutes'])}, over)"
    else:
        span += f", {duration(stop['minutes'])} so far, still down"
        if stop.get("expected_minutes"):
            span += f" (expected {duration(stop['expected_minutes'])} in all)"
    risk = ""
    if stop.get("sales_lines"):
        risk = f" Puts {stop.get('late_lines') or 0} of {stop['sales_lines']} customer lines late"
        risk += f", {stop.get('customers') or 0} customers." if stop.get("customers") else "."
    return f"**{stop['machine_id']}**{name}: {span}. {stop.get('reason') or 'No reason given'}.{risk}"


def _hold_line(hold: Record) -> str:
    state = "released " + short_time(hold["released_at"]) if hold.get("released_at") else hold.get("status") or "?"
    lots, orders = hold.get("lots_reached") or 0, hold.get("production_orders") or 0
    reach = f"reached {lots} lot{'' if lots == 1 else 's'}, {orders} production order{'' if orders == 1 else 's'}"
    shipped = hold.get("shipped_shipments") or []
    if shipped:
        reach += f"; shipped in {', '.join(shipped)}"
    customers = hold.get("customers") or []
    if customers:
        reach += f"; customers {', '.join(customers)}"
    placed = f"placed {short_time(hold['placed_at'])} by {hold.get('placed_by') or '?'}"
    if not hold.get("traced", True):
        reach = f"is not traced here (`planner-tui trace hold {hold['hold_id']}`)"
    return f"**{hold['hold_id']}** on {hold['lot_id']} ({hold.get('item_id') or '?'}), {placed}, {state}: {hold.get('reason') or ''}. It {reach}."


def to_markdown(report: Record, *, plant: str | None = None) -> str:
    window = report["window"]
    title = f"# Shift handover{': ' + plant if plant else ''}"
    lines = [
        title,
        "",
        f"{moment(window['from'])} to {moment(window['to'])} UTC ({window['basis']}).",
        "",
    ]
    attention = report["attention"]
    lines += [f"## Needs attention now ({len(attention)})", ""]
    if attention:
        lines += ["| Severity | Exception | Status | Owner | Age | Next step |", "|---|---|---|---|---|---|"]
        for item in attention:
            step = item.get("next_step") or "-"
            if item.get("next_step_by"):
                step += f" ({item['next_step_by']}, {short_time(item['next_step_at'])})"
            lines.append(
                f"| {item['severity']} | {_cell(item['title'])} | {item.get('status') or '-'} | "
                f"{_cell(item.get('assignee') or item.get('owner') or 'nobody')} | {duration(item.get('age_minutes'))} | "
                f"{_cell(step)} |"
            )
    else:
        lines.append("Nothing open.")
    sections: list[tuple[str, list[str]]] = [
        (f"Machine stops ({len(report['stops'])})", [_stop_line(s) for s in report["stops"]]),
        (f"Quality holds ({len(report['holds'])})", [_hold_line(h) for h in report["holds"]]),
        (
            f"Customer lines made late ({len(report['late_lines'])})",
            [
                f"**{line['line']}** {line.get('customer') or line.get('customer_id') or ''}: promised "
                f"{line.get('promised_date')}, ETA {eta(line)} ({_days(line.get('days_late'))} late; "
                f"cause: {line.get('cause') or '?'})"
                for line in report["late_lines"]
            ],
        ),
        (
            f"Customer lines recovered ({len(report['recovered_lines'])})",
            [
                f"**{line['line']}** {line.get('customer') or line.get('customer_id') or ''}: promised "
                f"{line.get('promised_date')}, was {_days(line.get('days_late'))} late at the shift's start"
                for line in report["recovered_lines"]
            ],
        ),
        (
            f"Shortages ({len(report['shortages'])})",
            [
                f"**{s['item_id']}** short from {short_time(s.get('short_at'))}; "
                + (
                    f"found {short_time(s['found_at'])}, {_hours(s.get('lead_hours'))} ahead"
                    if s.get("found_in_window")
                    else f"known before the shift, {_hours(s.get('lead_hours'))} ahead of the window's start"
                )
                + f". Buyer: {s.get('buyer') or 'nobody named'}."
                for s in report["shortages"]
            ],
        ),
    ]
    for heading, items in sections:
        lines += ["", f"## {heading}", ""]
        lines += [f"- {item}" for item in items] if items else ["None."]
    orders = report["orders"]
    lag = orders["lag"]
    lines += ["", "## Customer orders", ""]
    lines.append(
        f"{_count(orders['confirmed'], 'line')} confirmed, {_count(orders['changed'], 'change')}, "
        f"{_count(orders['cancelled'], 'cancellation')}."
        + (
            f" Confirmation to visible in planning: median {seconds(lag['p50_seconds'])}, worst {seconds(lag['max_seconds'])}."
            if lag["count"]
            else ""
        )
    )
    for line in orders["confirmed"]:
        lines.append(
            f"- confirmed **{line['line']}** {line.get('customer_id')}: {quantity(line.get('qty'))} x {line.get('item_id')}, "
            f"promised {line.get('promised_date')}, visible {seconds(line.get('lag_seconds'))} after confirmation"
        )
    for line in orders["changed"]:
        changes = ", ".join(f"{k} {line['before'].get(k)} -> {v}" for k, v in (line.get("after") or {}).items())
        lines.append(f"- changed **{line['line']}** at {short_time(line['at'])}: {changes}")
    for line in orders["cancelled"]:
        lines.append(f"- cancelled **{line['line']}** at {short_time(line['at'])}")
    lines += ["", "## What was done", ""]
    if report["actions"]:
        for person in report["actions"]:
            done = "; ".join(
                f"{a['action']} {a['exception_id']} {short_time(a['acted_at'])}"
                + (f' "{a["detail"]}"' if a.get("detail") else "")
                for a in person["actions"]
            )
            lines.append(f"- **{person['who']}** ({person['count']}): {done}")
    else:
        lines.append("No triage recorded.")
    lines += ["", "## Who was told", ""]
    if report["told"]:
        for message in report["told"]:
            lines.append(
                f"- {message['person']} by {message['channel']} at {short_time(message['created_at'])}: "
                f"{message['subject']} ({message['state']})"
            )
    else:
        lines.append("No messages in the window.")
    feed = report["feed"]
    lines += ["", "## Feed health", ""]
    lag_text = f"lag median {seconds(feed['lag_seconds']['p50'])}, p95 {seconds(feed['lag_seconds']['p95'])}"
    lines.append(
        f"{feed['events']} events: {feed['applied']} applied, {feed['rejected']} rejected, {feed['unknown']} of "
        f"unknown types; {lag_text}."
    )
    for silence in feed["silences"]:
        lines.append(
            f"- no events {short_time(silence['from'])} to {short_time(silence['to'])} ({duration(silence['minutes'])})"
        )
    for rejection in feed["rejections"]:
        lines.append(f"- rejected {rejection['event_id']} ({rejection.get('type') or '?'}): {rejection['reason']}")
    return "\n".join(lines) + "\n"


def _days(value: int | None) -> str:
    if value is None:
        return "?"
    return f"{value} day" if value == 1 else f"{value} days"


def _hours(value: float | None) -> str:
    return duration(None if value is None else value * 60)


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


# ---------------------------------------------------------------------------------------------- HTML

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:64rem;color:#1b1f24;
line-height:1.45;padding:0 1rem}h1{font-size:1.5rem;margin-bottom:.2rem}h2{font-size:1.15rem;margin-top:1.8rem;
border-bottom:1px solid #d0d7de;padding-bottom:.2rem}table{border-collapse:collapse;width:100%;font-size:.92rem}
th,td{border-bottom:1px solid #e3e6ea;padding:.3rem .5rem;text-align:left;vertical-align:top}
.critical{color:#b3261e;font-weight:600}.high{color:#b35c00;font-weight:600}.medium{color:#7a6a00}
.window{color:#57606a}ul{padding-left:1.2rem}svg text{font-family:inherit;font-size:11px}
"""


def _severity(text: str) -> str:
    return f'<span class="{html.escape(text)}">{html.escape(text)}</span>'


def _timeline(report: Record) -> str:
    """Stops and holds on one axis from the window's start to its end: a row per machine or hold."""
    start = as_datetime(report["window"]["from"])
    end = as_datetime(report["window"]["to"])
    if start is None or end is None or end <= start:
        return ""
    rows: list[tuple[str, datetime, datetime, str]] = []
    for stop in report["stops"]:
        down = as_datetime(stop["down_at"]) or start
        up = as_datetime(stop.get("up_at")) or end
        rows.append((stop["machine_id"], down, up, "#b3261e"))
    for hold in report["holds"]:
        placed = as_datetime(hold["placed_at"]) or start
        released = as_datetime(hold.get("released_at")) or end
        rows.append((hold["hold_id"], placed, released, "#7a4fc1"))
    if not rows:
        return ""
    label_w, width, row_h = 130, 820, 22
    span = (end - start).total_seconds()

    def x(t: datetime) -> float:
        clipped = min(max(t, start), end)
        return label_w + (width - label_w - 10) * (clipped - start).total_seconds() / span

    height = row_h * len(rows) + 28
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="-4 0 {width + 40} {height}" width="100%" role="img" '
        f'aria-label="Timeline of stops and holds">'
    ]
    hours = max(1, round(span / 3600))
    step = max(1, hours // 8)
    for h in range(0, hours + 1, step):
        tx = label_w + (width - label_w - 10) * (h * 3600) / span
        if tx > width - 5:
            break
        label = short_time(start + timedelta(hours=h))
        parts.append(f'<line x1="{tx:.1f}" y1="0" x2="{tx:.1f}" y2="{height - 18}" stroke="#e3e6ea"/>')
        parts.append(
            f'<text x="{tx:.1f}" y="{height - 4}" text-anchor="middle" fill="#57606a">{html.escape(label)}</text>'
        )
    for i, (label, a, b, colour) in enumerate(rows):
        y = i * row_h + 4
        parts.append(f'<text x="0" y="{y + 13}" fill="#1b1f24">{html.escape(label)}</text>')
        parts.append(
            f'<rect x="{x(a):.1f}" y="{y}" width="{max(2.0, x(b) - x(a)):.1f}" height="{row_h - 8}" rx="3" '
            f'fill="{colour}"><title>{html.escape(label)}: {html.escape(moment(a))} to {html.escape(moment(b))}</title></rect>'
        )
    parts.append("</svg>")
    return "".join(parts)


def to_html(report: Record, *, plant: str | None = None) -> str:
    """One page, nothing fetched: inline CSS and SVG. The sections are the Markdown's, as HTML."""
    window = report["window"]
    title = "Shift handover" + (f": {plant}" if plant else "")
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f'<p class="window">{html.escape(moment(window["from"]))} to {html.escape(moment(window["to"]))} UTC '
        f"({html.escape(window['basis'])})</p>",
    ]
    timeline = _timeline(report)
    if timeline:
        out += ["<h2>Timeline</h2>", timeline]
    attention = report["attention"]
    out.append(f"<h2>Needs attention now ({len(attention)})</h2>")
    if attention:
        out.append(
            "<table><tr><th>Severity</th><th>Exception</th><th>Status</th><th>Owner</th><th>Age</th><th>Next step</th></tr>"
        )
        for item in attention:
            step = item.get("next_step") or "-"
            if item.get("next_step_by"):
                step += f" ({item['next_step_by']}, {short_time(item['next_step_at'])})"
            out.append(
                "<tr>"
                f"<td>{_severity(item['severity'])}</td><td>{html.escape(item['title'])}</td>"
                f"<td>{html.escape(item.get('status') or '-')}</td>"
                f"<td>{html.escape(item.get('assignee') or item.get('owner') or 'nobody')}</td>"
                f"<td>{html.escape(duration(item.get('age_minutes')))}</td><td>{html.escape(step)}</td></tr>"
            )
        out.append("</table>")
    else:
        out.append("<p>Nothing open.</p>")
    # The rest reads as in Markdown: its sections after the attention table, turned into HTML lists.
    markdown = to_markdown(report, plant=plant)
    rest = markdown.split("\n## ", 2)[2] if markdown.count("\n## ") >= 2 else ""
    for block in ("## " + rest).split("\n## "):
        heading, _, body = block.removeprefix("## ").partition("\n")
        out.append(f"<h2>{html.escape(heading)}</h2>")
        items = [line[2:] for line in body.splitlines() if line.startswith("- ")]
        text = [line for line in body.splitlines() if line.strip() and not line.startswith("- ")]
        out += [f"<p>{_inline(t)}</p>" for t in text]
        if items:
            out.append("<ul>" + "".join(f"<li>{_inline(i)}</li>" for i in items) + "</ul>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def _inline(text: str) -> str:
    """Markdown's **bold**, escaped."""
    parts = html.escape(text).split("**")
    return "".join(f"<strong>{p}</strong>" if i % 2 else p for i, p in enumerate(parts))
