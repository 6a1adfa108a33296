"""Schedule repair ("right-shift") after machine stops, in working time.

The rules (issue 3; in working time since issue 11):
  (a) each machine keeps its operations in planned order (planned_start, production_order_id, op_seq)
      and runs one at a time; so does each secondary resource (operation_resources: a person, a tool) an
      operation needs besides its machine;
  (b) an order's operations run in op_seq order;
  (c) an order's first operation starts no earlier than the end of every open order feeding it
      (orders whose parent_production_order_id is it);
  (d) nothing starts before its planned start;
  (e) on a stopped machine (or an unavailable resource) nothing runs inside the downtime [start, start +
      minutes): the downtime is taken out of the working time of every operation on that machine (or
      needing that resource). An operation running at the stop (planned_start < stop < planned_end, or
      status running) keeps its start and finishes after the downtime with its remaining working time;
      one reported running finishes no earlier than the end of any stop that begins after its start
      (overdue, it finishes when the machine is back).
Open operations are those not done, of orders planned / released / in_progress. Done operations and
completed or cancelled orders never move.

Working time (`calendar.py`): an operation works only when its machine and every resource it needs work
(`PlantTime.operation`), and the downtime is cut out of that (`without_us`). Its length is its WORKING
length, the working time between its planned start and end (`between_us`): moved, it keeps that, pausing
outside working time and resuming in the next working period. With t its earliest start by rules (a)-(d)
and `first` the first working instant at or after its planned start:
  * t <= first (not delayed past its first working minute): it keeps its planned start and never ends
    before its planned end;
  * t > first: it starts at the first working instant at or after t (`next_working_us`);
  * either way, if the downtime covers the instant it would begin working, it begins when the downtime
    ends (keeping its start if it is reported running and the start is not inside the stop), and it ends
    when its working length has passed from there (`add_us`).
An operation planned entirely in closed time (working length 0: overtime its calendar does not show) is
not made to vanish: it keeps its planned WALL length and moves in wall time, as without calendars (only
the downtime still stops it). A plant without calendars works every minute (`ALWAYS`): every operation's
working length is its planned wall length and the rules give exactly their wall-time answers; an
operation with ALWAYS working time off the stopped machines costs one addition. Overlapping stops of one
machine are one downtime (their union).

An order ends when its last open operation ends, and never before its planned end:
    new_end = max(planned_end, max(new op ends))
so buffer planned after an order's last operation absorbs a delay, exactly as rule (c) sees it: the
order it feeds waits for the feeder's operations, not for its planned end.

Two implementations with the same answer:

* `repair` (fast): event-driven propagation from the planned schedule. Only operations whose times
  change push their successors (next on the machine, next on each resource it needs, next in the order,
  the first operation of the order they feed), in planned-time order through a heap, so the cost is the
  size of the delayed cone, not the plant. Open operations are read from DuckDB only where a delay
  reaches: each stopped machine (or absent resource) from the earliest operation a stop hits to 48 h past
  its stop's end; any other machine or resource once an operation on it moves, from that same low end on;
  a machine's (resource's) range grows while a delay on it reaches past what is read, each time to past
  the delay by a margin that doubles (48 h, 96 h, ... of the machine's (resource's) working time, so a
  delay that reaches a weekend reads the days after it too); an order is read whole once one of its
  operations moves.
  One query per round reads everything the last round asked for (no range is read twice), then a second
  the orders of what it picked that are not known yet (by their ids: DuckDB skips the row groups that
  hold none of them). A round's cost is mostly its scans, not its rows, so the margins are wide: a
  shorter one (it was 6 h) makes more rounds on a plan in working time, where a delay jumps nights and
  weekends. This is exact when the plan itself satisfies the rules (every constraint already
  holds at planned times), which a scheduler's plan does; if the plan already violates them, `repair`
  reports only what the stops cause while `repair_naive` also repairs the plan's own violations.
* `repair_naive` (`naive_repair.py`): the rules applied literally, per operation, over plain dicts, swept
  to a fixpoint over the whole plant (also honouring fixed operations as lower bounds), working time
  learnt by walking each operation's working periods. It is the test oracle and the benchmark's
  baseline.

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

from planner_tui.engine.calendar import ALWAYS, PlantTime, WorkingTime, plant_time
from planner_tui.errors import BadRequest, CycleError, PlannerError
from planner_tui.store.contract import OPEN_PRODUCTION_STATUSES, STOPPED_STATES

_EPOCH = datetime(1970, 1, 1)
_US_PER_MIN = 60_000_000
_OPEN_SQL = ", ".join(f"'{s}'" for s in OPEN_PRODUCTION_STATUSES)  # constants from the contract
_STOPPED_SQL = ", ".join(f"'{s}'" for s in STOPPED_STATES)
_INITIAL_HORIZON_US = 48 * 60 * _US_PER_MIN  # a machine's first read range past a stop; doubles as needed


def to_us(value: datetime) -> int:
    return (value - _EPOCH) // timedelta(microseconds=1)


def from_us(value: int) -> datetime:
    return _EPOCH + timedelta(microseconds=int(value))


@dataclass
class Stop:
    """A machine stop: from `start`, for `minutes` (None: the downtime is unknown).

    With `kind` "resource", `machine_id` names a secondary resource (operation_resources) that is
    unavailable: a person absent, a tool away.
    """

    machine_id: str
    start: datetime
    minutes: float | None
    kind: str = "machine"

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
        } | ({"kind": self.kind} if self.kind != "machine" else {})


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
    """Every machine the store shows down or in maintenance, then every resource it shows unavailable
    (`resource_states`, stops of kind "resource"; none in an older store without that table): from its
    `since`, for expected_minutes."""
    from planner_tui.engine.resources import unavailable_resources

    rows = cur.execute(
        f"SELECT machine_id, since, expected_minutes FROM machine_states "
        f"WHERE state IN ({_STOPPED_SQL}) ORDER BY machine_id"
    ).fetchall()
    found = [(machine_id, since, minutes, "machine") for machine_id, since, minutes in rows]
    found += [(r["resource_id"], r["since"], r["expected_minutes"], "resource") for r in unavailable_resources(cur)]
    stops = []
    for stopped_id, since, minutes, kind in found:
        start: datetime | None = since if since is not None else at
        if start is not None:  # no since and no `at`: nothing to say when the stop began
            stops.append(Stop(stopped_id, start, None if minutes is None else float(minutes), kind=kind))
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


def windows_by_machine(stops: list[Stop], kind: str = "machine") -> dict[str, list[tuple[int, int]]]:
    """machine (or resource, with `kind` "resource") -> its downtime windows [start, end) in µs, sorted,
    overlapping ones joined; unknown or zero downtime is left out."""
    windows: dict[str, list[tuple[int, int]]] = {}
    for stop in stops:
        if stop.minutes and stop.kind == kind:
            s = to_us(stop.start)
            windows.setdefault(stop.machine_id, []).append((s, s + round(stop.minutes * _US_PER_MIN)))
    return {key: merge_spans(spans) for key, spans in windows.items()}


def merge_spans(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Spans sorted, overlapping ones joined."""
    merged: list[tuple[int, int]] = []
    for s, e in sorted(spans):
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    return merged


class Timing:
    """Where an operation runs (rules (d) and (e) in working time): its working time `wt` (its machine's
    and its resources' calendars intersected) and the downtime `cuts` of its machine and its resources
    (sorted, disjoint µs spans).

    `plain` (ALWAYS and no downtime): an operation starts when it can and lasts its planned wall length,
    at the cost of an addition, which is every operation of a plant without calendars off the stopped
    machines.
    """

    __slots__ = ("wt", "cuts", "down", "plain", "_wall_down")

    def __init__(self, wt: WorkingTime, cuts: list[tuple[int, int]]):
        self.wt = wt
        self.cuts = cuts
        self.down = wt.without_us(cuts)  # working time with the downtime taken out
        self.plain = wt.always and not cuts
        self._wall_down: WorkingTime | None = None

    def place(self, t: int, ps: int, pe: int, running: bool) -> tuple[int, int]:
        """(start, end) of an operation planned [ps, pe) that may start at `t` (>= ps) by rules (a)-(d).

        See the module docstring: not delayed past its first planned working instant, it keeps its planned
        start (and never ends before its planned end); delayed, it starts at the next working instant;
        either way it then runs its working length, pausing outside working time and during downtime.
        """
        if self.plain:
            return t, t + pe - ps
        wt, down = self.wt, self.down
        length = wt.between_us(ps, pe)
        if length <= 0:  # planned entirely in closed time: the calendar does not say; wall time does
            if self._wall_down is None:
                self._wall_down = ALWAYS.without_us(self.cuts)
            wt, down, length = ALWAYS, self._wall_down, pe - ps
        first = wt.next_working_us(ps)
        if t <= first:
            start, work, floor = ps, first, pe
        else:
            start = work = wt.next_working_us(t)
            floor = 0
        resumed = down.next_working_us(work)
        if resumed != work:  # a downtime at the moment it would begin: it begins after it
            if not running or any(s < start < e for s, e in self.cuts):
                start = resumed  # (an operation reported running keeps its start, unless inside the stop)
            work = resumed
        end = down.add_us(work, length)
        if running:  # reported running: it finishes no earlier than the machine is back from a stop
            for s, e in self.cuts:
                if s >= start and e > end:
                    end = e
        return start, max(end, floor)


# ---------------------------------------------------------------------------------------------------
# Fast repair: event-driven, reading only the machines and orders a delay reaches


_COLUMNS = """op.production_order_id AS po, op.op_seq AS seq, op.machine_id AS m,
       epoch_us(op.planned_start) AS ps, epoch_us(op.planned_end) AS pe, op.status = 'running' AS running"""
_ON_MACHINES_SQL = """SELECT op.* FROM operations op
    JOIN (SELECT unnest(?::VARCHAR[]) AS m, unnest(?::TIMESTAMP[]) AS after, unnest(?::TIMESTAMP[]) AS upto) r
      ON op.machine_id = r.m
    WHERE op.status <> 'done' AND op.planned_start > r.after AND op.planned_start <= r.upto"""
_ON_RESOURCES_SQL = """SELECT op.* FROM operations op
    JOIN operation_resources x ON x.production_order_id = op.production_order_id AND x.op_seq = op.op_seq
    JOIN (SELECT unnest(?::VARCHAR[]) AS r, unnest(?::TIMESTAMP[]) AS after, unnest(?::TIMESTAMP[]) AS upto) q
      ON x.resource_id = q.r
    WHERE op.status <> 'done' AND op.planned_start > q.after AND op.planned_start <= q.upto"""
_OF_ORDERS_SQL = """SELECT op.* FROM operations op
    WHERE op.status <> 'done' AND op.production_order_id IN (SELECT unnest(?::VARCHAR[]))"""
# The orders of what a round picked, asked by their ids in a second query: a list of constants lets DuckDB
# skip the row groups of production_orders and operation_resources (both in key order) that hold none of
# them, where a join on the first query's result scans both tables whole (a third of a round's time).
_OWNERS_SQL = f"""SELECT production_order_id AS po, parent_production_order_id AS parent,
       epoch_us(planned_end) AS order_pe, NULL::INTEGER AS seq, NULL::VARCHAR[] AS rs
    FROM production_orders
    WHERE production_order_id IN (SELECT unnest(?::VARCHAR[])) AND status IN ({_OPEN_SQL})"""
_RESOURCES_OF_ORDERS_SQL = """
UNION ALL
SELECT production_order_id, NULL, NULL, op_seq, list(resource_id ORDER BY resource_id) FROM operation_resources
    WHERE production_order_id IN (SELECT unnest(?::VARCHAR[])) GROUP BY production_order_id, op_seq"""


def _frontier_sql(on_machines: bool, on_resources: bool, of_orders: bool) -> str:
    """Open operations: on machines and on resources within planned-start ranges, and/or of whole orders
    (their orders' status and links come from `_OWNERS_SQL`).

    Built only from the constant parts above (a part with nothing to ask for would still scan the table).
    """
    parts = (
        ([_ON_MACHINES_SQL] if on_machines else [])
        + ([_ON_RESOURCES_SQL] if on_resources else [])
        + ([_OF_ORDERS_SQL] if of_orders else [])
    )
    return f"""
WITH picked AS ({" UNION ALL ".join(parts)})
SELECT {_COLUMNS} FROM picked op
"""


class _Lane:
    """The open operations of one machine or resource read so far, in planned order (rule (a))."""

    __slots__ = ("keys", "rows", "hi", "step")

    def __init__(self, lo: int):
        self.keys: list[tuple[int, str, int]] = []  # (ps, po, seq), sorted
        self.rows: list[int] = []
        self.hi = lo - 1  # read: planned starts in [lo, hi]
        self.step = _INITIAL_HORIZON_US


class _Frontier:
    """Open operations read machine by machine (resource by resource) and order by order as delays reach
    them, and the right-shift over them.

    Every operation a stop moves starts no earlier than `lo` (the earliest one a stop hits directly: a
    plan that satisfies the rules has successors starting after their predecessors). So each machine, and
    each resource, is a lane read from `lo` on, in planned-start ranges that grow as far as a delay on it
    reaches; an order is read whole once one of its operations moves (with the order it feeds, which the
    delay is likely to reach). Moved operations whose successor is not read yet wait in `pending` and push
    it once the next read brings it; the fixpoint is the same whatever the order of pushes, so reading in
    rounds changes the cost, not the answer.

    Lanes are keyed ("m", machine_id) and ("r", resource_id); `with_resources` is False for a plant
    without operation_resources, whose reads then ask nothing about them.
    """

    def __init__(
        self,
        windows: dict[tuple[str, str], list[tuple[int, int]]],
        lo: int,
        plant: PlantTime,
        with_resources: bool,
    ):
        self.windows = windows
        self.lo = lo
        self.plant = plant
        self.with_resources = with_resources
        self._timings: dict[object, Timing] = {}
        self.po: list[str] = []
        self.seq: list[int] = []
        self.m: list[str] = []
        self.res: list[tuple[str, ...]] = []
        self.ps: list[int] = []
        self.pe: list[int] = []
        self.running: list[bool] = []
        self.parent: list[str | None] = []
        self.order_pe: list[int] = []
        self._index: dict[tuple[str, int], int] = {}
        self._owners: dict[str, tuple[str | None, int] | None] = {}  # order -> (parent, planned end); None: not open
        self._needs: dict[tuple[str, int], tuple[str, ...]] = {}  # operation -> the resources it needs
        self.lanes: dict[tuple[str, str], _Lane] = {}
        self.order_rows: dict[str, list[int]] = {}  # orders read whole: open operations by op_seq
        self.want_lane: dict[tuple[str, str], int] = {}  # lane -> how far a delay on it reaches
        self.want_order: set[str] = set()
        self.pending: set[int] = set()
        self._heap: list[tuple[int, int]] = []
        self._queued: set[int] = set()
        self.req: dict[int, int] = {}
        self.new: dict[int, tuple[int, int]] = {}
        self._pops = 0

    def _lane(self, key: tuple[str, str]) -> _Lane:
        lane = self.lanes.get(key)
        if lane is None:
            lane = self.lanes[key] = _Lane(self.lo)
        return lane

    def read(self, cur: duckdb.DuckDBPyConnection) -> bool:
        """Read what the delays asked for; False when nothing was asked."""
        if not self.want_lane and not self.want_order:
            return False
        wanted = sorted(self.want_lane)
        ranges: dict[tuple[str, str], tuple[int, int]] = {}
        for key in wanted:
            lane = self._lane(key)
            ranges[key] = (lane.hi, self._ahead(key, max(self.want_lane[key], lane.hi), lane.step))  # past the delay
            lane.step *= 2
        params: list = []
        for kind in ("m", "r"):
            keys = [k for k in wanted if k[0] == kind]
            if keys:
                params += [[k[1] for k in keys], [from_us(ranges[k][0]) for k in keys]]
                params.append([from_us(ranges[k][1]) for k in keys])
        orders = sorted(self.want_order)
        params += [orders] if orders else []
        sql = _frontier_sql(any(k[0] == "m" for k in wanted), any(k[0] == "r" for k in wanted), bool(orders))
        table = cur.sql(sql, params=params).to_arrow_table()
        col = lambda name: table.column(name).to_pylist()  # noqa: E731
        po, seq, m, ps, pe, running = col("po"), col("seq"), col("m"), col("ps"), col("pe"), col("running")
        # The orders of the operations picked that are not known yet: open ones (an operation of a closed
        # order never moves: it is dropped), their links and ends, and what each operation needs.
        fresh = sorted({o for o, s in zip(po, seq, strict=True) if (o, s) not in self._index} - self._owners.keys())
        if fresh:
            owners_sql = _OWNERS_SQL + (_RESOURCES_OF_ORDERS_SQL if self.with_resources else "")
            found = cur.sql(owners_sql, params=[fresh, fresh] if self.with_resources else [fresh]).fetchall()
            for order_id, parent_id, order_end, op_seq, needs in found:
                if op_seq is None:
                    self._owners[order_id] = (parent_id, order_end)
                else:
                    self._needs[(order_id, op_seq)] = tuple(needs)
            for order_id in fresh:
                self._owners.setdefault(order_id, None)
        new_in_lane: dict[tuple[str, str], set[int]] = {}
        by_order: dict[str, set[int]] = {}
        for k in range(len(po)):
            op_key = (po[k], seq[k])
            i = self._index.get(op_key)
            if i is None:
                owner = self._owners[po[k]]
                if owner is None:  # an order that is not open
                    continue
                i = self._index[op_key] = len(self.po)
                self.po.append(po[k])
                self.seq.append(seq[k])
                self.m.append(m[k])
                self.res.append(self._needs.get(op_key, ()))
                self.ps.append(ps[k])
                self.pe.append(pe[k])
                self.running.append(running[k])
                self.parent.append(owner[0])
                self.order_pe.append(owner[1])
            for lane_key in (("m", m[k]), *(("r", r) for r in self.res[i])):
                span = ranges.get(lane_key)
                if span is not None and span[0] < ps[k] <= span[1]:
                    new_in_lane.setdefault(lane_key, set()).add(i)
            by_order.setdefault(po[k], set()).add(i)
        for key in wanted:
            lane = self.lanes[key]
            lane.hi = ranges[key][1]
            rows = sorted(new_in_lane.get(key, ()), key=self._lane_key)
            lane.keys.extend(map(self._lane_key, rows))
            lane.rows.extend(rows)
        for order_id in orders:
            if order_id not in self.order_rows:
                self.order_rows[order_id] = sorted(by_order.get(order_id, ()), key=self.seq.__getitem__)
        self.want_lane.clear()
        self.want_order.clear()
        waiting, self.pending = self.pending, set()
        for i in waiting:
            self._propagate(i, self.new[i][1])
        return True

    def _ahead(self, key: tuple[str, str], t: int, step: int) -> int:
        """`step` of the lane's working time past `t` (wall time without a calendar): a delay that reaches
        a night or a weekend reads the working days after it in the same round, not in the next ones."""
        wt = self.plant.machine(key[1]) if key[0] == "m" else self.plant.resource(key[1])
        if not wt.always:
            try:
                return wt.add_us(t, step)
            except PlannerError:  # no working time for years, or past the year 9999: wall time will do
                pass
        return t + step

    def _lane_key(self, i: int) -> tuple[int, str, int]:
        return (self.ps[i], self.po[i], self.seq[i])

    def seed(self) -> None:
        """Push what a downtime can touch directly (all of it lies in the first read of its lane)."""
        for key, spans in self.windows.items():
            for i in self._lane(key).rows:
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

    def _next_in_lane(self, i: int, key: tuple[str, str], end: int) -> None:
        """Rule (a), on a machine or a resource: the next operation in it waits for `i`."""
        lane = self.lanes.get(key)
        if lane is not None:
            k = bisect.bisect_right(lane.keys, self._lane_key(i))
            if k < len(lane.keys):
                self._require(lane.rows[k], end)
                return
            hi = lane.hi
        else:
            hi = self.lo - 1
        if hi < end:  # the next one may start before `end` but is not read yet
            self.want_lane[key] = max(self.want_lane.get(key, end), end)
            self.pending.add(i)

    def _propagate(self, i: int, end: int) -> None:
        """Push the successors of `i` (now ending at `end`); ask for what is not read yet."""
        self._next_in_lane(i, ("m", self.m[i]), end)
        for r in self.res[i]:
            self._next_in_lane(i, ("r", r), end)
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

    def _timing(self, i: int) -> Timing:
        """Where operation `i` runs: its machine's and resources' calendars and downtime (one per set)."""
        machine, resources = self.m[i], self.res[i]
        key = (machine, resources) if resources else machine
        timing = self._timings.get(key)
        if timing is None:
            cuts = list(self.windows.get(("m", machine), ()))
            for r in resources:
                cuts += self.windows.get(("r", r), ())
            wt = self.plant.operation(machine, resources) if resources else self.plant.machine(machine)
            timing = self._timings[key] = Timing(wt, merge_spans(cuts))
        return timing

    def run(self) -> None:
        """Event-driven right-shift: pop in planned order, move, push successors whose bound rose."""
        ps, pe, running, new = self.ps, self.pe, self.running, self.new
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
            timing = self._timing(i)
            if timing.plain:
                start, end = t, t + pe[i] - ps[i]
            else:
                start, end = timing.place(t, ps[i], pe[i], running[i])
            old_start, old_end = new.get(i, (ps[i], pe[i]))
            if start == old_start and end == old_end:
                continue
            new[i] = (start, end)
            if end > old_end:
                self._propagate(i, end)
            elif self.po[i] not in self.order_rows:
                self.want_order.add(self.po[i])  # its order's new end needs all its operations


def _stop_seeds(cur: duckdb.DuckDBPyConnection, windows: dict[tuple[str, str], list[tuple[int, int]]]) -> int:
    """The earliest planned start among operations a stop can hit directly (the window's low end), in µs.

    Operations of closed orders are not filtered out here: a low end that is a little too early only
    widens the window.
    """
    earliest = min(spans[0][0] for spans in windows.values())
    for kind, sql in (
        (
            "m",
            """SELECT min(o.planned_start) FROM operations o
               JOIN (SELECT unnest(?::VARCHAR[]) AS m, unnest(?::TIMESTAMP[]) AS s, unnest(?::TIMESTAMP[]) AS e) k
                 ON o.machine_id = k.m
               WHERE o.status <> 'done' AND o.planned_start < k.e AND (o.planned_end > k.s OR o.status = 'running')""",
        ),
        (
            "r",
            """SELECT min(o.planned_start) FROM operations o
               JOIN operation_resources x ON x.production_order_id = o.production_order_id AND x.op_seq = o.op_seq
               JOIN (SELECT unnest(?::VARCHAR[]) AS r, unnest(?::TIMESTAMP[]) AS s, unnest(?::TIMESTAMP[]) AS e) k
                 ON x.resource_id = k.r
               WHERE o.status <> 'done' AND o.planned_start < k.e AND (o.planned_end > k.s OR o.status = 'running')""",
        ),
    ):
        keys = sorted(k for k in windows if k[0] == kind)
        if not keys:
            continue
        firsts = [from_us(windows[k][0][0]) for k in keys]
        lasts = [from_us(windows[k][-1][1]) for k in keys]
        row = cur.execute(sql, [[k[1] for k in keys], firsts, lasts]).fetchall()[0]
        if row[0] is not None:
            earliest = min(earliest, to_us(row[0]))
    return earliest


def _has_rows(cur: duckdb.DuckDBPyConnection, table: str) -> bool:
    """Whether the contract's `table` has a row (an older database may not have the table: no)."""
    try:
        return bool(cur.execute(f"SELECT EXISTS (SELECT 1 FROM {table})").fetchall()[0][0])  # a contract name
    except duckdb.CatalogException:
        return False


def store_plant_time(cur: duckdb.DuckDBPyConnection) -> PlantTime:
    """The store's working time (`calendar.plant_time`), read only when it has calendars: without them
    every answer is ALWAYS, at the cost of one query."""
    return plant_time(cur) if _has_rows(cur, "calendars") else PlantTime()


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


def repair(
    cur: duckdb.DuckDBPyConnection, stops: list[Stop], at: datetime | None = None, plant: PlantTime | None = None
) -> Repair:
    """Right-shift the plant's open operations around `stops` (see the module docstring).

    `at` is kept for the API's symmetry (it pins "now" for callers); the rules themselves do not use it.
    `plant`: the plant's working time (default: the store's, `store_plant_time(cur)`; pass it when
    repairing many times over one store).
    """
    check_stops(stops)
    result = Repair(list(stops))
    windows = {("m", k): v for k, v in windows_by_machine(stops).items()}
    windows |= {("r", k): v for k, v in windows_by_machine(stops, "resource").items()}
    if not windows:
        return result
    with_resources = _has_rows(cur, "operation_resources")
    if not with_resources:  # a resource no operation needs stops nothing
        windows = {k: v for k, v in windows.items() if k[0] == "m"}
        if not windows:
            return result
    lo = _stop_seeds(cur, windows)
    frontier = _Frontier(windows, lo, store_plant_time(cur) if plant is None else plant, with_resources)
    for key, spans in windows.items():
        frontier.want_lane[key] = spans[-1][1] + _INITIAL_HORIZON_US
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
