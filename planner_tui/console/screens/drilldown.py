"""Drill-down screens: machine impact, lot/hold trace, order links, shipment and customer detail.

Each is a tree: Enter on any id opens it (the app pushes `navigation.screen_for(kind, id)`), Space folds a
branch, Escape goes back. The shortage chart and the exception detail live in `shortage.py` and
`exception.py`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Static
from textual.widgets.tree import TreeNode

from planner_tui.access import PlantData, Record
from planner_tui.console.dialogs.downtime import DowntimeDialog
from planner_tui.console.dialogs.triage import TRIAGE_BINDINGS_QUIET, TriageActions, kind_about
from planner_tui.console.screens._common import (
    Drill,
    DrillScreen,
    DrillTree,
    add_record,
    capped,
    group,
    node_label,
    sales_line_id,
)
from planner_tui.errors import NotFound
from planner_tui.present import day, duration, moment, quantity, short_times_in, slip

LATE = ("LATE", "bold red")
Node = TreeNode[Drill | None]


def late_words(line: Record) -> Text:
    """LATE (by how many days) or on time, in words: never colour alone."""
    if line.get("late"):
        days = line.get("days_late")
        return Text(f"LATE +{days}d" if days else "LATE", style="bold red")
    text = Text("on time", style="green")
    slip_minutes = line.get("slip_minutes") or 0
    if slip_minutes > 0:
        text.append(f" (slips {duration(slip_minutes)})", style="yellow")
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


# --- machine -> impact ------------------------------------------------------------------------------


class ImpactScreen(TriageActions, TreeScreen):
    """What a stopped machine hits: operations, production orders with delays, the orders they feed,
    customer lines with ETA against promise, shipments, customers, and who must be told.
    The triage keys act on the machine's stop (the exception the plant raises about a machine, e.g.
    machine_down:<id>) without leaving the tree."""

    kind = "machine"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("d", "downtime", "Downtime", id="impact.downtime",
                tooltip="What if the stop lasts this long? Recompute the impact"),
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

        self.app.push_screen(DowntimeDialog(self.ident, current), chosen)

    @property
    def crumb(self) -> str:
        return f"{self.ident} impact"

    def fetch(self, plant: PlantData, at: datetime) -> Record:
        # The stop starts where the store has the machine down (the engine's rule); `at` only pins the
        # clock for a machine that is running (a what-if stop now).
        down = bool(plant.machine(self.ident, at=at)["stopped"])
        answer = plant.machine_impact(self.ident, at=None if down else at, down_minutes=self.down_minutes)
        return {**answer, "machine_stopped": down, "stop_kind": kind_about(plant.exception_kinds(), "machine")}

    def summary(self, data: Record) -> Text:
        late = [s for s in data.get("sales_orders", []) if s.get("late")]
        delayed = [p for p in data.get("production_orders", []) if (p.get("delay_minutes") or 0) > 0]
        down = data.get("down_minutes")
        stop = f"stopped {moment(data.get('stop_start') or data.get('at'))}"
        stop += f" for {duration(down)}" if down is not None else ", downtime unknown: showing exposure only"
        stop += " (what-if: d to change)" if self.down_minutes is not None else " (d: what if it lasts longer?)"
        text = Text.assemble((self.ident, "bold"), f" {stop}\n")
        text.append(f"{len(delayed)} production order(s) delayed, ")
        text.append(f"{len(late)} customer line(s) LATE", style="bold red" if late else "")
        text.append(f", {len(data.get('customers', []))} customer(s), "
                    f"{len(data.get('notify', []))} people to tell")
        return text

    def root_label(self, data: Record) -> Text:
        return node_label((f"machine {self.ident}", "bold"),
                          (f"stop {moment(data.get('stop_start'))} - {moment(data.get('stop_end'))}"
                           if data.get("stop_end") else "", "dim"))

    def build(self, root: Node, data: Record) -> None:
        # Who is hit comes first (customers at risk, who to tell); then how: orders and operations.
        lines = sorted(data.get("sales_orders") or [], key=lambda s: (not s.get("late"), str(s.get("promised_date"))))
        node = group(root, "Customer order lines", lines)
        for line in capped(node, lines):
            label = node_label(
                (sales_line_id(line), "bold"),
                late_words(line),  # before the dates: it must show at 80 columns
                line.get("customer_id"),
                f"promised {day(line.get('promised_date'))}",
                f"ETA {moment(line.get('eta'))}",
            )
            add_record(node, label, line)

        late_by_customer: dict[Any, int] = {}
        for line in lines:
            if line.get("late"):
                late_by_customer[line.get("customer_id")] = late_by_customer.get(line.get("customer_id"), 0) + 1
        customers = sorted(data.get("customers") or [],
                           key=lambda c: -late_by_customer.get(c.get("customer_id"), 0))
        node = group(root, "Customers", customers)
        for customer in capped(node, customers):
            late = late_by_customer.get(customer.get("customer_id"), 0)
            label = node_label((customer.get("customer_id"), "bold"),
                               (f"{late} LATE", "bold red") if late else ("at risk", "yellow"),
                               customer.get("name"),
                               (f"account manager {customer.get('account_manager') or '-'}", "italic"))
            add_record(node, label, customer)

        add_notify(root, data.get("notify") or [])

        shipments = data.get("shipments") or []
        node = group(root, "Shipments", shipments, expand=False)
        for shipment in capped(node, shipments):
            label = node_label((shipment.get("shipment_id"), "bold"),
                               LATE if shipment.get("late") else None,
                               f"ship {day(shipment.get('planned_ship_date'))}", shipment.get("status"),
                               sales_line_id(shipment),
                               f"ETA {moment(shipment.get('eta'))}" if shipment.get("eta") else None)
            add_record(node, label, shipment, own=("shipment", str(shipment.get("shipment_id"))))

        orders = data.get("production_orders") or []
        node = group(root, "Production orders", orders)
        for po in capped(node, orders):
            delay = po.get("delay_minutes")
            delay_part = (f"{slip(delay)} late", "bold yellow") if (delay or 0) > 0 else ("no delay", "dim")
            label = node_label(
                (po.get("production_order_id"), "bold"),
                po.get("item_id"),
                f"end {moment(po.get('planned_end'))} -> {moment(po.get('new_end'))}",
                delay_part,
                (po.get("why") or "", "dim italic"),
            )
            add_record(node, label, po)

        ops = data.get("operations") or []
        node = group(root, "Operations on the machine", ops, expand=False)
        for op in capped(node, ops):
            label = node_label(
                (op.get("production_order_id"), "bold"),
                f"op {op.get('op_seq')}",
                op.get("status"),
                f"{moment(op.get('planned_start'))} -> {moment(op.get('planned_end'))}",
                (f"now {moment(op.get('new_start'))} -> {moment(op.get('new_end'))}" if op.get("new_end") else "", "yellow"),
            )
            add_record(node, label, op, own=("production_order", str(op.get("production_order_id"))))


# --- hold / lot -> trace ----------------------------------------------------------------------------


class TraceScreen(TriageActions, TreeScreen):
    """Where a lot went (forward: lots made from it, stock, shipments, customers) and where it came from.
    The triage keys act on the quality hold (the exception the plant raises about a hold, e.g.
    quality_hold:<id>): the traced hold, else the lot's active one."""

    BINDINGS: ClassVar[list[BindingType]] = TRIAGE_BINDINGS_QUIET

    def triage_target(self) -> str | None:
        data = self.data or {}
        hold = data.get("hold") or next((h for h in data.get("holds") or [] if h.get("status") == "active"), None)
        kind = data.get("hold_kind")
        if hold and kind:
            return f"{kind}:{hold['hold_id']}"
        self.app.notify(f"lot {self.ident} has no active quality hold to triage", severity="warning")
        return None

    def _target_or_say(self) -> str | None:
        return self.triage_target()

    def __init__(self, ident: str, *, kind: str = "lot") -> None:
        super().__init__(ident)
        self.kind = kind

    @property
    def crumb(self) -> str:
        return f"{'hold' if self.kind == 'hold' else 'lot'} {self.ident} trace"

    def fetch(self, plant: PlantData, at: datetime) -> Record:
        answer = plant.trace_hold(self.ident) if self.kind == "hold" else plant.trace_lot(self.ident)
        return {**answer, "hold_kind": kind_about(plant.exception_kinds(), "hold")}

    def summary(self, data: Record) -> Text:
        s = data.get("summary") or {}
        text = Text.assemble(("lot ", ""), (str(data.get("lot_id")), "bold"), f" {data.get('item_id')} ",
                             (str(data.get("status")), "bold"))
        hold = data.get("hold")
        if hold:
            text.append(f"  hold {hold.get('hold_id')} {hold.get('status')}: {hold.get('reason') or '-'}")
        text.append("\n")
        text.append(f"travelled to {s.get('descendants', len(data.get('descendants', [])))} lot(s), "
                    f"stock {quantity(s.get('stock_qty'))} in {s.get('stock_locations', 0)} location(s), "
                    f"{s.get('shipments', 0)} shipment(s) ")
        shipped = s.get("shipped_shipments", 0)
        text.append(f"({shipped} already SHIPPED)" if shipped else "(none shipped)",
                    style="bold red" if shipped else "")
        text.append(f", {s.get('customers', 0)} customer(s)")
        return text

    def root_label(self, data: Record) -> Text:
        return node_label((f"lot {data.get('lot_id')}", "bold"), data.get("item_id"), data.get("status"))

    def build(self, root: Node, data: Record) -> None:
        lot_id = data.get("lot_id")
        holds = data.get("holds") or []
        if holds:
            node = group(root, "Quality holds", holds)
            for hold in capped(node, holds):
                label = node_label((hold.get("hold_id"), "bold"), (hold.get("status"), "bold"),
                                   hold.get("reason"), f"placed {moment(hold.get('placed_at'))} by {hold.get('placed_by') or '-'}")
                add_record(node, label, hold, own=("hold", str(hold.get("hold_id"))))

        descendants = data.get("descendants") or []
        forward = group(root, "Forward: lots made from it", descendants, empty="not used in any other lot")
        self._lot_tree(forward, lot_id, descendants, "parent_lot_ids")

        stock = data.get("inventory") or []
        node = group(root, "Stock of these lots", stock, empty="no stock on hand")
        for row in capped(node, stock):
            label = node_label((row.get("lot_id"), "bold"), f"at {row.get('location')}", f"qty {quantity(row.get('qty'))}",
                               row.get("lot_status"))
            add_record(node, label, row, own=("lot", str(row.get("lot_id"))))

        shipments = data.get("shipments") or []
        node = group(root, "Shipments carrying them", shipments, empty="not shipped")
        for row in capped(node, shipments):
            state = ("SHIPPED", "bold red") if row.get("shipped") else (row.get("status") or "", "")
            label = node_label((row.get("shipment_id"), "bold"), state, f"lot {row.get('lot_id')}",
                               f"to {row.get('customer_id') or '-'}", sales_line_id(row))
            add_record(node, label, row)

        customers = data.get("customers") or []
        node = group(root, "Customers", customers)
        for customer in capped(node, customers):
            got = ("already received goods", "bold red") if customer.get("received") else ("orders open", "")
            label = node_label((customer.get("customer_id"), "bold"), customer.get("name"), got,
                               (f"account manager {customer.get('account_manager') or '-'}", "italic"))
            add_record(node, label, customer)

        orders = data.get("production_orders") or []
        node = group(root, "Production orders", orders, expand=False)
        for po in capped(node, orders):
            label = node_label((po.get("production_order_id"), "bold"), po.get("item_id"), po.get("status"),
                               po.get("role"), sales_line_id(po))
            add_record(node, label, po)

        ancestors = data.get("ancestors") or []
        backward = group(root, "Backward: lots it came from", ancestors, empty="no recorded inputs")
        self._lot_tree(backward, lot_id, ancestors, "child_lot_ids")

        add_notify(root, data.get("notify") or [])
        for warning in data.get("warnings") or []:
            root.add_leaf(Text(f"warning: {warning}", style="bold yellow"))

    def _lot_tree(self, parent: Node, origin: Any, lots: list[Record], link: str) -> None:
        """Nest lots under the lot they were reached from (the nearest one; other links are named)."""
        by_depth = sorted(lots, key=lambda d: (d.get("depth") or 0, str(d.get("lot_id"))))
        nodes: dict[Any, Node] = {origin: parent}
        for lot in capped(parent, by_depth):
            links = [p for p in (lot.get(link) or []) if p in nodes]
            home = nodes[links[0]] if links else parent
            also = [p for p in (lot.get(link) or []) if p not in links[:1]]
            label = node_label((lot.get("lot_id"), "bold"), lot.get("item_id"),
                               (lot.get("status") or "", "bold red" if lot.get("status") in ("hold", "shipped") else ""),
                               f"qty {quantity(lot.get('qty'))}" if lot.get("qty") is not None else None,
                               (f"also via {', '.join(map(str, also))}" if also else "", "dim"))
            node = home.add(label, data=("lot", str(lot.get("lot_id"))), expand=True)
            nodes[lot.get("lot_id")] = node
        # Leaves should not show an expand arrow.
        for node in nodes.values():
            if node is not parent and not node.children:
                node.allow_expand = False


# --- orders -> links --------------------------------------------------------------------------------


def _order_label(po: Record) -> Text:
    return node_label((po.get("production_order_id"), "bold"), po.get("item_id"), f"qty {quantity(po.get('qty'))}",
                      po.get("status"), f"{moment(po.get('planned_start'))} -> {moment(po.get('planned_end'))}")


def _add_feeders(parent: Node, orders: list[Record]) -> None:
    """Orders with the orders feeding them nested under them, at any depth (engine's `fed_by`)."""
    for po in orders:
        node = parent.add(_order_label(po), data=("production_order", str(po.get("production_order_id"))),
                          expand=True)
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
        return node_label(("order line", ""), (self.ident, "bold"), line.get("customer_id"), line.get("item_id"),
                          f"qty {quantity(line.get('qty'))}", f"promised {day(line.get('promised_date'))}",
                          line.get("status"))

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
            label = node_label(f"op {op.get('op_seq')}", (op.get("machine_id"), "bold"), op.get("machine_name"),
                               op.get("status"), f"{moment(op.get('planned_start'))} -> {moment(op.get('planned_end'))}")
            node.add_leaf(label, data=("machine", str(op.get("machine_id"))))
        feeds = data.get("feeds") or []
        node = group(root, "Feeds (orders up the chain)", feeds, empty="feeds no other order")
        for po in capped(node, feeds):
            add_record(node, _order_label(po), po)

    def _build_sales_order(self, root: Node, data: Record) -> None:
        made = data.get("production_orders") or []
        ids = {po.get("production_order_id") for po in made}
        # The chain's top orders (not feeding another order of this line), each with its feeders nested.
        tops = [po for po in made if po.get("parent_production_order_id") not in ids]
        node = group(root, "Made by (production orders and what feeds them)", tops, empty="no production order: no supply planned")
        _add_feeders(node, tops)

    def _downstream(self, root: Node, data: Record) -> None:
        lines = data.get("sales_order_lines") or []
        node = group(root, "Customer order lines", lines, empty="made to stock")
        for line in capped(node, lines):
            label = node_label((sales_line_id(line), "bold"), line.get("customer_id"), line.get("item_id"),
                               f"qty {quantity(line.get('qty'))}", f"promised {day(line.get('promised_date'))}",
                               line.get("status"))
            add_record(node, label, line)
        shipments = data.get("shipments") or []
        node = group(root, "Shipments", shipments)
        for shipment in capped(node, shipments):
            label = node_label((shipment.get("shipment_id"), "bold"), shipment.get("status"),
                               f"ship {day(shipment.get('planned_ship_date'))}", shipment.get("carrier"))
            add_record(node, label, shipment, own=("shipment", str(shipment.get("shipment_id"))))
        customers = data.get("customers") or []
        node = group(root, "Customers", customers)
        for customer in capped(node, customers):
            label = node_label((customer.get("customer_id"), "bold"), customer.get("name"),
                               (f"account manager {customer.get('account_manager') or '-'}", "italic"))
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
        return node_label((self.ident, "bold"), (s.get("status"), "bold"), f"ship {day(s.get('planned_ship_date'))}",
                          f"qty {quantity(s.get('qty'))}", s.get("carrier"))

    def build(self, root: Node, data: Record) -> None:
        s = data["shipment"]
        line = data.get("sales_order_line") or {}
        customer = data.get("customer") or {}
        add_record(root, node_label(("order line", "dim"), (sales_line_id(s), "bold"), line.get("item_id"),
                                    f"promised {day(line.get('promised_date'))}"),
                   {"sales_order_id": s.get("sales_order_id"), "line_no": s.get("line_no")})
        add_record(root, node_label(("customer", "dim"), (customer.get("customer_id"), "bold"), customer.get("name"),
                                    (f"account manager {customer.get('account_manager') or '-'}", "italic")),
                   {"customer_id": customer.get("customer_id")})
        lots = data["lots"]
        node = group(root, "Lots shipped", lots, empty="no lots recorded")
        for lot in lots:
            hold_id = lot["holds"][0]["hold_id"] if lot.get("holds") else None
            held = (f"ON HOLD {hold_id}", "bold red") if hold_id else None
            label = node_label((lot.get("lot_id"), "bold"), lot.get("item_id"), lot.get("status"),
                               f"qty {quantity(lot.get('qty'))}", held)
            record = {"lot_id": lot.get("lot_id"), "item_id": lot.get("item_id"), "hold_id": hold_id}
            add_record(node, label, record, own=("lot", str(lot.get("lot_id"))))
        upstream = data.get("upstream_holds") or []
        if upstream:
            node = group(root, "Holds on lots they were made from", upstream)
            for hold in capped(node, upstream):
                label = node_label((hold.get("hold_id"), "bold red"), f"on lot {hold.get('lot_id')}",
                                   f"reaches {', '.join(hold.get('shipped_lot_ids') or [])}", hold.get("reason"))
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
        return node_label((self.ident, "bold"), c.get("name"), f"tier {c.get('tier') or '-'}",
                          (f"account manager {c.get('account_manager') or '-'}", "italic"))

    def build(self, root: Node, data: Record) -> None:
        holds = data.get("holds") or []
        if holds:  # a quality problem on its goods comes first
            node = group(root, "Active holds reaching its shipments", holds)
            for hold in capped(node, holds):
                label = node_label((hold.get("hold_id"), "bold red"), f"on lot {hold.get('lot_id')}",
                                   ("already shipped", "bold red") if hold.get("already_shipped") else None,
                                   f"shipments {', '.join(hold.get('shipment_ids') or [])}", hold.get("reason"))
                add_record(node, label, hold, own=("hold", str(hold.get("hold_id"))))
        lines = data["open_lines"]
        node = group(root, "Open order lines", lines)
        for line in capped(node, lines):
            label = node_label((sales_line_id(line), "bold"), OVERDUE if line.get("overdue") else None,
                               line.get("item_id"), f"qty {quantity(line.get('qty'))}",
                               f"promised {day(line.get('promised_date'))}")
            record = {k: v for k, v in line.items() if k != "production_orders"}
            line_node = add_record(node, label, record)
            made_by = line.get("production_orders") or []
            if made_by:
                line_node.allow_expand = True  # add_record makes a leaf when the line names no other id
            for po in made_by:
                line_node.add_leaf(
                    node_label(("production order", "dim"), (po.get("production_order_id"), "bold"), po.get("status"),
                               f"ends {moment(po.get('planned_end'))}"),
                    data=("production_order", str(po.get("production_order_id"))),
                )
        shipments = data["shipments"]
        node = group(root, "Shipments", shipments)
        for s in capped(node, shipments):
            label = node_label((s.get("shipment_id"), "bold"), s.get("status"), OVERDUE if s.get("overdue") else None,
                               f"ship {day(s.get('planned_ship_date'))}", sales_line_id(s))
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
