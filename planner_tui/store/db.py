"""Opening a planner_tui database: one writer per file, clear messages when it is in use."""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path

import duckdb

from planner_tui.errors import PlannerError, StoreLocked
from planner_tui.store.schema import ensure_schema

_LOCK_RE = re.compile(r"Conflicting lock is held in (?P<proc>.*?) \(PID (?P<pid>\d+)\)")


def _connect(path: str, read_only: bool) -> duckdb.DuckDBPyConnection:
    config = {
        # Never stall on an extension download: this runs on plant networks and over SSH.
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": True,
    }
    try:
        con = duckdb.connect(path, read_only=read_only, config=config)
    except duckdb.IOException as exc:
        message = str(exc)
        match = _LOCK_RE.search(message)
        if match:
            raise StoreLocked(
                f"{path} is in use by another process: {match['proc']} (PID {match['pid']}). "
                "planner_tui allows one writer per database; close that process (or use its console), "
                "or point this one at another --db file."
            ) from None
        raise PlannerError(f"cannot open database {path}: {message}") from None
    except duckdb.Error as exc:
        raise PlannerError(f"cannot open database {path}: {exc}") from None
    # Timestamps in the store are naive UTC; make DuckDB read offsets the same way.
    con.execute("SET TimeZone = 'UTC'")
    return con


def rows(cur: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> list[dict]:
    """A query's answer as a list of dicts keyed by column name."""
    result = cur.execute(sql, params or [])
    names = [d[0] for d in result.description]
    return [dict(zip(names, row)) for row in result.fetchall()]


class Store:
    """A DuckDB database holding a plant: the contract's tables plus planner_tui's own.

    One connection per process; every worker thread takes its own ``cursor()`` (a shared connection
    fails under load with "connection is busy").
    """

    def __init__(self, con: duckdb.DuckDBPyConnection, path: str | None):
        self.con = con
        self.path = path  # None for an in-memory store
        self.write_lock = threading.RLock()  # serialises writers inside this process

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, read_only: bool = False, create: bool = True) -> "Store":
        path = str(Path(path))
        if not create and not Path(path).exists():
            raise PlannerError(
                f"no database at {path}: create one with `planner-tui load SNAPSHOT --db {path}`"
            )
        con = _connect(path, read_only)
        store = cls(con, path)
        if not read_only:
            ensure_schema(con)
        return store

    @classmethod
    def memory(cls) -> "Store":
        con = _connect(":memory:", False)
        ensure_schema(con)
        return cls(con, None)

    def cursor(self) -> duckdb.DuckDBPyConnection:
        cur = self.con.cursor()
        cur.execute("SET TimeZone = 'UTC'")
        return cur

    def close(self) -> None:
        try:
            self.con.close()
        except duckdb.Error:
            pass

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
