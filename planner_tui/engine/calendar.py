"""Working time: when the plant, a machine or a resource works (issue 11).

A calendar is a weekly pattern of working hours in the plant's local wall clock (the `calendars` rows of
one `calendar_id`, in snapshot.json's `timezone`) with exceptions that replace the pattern inside their
span (`calendar_exceptions`: closures and extra shifts, UTC timestamps). Every answer here is in naive
UTC, the product's convention (`timeutil.py`), either as datetimes or, for the repair's inner loops, as
integer microseconds since 1970-01-01 (`*_us`, the unit of `schedule.py`):

    wt = calendar([(1, "06:00", "14:00"), (1, "14:00", "22:00")], [], "Europe/Berlin", name="TWO-SHIFT")
    wt.is_working(t)       # is t inside a working period?
    wt.next_working(t)     # t itself when working, else the start of the next working period
    wt.add(t, 90)          # when 90 working minutes from t have passed (pausing outside working time)
    wt.between(a, b)       # working minutes in [a, b)
    intersect(machine, operator)   # working only when all of them are

`add` and `between` are inverse: `between(t, add(t, m)) == m`, and `add(t, m)` is the earliest such
instant, so work that ends with its shift ends at the shift's end, not at the next one's start.
`ALWAYS` (no calendar) is the identity: `add(t, m) == t + m`, at the cost of an addition.

The work is done once per week of UTC time (a "block", aligned on the epoch): a block's working periods
are computed when first asked for (the pattern's local days converted through the time zone, so a
night shift on the night the clocks change is an hour shorter or longer, then the exceptions applied),
kept sorted with their running sums, and every question is a bisect or two inside the blocks it spans.

`plant_time(cur)` reads a store's calendars into a `PlantTime`: the working time of each machine, each
resource and each operation (its machine's and its resources' calendars intersected).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from planner_tui.errors import BadRequest, PlannerError

if TYPE_CHECKING:
    import duckdb

_EPOCH = datetime(1970, 1, 1)
US_PER_MIN = 60_000_000
DAY_MIN = 24 * 60
WEEK_US = 7 * DAY_MIN * US_PER_MIN  # one block
# How long a search for working time may run into a calendar that has none (every day closed, or two
# calendars that never work at the same time) before it says so: ten years, as for a machine's stop.
MAX_IDLE_BLOCKS = 522

Span = tuple[int, int]  # [start, end) in µs since the epoch, start < end


def to_us(value: datetime) -> int:
    """A naive UTC datetime as µs since 1970-01-01."""
    return (value - _EPOCH) // timedelta(microseconds=1)


def from_us(value: int) -> datetime:
    return _EPOCH + timedelta(microseconds=value)


# Blocks whose local days (a day either side) stay inside what a datetime can hold.
_FIRST_BLOCK = to_us(datetime(1, 1, 10)) // WEEK_US + 1
_LAST_BLOCK = to_us(datetime(9999, 12, 20)) // WEEK_US - 1


def minutes_to_us(minutes: float) -> int:
    return round(minutes * US_PER_MIN)


def clock_minutes(text: str) -> int:
    """A time of day `HH:MM` (00:00 to 24:00) as minutes after midnight; ValueError when malformed."""
    hours, sep, minutes = text.partition(":")
    if not (sep and len(hours) == 2 and len(minutes) == 2 and hours.isdigit() and minutes.isdigit()):
        raise ValueError(f"not a time of day (expected HH:MM): {text!r}")
    value = int(hours) * 60 + int(minutes)
    if int(minutes) > 59 or value > DAY_MIN:
        raise ValueError(f"not a time of day (from 00:00 to 24:00): {text!r}")
    return value


class NoWorkingTime(PlannerError):
    """A calendar (or several together) with no working time for ten years from where a search began."""


# --- sorted, disjoint span lists --------------------------------------------------------------------


def _merge(spans: list[Span]) -> list[Span]:
    """Sorted spans, overlapping or touching ones joined (06:00-14:00 and 14:00-22:00 are one span)."""
    spans.sort()
    merged: list[Span] = []
    for s, e in spans:
        if merged and s <= merged[-1][1]:
            if e > merged[-1][1]:
                merged[-1] = (merged[-1][0], e)
        else:
            merged.append((s, e))
    return merged


def _subtract(spans: list[Span], cuts: list[Span]) -> list[Span]:
    """`spans` without `cuts` (both sorted and disjoint)."""
    out: list[Span] = []
    j = 0
    for s, e in spans:
        while j < len(cuts) and cuts[j][1] <= s:
            j += 1
        k = j
        while k < len(cuts) and cuts[k][0] < e:
            cs, ce = cuts[k]
            if cs > s:
                out.append((s, cs))
            s = max(s, ce)
            if s >= e:
                break
            k += 1
        if s < e:
            out.append((s, e))
    return out


def _intersect(a: list[Span], b: list[Span]) -> list[Span]:
    out: list[Span] = []
    i = j = 0
    while i < len(a) and j < len(b):
        s = max(a[i][0], b[j][0])
        e = min(a[i][1], b[j][1])
        if s < e:
            out.append((s, e))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out


def _clip(spans: Iterable[Span], lo: int, hi: int) -> list[Span]:
    return [(max(s, lo), min(e, hi)) for s, e in spans if s < hi and e > lo]


# --- working time ------------------------------------------------------------------------------------


class _Block:
    """One week's working periods: starts, ends and the working time before each (`cum`, one longer)."""

    __slots__ = ("spans", "starts", "ends", "cum", "total")

    def __init__(self, spans: list[Span]):
        self.spans = spans
        self.starts = [s for s, _ in spans]
        self.ends = [e for _, e in spans]
        cum = [0]
        for s, e in spans:
            cum.append(cum[-1] + e - s)
        self.cum = cum
        self.total = cum[-1]

    def worked_until(self, t: int) -> int:
        """Working time in the block before `t` (t inside the block or at its end)."""
        i = bisect.bisect_right(self.starts, t) - 1
        if i < 0:
            return 0
        return self.cum[i] + min(t - self.starts[i], self.ends[i] - self.starts[i])


class WorkingTime:
    """When something works: its working periods, asked about in naive UTC (datetimes or µs)."""

    always = False  # True only for ALWAYS: every minute is working time

    def __init__(self, name: str = ""):
        self.name = name
        self._blocks: dict[int, _Block] = {}

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name or '?'}>"

    # The one thing a kind of working time says: its working periods inside block k, sorted, disjoint,
    # inside [k * WEEK_US, (k + 1) * WEEK_US).
    def _spans(self, k: int) -> list[Span]:
        raise NotImplementedError

    def _block(self, k: int) -> _Block:
        block = self._blocks.get(k)
        if block is None:
            if not _FIRST_BLOCK <= k <= _LAST_BLOCK:
                raise BadRequest("working time is known from the year 1 to the year 9999 only")
            block = self._blocks[k] = _Block(self._spans(k))
        return block

    def _none_found(self, t: int) -> NoWorkingTime:
        what = f"calendar {self.name}" if self.name else "this calendar"
        if isinstance(self, Intersection):
            what = "calendars " + " and ".join(m.name or "?" for m in self.members) + " together"
        return NoWorkingTime(f"{what}: no working time in the ten years from {from_us(t).isoformat()}")

    # --- in µs ------------------------------------------------------------------------------------

    def is_working_us(self, t: int) -> bool:
        block = self._block(t // WEEK_US)
        i = bisect.bisect_right(block.starts, t) - 1
        return i >= 0 and t < block.ends[i]

    def next_working_us(self, t: int) -> int:
        """`t` when it is working time, else the start of the next working period."""
        k, at = t // WEEK_US, t
        for _ in range(MAX_IDLE_BLOCKS + 1):
            block = self._block(k)
            i = bisect.bisect_right(block.starts, at) - 1
            if i >= 0 and at < block.ends[i]:
                return at
            if i + 1 < len(block.starts):
                return block.starts[i + 1]
            k += 1
            at = k * WEEK_US
        raise self._none_found(t)

    def add_us(self, t: int, duration: int) -> int:
        """The earliest instant by which `duration` µs of working time from `t` have passed."""
        if duration <= 0:
            if duration == 0:
                return t
            raise BadRequest(f"a working time to add cannot be negative (got {duration / US_PER_MIN:g} minutes)")
        k = t // WEEK_US
        block = self._block(k)
        target = block.worked_until(t) + duration
        idle = 0
        while target > block.total:
            target -= block.total
            idle = idle + 1 if not block.total else 0
            if idle > MAX_IDLE_BLOCKS:
                raise self._none_found(t)
            k += 1
            block = self._block(k)
        j = bisect.bisect_left(block.cum, target) - 1
        return block.starts[j] + target - block.cum[j]

    def between_us(self, a: int, b: int) -> int:
        """Working time in [a, b), in µs (negative when b is before a)."""
        if b < a:
            return -self.between_us(b, a)
        ka, kb = a // WEEK_US, b // WEEK_US
        first = self._block(ka)
        if ka == kb:
            return first.worked_until(b) - first.worked_until(a)
        total = first.total - first.worked_until(a)
        for k in range(ka + 1, kb):
            total += self._block(k).total
        return total + self._block(kb).worked_until(b)

    def spans_us(self, a: int, b: int) -> list[Span]:
        """The working periods inside [a, b), clipped to it, touching ones joined."""
        out: list[Span] = []
        if b <= a:
            return out
        for k in range(a // WEEK_US, (b - 1) // WEEK_US + 1):
            for s, e in _clip(self._block(k).spans, a, b):
                if out and out[-1][1] == s:
                    out[-1] = (out[-1][0], e)
                else:
                    out.append((s, e))
        return out

    # --- in datetimes -------------------------------------------------------------------------------

    def is_working(self, t: datetime) -> bool:
        return self.is_working_us(to_us(t))

    def next_working(self, t: datetime) -> datetime:
        return from_us(self.next_working_us(to_us(t)))

    def add(self, t: datetime, minutes: float) -> datetime:
        return from_us(self.add_us(to_us(t), minutes_to_us(minutes)))

    def between(self, a: datetime, b: datetime) -> float:
        """Working minutes in [a, b)."""
        return self.between_us(to_us(a), to_us(b)) / US_PER_MIN

    def periods(self, a: datetime, b: datetime) -> list[tuple[datetime, datetime]]:
        """The working periods inside [a, b)."""
        return [(from_us(s), from_us(e)) for s, e in self.spans_us(to_us(a), to_us(b))]

    def without(self, periods: Iterable[tuple[datetime, datetime]], name: str = "") -> WorkingTime:
        """This working time except inside `periods` (a machine's downtime, a person's absence)."""
        return self.without_us([(to_us(s), to_us(e)) for s, e in periods], name)

    def without_us(self, spans: Iterable[Span], name: str = "") -> WorkingTime:
        cuts = _merge([(s, e) for s, e in spans if s < e])
        return _Without(self, cuts, name or self.name) if cuts else self


class _Always(WorkingTime):
    """Every minute is working time: the identity, at the cost of an addition."""

    always = True

    def _spans(self, k: int) -> list[Span]:
        return [(k * WEEK_US, (k + 1) * WEEK_US)]

    def is_working_us(self, t: int) -> bool:
        return True

    def next_working_us(self, t: int) -> int:
        return t

    def add_us(self, t: int, duration: int) -> int:
        if duration < 0:
            return super().add_us(t, duration)  # refused there
        return t + duration

    def between_us(self, a: int, b: int) -> int:
        return b - a

    def spans_us(self, a: int, b: int) -> list[Span]:
        return [(a, b)] if a < b else []


ALWAYS: WorkingTime = _Always("always")


class Calendar(WorkingTime):
    """A weekly pattern of local wall-clock hours in a time zone, with exceptions (build it with
    `calendar()`, which answers ALWAYS for a calendar that never stops)."""

    def __init__(
        self,
        pattern: dict[int, list[tuple[int, int]]],
        exceptions: Sequence[tuple[int, int, bool]],
        timezone: str = "UTC",
        name: str = "",
    ):
        super().__init__(name)
        self.timezone = timezone
        self._zone = None if timezone == "UTC" else ZoneInfo(timezone)
        # weekday (1 = Monday) -> merged (start, end) minutes after local midnight
        self._pattern = {day: pattern.get(day, []) for day in range(1, 8)}
        self._any_pattern = any(self._pattern.values())
        self._exceptions = sorted(exceptions)
        self._longest_exception = max((e - s for s, e, _ in self._exceptions), default=0)

    def _local_us(self, day: date, minute: int) -> int:
        """The moment the plant's wall clock first reads `minute` on local `day`: a time it passes twice
        (the night the clocks go back) counts at its first passing, a time it skips (the night they go
        forward) at the moment it is skipped."""
        wall = datetime(day.year, day.month, day.day) + timedelta(minutes=minute)
        zone = self._zone
        if zone is None:
            return to_us(wall)
        first = wall.replace(tzinfo=zone).utcoffset()  # fold 0: the offset before a change
        second = wall.replace(tzinfo=zone, fold=1).utcoffset()  # fold 1: the offset after it
        assert first is not None and second is not None  # a ZoneInfo always has one
        if second <= first:  # the wall clock shows it once, or twice (fold 0 is the first time)
            return to_us(wall - first)
        # Skipped: find when the offset changes, between the two readings (to the second).
        lo, hi = to_us(wall - second), to_us(wall - first)
        while hi - lo > 1_000_000:
            mid = (lo + hi) // 2
            if from_us(mid).replace(tzinfo=UTC).astimezone(zone).utcoffset() == second:
                hi = mid
            else:
                lo = mid
        return hi

    def _spans(self, k: int) -> list[Span]:
        lo, hi = k * WEEK_US, (k + 1) * WEEK_US
        spans: list[Span] = []
        if self._any_pattern:
            # Local days whose hours can fall in the block: UTC offsets are under a day either way.
            day = from_us(lo).date() - timedelta(days=1)
            last = from_us(hi).date() + timedelta(days=1)
            while day <= last:
                for start, end in self._pattern[day.isoweekday()]:
                    s, e = self._local_us(day, start), self._local_us(day, end)
                    if s < hi and e > lo and s < e:
                        spans.append((max(s, lo), min(e, hi)))
                day += timedelta(days=1)
            spans = _merge(spans)
        if self._exceptions:
            inside = []
            for n in range(
                bisect.bisect_left(self._exceptions, (lo - self._longest_exception,)), len(self._exceptions)
            ):
                s, e, w = self._exceptions[n]
                if s >= hi:
                    break
                if e > lo:
                    inside.append((s, e, w))
            if inside:
                # Inside an exception the pattern does not count; extra shifts are added, closures win.
                spans = _subtract(spans, _merge(_clip(((s, e) for s, e, _ in inside), lo, hi)))
                spans = _merge(spans + _clip(((s, e) for s, e, w in inside if w), lo, hi))
                spans = _subtract(spans, _merge(_clip(((s, e) for s, e, w in inside if not w), lo, hi)))
        return spans


def calendar(
    rows: Iterable[tuple[int, str, str]],
    exceptions: Iterable[tuple[datetime, datetime, bool]] = (),
    timezone: str = "UTC",
    name: str = "",
) -> WorkingTime:
    """A calendar's working time from its `calendars` rows (weekday 1-7, "HH:MM", "HH:MM") and its
    exceptions (start, end as naive UTC datetimes; working or not), in `timezone` (an IANA name).

    A pattern of every day 00:00-24:00 with no closure is ALWAYS."""
    pattern: dict[int, list[tuple[int, int]]] = {}
    for weekday, start, end in rows:
        if not 1 <= weekday <= 7:
            raise ValueError(f"weekday must be from 1 to 7, got {weekday}")
        s, e = clock_minutes(start), clock_minutes(end)
        if e <= s:
            raise ValueError(f"end_time {end} is not after start_time {start}")
        pattern.setdefault(weekday, []).append((s, e))
    merged = {day: [(s, e) for s, e in _merge(spans)] for day, spans in pattern.items()}
    spans = [(to_us(s), to_us(e), bool(w)) for s, e, w in exceptions if s < e]
    closes = any(not w for _, _, w in spans)
    if not closes and all(merged.get(day) == [(0, DAY_MIN)] for day in range(1, 8)):
        return ALWAYS
    return Calendar(merged, spans, timezone, name)


class Intersection(WorkingTime):
    """Working only when every member is (a machine and the people and tools an operation needs)."""

    def __init__(self, members: Sequence[WorkingTime]):
        super().__init__(" & ".join(m.name or "?" for m in members))
        self.members = tuple(members)

    def _spans(self, k: int) -> list[Span]:
        spans = self.members[0]._block(k).spans
        for member in self.members[1:]:
            if not spans:
                break
            spans = _intersect(spans, member._block(k).spans)
        return spans


def intersect(*members: WorkingTime) -> WorkingTime:
    """The working time when all of `members` work; ALWAYS members drop out (none left: ALWAYS)."""
    unique: list[WorkingTime] = []
    for m in members:
        if not m.always and all(m is not u for u in unique):
            unique.append(m)
    if not unique:
        return ALWAYS
    if len(unique) == 1:
        return unique[0]
    return Intersection(unique)


class _Without(WorkingTime):
    def __init__(self, base: WorkingTime, cuts: list[Span], name: str):
        super().__init__(name)
        self.base = base
        self.cuts = cuts
        self._cut_starts = [s for s, _ in cuts]

    def _spans(self, k: int) -> list[Span]:
        lo, hi = k * WEEK_US, (k + 1) * WEEK_US
        first = max(0, bisect.bisect_right(self._cut_starts, lo) - 1)  # cuts are disjoint: one may reach in
        cuts = _clip(self.cuts[first : bisect.bisect_left(self._cut_starts, hi)], lo, hi)
        return _subtract(self.base._block(k).spans, cuts) if cuts else self.base._block(k).spans


_HOUR = timedelta(hours=1)
_HOUR_LAST = _HOUR - timedelta(microseconds=1)
_UNKNOWN = object()  # not yet in a cache whose values may be None


# --- a store's calendars -------------------------------------------------------------------------------


@dataclass
class PlantTime:
    """The plant's time zone and the working time of its machines, resources and operations.

    Without any calendar in use every answer is ALWAYS (`always` is True) and nothing changes."""

    timezone: str = "UTC"
    default: WorkingTime = ALWAYS  # snapshot.json's `calendar`: for whatever names none
    calendars: dict[str, WorkingTime] = field(default_factory=dict)
    machine_calendars: dict[str, str] = field(default_factory=dict)  # machine -> calendar id, when set
    resource_calendars: dict[str, str] = field(default_factory=dict)  # resource -> calendar id, when set
    _operations: dict[tuple[str, ...], WorkingTime] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._zone = None if self.timezone == "UTC" else ZoneInfo(self.timezone)
        # UTC hour (ordinal * 24 + hour) -> the zone's offset through that whole hour, or None when it
        # changes inside it; and -> the local day, when the offset is whole hours (the local hour is then
        # one local day's). Lateness asks this of every line of a plant: a dict lookup, not a conversion.
        self._hour_offsets: dict[int, timedelta | None] = {}
        self._hour_dates: dict[int, date | None] = {}

    @property
    def always(self) -> bool:
        """True when every machine and resource works every minute (no calendar in use)."""
        used = [self.calendars[c] for c in {*self.machine_calendars.values(), *self.resource_calendars.values()}]
        return self.default.always and all(w.always for w in used)

    def calendar(self, calendar_id: str | None) -> WorkingTime:
        return self.default if calendar_id is None else self.calendars[calendar_id]

    def machine(self, machine_id: str) -> WorkingTime:
        return self.calendar(self.machine_calendars.get(machine_id))

    def resource(self, resource_id: str) -> WorkingTime:
        return self.calendar(self.resource_calendars.get(resource_id))

    def operation(self, machine_id: str, resource_ids: Iterable[str] = ()) -> WorkingTime:
        """When an operation can run: its machine and every resource it needs all working (cached per
        combination of calendars, so operations alike share one working time and its weeks)."""
        ids = [self.machine_calendars.get(machine_id)] + [self.resource_calendars.get(r) for r in resource_ids]
        key = tuple(sorted({"" if c is None else c for c in ids}))
        found = self._operations.get(key)
        if found is None:
            found = self._operations[key] = intersect(*(self.calendar(c or None) for c in key))
        return found

    def local(self, t: datetime) -> datetime:
        """A naive UTC time as the plant's naive local wall-clock time."""
        if self._zone is None:
            return t
        key = t.toordinal() * 24 + t.hour
        offset = self._hour_offsets.get(key, _UNKNOWN)
        if offset is _UNKNOWN:
            offset = self._hour_offset(key)
        if offset is None:  # the clocks change inside this hour: convert exactly
            return t.replace(tzinfo=UTC).astimezone(self._zone).replace(tzinfo=None)
        return t + offset  # type: ignore[operator]  # a timedelta here

    def local_date(self, t: datetime) -> date:
        """The plant's local day of a naive UTC time (lateness is judged by it)."""
        if self._zone is None:
            return t.date()
        key = t.toordinal() * 24 + t.hour
        day = self._hour_dates.get(key)
        if day is None:
            if key not in self._hour_dates:
                self._hour_offset(key)
                day = self._hour_dates[key]
            if day is None:  # an offset that changes inside the hour, or is not whole hours
                return self.local(t).date()
        return day

    def _hour_offset(self, key: int) -> timedelta | None:
        """The zone's offset through the UTC hour `key` (None when it changes inside it), remembered with
        the hour's local day when that is one day."""
        assert self._zone is not None
        start = datetime.fromordinal(key // 24) + timedelta(hours=key % 24)
        try:
            first = start.replace(tzinfo=UTC).astimezone(self._zone).utcoffset()
            last = (start + _HOUR_LAST).replace(tzinfo=UTC).astimezone(self._zone).utcoffset()
        except OverflowError:  # at the ends of what a datetime holds: convert exactly, as ever
            first, last = None, _HOUR
        offset = first if first == last else None
        self._hour_offsets[key] = offset
        whole = offset is not None and not offset % _HOUR
        self._hour_dates[key] = (start + offset).date() if whole else None  # type: ignore[operator]
        return offset


def plant_time(cur: duckdb.DuckDBPyConnection) -> PlantTime:
    """The store's calendars (snapshot.json's `timezone` and `calendar`, `calendars`, `calendar_exceptions`,
    `machines.calendar_id`, `resources`) as a PlantTime. A store without them: every answer ALWAYS."""
    meta = dict(cur.execute("SELECT key, value FROM store_meta WHERE key IN ('timezone', 'calendar')").fetchall())
    timezone = meta.get("timezone") or "UTC"
    rows: dict[str, list[tuple[int, str, str]]] = {}
    for calendar_id, weekday, start, end in _rows(
        cur, "SELECT calendar_id, weekday, start_time, end_time FROM calendars ORDER BY ALL"
    ):
        rows.setdefault(calendar_id, []).append((weekday, start, end))
    exceptions: dict[str, list[tuple[datetime, datetime, bool]]] = {}
    for calendar_id, start, end, working in _rows(
        cur, 'SELECT calendar_id, "start", "end", working = \'true\' FROM calendar_exceptions ORDER BY ALL'
    ):
        exceptions.setdefault(calendar_id, []).append((start, end, working))
    calendars = {
        calendar_id: calendar(pattern, exceptions.get(calendar_id, ()), timezone, calendar_id)
        for calendar_id, pattern in rows.items()
    }
    machines = dict(_rows(cur, "SELECT machine_id, calendar_id FROM machines WHERE calendar_id IS NOT NULL"))
    resources = dict(_rows(cur, "SELECT resource_id, calendar_id FROM resources WHERE calendar_id IS NOT NULL"))
    default_id = meta.get("calendar")
    return PlantTime(
        timezone=timezone,
        default=calendars[default_id] if default_id in calendars else ALWAYS,
        calendars=calendars,
        machine_calendars={m: c for m, c in machines.items() if c in calendars},
        resource_calendars={r: c for r, c in resources.items() if c in calendars},
    )


def _rows(cur: duckdb.DuckDBPyConnection, sql: str) -> list[tuple]:
    """The rows of a query over tables or columns an older database may not have yet (then none)."""
    import duckdb

    try:
        return cur.execute(sql).fetchall()
    except (duckdb.CatalogException, duckdb.BinderException):
        return []
