"""Secondary resources (the people, tools and crews operations need besides their machine) and their state.

  * `resource_state(cur, resource_id)`: the resource and its current state (`resource_states`; a resource
    not listed is available; NotFound for an unknown one);
  * `resource_detail(cur, resource_id, at=..., limit=...)`: plus its next open operations, each with its
    machine, order, planned times and the customer line it is for (the order's own, else the nearest
    order it feeds that is made for one): `planner-tui resource ID`, the console's resource screen;
  * `unavailable_resources(cur)`: every resource the store shows unavailable (stops of kind "resource").

A database made before `resource_states` was in the contract may lack the table when it is opened
read-only: every resource is then available.
"""

from __future__ import annotations

from datetime import datetime

import duckdb

from planner_tui.engine.orders import line_of_orders
from planner_tui.errors import BadRequest, NotFound
from planner_tui.store.db import rows
from planner_tui.timeutil import resolve_now

NEXT_OPERATIONS = 10
UNAVAILABLE = "unavailable"  # the resource_states state that stops the operations needing it


def has_resource_states(cur: duckdb.DuckDBPyConnection) -> bool:
    """Whether the store has the `resource_states` table (an older database opened read-only may not)."""
    found = cur.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
        "AND schema_name = current_schema() AND table_name = 'resource_states'"
    ).fetchall()
    return bool(found[0][0])


def _states_source(cur: duckdb.DuckDBPyConnection) -> str:
    """`resource_states`, or an empty relation of its columns when the store lacks the table."""
    if has_resource_states(cur):
        return "resource_states"
    return (
        "(SELECT CAST(NULL AS VARCHAR) AS resource_id, CAST(NULL AS VARCHAR) AS state, "
        "CAST(NULL AS TIMESTAMP) AS since, CAST(NULL AS VARCHAR) AS reason, "
        "CAST(NULL AS INTEGER) AS expected_minutes WHERE false)"
    )


def resource_state(cur: duckdb.DuckDBPyConnection, resource_id: str) -> dict:
    """The resource (name, kind, calendar, supervisor) and its state: `available` unless the store says
    otherwise; `unavailable` true when it is out. NotFound for an unknown resource."""
    found = rows(
        cur,
        f"""SELECT r.resource_id, r.name, r.kind, r.calendar_id, r.supervisor,
                   coalesce(s.state, 'available') AS state, s.since, s.reason, s.expected_minutes
            FROM resources r LEFT JOIN {_states_source(cur)} s USING (resource_id)
            WHERE r.resource_id = ?""",
        [resource_id],
    )
    if not found:
        raise NotFound(f"no resource {resource_id!r}")
    resource = found[0]
    resource["unavailable"] = resource["state"] == UNAVAILABLE
    return resource


def unavailable_resources(cur: duckdb.DuckDBPyConnection) -> list[dict]:
    """Every resource the store shows unavailable, by id: {resource_id, since, reason, expected_minutes,
    name, kind, supervisor} (none when the store lacks `resource_states`)."""
    if not has_resource_states(cur):
        return []
    return rows(
        cur,
        """SELECT s.resource_id, s.since, s.reason, s.expected_minutes, r.name, r.kind, r.supervisor
           FROM resource_states s JOIN resources r USING (resource_id)
           WHERE s.state = ? ORDER BY s.resource_id""",
        [UNAVAILABLE],
    )


def resource_detail(
    cur: duckdb.DuckDBPyConnection, resource_id: str, *, at: datetime | str | None = None, limit: int = NEXT_OPERATIONS
) -> dict:
    """The resource, its kind, calendar, supervisor, its state (and for how long, against `at`), the
    machines its open operations run on, and its next open operations (running first, then by planned
    start), each with its machine, order, planned times and the customer line it is for."""
    if limit < 1:
        raise BadRequest(f"limit must be at least 1, not {limit}")
    now = resolve_now(at)
    resource = resource_state(cur, resource_id)
    since = resource["since"]
    resource["at"] = now
    resource["state_minutes"] = (
        round((now - since).total_seconds() / 60) if since is not None and since <= now else None
    )
    counted = cur.execute(
        """SELECT count(*), list(DISTINCT o.machine_id ORDER BY o.machine_id)
           FROM operation_resources r
           JOIN operations o ON o.production_order_id = r.production_order_id AND o.op_seq = r.op_seq
           WHERE r.resource_id = ? AND o.status <> 'done'""",
        [resource_id],
    ).fetchall()
    resource["open_operations"] = counted[0][0]
    resource["machines"] = [m for m in counted[0][1] or [] if m is not None]
    operations = rows(
        cur,
        """SELECT o.production_order_id, o.op_seq, o.machine_id, m.name AS machine_name, o.status,
                  o.planned_start, o.planned_end, p.item_id, p.status AS order_status
           FROM operation_resources r
           JOIN operations o ON o.production_order_id = r.production_order_id AND o.op_seq = r.op_seq
           LEFT JOIN production_orders p ON p.production_order_id = o.production_order_id
           LEFT JOIN machines m ON m.machine_id = o.machine_id
           WHERE r.resource_id = ? AND o.status <> 'done'
           ORDER BY o.status <> 'running', o.planned_start, o.production_order_id, o.op_seq
           LIMIT ?""",
        [resource_id, limit],
    )
    lines = line_of_orders(cur, {op["production_order_id"] for op in operations})
    keys = sorted(set(lines.values()))
    customers: dict[tuple[str, int], dict] = {}
    if keys:
        for found in rows(
            cur,
            """SELECT s.sales_order_id, s.line_no, s.customer_id, c.name AS customer_name, s.promised_date
               FROM sales_orders s
               JOIN (SELECT unnest(?::VARCHAR[]) AS so, unnest(?::INTEGER[]) AS ln) k
                 ON s.sales_order_id = k.so AND s.line_no = k.ln
               LEFT JOIN customers c ON c.customer_id = s.customer_id""",
            [[k[0] for k in keys], [k[1] for k in keys]],
        ):
            customers[(found["sales_order_id"], found["line_no"])] = found
    for op in operations:
        line = lines.get(op["production_order_id"])
        about = customers.get(line) if line is not None else None
        op["sales_order_id"] = line[0] if line is not None else None
        op["line_no"] = line[1] if line is not None else None
        op["customer_id"] = about["customer_id"] if about else None
        op["customer_name"] = about["customer_name"] if about else None
        op["promised_date"] = about["promised_date"] if about else None
    resource["next_operations"] = operations
    return resource
