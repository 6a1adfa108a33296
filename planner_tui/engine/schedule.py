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

An order ends when its last open operation ends, and never before its planned end:
    new_end = max(planned_end, max(new op ends))
so buffer planned after an order's last operation absorbs a delay, exactly as rule (c) sees it: the
order it feeds waits for the feeder's operations, not for its planned end.

Two implementations with the same answer:

* `repair` (fast): event-driven propagation from the planned schedule. Only operations whose times
  change push their successors (next on the machine, next in the order, the first operation of the order
  they feed), in planned-time order through a heap, so the cost is the size of the delayed cone, not the
  plant. Open operations are read from DuckDB only where a delay reaches: each stopped machine from the
  earliest operation a stop hits to 6 h past its stop's end; any other machine once an operation on it
  moves, from that same low end on; a machine's range grows while a delay on it reaches past what is
  read, each time to past the delay by a margin that doubles (6 h, 12 h, ...); an order is read whole
  once one of its operations moves. One query per round reads everything the last round asked for (no
  range is read twice). This is exact when the plan itself satisfies the rules (every constraint already
  holds at planned times), which a scheduler's plan does; if the plan already violates them, `repair`
  reports only what the stops cause while `repair_naive` also repairs the plan's own violations.
* `repair_naive` (`naive_repair.py`): the rules applied literally, per operation, over plain dicts, swept to a fixpoint over
  the whole plant (also honouring fixed operations as lower bounds). It is the test oracle and the
  benchmark's baseline.

Both return a `Repair` listing only what changes: an operation or order absent from it keeps its
planned times.
"""

from __future__ import annotations

import bisect
import heapq
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import duckdb

from planner_tui.errors import BadRequest, CycleError
from planner_tui.store.contract import OPEN_PRODUCTION_STATUSES, STOPPED_STATES

_EPOCH = datetime(1970, 1, 1)
_US_PER_MIN = 60_000_000
_OPEN_SQL = ", ".join(f"'{s}'" for s in OPEN_PRODUCTION_STATUSES)  # constants from the contract
_STOPPED_SQL = ", ".join(f"'{s}'" for s in STOPPED_STATES)
_INITIAL_HORIZON_US = 6 * 60 * _US_PER_MIN  # a machine's first read range past a stop; doubles as needed


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
    absorb the move). Anything not listed keeps its planned times. `read_rounds`: how many reads of the
    plan the fast repair took (0 for the naive one), so tests can show they exercised the growing reads.
    """

    stops: list[Stop]
    ops: dict[tuple[str, int], OpShift] = field(default_factory=dict)
    orders: dict[str, OrderShift] = field(default_factory=dict)
    touched_orders: set[str] = field(default_factory=set)
    read_rounds: int = 0

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
    stops = []
    for machine_id, since, minutes in rows:
        start: datetime | None = since if since is not None else at
        if start is not None:  # no since and no `at`: nothing to say when the stop began
            stops.append(Stop(machine_id, start, None if minutes is None else float(minutes)))
    return stops


MAX_DOWN_MINUTES = 10 * 365 * 24 * 60  # ten years: beyond that a stop is not a stop but a closure


def check_downtime(minutes: float | None, machine_id: str) -> None:
    """A downtime is a finite number of minutes from 0 to ten years (None: unknown)."""
    if minutes is None:
        return
    if not math.isfinite(minutes):
        raise BadRequest(f"downtime of {machine_id} must be a number of minutes, got {minutes!r}")
    if minutes < 0:
        raise BadRequest(f"downtime of {machine_id} must not be negative (got {minutes:g} minutes)")
    if minutes > MAX_DOWN_MINUTES:
        raise BadRequest(f"downtime of {machine_id} is too long (got {minutes:g} minutes; at most ten years)")


def check_stops(stops: list[Stop]) -> None:
    for stop in stops:
        check_downtime(stop.minutes, stop.machine_id)
        if stop.start is None:
            raise BadRequest(f"the stop of {stop.machine_id} has no start time")


def windows_by_machine(stops: list[Stop]) -> dict[str, list[tuple[int, int]]]:
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
# Fast repair: event-driven, reading only the machines and orders a delay reaches


_COLUMNS = """op.production_order_id AS po, op.op_seq AS seq, op.machine_id AS m,
       epoch_us(op.planned_start) AS ps, epoch_us(op.planned_end) AS pe, op.status = 'running' AS running,
       o.parent_production_order_id AS parent, epoch_us(o.planned_end) AS order_pe"""
_ON_MACHINES_SQL = """SELECT op.* FROM operations op
    JOIN (SELECT unnest(?::VARCHAR[]) AS m, unnest(?::TIMESTAMP[]) AS after, unnest(?::TIMESTAMP[]) AS upto) r
      ON op.machine_id = r.m
    WHERE op.status <> 'done' AND op.planned_start > r.after AND op.planned_start <= r.upto"""
_OF_ORDERS_SQL = """SELECT op.* FROM operations op
    WHERE op.status <> 'done' AND op.production_order_id IN (SELECT unnest(?::VARCHAR[]))"""


def _frontier_sql(on_machines: bool, of_orders: bool) -> str:
    """Open operations of open orders: on machines within planned-start ranges, and/or of whole orders.

    Built only from the constant parts above (a part with nothing to ask for would still scan the table).
    """
    parts = ([_ON_MACHINES_SQL] if on_machines else []) + ([_OF_ORDERS_SQL] if of_orders else [])
    return f"""
WITH picked AS MATERIALIZED ({" UNION ALL ".join(parts)}
), owners AS MATERIALIZED (
    SELECT production_order_id, parent_production_order_id, planned_end FROM production_orders
    WHERE production_order_id IN (SELECT production_order_id FROM picked) AND status IN ({_OPEN_SQL})
)
SELECT {_COLUMNS} FROM picked op JOIN owners o ON o.production_order_id = op.production_order_id
"""


class _Frontier:
    """Open operations read machine by machine and order by order as delays reach them, and the
    right-shift over them.

    Every operation a stop moves starts no earlier than `lo` (the earliest one a stop hits directly: a
    plan that satisfies the rules has successors starting after their predecessors). So each machine is
    read from `lo` on, in planned-start ranges that grow as far as a delay on it reaches; an order is read
    whole once one of its operations moves (with the order it feeds, which the delay is likely to reach). Moved operations whose successor is
    not read yet wait in `pending` and push it once the next read brings it; the fixpoint is the same
    whatever the order of pushes, so reading in rounds changes the cost, not the answer.
    """

    def __init__(self, windows: dict[str, list[tuple[int, int]]], lo: int):
        self.windows = windows
        self.lo = lo
        self.po: list[str] = []
        self.seq: list[int] = []
        self.m: list[str] = []
        self.ps: list[int] = []
        self.pe: list[int] = []
        self.running: list[bool] = []
        self.parent: list[str | None] = []
        self.order_pe: list[int] = []
        self._index: dict[tuple[str, int], int] = {}
        self.machine_keys: dict[str, list[tuple[int, str, int]]] = {}  # (ps, po, seq), sorted
        self.machine_rows: dict[str, list[int]] = {}
        self.machine_hi: dict[str, int] = {}  # read on the machine: planned starts in [lo, hi]
        self._machine_step: dict[str, int] = {}
        self.order_rows: dict[str, list[int]] = {}  # orders read whole: open operations by op_seq
        self.want_machine: dict[str, int] = {}  # machine -> how far a delay on it reaches
        self.want_order: set[str] = set()
        self.pending: set[int] = set()
        self._heap: list[tuple[int, int]] = []
        self._queued: set[int] = set()
        self.req: dict[int, int] = {}
        self.new: dict[int, tuple[int, int]] = {}
        self._pops = 0

    def read(self, cur: duckdb.DuckDBPyConnection) -> bool:
        """Read what the delays asked for; False when nothing was asked."""
        if not self.want_machine and not self.want_order:
            return False
        machines = sorted(self.want_machine)
        after, upto = [], []
        for mid in machines:
            hi = self.machine_hi.get(mid, self.lo - 1)
            step = self._machine_step.get(mid, _INITIAL_HORIZON_US)
            self._machine_step[mid] = 2 * step
            after.append(hi)
            upto.append(max(self.want_machine[mid], hi) + step)  # past the delay: it often pushes further
        orders = sorted(self.want_order)
        params: list = [machines, [from_us(x) for x in after], [from_us(x) for x in upto]] if machines else []
        params += [orders] if orders else []
        table = cur.sql(_frontier_sql(bool(machines), bool(orders)), params=params).to_arrow_table()
        col = lambda name: table.column(name).to_pylist()  # noqa: E731
        po, seq, m, ps, pe = col("po"), col("seq"), col("m"), col("ps"), col("pe")
        running, parent, order_pe = col("running"), col("parent"), col("order_pe")
        ranges = {mid: (a, u) for mid, a, u in zip(machines, after, upto)}
        new_on_machine: dict[str, set[int]] = {}
        by_order: dict[str, set[int]] = {}
        for k in range(len(po)):
            key = (po[k], seq[k])
            i = self._index.get(key)
            if i is None:
                i = self._index[key] = len(self.po)
                self.po.append(po[k])
                self.seq.append(seq[k])
                self.m.append(m[k])
                self.ps.append(ps[k])
                self.pe.append(pe[k])
                self.running.append(running[k])
                self.parent.append(parent[k])
                self.order_pe.append(order_pe[k])
            span = ranges.get(m[k])
            if span is not None and span[0] < ps[k] <= span[1]:
                new_on_machine.setdefault(m[k], set()).add(i)
            by_order.setdefault(po[k], set()).add(i)
        for mid, hi in zip(machines, upto):
            self.machine_hi[mid] = hi
            rows = sorted(new_on_machine.get(mid, ()), key=self._machine_key)
            self.machine_keys.setdefault(mid, []).extend(map(self._machine_key, rows))
            self.machine_rows.setdefault(mid, []).extend(rows)
        for order_id in orders:
            if order_id not in self.order_rows:
                self.order_rows[order_id] = sorted(by_order.get(order_id, ()), key=self.seq.__getitem__)
        self.want_machine.clear()
        self.want_order.clear()
        waiting, self.pending = self.pending, set()
        for i in waiting:
            self._propagate(i, self.new[i][1])
        return True

    def _machine_key(self, i: int) -> tuple[int, str, int]:
        return (self.ps[i], self.po[i], self.seq[i])

    def seed(self) -> None:
        """Push what a downtime can touch directly (all of it lies in the first read of its machine)."""
        for mid, spans in self.windows.items():
            for i in self.machine_rows.get(mid, ()):
                if any(self.ps[i] < e and (self.pe[i] > s or self.running[i]) for s, e in spans):
                    self._push(i)

    def _push(self, i: int) -> None:
        if i not in self._queued:
            self._queued.add(i)
            heapq.heappush(self._heap, (self.ps[i], i))

    def _require(self, j: int, end: int) -> None:
        if end > self.req.get(j, self.ps[j]):
            self.req[j] = end
            self._push(j)

    def _propagate(self, i: int, end: int) -> None:
        """Push the successors of `i` (now ending at `end`); ask for what is not read yet."""
        mid = self.m[i]
        hi = self.machine_hi.get(mid, self.lo - 1)
        keys = self.machine_keys.get(mid, [])
        k = bisect.bisect_right(keys, self._machine_key(i))
        if k < len(keys):  # rule (a): the next operation on the machine
            self._require(self.machine_rows[mid][k], end)
        elif hi < end:  # the next one may start before `end` but is not read yet
            self.want_machine[mid] = max(self.want_machine.get(mid, end), end)
            self.pending.add(i)
        order_id = self.po[i]
        parent = self.parent[i]
        rows = self.order_rows.get(order_id)
        if rows is None:
            self.want_order.add(order_id)
            if parent is not None and parent not in self.order_rows:
                self.want_order.add(parent)  # likely next: read it in the same round
            self.pending.add(i)
            return
        later = [j for j in rows if self.seq[j] > self.seq[i]]
        if later:  # rule (b)
            self._require(later[0], end)
            return
        if parent is None:
            return
        parent_rows = self.order_rows.get(parent)
        if parent_rows is None:
            self.want_order.add(parent)
            self.pending.add(i)
        elif parent_rows:  # rule (c): the order it feeds starts after its last operation
            self._require(parent_rows[0], end)

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
            if end > old_end:
                self._propagate(i, end)
            elif self.po[i] not in self.order_rows:
                self.want_order.add(self.po[i])  # its order's new end needs all its operations


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


def _order_shifts(w: _Frontier) -> dict[str, OrderShift]:
    """Order new_end from its latest open operation's move (see the module docstring).

    Every order with a moved operation has been read whole, so its open operations are all at hand.
    """
    moved_end: dict[str, int] = {}
    for i, (_, end) in w.new.items():
        if end > moved_end.get(w.po[i], -(2**62)):
            moved_end[w.po[i]] = end
    shifts = {}
    for po in moved_end:
        rows = w.order_rows[po]
        latest = max(w.new[j][1] if j in w.new else w.pe[j] for j in rows)
        planned_end = w.order_pe[rows[0]]
        if latest > planned_end:
            shifts[po] = OrderShift(po, from_us(planned_end), from_us(latest))
    return shifts


def repair(cur: duckdb.DuckDBPyConnection, stops: list[Stop], at: datetime | None = None) -> Repair:
    """Right-shift the plant's open operations around `stops` (see the module docstring).

    `at` is kept for the API's symmetry (it pins "now" for callers); the rules themselves do not use it.
    """
    check_stops(stops)
    result = Repair(list(stops))
    windows = windows_by_machine(stops)
    if not windows:
        return result
    lo = _stop_seeds(cur, windows)
    if lo is None:
        return result
    frontier = _Frontier(windows, to_us(lo))
    for machine_id, spans in windows.items():
        frontier.want_machine[machine_id] = max(e for _, e in spans) + _INITIAL_HORIZON_US
    frontier.read(cur)
    result.read_rounds = 1
    frontier.seed()
    frontier.run()
    while frontier.read(cur):  # until no delay reaches past what is read
        result.read_rounds += 1
        frontier.run()
    w, moved = frontier, frontier.new

    for i, (start, end) in moved.items():
        po = w.po[i]
        result.ops[(po, w.seq[i])] = OpShift(
            po, w.seq[i], w.m[i], from_us(w.ps[i]), from_us(w.pe[i]), from_us(start), from_us(end)
        )
        result.touched_orders.add(po)
    result.orders = _order_shifts(w)
    return result
