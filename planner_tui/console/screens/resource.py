"""A secondary resource (a person, a tool, a crew an operation needs besides its machine, issue 11): its
detail, and what its absence hits, asked the way a machine's stop is.

`ResourceScreen` is the detail (kind, calendar, supervisor, available or unavailable since when and why,
its next open operations); `i` opens `ResourceImpactScreen`, the impact if it is unavailable (`d` first
asks for how long). The impact screen is the machine's (`impact.py`), its operations each naming the
machine they run on; its triage keys act on the resource's absence (resource_unavailable:<id>).
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType

from planner_tui.access import PlantData, Record
from planner_tui.console.dialogs.downtime import DowntimeDialog
from planner_tui.console.dialogs.triage import kind_about
from planner_tui.console.screens._common import add_record, capped, group, node_label, sales_line_id
from planner_tui.console.screens.drilldown import Node, TreeScreen
from planner_tui.console.screens.impact import ImpactScreen
from planner_tui.present import duration, moment

UNAVAILABLE = "unavailable"


def resource_facts(data: Record) -> Record:
    """The resource's answer read one way, whether its facts are at the top or under "resource": id,
    name, kind, calendar, supervisor, state, unavailable (bool), since, reason, expected_minutes."""
    nested = data.get("resource")
    inner: Record = nested if isinstance(nested, dict) else {}
    merged: Record = {**inner, **{k: v for k, v in data.items() if k != "resource"}}
    calendar = merged.get("calendar_id", merged.get("calendar"))
    if isinstance(calendar, dict):
        calendar = calendar.get("calendar_id") or calendar.get("name")
    state = merged.get("state")
    unavailable = merged.get("unavailable")
    if unavailable is None:
        unavailable = str(state or "").lower() == UNAVAILABLE
    return {
        "resource_id": merged.get("resource_id"),
        "name": merged.get("name", merged.get("resource_name")),
        "kind": merged.get("kind", merged.get("resource_kind")),
        "calendar": calendar,
        "supervisor": merged.get("supervisor"),
        "state": state or (UNAVAILABLE if unavailable else "available"),
        "unavailable": bool(unavailable),
        "since": merged.get("since"),
        "reason": merged.get("reason"),
        "expected_minutes": merged.get("expected_minutes"),
        "open_operations": merged.get("open_operations"),
        "machines": [str(m) for m in merged.get("machines") or []],
        "next_operations": list(merged.get("next_operations") or merged.get("operations") or []),
    }


def who(ident: str, kind: object, name: object) -> str:
    """OP-ANNA (person, Anna Berg): the id, then what it is, in words."""
    about = ", ".join(str(x) for x in (kind, name) if x not in (None, ""))
    return f"{ident} ({about})" if about else ident


def operation_label(op: Record) -> Text:
    """An operation needing the resource: its order, its step, the machine it runs on, when."""
    return node_label(
        (op.get("production_order_id"), "bold"),
        f"op {op.get('op_seq')}",
        (f"on {op.get('machine_id')}", "bold") if op.get("machine_id") else None,
        op.get("status"),
        f"{moment(op.get('planned_start'))} -> {moment(op.get('planned_end'))}",
        f"for {sales_line_id(op)}" if sales_line_id(op) else None,
        (
            f"now {moment(op.get('new_start'))} -> {moment(op.get('new_end'))}" if op.get("new_end") else "",
            "yellow",
        ),
    )


IMPACT_BINDINGS: list[BindingType] = [
    Binding("i", "impact", "Impact", id="resource.impact", tooltip="What its absence hits, if it is unavailable"),
    Binding(
        "d",
        "absence",
        "For how long",
        id="resource.absence",
        tooltip="Impact if it is unavailable for this long (asks how long first)",
    ),
]


class ResourceScreen(TreeScreen):
    """A person, tool or crew: what it is, whether it is available, what it works on next; `i` its
    impact if unavailable, `d` the same for a duration it asks first."""

    kind = "resource"

    BINDINGS: ClassVar[list[BindingType]] = IMPACT_BINDINGS

    @property
    def crumb(self) -> str:
        return f"resource {self.ident}"

    def fetch(self, plant: PlantData, at: datetime) -> Record:
        return plant.resource(self.ident, at=at)

    def action_impact(self) -> None:
        self.app.push_screen(ResourceImpactScreen(self.ident))

    def action_absence(self) -> None:
        facts = resource_facts(self.data or {})

        def chosen(minutes: int | None) -> None:
            if minutes is not None:
                self.app.push_screen(ResourceImpactScreen(self.ident, down_minutes=minutes))

        question = f"How long will {self.ident} be unavailable?"
        self.app.push_screen(DowntimeDialog(self.ident, facts.get("expected_minutes"), question=question), chosen)

    def summary(self, data: Record) -> Text:
        facts = resource_facts(data)
        text = Text(who(self.ident, facts["kind"], facts["name"]), style="bold")
        if facts["unavailable"]:
            text.append("  UNAVAILABLE", style="bold white on red")
            if facts["since"]:
                text.append(f" since {moment(facts['since'])}")
            if facts["expected_minutes"] is not None:
                text.append(f" (expect {duration(facts['expected_minutes'], unknown='unknown')})")
            if facts["reason"]:
                text.append(f"  {facts['reason']}", style="italic")
        else:
            text.append(f"  {facts['state']}", style="green")
        count = facts["open_operations"]
        count = len(facts["next_operations"]) if count is None else count
        text.append(
            f"\ncalendar {facts['calendar'] or 'the plant calendar'} · supervisor {facts['supervisor'] or '-'}"
            f" · {count} open operation(s)"
        )
        if facts["machines"]:
            text.append(f" on {', '.join(facts['machines'])}")
        return text

    def root_label(self, data: Record) -> Text:
        return Text(f"resource {self.ident}", style="bold")

    def build(self, root: Node, data: Record) -> None:
        facts = resource_facts(data)
        root.add_leaf(
            node_label(("Impact if unavailable", "bold reverse"), "what its absence hits", ("(Enter, or i)", "dim")),
            data=("resource_impact", self.ident),
        )
        ops = facts["next_operations"]
        node = group(root, "Next open operations", ops, empty="no open operation needs it")
        for op in capped(node, ops):
            own = ("production_order", str(op.get("production_order_id")))
            add_record(node, operation_label(op), op, own=own)


class ResourceImpactScreen(ImpactScreen):
    """What a resource's absence hits, as a machine's stop: the operations needing it (each on its
    machine), production orders, customer lines (slip apart from lateness), shipments, customers, who
    to tell. The triage keys act on its absence (the exception the plant raises about a resource)."""

    kind = "resource"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "d",
            "downtime",
            "How long",
            id="impact.downtime",
            tooltip="What if it is unavailable this long? Recompute the impact",
        ),
    ]

    @property
    def crumb(self) -> str:
        return f"{self.ident} impact"

    @property
    def downtime_question(self) -> str:
        return f"How long will {self.ident} be unavailable?"

    def ops_title(self) -> str:
        return f"Operations needing {self.ident}"

    def op_label(self, op: Record) -> Text:
        return operation_label(op)

    def triage_target(self) -> str | None:
        if self.data is not None and not self.data.get("resource_absent"):
            self.app.notify(f"{self.ident} is available: no absence to triage", severity="warning")
            return None
        kind = (self.data or {}).get("stop_kind")
        if not kind:
            self.app.notify("the plant raises no exception about a resource: nothing to triage", severity="warning")
            return None
        return f"{kind}:{self.ident}"

    def fetch(self, plant: PlantData, at: datetime) -> Record:
        # As for a machine: the absence starts where the store has the resource unavailable; `at` only
        # pins the clock for one that is available (a what-if absence now).
        facts = resource_facts(plant.resource(self.ident, at=at, limit=1))
        away = facts["unavailable"]
        answer = plant.resource_impact(self.ident, at=None if away else at, down_minutes=self.down_minutes)
        return {
            **answer,
            "resource_absent": away,
            "resource_facts": facts,
            "stop_kind": kind_about(plant.exception_kinds(), "resource"),
        }

    def stop_title(self, data: Record) -> Text:
        facts = data.get("resource_facts") or {}
        kind = data.get("resource_kind") or facts.get("kind")
        name = data.get("resource_name") or facts.get("name")
        text = Text("Impact: ", style="bold")
        text.append(who(self.ident, kind, name), style="bold")
        down = data.get("down_minutes")
        text.append(f" unavailable from {moment(data.get('stop_start') or data.get('at'))}")
        text.append(f" for {duration(down)}" if down is not None else ", for how long unknown: exposure only")
        if not data.get("resource_absent"):
            text.append(" (what-if)", style="italic")  # d (in the footer) changes the duration
        return text

    def root_label(self, data: Record) -> Text:
        return node_label(
            (f"resource {self.ident}", "bold"),
            (
                f"away {moment(data.get('stop_start'))} - {moment(data.get('stop_end'))}"
                if data.get("stop_end")
                else "",
                "dim",
            ),
        )


__all__ = ["ResourceImpactScreen", "ResourceScreen", "resource_facts"]
