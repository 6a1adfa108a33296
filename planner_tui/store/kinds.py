"""Exception kinds as the store knows them: each kind's name and what its subject id names.

An exception id is `KIND:SUBJECT` (`machine_down:M-WELD-01`). Triage (store/triage.py) must accept or
refuse an id, and say what an unknown subject is, without the engine (a layer below it); this module is
all it needs: `EXCEPTION_KINDS`, one line per kind, and the `Subject` each kind names. Everything else
about a kind (how it is detected, its words, severity, rank, history) is its engine module,
`planner_tui/engine/exceptions/kinds/<name>.py`, which the engine loads for every name declared here.

A new kind about something already here is one line in EXCEPTION_KINDS; a kind about something new (a
shipment, a customer) adds its Subject too. The declaration order is the order kinds are listed in
(help, errors) and detected in; the inbox orders by severity and the engine kind's rank.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import duckdb

from planner_tui.errors import BadRequest

_LINE_RE = re.compile(r"^(?P<so>.+)/(?P<line>\d+)$")


def split_order_line(subject: str) -> tuple[str, int]:
    """("SO-1001", 2) of "SO-1001/2", or BadRequest."""
    match = _LINE_RE.match(subject)
    if not match:
        raise BadRequest(f"malformed sales order line {subject!r}: expected SO/LINE, e.g. SO-1001/2")
    return match["so"], int(match["line"])


@dataclass(frozen=True)
class Subject:
    """What an exception is about: a row of a contract table, or (a feed) something the store does not list."""

    name: str  # an exception's `subject_kind`: "machine", "sales_order_line"
    words: str  # said in errors: "unknown quality hold 'H9'"
    example: str  # a subject id of the right form, for error messages
    record: str | None  # the kind of record `find` lists it as, and the console opens (None: not a record)
    exists_sql: str | None = None  # a row if the plant has it (parameters: `key(subject)`); None: not checked
    owner_sql: str | None = None  # its default owner, one value (parameters: `key(subject)`); None: nobody
    owner_role: str | None = None  # what that owner is to the plant ("machine supervisor")
    people_sql: str | None = None  # everyone in that role, as one column named `person`
    form: str | None = None  # how its id is written when it has parts ("SO/LINE"); None: any text
    parse: Callable[[str], list[object]] | None = None  # the query parameters of an id; None: [id]

    def key(self, subject: str) -> list[object]:
        """The parameters naming the subject in `exists_sql` and `owner_sql` (BadRequest if malformed)."""
        return self.parse(subject) if self.parse is not None else [subject]

    def well_formed(self, subject: str) -> bool:
        try:
            self.key(subject)
        except BadRequest:
            return False
        return True

    def exists(self, cur: duckdb.DuckDBPyConnection, subject: str) -> bool:
        if self.exists_sql is None:
            return True  # e.g. a feed, named by its location: there is no table of feeds to check against
        return bool(cur.execute(self.exists_sql, self.key(subject)).fetchall())

    def owner(self, cur: duckdb.DuckDBPyConnection, subject: str) -> str | None:
        if self.owner_sql is None:
            return None
        found = cur.execute(self.owner_sql, self.key(subject)).fetchall()
        return found[0][0] if found else None


# The subjects, in the order their owners' roles are listed (`planner-tui owners`).
MACHINE = Subject(
    "machine",
    "machine",
    "M-WELD-01",
    "machine",
    exists_sql="SELECT 1 FROM machines WHERE machine_id = ?",
    owner_sql="SELECT supervisor FROM machines WHERE machine_id = ?",
    owner_role="machine supervisor",
    people_sql="SELECT supervisor AS person FROM machines",
)
SALES_ORDER_LINE = Subject(
    "sales_order_line",
    "sales order line",
    "SO-1001/2",
    "sales_order",
    exists_sql="SELECT 1 FROM sales_orders WHERE sales_order_id = ? AND line_no = ?",
    owner_sql="""SELECT c.account_manager FROM sales_orders so JOIN customers c USING (customer_id)
                 WHERE so.sales_order_id = ? AND so.line_no = ?""",
    owner_role="account manager",
    people_sql="SELECT account_manager AS person FROM customers",
    form="SO/LINE",
    parse=lambda subject: list(split_order_line(subject)),
)
ITEM = Subject(
    "item",
    "item",
    "P-200",
    "item",
    exists_sql="SELECT 1 FROM items WHERE item_id = ?",
    owner_sql="SELECT buyer FROM items WHERE item_id = ?",
    owner_role="buyer",
    people_sql="SELECT buyer AS person FROM items",
)
HOLD = Subject(
    "hold",
    "quality hold",
    "QH-2611-007",
    "hold",
    exists_sql="SELECT 1 FROM quality_holds WHERE hold_id = ?",
    owner_sql="SELECT placed_by FROM quality_holds WHERE hold_id = ?",
    owner_role="hold placer",
    people_sql="SELECT placed_by AS person FROM quality_holds",
)
RESOURCE = Subject(
    "resource",
    "resource",
    "OP-ANNA",
    "resource",
    exists_sql="SELECT 1 FROM resources WHERE resource_id = ?",
    owner_sql="SELECT supervisor FROM resources WHERE resource_id = ?",
    owner_role="resource supervisor",
    people_sql="SELECT supervisor AS person FROM resources",
)
FEED = Subject("feed", "feed", "http://127.0.0.1:8080/events", None)
# A person the plant server sends messages to (a key of the settings' [people]): not a plant record.
RECIPIENT = Subject("recipient", "recipient", "ben.okafor", None)

SUBJECTS: tuple[Subject, ...] = (MACHINE, SALES_ORDER_LINE, ITEM, HOLD, RESOURCE, FEED, RECIPIENT)

# Every exception kind: its name -> what its subject id names. One line per kind.
EXCEPTION_KINDS: dict[str, Subject] = {
    "machine_down": MACHINE,
    "resource_unavailable": RESOURCE,
    "quality_hold": HOLD,
    "shortage": ITEM,
    "late_order": SALES_ORDER_LINE,
    "no_supply": SALES_ORDER_LINE,
    "feed_stale": FEED,
    "notification_failed": RECIPIENT,
}
