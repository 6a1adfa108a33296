"""Loading a plant snapshot into the store: read every table into staging, validate, swap in at once.

    report = load_snapshot(store, "sample_data/plant")          # a folder
    report = load_snapshot(store, "http://erp.example/snapshot/")  # or an http(s) base URL

The load is all or nothing. Each table is read into a typed staging table (Parquet whose types already
match is copied without any cast), the staged snapshot is validated against `contract.py` with set-based
queries (on worker cursors, beside the staging of the next tables: see `_Work`), and only then, in ONE
transaction, the contract's tables are dropped and the staging tables
renamed into their place. A failed load raises `SnapshotError` listing every problem found and leaves
the database exactly as it was; a reader sees the old snapshot or the new one, never half of each.
planner_tui's own tables (event log, triage, store_meta...) are never touched except store_meta's
snapshot keys.
"""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import nullcontext
from pathlib import Path

import duckdb

from planner_tui.errors import PlannerError, Problem, SnapshotError
from planner_tui.store.contract import TABLES, Table, create_table_sql
from planner_tui.store.db import RAW_PREFIX, STAGE_PREFIX, Store, drop_staging
from planner_tui.store.readers import (
    IGNORED,
    SkipTable,
    Unreadable,
    extra_columns,
    file_size,
    first_line,
    parquet_source,
    read_text_into,
)
from planner_tui.store.schema import ensure_schema
from planner_tui.store.sources import (
    META_FILE,
    SnapshotFiles,
    open_source,
    shown_source,
)
from planner_tui.store.validate import (
    CheckLog,
    ColumnPlan,
    ProblemList,
    Staged,
    check_key,
    check_meta_references,
    check_parent_loops,
    check_values,
    plan_column,
    probe_references,
    q,
    reference_groups,
    report_references,
)
from planner_tui.timeutil import iso, utcnow

META_KEYS = ("as_of", "plant", "timezone", "calendar", "loaded_at", "loaded_from")


def load_snapshot(
    store: Store, source: str | os.PathLike, *, progress: bool = False, shown_as: str | None = None
) -> dict:
    """Replace the store's snapshot with the one at `source` (a folder or an http(s) base URL).

    Returns `{"source", "tables": {name: rows}, "seconds", "as_of", "plant"}`; raises SnapshotError
    (every problem found, the database unchanged) or PlannerError (source unreachable, database error).
    """
    started = time.perf_counter()
    # A folder is recorded as an absolute path (`status` later tells where the snapshot came from), a
    # URL without its credentials: this is what is stored and printed.
    # `shown_as`: the name the snapshot had where it came from (the plant server loads an uploaded copy).
    source_text = shown_as or shown_source(source)
    with store.write_lock:
        cur = store.cursor()
        try:
            with _progress(progress) as bar:
                with open_source(source) as files:
                    drop_staging(cur)
                    work = _Work(store)
                    try:
                        staged = _stage_all(files, bar, work)
                        if bar:
                            bar.update(bar.task_ids[0], description="validating")
                        problems = ProblemList()
                        for p in files.problems:
                            problems.add(p)
                        work.finish(staged, problems)
                        check_meta_references(work.cursor(), staged, files.meta, META_FILE, problems)
                        if not problems:  # loops are only meaningful once keys and references hold
                            check_parent_loops(work.cursor(), staged, problems)
                        if problems:
                            raise SnapshotError(problems.listed, more=problems.more)
                        if bar:
                            bar.update(bar.task_ids[0], description="swapping in")
                        _swap(cur, staged, files.meta, source_text)
                    finally:
                        work.close()  # nothing may still read or write a staging table being dropped
                        drop_staging(cur)
        except duckdb.Error as exc:
            raise PlannerError(
                f"loading {source_text} failed: {first_line(exc)}; the database was not changed"
            ) from None
        finally:
            cur.close()
        ensure_schema(store.con)  # recreates anything a future schema adds beside the contract's tables
    return {
        "source": source_text,
        "tables": {name: s.rows for name, s in staged.items()},
        "seconds": round(time.perf_counter() - started, 3),
        "as_of": files.meta.get("as_of"),
        "plant": files.meta.get("plant"),
    }


# --- staging -------------------------------------------------------------------------------------


def _stage_all(files: SnapshotFiles, bar, work: _Work) -> dict[str, Staged]:
    """Read every table into staging; tables that cannot be read are recorded in files.broken.

    Tables are staged STAGE_LANES at a time (see `_staging_order`) and each table's checks start as
    soon as it is staged (`work.table_done`), beside the staging of the next files. Problems are still
    listed in contract order."""
    staged: dict[str, Staged] = {}
    table_problems: dict[str, list[Problem]] = {}
    lock = threading.Lock()

    def stage(t: Table) -> None:
        problems: list[Problem] = []
        result = None
        broken = t.name in files.broken
        path = files.files.get(t.name)
        if broken:
            pass
        elif path is None:
            result = _stage_empty(work.cursor(), t)
        else:
            try:
                result = _stage_file(work.cursor(), t, path, problems)
            except SkipTable:
                broken = True  # its problems are recorded: nothing more to read or check
            except Unreadable as exc:
                problems.append(Problem(path.name, str(exc), row=exc.row))
                broken = True
        with lock:
            if result is not None:
                staged[t.name] = result
            if broken:
                files.broken.add(t.name)
            table_problems[t.name] = problems
            work.table_done(t.name, staged)
            if bar:
                bar.advance(bar.task_ids[0])

    if bar:
        bar.update(bar.task_ids[0], description="reading")
    work.stage_all(stage, _staging_order(files))
    files.problems.extend(p for t in TABLES for p in table_problems.get(t.name, []))
    return dict(sorted(staged.items(), key=lambda item: _TABLE_ORDER[item[0]]))


_TABLE_ORDER = {t.name: i for i, t in enumerate(TABLES)}


def _staging_order(files: SnapshotFiles) -> list[Table]:
    """Files smaller than the average first, smallest first: they are mostly the tables others refer
    to, so reference anti-joins can start early. Then the big ones, largest first, so that the lanes
    finish together instead of one big file staging alone at the end."""
    sizes = {t.name: file_size(files.files.get(t.name)) for t in TABLES}
    average = sum(max(size, 0) for size in sizes.values()) / len(sizes)
    return sorted(TABLES, key=lambda t: (0, sizes[t.name]) if sizes[t.name] < average else (1, -sizes[t.name]))


def _stage_empty(cur: duckdb.DuckDBPyConnection, t: Table) -> Staged:
    """A missing optional table is an empty table."""
    stage = STAGE_PREFIX + t.name
    cur.execute(create_table_sql(t, stage))
    plans = {c.name: ColumnPlan(q(c.name), False, c.type, q(c.name)) for c in t.columns}
    return Staged(t, f"{t.name} (absent)", stage, plans, rows=0, key_collisions=0, absent=True)


def _stage_file(cur: duckdb.DuckDBPyConnection, t: Table, path: Path, problems: list[Problem]) -> Staged:
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        source_from, params, names, types = parquet_source(cur, path)
        source_row = "file_row_number + 1"
        stage_from = "read_parquet(?)"
        original_names = names
    else:
        raw = RAW_PREFIX + t.name
        names, original_names = read_text_into(cur, t, path, raw)
        types = {n: "VARCHAR" for n in names}
        source_from, params, source_row, stage_from = q(raw), [], "rowid + 1", q(raw)
    present = [n for n in names if n in set(t.column_names)]
    missing = [c for c in t.columns if c.name not in names and not c.optional]
    by_lower = {n.lower(): n for n in original_names}
    for col in missing:
        message = "required column is missing from the file"
        near = by_lower.get(col.name.lower())
        if near is not None:
            message += f" (there is {near!r}: column names are exact, lower case)"
        problems.append(Problem(path.name, message, column=col.name))
    if missing:
        raise SkipTable()  # nothing usable: references into this table are not checked either
    plans = {c.name: plan_column(c, types.get(c.name)) for c in t.columns}
    stage = STAGE_PREFIX + t.name
    select = [f"{plans[c.name].expr} AS {q(c.name)}" for c in t.columns]
    extras = extra_columns(t, names)
    if extras:
        # Extra columns follow the contract's, as they came; only names we generated or the contract's
        # appear in the SQL (EXCLUDE), never a name read from the file.
        excluded = [q(n) for n in present] + [q(n) for n in names if n.startswith(IGNORED)]
        select.append(f"* EXCLUDE ({', '.join(excluded)})" if excluded else "*")
    stage_params = params[:1] if suffix == ".parquet" else []
    try:
        cur.execute(f"CREATE TABLE {q(stage)} AS SELECT {', '.join(select)} FROM {stage_from}", stage_params)
    except duckdb.Error as exc:
        if suffix != ".parquet":
            raise
        raise Unreadable(f"cannot read the Parquet file: {first_line(exc)}") from None
    return Staged(t, path.name, stage, plans, source_from, params, source_row)


# --- validation and swap ---------------------------------------------------------------------------


# Staging and checks run on worker threads, each with its own cursor: DuckDB releases the GIL, and
# a Parquet file of one or two row groups is read by one core only, so a second file (or a check)
# keeps the other core busy. Concurrent CREATE TABLEs of different tables do not conflict.
STAGE_LANES = min(2, os.cpu_count() or 1)  # on one core a second lane only adds switching
# One check at a time: a second one beside two stagings cost more CPU (contention) than it saved
# (bench_load, 2 cores: 1.20-1.23 s against 1.26-1.36 s with two).
CHECK_WORKERS = 1


class _Work:
    """Staging and validation of a snapshot, side by side.

    A table's value and key checks start once it is staged; a reference group's anti-join once its
    target and every table referring to it have been read (or failed to be). `finish` waits for all
    and lists the problems in the sequential order: value checks, then keys, then references, each
    in contract order."""

    def __init__(self, store: Store, lanes: int = STAGE_LANES, workers: int = CHECK_WORKERS):
        self._store = store
        self._local = threading.local()
        self._cursors: list[duckdb.DuckDBPyConnection] = []
        self._lock = threading.Lock()
        self._restore_threads: int | None = None
        if (os.cpu_count() or 1) <= lanes + workers:
            # Our threads already keep every core busy; DuckDB's own workers on top only add switching
            # (bench_load, 2 cores: 2.07 CPU s with one thread per query against 2.22, same wall time).
            # The setting is the database's: it is put back in close().
            threads = int(self.cursor().execute("SELECT current_setting('threads')").fetchall()[0][0])
            if threads > 1:
                self.cursor().execute("SET threads = 1")
                self._restore_threads = threads
        self._lanes = ThreadPoolExecutor(max_workers=lanes, thread_name_prefix="load-stage")
        self._checks = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="load-check")
        self._futures: list[Future] = []
        self._values: dict[str, CheckLog] = {}
        self._keys: dict[str, CheckLog] = {}
        self._found: dict[tuple[str, int], list[tuple]] = {}
        self._groups = reference_groups(TABLES)
        self._waiting = {group: {t.name for t, _ in refs} | {group[0]} for group, refs in self._groups.items()}

    def stage_all(self, stage, tables: list[Table]) -> None:
        """Run `stage(t)` for every table, STAGE_LANES at a time, in the order given; re-raise an error."""
        for future in [self._lanes.submit(stage, t) for t in tables]:
            future.result()

    def table_done(self, name: str, staged: dict[str, Staged]) -> None:
        """Called (under the stager's lock) once per table after it was staged or could not be."""
        s = staged.get(name)
        with self._lock:
            if s is not None and not s.absent:
                values, keys = self._values[name], self._keys[name] = CheckLog(), CheckLog()
                self._submit(self._check_table, s, values, keys)
            for group, waiting in self._waiting.items():
                if name in waiting:
                    waiting.discard(name)
                    if not waiting:
                        # The group sees the tables as they are now: all of its own are read or failed.
                        self._submit(self._probe, dict(staged), group, self._groups[group])

    def finish(self, staged: dict[str, Staged], problems: ProblemList) -> None:
        for future in self._futures:
            future.result()  # re-raises a check's database error
        for logs in (self._values, self._keys):
            for name in staged:
                if name in logs:
                    logs[name].replay(problems)
        report_references(staged, self._found, problems)

    def close(self) -> None:
        self._lanes.shutdown(wait=True, cancel_futures=True)
        self._checks.shutdown(wait=True, cancel_futures=True)
        if self._restore_threads is not None:
            self.cursor().execute(f"SET threads = {self._restore_threads}")
        for cur in self._cursors:
            cur.close()

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """This thread's own cursor."""
        cur = getattr(self._local, "cursor", None)
        if cur is None:
            cur = self._local.cursor = self._store.cursor()
            with self._lock:
                self._cursors.append(cur)
        return cur

    def _submit(self, fn, *args) -> None:
        self._futures.append(self._checks.submit(fn, *args))

    def _check_table(self, s: Staged, values: CheckLog, keys: CheckLog) -> None:
        cur = self.cursor()
        check_values(cur, s, values)
        check_key(cur, s, keys)  # uses the distinct-key count check_values just took

    def _probe(self, staged: dict[str, Staged], group, refs) -> None:
        found = probe_references(self.cursor(), staged, group, refs, CheckLog().per_check)
        with self._lock:
            self._found.update(found)


def _swap(cur: duckdb.DuckDBPyConnection, staged: dict[str, Staged], meta: dict, source: str) -> None:
    """Replace the contract's tables by the staged ones, and record the snapshot, in one transaction."""
    values = {
        "as_of": meta.get("as_of"),
        "plant": meta.get("plant"),
        "timezone": meta.get("timezone"),
        "calendar": meta.get("calendar"),
        "loaded_at": iso(utcnow()),
        "loaded_from": source,
    }
    cur.execute("BEGIN TRANSACTION")
    try:
        for t in TABLES:
            cur.execute(f"DROP TABLE IF EXISTS {q(t.name)}")
            cur.execute(f"ALTER TABLE {q(staged[t.name].stage)} RENAME TO {q(t.name)}")
        cur.execute(f"DELETE FROM store_meta WHERE key IN ({', '.join('?' for _ in META_KEYS)})", list(META_KEYS))
        for key, value in values.items():
            if value is not None:
                cur.execute("INSERT INTO store_meta (key, value) VALUES (?, ?)", [key, value])
        cur.execute("COMMIT")
    except BaseException:
        cur.execute("ROLLBACK")
        raise


def _progress(enabled: bool):
    """A rich progress bar on stderr (a step per table), or nothing."""
    if not enabled:
        return nullcontext(None)
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(
        TextColumn("loading snapshot: {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    bar.add_task("starting", total=len(TABLES))
    return bar
