"""The naive schedule repair: the rules of `schedule.repair`, applied literally per operation over plain
dicts and swept to a fixpoint over the whole plant. It is the oracle the fast repair is tested and
benchmarked against; its cost grows with the plant, so nothing a user runs calls it.

Working time is learnt the plainest way: an operation walks its calendar's working periods one by one
(`spans_us`, a week at a time, the downtime cut out of each) instead of `schedule.Timing`'s arithmetic.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import duckdb

from planner_tui.engine.calendar import (
    ALWAYS,
    MAX_IDLE_BLOCKS,
    WEEK_US,
    NoWorkingTime,
    PlantTime,
    WorkingTime,
)
from planner_tui.engine.schedule import (
    OpShift,
    OrderShift,
    Repair,
    Stop,
    check_stops,
    from_us,
    merge_spans,
    store_plant_time,
    to_us,
    windows_by_machine,
)
from planner_tui.errors import CycleError
from planner_tui.store.contract import OPEN_PRODUCTION_STATUSES


def _periods(wt: WorkingTime, cuts: list[tuple[int, int]], x: int) -> Iterator[tuple[int, int]]:
    """The working periods of `wt` from `x` on, in order, without the downtime `cuts`."""
    for week in range(MAX_IDLE_BLOCKS + 1):
        lo = x + week * WEEK_US
        for s, e in wt.spans_us(lo, lo + WEEK_US):
            for cs, ce in cuts:
                if cs >= e:
                    break
                if ce <= s:
                    continue
                if cs > s:
                    yield s, cs
                s = max(s, ce)
                if s >= e:
                    break
            if s < e:
                yield s, e
    raise NoWorkingTime(f"no working time in the ten years from {from_us(x).isoformat()}")


def _first(wt: WorkingTime, cuts: list[tuple[int, int]], x: int) -> int:
    """The first working instant at or after `x`."""
    return next(_periods(wt, cuts, x))[0]


def place_plainly(
    t: int, ps: int, pe: int, running: bool, wt: WorkingTime, cuts: list[tuple[int, int]]
) -> tuple[int, int]:
    """Rules (d) and (e) in working time, walking the working periods (see schedule.py's docstring)."""
    length = wt.between_us(ps, pe)
    if length <= 0:  # planned entirely in closed time: its planned wall length, in wall time
        wt, length = ALWAYS, pe - ps
    first = _first(wt, [], ps)
    delayed = t > first
    start = _first(wt, [], t) if delayed else ps
    work = start if delayed else first
    resumed = _first(wt, cuts, work)
    if resumed != work:
        if not running or any(s < start < e for s, e in cuts):
            start = resumed
        work = resumed
    end, left = work, length
    if left > 0:
        for s, e in _periods(wt, cuts, work):
            if e - s >= left:
                end = s + left
                break
            left -= e - s
    if running:
        end = max([end] + [e for s, e in cuts if s >= start])
    if not delayed:
        end = max(end, pe)
    return start, end


def repair_naive(
    cur: duckdb.DuckDBPyConnection, stops: list[Stop], at: datetime | None = None, plant: PlantTime | None = None
) -> Repair:
    """The rules applied literally over plain dicts (the oracle for `repair`). Cost grows with the plant."""
    check_stops(stops)
    result = Repair(list(stops))
    windows = windows_by_machine(stops)
    resource_windows = windows_by_machine(stops, "resource")
    plant = store_plant_time(cur) if plant is None else plant
    try:
        needs = cur.execute(
            "SELECT production_order_id, op_seq, resource_id FROM operation_resources ORDER BY ALL"
        ).fetchall()
    except duckdb.CatalogException:  # an older database: no secondary resources
        needs = []
    resources_of: dict[tuple[str, int], list[str]] = {}
    for po, seq, resource_id in needs:
        resources_of.setdefault((po, seq), []).append(resource_id)

    orders = {
        po: (status, parent, to_us(planned_end))
        for po, status, parent, planned_end in cur.execute(
            "SELECT production_order_id, status, parent_production_order_id, planned_end FROM production_orders"
        ).fetchall()
    }
    ops = [
        (po, seq, machine, to_us(ps), to_us(pe), status)
        for po, seq, machine, ps, pe, status in cur.execute(
            "SELECT production_order_id, op_seq, machine_id, planned_start, planned_end, status FROM operations"
        ).fetchall()
        if po in orders and orders[po][0] != "cancelled"  # a cancelled order's operations never run
    ]

    def is_open(op) -> bool:
        return op[5] != "done" and orders[op[0]][0] in OPEN_PRODUCTION_STATUSES

    by_machine: dict[str, list] = {}
    by_resource: dict[str, list] = {}
    by_order: dict[str, list] = {}
    for op in ops:
        by_machine.setdefault(op[2], []).append(op)
        for resource_id in resources_of.get((op[0], op[1]), ()):
            by_resource.setdefault(resource_id, []).append(op)
        by_order.setdefault(op[0], []).append(op)
    for seq_list in [*by_machine.values(), *by_resource.values()]:
        seq_list.sort(key=lambda op: (op[3], op[0], op[1]))
    for seq_list in by_order.values():
        seq_list.sort(key=lambda op: op[1])

    # Static lower bounds: planned start, and fixed (done / completed-order) operations before it.
    static: dict[tuple[str, int], int] = {}
    # Predecessors: the previous open operation on its machine, in its order, on each of its resources.
    prevs: dict[tuple[str, int], list[tuple[str, int]]] = {}
    for chain in (by_machine, by_order, by_resource):
        for seq_list in chain.values():
            fixed_end = None
            last_open = None
            for op in seq_list:
                key = (op[0], op[1])
                if is_open(op):
                    lb = max(op[3], static.get(key, op[3]))
                    if fixed_end is not None:
                        lb = max(lb, fixed_end)
                    static[key] = lb
                    if last_open is not None:
                        prevs.setdefault(key, []).append(last_open)
                    last_open = key
                else:
                    fixed_end = op[4] if fixed_end is None else max(fixed_end, op[4])

    feeders: dict[str, list[str]] = {}
    for po, (status, parent, _) in orders.items():
        if parent is not None and status in OPEN_PRODUCTION_STATUSES:
            feeders.setdefault(parent, []).append(po)
    first_op = {po: (seq_list[0][0], seq_list[0][1]) for po, seq_list in by_order.items()}

    open_ops = sorted((op for op in ops if is_open(op)), key=lambda op: (op[3], op[0], op[1]))
    new_start = {(op[0], op[1]): op[3] for op in open_ops}
    new_end = {(op[0], op[1]): op[4] for op in open_ops}
    open_keys_by_order: dict[str, list[tuple[str, int]]] = {}
    for op in open_ops:
        open_keys_by_order.setdefault(op[0], []).append((op[0], op[1]))

    def order_end(po: str) -> int:
        keys = open_keys_by_order.get(po)
        return max(new_end[k] for k in keys) if keys else orders[po][2]

    for _sweep in range(len(open_ops) + 2):
        changed = False
        for po, seq, machine, ps, pe, status in open_ops:
            key = (po, seq)
            t = static[key]
            for prev in prevs.get(key, ()):
                t = max(t, new_end[prev])
            if first_op.get(po) == key:
                for feeder in feeders.get(po, ()):
                    t = max(t, order_end(feeder))
            resources = resources_of.get(key, [])
            spans = list(windows.get(machine, []))
            for resource_id in resources:
                spans += resource_windows.get(resource_id, [])
            spans = merge_spans(spans)
            wt = plant.operation(machine, resources)
            if spans or not wt.always:
                start, end = place_plainly(t, ps, pe, status == "running", wt, spans)
            else:
                start, end = t, t + pe - ps
            if (start, end) != (new_start[key], new_end[key]):
                new_start[key], new_end[key] = start, end
                changed = True
        if not changed:
            break
    else:
        raise CycleError(
            "the plan's ordering constraints form a cycle (machine order, op_seq and feeding links disagree)"
        )

    for po, seq, machine, ps, pe, _status in open_ops:
        key = (po, seq)
        if (new_start[key], new_end[key]) != (ps, pe):
            result.ops[key] = OpShift(
                po, seq, machine, from_us(ps), from_us(pe), from_us(new_start[key]), from_us(new_end[key])
            )
            result.touched_orders.add(po)
    for po in result.touched_orders:
        latest = max(new_end[k] for k in open_keys_by_order[po])
        planned_end = orders[po][2]
        if latest > planned_end:
            result.orders[po] = OrderShift(po, from_us(planned_end), from_us(latest))
    return result
