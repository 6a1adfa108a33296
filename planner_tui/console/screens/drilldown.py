"""Drill-down screens: the tree they share, order links, shipment and customer detail. Machine impact is in
`impact.py`, the lot/hold trace in `trace.py`.

Each is a tree: Enter on any id opens it (the app pushes `navigation.screen_for(kind, id)`), Space folds a
branch, Escape goes back. The shortage chart and the exception detail live in `shortage.py` and
`exception.py`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Static
from textual.widgets.tree import TreeNode

from planner_tui.access import PlantData, Record
from planner_tui.console.screens._common import (
    Drill,
    DrillScreen,
    DrillTree,
    add_record,
    capped,
    group,
    node_label,
    resource_drills,
    sales_line_id,
)
from planner_tui.errors import NotFound
from planner_tui.present import day, moment, quantity, short_times_in, slip
from planner_tui.timeutil import as_datetime

LATE = ("LATE", "bold red")
Node = TreeNode[Drill | None]

# A customer line of an impact or of the repaired plan says two things apart (issue 11): how much later
# than planned the stop makes it (its slip: ETA against the planned ETA), and where it stands against
# the promise (turned late by this stop, already late in the plan, on time). Words carry both; colour
# only repeats them.
NO_SLIP = "—"  # the stop does not move the line


def slip_words(line: Record) -> Text:
    """The line's slip, "slip +1d 6h", or "slip —" when the stop does not move its ETA."""
    minutes = line.get("slip_minutes") or 0
    if minutes > 0:
        return Text(f"slip {slip(minutes)}", style="yellow")
    return Text(f"slip {NO_SLIP}", style="dim")


def _days_between(later: object, earlier: object) -> int | None:
    a, b = as_datetime(later), as_datetime(earlier)
    if a is None or b is None:
        return None
    return max(0, (a.date() - b.date()).days)


def standing_words(line: Record) -> Text:
    """Against the promise: "OVERDUE +3d" (open after its promised day), "LATE +2d" (this stop turns it late), "LATE in plan +12d" (late before the
    stop; "LATE in plan +12d -> +14d" when the stop makes it later still), "at risk" (exposed to a stop
    of unknown length) or "on time"."""
    days = line.get("days_late") or 0
    if not line.get("late"):
        if line.get("at_risk") and not (line.get("slip_minutes") or 0) > 0:
            return Text("at risk", style="yellow")
        return Text("on time", style="green")
    if line.get("overdue"):  # still open after its promised day: the clock says late, whatever the plan
        return Text(f"OVERDUE +{days}d" if days else "OVERDUE", style="bold red")
    if not line.get("late_in_plan"):
        return Text(f"LATE +{days}d" if days else "LATE", style="bold red")
    planned = _days_between(line.get("planned_eta"), line.get("promised_date"))
    text = Text("LATE in plan", style="red")
    if planned and planned != days:
        text.append(f" +{planned}d -> +{days}d")
    elif days:
        text.append(f" +{days}d")
    return text


def late_words(line: Record) -> Text:
    """A customer line's slip and its standing against the promise, side by side: "slip +1d 6h  LATE
    +2d", "slip —  LATE in plan +12d"."""
    return node_label(slip_words(line), standing_words(line))


def line_order(line: Record) -> tuple[Any, ...]:
    """Sort key: turned late by this stop first, then already late in the plan (each the latest first),
    then the biggest slip."""
    late = bool(line.get("late"))
    return (
        not (late and not line.get("late_in_plan")),
        not late,
        -(line.get("days_late") or 0),
        -(line.get("slip_minutes") or 0),
        str(line.get("promised_date")),
    )


def line_counts(lines: list[Record], *, total: bool = True) -> Text:
    """What the lines' counts count, in words: "5 lines: 2 turned late by this stop · 1 already late in
    the plan · 4 slip" (it fits 80 columns)."""
    turned = sum(1 for s in lines if s.get("late") and not s.get("late_in_plan"))
    in_plan = sum(1 for s in lines if s.get("late") and s.get("late_in_plan"))
    slipping = sum(1 for s in lines if (s.get("slip_minutes") or 0) > 0)
    text = Text(f"{len(lines)} line{'' if len(lines) == 1 else 's'}: " if total else "")
    text.append(f"{turned} turned late by this stop", style="bold red" if turned else "")
    text.append(" · ")
    text.append(f"{in_plan} already late in the plan", style="red" if in_plan else "")
    text.append(" · ")
    text.append(f"{slipping} slip", style="yellow" if slipping else "")
    return text


def add_notify(parent: Node, notify: list[Record]) -> None:
    node = group(parent, "Tell these people", notify, empty="nobody on record")
    for person in notify:
        label = node_label((person.get("person") or "?", "bold"), (person.get("role") or "", "italic"))
        entry = node.add(label, data=None, expand=True)
        reasons = person.get("reasons") or [person.get("why")]
        for reason in reasons:
            why = reason.get("why") if isinstance(reason, dict) else reason
            if why:
                entry.add_leaf(Text(short_times_in(str(why)), style="dim"))


class TreeScreen(DrillScreen):
    """A drill screen whose body is a one-line summary over a tree."""

    def compose_body(self) -> ComposeResult:
        yield Static(id="drill-summary")
        yield DrillTree(self.crumb, id="drill-tree")

    def show(self, data: Any, *, first: bool) -> None:
        self.query_one("#drill-summary", Static).update(self.summary(data))
        tree = self.query_one(DrillTree)
        tree.root.set_label(self.root_label(data))
        self.fill_tree(tree, lambda root: self.build(root, data), first=first)
        if first:
            tree.focus()

    def summary(self, data: Any) -> Text:
        return Text("")

    def root_label(self, data: Any) -> Text:
        return Text(self.crumb, style="bold")

    def build(self, root: Node, data: Any) -> None:
        raise NotImplementedError


# --- orders -> links --------------------------------------------------------------------------------


def _order_label(po: Record) -> Text:
    return node_label(
        (po.get("production_order_id"), "bold"),
        po.get("item_id"),
        f"qty {quantity(po.get('qty'))}",
        po.get("status"),
        f"{moment(po.get('planned_start'))} -> {moment(po.get('planned_end'))}",
    )


def _add_feeders(parent: Node, orders: list[Record]) -> None:
    """Orders with the orders feeding them nested under them, at any depth (engine's `fed_by`)."""
    for po in orders:
        node = parent.add(_order_label(po), data=("production_order", str(po.get("production_order_id"))), expand=True)
        feeders = po.get("fed_by") or []
        if feeders:
            _add_feeders(node, feeders)
        else:
            node.allow_expand = False


class OrderScreen(TreeScreen):
    """A production order or sales order line: what feeds it and what it feeds, through to customers."""

    def __init__(self, ident: str, *, kind: str = "production_order") -> None:
        super().__init__(ident)
        self.kind = kind

    @property
    def crumb(self) -> str:
        return f"{self.ident} links"

    def fetch(self, plant: PlantData, at: datetime) -> Record:
        return plant.order_links(self.ident)

    def summary(self, data: Record) -> Text:
        po = data.get("production_order")
        if po:
            text = Text.assemble(("production order ", ""), _order_label(po))
            made_for = sales_line_id(po)
            if made_for:
                text.append(f"  made for {made_for}")
            return text
        lines = data.get("sales_order_lines") or []
        line = lines[0] if lines else {}
        return node_label(
            ("order line", ""),
            (self.ident, "bold"),
            line.get("customer_id"),
            line.get("item_id"),
            f"qty {quantity(line.get('qty'))}",
            f"promised {day(line.get('promised_date'))}",
            line.get("status"),
        )

    def root_label(self, data: Record) -> Text:
        return Text(self.ident, style="bold")

    def build(self, root: Node, data: Record) -> None:
        if data.get("production_order") is not None:
            self._build_production_order(root, data)
        else:
            self._build_sales_order(root, data)
        self._downstream(root, data)

    def _build_production_order(self, root: Node, data: Record) -> None:
        fed_by = data.get("fed_by") or []
        node = group(root, "Fed by (orders whose output it uses)", fed_by, empty="nothing feeds it")
        _add_feeders(node, fed_by)
        ops = data.get("operations") or []
        node = group(root, "Operations", ops)
        for op in capped(node, ops):
            label = node_label(
                f"op {op.get('op_seq')}",
                (op.get("machine_id"), "bold"),
                op.get("machine_name"),
                op.get("status"),
                f"{moment(op.get('planned_start'))} -> {moment(op.get('planned_end'))}",
            )
            resources = resource_drills(op)  # the people and tools it needs, when the plant says
            if not resources:
                node.add_leaf(label, data=("machine", str(op.get("machine_id"))))
                continue
            op_node = node.add(label, data=("machine", str(op.get("machine_id"))), expand=False)
            for kind, ident in resources:
                op_node.add_leaf(Text.assemble(("needs resource ", "dim"), (ident, "bold")), data=(kind, ident))
        feeds = data.get("feeds") or []
        node = group(root, "Feeds (orders up the chain)", feeds, empty="feeds no other order")
        for po in capped(node, feeds):
            add_record(node, _order_label(po), po)

    def _build_sales_order(self, root: Node, data: Record) -> None:
        made = data.get("production_orders") or []
        ids = {po.get("production_order_id") for po in made}
        # The chain's top orders (not feeding another order of this line), each with its feeders nested.
        tops = [po for po in made if po.get("parent_production_order_id") not in ids]
        node = group(
            root,
            "Made by (production orders and what feeds them)",
            tops,
            empty="no production order: no supply planned",
        )
        _add_feeders(node, tops)

    def _downstream(self, root: Node, data: Record) -> None:
        lines = data.get("sales_order_lines") or []
        node = group(root, "Customer order lines", lines, empty="made to stock")
        for line in capped(node, lines):
            label = node_label(
                (sales_line_id(line), "bold"),
                line.get("customer_id"),
                line.get("item_id"),
                f"qty {quantity(line.get('qty'))}",
                f"promised {day(line.get('promised_date'))}",
                line.get("status"),
            )
            add_record(node, label, line)
        shipments = data.get("shipments") or []
        node = group(root, "Shipments", shipments)
        for shipment in capped(node, shipments):
            label = node_label(
                (shipment.get("shipment_id"), "bold"),
                shipment.get("status"),
                f"ship {day(shipment.get('planned_ship_date'))}",
                shipment.get("carrier"),
            )
            add_record(node, label, shipment, own=("shipment", str(shipment.get("shipment_id"))))
        customers = data.get("customers") or []
        node = group(root, "Customers", customers)
        for customer in capped(node, customers):
            label = node_label(
                (customer.get("customer_id"), "bold"),
                customer.get("name"),
                (f"account manager {customer.get('account_manager') or '-'}", "italic"),
            )
            add_record(node, label, customer)
        for warning in data.get("warnings") or []:
            root.add_leaf(Text(f"warning: {warning}", style="bold yellow"))


# --- shipment / customer detail ----------------------------------------------------------------------


OVERDUE = ("OVERDUE", "bold red")


class ShipmentScreen(TreeScreen):
    """A shipment: its order line, customer and lots, with any active hold on them or upstream of them."""

    kind = "shipment"

    @property
    def crumb(self) -> str:
        return f"shipment {self.ident}"

    def fetch(self, plant: PlantData, at: datetime) -> Record:
        return plant.shipment(self.ident)

    def summary(self, data: Record) -> Text:
        s = data["shipment"]
        return node_label(
            (self.ident, "bold"),
            (s.get("status"), "bold"),
            f"ship {day(s.get('planned_ship_date'))}",
            f"qty {quantity(s.get('qty'))}",
            s.get("carrier"),
        )

    def build(self, root: Node, data: Record) -> None:
        s = data["shipment"]
        line = data.get("sales_order_line") or {}
        customer = data.get("customer") or {}
        add_record(
            root,
            node_label(
                ("order line", "dim"),
                (sales_line_id(s), "bold"),
                line.get("item_id"),
                f"promised {day(line.get('promised_date'))}",
            ),
            {"sales_order_id": s.get("sales_order_id"), "line_no": s.get("line_no")},
        )
        add_record(
            root,
            node_label(
                ("customer", "dim"),
                (customer.get("customer_id"), "bold"),
                customer.get("name"),
                (f"account manager {customer.get('account_manager') or '-'}", "italic"),
            ),
            {"customer_id": customer.get("customer_id")},
        )
        lots = data["lots"]
        node = group(root, "Lots shipped", lots, empty="no lots recorded")
        for lot in lots:
            hold_id = lot["holds"][0]["hold_id"] if lot.get("holds") else None
            held = (f"ON HOLD {hold_id}", "bold red") if hold_id else None
            label = node_label(
                (lot.get("lot_id"), "bold"),
                lot.get("item_id"),
                lot.get("status"),
                f"qty {quantity(lot.get('qty'))}",
                held,
            )
            record = {"lot_id": lot.get("lot_id"), "item_id": lot.get("item_id"), "hold_id": hold_id}
            add_record(node, label, record, own=("lot", str(lot.get("lot_id"))))
        upstream = data.get("upstream_holds") or []
        if upstream:
            node = group(root, "Holds on lots they were made from", upstream)
            for hold in capped(node, upstream):
                label = node_label(
                    (hold.get("hold_id"), "bold red"),
                    f"on lot {hold.get('lot_id')}",
                    f"reaches {', '.join(hold.get('shipped_lot_ids') or [])}",
                    hold.get("reason"),
                )
                add_record(node, label, hold, own=("hold", str(hold.get("hold_id"))))


class CustomerScreen(TreeScreen):
    """A customer: open lines (and the orders made for them), shipments, holds reaching its shipments."""

    kind = "customer"

    @property
    def crumb(self) -> str:
        return f"customer {self.ident}"

    def fetch(self, plant: PlantData, at: datetime) -> Record:
        return plant.customer(self.ident, at=at)

    def summary(self, data: Record) -> Text:
        c = data["customer"]
        return node_label(
            (self.ident, "bold"),
            c.get("name"),
            f"tier {c.get('tier') or '-'}",
            (f"account manager {c.get('account_manager') or '-'}", "italic"),
        )

    def build(self, root: Node, data: Record) -> None:
        holds = data.get("holds") or []
        if holds:  # a quality problem on its goods comes first
            node = group(root, "Active holds reaching its shipments", holds)
            for hold in capped(node, holds):
                label = node_label(
                    (hold.get("hold_id"), "bold red"),
                    f"on lot {hold.get('lot_id')}",
                    ("already shipped", "bold red") if hold.get("already_shipped") else None,
                    f"shipments {', '.join(hold.get('shipment_ids') or [])}",
                    hold.get("reason"),
                )
                add_record(node, label, hold, own=("hold", str(hold.get("hold_id"))))
        lines = data["open_lines"]
        node = group(root, "Open order lines", lines)
        for line in capped(node, lines):
            label = node_label(
                (sales_line_id(line), "bold"),
                OVERDUE if line.get("overdue") else None,
                line.get("item_id"),
                f"qty {quantity(line.get('qty'))}",
                f"promised {day(line.get('promised_date'))}",
            )
            record = {k: v for k, v in line.items() if k != "production_orders"}
            line_node = add_record(node, label, record)
            made_by = line.get("production_orders") or []
            if made_by:
                line_node.allow_expand = True  # add_record makes a leaf when the line names no other id
            for po in made_by:
                line_node.add_leaf(
                    node_label(
                        ("production order", "dim"),
                        (po.get("production_order_id"), "bold"),
                        po.get("status"),
                        f"ends {moment(po.get('planned_end'))}",
                    ),
                    data=("production_order", str(po.get("production_order_id"))),
                )
        shipments = data["shipments"]
        node = group(root, "Shipments", shipments)
        for s in capped(node, shipments):
            label = node_label(
                (s.get("shipment_id"), "bold"),
                s.get("status"),
                OVERDUE if s.get("overdue") else None,
                f"ship {day(s.get('planned_ship_date'))}",
                sales_line_id(s),
            )
            add_record(node, label, s, own=("shipment", str(s.get("shipment_id"))))


class UnknownScreen(DrillScreen):
    """A drill of a kind nobody knows: says so and goes back (never a crash)."""

    def __init__(self, kind: str, ident: str) -> None:
        super().__init__(ident)
        self.kind = kind

    @property
    def crumb(self) -> str:
        return f"{self.kind} {self.ident}"

    def fetch(self, plant: PlantData, at: datetime) -> None:
        from planner_tui.console.navigation import KINDS

        raise NotFound(f"cannot open {self.kind or 'nothing'} {self.ident!r}: drill kinds are {', '.join(KINDS)}")

    def show(self, data: Any, *, first: bool) -> None:
        pass
