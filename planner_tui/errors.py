"""User-facing errors. Anything raised as a PlannerError is printed as a message, never a traceback."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class PlannerError(Exception):
    """An error the user can act on; its message is shown as it is."""

    exit_code = 1


class SettingEntryError(ValueError):
    """A table in the settings file (routing, credentials, mqtt) with an entry that cannot be used: `key` is
    its place inside the table (`people.ben.notify[1]`, `[2].bearer`), `value` what was there, `why` the
    reason. settings.py turns it into one line naming the file, the key and the value."""

    def __init__(self, key: str, why: str, value: Any):
        super().__init__(f"{key}: {why}")
        self.key, self.why, self.value = key, why, value


class BadRequest(PlannerError):
    """A request the engine cannot answer as asked: a malformed timestamp, a negative downtime..."""

    exit_code = 2


class NotFound(PlannerError):
    """An id that does not exist in the store (an unknown machine, lot, order...)."""

    exit_code = 3


class StoreLocked(PlannerError):
    """The database file is opened by another process (DuckDB allows one writer per file)."""

    exit_code = 4


class CycleError(PlannerError):
    """The plant data has a cycle where it must be a tree or DAG (feeding links, genealogy, BOM)."""

    exit_code = 5


@dataclass(frozen=True)
class Problem:
    """One problem found in a snapshot: where it is and what is wrong."""

    file: str
    message: str
    column: str | None = None
    row: int | None = None  # 1-based data row (the header is not counted)
    value: str | None = None

    def __str__(self) -> str:
        where = self.file
        if self.row is not None:
            where += f", row {self.row}"
        if self.column is not None:
            where += f", column {self.column}"
        text = f"{where}: {self.message}"
        if self.value is not None:
            text += f" (value {self.value!r})"
        return text


class SnapshotError(PlannerError):
    """A snapshot failed validation; every problem found is reported together."""

    exit_code = 6

    def __init__(self, problems: list[Problem], more: int = 0):
        self.problems = problems
        self.more = more  # problems found but not listed (the list is capped)
        lines = [f"snapshot rejected: {len(problems) + more} problem(s); the database was not changed"]
        lines += [f"  - {p}" for p in problems]
        if more:
            lines.append(f"  ... and {more} more")
        super().__init__("\n".join(lines))


class NotAuthenticated(PlannerError):
    """The plant server does not know who is asking: no token, or an unknown or revoked one (HTTP 401)."""

    exit_code = 9


class NotAllowed(PlannerError):
    """The plant server knows who is asking, and their role may not do this (HTTP 403)."""

    exit_code = 10
