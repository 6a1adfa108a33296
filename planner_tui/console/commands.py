"""Command palette (ctrl+p): go to a machine, order, lot, item...; impact of machine X; trace lot Y."""

from __future__ import annotations

import asyncio
from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

# Above this many entries, a query must contain each typed word (cheap), before fuzzy scoring.
FUZZY_ALL_LIMIT = 3000
MAX_HITS = 60


def load_entries(store) -> list[tuple[str, str, str, str]]:
    """(text, help, kind, ident) for everything the palette can go to; read in a worker thread."""
    cur = store.cursor()
    try:
        entries: list[tuple[str, str, str, str]] = []
        machines = cur.execute(
            "SELECT m.machine_id, coalesce(m.name, ''), coalesce(s.state, 'running') "
            "FROM machines m LEFT JOIN machine_states s USING (machine_id) ORDER BY 1").fetchall()
        for machine_id, name, state in machines:
            entries.append((f"Impact of machine {machine_id}", f"{name} ({state}): what its stop hits",
                            "machine", machine_id))
            entries.append((f"Go to machine {machine_id}", f"{name} ({state})", "machine", machine_id))
        for (hold_id, lot_id) in cur.execute(
                "SELECT hold_id, lot_id FROM quality_holds WHERE status = 'active' ORDER BY 1").fetchall():
            entries.append((f"Go to hold {hold_id}", f"active hold on lot {lot_id}", "hold", hold_id))
        for so, line, customer in cur.execute(
                "SELECT sales_order_id, line_no, customer_id FROM sales_orders ORDER BY 1, 2").fetchall():
            entries.append((f"Go to order {so}/{line}", f"sales order line for {customer}", "sales_order",
                            f"{so}/{line}"))
        for (po, item) in cur.execute(
                "SELECT production_order_id, item_id FROM production_orders ORDER BY 1").fetchall():
            entries.append((f"Go to production order {po}", f"makes {item}", "production_order", po))
        for (lot_id, item, status) in cur.execute("SELECT lot_id, item_id, status FROM lots ORDER BY 1").fetchall():
            entries.append((f"Trace lot {lot_id}", f"{item} ({status}): where it came from and went",
                            "lot", lot_id))
        for (item, description) in cur.execute(
                "SELECT item_id, coalesce(description, '') FROM items ORDER BY 1").fetchall():
            entries.append((f"Go to item {item}", f"{description}: projected balance and shortages",
                            "item", item))
        for (customer, name) in cur.execute(
                "SELECT customer_id, coalesce(name, '') FROM customers ORDER BY 1").fetchall():
            entries.append((f"Go to customer {customer}", name, "customer", customer))
        for (shipment, status) in cur.execute(
                "SELECT shipment_id, status FROM shipments ORDER BY 1").fetchall():
            entries.append((f"Go to shipment {shipment}", status, "shipment", shipment))
        return entries
    finally:
        cur.close()


class PlantCommands(Provider):
    """Every machine, hold, order, lot, item, customer and shipment of the plant."""

    async def startup(self) -> None:
        self._entries = await asyncio.to_thread(load_entries, self.app.store)

    async def discover(self) -> Hits:
        # Before typing: the stopped machines and active holds, the usual starting points.
        for text, help_text, kind, ident in self._entries:
            if (kind == "machine" and text.startswith("Impact") and "(running)" not in help_text
                    and "(idle)" not in help_text) or kind == "hold":
                yield DiscoveryHit(text, partial(self.app.action_drill, kind, ident), help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        words = query.lower().split()
        entries = self._entries
        if len(entries) > FUZZY_ALL_LIMIT and words:
            entries = [e for e in entries if all(w in e[0].lower() for w in words)]
        scored = []
        for text, help_text, kind, ident in entries:
            score = matcher.match(text)
            if score > 0:
                scored.append((score, text, help_text, kind, ident))
        scored.sort(key=lambda s: -s[0])
        for score, text, help_text, kind, ident in scored[:MAX_HITS]:
            yield Hit(score, matcher.highlight(text), partial(self.app.action_drill, kind, ident),
                      text=text, help=help_text)
