"""The shift's story (issue 14): what a leaving supervisor hands over, read back from what the store keeps.

Everything here is already recorded: the event log says what happened on the floor and what each event
changed (before and after), the triage tables say who did what and when, the outbox who was told. A
report is one pure question over them for a window [start, end) of floor time (the events' own `time`):

    shift_window(cur, at)          # the shift `at` is in, by the plant's calendar; else the last 8 hours
    shift_report(cur, start, end)  # the sections below, as one JSON-able dict

Sections, in the order a supervisor reads them: what needs attention now (open exceptions at `end`, with
the next step from the last note), machine stops (when, how long, why, what they put at risk), quality
holds (how far the lot travelled, what shipped), customer lines made late by what happened in the window,
shortages found (and how far ahead: the lead time the planner gained), customer orders confirmed, changed
or cancelled (with the order-to-production lag: confirmation to visible in planning), what was done
(triage by person), who was told, and the feed's health.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

import duckdb

from planner_tui.engine import calendar, trace
from planner_tui.engine.exceptions import list_exceptions
from planner_tui.errors import BadRequest, PlannerError

DEFAULT_HOURS = 8  # the window when the plant has no calendar to say what a shift is
SHIFT_HOURS = 8  # a working period longer than this is cut into shifts of this length from its start
MAX_TRACED_HOLDS = 25  # holds traced per report (newest first); `trace hold ID` has the others
SILENCE_MINUTES = 30  # a gap this long between events in a window is reported: a feed may have stalled

Record = dict[str, Any]


def _rows(cur: duckdb.DuckDBPyConnection, sql: str, params: Iterable[Any] = ()) -> list[Record]:
    result = cur.execute(sql, list(params))
    names = [d[0] for d in result.description]
    return [dict(zip(names, row, strict=True)) for row in result.fetchall()]


def _minutes(a: datetime | None, b: datetime | None) -> float | None:
    if a is None or b is None:
        return None
    return round((b - a).total_seconds() / 60, 1)


# ---------------------------------------------------------------------------------------------- the window


def shift_window(cur: duckdb.DuckDBPyConnection, at: datetime) -> Record:
    """{start, end, basis}: the shift `at` falls in, by the calendar most of the plant's machines work to.

    Calendars give working periods, not shifts: a period is cut into shifts of SHIFT_HOURS from its start
    (07:00-23:00 is two shifts, 07-15 and 15-23); one no longer than 1.5 shifts is a single shift. Outside
    working time it is the shift that ended last (the one being handed over). Without calendars (or when
    nothing worked in the last week): the DEFAULT_HOURS before `at`."""
    fallback = {
        "start": at - timedelta(hours=DEFAULT_HOURS),
        "end": at,
        "basis": f"the last {DEFAULT_HOURS} hours",
    }
    try:
        plant = calendar.plant_time(cur)
    except duckdb.CatalogException:  # a store loaded before calendars existed
        return fallback
    used = [c for c in plant.machine_calendars.values() if c is not None]
    if not used:
        return fallback
    calendar_id = max(sorted(set(used)), key=used.count)
    working = plant.calendar(calendar_id)
    periods = working.periods(at - timedelta(days=7), at + timedelta(days=1))
    current = [p for p in periods if p[0] <= at]
    if not current:
        return fallback
    period_start, period_end = current[-1]
    shifts = _cut(period_start, period_end)
    inside = [s for s in shifts if s[0] <= at < s[1]]
    start, end = inside[0] if inside else shifts[-1]
    local = plant.local
    return {
        "start": start,
        "end": end,
        "basis": f"shift {local(start):%a %H:%M}-{local(end):%H:%M} by calendar {calendar_id}",
        "calendar_id": calendar_id,
    }


def _cut(start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    length = timedelta(hours=SHIFT_HOURS)
    if end - start <= length * 1.5:
        return [(start, end)]
    shifts = []
    cursor = start
    while end - cursor > length * 1.5:
        shifts.append((cursor, cursor + length))
        cursor += length
    shifts.append((cursor, end))
    return shifts


# ---------------------------------------------------------------------------------------------- the report


def _events(cur: duckdb.DuckDBPyConnection, start: datetime, end: datetime, types: tuple[str, ...]) -> list[Record]:
    """The applied events of these types that happened in [start, end), oldest first, `data` and
    `changes` decoded."""
    found = _rows(
        cur,
        """SELECT source, event_id, type, event_time, received_at, applied_at, data, changes
           FROM event_log
           WHERE outcome = 'applied' AND type = ANY(?) AND event_time >= ? AND event_time < ?
           ORDER BY event_time, received_at""",
        [list(types), start, end],
    )
    for event in found:
        raw = json.loads(event.pop("data") or "{}")
        event["data"] = raw.get("data") if isinstance(raw.get("data"), dict) else {}
        event["changes"] = json.loads(event["changes"] or "[]")
    return found


def _change(event: Record, table: str) -> Record:
    """`event`'s first change of a row of `table` ({table, key, before, after}), {} when none."""
    return next((change for change in event["changes"] if change.get("table") == table), {})


def _attention(inbox: list[Record], notes: dict[str, Record]) -> list[Record]:
    out = []
    for exception in inbox:
        if exception.get("status") in ("resolved", "snoozed"):
            continue
        note = notes.get(exception["exception_id"])
        out.append(
            {
                "exception_id": exception["exception_id"],
                "kind": exception["kind"],
                "severity": exception["severity"],
                "title": exception["title"],
                "status": exception.get("status"),
                "owner": exception.get("owner"),
                "assignee": exception.get("assignee"),
                "raised_at": exception.get("raised_at"),
                "age_minutes": exception.get("age_minutes"),
                "next_step": note["detail"] if note else None,
                "next_step_by": note["who"] if note else None,
                "next_step_at": note["acted_at"] if note else None,
            }
        )
    return out


def _last_notes(cur: duckdb.DuckDBPyConnection, end: datetime) -> dict[str, Record]:
    found = _rows(
        cur,
        """SELECT exception_id, arg_max(detail, acted_at) AS detail, arg_max(who, acted_at) AS who,
                  max(acted_at) AS acted_at
           FROM exception_actions WHERE action = 'note' AND acted_at < ? GROUP BY exception_id""",
        [end],
    )
    return {row["exception_id"]: row for row in found}


def _stops(cur: duckdb.DuckDBPyConnection, start: datetime, end: datetime, inbox: dict[str, Record]) -> list[Record]:
    """Every machine stop that overlaps the window: from the log's machine.down / machine.up, plus the
    machines already down when the window began (the snapshot or an earlier event said so)."""
    names = {r["machine_id"]: r for r in _rows(cur, "SELECT machine_id, name, line FROM machines")}
    stops: dict[str, Record] = {}
    done: list[Record] = []
    # Down before the window and not up before it: the stop runs into the window.
    for row in _rows(
        cur,
        """SELECT machine_id, state, since, reason FROM machine_states
           WHERE state = 'down' AND since < ?""",
        [start],
    ):
        stops[row["machine_id"]] = {"machine_id": row["machine_id"], "down_at": row["since"], "reason": row["reason"]}
    for event in _events(cur, start - timedelta(days=30), end, ("machine.down", "machine.up")):
        machine_id = event["data"].get("machine_id")
        if machine_id is None:
            continue
        if event["type"] == "machine.down":
            stops.setdefault(
                machine_id,
                {"machine_id": machine_id, "down_at": event["event_time"], "reason": event["data"].get("reason")},
            )
        elif machine_id in stops and event["event_time"] >= stops[machine_id]["down_at"]:
            stop = stops.pop(machine_id)
            stop["up_at"] = event["event_time"]
            done.append(stop)
        else:  # back up from a stop no event began (the snapshot had it down): the change says since when
            before = _change(event, "machine_states").get("before") or {}
            if before.get("state") == "down" and before.get("since"):
                down_at = datetime.fromisoformat(before["since"])
                done.append(
                    {
                        "machine_id": machine_id,
                        "down_at": down_at,
                        "reason": before.get("reason"),
                        "up_at": event["event_time"],
                    }
                )
    out = []
    for stop in [*done, *stops.values()]:
        up_at = stop.get("up_at")
        if up_at is not None and up_at < start:
            continue  # over before the window began
        if stop["down_at"] >= end:
            continue
        machine = names.get(stop["machine_id"], {})
        exception = inbox.get(f"machine_down:{stop['machine_id']}")
        detail = (exception or {}).get("detail") or {}
        out.append(
            {
                "machine_id": stop["machine_id"],
                "machine_name": machine.get("name"),
                "line": machine.get("line"),
                "down_at": stop["down_at"],
                "up_at": up_at,
                "over": up_at is not None,
                "minutes": _minutes(stop["down_at"], up_at or end),
                "reason": stop.get("reason"),
                "late_lines": detail.get("late_lines"),
                "sales_lines": detail.get("sales_lines"),
                "customers": detail.get("customers"),
                "expected_minutes": detail.get("expected_minutes"),
            }
        )
    out.sort(key=lambda s: (s["down_at"], s["machine_id"]))
    return out


def _holds(cur: duckdb.DuckDBPyConnection, start: datetime, end: datetime) -> list[Record]:
    """Holds placed or released in the window, and those still active that were placed before it."""
    placed = {e["data"].get("hold_id") for e in _events(cur, start, end, ("hold.placed",))}
    released = {
        _change(e, "quality_holds").get("key"): e["event_time"] for e in _events(cur, start, end, ("hold.released",))
    }
    holds = _rows(
        cur,
        """SELECT h.hold_id, h.lot_id, l.item_id, h.reason, h.placed_at, h.placed_by, h.status
           FROM quality_holds h LEFT JOIN lots l USING (lot_id)
           WHERE h.hold_id = ANY(?) OR (h.status = 'active' AND h.placed_at < ?)
           ORDER BY h.placed_at, h.hold_id""",
        [sorted({*placed, *released} - {None}), end],
    )
    # A trace costs tens of milliseconds on a large plant: the newest holds are traced, the rest listed.
    newest = sorted(holds, key=lambda h: (h["hold_id"] in placed, h["placed_at"] or start), reverse=True)
    to_trace = {h["hold_id"] for h in newest[:MAX_TRACED_HOLDS]}
    out = []
    for hold in holds:
        traced: Record = {}
        if hold["hold_id"] in to_trace:
            try:
                traced = trace.trace_hold(cur, hold["hold_id"])
            except PlannerError:  # a hold whose lot is gone still belongs in the story
                pass
        summary = traced.get("summary") or {}
        shipped = [s for s in traced.get("shipments") or [] if s.get("status") in ("shipped", "delivered")]
        out.append(
            {
                **hold,
                "placed_in_window": hold["hold_id"] in placed,
                "traced": bool(traced),
                "released_at": released.get(hold["hold_id"]),
                "lots_reached": summary.get("lots"),
                "production_orders": summary.get("production_orders"),
                "stock_qty": summary.get("stock_qty"),
                "shipped_shipments": [s.get("shipment_id") for s in shipped],
                "customers": sorted({c.get("name") or c.get("customer_id") for c in traced.get("customers") or []}),
            }
        )
    return out


def _late_lines(
    cur: duckdb.DuckDBPyConnection,
    inbox: list[Record],
    start: datetime,
    end: datetime,
    late_before: list[Record] | None,
) -> tuple[list[Record], list[Record]]:
    """(turned late, recovered): the customer lines late at `end` that were not at `start`, and those late
    at `start` that no longer are. `late_before` is the late_order exceptions at `start` (the plant as it
    stood then); without it, a line late at `end` counts as turned late when its lateness was raised in
    the window, and none as recovered."""
    customers = {r["customer_id"]: r["name"] for r in _rows(cur, "SELECT customer_id, name FROM customers")}
    late_now = [e for e in inbox if e["kind"] == "late_order"]
    if late_before is None:
        turned = [e for e in late_now if e.get("raised_at") is not None and start <= e["raised_at"] < end]
        recovered: list[Record] = []
    else:
        before_ids = {e["exception_id"] for e in late_before}
        now_ids = {e["exception_id"] for e in late_now}
        turned = [e for e in late_now if e["exception_id"] not in before_ids]
        recovered = [e for e in late_before if e["exception_id"] not in now_ids]
    return [_line(e, customers) for e in turned], [_line(e, customers) for e in recovered]


def late_lines_at(cur: duckdb.DuckDBPyConnection, at: datetime) -> list[Record]:
    """The late_order exceptions at `at` (on a cursor of the plant as it stood then): a report's
    `late_before`."""
    return list_exceptions(cur, at=at, kinds=["late_order"])


def _line(exception: Record, customers: dict[str, str]) -> Record:
    """A late_order exception as the report lists its customer line."""
    detail = exception.get("detail") or {}
    return {
        "exception_id": exception["exception_id"],
        "line": exception["subject_id"],
        "title": exception["title"],
        "customer_id": detail.get("customer_id"),
        "customer": customers.get(str(detail.get("customer_id"))),
        "promised_date": detail.get("promised_date"),
        "eta": detail.get("eta"),
        "eta_overdue": bool(detail.get("eta_overdue")),
        "days_late": detail.get("days_late"),
        "slip_minutes": detail.get("slip_minutes"),
        "cause": detail.get("cause"),
        "raised_at": exception.get("raised_at"),
    }


def _shortages(cur: duckdb.DuckDBPyConnection, inbox: list[Record], start: datetime, end: datetime) -> list[Record]:
    """Shortages open at `end`, each with when it was found: the last event in the window that changed
    the item's stock or supply (else the window's start: it was known when the shift began), and the
    lead time that gave before the item runs short."""
    events = _events(
        cur,
        start,
        end,
        ("inventory.adjusted", "receipt.posted", "po.changed", "order.confirmed", "order.changed", "lot.consumed"),
    )
    touched: dict[str, datetime] = {}
    for event in events:
        for change in event["changes"]:
            item = (change.get("after") or change.get("before") or {}).get("item_id")
            if item is None and change.get("table") == "inventory":
                item = str(change.get("key", "")).split("/")[0] or None
            if item is not None:
                touched[item] = event["event_time"]
    out = []
    for exception in inbox:
        if exception["kind"] != "shortage":
            continue
        item_id = exception["subject_id"]
        detail = exception.get("detail") or {}
        short_at = detail.get("first_short_at") or detail.get("short_at")
        found_at = touched.get(item_id)
        out.append(
            {
                "exception_id": exception["exception_id"],
                "item_id": item_id,
                "title": exception["title"],
                "buyer": detail.get("buyer") or exception.get("owner"),
                "short_at": short_at,
                "found_at": found_at,
                "found_in_window": found_at is not None,
                "lead_hours": _hours(found_at or start, short_at),
            }
        )
    return out


def _hours(a: datetime | None, b: Any) -> float | None:
    if a is None or b is None:
        return None
    if isinstance(b, str):
        b = datetime.fromisoformat(b)
    return round((b - a).total_seconds() / 3600, 1)


def _orders(cur: duckdb.DuckDBPyConnection, start: datetime, end: datetime) -> Record:
    events = _events(cur, start, end, ("order.confirmed", "order.changed", "order.cancelled"))
    confirmed, changed, cancelled = [], [], []
    for event in events:
        for change in event["changes"]:
            if change.get("table") != "sales_orders":
                continue
            before, after = change.get("before") or {}, change.get("after") or {}
            entry = {"line": change.get("key"), "at": event["event_time"]}
            if event["type"] == "order.confirmed":
                confirmed_at = after.get("confirmed_at")
                confirmed_at = datetime.fromisoformat(confirmed_at) if confirmed_at else event["event_time"]
                visible = event["applied_at"]
                confirmed.append(
                    {
                        **entry,
                        "customer_id": after.get("customer_id"),
                        "item_id": after.get("item_id"),
                        "qty": after.get("qty"),
                        "promised_date": after.get("promised_date"),
                        "confirmed_at": confirmed_at,
                        "visible_at": visible,
                        "lag_seconds": None if visible is None else round((visible - confirmed_at).total_seconds(), 1),
                    }
                )
            elif event["type"] == "order.changed":
                changed.append({**entry, "before": before, "after": after})
            else:
                cancelled.append({**entry, "before": before})
    lags = sorted(c["lag_seconds"] for c in confirmed if c["lag_seconds"] is not None)
    return {
        "confirmed": confirmed,
        "changed": changed,
        "cancelled": cancelled,
        "lag": {
            "count": len(lags),
            "p50_seconds": lags[len(lags) // 2] if lags else None,
            "max_seconds": lags[-1] if lags else None,
        },
    }


def _actions(cur: duckdb.DuckDBPyConnection, start: datetime, end: datetime) -> list[Record]:
    found = _rows(
        cur,
        """SELECT who, acted_at, action, exception_id, detail FROM exception_actions
           WHERE acted_at >= ? AND acted_at < ? ORDER BY who, acted_at""",
        [start, end],
    )
    people: dict[str, list[Record]] = {}
    for action in found:
        people.setdefault(action.pop("who"), []).append(action)
    return [{"who": who, "count": len(done), "actions": done} for who, done in people.items()]


def _told(cur: duckdb.DuckDBPyConnection, start: datetime, end: datetime) -> list[Record]:
    from planner_tui.urls import redact_url

    try:
        found = _rows(
            cur,
            """SELECT person, exception_id, reason, subject, channel, state, created_at, delivered_at
               FROM notify_outbox WHERE created_at >= ? AND created_at < ? ORDER BY created_at, person""",
            [start, end],
        )
    except duckdb.CatalogException:
        return []
    for message in found:
        message["channel"] = redact_url(message["channel"]).split("://")[0]  # the kind of channel, not the address
    return found


def _feed(cur: duckdb.DuckDBPyConnection, start: datetime, end: datetime) -> Record:
    row = cur.execute(
        """SELECT count(*), count(*) FILTER (outcome = 'applied'), count(*) FILTER (outcome = 'rejected'),
                  count(*) FILTER (outcome = 'unknown_type'),
                  quantile_cont(epoch(applied_at) - epoch(event_time), 0.5) FILTER (outcome = 'applied'),
                  quantile_cont(epoch(applied_at) - epoch(event_time), 0.95) FILTER (outcome = 'applied'),
                  max(epoch(applied_at) - epoch(event_time)) FILTER (outcome = 'applied')
           FROM event_log WHERE coalesce(event_time, received_at) >= ? AND coalesce(event_time, received_at) < ?""",
        [start, end],
    ).fetchall()[0]
    rejections = _rows(
        cur,
        """SELECT event_id, type, coalesce(event_time, received_at) AS happened_at, reason FROM event_log
           WHERE outcome = 'rejected' AND coalesce(event_time, received_at) >= ?
             AND coalesce(event_time, received_at) < ?
           ORDER BY happened_at LIMIT 50""",
        [start, end],
    )
    times = [
        r[0]
        for r in cur.execute(
            """SELECT event_time FROM event_log WHERE event_time >= ? AND event_time < ? ORDER BY event_time""",
            [start, end],
        ).fetchall()
    ]
    edges = [start, *times, end]
    silences = [
        {"from": a, "to": b, "minutes": _minutes(a, b)}
        for a, b in zip(edges, edges[1:], strict=False)
        if (b - a) >= timedelta(minutes=SILENCE_MINUTES)
    ]
    rounded = lambda v: None if v is None else round(float(v), 3)  # noqa: E731
    return {
        "events": row[0],
        "applied": row[1],
        "rejected": row[2],
        "unknown": row[3],
        "lag_seconds": {"p50": rounded(row[4]), "p95": rounded(row[5]), "max": rounded(row[6])},
        "silences": silences,
        "rejections": rejections,
    }


def shift_report(
    cur: duckdb.DuckDBPyConnection,
    start: datetime,
    end: datetime,
    *,
    basis: str = "given",
    feed_status: object | None = None,
    late_before: list[Record] | None = None,
) -> Record:
    """The handover for [start, end) of floor time, as of `end` (see the module docstring). `late_before`:
    the late_order exceptions as the plant stood at `start`, to tell lines that turned late from those that
    recovered (see _late_lines)."""
    if end <= start:
        raise BadRequest(f"the report's window ends ({end.isoformat()}) before it starts ({start.isoformat()})")
    inbox = list_exceptions(cur, at=end, feed_status=feed_status, include_snoozed=True)
    by_id = {e["exception_id"]: e for e in inbox}
    attention = _attention(inbox, _last_notes(cur, end))
    turned_late, recovered = _late_lines(cur, inbox, start, end, late_before)
    return {
        "window": {"from": start, "to": end, "basis": basis, "hours": round((end - start).total_seconds() / 3600, 2)},
        "attention": attention,
        "stops": _stops(cur, start, end, by_id),
        "holds": _holds(cur, start, end),
        "late_lines": turned_late,
        "recovered_lines": recovered,
        "shortages": _shortages(cur, inbox, start, end),
        "orders": _orders(cur, start, end),
        "actions": _actions(cur, start, end),
        "told": _told(cur, start, end),
        "feed": _feed(cur, start, end),
    }


def window(
    cur: duckdb.DuckDBPyConnection, *, at: datetime, start: datetime | None = None, end: datetime | None = None
) -> Record:
    """{start, end, basis} of `planner-tui report shift`: what was given, a missing start being the start of
    the shift the end falls in, a missing end `at` (or the end of that shift when it ended before `at`)."""
    basis = "given"
    if start is None:
        anchor = end if end is not None else at
        shift = shift_window(cur, anchor - timedelta(microseconds=1))
        start, basis = shift["start"], shift["basis"]
        if end is None:
            end = min(shift["end"], at)
    if end is None:
        end = at
    if end <= start:
        raise BadRequest(
            f"the report's window ends ({end.isoformat(timespec='minutes')}) before it starts "
            f"({start.isoformat(timespec='minutes')}): give --from before --to (and before --at)"
        )
    return {"start": start, "end": end, "basis": basis}
