"""Machine-stop impact and whole-plant reschedule, over the schedule repair in `schedule.py`.

`machine_impact` answers "machine X stops: which production orders, customer lines, shipments and
customers are hit, and who must be told". `reschedule` repairs the whole plant around every machine the
store shows stopped. Both return plain dicts that are exactly the CLI's `--json`.

What a machine stop affects:
  * with a known downtime: the machine's open operations the downtime touches (overlapping
    [stop start, stop end) or running at the stop), every operation the repair moves anywhere in the plant
    (knock-on delays), their production orders, the orders those feed up through every level, the open
    sales order lines any of them is made for, the lines' open shipments (planned / picked) and customers;
  * with an unknown downtime (`exposed: true`): every open operation of the machine from the stop on, and
    the same chain above it, with no delays computed (`late` is the plan's own answer, `at_risk` true).
A line's ETA is the latest new_end of the open orders made for it; it is late when the ETA's day is after
its promised_date.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import duckdb

from planner_tui.engine.etas import PlantDay, stock_etas
from planner_tui.engine.lines import (
    customers_report,
    in_minutes,
    late_in_plan_keys,
    line_counts,
    lines_report,
    shipments_report,
)
from planner_tui.engine.orders import raise_if_cycle, with_resource_ids
from planner_tui.engine.resources import resource_state
from planner_tui.engine.schedule import Repair, Stop, check_downtime, repair, stops_from_store
from planner_tui.errors import CycleError, NotFound
from planner_tui.present import duration, slip
from planner_tui.store.contract import OPEN_PRODUCTION_STATUSES, STOPPED_STATES
from planner_tui.store.db import rows
from planner_tui.timeutil import iso, parse_timestamp, utcnow

_MAX_IDS_IN_REASON = 5


def _id_list(ids: list[str]) -> str:
    shown = ", ".join(ids[:_MAX_IDS_IN_REASON])
    more = len(ids) - _MAX_IDS_IN_REASON
    return shown + (f" and {more} more" if more > 0 else "")


def _fetch_orders(cur: duckdb.DuckDBPyConnection, ids: set[str]) -> dict[str, dict]:
    if not ids:
        return {}
    found = rows(
        cur,
        """SELECT production_order_id, item_id, status, planned_start, planned_end, sales_order_id, line_no,
                  parent_production_order_id
           FROM production_orders WHERE production_order_id IN (SELECT unnest(?::VARCHAR[]))""",
        [sorted(ids)],
    )
    return {r["production_order_id"]: r for r in found}


def _with_parent_chains(
    cur: duckdb.DuckDBPyConnection, ids: set[str], known: dict[str, dict] | None = None
) -> dict[str, dict]:
    """The orders `ids` and every order they feed, up through every level (CycleError on a loop).

    One recursive query (UNION drops repeats, so a loop in the data ends it); `known`: orders already
    fetched with their chains.
    """
    orders = dict(known or {})
    wanted = sorted(ids - set(orders))
    if wanted:
        found = rows(
            cur,
            """WITH RECURSIVE chain(po) AS (
                   SELECT unnest(?::VARCHAR[])
                   UNION
                   SELECT p.parent_production_order_id FROM production_orders p
                   JOIN chain c ON p.production_order_id = c.po
                   WHERE p.parent_production_order_id IS NOT NULL
               )
               SELECT production_order_id, item_id, status, planned_start, planned_end, sales_order_id, line_no,
                      parent_production_order_id
               FROM production_orders WHERE production_order_id IN (SELECT po FROM chain)""",
            [wanted],
        )
        orders.update({r["production_order_id"]: r for r in found})
    raise_if_cycle({po: o["parent_production_order_id"] for po, o in orders.items()})
    return orders


class _Notify:
    """People to tell, one entry per person with every reason."""

    def __init__(self) -> None:
        self._people: dict[str, dict] = {}

    def add(self, person: str | None, role: str, why: str) -> None:
        if not person:
            return
        entry = self._people.setdefault(person, {"person": person, "roles": [], "reasons": []})
        if role not in entry["roles"]:
            entry["roles"].append(role)
        if why not in entry["reasons"]:
            entry["reasons"].append(why)

    def result(self) -> list[dict]:
        return [
            {"person": e["person"], "role": ", ".join(e["roles"]), "why": "; ".join(e["reasons"]), **e}
            for e in self._people.values()
        ]


def _line_reason(line: dict) -> str:
    line_id = f"{line['sales_order_id']}/{line['line_no']}"
    who = line.get("customer_name") or line["customer_id"]
    promised = iso(line["promised_date"])
    if line["late"]:
        return f"{who}: {line_id} LATE, ETA {iso(line['eta'])} after promised {promised}"
    if line["slip_minutes"] > 0:
        return f"{who}: {line_id} at risk, ETA {iso(line['eta'])} ({slip(line['slip_minutes'])}), promised {promised}"
    return f"{who}: {line_id} at risk, promised {promised}"


def _notify_account_managers(notify: _Notify, lines: list[dict]) -> None:
    for line in lines:
        notify.add(line.get("account_manager"), "account manager", _line_reason(line))


def _notify_knock_on(cur: duckdb.DuckDBPyConnection, notify: _Notify, rep: Repair, skip: set[str]) -> list[str]:
    shifted: dict[str, list[str]] = {}
    worst: dict[str, float] = {}
    for shift in rep.ops.values():
        if shift.machine_id in skip or shift.new_end <= shift.planned_end:
            continue
        shifted.setdefault(shift.machine_id, []).append(shift.production_order_id)
        worst[shift.machine_id] = max(worst.get(shift.machine_id, 0.0), shift.delay_minutes)
    if not shifted:
        return []
    supervisors = dict(
        cur.execute(
            "SELECT machine_id, supervisor FROM machines WHERE machine_id IN (SELECT unnest(?::VARCHAR[]))",
            [sorted(shifted)],
        ).fetchall()
    )
    for machine_id in sorted(shifted, key=lambda m: -worst[m]):
        ids = sorted(set(shifted[machine_id]))
        notify.add(
            supervisors.get(machine_id),
            "supervisor (knock-on)",
            f"{_id_list(ids)} shift on {machine_id} (up to {slip(worst[machine_id])})",
        )
    return sorted(shifted)


def _machine(cur: duckdb.DuckDBPyConnection, machine_id: str) -> dict:
    found = rows(cur, "SELECT machine_id, name, supervisor FROM machines WHERE machine_id = ?", [machine_id])
    if not found:
        raise NotFound(f"no machine {machine_id!r}")
    return found[0]


def _open_ops_sql(source: str, where: str) -> str:
    """Open operations (not done, of open orders) of `source` (operations `o`, maybe joined) meeting
    `where` that overlap [stop start, window end) or are running; parameters: where's, the open order
    statuses, window end, stop start."""
    return f"""SELECT o.production_order_id, o.op_seq, o.status, o.planned_start, o.planned_end, o.machine_id
            FROM {source} JOIN production_orders p ON p.production_order_id = o.production_order_id
            WHERE {where} AND o.status <> 'done'
              AND p.status IN ({", ".join("?" for _ in OPEN_PRODUCTION_STATUSES)})
              AND o.planned_start < ? AND (o.planned_end > ? OR o.status = 'running')
            ORDER BY o.planned_start, o.production_order_id, o.op_seq"""


def _stop_impact(
    cur: duckdb.DuckDBPyConnection,
    stop: Stop,
    hit_ops: list[dict],
    *,
    own_moved: Callable[[Repair], set[tuple[str, int]]],
    direct_why: str,
    tell: Callable[[_Notify, list[dict]], set[str]],
    state_in_store: str | None,
) -> dict:
    """What one stop (a machine's or a resource's) hits: machine_impact's answer from "at" on.

    `hit_ops`: the open operations the stop touches directly, each with its machine_id; `own_moved`: which
    of the operations the repair moves are the stop's own (on the machine, needing the resource);
    `direct_why`: why an order with such an operation is hit; `tell`: adds the people the stop itself
    concerns to the notice, and returns the machines whose supervisors it told (not told again as
    knock-on).
    """
    known = stop.minutes is not None
    try:
        rep = repair(cur, [stop]) if known else Repair([stop])
    except CycleError:
        # The repair only sees that the plan never settles: name the feeding loop when it is ours.
        _with_parent_chains(cur, {op["production_order_id"] for op in hit_ops})
        raise

    # The stop's own operations: the hit ones plus any the repair moves there.
    own = {(op["production_order_id"], op["op_seq"]): op for op in hit_ops}
    for key in sorted(own_moved(rep) - set(own)):
        shift = rep.ops[key]
        own[key] = {
            "production_order_id": key[0],
            "op_seq": key[1],
            "status": None,
            "planned_start": shift.planned_start,
            "planned_end": shift.planned_end,
            "machine_id": shift.machine_id,
        }
    operations = []
    for key, op in own.items():
        moved = rep.ops.get(key)
        new_start = moved.new_start if moved else op["planned_start"]
        new_end = moved.new_end if moved else op["planned_end"]
        operations.append(
            {
                "production_order_id": op["production_order_id"],
                "op_seq": op["op_seq"],
                "status": op["status"],
                "planned_start": op["planned_start"],
                "planned_end": op["planned_end"],
                "machine_id": op["machine_id"],
                "new_start": new_start,
                "new_end": new_end,
                "delay_minutes": in_minutes(new_end - op["planned_end"]),
            }
        )
    operations.sort(key=lambda o: (o["planned_start"], o["production_order_id"], o["op_seq"]))
    with_resource_ids(cur, operations)

    direct: dict[str, set[str]] = {}  # order -> the machines its own operations run on
    for op in own.values():
        direct.setdefault(op["production_order_id"], set()).add(op["machine_id"])
    orders = _with_parent_chains(cur, set(direct) | rep.touched_orders)
    children_of: dict[str, list[str]] = {}
    for po, o in orders.items():
        if o["parent_production_order_id"] is not None:
            children_of.setdefault(o["parent_production_order_id"], []).append(po)
    moved_machines: dict[str, set[str]] = {}
    for shift in rep.ops.values():
        moved_machines.setdefault(shift.production_order_id, set()).add(shift.machine_id)

    production_orders = []
    for po, o in orders.items():
        new_end = rep.order_new_end(po, o["planned_end"])
        feeders = sorted(c for c in children_of.get(po, []))
        machines = sorted(moved_machines.get(po, set()) | direct.get(po, set()))
        if po in direct:
            why = direct_why
        elif feeders:
            why = f"fed by {_id_list(feeders)}"
        else:
            why = "knock-on on " + ", ".join(m for m in machines if m != stop.machine_id)
        production_orders.append(
            {
                "production_order_id": po,
                "item_id": o["item_id"],
                "status": o["status"],
                "planned_end": o["planned_end"],
                "new_end": new_end,
                "delay_minutes": in_minutes(new_end - o["planned_end"]),
                "why": why,
                "machine_ids": machines,
                "feeds": o["parent_production_order_id"],
                "sales_order_id": o["sales_order_id"],
                "line_no": o["line_no"],
            }
        )
    production_orders.sort(key=lambda r: (-r["delay_minutes"], r["new_end"], r["production_order_id"]))

    line_keys = {(o["sales_order_id"], o["line_no"]) for o in orders.values() if o["sales_order_id"] is not None}
    day = PlantDay.of(cur)
    sales_orders = lines_report(cur, line_keys, rep, exposed=not known, day=day, at=stop.start)
    shipments = shipments_report(cur, sales_orders, day, stop.start)
    customers = customers_report(cur, sales_orders)

    notify = _Notify()
    told = tell(notify, operations)
    _notify_account_managers(notify, sales_orders)
    knock_on_machines = _notify_knock_on(cur, notify, rep, told)

    delays = [r["delay_minutes"] for r in production_orders]
    return {
        "at": stop.start,
        "down_minutes": stop.minutes,
        "stop_start": stop.start,
        "stop_end": stop.end,
        "downtime_known": known,
        "exposed": not known,
        "state_in_store": state_in_store,
        "operations": operations,
        "production_orders": production_orders,
        "sales_orders": sales_orders,
        "shipments": shipments,
        "customers": customers,
        "knock_on_machines": knock_on_machines,
        "notify": notify.result(),
        "delay_minutes": {"max": max(delays, default=0.0), "total": round(sum(delays), 2)},
        "late_lines": sum(1 for line in sales_orders if line["late"]),  # late either way: `counts` splits them
        "counts": line_counts(sales_orders),
    }


def machine_impact(
    cur: duckdb.DuckDBPyConnection,
    machine_id: str,
    *,
    at: datetime | None = None,
    down_minutes: float | None = None,
) -> dict:
    """What a stop of `machine_id` hits, with the repaired schedule (see the module docstring).

    The stop starts at `at`, else at the machine's `since` when the store shows it down, else now.
    Downtime is `down_minutes`, else the store's expected_minutes for that stop, else unknown.
    """
    machine = _machine(cur, machine_id)
    check_downtime(down_minutes, machine_id)
    state = rows(
        cur, "SELECT state, since, reason, expected_minutes FROM machine_states WHERE machine_id = ?", [machine_id]
    )
    stopped = bool(state) and state[0]["state"] in STOPPED_STATES
    start = at if at is not None else (state[0]["since"] if stopped else utcnow())
    minutes = down_minutes if down_minutes is not None else (state[0]["expected_minutes"] if stopped else None)
    minutes = None if minutes is None else float(minutes)
    stop = Stop(machine_id, start, minutes)

    # The machine's own operations the stop touches (all from the stop on when the downtime is unknown).
    window_end = stop.end if minutes is not None else datetime.max
    hit_ops = rows(
        cur,
        _open_ops_sql("operations o", "o.machine_id = ?"),
        [machine_id, *OPEN_PRODUCTION_STATUSES, window_end, start],
    )

    def tell(notify: _Notify, operations: list[dict]) -> set[str]:
        downtime = f"down {duration(minutes)}" if minutes is not None else "downtime unknown"
        notify.add(
            machine["supervisor"],
            "machine supervisor",
            f"{machine_id} stopped at {iso(start)} ({downtime}): {len(operations)} operation(s) hit",
        )
        return {machine_id}

    return {
        "machine_id": machine_id,
        "machine_name": machine["name"],
        **_stop_impact(
            cur,
            stop,
            hit_ops,
            own_moved=lambda rep: {key for key, shift in rep.ops.items() if shift.machine_id == machine_id},
            direct_why=f"on {machine_id}",
            tell=tell,
            state_in_store=state[0]["state"] if state else None,
        ),
    }


def resource_impact(
    cur: duckdb.DuckDBPyConnection,
    resource_id: str,
    *,
    at: datetime | None = None,
    down_minutes: float | None = None,
) -> dict:
    """What an absence of `resource_id` (a person, tool or crew operations need: operation_resources) hits:
    machine_impact's answer for a stop of kind "resource", plus resource_id, resource_name and
    resource_kind (machine_id and machine_name are None).

    The absence starts at `at`, else at the resource's `since` when the store shows it unavailable, else
    now. Its length is `down_minutes`, else the store's expected_minutes for it, else unknown (`exposed`:
    every open operation needing it from then on). The operations hit are the open ones needing it that
    overlap the absence or are running, each on its own machine. Who to tell: the resource's supervisor,
    the supervisors of the machines those operations run on, the account managers of the lines, and the
    supervisors of machines with knock-on delays. NotFound for an unknown resource.
    """
    resource = resource_state(cur, resource_id)
    check_downtime(down_minutes, resource_id)
    out = resource["unavailable"]
    start = at if at is not None else (resource["since"] if out and resource["since"] is not None else utcnow())
    minutes = down_minutes if down_minutes is not None else (resource["expected_minutes"] if out else None)
    minutes = None if minutes is None else float(minutes)
    stop = Stop(resource_id, start, minutes, kind="resource")

    # The operations needing it that the absence touches (all from its start on when its length is unknown).
    window_end = stop.end if minutes is not None else datetime.max
    hit_ops = rows(
        cur,
        _open_ops_sql(
            "operation_resources r JOIN operations o "
            "ON o.production_order_id = r.production_order_id AND o.op_seq = r.op_seq",
            "r.resource_id = ?",
        ),
        [resource_id, *OPEN_PRODUCTION_STATUSES, window_end, start],
    )

    def needing(rep: Repair) -> set[tuple[str, int]]:
        """The operations the repair moves that need the resource."""
        if not rep.ops:
            return set()
        found = cur.execute(
            "SELECT production_order_id, op_seq FROM operation_resources WHERE resource_id = ? "
            "AND production_order_id IN (SELECT unnest(?::VARCHAR[]))",
            [resource_id, sorted({po for po, _ in rep.ops})],
        ).fetchall()
        return {(po, seq) for po, seq in found if (po, seq) in rep.ops}

    def tell(notify: _Notify, operations: list[dict]) -> set[str]:
        length = f"for {duration(minutes)}" if minutes is not None else "length unknown"
        notify.add(
            resource["supervisor"],
            "resource supervisor",
            f"{resource_id} unavailable from {iso(start)} ({length}): {len(operations)} operation(s) hit",
        )
        on_machine: dict[str, list[dict]] = {}
        for op in operations:
            on_machine.setdefault(op["machine_id"], []).append(op)
        if not on_machine:
            return set()
        supervisors = dict(
            cur.execute(
                "SELECT machine_id, supervisor FROM machines WHERE machine_id IN (SELECT unnest(?::VARCHAR[]))",
                [sorted(on_machine)],
            ).fetchall()
        )
        for machine_id in sorted(on_machine):
            ops = on_machine[machine_id]
            ids = sorted({f"{op['production_order_id']}/{op['op_seq']}" for op in ops})
            worst = max(op["delay_minutes"] for op in ops)
            moved = f" (up to {slip(worst)})" if worst > 0 else ""
            notify.add(
                supervisors.get(machine_id),
                "machine supervisor",
                f"{_id_list(ids)} on {machine_id} need {resource_id}{moved}",
            )
        return set(on_machine)

    return {
        "machine_id": None,
        "machine_name": None,
        "resource_id": resource_id,
        "resource_name": resource["name"],
        "resource_kind": resource["kind"],
        **_stop_impact(
            cur,
            stop,
            hit_ops,
            own_moved=needing,
            direct_why=f"needs {resource_id}",
            tell=tell,
            state_in_store=resource["state"] if resource["since"] is not None else None,
        ),
    }


def _supervisors(cur: duckdb.DuckDBPyConnection, stops: list[Stop]) -> dict[tuple[str, str], str | None]:
    """(kind, id) -> supervisor of every stopped machine and unavailable resource."""
    machines = sorted({s.machine_id for s in stops if s.kind == "machine"})
    resources = sorted({s.machine_id for s in stops if s.kind == "resource"})
    found: dict[tuple[str, str], str | None] = {}
    if machines:
        for machine_id, supervisor in cur.execute(
            "SELECT machine_id, supervisor FROM machines WHERE machine_id IN (SELECT unnest(?::VARCHAR[]))", [machines]
        ).fetchall():
            found[("machine", machine_id)] = supervisor
    if resources:
        for resource_id, supervisor in cur.execute(
            "SELECT resource_id, supervisor FROM resources WHERE resource_id IN (SELECT unnest(?::VARCHAR[]))",
            [resources],
        ).fetchall():
            found[("resource", resource_id)] = supervisor
    return found


def reschedule(cur: duckdb.DuckDBPyConnection, *, at: datetime | None = None) -> dict:
    """Repair the whole plant around every machine the store shows stopped.

    Returns the stops, every open production order whose new_end moves (worst first), and who to tell.
    Customer lines come twice:
      * `sales_orders`: the lines the repair turns late (late now, on time in the plan) — what
        late_order exceptions and the account managers' notices are about;
      * `lines_at_risk`: every open line whose ETA moves (eta after planned_eta) and every line the plan
        already has late, each with `status` "LATE" (ETA's day after promised_date) or "moved",
        late ones first, then by slip (biggest first).
    `lines_slipping` counts the lines any moved order is made for (moved or not).
    """
    at = parse_timestamp(at, what="--at timestamp") if at is not None else utcnow()
    stops = stops_from_store(cur, at)
    # A feeding loop anywhere would make the plant's repair meaningless: name it instead.
    raise_if_cycle(
        dict(
            cur.execute(
                "SELECT production_order_id, parent_production_order_id FROM production_orders "
                "WHERE parent_production_order_id IS NOT NULL"
            ).fetchall()
        )
    )
    rep = repair(cur, stops, at)

    info = _fetch_orders(cur, set(rep.orders))
    production_orders = []
    for po, shift in rep.orders.items():
        o = info[po]
        production_orders.append(
            {
                "production_order_id": po,
                "item_id": o["item_id"],
                "status": o["status"],
                "planned_end": shift.planned_end,
                "new_end": shift.new_end,
                "delay_minutes": in_minutes(shift.new_end - shift.planned_end),
                "sales_order_id": o["sales_order_id"],
                "line_no": o["line_no"],
                "feeds": o["parent_production_order_id"],
            }
        )
    production_orders.sort(key=lambda r: (-r["delay_minutes"], r["new_end"], r["production_order_id"]))

    day = PlantDay.of(cur)
    line_keys = {(o["sales_order_id"], o["line_no"]) for o in info.values() if o["sales_order_id"] is not None}
    slipping = lines_report(cur, line_keys, rep, exposed=False, day=day, at=at)
    # Lines served from stock: their ETA in the plan, and with the repair's new ends of the make-to-stock
    # orders they wait for. Only late or moved ones are reported.
    moved_to_stock = {po: shift.new_end for po, shift in rep.orders.items() if info[po]["sales_order_id"] is None}
    found = stock_etas(cur, at=at, moved_ends=moved_to_stock, timezone=day.timezone, late_or_moved_only=True)
    stock = {key: (planned, eta) for key, (planned, eta, _) in found.items()}
    stock_keys = set(stock)
    slipping += lines_report(cur, stock_keys, rep, exposed=False, day=day, at=at, stock=stock)
    sales_orders = [line for line in slipping if line["turns_late"]]
    # At risk: every line whose ETA moves, plus lines the plan itself already has late (no stop needed).
    already_late = lines_report(
        cur, late_in_plan_keys(cur, day, at) - line_keys - stock_keys, rep, exposed=False, day=day, at=at
    )
    lines_at_risk = [
        {**line, "status": "LATE" if line["late"] else "moved"}
        for line in slipping + already_late
        if line["late"] or line["slip_minutes"] > 0
    ]
    lines_at_risk.sort(key=lambda r: (not r["late"], -r["slip_minutes"], r["sales_order_id"], r["line_no"]))

    notify = _Notify()
    supervisors = _supervisors(cur, stops)
    for stop in stops:
        downtime = f"down {duration(stop.minutes)}" if stop.minutes is not None else "downtime unknown"
        if stop.kind == "resource":
            role, what = "resource supervisor", f"{stop.machine_id} unavailable from {iso(stop.start)} ({downtime})"
        else:
            role, what = "machine supervisor", f"{stop.machine_id} stopped at {iso(stop.start)} ({downtime})"
        notify.add(supervisors.get((stop.kind, stop.machine_id)), role, what)
    stopped_machines = {s.machine_id for s in stops if s.kind == "machine"}
    _notify_account_managers(notify, sales_orders)
    _notify_knock_on(cur, notify, rep, stopped_machines)

    return {
        "at": at,
        "stops": [s.to_dict() for s in stops],
        "unknown_downtime": [s.machine_id for s in stops if s.minutes is None],
        "production_orders": production_orders,
        "sales_orders": sales_orders,
        "lines_at_risk": lines_at_risk,
        "lines_slipping": len(slipping),
        "operations_moved": len(rep.ops),
        "counts": line_counts(lines_at_risk),
        "notify": notify.result(),
    }
