"""Schedule repair ("right-shift") after machine stops.

The rules (issue 3):
  (a) each machine keeps its operations in planned order (planned_start, production_order_id, op_seq)
      and runs one at a time;
  (b) an order's operations run in op_seq order;
  (c) an order's first operation starts no earlier than the end of every open order feeding it
      (orders whose parent_production_order_id is it);
  (d) nothing starts before its planned start;
  (e) on a stopped machine nothing runs inside the downtime [start, start + minutes); an operation running
      at the stop (planned_start < stop < planned_end, or status running) keeps its start and finishes
      after the downtime with its remaining time.
Open operations are those not done, of orders planned / released / in_progress. Done operations and
completed or cancelled orders never move. Durations are planned_end - planned_start.

An order's new_end shifts by the delay of its latest-ending open operation:
    new_end = planned_end + max(0, max(new op ends) - max(planned op ends))
(so an order whose own end carries buffer keeps planned_end when nothing moves).

Two implementations with the same answer:

* `repair` (fast): event-driven propagation from the planned schedule. Only operations whose times
  change push their successors (next on the machine, next in the order, the first operation of the order
  they feed), in planned-time order through a heap, so the cost is the size of the delayed cone, not the
  plant. Open operations are read from DuckDB in planned-start slabs, from the earliest operation a stop
  hits to 6 h past the last stop's end, then slabs twice as long each time while a delay still reaches
  past what is loaded (a slab is never read twice). This is exact when the plan itself satisfies
  the rules (every constraint already holds at planned times), which a scheduler's plan does; if the plan
  already violates them, `repair` reports only what the stops cause while `repair_naive` also repairs
  the plan's own violations.
* `repair_naive`: the rules applied literally, per operation, over plain dicts, swept to a fixpoint over
  the whole plant (also honouring fixed operations as lower bounds). It is the test oracle and the
  benchmark's baseline.

Both return a `Repair` listing only what changes: an operation or order absent from it keeps its
planned times.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import duckdb

from planner_tui.errors import BadRequest, CycleError
from planner_tui.store.contract import OPEN_PRODUCTION_STATUSES, STOPPED_STATES

_EPOCH = datetime(1970, 1, 1)
_US_PER_MIN = 60_000_000
_OPEN_SQL = ", ".join(f"'{s}'" for s in OPEN_PRODUCTION_STATUSES)  # constants from the contract
_STOPPED_SQL = ", ".join(f"'{s}'" for s in STOPPED_STATES)
_INITIAL_HORIZON_US = 6 * 60 * _US_PER_MIN  # first window past the stops' end; doubles as needed


def to_us(value: datetime) -> int:
    return (value - _EPOCH) // timedelta(microseconds=1)


def from_us(value: int) -> datetime:
    return _EPOCH + timedelta(microseconds=int(value))


@dataclass
class Stop:
    """A machine stop: from `start`, for `minutes` (None: the downtime is unknown)."""

    machine_id: str
    start: datetime
    minutes: float | None

    @property
    def end(self) -> datetime | None:
        return None if self.minutes is None else self.start + timedelta(minutes=self.minutes)

    def to_dict(self) -> dict:
        return {
            "machine_id": self.machine_id,
            "start": self.start,
            "minutes": self.minutes,
            "end": self.end,
            "downtime_known": self.minutes is not None,
        }


@dataclass
class OpShift:
    production_order_id: str
    op_seq: int
    machine_id: str
    planned_start: datetime
    planned_end: datetime
    new_start: datetime
    new_end: datetime

    @property
    def delay_minutes(self) -> float:
        return (self.new_end - self.planned_end).total_seconds() / 60


@dataclass
class OrderShift:
    production_order_id: str
    planned_end: datetime
    new_end: datetime

    @property
    def delay_minutes(self) -> float:
        return (self.new_end - self.planned_end).total_seconds() / 60


@dataclass
class Repair:
    """What a repair changes.

    `ops`: every open operation whose start or end moves, keyed (production_order_id, op_seq).
    `orders`: every open production order whose new_end differs from planned_end.
    `touched_orders`: orders with at least one moved operation (a superset of `orders`: inner slack may
    absorb the move). Anything not listed keeps its planned times.
    """

    stops: list[Stop]
    ops: dict[tuple[str, int], OpShift] = field(default_factory=dict)
    orders: dict[str, OrderShift] = field(default_factory=dict)
    touched_orders: set[str] = field(default_factory=set)

    def op_times(self, production_order_id: str, op_seq: int) -> tuple[datetime, datetime] | None:
        """(new_start, new_end) of a moved operation, None when it keeps its planned times."""
        shift = self.ops.get((production_order_id, op_seq))
        return None if shift is None else (shift.new_start, shift.new_end)

    def order_new_end(self, production_order_id: str, planned_end: datetime) -> datetime:
        shift = self.orders.get(production_order_id)
        return planned_end if shift is None else shift.new_end


# ---------------------------------------------------------------------------------------------------
# Stops


def stops_from_store(cur: duckdb.DuckDBPyConnection, at: datetime | None = None) -> list[Stop]:
    """Every machine the store shows down or in maintenance: from its `since`, for expected_minutes."""
    rows = cur.execute(
        f"SELECT machine_id, since, expected_minutes FROM machine_states "
        f"WHERE state IN ({_STOPPED_SQL}) ORDER BY machine_id"
    ).fetchall()
    return [
        Stop(machine_id, since if since is not None else at, None if minutes is None else float(minutes))
        for machine_id, since, minutes in rows
        if since is not None or at is not None
    ]


def _check_stops(stops: list[Stop]) -> None:
    for stop in stops:
        if stop.minutes is not None and stop.minutes < 0:
            raise BadRequest(f"downtime of {stop.machine_id} must not be negative (got {stop.minutes:g} minutes)")
        if stop.start is None:
            raise BadRequest(f"the stop of {stop.machine_id} has no start time")


def _windows_by_machine(stops: list[Stop]) -> dict[str, list[tuple[int, int]]]:
    """machine -> its downtime windows [start, end) in µs, sorted; unknown or zero downtime is left out."""
    windows: dict[str, list[tuple[int, int]]] = {}
    for stop in stops:
        if stop.minutes:
            s = to_us(stop.start)
            windows.setdefault(stop.machine_id, []).append((s, s + round(stop.minutes * _US_PER_MIN)))
    for spans in windows.values():
        spans.sort()
    return windows


def place(t: int, duration: int, running: bool, spans: list[tuple[int, int]]) -> tuple[int, int]:
    """Rule (e): where an operation that could start at `t` runs on a machine with these downtimes.

    Returns (start, end). An operation under way when a stop begins (started before it and not yet
    finished, or reported running) keeps its start and finishes after the downtime with what remained.
    """
    end = t + duration
    for s, e in spans:
        if e <= s:
            continue
        if (t < s < end) or (running and t <= s):
            end = e + max(0, end - s)  # what remained at the stop (0 for a running op already overdue)
        elif s <= t < e:
            t = e
            end = t + duration
    return t, end


# ---------------------------------------------------------------------------------------------------
# Fast repair: event-driven over a planned-start window


_WINDOW_SQL = f"""
WITH base AS (
    SELECT production_order_id AS po, op_seq AS seq, machine_id AS m,
           epoch_us(planned_start) AS ps, epoch_us(planned_end) AS pe, status = 'running' AS running
    FROM operations
    WHERE status <> 'done' AND planned_start >= ? AND planned_start <= ?
)
SELECT b.*, o.parent_production_order_id AS parent, epoch_us(o.planned_end) AS order_pe
FROM base b JOIN production_orders o ON o.production_order_id = b.po
WHERE o.status IN ({_OPEN_SQL})
ORDER BY b.m, b.ps, b.po, b.seq
"""
# The parent's first operation is taken inside the window: it starts after its feeders end, so when a
# feeder's last operation is in the window the parent's first open one is too, or lies past it (where the
# exactness check extends the window).


class _Cone:
    """Open operations loaded slab by slab in planned-start order, and the right-shift over them.

    Rows arrive sorted by (machine, planned_start, order, op_seq); every slab starts after the previous
    one ends, so each new row links after the last loaded operation of its machine and of its order.
    Moved operations whose successor arrives in a later slab push it then: no slab is read twice.
    """

    def __init__(self, windows: dict[str, list[tuple[int, int]]]):
        self.windows = windows
        self.po: list[str] = []
        self.seq: list[int] = []
        self.m: list[str] = []
        self.ps: list[int] = []
        self.pe: list[int] = []
        self.running: list[bool] = []
        self.order_pe: list[int] = []
        self.mnext: list[int] = []
        self.onext: list[int] = []
        self.fnext: list[int] = []
        self._last_on_machine: dict[str, int] = {}
        self._last_of_order: dict[str, int] = {}
        self._first_of_order: dict[str, int] = {}
        self._parent: dict[str, str] = {}
        self._feeders_waiting: dict[str, list[str]] = {}  # parent -> feeder orders, parent not loaded yet
        self._heap: list[tuple[int, int]] = []
        self._queued: set[int] = set()
        self.req: dict[int, int] = {}
        self.new: dict[int, tuple[int, int]] = {}
        self._pops = 0

    def load(self, cur: duckdb.DuckDBPyConnection, lo: datetime, hi: datetime) -> None:
        table = cur.sql(_WINDOW_SQL, params=[lo, hi]).to_arrow_table()
        col = lambda name: table.column(name).to_pylist()  # noqa: E731
        base = len(self.po)
        po, seq, m, parent = col("po"), col("seq"), col("m"), col("parent")
        self.po += po
        self.seq += seq
        self.m += m
        self.ps += col("ps")
        self.pe += col("pe")
        self.running += col("running")
        self.order_pe += col("order_pe")
        n = len(po)
        self.mnext += [-1] * n
        self.onext += [-1] * n
        self.fnext += [-1] * n
        links: list[tuple[int, int]] = []  # (from, to) edges made now

        for k in range(n):  # rule (a): machine order
            i = base + k
            prev = self._last_on_machine.get(m[k])
            if prev is not None:
                self.mnext[prev] = i
                links.append((prev, i))
            self._last_on_machine[m[k]] = i

        rows_of: dict[str, list[int]] = {}
        for k in range(n):
            rows_of.setdefault(po[k], []).append(base + k)
            if parent[k] is not None:
                self._parent[po[k]] = parent[k]
        for order_id, idx in rows_of.items():  # rule (b): op_seq order
            idx.sort(key=self.seq.__getitem__)
            prev = self._last_of_order.get(order_id)
            if prev is not None:
                self.fnext[prev] = -1  # no longer the order's last loaded operation
                idx.insert(0, prev)
            for x, y in zip(idx, idx[1:]):
                self.onext[x] = y
                links.append((x, y))
            self._last_of_order[order_id] = idx[-1]
            self._first_of_order.setdefault(order_id, idx[0] if prev is None else self._first_of_order[order_id])

        for order_id in rows_of:  # rule (c): a feeder's last operation -> its parent's first operation
            parent_id = self._parent.get(order_id)
            if parent_id is not None:
                self._feeders_waiting.setdefault(parent_id, []).append(order_id)
        for parent_id in [p for p in self._feeders_waiting if p in self._first_of_order]:
            target = self._first_of_order[parent_id]
            for feeder in self._feeders_waiting.pop(parent_id):
                last = self._last_of_order[feeder]
                self.fnext[last] = target
                links.append((last, target))

        for x, y in links:  # moved operations push successors that just arrived
            if x in self.new:
                self._require(y, self.new[x][1])
        for k in range(n):  # seeds: what a downtime can touch directly
            i = base + k
            spans = self.windows.get(m[k])
            if spans and any(self.ps[i] < e and (self.pe[i] > s_ or self.running[i]) for s_, e in spans):
                self._push(i)

    def _push(self, i: int) -> None:
        if i not in self._queued:
            self._queued.add(i)
            heapq.heappush(self._heap, (self.ps[i], i))

    def _require(self, j: int, end: int) -> None:
        if end > self.req.get(j, self.ps[j]):
            self.req[j] = end
            self._push(j)

    def run(self) -> None:
        """Event-driven right-shift: pop in planned order, move, push successors whose bound rose."""
        ps, pe, running, m, new = self.ps, self.pe, self.running, self.m, self.new
        heap, queued, req = self._heap, self._queued, self.req
        budget = 20 * len(ps) + 1000  # a consistent plan pops each operation about once
        while heap:
            self._pops += 1
            if self._pops > budget:
                raise CycleError(
                    "the plan's ordering constraints form a cycle (machine order, op_seq and feeding links "
                    "disagree) around orders " + ", ".join(sorted({self.po[i] for _, i in heap[:10]}))
                )
            _, i = heapq.heappop(heap)
            queued.discard(i)
            t = max(ps[i], req.get(i, ps[i]))
            spans = self.windows.get(m[i])
            if spans is None:
                start, end = t, t + pe[i] - ps[i]
            else:
                start, end = place(t, pe[i] - ps[i], running[i], spans)
            old_start, old_end = new.get(i, (ps[i], pe[i]))
            if start == old_start and end == old_end:
                continue
            new[i] = (start, end)
            if end <= old_end:
                continue
            for j in (self.mnext[i], self.onext[i], self.fnext[i]):
                if j >= 0:
                    self._require(j, end)


def _stop_seeds(cur: duckdb.DuckDBPyConnection, windows: dict[str, list[tuple[int, int]]]) -> datetime | None:
    """The earliest planned start among operations a stop can hit directly (the window's low end).

    Operations of closed orders are not filtered out here: a low end that is a little too early only
    widens the window.
    """
    machines = sorted(windows)
    firsts = [from_us(min(s for s, _ in windows[m])) for m in machines]
    lasts = [from_us(max(e for _, e in windows[m])) for m in machines]
    row = cur.execute(
        """SELECT min(o.planned_start) FROM operations o
           JOIN (SELECT unnest(?::VARCHAR[]) AS m, unnest(?::TIMESTAMP[]) AS s, unnest(?::TIMESTAMP[]) AS e) k
             ON o.machine_id = k.m
           WHERE o.status <> 'done' AND o.planned_start < k.e AND (o.planned_end > k.s OR o.status = 'running')""",
        [machines, firsts, lasts],
    ).fetchall()[0]
    earliest = min(firsts)
    return earliest if row[0] is None else min(earliest, row[0])


def _order_shifts(cur: duckdb.DuckDBPyConnection, w: _Cone, moved: dict[int, tuple[int, int]], hi: int) -> dict[str, OrderShift]:
    """Order new_end from its latest open operation's move (see the module docstring).

    An order ending by `hi` has all its open operations that can matter in the window; for the few that
    end later the planned ends of their open operations come from the store.
    """
    moved_end: dict[str, int] = {}
    for i, (_, end) in moved.items():
        if end > moved_end.get(w.po[i], -(2**62)):
            moved_end[w.po[i]] = end
    if not moved_end:
        return {}
    last_planned: dict[str, int] = {}
    order_pe: dict[str, int] = {}
    for i in range(len(w.po)):
        po = w.po[i]
        if po in moved_end:
            order_pe[po] = w.order_pe[i]
            if w.pe[i] > last_planned.get(po, -(2**62)):
                last_planned[po] = w.pe[i]
    beyond = [po for po in moved_end if order_pe[po] > hi]
    if beyond:
        for po, latest in cur.execute(
            """SELECT production_order_id, max(epoch_us(planned_end)) FROM operations
               WHERE production_order_id IN (SELECT unnest(?::VARCHAR[])) AND status <> 'done'
               GROUP BY production_order_id""",
            [beyond],
        ).fetchall():
            last_planned[po] = max(last_planned[po], latest)
    shifts = {}
    for po, end in moved_end.items():
        delay = end - last_planned[po]
        if delay > 0:
            planned_end = from_us(order_pe[po])
            shifts[po] = OrderShift(po, planned_end, planned_end + timedelta(microseconds=delay))
    return shifts


def repair(cur: duckdb.DuckDBPyConnection, stops: list[Stop], at: datetime | None = None) -> Repair:
    """Right-shift the plant's open operations around `stops` (see the module docstring).

    `at` is kept for the API's symmetry (it pins "now" for callers); the rules themselves do not use it.
    """
    _check_stops(stops)
    result = Repair(list(stops))
    windows = _windows_by_machine(stops)
    if not windows:
        return result
    lo = _stop_seeds(cur, windows)
    bounds = cur.execute("SELECT max(planned_start) FROM operations").fetchall()[0][0]
    if lo is None or bounds is None:
        return result
    plant_last_start = to_us(bounds)
    stops_end = max(e for spans in windows.values() for _, e in spans)
    cone = _Cone(windows)
    step = _INITIAL_HORIZON_US
    hi = stops_end + step
    cone.load(cur, lo, from_us(hi))
    while True:
        cone.run()
        latest = max((end for _, end in cone.new.values()), default=0)
        # Exact once every delay ends inside what is loaded: later operations start after it unchanged.
        if latest <= hi or hi >= plant_last_start:
            break
        step *= 2
        next_hi = max(latest, hi) + step
        cone.load(cur, from_us(hi + 1), from_us(next_hi))
        hi = next_hi
    w, moved = cone, cone.new

    for i, (start, end) in moved.items():
        po = w.po[i]
        result.ops[(po, w.seq[i])] = OpShift(
            po, w.seq[i], w.m[i], from_us(w.ps[i]), from_us(w.pe[i]), from_us(start), from_us(end)
        )
        result.touched_orders.add(po)
    result.orders = _order_shifts(cur, w, moved, hi)
    return result


# ---------------------------------------------------------------------------------------------------
# Naive repair: the rules, per operation, swept to a fixpoint over the whole plant


def repair_naive(cur: duckdb.DuckDBPyConnection, stops: list[Stop], at: datetime | None = None) -> Repair:
    """The rules applied literally over plain dicts (the oracle for `repair`). Cost grows with the plant."""
    _check_stops(stops)
    result = Repair(list(stops))
    windows = _windows_by_machine(stops)

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
    by_order: dict[str, list] = {}
    for op in ops:
        by_machine.setdefault(op[2], []).append(op)
        by_order.setdefault(op[0], []).append(op)
    for seq_list in by_machine.values():
        seq_list.sort(key=lambda op: (op[3], op[0], op[1]))
    for seq_list in by_order.values():
        seq_list.sort(key=lambda op: op[1])

    # Static lower bounds: planned start, and fixed (done / completed-order) operations before it.
    static: dict[tuple[str, int], int] = {}
    machine_prev: dict[tuple[str, int], tuple[str, int]] = {}
    order_prev: dict[tuple[str, int], tuple[str, int]] = {}
    for chain, prev_map in ((by_machine, machine_prev), (by_order, order_prev)):
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
                        prev_map[key] = last_open
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
            if key in machine_prev:
                t = max(t, new_end[machine_prev[key]])
            if key in order_prev:
                t = max(t, new_end[order_prev[key]])
            if first_op.get(po) == key:
                for feeder in feeders.get(po, ()):
                    t = max(t, order_end(feeder))
            spans = windows.get(machine)
            start, end = place(t, pe - ps, status == "running", spans) if spans else (t, t + pe - ps)
            if (start, end) != (new_start[key], new_end[key]):
                new_start[key], new_end[key] = start, end
                changed = True
        if not changed:
            break
    else:
        raise CycleError("the plan's ordering constraints form a cycle (machine order, op_seq and feeding links disagree)")

    for po, seq, machine, ps, pe, _status in open_ops:
        key = (po, seq)
        if (new_start[key], new_end[key]) != (ps, pe):
            result.ops[key] = OpShift(po, seq, machine, from_us(ps), from_us(pe), from_us(new_start[key]), from_us(new_end[key]))
            result.touched_orders.add(po)
    for po in result.touched_orders:
        keys = open_keys_by_order[po]
        delay = max(new_end[k] for k in keys) - max(next(op[4] for op in by_order[po] if (op[0], op[1]) == k) for k in keys)
        if delay > 0:
            planned_end = from_us(orders[po][2])
            result.orders[po] = OrderShift(po, planned_end, planned_end + timedelta(microseconds=delay))
    return result
