"""Lot trace: where a lot went (forward) and where it came from (backward), for holds and recalls.

Forward, the trace follows ``lot_genealogy`` (input lot -> output lot) at any depth and collects what
those lots touch: the production orders that made or consumed them, their on-hand stock by location,
the shipments that carry them (shipped ones too: a shipped lot is a recall question), the customers of
those shipments and of the sales order lines the consuming orders are made for, and who must be told.

The genealogy is walked breadth-first, both directions at once, one set-based query per level: the
frontier (the lots reached at the previous level) is joined to ``lot_genealogy`` and only lots not seen
before go on. So a diamond yields each lot once, at its shortest depth, and a cycle cannot loop: a lot
is never expanded twice (and MAX_DEPTH caps the levels besides). A recursive CTE (``USING KEY`` with a
``recurring`` visited check) gives the same answer but measured about 3x slower on a 1M-edge
genealogy, and 10x once the lookup indexes below exist (each iteration hashes the whole table;
`benchmarks/bench_material.py` measures both), so the levels are driven from here.

Cycles are not fatal for a trace (the recall question still has an answer): they are reported in the
answer's ``cycles`` (each cycle's lots) and ``warnings``; ``strict=True`` raises CycleError instead.
"""

from __future__ import annotations

import duckdb

from planner_tui.errors import CycleError, NotFound
from planner_tui.store.contract import OPEN_PRODUCTION_STATUSES
from planner_tui.store.db import rows

# Belt and braces beside the visited check: no real genealogy is this deep.
MAX_DEPTH = 10_000

# One level of the walk: the genealogy edges leaving the forward frontier (input -> output) and those
# entering the backward frontier, each read as (direction, lot reached from, next lot).
_LEVEL = {
    "forward": """SELECT 'forward', input_lot_id, output_lot_id FROM lot_genealogy
        WHERE input_lot_id IN (SELECT unnest(CAST(? AS VARCHAR[])))""",
    "backward": """SELECT 'backward', output_lot_id, input_lot_id FROM lot_genealogy
        WHERE output_lot_id IN (SELECT unnest(CAST(? AS VARCHAR[])))""",
}

# Lookups by a key list go in chunks of at most CHUNK keys: DuckDB turns a semi-join on that few keys
# into an IN filter on the scan (its dynamic_or_filter_threshold, 50), which an index on the column
# answers in about a millisecond and zone maps prune when the table is in key order; with more keys it
# hashes the whole table (15-20 ms per 500k rows). Beyond MANY keys one scan beats many lookups.
CHUNK = 50
MANY = 8 * CHUNK


def _chunks(keys) -> list[list]:
    keys = list(dict.fromkeys(k for k in keys if k is not None))
    if not keys:
        return []
    if len(keys) > MANY:
        return [keys]
    return [keys[i : i + CHUNK] for i in range(0, len(keys), CHUNK)]


def _lookup(cur: duckdb.DuckDBPyConnection, sql: str, keys) -> list[dict]:
    """Rows of `sql` (whose one parameter is a VARCHAR[] of keys) for all the keys, chunk by chunk."""
    found: list[dict] = []
    for chunk in _chunks(keys):
        found += rows(cur, sql, [chunk])
    return found


# Columns the trace looks rows up by. Without an index DuckDB answers a lookup of a few scattered keys by
# scanning the table (about 15-20 ms CPU per 500k rows); with an ART index on the column the same
# semi-join takes about 1 ms. The store's loader may create them after a load (`create_lookup_indexes`);
# the trace is correct either way.
LOOKUP_INDEXES: tuple[tuple[str, str], ...] = (
    ("lot_genealogy", "input_lot_id"),
    ("lot_genealogy", "output_lot_id"),
    ("lots", "lot_id"),
    ("inventory", "lot_id"),
    ("shipment_lots", "lot_id"),
    ("shipments", "shipment_id"),
    ("sales_orders", "sales_order_id"),
    ("production_orders", "production_order_id"),
    ("operations", "production_order_id"),
    ("quality_holds", "lot_id"),
)


def create_lookup_indexes(cur: duckdb.DuckDBPyConnection) -> list[str]:
    """Create the ART indexes the trace's lookups use (idempotent); returns the names created.

    Identifiers come from LOOKUP_INDEXES only. Meant for a writable store right after a snapshot load
    (a table replaced by the loader loses its indexes)."""
    created = []
    for table, column in LOOKUP_INDEXES:
        name = f"ix_{table}_{column}"
        row = cur.execute(
            "SELECT count(*) FROM duckdb_indexes() WHERE index_name = ? AND table_name = ?", [name, table]
        ).fetchone()
        assert row is not None  # an aggregate without GROUP BY returns exactly one row
        if not row[0]:
            cur.execute(f'CREATE INDEX "{name}" ON "{table}" ("{column}")')
            created.append(name)
    return created


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
        for direction in ("forward", "backward"):
            for chunk in _chunks(frontier[direction]):
                parts.append(_LEVEL[direction])
                params.append(chunk)
        next_frontier: dict[str, list[str]] = {"forward": [], "backward": []}
        for direction, from_lot, to_lot in cur.execute(" UNION ALL ".join(parts), params).fetchall():
            via[direction].setdefault(to_lot, []).append(from_lot)
            if to_lot not in depth_of[direction]:
                depth_of[direction][to_lot] = level
                next_frontier[direction].append(to_lot)
        frontier = next_frontier

    reached = set(depth_of["forward"]) | set(depth_of["backward"])
    attrs = {
        row["lot_id"]: row
        for row in _lookup(
            cur,
            "SELECT lot_id, item_id, status, qty, produced_by FROM lots WHERE lot_id IN (SELECT unnest(CAST(? AS VARCHAR[])))",
            sorted(reached),
        )
    }
    walks = {}
    for direction in ("forward", "backward"):
        lots = []
        for lot, depth in depth_of[direction].items():
            a = attrs.get(lot, {})
            lots.append(
                {
                    "lot_id": lot,
                    "item_id": a.get("item_id"),
                    "status": a.get("status"),
                    "qty": a.get("qty"),
                    "produced_by": a.get("produced_by"),
                    "depth": depth,
                    "via": sorted(set(via[direction].get(lot, []))),
                }
            )
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

    # What the traced lots (the lot and everything made from it) touch, each big table looked up by keys.
    traced = [f["lot_id"] for f in forward]
    holds = _lookup(
        cur,
        """SELECT hold_id, lot_id, reason, placed_at, placed_by, status FROM quality_holds
           WHERE lot_id IN (SELECT unnest(CAST(? AS VARCHAR[])))""",
        traced,
    )
    holds.sort(key=lambda h: (h["lot_id"] != lot_id, h["lot_id"], h["placed_at"], h["hold_id"]))
    own_holds = [h for h in holds if h["lot_id"] == lot_id]
    descendant_holds = [h for h in holds if h["lot_id"] != lot_id and h["status"] == "active"]

    inventory = _lookup(
        cur,
        """SELECT lot_id, item_id, location, qty FROM inventory
           WHERE lot_id IN (SELECT unnest(CAST(? AS VARCHAR[]))) AND qty <> 0""",
        traced,
    )
    inventory.sort(key=lambda i: (i["location"], i["lot_id"]))

    carried = _lookup(
        cur,
        "SELECT shipment_id, lot_id, qty FROM shipment_lots WHERE lot_id IN (SELECT unnest(CAST(? AS VARCHAR[])))",
        traced,
    )
    shipment_rows = {
        row["shipment_id"]: row
        for row in _lookup(
            cur,
            """SELECT shipment_id, status, sales_order_id, line_no, planned_ship_date FROM shipments
               WHERE shipment_id IN (SELECT unnest(CAST(? AS VARCHAR[])))""",
            sorted({c["shipment_id"] for c in carried}),
        )
    }
    orders = _lookup(
        cur,
        """SELECT production_order_id, item_id, status, qty, planned_start, planned_end, sales_order_id, line_no
           FROM production_orders WHERE production_order_id IN (SELECT unnest(CAST(? AS VARCHAR[])))""",
        sorted(roles),
    )
    orders.sort(key=lambda o: (o["planned_start"], o["production_order_id"]))
    for order in orders:
        entry = roles[order["production_order_id"]]
        order["roles"] = [r for r in ("consumes", "made") if entry[r]]
        order["role"] = "consumes" if entry["consumes"] else "made"
        order["consumed_lots"] = sorted(entry["consumes"])
        order["made_lots"] = sorted(entry["made"])

    # Sales order lines reached: those the shipments carry, and those the consuming orders are made for
    # (open orders still to ship goods made from the lot).
    wanted = {(s["sales_order_id"], s["line_no"]): "shipment" for s in shipment_rows.values()}
    made_for = {(o["sales_order_id"], o["line_no"]) for o in orders if o["sales_order_id"] and o["role"] == "consumes"}
    line_rows = {
        (row["sales_order_id"], row["line_no"]): row
        for row in _lookup(
            cur,
            """SELECT sales_order_id, line_no, customer_id, item_id, qty, promised_date, status FROM sales_orders
               WHERE sales_order_id IN (SELECT unnest(CAST(? AS VARCHAR[])))""",
            sorted({key[0] for key in wanted} | {key[0] for key in made_for}),
        )
    }
    sales_orders = []
    for key in set(wanted) | made_for:
        if key in line_rows:
            line = dict(line_rows[key])
            line["via"] = (["shipment"] if key in wanted else []) + (["made_for"] if key in made_for else [])
            sales_orders.append(line)
    sales_orders.sort(key=lambda so: (so["promised_date"], so["sales_order_id"], so["line_no"]))

    by_lot = {f["lot_id"]: f for f in forward}
    for i in inventory:
        i["lot_status"] = by_lot[i["lot_id"]]["status"]
    shipments = []
    for c in carried:
        ship = shipment_rows.get(c["shipment_id"])
        if ship is None:
            continue
        line = line_rows.get((ship["sales_order_id"], ship["line_no"]), {})
        shipments.append(
            {
                "shipment_id": ship["shipment_id"],
                "status": ship["status"],
                "sales_order_id": ship["sales_order_id"],
                "line_no": ship["line_no"],
                "customer_id": line.get("customer_id"),
                "lot_id": c["lot_id"],
                "qty": c["qty"],
                "planned_ship_date": ship["planned_ship_date"],
                "item_id": by_lot[c["lot_id"]]["item_id"],
                "shipped": ship["status"] in ("shipped", "delivered"),
            }
        )
    shipments.sort(key=lambda s: (s["planned_ship_date"], s["shipment_id"], s["lot_id"]))

    customer_ids = sorted({so["customer_id"] for so in sales_orders if so["customer_id"] is not None})
    customers = _lookup(
        cur,
        """SELECT customer_id, name, account_manager, tier FROM customers
           WHERE customer_id IN (SELECT unnest(CAST(? AS VARCHAR[])))""",
        customer_ids,
    )
    customers.sort(key=lambda c: c["customer_id"])
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
    running = _lookup(
        cur,
        """SELECT production_order_id, machine_id FROM operations
           WHERE production_order_id IN (SELECT unnest(CAST(? AS VARCHAR[]))) AND status <> 'done'""",
        open_consumers,
    )
    orders_on: dict[str, set[str]] = {}
    for op in running:
        orders_on.setdefault(op["machine_id"], set()).add(op["production_order_id"])
    machines = _lookup(
        cur,
        "SELECT machine_id, supervisor FROM machines WHERE machine_id IN (SELECT unnest(CAST(? AS VARCHAR[])))",
        sorted(orders_on),
    )
    machines.sort(key=lambda m: m["machine_id"])
    for m in machines:
        m["orders"] = sorted(orders_on[m["machine_id"]])
    buyer = cur.execute("SELECT buyer, description FROM items WHERE item_id = ?", [root["item_id"]]).fetchone()

    people: dict[str, dict] = {}
    for h in own_holds:
        if h["status"] == "active":
            _notify_add(people, h["placed_by"], "hold placer", f"placed hold {h['hold_id']} on lot {lot_id}")
    for c in customers:
        lines = ", ".join(c["sales_orders"][:5]) + (
            f" and {len(c['sales_orders']) - 5} more" if len(c["sales_orders"]) > 5 else ""
        )
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
    for cycle in cycles:
        warnings.append(f"lot genealogy has a cycle among lots {', '.join(cycle)} (each lot is traced once)")

    stock_by_location: dict[str, float] = {}
    for i in inventory:
        stock_by_location[i["location"]] = stock_by_location.get(i["location"], 0) + i["qty"]
    return {
        "lot_id": lot_id,
        "item_id": root["item_id"],
        "status": root["status"],
        "qty": root["qty"],
        "produced_by": root["produced_by"],
        "holds": own_holds,
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
            "stock_locations": len(stock_by_location),
            "stock_by_location": dict(sorted(stock_by_location.items())),
            "shipments": len({s["shipment_id"] for s in shipments}),
            "shipped_shipments": len({s["shipment_id"] for s in shipments if s["shipped"]}),
            "customers": len(customers),
            "customers_shipped_to": sum(1 for c in customers if c["received"]),
            "active_holds": sum(1 for h in own_holds if h["status"] == "active"),
        },
    }


def trace_hold(cur: duckdb.DuckDBPyConnection, hold_id: str, *, strict: bool = False) -> dict:
    """The trace of a quality hold's lot, with the hold itself on top (``hold``)."""
    found = rows(
        cur,
        "SELECT hold_id, lot_id, reason, placed_at, placed_by, status FROM quality_holds WHERE hold_id = ?",
        [hold_id],
    )
    if not found:
        raise NotFound(f"unknown quality hold {hold_id!r}: no such hold_id in quality_holds")
    hold = found[0]
    answer = trace_lot(cur, hold["lot_id"], strict=strict)
    # The hold's placer is told about this hold even when it has been released.
    people = {
        n["person"]: {"person": n["person"], "roles": n["roles"], "reasons": n["reasons"]} for n in answer["notify"]
    }
    _notify_add(people, hold["placed_by"], "hold placer", f"placed hold {hold_id} on lot {hold['lot_id']}")
    answer["notify"] = _notify_list(people)
    return {"hold": hold, **answer}
