"""The message a person gets: what happened and since when, how long it is expected to last, the customer
lines at risk (promise against ETA), the shipments, what they are told for, and how to open it. Plain text
for e-mail and chat, markdown where the channel renders it; a dozen lines, so it reads on a phone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from planner_tui.present import duration, eta, moment, short_time, short_times_in

MAX_LINES = 6  # customer lines listed; the rest are counted
MAX_SHIPMENTS = 4


@dataclass(frozen=True)
class Text:
    subject: str
    body: str
    markdown: str


def _line_text(line: dict) -> str:
    who = line.get("customer_name") or line.get("customer_id") or ""
    if line.get("late"):
        standing = (
            f"LATE in plan +{line.get('days_late', 0)}d"
            if line.get("late_in_plan")
            else f"LATE +{line.get('days_late', 0)}d"
        )
    else:
        standing = "on time"
    return (
        f"{line['sales_order_id']}/{line['line_no']} {who}: promised {short_time(line.get('promised_date'))}, "
        f"ETA {eta(line)} ({standing})"
    )


def compose(
    row: dict,
    answer: dict | None,
    why: list[str],
    *,
    reason: str,
    at: datetime,
    open_hint: str | None,
    folded: list[dict] | None = None,
    person: tuple[str, ...] = (),
) -> Text:
    """The message about exception `row` for one person told for `why` (`reason`: new, update, repeat,
    escalation); `answer` the impact or trace behind it; `folded`: the exceptions it stands for too (the
    late lines a stop caused); `person`: the names the person goes by (their lines are listed first)."""
    person_names = {n.lower() for n in person if n}
    prefix = {"update": "Update: ", "repeat": "Still open: ", "escalation": "Escalated, not acknowledged: "}.get(
        reason, ""
    )
    severity = str(row.get("severity") or "").upper()
    subject = f"[{severity}] {prefix}{row['title']}"
    detail = row.get("detail") or {}
    facts: list[str] = []
    raised = row.get("raised_at")
    if raised is not None:
        age = row.get("age_minutes")
        facts.append(f"Since {moment(raised)} UTC" + (f" ({duration(age)} ago)" if age is not None else ""))
    minutes = detail.get("expected_minutes")
    if minutes is None and answer is not None:
        minutes = answer.get("down_minutes")
    if row["kind"] in ("machine_down", "resource_unavailable"):
        facts.append(f"Expected to last {duration(minutes)}" if minutes is not None else "How long: unknown")
    if detail.get("reason"):
        facts.append(f"Reason: {detail['reason']}")
    lines = [
        ln for ln in (answer or {}).get("sales_orders") or [] if ln.get("late") or (ln.get("slip_minutes") or 0) > 0
    ]
    # A person's own customers' lines first (an account manager reads theirs), then the rest.
    lines.sort(key=lambda ln: str(ln.get("account_manager") or "").lower() not in person_names)
    shipments = [s for s in (answer or {}).get("shipments") or [] if s.get("late")]
    status = row.get("status") or "open"
    if status != "open":
        facts.append(f"Status: {status}" + (f" ({row['assignee']})" if row.get("assignee") else ""))

    text: list[str] = [row["title"], *facts]
    markdown: list[str] = [f"**{row['title']}**", *(f"- {f}" for f in facts)]
    if lines:
        text.append(f"Customer lines at risk ({len(lines)}):")
        markdown.append(f"\n**Customer lines at risk** ({len(lines)}):")
        for line in lines[:MAX_LINES]:
            text.append(f"  - {_line_text(line)}")
            markdown.append(f"- {_line_text(line)}")
        if len(lines) > MAX_LINES:
            text.append(f"  ... and {len(lines) - MAX_LINES} more")
            markdown.append(f"- ... and {len(lines) - MAX_LINES} more")
    if shipments:
        shown = ", ".join(
            f"{s['shipment_id']} ({short_time(s.get('planned_ship_date'))})" for s in shipments[:MAX_SHIPMENTS]
        )
        more = f" and {len(shipments) - MAX_SHIPMENTS} more" if len(shipments) > MAX_SHIPMENTS else ""
        text.append(f"Shipments late: {shown}{more}")
        markdown.append(f"\n**Shipments late:** {shown}{more}")
    if folded:
        ids = ", ".join(f["subject_id"] for f in folded[:MAX_LINES])
        text.append(f"Also raised by it: late lines {ids}")
        markdown.append(f"\nAlso raised by it: late lines {ids}")
    if why:
        reasons = [short_times_in(w) for w in why]
        text.append("You are told as:" if len(reasons) > 1 else f"You are told as {reasons[0]}")
        markdown.append("\n_You are told as:_" if len(reasons) > 1 else f"\n_You are told as_ {reasons[0]}")
        if len(reasons) > 1:
            text.extend(f"  - {r}" for r in reasons)
            markdown.extend(f"- {r}" for r in reasons)
    opening = f"planner-tui run --server {open_hint}" if open_hint else "planner-tui run"
    text.append(f"Open it: {opening}, then exception {row['exception_id']}")
    markdown.append(f"\nOpen it: `{opening}`, then exception `{row['exception_id']}`")
    return Text(subject, "\n".join(text), "\n".join(markdown))
