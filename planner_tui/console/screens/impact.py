"""What a stop hits: a machine's stop, or a person's or tool's absence (a secondary resource unavailable,
issue 11), asked alike: production orders, customer lines, shipments, who to tell, with a what-if
downtime and the stop's triage. Each customer line says its slip (how much later than planned) apart from
where it stands against the promise (turned late by this stop, already late in the plan, on time)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType

from planner_tui.access import PlantData, Record
from planner_tui.console.dialogs.downtime import DowntimeDialog
from planner_tui.console.dialogs.triage import TRIAGE_BINDINGS_QUIET, TriageActions, kind_about
from planner_tui.console.screens._common import (
    add_record,
    capped,
    group,
    node_label,
    resource_drills,
    sales_line_id,
)
from planner_tui.console.screens.drilldown import (
    LATE,
    Node,
    TreeScreen,
    add_notify,
    late_words,
    line_counts,
    line_order,
)
from planner_tui.present import day, duration, eta, moment, slip

# --- machine -> impact ------------------------------------------------------------------------------


class ImpactScreen(TriageActions, TreeScreen):
    """What a stopped machine hits: operations, production orders with delays, the orders they feed,
    customer lines (each its slip, then its standing against the promise), shipments, customers, and who
    must be told. `ResourceImpactScreen` (resource.py) is the same for a person's or tool's absence.
    The triage keys act on the machine's stop (the exception the plant raises about a machine, e.g.
    machine_down:<id>) without leaving the tree."""

    kind = "machine"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "d",
            "downtime",
            "Downtime",
            id="impact.downtime",
            tooltip="What if the stop lasts this long? Recompute the impact",
        ),
        *TRIAGE_BINDINGS_QUIET,
    ]

    def triage_target(self) -> str | None:
        if self.data is not None and not self.data.get("machine_stopped"):
            self.app.notify(f"{self.ident} is not stopped: no machine stop to triage", severity="warning")
            return None
        kind = (self.data or {}).get("stop_kind")
        if not kind:
            self.app.notify("the plant raises no exception about a machine: nothing to triage", severity="warning")
            return None
        return f"{kind}:{self.ident}"

    def _target_or_say(self) -> str | None:
        return self.triage_target()

    def __init__(self, machine_id: str, *, down_minutes: int | None = None) -> None:
        super().__init__(machine_id)
        self.down_minutes = down_minutes

    def action_downtime(self) -> None:
        current = self.down_minutes if self.down_minutes is not None else (self.data or {}).get("down_minutes")

        def chosen(minutes: int | None) -> None:
            if minutes is not None:
                self.down_minutes = minutes
                self.reload()

        self.app.push_screen(DowntimeDialog(self.ident, current, question=self.downtime_question), chosen)

    @property
    def downtime_question(self) -> str:
        return f"How long will {self.ident} be down?"

    @property
    def crumb(self) -> str:
        return f"{self.ident} impact"

    def fetch(self, plant: PlantData, at: datetime) -> Record:
        # The stop starts where the store has the machine down (the engine's rule); `at` only pins the
        # clock for a machine that is running (a what-if stop now).
        down = bool(plant.machine(self.ident, at=at)["stopped"])
        answer = plant.machine_impact(self.ident, at=None if down else at, down_minutes=self.down_minutes)
        return {**answer, "machine_stopped": down, "stop_kind": kind_about(plant.exception_kinds(), "machine")}

    def stop_title(self, data: Record) -> Text:
        """The summary's first line: whose stop, from when, for how long."""
        down = data.get("down_minutes")
        stop = f"stopped {moment(data.get('stop_start') or data.get('at'))}"
        stop += f" for {duration(down)}" if down is not None else ", downtime unknown: showing exposure only"
        stop += " (what-if: d to change)" if self.down_minutes is not None else " (d: what if it lasts longer?)"
        return Text.assemble((self.ident, "bold"), f" {stop}")

    def summary(self, data: Record) -> Text:
        # Every count says what it counts: lateness against the promise apart from the slip.
        lines = list(data.get("sales_orders") or [])
        delayed = [p for p in data.get("production_orders", []) if (p.get("delay_minutes") or 0) > 0]
        text = self.stop_title(data)
        text.append("\n")
        text.append_text(line_counts(lines))
        text.append(
            f"\n{len(delayed)} production order(s) end later · {len(data.get('customers') or [])} customer(s)"
            f" · {len(data.get('notify') or [])} people to tell"
        )
        return text

    def root_label(self, data: Record) -> Text:
        return node_label(
            (f"{self.kind} {self.ident}", "bold"),
            (
                f"stop {moment(data.get('stop_start'))} - {moment(data.get('stop_end'))}"
                if data.get("stop_end")
                else "",
                "dim",
            ),
        )

    def ops_title(self) -> str:
        return "Operations on the machine"

    def op_label(self, op: Record) -> Text:
        return node_label(
            (op.get("production_order_id"), "bold"),
            f"op {op.get('op_seq')}",
            op.get("status"),
            f"{moment(op.get('planned_start'))} -> {moment(op.get('planned_end'))}",
            (
                f"now {moment(op.get('new_start'))} -> {moment(op.get('new_end'))}" if op.get("new_end") else "",
                "yellow",
            ),
        )

    def build(self, root: Node, data: Record) -> None:
        # Who is hit comes first (customers at risk, who to tell); then how: orders and operations.
        # Turned late by this stop first, then late in the plan, then the biggest slip.
        lines = sorted(data.get("sales_orders") or [], key=line_order)
        node = group(root, "Customer order lines", lines)
        for line in capped(node, lines):
            label = node_label(
                (sales_line_id(line), "bold"),
                late_words(line),  # slip, then the promise: before the dates, it must show at 80 columns
                line.get("customer_id"),
                f"promised {day(line.get('promised_date'))}",
                f"ETA {eta(line, whole=True)}",
            )
            add_record(node, label, line)

        turned: dict[Any, int] = {}  # lines this stop turns late, per customer
        in_plan: dict[Any, int] = {}  # lines already late in the plan, per customer
        for line in lines:
            if line.get("late"):
                counts = in_plan if line.get("late_in_plan") else turned
                counts[line.get("customer_id")] = counts.get(line.get("customer_id"), 0) + 1
        customers = sorted(
            data.get("customers") or [],
            key=lambda c: (-turned.get(c.get("customer_id"), 0), -in_plan.get(c.get("customer_id"), 0)),
        )
        node = group(root, "Customers", customers)
        for customer in capped(node, customers):
            late = turned.get(customer.get("customer_id"), 0)
            planned_late = in_plan.get(customer.get("customer_id"), 0)
            label = node_label(
                (customer.get("customer_id"), "bold"),
                (f"{late} turned late", "bold red") if late else None,
                (f"{planned_late} late in plan", "red") if planned_late else None,
                ("at risk", "yellow") if not late and not planned_late else None,
                customer.get("name"),
                (f"account manager {customer.get('account_manager') or '-'}", "italic"),
            )
            add_record(node, label, customer)

        add_notify(root, data.get("notify") or [])

        shipments = data.get("shipments") or []
        node = group(root, "Shipments", shipments, expand=False)
        for shipment in capped(node, shipments):
            label = node_label(
                (shipment.get("shipment_id"), "bold"),
                LATE if shipment.get("late") else None,
                f"ship {day(shipment.get('planned_ship_date'))}",
                shipment.get("status"),
                sales_line_id(shipment),
                f"ETA {eta(shipment, whole=True)}" if shipment.get("eta") else None,
            )
            add_record(node, label, shipment, own=("shipment", str(shipment.get("shipment_id"))))

        orders = data.get("production_orders") or []
        node = group(root, "Production orders", orders)
        for po in capped(node, orders):
            delay = po.get("delay_minutes")
            delay_part = (f"slip {slip(delay)}", "bold yellow") if (delay or 0) > 0 else ("no delay", "dim")
            label = node_label(
                (po.get("production_order_id"), "bold"),
                po.get("item_id"),
                f"end {moment(po.get('planned_end'))} -> {moment(po.get('new_end'))}",
                delay_part,
                (po.get("why") or "", "dim italic"),
            )
            add_record(node, label, po)

        ops = data.get("operations") or []
        node = group(root, self.ops_title(), ops, expand=False)
        for op in capped(node, ops):
            own = ("production_order", str(op.get("production_order_id")))
            add_record(node, self.op_label(op), op, own=own, extra=resource_drills(op))
