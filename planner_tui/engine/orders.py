"""Order links: for any order, what feeds it and what it feeds, down to customers and shipments.

`order_links(cur, order_id)` answers for
  * a production order id: the order, its operations, what feeds it (the child orders whose
    parent_production_order_id is it, recursively, as a tree: `fed_by`), what it feeds (the parent chain,
    nearest first: `feeds`), the sales order line it is made for (its own, else the nearest parent's), that
    line's shipments and customer;
  * a sales order line "SO/line" (e.g. "SO-1001/1") or a sales order id (all its lines): the line(s), the
    production orders made for them (each with its `fed_by` tree), shipments and customers.
Raises NotFound for an unknown id and CycleError when feeding links loop.
"""

from __future__ import annotations

import duckdb

from planner_tui.errors import CycleError, NotFound

_ORDER_COLS = (
    "production_order_id, item_id, qty, status, planned_start, planned_end, sales_order_id, line_no, "
    "parent_production_order_id"
)


def rows(cur: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> list[dict]:
    result = cur.execute(sql, params or [])
    names = [d[0] for d in result.description]
    return [dict(zip(names, row)) for row in result.fetchall()]


def find_feeding_cycle(parent_of: dict[str, str | None]) -> list[str] | None:
    """A loop in parent links (child -> parent), as the orders on it in feeding order, else None."""
    state: dict[str, int] = {}  # 1: on the current walk, 2: known to end
    for origin in parent_of:
        if origin in state:
            continue
        walk: list[str] = []
        node: str | None = origin
        while node is not None and node not in state:
            state[node] = 1
            walk.append(node)
            node = parent_of.get(node)
        if node is not None and state[node] == 1:
            return walk[walk.index(node):] + [node]
        for visited in walk:
            state[visited] = 2
    return None


def raise_if_cycle(parent_of: dict[str, str | None]) -> None:
    cycle = find_feeding_cycle(parent_of)
    if cycle:
        raise CycleError("production orders feed each other in a loop: " + " -> ".join(cycle))


def parent_chain(cur: duckdb.DuckDBPyConnection, order_id: str) -> list[dict]:
    """The orders `order_id` feeds, nearest first (its parent, the parent's parent...)."""
    chain: list[dict] = []
    seen = [order_id]
    row = rows(cur, f"SELECT {_ORDER_COLS} FROM production_orders WHERE production_order_id = ?", [order_id])
    parent = row[0]["parent_production_order_id"] if row else None
    while parent is not None:
        if parent in seen:
            raise CycleError("production orders feed each other in a loop: " + " -> ".join(seen[seen.index(parent):] + [parent]))
        seen.append(parent)
        found = rows(cur, f"SELECT {_ORDER_COLS} FROM production_orders WHERE production_order_id = ?", [parent])
        if not found:
            break
        chain.append(found[0])
        parent = found[0]["parent_production_order_id"]
    return chain


def feeder_tree(cur: duckdb.DuckDBPyConnection, order_id: str, _path: tuple[str, ...] = ()) -> list[dict]:
    """The orders feeding `order_id`, each with its own `fed_by`, level by level."""
    path = _path + (order_id,)
    children = rows(
        cur,
        f"SELECT {_ORDER_COLS} FROM production_orders WHERE parent_production_order_id = ? ORDER BY production_order_id",
        [order_id],
    )
    for child in children:
        if child["production_order_id"] in path:
            loop = path[path.index(child["production_order_id"]):] + (child["production_order_id"],)
            raise CycleError("production orders feed each other in a loop: " + " -> ".join(reversed(loop)))
        child["fed_by"] = feeder_tree(cur, child["production_order_id"], path)
    return children


def _lines_with_context(cur: duckdb.DuckDBPyConnection, keys: list[tuple[str, int]]) -> tuple[list, list, list]:
    """(lines, shipments, customers) for sales order lines given as (sales_order_id, line_no)."""
    if not keys:
        return [], [], []
    so_ids = [k[0] for k in keys]
    line_nos = [k[1] for k in keys]
    lines = rows(
        cur,
        """SELECT s.sales_order_id, s.line_no, s.customer_id, c.name AS customer_name, s.item_id, s.qty,
                  s.promised_date, s.status
           FROM sales_orders s
           JOIN (SELECT unnest(?::VARCHAR[]) AS so, unnest(?::INTEGER[]) AS ln) k
             ON s.sales_order_id = k.so AND s.line_no = k.ln
           LEFT JOIN customers c ON c.customer_id = s.customer_id
           ORDER BY s.sales_order_id, s.line_no""",
        [so_ids, line_nos],
    )
    shipments = rows(
        cur,
        """SELECT sh.shipment_id, sh.sales_order_id, sh.line_no, sh.qty, sh.planned_ship_date, sh.status, sh.carrier
           FROM shipments sh
           JOIN (SELECT unnest(?::VARCHAR[]) AS so, unnest(?::INTEGER[]) AS ln) k
             ON sh.sales_order_id = k.so AND sh.line_no = k.ln
           ORDER BY sh.planned_ship_date, sh.shipment_id""",
        [so_ids, line_nos],
    )
    customer_ids = sorted({line["customer_id"] for line in lines})
    customers = rows(
        cur,
        """SELECT customer_id, name, tier, account_manager FROM customers
           WHERE customer_id IN (SELECT unnest(?::VARCHAR[])) ORDER BY customer_id""",
        [customer_ids],
    )
    return lines, shipments, customers


def _parse_line_id(order_id: str) -> tuple[str, int] | None:
    if "/" not in order_id:
        return None
    so, _, line = order_id.rpartition("/")
    try:
        return so, int(line)
    except ValueError:
        return None


def order_links(cur: duckdb.DuckDBPyConnection, order_id: str) -> dict:
    """What feeds an order and what it feeds, through to sales order lines, shipments and customers."""
    found = rows(cur, f"SELECT {_ORDER_COLS} FROM production_orders WHERE production_order_id = ?", [order_id])
    if found:
        order = found[0]
        operations = rows(
            cur,
            """SELECT o.op_seq, o.machine_id, m.name AS machine_name, o.planned_start, o.planned_end, o.status
               FROM operations o LEFT JOIN machines m ON m.machine_id = o.machine_id
               WHERE o.production_order_id = ? ORDER BY o.op_seq""",
            [order_id],
        )
        feeds = parent_chain(cur, order_id)
        fed_by = feeder_tree(cur, order_id)
        made_for = next(
            ((o["sales_order_id"], o["line_no"]) for o in [order, *feeds] if o["sales_order_id"] is not None),
            None,
        )
        lines, shipments, customers = _lines_with_context(cur, [made_for] if made_for else [])
        return {
            "kind": "production_order",
            "order_id": order_id,
            "production_order": order,
            "operations": operations,
            "fed_by": fed_by,
            "feeds": feeds,
            "sales_order_lines": lines,
            "shipments": shipments,
            "customers": customers,
        }

    line_key = _parse_line_id(order_id)
    if line_key is not None:
        keys = [line_key] if cur.execute(
            "SELECT 1 FROM sales_orders WHERE sales_order_id = ? AND line_no = ?", list(line_key)
        ).fetchall() else []
    else:
        keys = [
            (so, ln)
            for so, ln in cur.execute(
                "SELECT sales_order_id, line_no FROM sales_orders WHERE sales_order_id = ? ORDER BY line_no", [order_id]
            ).fetchall()
        ]
    if not keys:
        raise NotFound(f"no production order, sales order or sales order line {order_id!r}")
    lines, shipments, customers = _lines_with_context(cur, keys)
    made = rows(
        cur,
        f"""SELECT {", ".join("p." + c.strip() for c in _ORDER_COLS.split(","))} FROM production_orders p
            JOIN (SELECT unnest(?::VARCHAR[]) AS so, unnest(?::INTEGER[]) AS ln) k
              ON p.sales_order_id = k.so AND p.line_no = k.ln
            ORDER BY p.sales_order_id, p.line_no, p.production_order_id""",
        [[k[0] for k in keys], [k[1] for k in keys]],
    )
    for order in made:
        order["fed_by"] = feeder_tree(cur, order["production_order_id"])
    return {
        "kind": "sales_order_line" if line_key is not None else "sales_order",
        "order_id": order_id,
        "sales_order_lines": lines,
        "production_orders": made,
        "shipments": shipments,
        "customers": customers,
    }
