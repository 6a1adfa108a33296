"""Lot trace: where a lot went (forward) and where it came from (backward), for holds and recalls.

Forward, the trace follows ``lot_genealogy`` (input lot -> output lot) at any depth and collects what
those lots touch: the production orders that made or consumed them, their on-hand stock by location,
the shipments that carry them (shipped ones too: a shipped lot is a recall question), the customers of
those shipments and of the sales order lines the consuming orders are made for, and who must be told.

The genealogy is walked breadth-first, both directions at once, one set-based query per level: the
frontier (the lots reached at the previous level) is joined to ``lot_genealogy`` and only lots not seen
before go on. So a diamond yields each lot once, at its shortest depth, and a cycle cannot loop: a lot
is never expanded twice (and MAX_DEPTH caps the levels besides). A recursive CTE (``USING KEY`` with a
``recurring`` visited check) gives the same answer but measured 3-5x slower on a 1M-edge genealogy
(each iteration re-hashes the whole table; `benchmarks/bench_material.py` measures both), so the
levels are driven from here.

Cycles are not fatal for a trace (the recall question still has an answer): they are reported in the
answer's ``cycles`` (each cycle's lots) and ``warnings``; ``strict=True`` raises CycleError instead.
"""

from __future__ import annotations

import duckdb

from planner_tui.errors import CycleError, NotFound
from planner_tui.store.contract import OPEN_PRODUCTION_STATUSES

# Belt and braces beside the visited check: no real genealogy is this deep.
MAX_DEPTH = 10_000

# One level of the walk: the genealogy edges leaving the forward frontier (input -> output) and those
# entering the backward frontier, each read as (direction, lot reached from, next lot).
_LEVEL_FORWARD = """SELECT 'forward' AS direction, input_lot_id AS from_lot, output_lot_id AS to_lot
    FROM lot_genealogy WHERE input_lot_id IN (SELECT unnest(CAST(? AS VARCHAR[])))"""
_LEVEL_BACKWARD = """SELECT 'backward', output_lot_id, input_lot_id
    FROM lot_genealogy WHERE output_lot_id IN (SELECT unnest(CAST(? AS VARCHAR[])))"""


def _rows(cur: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> list[dict]:
    result = cur.execute(sql, params or [])
    names = [d[0] for d in result.description]
    return [dict(zip(names, row)) for row in result.fetchall()]


def _walk(cur: duckdb.DuckDBPyConnection, lot_id: str) -> dict[str, list[dict]]:
    """Both walks from lot_id: {"forward": [...], "backward": [...]}, each the lot itself (depth 0) then
    every lot reachable in that direction once, at its shortest depth, with ``via``: its neighbours
    among the reached lots on the way back (all of them: a diamond's lot has two). Every edge among
    the reached lots is seen, an edge back into the root included (how a cycle through it shows)."""
    depth_of = {"forward": {lot_id: 0}, "backward": {lot_id: 0}}
    via: dict[str, dict[str, list[str]]] = {"forward": {}, "backward": {}}
    frontier = {"forward": [lot_id], "backward": [lot_id]}
    level = 0
    while (frontier["forward"] or frontier["backward"]) and level < MAX_DEPTH:
        level += 1
        parts, params = [], []
        for direction, sql in (("forward", _LEVEL_FORWARD), ("backward", _LEVEL_BACKWARD)):
            if frontier[direction]:
                parts.append(sql)
                params.append(frontier[direction])
        next_frontier: dict[str, list[str]] = {"forward": [], "backward": []}
        for direction, from_lot, to_lot in cur.execute(" UNION ALL ".join(parts), params).fetchall():
            via[direction].setdefault(to_lot, []).append(from_lot)
            if to_lot not in depth_of[direction]:
                depth_of[direction][to_lot] = level
                next_frontier[direction].append(to_lot)
        frontier = next_frontier

    # Lot attributes for every reached lot in one query.
    reached = sorted(set(depth_of["forward"]) | set(depth_of["backward"]))
    attrs = {
        row[0]: row
        for row in cur.execute(
            "SELECT lot_id, item_id, status, qty, produced_by FROM lots WHERE lot_id IN (SELECT unnest(CAST(? AS VARCHAR[])))",
            [reached],
        ).fetchall()
    }
    walks = {}
    for direction in ("forward", "backward"):
        lots = []
        for lot, depth in depth_of[direction].items():
            _, item_id, status, qty, produced_by = attrs.get(lot, (lot, None, None, None, None))
            lots.append({"lot_id": lot, "item_id": item_id, "status": status, "qty": qty,
                         "produced_by": produced_by, "depth": depth,
                         "via": sorted(set(via[direction].get(lot, [])))})
        lots.sort(key=lambda r: (r["depth"], r["lot_id"]))
        walks[direction] = lots
    return walks


def _cycles(lots: list[dict]) -> list[list[str]]:
    """The cycles (strongly connected components) among the traced lots, each as its sorted lot ids.

    Edges come from the ``via`` lists of a walk. Kahn's peeling removes every lot not on or behind a
    cycle (all of them, in a sound genealogy) in linear time; Tarjan runs only on what is left.
    """
    edges: dict[str, list[str]] = {}
    indegree: dict[str, int] = {}
    for lot in lots:
        indegree.setdefault(lot["lot_id"], 0)
        for parent in lot["via"] or []:
            edges.setdefault(parent, []).append(lot["lot_id"])
            indegree[lot["lot_id"]] += 1
            indegree.setdefault(parent, 0)
    ready = [node for node, n in indegree.items() if n == 0]
    while ready:
        node = ready.pop()
        for child in edges.get(node, ()):
            indegree[child] -= 1
            if indegree[child] == 0:
                ready.append(child)
    left = {node for node, n in indegree.items() if n > 0}
    if not left:
        return []
    edges = {node: [c for c in edges.get(node, ()) if c in left] for node in left}

    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for start in sorted(edges):
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
    walks = _walk(cur, lot_id)
    forward, backward = walks["forward"], walks["backward"]
    root = forward[0]  # depth 0: the lot itself, with its attributes when it is in lots
    if root["item_id"] is None:
        raise NotFound(f"unknown lot {lot_id!r}: no such lot_id in lots")
    # A cycle through the lot's ancestry (not reachable forward) is a broken genealogy too.
    cycles = _cycles(forward) or _cycles(backward)
    descendants = forward[1:]  # [0] is the lot itself (depth 0)
    ancestors = backward[1:]
    if cycles and strict:
        shown = "; ".join(", ".join(c) for c in cycles[:3])
        raise CycleError(f"lot genealogy has a cycle among lots {shown}")

    # Orders, from the walk itself: a traced lot's producer "made" it, and the producer of a descendant
    # also "consumes" the traced lots it was made from (an output lot whose input is a traced lot).
    roles: dict[str, dict[str, set[str]]] = {}
    if root["produced_by"] is not None:
        roles.setdefault(root["produced_by"], {"made": set(), "consumes": set()})["made"].add(lot_id)
    for d in descendants:
        if d["produced_by"] is not None:
            entry = roles.setdefault(d["produced_by"], {"made": set(), "consumes": set()})
            entry["made"].add(d["lot_id"])
            entry["consumes"].update(d["via"] or [])

    # The traced set (the lot and everything made from it) is registered as a relation on this cursor,
    # so the follow-up joins stay set-based and take no large list parameters.
    import pyarrow as pa  # only here: keeps `import planner_tui.engine.trace` light for the CLI

    view = f"_trace_lots_{id(cur) & 0xFFFFFF:x}"
    cur.register(view, pa.table({"lot_id": [f["lot_id"] for f in forward]}))
    try:
        holds = _rows(
            cur,
            f"""SELECT q.hold_id, q.lot_id, q.reason, q.placed_at, q.placed_by, q.status
                FROM quality_holds q JOIN "{view}" t ON t.lot_id = q.lot_id
                WHERE q.lot_id = ? OR q.status = 'active'
                ORDER BY q.lot_id <> ?, q.lot_id, q.placed_at, q.hold_id""",
            [lot_id, lot_id],
        )
        inventory = _rows(
            cur,
            f"""SELECT i.lot_id, i.item_id, i.location, i.qty
                FROM inventory i JOIN "{view}" t ON t.lot_id = i.lot_id
                WHERE i.qty <> 0
                ORDER BY i.location, i.lot_id""",
        )
        shipments = _rows(
            cur,
            f"""SELECT s.shipment_id, s.status, s.sales_order_id, s.line_no, so.customer_id, sl.lot_id,
                       sl.qty, s.planned_ship_date,
                       so.item_id AS so_item_id, so.qty AS so_qty, so.promised_date AS so_promised_date,
                       so.status AS so_status
                FROM shipment_lots sl
                JOIN "{view}" t ON t.lot_id = sl.lot_id
                JOIN shipments s ON s.shipment_id = sl.shipment_id
                LEFT JOIN sales_orders so ON so.sales_order_id = s.sales_order_id AND so.line_no = s.line_no
                ORDER BY s.planned_ship_date, s.shipment_id, sl.lot_id""",
        )
    finally:
        cur.unregister(view)

    orders = []
    if roles:
        orders = _rows(
            cur,
            """SELECT p.production_order_id, p.item_id, p.status, p.qty, p.planned_start, p.planned_end,
                      p.sales_order_id, p.line_no,
                      so.customer_id AS so_customer_id, so.item_id AS so_item_id, so.qty AS so_qty,
                      so.promised_date AS so_promised_date, so.status AS so_status
               FROM production_orders p
               LEFT JOIN sales_orders so ON so.sales_order_id = p.sales_order_id AND so.line_no = p.line_no
               WHERE p.production_order_id IN (SELECT unnest(?::VARCHAR[]))
               ORDER BY p.planned_start, p.production_order_id""",
            [sorted(roles)],
        )
    for order in orders:
        entry = roles[order["production_order_id"]]
        order["roles"] = [r for r in ("consumes", "made") if entry[r]]
        order["role"] = "consumes" if entry["consumes"] else "made"
        order["consumed_lots"] = sorted(entry["consumes"])
        order["made_lots"] = sorted(entry["made"])

    own_holds = [h for h in holds if h["lot_id"] == lot_id]
    descendant_holds = [h for h in holds if h["lot_id"] != lot_id]
    holds = own_holds
    by_lot = {f["lot_id"]: f for f in forward}
    for i in inventory:
        i["lot_status"] = by_lot[i["lot_id"]]["status"]
    for s in shipments:
        s["item_id"] = by_lot[s["lot_id"]]["item_id"]
        s["shipped"] = s["status"] in ("shipped", "delivered")

    # Sales order lines reached: those the shipments carry, and those the consuming orders are made for
    # (open orders still to ship goods made from the lot). Both queries above brought the line along.
    lines: dict[tuple, dict] = {}
    for source, via, customer_key in ((shipments, "shipment", "customer_id"), (orders, "made_for", "so_customer_id")):
        for row in source:
            if row["sales_order_id"] is None or row.get("so_status") is None:
                continue
            if via == "made_for" and "consumes" not in row["roles"]:
                continue
            key = (row["sales_order_id"], row["line_no"])
            line = lines.setdefault(key, {
                "sales_order_id": key[0], "line_no": key[1], "customer_id": row[customer_key],
                "item_id": row["so_item_id"], "qty": row["so_qty"], "promised_date": row["so_promised_date"],
                "status": row["so_status"], "via": [],
            })
            if via not in line["via"]:
                line["via"].append(via)
    for row in shipments + orders:
        for extra in ("so_customer_id", "so_item_id", "so_qty", "so_promised_date", "so_status"):
            row.pop(extra, None)
    sales_orders = sorted(lines.values(), key=lambda so: (so["promised_date"], so["sales_order_id"], so["line_no"]))

    customer_ids = sorted({so["customer_id"] for so in sales_orders if so["customer_id"] is not None})
    customers: list[dict] = []
    if customer_ids:
        customers = _rows(
            cur,
            """SELECT customer_id, name, account_manager, tier FROM customers
               WHERE customer_id IN (SELECT unnest(?::VARCHAR[])) ORDER BY customer_id""",
            [customer_ids],
        )
    shipments_of: dict[str, list[dict]] = {}
    for s in shipments:
        shipments_of.setdefault(s["customer_id"], []).append(s)
    lines_of: dict[str, list[str]] = {}
    for so in sales_orders:
        lines_of.setdefault(so["customer_id"], []).append(f"{so['sales_order_id']}/{so['line_no']}")
    for c in customers:
        mine = shipments_of.get(c["customer_id"], [])
        c["received"] = any(s["shipped"] for s in mine)  # goods already left: a recall question
        c["shipments"] = sorted({s["shipment_id"] for s in mine})
        c["sales_orders"] = lines_of.get(c["customer_id"], [])

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
        lines = ", ".join(c["sales_orders"][:5]) + (f" and {len(c['sales_orders']) - 5} more" if len(c["sales_orders"]) > 5 else "")
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
