"""Triage state of exceptions: acknowledge, assign, note, snooze, resolve, reopen.

Triage lives in planner_tui's own tables (`exception_triage`, `exception_actions`), keyed by the stable
exception id the engine gives each exception (`machine_down:M-WELD-01`, `late_order:SO-1001/2`...), so it
survives snapshot reloads and restarts. Every action appends one row to `exception_actions` (who, when,
what) and updates the exception's current state in `exception_triage`, in one transaction. Which kinds
exist and what their subject ids name (to refuse a malformed or unknown id) is store/kinds.py.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import duckdb

from planner_tui.errors import BadRequest, NotFound
from planner_tui.present import current_user
from planner_tui.store.db import Store
from planner_tui.store.kinds import EXCEPTION_KINDS, SUBJECTS
from planner_tui.timeutil import as_datetime, iso, parse_timestamp, utcnow

STATUSES = ("open", "acknowledged", "snoozed", "resolved")
ACTIONS = ("acknowledge", "assign", "note", "snooze", "resolve", "reopen")

MAX_TEXT = 2000  # a note is a sentence or two, not a document

_ID_RE = re.compile(r"^(?P<kind>[a-z_]+):(?P<subject>\S(?:.*\S)?)$")
_RELATIVE_RE = re.compile(r"^\+?\s*(?P<n>\d+(?:\.\d+)?)\s*(?P<unit>m|min|mins|minutes?|h|hours?|d|days?)$", re.I)


# ---------------------------------------------------------------------------------------------- ids


def _first(result) -> tuple | None:
    """The first row of a result, read to its end (DuckDB keeps a half-read result open on the cursor,
    which blocks some later calls on it)."""
    rows = result.fetchall()
    return rows[0] if rows else None


def parse_exception_id(exception_id: str) -> tuple[str, str]:
    """(kind, subject id) of an exception id, or BadRequest naming the expected forms."""
    text = (exception_id or "").strip()
    match = _ID_RE.match(text)
    if not match or match["kind"] not in EXCEPTION_KINDS:
        raise BadRequest(
            f"malformed exception id {exception_id!r}: expected KIND:SUBJECT with KIND one of "
            f"{', '.join(EXCEPTION_KINDS)} (e.g. {_examples()})"
        )
    kind, subject = match["kind"], match["subject"]
    about = EXCEPTION_KINDS[kind]
    if not about.well_formed(subject):
        raise BadRequest(
            f"malformed exception id {exception_id!r}: a {kind} names a {about.words} as {about.form} "
            f"(e.g. {kind}:{about.example})"
        )
    return kind, subject


def _examples() -> str:
    """An id of the first kind, and of the first whose subject has parts: machine_down:M-WELD-01, ..."""
    kinds = list(EXCEPTION_KINDS.items())
    chosen = kinds[:1] + [next((k for k in kinds if k[1].form), kinds[0])]
    return ", ".join(dict.fromkeys(f"{kind}:{about.example}" for kind, about in chosen))


def check_exception_id(cur: duckdb.DuckDBPyConnection, exception_id: str) -> str:
    """The normalised id, if it is well formed and names something this store knows.

    An id whose subject has gone (e.g. a snapshot reload dropped the order) is still accepted when it
    already has triage, so a planner can finish what they started.
    """
    exception_id = (exception_id or "").strip()
    kind, subject = parse_exception_id(exception_id)
    about = EXCEPTION_KINDS[kind]
    if about.exists(cur, subject):
        return exception_id
    if _first(cur.execute("SELECT 1 FROM exception_triage WHERE exception_id = ?", [exception_id])):
        return exception_id
    raise NotFound(f"no such exception {exception_id!r}: unknown {about.words} {subject!r}")


# --------------------------------------------------------------------------------------------- who/when


def _who(who: str | None) -> str:
    if who is None:
        return current_user()
    who = str(who).strip()
    if not who:
        raise BadRequest("the person acting ('who') must not be empty")
    return who


def _at(at: datetime | str | None) -> datetime:
    return utcnow() if at is None else parse_timestamp(at, what="action time")


def parse_until(text: str | datetime, *, now: datetime) -> datetime:
    """A snooze end: an ISO 8601 time, or a duration from now such as `30m`, `+2h`, `1d`."""
    if isinstance(text, datetime):
        return parse_timestamp(text)
    match = _RELATIVE_RE.match(str(text).strip())
    if match:
        n = float(match["n"])
        unit = match["unit"][0].lower()
        try:
            delta = {"m": timedelta(minutes=n), "h": timedelta(hours=n), "d": timedelta(days=n)}[unit]
            return (now + delta).replace(microsecond=0)
        except OverflowError:  # past year 9999
            raise BadRequest(f"snooze time {text!r} is too far ahead") from None
    return parse_timestamp(text, what="snooze time")


# ----------------------------------------------------------------------------------------------- writes


def _state_row(cur: duckdb.DuckDBPyConnection, exception_id: str) -> dict | None:
    row = _first(
        cur.execute(
            "SELECT status, assignee, snoozed_until, occurrence FROM exception_triage WHERE exception_id = ?",
            [exception_id],
        )
    )
    if row is None:
        return None
    return {"status": row[0], "assignee": row[1], "snoozed_until": row[2], "occurrence": row[3]}


def occurrence_sql(cur: duckdb.DuckDBPyConnection, table: str, alias: str) -> str:
    """SQL for `alias.occurrence`, or NULL on a database from before occurrences opened read-only (a
    reader cannot add the column; the next writer does: store/schema.py)."""
    found = cur.execute(
        "SELECT 1 FROM duckdb_columns() WHERE table_name = ? AND column_name = 'occurrence'", [table]
    ).fetchall()
    return f"{alias}.occurrence" if found else "NULL"


def is_new_occurrence(state: dict | None, occurrence: str | None) -> bool:
    """Whether `occurrence` is a later one than the occurrence a resolve ended: that triage was about an
    earlier occurrence, and this one starts afresh (open, nobody on it)."""
    return bool(
        state
        and state["status"] == "resolved"
        and occurrence is not None
        and state.get("occurrence") is not None
        and state["occurrence"] != occurrence
    )


def _act(
    store: Store,
    exception_id: str,
    action: str,
    *,
    who: str | None,
    at: datetime | str | None,
    detail: str | None = None,
    status: str | None = None,  # None keeps the current status
    assignee: object = ...,  # ... keeps the current assignee
    snoozed_until: object = ...,  # ... keeps the current snooze end
    guard=None,  # called with the current state (or None) before anything changes
    occurrence: str | None = None,  # which occurrence it is about (ExceptionKind.occurrence); None: unknown
) -> dict:
    who = _who(who)
    at = _at(at)
    with store.write_lock:
        cur = store.cursor()
        try:
            exception_id = check_exception_id(cur, exception_id)
            return _act_in(
                cur,
                exception_id,
                action,
                who=who,
                at=at,
                detail=detail,
                status=status,
                assignee=assignee,
                snoozed_until=snoozed_until,
                guard=guard,
                occurrence=occurrence,
            )
        finally:
            cur.close()


def _act_in(
    cur: duckdb.DuckDBPyConnection,
    exception_id: str,
    action: str,
    *,
    who: str,
    at: datetime,
    detail,
    status,
    assignee,
    snoozed_until,
    guard,
    occurrence: str | None,
) -> dict:
    cur.execute("BEGIN TRANSACTION")
    try:
        current = _state_row(cur, exception_id)
        if is_new_occurrence(current, occurrence):
            current = None  # the resolved triage was an earlier occurrence's: this one starts afresh
        if guard is not None:
            guard(current, at)
        base = current or {"status": "open", "assignee": None, "snoozed_until": None}
        new_status = base["status"] if status is None else status
        new_assignee = base["assignee"] if assignee is ... else assignee
        new_until = base["snoozed_until"] if snoozed_until is ... else snoozed_until
        kept_occurrence = occurrence if occurrence is not None else (current or {}).get("occurrence")
        cur.execute(
            "INSERT INTO exception_actions (exception_id, acted_at, who, action, detail, occurrence) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [exception_id, at, who, action, detail, occurrence],
        )
        cur.execute(
            """
            INSERT INTO exception_triage (exception_id, status, assignee, snoozed_until, updated_at, updated_by,
                                          occurrence)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (exception_id) DO UPDATE SET
                status = excluded.status, assignee = excluded.assignee,
                snoozed_until = excluded.snoozed_until,
                updated_at = excluded.updated_at, updated_by = excluded.updated_by,
                occurrence = excluded.occurrence
            """,
            [exception_id, new_status, new_assignee, new_until, at, who, kept_occurrence],
        )
        cur.execute("COMMIT")
    except BaseException:
        cur.execute("ROLLBACK")
        raise
    return triage_state(cur, [exception_id])[exception_id]


def _check_length(text: str, what: str) -> None:
    """A note's or a reason's text: a sentence or two (MAX_TEXT), not a document."""
    if len(text) > MAX_TEXT:
        raise BadRequest(f"{what} is limited to {MAX_TEXT} characters (this one has {len(text)})")


def _not_resolved(verb: str):
    def guard(current: dict | None, at: datetime) -> None:
        if current and current["status"] == "resolved":
            raise BadRequest(f"cannot {verb} a resolved exception: reopen it first")

    return guard


def acknowledge(
    store: Store,
    exception_id: str,
    *,
    who: str | None = None,
    at: datetime | None = None,
    occurrence: str | None = None,
) -> dict:
    """Someone has seen it and is on it. Ends a snooze."""
    return _act(
        store,
        exception_id,
        "acknowledge",
        who=who,
        at=at,
        status="acknowledged",
        snoozed_until=None,
        guard=_not_resolved("acknowledge"),
        occurrence=occurrence,
    )


def assign(
    store: Store,
    exception_id: str,
    person: str,
    *,
    who: str | None = None,
    at: datetime | None = None,
    occurrence: str | None = None,
) -> dict:
    """Give it to a person (usually one of `owners`). The status does not change."""
    person = (person or "").strip()
    if not person:
        raise BadRequest("assign to whom? the person must not be empty")
    if len(person) > 200:
        raise BadRequest("the person's name is too long (200 characters at most)")
    return _act(store, exception_id, "assign", who=who, at=at, detail=person, assignee=person, occurrence=occurrence)


def add_note(
    store: Store,
    exception_id: str,
    text: str,
    *,
    who: str | None = None,
    at: datetime | None = None,
    occurrence: str | None = None,
) -> dict:
    text = (text or "").strip()
    if not text:
        raise BadRequest("a note must not be empty")
    _check_length(text, "a note")
    return _act(store, exception_id, "note", who=who, at=at, detail=text, occurrence=occurrence)


def snooze(
    store: Store,
    exception_id: str,
    until: datetime | str,
    *,
    who: str | None = None,
    at: datetime | None = None,
    occurrence: str | None = None,
) -> dict:
    """Hide it until `until` (a time, or a duration like `2h`); it comes back open after that."""
    now = _at(at)
    until = parse_until(until, now=now)
    if until <= now:
        raise BadRequest(f"cannot snooze until {iso(until)}: that is not after now ({iso(now)})")
    return _act(
        store,
        exception_id,
        "snooze",
        who=who,
        at=now,
        detail=iso(until),
        status="snoozed",
        snoozed_until=until,
        guard=_not_resolved("snooze"),
        occurrence=occurrence,
    )


def resolve(
    store: Store,
    exception_id: str,
    *,
    who: str | None = None,
    at: datetime | None = None,
    reason: str | None = None,
    occurrence: str | None = None,
) -> dict:
    """Done: it leaves the inbox. `reason` (optional) is kept in its history, as a note's text is."""
    reason = (reason or "").strip() or None
    if reason is not None:
        _check_length(reason, "a reason")

    def guard(current: dict | None, at: datetime) -> None:
        if current and current["status"] == "resolved":
            raise BadRequest(f"{exception_id} is already resolved")

    return _act(
        store,
        exception_id,
        "resolve",
        who=who,
        at=at,
        detail=reason,
        status="resolved",
        snoozed_until=None,
        guard=guard,
        occurrence=occurrence,
    )


def reopen(
    store: Store,
    exception_id: str,
    *,
    who: str | None = None,
    at: datetime | None = None,
    occurrence: str | None = None,
) -> dict:
    """Back to open: undoes a resolve, an acknowledge or a snooze. The assignee stays."""

    def guard(current: dict | None, at: datetime) -> None:
        if current is None or effective_status(current, at) == "open":
            raise BadRequest(f"{exception_id} is already open")

    return _act(
        store,
        exception_id,
        "reopen",
        who=who,
        at=at,
        status="open",
        snoozed_until=None,
        guard=guard,
        occurrence=occurrence,
    )


# What each action does to the state, as the functions above write it: (status, assignee, snoozed_until),
# None meaning "kept"; the snooze's end and the assignee are in the action's detail. `replay_actions`
# rebuilds exception_triage from exception_actions with it (the plant as it was: store/past.py).
_KEEP = object()
ACTION_EFFECTS: dict[str, tuple[str | None, object, object]] = {
    "acknowledge": ("acknowledged", _KEEP, None),
    "assign": (None, "detail", _KEEP),
    "note": (None, _KEEP, _KEEP),
    "snooze": ("snoozed", _KEEP, "detail"),
    "resolve": ("resolved", _KEEP, None),
    "reopen": ("open", _KEEP, None),
}


def replay_actions(actions: list[tuple]) -> dict[str, dict]:
    """exception id -> {status, assignee, snoozed_until, updated_at, updated_by, occurrence} after these
    actions (exception_id, acted_at, who, action, detail, occurrence), in the order they were taken."""
    states: dict[str, dict] = {}
    for exception_id, acted_at, who, action, detail, occurrence in actions:
        status, assignee, until = ACTION_EFFECTS.get(action, (None, _KEEP, _KEEP))
        blank = {"status": "open", "assignee": None, "snoozed_until": None, "occurrence": None}
        if is_new_occurrence(states.get(exception_id), occurrence):
            states[exception_id] = blank  # as _act_in does: an earlier occurrence's resolve
        state = states.setdefault(exception_id, blank)
        if occurrence is not None:
            state["occurrence"] = occurrence
        if status is not None:
            state["status"] = status
        if assignee is not _KEEP:
            state["assignee"] = detail
        if until is not _KEEP:
            state["snoozed_until"] = as_datetime(detail) if until == "detail" else None
        state["updated_at"], state["updated_by"] = acted_at, who
    return states


# ------------------------------------------------------------------------------------------------ reads


def effective_status(state: dict | None, at: datetime) -> str:
    """The status as of `at`: a snooze that has run out is open again."""
    if not state:
        return "open"
    if state["status"] == "snoozed" and (state.get("snoozed_until") is None or state["snoozed_until"] <= at):
        return "open"
    return state["status"]


def triage_state(cur: duckdb.DuckDBPyConnection, exception_ids: list[str] | None = None) -> dict[str, dict]:
    """exception id -> {status, assignee, snoozed_until, updated_at, updated_by, last_action}.

    Only exceptions someone has touched appear; `status` is as stored (see `effective_status`).
    """
    sql = """
        WITH last AS (
            SELECT exception_id,
                   arg_max(struct_pack(acted_at := acted_at, who := who, action := action, detail := detail),
                           (acted_at, rowid)) AS a
            FROM exception_actions
            {where_actions}
            GROUP BY exception_id
        )
        SELECT t.exception_id, t.status, t.assignee, t.snoozed_until, t.updated_at, t.updated_by,
               last.a.acted_at, last.a.who, last.a.action, last.a.detail, {occurrence}
        FROM exception_triage t LEFT JOIN last USING (exception_id)
        {where_triage}
    """
    params: list = []
    occurrence = occurrence_sql(cur, "exception_triage", "t")
    if exception_ids is None:
        sql = sql.format(where_actions="", where_triage="", occurrence=occurrence)
    else:
        ids = list(exception_ids)
        if not ids:
            return {}
        sql = sql.format(
            where_actions="WHERE list_contains(?, exception_id)",
            where_triage="WHERE list_contains(?, t.exception_id)",
            occurrence=occurrence,
        )
        params = [ids, ids]
    result: dict[str, dict] = {}
    for row in cur.execute(sql, params).fetchall():
        last_action = None
        if row[8] is not None:
            last_action = {"at": row[6], "who": row[7], "action": row[8], "detail": row[9]}
        result[row[0]] = {
            "status": row[1],
            "assignee": row[2],
            "snoozed_until": row[3],
            "updated_at": row[4],
            "updated_by": row[5],
            "last_action": last_action,
            "occurrence": row[10],
        }
    return result


def history(cur: duckdb.DuckDBPyConnection, exception_id: str) -> list[dict]:
    """Every triage action on the exception, oldest first: {at, who, action, detail, occurrence}."""
    parse_exception_id(exception_id)
    rows = cur.execute(
        f"""
        SELECT acted_at, who, action, detail, {occurrence_sql(cur, "exception_actions", "a")}
        FROM exception_actions a
        WHERE exception_id = ? ORDER BY acted_at, rowid
        """,
        [exception_id.strip()],
    ).fetchall()
    return [{"at": r[0], "who": r[1], "action": r[2], "detail": r[3], "occurrence": r[4]} for r in rows]


def owners(cur: duckdb.DuckDBPyConnection) -> list[dict]:
    """The plant's people an exception can go to: {person, roles}, sorted by name. The roles are the
    owners of each kind of subject (store/kinds.py), then whoever has been assigned one."""
    owning = [s for s in SUBJECTS if s.people_sql and s.owner_role]
    role_order = [str(s.owner_role) for s in owning] + ["assignee"]
    union = " UNION ".join(f"SELECT DISTINCT person, ? AS role FROM ({s.people_sql})" for s in owning)
    rows = cur.execute(
        f"""
        SELECT person, role FROM (
            {union}
            UNION SELECT DISTINCT assignee, 'assignee' FROM exception_triage
        ) WHERE person IS NOT NULL AND trim(person) <> ''
        """,
        [s.owner_role for s in owning],
    ).fetchall()
    people: dict[str, set[str]] = {}
    for person, role in rows:
        people.setdefault(person.strip(), set()).add(role)
    return [
        {"person": person, "roles": [r for r in role_order if r in roles]}
        for person, roles in sorted(people.items(), key=lambda kv: kv[0].lower())
    ]
