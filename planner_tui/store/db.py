"""Opening a planner_tui database: one writer per file, clear messages when it is in use."""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path

import duckdb

from planner_tui.errors import PlannerError, StoreLocked
from planner_tui.store.contract import TABLES
from planner_tui.store.schema import ensure_schema
from planner_tui.urls import redact_url

_LOCK_RE = re.compile(r"Conflicting lock is held in (?P<proc>.*?) \(PID (?P<pid>\d+)\)")

# Every DuckDB database file carries this at byte 8 (after its header checksum).
DUCKDB_MAGIC = b"DUCK"
_MAGIC_OFFSET = 8

# The loader's staging tables (`<prefix><contract table>`); a load killed outright leaves them behind.
STAGE_PREFIX = "_load_"
RAW_PREFIX = "_load_raw_"

# Writable stores open in this process, per file: DuckDB shares one database between connections to
# the same file in a process, so a second Store must not drop the staging tables of a load running on
# the first.
_writers: dict[str, int] = {}
_writers_lock = threading.Lock()


def _connect(path: str, read_only: bool) -> duckdb.DuckDBPyConnection:
    config: dict[str, str | bool | int | float | list[str]] = {  # the type duckdb.connect takes
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
            pid = int(match["pid"])
            served = served_by(path, pid)
            if served is not None:
                raise StoreLocked(
                    f"{path} is served by planner-tui serve, PID {pid}, user {_user_of(pid) or '?'}: use "
                    f"--server {served} (or set PLANNER_TUI_SERVER) instead of --db"
                ) from None
            holder = _command_of(pid) or match["proc"]
            raise StoreLocked(
                f"{path} is in use by another process: {holder} (PID {pid}, user {_user_of(pid) or '?'}). "
                "planner_tui allows one writer per database; close that process (or use its console), "
                "or serve the database to everyone with `planner-tui serve` (docs/deploy.md)."
            ) from None
        raise _open_error(path, exc) from None
    except duckdb.Error as exc:
        raise _open_error(path, exc) from None
    # Timestamps in the store are naive UTC; make DuckDB read offsets the same way.
    con.execute("SET TimeZone = 'UTC'")
    return con


def _open_error(path: str, exc: duckdb.Error) -> PlannerError:
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if "Corrupt WAL" in message or "replaying WAL" in message:
        # DuckDB only says "Corrupt WAL file": say what the way out is and what it costs.
        wal = f"{path}.wal"
        return PlannerError(
            f"cannot open database {path}: its write-ahead log {wal} is damaged ({message}). To open the "
            f"database as of its last checkpoint, move {wal} aside (what was written after that checkpoint "
            "is lost), or restore the database from a backup; see docs/operations.md."
        )
    return PlannerError(f"cannot open database {path}: {message}")


def server_note(path: str | os.PathLike[str]) -> Path:
    """Where a plant server serving `path` writes how to reach it (removed when it stops)."""
    return Path(f"{path}.server.json")


def served_by(path: str | os.PathLike[str], pid: int) -> str | None:
    """The address of the plant server with PID `pid` serving `path`, from its note; None if there is no
    note or it was left by another process (a server killed outright)."""
    import json

    try:
        note = json.loads(server_note(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(note, dict) or note.get("pid") != pid or not note.get("listen"):
        return None
    return str(note["listen"][0])


def _user_of(pid: int) -> str | None:
    """The login name of a process's owner (the lock message names who to ask)."""
    import pwd

    try:
        return pwd.getpwuid(os.stat(f"/proc/{pid}").st_uid).pw_name
    except (OSError, KeyError):
        return None


def _command_of(pid: int) -> str | None:
    """The command a process runs, as a person would name it (`planner-tui run`), not the interpreter
    DuckDB names (`python3.11`); None when it cannot be read (another OS, another user)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    args = [a for a in raw.decode("utf-8", "replace").split("\0") if a]
    if not args:
        return None
    # An interpreter running a script (a console entry point is one) is named by the script.
    if Path(args[0]).name.startswith("python") and len(args) > 1 and not args[1].startswith("-"):
        args = args[1:]
    # The program and its command words (`planner-tui run`), not its options: short, and no paths.
    words = [Path(args[0]).name]
    for arg in args[1:3]:
        if arg.startswith("-"):
            break
        words.append(redact_url(arg))  # a snapshot or feed URL may carry a password
    shown = " ".join(words)
    return shown if len(shown) <= 80 else shown[:79] + "…"


def _check_is_database(path: Path) -> None:
    """Refuse an existing file that is not a DuckDB database: DuckDB would open a CSV or Parquet file as
    an empty in-memory database, and whatever a command wrote to it would silently vanish."""
    if path.is_dir():
        raise PlannerError(f"{path} is a folder, not a database file: give --db a file such as plant.duckdb")
    try:
        with path.open("rb") as f:
            head = f.read(_MAGIC_OFFSET + len(DUCKDB_MAGIC))
    except OSError as exc:
        raise PlannerError(f"cannot open database {path}: {exc.strerror or exc}") from None
    if head[_MAGIC_OFFSET:] == DUCKDB_MAGIC:
        return
    if not head:
        what = "it is empty"
    elif head.startswith(b"PAR1"):
        what = "it is a Parquet file"
    elif path.suffix.lower() in (".csv", ".json", ".jsonl", ".parquet", ".txt"):
        what = f"it looks like a {path.suffix.lower().lstrip('.')} file"
    else:
        what = "it does not start like one"
    raise PlannerError(
        f"{path} is not a DuckDB database ({what}); it was left untouched. Give --db the planner_tui "
        "database file (e.g. plant.duckdb; `planner-tui load SNAPSHOT --db FILE` creates a new one)."
    )


def drop_staging(cur: duckdb.DuckDBPyConnection) -> None:
    """Remove the loader's staging tables, including any left by a load that was killed."""
    names = [prefix + t.name for t in TABLES for prefix in (RAW_PREFIX, STAGE_PREFIX)]
    present = {
        r[0]
        for r in cur.execute(
            "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main' AND list_contains(?, table_name)",
            [names],
        ).fetchall()
    }
    for name in names:
        if name in present:
            cur.execute(f'DROP TABLE IF EXISTS "{name}"')  # names from contract.py


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

    def __init__(self, con: duckdb.DuckDBPyConnection, path: str | None, *, read_only: bool = False):
        self.con = con
        self.path = path  # None for an in-memory store
        self.read_only = read_only
        self.write_lock = threading.RLock()  # serialises writers inside this process
        self._writer_key: str | None = None

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, read_only: bool = False, create: bool = True) -> Store:
        path = str(Path(path))
        if Path(path).exists():
            _check_is_database(Path(path))
        elif not create:
            raise PlannerError(f"no database at {path}: create one with `planner-tui load SNAPSHOT --db {path}`")
        con = _connect(path, read_only)
        store = cls(con, path, read_only=read_only)
        if not read_only:
            try:
                ensure_schema(con)
                store._register_writer(path)
            except BaseException:
                store.close()
                raise
        return store

    @classmethod
    def memory(cls) -> Store:
        con = _connect(":memory:", False)
        ensure_schema(con)
        return cls(con, None)

    def _register_writer(self, path: str) -> None:
        key = os.path.realpath(path)
        with _writers_lock:
            first = not _writers.get(key)
            _writers[key] = _writers.get(key, 0) + 1
            self._writer_key = key
            if first:
                # The first writer in this process: any staging table is a killed load's leftover.
                drop_staging(self.con)

    def cursor(self) -> duckdb.DuckDBPyConnection:
        cur = self.con.cursor()
        cur.execute("SET TimeZone = 'UTC'")
        return cur

    def close(self) -> None:
        try:
            self.con.close()
        except duckdb.Error:
            pass
        if self._writer_key is not None:
            with _writers_lock:
                left = _writers.get(self._writer_key, 1) - 1
                if left > 0:
                    _writers[self._writer_key] = left
                else:
                    _writers.pop(self._writer_key, None)
            self._writer_key = None

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
