"""The lot and hold drill-down: where a lot went and came from (lots, stock, shipments, customers, who to
tell), with the hold's triage."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from rich.text import Text
from textual.binding import BindingType

from planner_tui.access import PlantData, Record
from planner_tui.console.dialogs.triage import TRIAGE_BINDINGS_QUIET, TriageActions, kind_about
from planner_tui.console.screens._common import (
    add_record,
    capped,
    group,
    node_label,
    sales_line_id,
)
from planner_tui.console.screens.drilldown import Node, TreeScreen, add_notify
from planner_tui.present import moment, quantity

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
        text = Text.assemble(
            ("lot ", ""),
            (str(data.get("lot_id")), "bold"),
            f" {data.get('item_id')} ",
            (str(data.get("status")), "bold"),
        )
        hold = data.get("hold")
        if hold:
            text.append(f"  hold {hold.get('hold_id')} {hold.get('status')}: {hold.get('reason') or '-'}")
        text.append("\n")
        text.append(
            f"travelled to {s.get('descendants', len(data.get('descendants', [])))} lot(s), "
            f"stock {quantity(s.get('stock_qty'))} in {s.get('stock_locations', 0)} location(s), "
            f"{s.get('shipments', 0)} shipment(s) "
        )
        shipped = s.get("shipped_shipments", 0)
        text.append(
            f"({shipped} already SHIPPED)" if shipped else "(none shipped)", style="bold red" if shipped else ""
        )
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
                label = node_label(
                    (hold.get("hold_id"), "bold"),
                    (hold.get("status"), "bold"),
                    hold.get("reason"),
                    f"placed {moment(hold.get('placed_at'))} by {hold.get('placed_by') or '-'}",
                )
                add_record(node, label, hold, own=("hold", str(hold.get("hold_id"))))

        descendants = data.get("descendants") or []
        forward = group(root, "Forward: lots made from it", descendants, empty="not used in any other lot")
        self._lot_tree(forward, lot_id, descendants, "parent_lot_ids")

        stock = data.get("inventory") or []
        node = group(root, "Stock of these lots", stock, empty="no stock on hand")
        for row in capped(node, stock):
            label = node_label(
                (row.get("lot_id"), "bold"),
                f"at {row.get('location')}",
                f"qty {quantity(row.get('qty'))}",
                row.get("lot_status"),
            )
            add_record(node, label, row, own=("lot", str(row.get("lot_id"))))

        shipments = data.get("shipments") or []
        node = group(root, "Shipments carrying them", shipments, empty="not shipped")
        for row in capped(node, shipments):
            state = ("SHIPPED", "bold red") if row.get("shipped") else (row.get("status") or "", "")
            label = node_label(
                (row.get("shipment_id"), "bold"),
                state,
                f"lot {row.get('lot_id')}",
                f"to {row.get('customer_id') or '-'}",
                sales_line_id(row),
            )
            add_record(node, label, row)

        customers = data.get("customers") or []
        node = group(root, "Customers", customers)
        for customer in capped(node, customers):
            got = ("already received goods", "bold red") if customer.get("received") else ("orders open", "")
            label = node_label(
                (customer.get("customer_id"), "bold"),
                customer.get("name"),
                got,
                (f"account manager {customer.get('account_manager') or '-'}", "italic"),
            )
            add_record(node, label, customer)

        orders = data.get("production_orders") or []
        node = group(root, "Production orders", orders, expand=False)
        for po in capped(node, orders):
            label = node_label(
                (po.get("production_order_id"), "bold"),
                po.get("item_id"),
                po.get("status"),
                po.get("role"),
                sales_line_id(po),
            )
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
            label = node_label(
                (lot.get("lot_id"), "bold"),
                lot.get("item_id"),
                (lot.get("status") or "", "bold red" if lot.get("status") in ("hold", "shipped") else ""),
                f"qty {quantity(lot.get('qty'))}" if lot.get("qty") is not None else None,
                (f"also via {', '.join(map(str, also))}" if also else "", "dim"),
            )
            node = home.add(label, data=("lot", str(lot.get("lot_id"))), expand=True)
            nodes[lot.get("lot_id")] = node
        # Leaves should not show an expand arrow.
        for node in nodes.values():
            if node is not parent and not node.children:
                node.allow_expand = False
