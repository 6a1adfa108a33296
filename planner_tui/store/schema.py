"""planner_tui's own tables, beside the contract's: the event history, feed cursors and triage.

They live in the same DuckDB file under plain names, so any DuckDB client can read them too. A snapshot
reload replaces only the contract's tables; these survive it.
"""

from __future__ import annotations

import duckdb

from planner_tui.store.contract import TABLES, create_table_sql

APP_TABLES_DDL: tuple[str, ...] = (
    # Every event ever received, applied or not: the plant's history.
    """
    CREATE TABLE IF NOT EXISTS event_log (
        source VARCHAR NOT NULL,          -- the feed (CloudEvents `source`)
        event_id VARCHAR NOT NULL,        -- CloudEvents `id`
        sequence BIGINT,                  -- CloudEvents `sequence` extension
        type VARCHAR,
        event_time TIMESTAMP,             -- when it happened (CloudEvents `time`), UTC
        received_at TIMESTAMP NOT NULL,   -- when planner_tui received it, UTC
        applied_at TIMESTAMP,             -- when it changed the store, UTC (NULL unless applied)
        outcome VARCHAR NOT NULL,         -- applied | unknown_type | rejected
        reason VARCHAR,                   -- why it was rejected
        changes VARCHAR,                  -- JSON: what it changed
        data VARCHAR,                     -- JSON: the event as received
        feed VARCHAR,                     -- the feed location it came through (URL or path)
        PRIMARY KEY (source, event_id)
    )
    """,
    # Where each feed resumes.
    """
    CREATE TABLE IF NOT EXISTS feed_cursors (
        feed VARCHAR PRIMARY KEY,         -- the feed location (URL or file path)
        last_sequence BIGINT,
        etag VARCHAR,
        updated_at TIMESTAMP
    )
    """,
    # A file feed's byte offset after the last complete line read (NULL for HTTP feeds); added after
    # the first version, hence ALTER: older database files gain it too.
    "ALTER TABLE feed_cursors ADD COLUMN IF NOT EXISTS position BIGINT",
    # Triage: the current state of each exception a planner has touched.
    """
    CREATE TABLE IF NOT EXISTS exception_triage (
        exception_id VARCHAR PRIMARY KEY, -- stable key, e.g. machine_down:M-WELD-01
        status VARCHAR NOT NULL,          -- open | acknowledged | snoozed | resolved
        assignee VARCHAR,
        snoozed_until TIMESTAMP,
        updated_at TIMESTAMP NOT NULL,
        updated_by VARCHAR NOT NULL
    )
    """,
    # Triage: every action, who and when.
    """
    CREATE TABLE IF NOT EXISTS exception_actions (
        exception_id VARCHAR NOT NULL,
        acted_at TIMESTAMP NOT NULL,
        who VARCHAR NOT NULL,
        action VARCHAR NOT NULL,          -- acknowledge | assign | note | snooze | resolve | reopen
        detail VARCHAR
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS store_meta (
        key VARCHAR PRIMARY KEY,
        value VARCHAR
    )
    """,
)


def existing_tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    rows = con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"
    ).fetchall()
    return {r[0] for r in rows}


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create whatever is missing: empty contract tables and planner_tui's own tables."""
    present = existing_tables(con)
    for t in TABLES:
        if t.name not in present:
            con.execute(create_table_sql(t))
    for ddl in APP_TABLES_DDL:
        con.execute(ddl)
