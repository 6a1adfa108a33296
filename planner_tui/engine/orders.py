"""Order links: for any order, what feeds it and what it feeds, down to customers and shipments.

`order_links(cur, order_id)` answers for
  * a production order id: the order, its operations, what feeds it (the child orders whose
    parent_production_order_id is it, recursively, as a tree: `fed_by`), what it feeds (the parent chain,
    nearest first: `feeds`), the sales order line it is made for (its own, else the nearest parent's), that
    line's shipments and customer;
  * a sales order line "SO/line" (e.g. "SO-1001/1") or a sales order id (all its lines): the line(s), the
    production orders made for them (each with its `fed_by` tree), shipments and customers.
Raises NotFound for an unknown id and CycleError when feeding links loop.

The detail questions the console's drill screens ask, each also a CLI command:
  * `shipment_detail(cur, shipment_id)`: the shipment, its order line, customer, lots with their status
    and active holds (on the lots themselves, and on lots upstream of them in the genealogy);
  * `customer_detail(cur, customer_id, at=...)`: the customer, its open lines with the production orders
    made for them, its open and recent shipments, and the active holds reaching its shipments;
  * `machine_state(cur, machine_id)` (the machine and its state), `machine_detail(...)` (plus its next
    open operations) and `list_machines(cur)` (every machine, stopped first);
  * `active_holds(cur)`: every active quality hold and how far its lot travelled (the holds panel).
"""

from __future__ import annotations

from datetime import datetime

import duckdb

from planner_tui.engine.etas import PlantDay
from planner_tui.errors import BadRequest, CycleError, NotFound
from planner_tui.store.contract import STOPPED_STATES
from planner_tui.store.db import rows
from planner_tui.timeutil import resolve_now

_ORDER_COLS = (
    "production_order_id, item_id, qty, status, planned_start, planned_end, sales_order_id, line_no, "
    "parent_production_order_id"
)


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
            return walk[walk.index(node) :] + [node]
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
            raise CycleError(
                "production orders feed each other in a loop: " + " -> ".join(seen[seen.index(parent) :] + [parent])
            )
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
            loop = path[path.index(child["production_order_id"]) :] + (child["production_order_id"],)
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
        with_resource_ids(cur, operations, order_id=order_id)
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
        keys = (
            [line_key]
            if cur.execute(
                "SELECT 1 FROM sales_orders WHERE sales_order_id = ? AND line_no = ?", list(line_key)
            ).fetchall()
            else []
        )
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


# --- shipment, customer and machine detail ----------------------------------------------------------

# A customer's delivered history can run to thousands of shipments: the detail shows the newest few.
RECENT_SHIPMENTS = 20
OPEN_SHIPMENT_STATUSES = ("planned", "picked")
NEXT_OPERATIONS = 10

# Active holds and the lots they reach forward through the genealogy (the held lot itself included).
# UNION (not UNION ALL) drops rows already reached, so a genealogy loop cannot recurse for ever.
_HOLD_REACH_SQL = """
    WITH RECURSIVE reach(hold_id, lot_id) AS (
        SELECT hold_id, lot_id FROM quality_holds WHERE status = 'active'
        UNION
        SELECT r.hold_id, g.output_lot_id FROM reach r JOIN lot_genealogy g ON g.input_lot_id = r.lot_id
    )"""


def _customer_row(cur: duckdb.DuckDBPyConnection, customer_id: str | None) -> dict | None:
    if customer_id is None:
        return None
    found = rows(
        cur, "SELECT customer_id, name, tier, account_manager FROM customers WHERE customer_id = ?", [customer_id]
    )
    return found[0] if found else None


def shipment_detail(cur: duckdb.DuckDBPyConnection, shipment_id: str) -> dict:
    """A shipment: its order line, customer, lots (status, active holds) and holds upstream of its lots."""
    found = rows(
        cur,
        """SELECT shipment_id, sales_order_id, line_no, qty, planned_ship_date, status, carrier
           FROM shipments WHERE shipment_id = ?""",
        [shipment_id],
    )
    if not found:
        raise NotFound(f"unknown shipment {shipment_id!r}: no such shipment_id in shipments")
    shipment = found[0]
    found_line = rows(
        cur,
        """SELECT sales_order_id, line_no, customer_id, item_id, qty, promised_date, status
           FROM sales_orders WHERE sales_order_id = ? AND line_no = ?""",
        [shipment["sales_order_id"], shipment["line_no"]],
    )
    line = found_line[0] if found_line else None
    customer = _customer_row(cur, line["customer_id"] if line else None)
    lots = rows(
        cur,
        """SELECT sl.lot_id, sl.qty, l.item_id, l.qty AS lot_qty, l.status, l.produced_by
           FROM shipment_lots sl LEFT JOIN lots l USING (lot_id)
           WHERE sl.shipment_id = ? ORDER BY sl.lot_id""",
        [shipment_id],
    )
    holds = rows(
        cur,
        """SELECT h.hold_id, h.lot_id, h.reason, h.placed_at, h.placed_by
           FROM quality_holds h JOIN shipment_lots sl ON sl.lot_id = h.lot_id
           WHERE sl.shipment_id = ? AND h.status = 'active'
           ORDER BY h.placed_at, h.hold_id""",
        [shipment_id],
    )
    by_lot: dict[str, list[dict]] = {}
    for hold in holds:
        by_lot.setdefault(hold["lot_id"], []).append(hold)
    for lot in lots:
        lot["holds"] = by_lot.get(lot["lot_id"], [])
    # Holds on lots the shipped lots were made from: walked backward from this shipment's few lots only.
    upstream = rows(
        cur,
        """WITH RECURSIVE up(lot_id, via_lot_id) AS (
               SELECT g.input_lot_id, sl.lot_id FROM shipment_lots sl
               JOIN lot_genealogy g ON g.output_lot_id = sl.lot_id WHERE sl.shipment_id = ?
               UNION
               SELECT g.input_lot_id, up.via_lot_id FROM up JOIN lot_genealogy g ON g.output_lot_id = up.lot_id
           )
           SELECT h.hold_id, h.lot_id, h.reason, h.placed_at, h.placed_by,
                  list(DISTINCT up.via_lot_id ORDER BY up.via_lot_id) AS shipped_lot_ids
           FROM up JOIN quality_holds h ON h.lot_id = up.lot_id AND h.status = 'active'
           GROUP BY ALL ORDER BY h.placed_at, h.hold_id""",
        [shipment_id],
    )
    return {
        "shipment": shipment,
        "sales_order_line": line,
        "customer": customer,
        "lots": lots,
        "holds": holds,
        "upstream_holds": upstream,
    }


def customer_detail(cur: duckdb.DuckDBPyConnection, customer_id: str, *, at: datetime | str | None = None) -> dict:
    """A customer: its open lines (overdue against `at`, the orders made for them), its open and recent
    shipments, and the active quality holds whose lots (or lots made from them) are on its shipments:
    `direct` when the held lot itself is on one, `already_shipped` when one of those has left."""
    now = resolve_now(at)
    customer = _customer_row(cur, customer_id)
    if customer is None:
        raise NotFound(f"unknown customer {customer_id!r}: no such customer_id in customers")
    lines = rows(
        cur,
        """SELECT sales_order_id, line_no, item_id, qty, promised_date, status FROM sales_orders
           WHERE customer_id = ? AND status = 'open' ORDER BY promised_date, sales_order_id, line_no""",
        [customer_id],
    )
    made = rows(
        cur,
        """SELECT p.production_order_id, p.sales_order_id, p.line_no, p.item_id, p.qty, p.status,
                  p.planned_start, p.planned_end
           FROM production_orders p JOIN sales_orders s USING (sales_order_id, line_no)
           WHERE s.customer_id = ? AND s.status = 'open'
           ORDER BY p.planned_end, p.production_order_id""",
        [customer_id],
    )
    made_for: dict[tuple, list[dict]] = {}
    for po in made:
        made_for.setdefault((po["sales_order_id"], po["line_no"]), []).append(po)
    today = PlantDay.of(cur).day(now)  # overdue by the plant's local day, as lateness is
    for line in lines:
        line["overdue"] = line["promised_date"] is not None and line["promised_date"] < today
        line["production_orders"] = made_for.get((line["sales_order_id"], line["line_no"]), [])

    shipment_cols = "sh.shipment_id, sh.sales_order_id, sh.line_no, sh.qty, sh.planned_ship_date, sh.status, sh.carrier"
    open_shipments = rows(
        cur,
        f"""SELECT {shipment_cols} FROM shipments sh JOIN sales_orders so USING (sales_order_id, line_no)
            WHERE so.customer_id = ? AND sh.status IN (SELECT unnest(?::VARCHAR[]))
            ORDER BY sh.planned_ship_date DESC, sh.shipment_id""",
        [customer_id, list(OPEN_SHIPMENT_STATUSES)],
    )
    recent = rows(
        cur,
        f"""SELECT {shipment_cols} FROM shipments sh JOIN sales_orders so USING (sales_order_id, line_no)
            WHERE so.customer_id = ? AND sh.status NOT IN (SELECT unnest(?::VARCHAR[]))
            ORDER BY sh.planned_ship_date DESC, sh.shipment_id LIMIT ?""",
        [customer_id, list(OPEN_SHIPMENT_STATUSES), RECENT_SHIPMENTS],
    )
    closed_row = cur.execute(
        """SELECT count(*) FROM shipments sh JOIN sales_orders so USING (sales_order_id, line_no)
           WHERE so.customer_id = ? AND sh.status NOT IN (SELECT unnest(?::VARCHAR[]))""",
        [customer_id, list(OPEN_SHIPMENT_STATUSES)],
    ).fetchone()
    assert closed_row is not None  # an aggregate without GROUP BY returns exactly one row
    (closed_total,) = closed_row
    for shipment in open_shipments:
        shipment["overdue"] = shipment["planned_ship_date"] is not None and shipment["planned_ship_date"] < today
    for shipment in recent:
        shipment["overdue"] = False
    shipments = sorted(
        open_shipments + recent,
        key=lambda s: (s["planned_ship_date"] is not None, s["planned_ship_date"], s["shipment_id"]),
        reverse=True,
    )

    holds = rows(
        cur,
        _HOLD_REACH_SQL
        + """
           SELECT h.hold_id, h.lot_id, h.reason, h.placed_at, h.placed_by,
                  bool_or(r.lot_id = h.lot_id) AS direct,
                  list(DISTINCT sl.shipment_id ORDER BY sl.shipment_id) AS shipment_ids,
                  bool_or(sh.status IN ('shipped', 'delivered')) AS already_shipped
           FROM reach r
           JOIN shipment_lots sl ON sl.lot_id = r.lot_id
           JOIN shipments sh ON sh.shipment_id = sl.shipment_id
           JOIN sales_orders so ON so.sales_order_id = sh.sales_order_id AND so.line_no = sh.line_no
           JOIN quality_holds h ON h.hold_id = r.hold_id
           WHERE so.customer_id = ?
           GROUP BY ALL ORDER BY h.placed_at, h.hold_id""",
        [customer_id],
    )
    return {
        "customer": customer,
        "at": now,
        "open_lines": lines,
        "shipments": shipments,
        "holds": holds,
        "summary": {
            "open_lines": len(lines),
            "overdue_lines": sum(1 for line in lines if line["overdue"]),
            "open_shipments": len(open_shipments),
            "closed_shipments": closed_total,
            "recent_shipments_shown": len(recent),
            "active_holds": len(holds),
        },
    }


SHIPPED_STATUSES = ("shipped", "delivered")

# How far every active hold's lot travelled, for all holds in one set-based pass: the lot and everything
# made from it (lot_genealogy at any depth; UNION makes the walk cycle-safe), the shipments carrying any of
# them, and their stock. It answers the same counts as `engine.trace.trace_lot` (a test holds them
# equal) without one trace per hold: a large plant has hundreds of active holds.
_ACTIVE_HOLD_REACH_SQL = """
WITH RECURSIVE held AS (
    SELECT h.hold_id, h.lot_id, h.reason, h.placed_at, h.placed_by, l.item_id
    FROM quality_holds h LEFT JOIN lots l ON l.lot_id = h.lot_id
    WHERE h.status = 'active' AND (? IS NULL OR h.hold_id = ?)
),
reach(hold_id, lot_id) AS (
    SELECT hold_id, lot_id FROM held
    UNION
    SELECT r.hold_id, g.output_lot_id FROM reach r JOIN lot_genealogy g ON g.input_lot_id = r.lot_id
),
lots_reached AS (SELECT hold_id, count(*) - 1 AS descendants FROM reach GROUP BY hold_id),
carried AS (
    SELECT DISTINCT r.hold_id, s.shipment_id, list_contains(?, s.status) AS shipped, so.customer_id,
           coalesce(c.name, so.customer_id) AS customer_name
    FROM reach r
    JOIN shipment_lots sl ON sl.lot_id = r.lot_id
    JOIN shipments s ON s.shipment_id = sl.shipment_id
    LEFT JOIN sales_orders so ON so.sales_order_id = s.sales_order_id AND so.line_no = s.line_no
    LEFT JOIN customers c ON c.customer_id = so.customer_id
),
shipping AS (
    SELECT hold_id,
           count(DISTINCT shipment_id) AS shipments,
           count(DISTINCT shipment_id) FILTER (WHERE shipped) AS shipped,
           count(DISTINCT customer_id) AS customers,
           count(DISTINCT customer_id) FILTER (WHERE shipped) AS customers_shipped_to,
           list(DISTINCT customer_name ORDER BY customer_name) FILTER (WHERE shipped) AS shipped_to
    FROM carried GROUP BY hold_id
),
stock AS (
    SELECT r.hold_id, sum(i.qty) AS stock_qty
    FROM reach r JOIN inventory i ON i.lot_id = r.lot_id
    WHERE i.qty <> 0 GROUP BY r.hold_id
)
SELECT held.*, coalesce(lots_reached.descendants, 0) AS descendants,
       coalesce(shipping.shipments, 0) AS shipments, coalesce(shipping.shipped, 0) AS shipped,
       coalesce(shipping.customers, 0) AS customers,
       coalesce(shipping.customers_shipped_to, 0) AS customers_shipped_to,
       coalesce(shipping.shipped_to, []) AS shipped_to,
       coalesce(stock.stock_qty, 0) AS stock_qty
FROM held
LEFT JOIN lots_reached USING (hold_id)
LEFT JOIN shipping USING (hold_id)
LEFT JOIN stock USING (hold_id)
ORDER BY held.placed_at, held.hold_id
"""


def hold_reach(cur: duckdb.DuckDBPyConnection, hold_id: str | None = None) -> list[dict]:
    """Every active hold (or just `hold_id`) with how far its lot travelled: descendants, shipments,
    shipped, customers (of those shipments), customers_shipped_to, shipped_to (their names), stock_qty."""
    return rows(cur, _ACTIVE_HOLD_REACH_SQL, [hold_id, hold_id, list(SHIPPED_STATUSES)])


def active_holds(cur: duckdb.DuckDBPyConnection) -> list[dict]:
    """Every active quality hold, newest first, with how far its lot travelled: `lots_reached` (the held
    lot and every lot made from it), their `stock_qty`, and `shipped_to` (customers who already got goods)."""
    holds = [
        {
            "hold_id": h["hold_id"],
            "lot_id": h["lot_id"],
            "item_id": h["item_id"],
            "reason": h["reason"],
            "placed_at": h["placed_at"],
            "placed_by": h["placed_by"],
            "lots_reached": h["descendants"] + 1,
            "stock_qty": h["stock_qty"],
            "shipped_to": h["shipped_to"],
        }
        for h in sorted(hold_reach(cur), key=lambda h: h["hold_id"])
    ]
    holds.sort(key=lambda h: h["placed_at"], reverse=True)  # stable: a tie keeps hold id order
    return holds


_MACHINE_SQL = """
    SELECT m.machine_id, m.name, m.work_center, m.line, m.plant, m.supervisor,
           coalesce(s.state, 'running') AS state, s.since, s.reason, s.expected_minutes
    FROM machines m LEFT JOIN machine_states s USING (machine_id)"""
# How a planner scans machines: the stopped ones first, the most serious first.
_STATE_ORDER = ("down", "maintenance", "idle", "running")


def _with_stopped(machine: dict) -> dict:
    machine["stopped"] = machine["state"] in STOPPED_STATES
    return machine


def machine_state(cur: duckdb.DuckDBPyConnection, machine_id: str) -> dict:
    """A machine and its current state (a machine without a state row is running)."""
    found = rows(cur, _MACHINE_SQL + " WHERE m.machine_id = ?", [machine_id])
    if not found:
        raise NotFound(f"unknown machine {machine_id!r}: no such machine_id in machines")
    return _with_stopped(found[0])


def list_machines(cur: duckdb.DuckDBPyConnection, *, stopped_only: bool = False) -> list[dict]:
    """Every machine with its state: down, then maintenance (longest stopped first), idle, running."""
    machines = [_with_stopped(m) for m in rows(cur, _MACHINE_SQL)]
    if stopped_only:
        machines = [m for m in machines if m["stopped"]]

    def scan_order(m: dict):
        rank = _STATE_ORDER.index(m["state"]) if m["state"] in _STATE_ORDER else len(_STATE_ORDER)
        since = (m["since"] or datetime.max) if m["stopped"] else datetime.min
        return rank, since, m["machine_id"]

    return sorted(machines, key=scan_order)


def machine_detail(
    cur: duckdb.DuckDBPyConnection, machine_id: str, *, at: datetime | str | None = None, limit: int = NEXT_OPERATIONS
) -> dict:
    """The machine, its state (and for how long, against `at`), and its next open operations."""
    if limit < 1:
        raise BadRequest(f"limit must be at least 1, not {limit}")
    now = resolve_now(at)
    machine = machine_state(cur, machine_id)
    since = machine["since"]
    machine["at"] = now
    machine["state_minutes"] = round((now - since).total_seconds() / 60) if since is not None and since <= now else None
    count_row = cur.execute(
        "SELECT count(*) FROM operations WHERE machine_id = ? AND status <> 'done'", [machine_id]
    ).fetchone()
    assert count_row is not None  # an aggregate without GROUP BY returns exactly one row
    (open_count,) = count_row
    machine["open_operations"] = open_count
    # Running first (what the stop interrupts), then by planned start.
    machine["next_operations"] = rows(
        cur,
        """SELECT o.production_order_id, o.op_seq, o.status, o.planned_start, o.planned_end,
                  p.item_id, p.status AS order_status, p.sales_order_id, p.line_no
           FROM operations o LEFT JOIN production_orders p USING (production_order_id)
           WHERE o.machine_id = ? AND o.status <> 'done'
           ORDER BY o.status <> 'running', o.planned_start, o.production_order_id, o.op_seq
           LIMIT ?""",
        [machine_id, limit],
    )
    with_line_for(cur, machine["next_operations"])
    return machine


def with_line_for(cur: duckdb.DuckDBPyConnection, operations: list[dict]) -> None:
    """Set `sales_order_id`/`line_no` of each operation (a dict with its production_order_id) to the
    customer line its order is made for: the order's own, else the nearest order it feeds that has one
    (a frame order feeding a pump order for SO-1/1 is for SO-1/1 too); None when it feeds no line."""
    found = line_of_orders(cur, {o["production_order_id"] for o in operations})
    for o in operations:
        o["sales_order_id"], o["line_no"] = found.get(o["production_order_id"], (None, None))


def with_resource_ids(cur: duckdb.DuckDBPyConnection, operations: list[dict], *, order_id: str | None = None) -> None:
    """Set `resource_ids` of each operation (its production_order_id, or `order_id` for all, and op_seq):
    the people and tools it needs besides its machine (operation_resources), sorted; [] for none or a
    store without the table."""

    def order_of(o: dict) -> str:
        return o["production_order_id"] if order_id is None else order_id

    needs: dict[tuple[str, int], list[str]] = {}
    if operations:
        try:
            found = cur.execute(
                """SELECT x.production_order_id, x.op_seq, list(x.resource_id ORDER BY x.resource_id)
                   FROM operation_resources x
                   WHERE x.production_order_id IN (SELECT unnest(?::VARCHAR[]))
                   GROUP BY ALL""",
                [sorted({order_of(o) for o in operations})],
            ).fetchall()
        except duckdb.CatalogException:  # an older database: no secondary resources
            found = []
        needs = {(po, seq): ids for po, seq, ids in found}
    for o in operations:
        o["resource_ids"] = needs.get((order_of(o), o["op_seq"]), [])


def line_of_orders(cur: duckdb.DuckDBPyConnection, order_ids: set[str]) -> dict[str, tuple[str, int]]:
    """order -> (sales_order_id, line_no) it is made for, directly or through the orders it feeds
    (nearest first). One recursive query; a feeding loop stops it (UNION keeps no repeats, depth caps it)."""
    if not order_ids:
        return {}
    found = cur.execute(
        """WITH RECURSIVE up(origin, po, depth) AS (
               SELECT o, o, 0 FROM unnest(?::VARCHAR[]) t(o)
               UNION
               SELECT up.origin, p.parent_production_order_id, up.depth + 1
               FROM up JOIN production_orders p ON p.production_order_id = up.po
               WHERE p.sales_order_id IS NULL AND p.parent_production_order_id IS NOT NULL AND up.depth < 100
           )
           SELECT up.origin, arg_min(p.sales_order_id, up.depth), arg_min(p.line_no, up.depth)
           FROM up JOIN production_orders p ON p.production_order_id = up.po
           WHERE p.sales_order_id IS NOT NULL
           GROUP BY up.origin""",
        [sorted(order_ids)],
    ).fetchall()
    return {origin: (so, line_no) for origin, so, line_no in found}
