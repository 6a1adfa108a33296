"""What every exception kind is made of (`ExceptionKind`), what one inbox computation shares (`Context`),
and the helpers kinds build their rows and words with.

A kind is one module in `kinds/` defining `KIND = ExceptionKind(...)`; its name and subject are declared
in planner_tui/store/kinds.py (the store validates ids with them). `registry.py` loads every declared
kind; `inbox.py` lists, sorts and merges triage; `history.py` finds a subject's events.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import duckdb

from planner_tui.engine.impact import reschedule
from planner_tui.engine.shortages import shortages
from planner_tui.store.events import types_raising
from planner_tui.store.kinds import EXCEPTION_KINDS, Subject
from planner_tui.timeutil import as_datetime, parse_timestamp

SEVERITIES = ("critical", "high", "medium", "low")
SEVERITY_RANK = {s: i for i, s in enumerate(SEVERITIES)}

Row = dict[str, Any]  # one exception, exactly as `planner-tui exceptions --json` prints it


class Context:
    """What one inbox computation shares: the cursor, the clock, the feeds followed, and the plant-wide
    answers (the whole-plant reschedule, the material projection), each computed once, when first asked."""

    def __init__(self, cur: duckdb.DuckDBPyConnection, at: datetime, feed_status: object | None = None):
        self.cur = cur
        self.at = at
        self.feed_status = feed_status  # a FeedStatus, several, or None (the CLI follows no feed)
        self._reschedule: dict | None = None
        self._shortages: dict | None = None

    def reschedule(self) -> dict:
        if self._reschedule is None:
            self._reschedule = reschedule(self.cur, at=self.at)
        return self._reschedule

    def shortages(self) -> dict:
        if self._shortages is None:
            self._shortages = shortages(self.cur, at=self.at)
        return self._shortages


Detect = Callable[[Context, "str | None"], list[Row]]
EventsAbout = Callable[[str], tuple[str, list]]


@dataclass(frozen=True)
class ExceptionKind:
    """One kind of exception: everything the inbox, its history and the UIs need to know about it."""

    name: str  # the id's prefix: "machine_down" (declared, with its subject, in store/kinds.py)
    words: str  # the kind in a sentence: "machine stop" ("M1: machine stop, cleared: ...")
    rank: int  # among equals (severity, cleared, age): lower first; causes before their consequences
    raised_while: str  # when it is raised, one line for people (`planner-tui exception kinds`)
    severities: str  # how its severity is chosen, one line for people
    # Every exception of the kind as of ctx.at, or only the one about subject `only` (None: all), as rows
    # made with `exception_row`. PlannerError (a data cycle...) leaves the kind out of the inbox, said.
    detect: Detect
    # Why it is no longer raised, for an exception still in triage: "machine back up (running) since 10:42".
    cleared_note: Callable[[Context, str], str]
    link: str | None = None  # what opening the subject shows, for the UIs: "impact of machine"
    # The history: an SQL condition on event_log matching its subject's events (which event types are
    # about it is said once, by each event type's `raises`: see `event_types`).
    events_about: EventsAbout | None = None
    event_keys: tuple[str, ...] = ()  # event data fields naming the subject (left out of the summaries)
    # Its raised_at is when the occurrence truly began (not an estimate), so a raise after a resolve is a
    # new occurrence under the same id, open again.
    true_start: bool = False
    # Who owns one that has cleared (a raised one has the owner `detect` gave it). None: the subject's
    # owner as store/kinds.py says (the machine's supervisor, the item's buyer...).
    default_owner: Callable[[duckdb.DuckDBPyConnection, str], str | None] | None = None
    # Which occurrence a row is (a resolve ends that occurrence only: a later one is a new exception under
    # the same id). None: when it began (`raised_at`), right for kinds whose start is recorded.
    occurrence: Callable[[Row], str] | None = None
    # When occurrences first detected now most likely began (e.g. the latest event about the subject),
    # set as their raised_at; None: as `detect` says. Called once per question with those rows only.
    began: Callable[[Context, list[Row]], None] | None = None

    def __post_init__(self) -> None:
        if self.name not in EXCEPTION_KINDS:
            raise ValueError(
                f"exception kind {self.name!r} is not declared in planner_tui/store/kinds.py "
                "(EXCEPTION_KINDS): add it there with its subject"
            )

    @property
    def event_types(self) -> tuple[str, ...]:
        """The event types that raise or clear it, as the event type registry declares them."""
        return types_raising(self.name)

    @property
    def subject(self) -> Subject:
        return EXCEPTION_KINDS[self.name]

    def occurrence_of(self, row: Row) -> str:
        if self.occurrence is not None:
            return self.occurrence(row)
        raised = as_datetime(row.get("raised_at"))
        return raised.isoformat(timespec="seconds") if raised is not None else "-"

    def owner_of(self, cur: duckdb.DuckDBPyConnection, subject_id: str) -> str | None:
        if self.default_owner is not None:
            return self.default_owner(cur, subject_id)
        return self.subject.owner(cur, subject_id)

    def describe(self) -> dict[str, Any]:
        """The kind as plain data (`planner-tui exception kinds --json`, PlantData.exception_kinds)."""
        subject = self.subject
        return {
            "kind": self.name,
            "words": self.words,
            "rank": self.rank,
            "raised_while": self.raised_while,
            "severities": self.severities,
            "subject_kind": subject.name,
            "subject_words": subject.words,
            "subject_record": subject.record,
            "example": f"{self.name}:{subject.example}",
            "link": self.link,
            "owner_role": subject.owner_role,
            "event_types": list(self.event_types),
            "true_start": self.true_start,
        }


# ------------------------------------------------------------------------------------------- rows


def age_in_minutes(raised_at: datetime | None, at: datetime) -> int | None:
    return None if raised_at is None else max(0, int((at - raised_at).total_seconds() // 60))


def exception_row(
    kind: str,
    subject_id: str,
    *,
    severity: str,
    title: str,
    raised_at: datetime | None,
    owner: str | None,
    detail: dict,
    at: datetime,
) -> Row:
    """One exception as the inbox lists it, open and untriaged (the inbox merges triage in)."""
    raised_at = as_datetime(raised_at)
    age = age_in_minutes(raised_at, at)
    return {
        "exception_id": f"{kind}:{subject_id}",
        "kind": kind,
        "severity": severity,
        "title": title,
        "subject_kind": EXCEPTION_KINDS[kind].name,
        "subject_id": subject_id,
        "raised_at": raised_at,
        "age_minutes": age,
        "first_detected_at": None,  # the inbox fills it: when this occurrence was first detected
        "occurrence": None,
        "owner": owner,
        "assignee": None,
        "status": "open",
        "snoozed_until": None,
        "cause_cleared": False,
        "cleared_note": None,
        "detail": detail,
        "last_action": None,
    }


# ------------------------------------------------------------------------------------------- events


def event_field(name: str, column: str = "data") -> str:
    """SQL for a field of an event_log row's data, whether `data` holds the whole CloudEvent (fields
    under `$.data`) or only its data."""
    return f"coalesce(json_extract_string({column}, '$.data.{name}'), json_extract_string({column}, '$.{name}'))"


def events_naming(name: str) -> EventsAbout:
    """`events_about` for a subject its events name in one field: machine_id = ?."""
    return lambda subject: (f"{event_field(name)} = ?", [subject])


def last_event_time(
    cur: duckdb.DuckDBPyConnection, kind: ExceptionKind, subject: str, types: tuple[str, ...]
) -> datetime | None:
    """When the latest event of `types` about the subject happened (None: none logged)."""
    if kind.events_about is None:
        return None
    sql, params = kind.events_about(subject)
    row = first(
        cur.execute(
            f"SELECT max(coalesce(event_time, received_at)) FROM event_log WHERE list_contains(?, type) AND {sql}",
            [list(types), *params],
        )
    )
    return row[0] if row else None


# ------------------------------------------------------------------------------------------- words


def first(result: Any) -> tuple | None:
    """The first row of a result, read to its end (DuckDB keeps a half-read result open on the cursor,
    which blocks some later calls on it)."""
    found = result.fetchall()
    return found[0] if found else None


def plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n} {word if n == 1 else (many or word + 's')}"


def as_date(value: object) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return parse_timestamp(str(value)).date()


def clock(value: datetime | None, at: datetime) -> str:
    """A time as a planner says it: 10:42 today, else with its date."""
    if value is None:
        return "?"
    return value.strftime("%H:%M") if value.date() == at.date() else value.strftime("%Y-%m-%d %H:%M")


def day(value: object, at: datetime) -> str:
    """A day as short as it can be read: 11-24 this year, else 2027-01-04."""
    found = as_date(value)
    if found is None:
        return "?"
    return found.strftime("%m-%d") if found.year == at.year else found.isoformat()


def qty(value: object) -> str:
    return f"{float(value):g}" if value is not None else "?"  # type: ignore[arg-type]
