"""Lot trace: where a lot went (forward) and where it came from (backward), for holds and recalls.

Forward, the trace follows ``lot_genealogy`` (input lot -> output lot) at any depth and collects what
those lots touch: the production orders that made or consumed them, their on-hand stock by location,
the shipments that carry them (shipped ones too: a shipped lot is a recall question), the customers of
those shipments and of the sales order lines the consuming orders are made for, and who must be told.

The genealogy is walked by a recursive CTE keyed on the lot (``USING KEY``) whose recursive step skips
lots already reached (``recurring``): a diamond yields each lot once, at its shortest depth, and a cycle
cannot loop because a lot is never expanded twice. Cycles are not fatal for a trace (the recall question
still has an answer), so they are reported in the answer's ``cycles`` list (each cycle's lots) and
``warnings``; ``strict=True`` raises CycleError instead.
"""

from __future__ import annotations

import duckdb

from planner_tui.errors import CycleError, NotFound
from planner_tui.store.contract import OPEN_PRODUCTION_STATUSES

# Belt and braces beside the visited check: no real genealogy is this deep.
MAX_DEPTH = 10_000

# (direction, join column of the lot reached so far, column of the next lot)
_WALK = {
    "forward": ("input_lot_id", "output_lot_id"),
    "backward": ("output_lot_id", "input_lot_id"),
}


def _walk_sql(direction: str) -> str:
    from_col, to_col = _WALK[direction]
    return f"""
        WITH RECURSIVE walk(lot_id, depth) USING KEY (lot_id) AS (
            SELECT CAST(? AS VARCHAR), 0
            UNION
            SELECT g.{to_col}, walk.depth + 1
            FROM walk JOIN lot_genealogy g ON g.{from_col} = walk.lot_id
            WHERE walk.depth < {MAX_DEPTH}
              AND g.{to_col} NOT IN (SELECT lot_id FROM recurring.walk)
        )
        SELECT lot_id, depth FROM walk WHERE depth > 0
    """


def _rows(cur: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> list[dict]:
    result = cur.execute(sql, params or [])
    names = [d[0] for d in result.description]
    return [dict(zip(names, row)) for row in result.fetchall()]


def _walk(cur: duckdb.DuckDBPyConnection, lot_id: str, direction: str) -> list[dict]:
    """The lot (depth 0) and every lot reachable from it in one direction, each once at its shortest
    depth, with ``via``: its neighbours on the way back (all of them: a diamond's lot has two)."""
    from_col, to_col = _WALK[direction]
    # The walk is joined back to the genealogy to list every edge among the reached lots, the root
    # included (an edge back into the root is how a cycle through it shows), in one query.
    return _rows(
        cur,
        f"""
        WITH reached AS ({_walk_sql(direction)}),
        traced AS (SELECT lot_id, depth FROM reached UNION ALL SELECT CAST(? AS VARCHAR), 0),
        links AS (
            SELECT g.{to_col} AS lot_id, list(DISTINCT g.{from_col} ORDER BY g.{from_col}) AS via
            FROM lot_genealogy g
            WHERE g.{to_col} IN (SELECT lot_id FROM traced)
              AND g.{from_col} IN (SELECT lot_id FROM traced)
            GROUP BY g.{to_col}
        )
        SELECT t.lot_id, l.item_id, l.status, l.qty, l.produced_by, t.depth, links.via
        FROM traced t
        LEFT JOIN lots l ON l.lot_id = t.lot_id
        LEFT JOIN links ON links.lot_id = t.lot_id
        ORDER BY t.depth, t.lot_id
        """,
        [lot_id, lot_id],
    )


def _cycles(lots: list[dict]) -> list[list[str]]:
    """The cycles (strongly connected components) among the traced lots, each as its sorted lot ids.

    Edges come from the `via` lists of a forward walk (parent -> lot); the sub-graph is one lot's trace,
    so a small iterative Tarjan in Python is cheap here.
    """
    edges: dict[str, list[str]] = {}
    for lot in lots:
        edges.setdefault(lot["lot_id"], [])
        for parent in lot["via"] or []:
            edges.setdefault(parent, []).append(lot["lot_id"])
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for start in edges:
        if start in index:
            continue
        work = [(start, iter(edges[start]))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(edges.get(child, []))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1 or node in edges.get(node, []):
                    found.append(sorted(component))
    return sorted(found)


def _notify_add(people: dict[str, dict], person: str | None, role: str, why: str) -> None:
    if not person:
        return
    entry = people.setdefault(person, {"person": person, "roles": [], "reasons": []})
    if role not in entry["roles"]:
        entry["roles"].append(role)
    reason = {"role": role, "why": why}
    if reason not in entry["reasons"]:
        entry["reasons"].append(reason)


def _notify_list(people: dict[str, dict]) -> list[dict]:
    out = []
    for entry in people.values():
        out.append(
            {
                "person": entry["person"],
                "role": ", ".join(entry["roles"]),
                "why": "; ".join(r["why"] for r in entry["reasons"]),
                "roles": entry["roles"],
                "reasons": entry["reasons"],
            }
        )
    return sorted(out, key=lambda e: e["person"])


def trace_lot(cur: duckdb.DuckDBPyConnection, lot_id: str, *, strict: bool = False) -> dict:
    """Forward and backward trace of one lot. Raises NotFound for an unknown lot; with strict=True a
    cycle in the genealogy raises CycleError, otherwise it is listed in ``cycles`` and ``warnings``."""
    root = _rows(cur, "SELECT lot_id, item_id, status, qty, produced_by FROM lots WHERE lot_id = ?", [lot_id])
    if not root:
        raise NotFound(f"unknown lot {lot_id!r}: no such lot_id in lots")
    root = root[0]

    forward = _walk(cur, lot_id, "forward")
    backward = _walk(cur, lot_id, "backward")
    # A cycle through the lot's ancestry (not reachable forward) is a broken genealogy too.
    cycles = _cycles(forward) or _cycles(backward)
    descendants = forward[1:]  # [0] is the lot itself (depth 0)
    ancestors = backward[1:]
    if cycles and strict:
        shown = "; ".join(", ".join(c) for c in cycles[:3])
        raise CycleError(f"lot genealogy has a cycle among lots {shown}")

    # The traced set: the lot and everything made from it, passed as one list parameter so the follow-up
    # queries stay set-based whatever the trace's size.
    traced_ids = [lot_id] + [d["lot_id"] for d in descendants]
    holds = _rows(
        cur,
        """SELECT hold_id, lot_id, reason, placed_at, placed_by, status FROM quality_holds
           WHERE lot_id = ? ORDER BY placed_at, hold_id""",
        [lot_id],
    )
    descendant_holds = _rows(
        cur,
        """SELECT hold_id, lot_id, reason, placed_at, placed_by, status FROM quality_holds
           WHERE lot_id IN (SELECT unnest(?::VARCHAR[])) AND lot_id <> ? AND status = 'active'
           ORDER BY lot_id, hold_id""",
        [traced_ids, lot_id],
    )

    # Orders: the one that made the traced lot ("made") and those that turned a traced lot into a
    # descendant ("consumes": they made an output lot whose input is a traced lot).
    orders = _rows(
        cur,
        """
        WITH traced AS (SELECT unnest(?::VARCHAR[]) AS lot_id),
        roles AS (
            SELECT l.produced_by AS production_order_id, 'made' AS role, l.lot_id AS lot_id
            FROM lots l WHERE l.lot_id = ? AND l.produced_by IS NOT NULL
            UNION
            SELECT o.produced_by, 'consumes', g.input_lot_id
            FROM lot_genealogy g
            JOIN traced t ON t.lot_id = g.input_lot_id
            JOIN lots o ON o.lot_id = g.output_lot_id
            WHERE o.produced_by IS NOT NULL
            UNION
            SELECT o.produced_by, 'made', o.lot_id
            FROM lot_genealogy g
            JOIN traced t ON t.lot_id = g.input_lot_id
            JOIN lots o ON o.lot_id = g.output_lot_id
            WHERE o.produced_by IS NOT NULL
        )
        SELECT p.production_order_id, p.item_id, p.status, p.qty, p.planned_start, p.planned_end,
               p.sales_order_id, p.line_no,
               list(DISTINCT r.role ORDER BY r.role) AS roles,
               list(DISTINCT r.lot_id ORDER BY r.lot_id) FILTER (WHERE r.role = 'consumes') AS consumed_lots,
               list(DISTINCT r.lot_id ORDER BY r.lot_id) FILTER (WHERE r.role = 'made') AS made_lots
        FROM roles r JOIN production_orders p ON p.production_order_id = r.production_order_id
        GROUP BY ALL
        ORDER BY p.planned_start, p.production_order_id
        """,
        [traced_ids, lot_id],
    )
    for order in orders:
        order["role"] = "consumes" if "consumes" in order["roles"] else "made"
        order["consumed_lots"] = order["consumed_lots"] or []
        order["made_lots"] = order["made_lots"] or []

    inventory = _rows(
        cur,
        """SELECT i.lot_id, i.item_id, i.location, i.qty, l.status AS lot_status
           FROM inventory i LEFT JOIN lots l ON l.lot_id = i.lot_id
           WHERE i.lot_id IN (SELECT unnest(?::VARCHAR[])) AND i.qty <> 0
           ORDER BY i.location, i.lot_id""",
        [traced_ids],
    )
    shipments = _rows(
        cur,
        """SELECT s.shipment_id, s.status, s.sales_order_id, s.line_no, so.customer_id, sl.lot_id,
                  sl.qty, s.planned_ship_date, l.item_id
           FROM shipment_lots sl
           JOIN shipments s ON s.shipment_id = sl.shipment_id
           LEFT JOIN sales_orders so ON so.sales_order_id = s.sales_order_id AND so.line_no = s.line_no
           LEFT JOIN lots l ON l.lot_id = sl.lot_id
           WHERE sl.lot_id IN (SELECT unnest(?::VARCHAR[]))
           ORDER BY s.planned_ship_date, s.shipment_id, sl.lot_id""",
        [traced_ids],
    )
    for s in shipments:
        s["shipped"] = s["status"] in ("shipped", "delivered")

    # Sales order lines reached: those the shipments carry, and those the consuming orders are made for
    # (open orders still to ship goods made from the lot).
    made_for = {
        (o["sales_order_id"], o["line_no"]): o["production_order_id"]
        for o in orders
        if o["sales_order_id"] is not None and "consumes" in o["roles"]
    }
    line_keys = sorted({(s["sales_order_id"], s["line_no"]) for s in shipments} | set(made_for))
    sales_orders = []
    if line_keys:
        sales_orders = _rows(
            cur,
            """SELECT so.sales_order_id, so.line_no, so.customer_id, so.item_id, so.qty, so.promised_date,
                      so.status
               FROM sales_orders so
               JOIN (SELECT unnest(?::VARCHAR[]) AS sales_order_id, unnest(?::INTEGER[]) AS line_no) k
                 USING (sales_order_id, line_no)
               ORDER BY so.promised_date, so.sales_order_id, so.line_no""",
            [[k[0] for k in line_keys], [k[1] for k in line_keys]],
        )
    shipped_lines = {(s["sales_order_id"], s["line_no"]) for s in shipments}
    for so in sales_orders:
        key = (so["sales_order_id"], so["line_no"])
        so["via"] = (["shipment"] if key in shipped_lines else []) + (["made_for"] if key in made_for else [])

    customer_ids = sorted({so["customer_id"] for so in sales_orders if so["customer_id"] is not None})
    customers = []
    if customer_ids:
        customers = _rows(
            cur,
            """SELECT customer_id, name, account_manager, tier FROM customers
               WHERE customer_id IN (SELECT unnest(?::VARCHAR[])) ORDER BY customer_id""",
            [customer_ids],
        )
    for c in customers:
        mine = [s for s in shipments if s["customer_id"] == c["customer_id"]]
        c["received"] = any(s["shipped"] for s in mine)  # goods already left: a recall question
        c["shipments"] = sorted({s["shipment_id"] for s in mine})
        c["sales_orders"] = [
            f"{so['sales_order_id']}/{so['line_no']}" for so in sales_orders if so["customer_id"] == c["customer_id"]
        ]

    # Machines still to run the consuming orders (their open operations): their supervisors must know
    # what material is on their machines.
    open_consumers = [
        o["production_order_id"] for o in orders if "consumes" in o["roles"] and o["status"] in OPEN_PRODUCTION_STATUSES
    ]
    machines = []
    if open_consumers:
        machines = _rows(
            cur,
            """SELECT m.machine_id, m.supervisor, list(DISTINCT op.production_order_id ORDER BY op.production_order_id) AS orders
               FROM operations op JOIN machines m ON m.machine_id = op.machine_id
               WHERE op.production_order_id IN (SELECT unnest(?::VARCHAR[])) AND op.status <> 'done'
               GROUP BY ALL ORDER BY m.machine_id""",
            [open_consumers],
        )
    buyer = cur.execute(
        "SELECT buyer, description FROM items WHERE item_id = ?", [root["item_id"]]
    ).fetchone()

    people: dict[str, dict] = {}
    for h in holds:
        if h["status"] == "active":
            _notify_add(people, h["placed_by"], "hold placer", f"placed hold {h['hold_id']} on lot {lot_id}")
    for c in customers:
        lines = ", ".join(c["sales_orders"])
        if c["received"]:
            why = f"customer {c['customer_id']} received goods made from lot {lot_id} ({lines})"
        else:
            why = f"customer {c['customer_id']} has orders with goods made from lot {lot_id} ({lines})"
        _notify_add(people, c["account_manager"], "account manager", why)
    if buyer:
        _notify_add(people, buyer[0], "buyer", f"buys item {root['item_id']} (lot {lot_id})")
    for m in machines:
        _notify_add(
            people,
            m["supervisor"],
            "supervisor",
            f"machine {m['machine_id']} runs {', '.join(m['orders'])} consuming lot {lot_id} or its descendants",
        )

    warnings = []
    for c in cycles:
        warnings.append(f"lot genealogy has a cycle among lots {', '.join(c)} (each lot is traced once)")

    locations = sorted({i["location"] for i in inventory})
    return {
        "lot_id": lot_id,
        "item_id": root["item_id"],
        "status": root["status"],
        "qty": root["qty"],
        "produced_by": root["produced_by"],
        "holds": holds,
        "descendant_holds": descendant_holds,
        "descendants": [
            {
                "lot_id": d["lot_id"],
                "item_id": d["item_id"],
                "status": d["status"],
                "qty": d["qty"],
                "depth": d["depth"],
                "parent_lot_ids": d["via"] or [],
                "produced_by": d["produced_by"],
            }
            for d in descendants
        ],
        "ancestors": [
            {
                "lot_id": a["lot_id"],
                "item_id": a["item_id"],
                "status": a["status"],
                "depth": a["depth"],
                "child_lot_ids": a["via"] or [],
            }
            for a in ancestors
        ],
        "production_orders": orders,
        "inventory": inventory,
        "shipments": shipments,
        "sales_orders": sales_orders,
        "customers": customers,
        "notify": _notify_list(people),
        "cycles": cycles,
        "warnings": warnings,
        "summary": {
            "lots": 1 + len(descendants),
            "descendants": len(descendants),
            "ancestors": len(ancestors),
            "max_depth": max((d["depth"] for d in descendants), default=0),
            "production_orders": len(orders),
            "stock_qty": sum(i["qty"] for i in inventory),
            "stock_locations": len(locations),
            "shipments": len({s["shipment_id"] for s in shipments}),
            "shipped_shipments": len({s["shipment_id"] for s in shipments if s["shipped"]}),
            "customers": len(customers),
            "customers_shipped_to": sum(1 for c in customers if c["received"]),
            "active_holds": sum(1 for h in holds if h["status"] == "active"),
        },
    }


def trace_hold(cur: duckdb.DuckDBPyConnection, hold_id: str, *, strict: bool = False) -> dict:
    """The trace of a quality hold's lot, with the hold itself on top (``hold``)."""
    hold = _rows(
        cur,
        "SELECT hold_id, lot_id, reason, placed_at, placed_by, status FROM quality_holds WHERE hold_id = ?",
        [hold_id],
    )
    if not hold:
        raise NotFound(f"unknown quality hold {hold_id!r}: no such hold_id in quality_holds")
    hold = hold[0]
    answer = trace_lot(cur, hold["lot_id"], strict=strict)
    # The hold's placer is told about this hold even when it has been released.
    people = {n["person"]: {"person": n["person"], "roles": n["roles"], "reasons": n["reasons"]} for n in answer["notify"]}
    _notify_add(people, hold["placed_by"], "hold placer", f"placed hold {hold_id} on lot {hold['lot_id']}")
    answer["notify"] = _notify_list(people)
    return {"hold": hold, **answer}
