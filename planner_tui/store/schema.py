"""planner_tui's own tables, beside the contract's: the event history, feed cursors and triage.

They live in the same DuckDB file under plain names, so any DuckDB client can read them too. A snapshot
reload replaces only the contract's tables; these survive it.
"""

from __future__ import annotations

import duckdb

from planner_tui.store.contract import TABLES, create_table_sql
from planner_tui.urls import redact_url

APP_TABLES_DDL: tuple[str, ...] = (
    # Every event ever received, applied or not: the plant's history.
    """
    CREATE TABLE IF NOT EXISTS event_log (
        source VARCHAR NOT NULL,          -- the feed (CloudEvents `source`)
        event_id VARCHAR NOT NULL,        -- CloudEvents `id`
        sequence VARCHAR,                 -- CloudEvents `sequence` extension, as the feed sent it
        type VARCHAR,
        event_time TIMESTAMP,             -- when it happened (CloudEvents `time`), UTC
        received_at TIMESTAMP NOT NULL,   -- when planner_tui received it, UTC
        applied_at TIMESTAMP,             -- when it changed the store, UTC (NULL unless applied)
        outcome VARCHAR NOT NULL,         -- applied | unknown_type | rejected
        reason VARCHAR,                   -- why it was rejected
        changes VARCHAR,                  -- JSON: what it changed
        data VARCHAR,                     -- JSON: the event as received
        feed VARCHAR,                     -- the feed it came through (path, or URL without credentials)
        PRIMARY KEY (source, event_id)
    )
    """,
    # Where each feed resumes.
    """
    CREATE TABLE IF NOT EXISTS feed_cursors (
        feed VARCHAR PRIMARY KEY,         -- the feed location (file path, or URL without credentials)
        last_sequence VARCHAR,            -- the last sequence applied, as the feed sent it (sent back in ?after=)
        etag VARCHAR,
        updated_at TIMESTAMP
    )
    """,
    # A file feed's byte offset after the last complete line read (NULL for HTTP feeds); added after
    # the first version, hence ALTER: older database files gain it too.
    "ALTER TABLE feed_cursors ADD COLUMN IF NOT EXISTS position BIGINT",
    # Which file that position is in, so a file replaced (rename rotation) or truncated in place
    # (copytruncate) is read again from its start rather than from an offset into other content:
    # "<st_dev>:<st_ino>", and "<n>:<sha1 of the file's first n bytes>" (n up to 1 KiB, never beyond
    # the position), which also catches a new file that reuses the inode. NULL for HTTP feeds.
    "ALTER TABLE feed_cursors ADD COLUMN IF NOT EXISTS file_identity VARCHAR",
    "ALTER TABLE feed_cursors ADD COLUMN IF NOT EXISTS file_head VARCHAR",
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
    # Which occurrence of an exception a triage action was about (`ExceptionKind.occurrence`): a resolve
    # ends that occurrence only, so a later one is open again with a history of its own. Added after the
    # first version, hence ALTER.
    "ALTER TABLE exception_triage ADD COLUMN IF NOT EXISTS occurrence VARCHAR",
    "ALTER TABLE exception_actions ADD COLUMN IF NOT EXISTS occurrence VARCHAR",
    # When each occurrence of an exception was first detected (store/occurrences.py), kept across
    # refreshes and restarts so its age counts from then.
    """
    CREATE TABLE IF NOT EXISTS exception_occurrences (
        exception_id VARCHAR NOT NULL,
        occurrence VARCHAR NOT NULL,      -- the kind's fingerprint of it: "2026-11-23T06:20:00", "PRO-1"...
        first_detected_at TIMESTAMP NOT NULL,
        PRIMARY KEY (exception_id, occurrence)
    )
    """,
    # The plant server's users (token holders): only a hash of each token is kept (store/users.py).
    """
    CREATE TABLE IF NOT EXISTS server_users (
        name VARCHAR PRIMARY KEY,
        role VARCHAR NOT NULL,            -- viewer | planner | admin | ingest
        token_sha256 VARCHAR NOT NULL UNIQUE,
        created_at TIMESTAMP NOT NULL,
        created_by VARCHAR NOT NULL,
        revoked_at TIMESTAMP,
        revoked_by VARCHAR
    )
    """,
    "ALTER TABLE server_users ADD COLUMN IF NOT EXISTS sources VARCHAR",
    # Notifications (store/outbox.py): the outbox, every delivery attempt, what each person was told.
    """
    CREATE TABLE IF NOT EXISTS notify_outbox (
        message_key VARCHAR PRIMARY KEY,
        exception_id VARCHAR NOT NULL,
        person VARCHAR NOT NULL,
        channel VARCHAR NOT NULL,
        why VARCHAR,
        reason VARCHAR NOT NULL,          -- new | update | repeat | escalation
        subject VARCHAR NOT NULL,
        body VARCHAR NOT NULL,
        body_markdown VARCHAR NOT NULL,
        created_at TIMESTAMP NOT NULL,
        state VARCHAR NOT NULL,           -- pending | sending | delivered | failed
        attempts INTEGER NOT NULL,
        next_attempt_at TIMESTAMP NOT NULL,
        last_error VARCHAR,
        delivered_at TIMESTAMP,
        priority INTEGER NOT NULL DEFAULT 9  -- the exception's severity rank: in a burst the worst go first
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS notify_attempts (
        message_key VARCHAR NOT NULL,
        attempted_at TIMESTAMP NOT NULL,
        ok BOOLEAN NOT NULL,
        error VARCHAR
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS notify_sent (
        exception_id VARCHAR NOT NULL,
        person VARCHAR NOT NULL,
        fingerprint VARCHAR,
        first_seen_at TIMESTAMP NOT NULL,
        last_sent_at TIMESTAMP,
        revision INTEGER NOT NULL,
        escalation_level INTEGER NOT NULL,
        raised_at TIMESTAMP,
        PRIMARY KEY (exception_id, person)
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
    rows = con.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'").fetchall()
    return {r[0] for r in rows}


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create whatever is missing: empty contract tables, optional contract columns, planner_tui's own
    tables; rewrite feed names an older version stored with their credentials."""
    present = existing_tables(con)
    for t in TABLES:
        if t.name not in present:
            con.execute(create_table_sql(t))
    add_optional_columns(con, present)
    for ddl in APP_TABLES_DDL:
        con.execute(ddl)
    text_sequences(con)
    redact_stored_feeds(con)


def add_optional_columns(con: duckdb.DuckDBPyConnection, present: set[str]) -> None:
    """Give a contract table loaded by an older version the optional columns added to the contract since
    (`machines.calendar_id`), empty, so that every reader finds them; the next load replaces the table."""
    have = set(
        con.execute("SELECT table_name, column_name FROM duckdb_columns() WHERE schema_name = 'main'").fetchall()
    )
    for t in TABLES:
        if t.name not in present:
            continue
        for c in t.columns:
            if c.optional and (t.name, c.name) not in have:
                con.execute(f'ALTER TABLE "{t.name}" ADD COLUMN "{c.name}" {c.type}')


# Sequences were BIGINT before feed cursors became opaque (issue 13): (table, column) now VARCHAR.
_SEQUENCE_COLUMNS = (("feed_cursors", "last_sequence"), ("event_log", "sequence"))


def text_sequences(con: duckdb.DuckDBPyConnection) -> None:
    """Turn an older version's BIGINT sequence columns into text, keeping every value (a cursor at 41
    reads "41", so the feed resumes at ?after=41). Already done (the usual case): one catalog query.

    ALTER ... TYPE keeps the primary key, but DuckDB refuses it on a table with an index (one a user
    added to event_log): that table is rebuilt instead, with its indexes, in one transaction."""
    rows = con.execute(
        "SELECT table_name, column_name FROM duckdb_columns() WHERE schema_name = 'main' "
        "AND data_type <> 'VARCHAR' AND ((table_name = ? AND column_name = ?) OR (table_name = ? AND column_name = ?))",
        [name for pair in _SEQUENCE_COLUMNS for name in pair],
    ).fetchall()
    for table, column in sorted(rows):
        con.begin()
        try:
            con.execute(f'ALTER TABLE "{table}" ALTER "{column}" TYPE VARCHAR')
            con.commit()
            continue
        except duckdb.Error:
            con.rollback()
        _rebuild_with_text(con, table, column)


def _rebuild_with_text(con: duckdb.DuckDBPyConnection, table: str, column: str) -> None:
    """`table` copied into one made from its DDL here (the column VARCHAR), with whatever other columns
    it has and its indexes, replacing it in one transaction."""
    create = next(ddl for ddl in APP_TABLES_DDL if f"CREATE TABLE IF NOT EXISTS {table} (" in ddl)
    interim = f"_{table}_migrating"
    indexes = [
        r[0]
        for r in con.execute(
            "SELECT sql FROM duckdb_indexes() WHERE schema_name = 'main' AND table_name = ? AND sql IS NOT NULL",
            [table],
        ).fetchall()
    ]
    columns = con.execute(
        "SELECT column_name, data_type FROM duckdb_columns() WHERE schema_name = 'main' AND table_name = ? "
        "ORDER BY column_index",
        [table],
    ).fetchall()
    con.begin()
    try:
        con.execute(create.replace(f"CREATE TABLE IF NOT EXISTS {table} (", f'CREATE TABLE "{interim}" (', 1))
        made = {
            r[0]
            for r in con.execute(
                "SELECT column_name FROM duckdb_columns() WHERE schema_name = 'main' AND table_name = ?", [interim]
            ).fetchall()
        }
        for name, kind in columns:
            if name not in made:
                con.execute(f'ALTER TABLE "{interim}" ADD COLUMN "{name}" {kind}')
        con.execute(f'INSERT INTO "{interim}" BY NAME SELECT * FROM "{table}"')
        con.execute(f'DROP TABLE "{table}"')
        con.execute(f'ALTER TABLE "{interim}" RENAME TO "{table}"')
        for sql in indexes:
            con.execute(sql)
        con.commit()
    except BaseException:
        con.rollback()
        raise


def redact_stored_feeds(con: duckdb.DuckDBPyConnection) -> None:
    """Rewrite feed URLs stored with their credentials (`http://user:pass@...`, `?token=...`) by older
    versions: feed_cursors.feed, event_log.feed, and event_log.source where a feed URL stood in for a
    missing source. One transaction; nothing to do (the usual case) costs one query on feed_cursors.

    Cursors of one feed under several credentials become one (the highest sequence and position, the
    latest update), as every event up to the highest was received; sequences that are not all integers
    cannot be compared (they are the feed's opaque text), so there the latest written wins. Every
    event_log.feed value was written with its cursor row, so the cursors say which names to look for."""
    names = [r[0] for r in con.execute("SELECT feed FROM feed_cursors WHERE contains(feed, '://')").fetchall()]
    renamed = {name: redact_url(name) for name in names if redact_url(name) != name}
    loaded_from = con.execute("SELECT value FROM store_meta WHERE key = 'loaded_from'").fetchall()
    if loaded_from and loaded_from[0][0] and redact_url(loaded_from[0][0]) != loaded_from[0][0]:
        con.execute("UPDATE store_meta SET value = ? WHERE key = 'loaded_from'", [redact_url(loaded_from[0][0])])
    _redact_feed_triage(con)
    if not renamed:
        return
    con.begin()
    try:
        for new in sorted(set(renamed.values())):
            old = [name for name, target in renamed.items() if target == new]
            merged = con.execute(
                """
                SELECT arg_max(etag, updated_at), max(updated_at), max(position),
                       arg_max(file_identity, updated_at), arg_max(file_head, updated_at)
                FROM feed_cursors WHERE feed = ANY(?)
                """,
                [old + [new]],
            ).fetchone()
            assert merged is not None  # an aggregate answers one row
            sequences = con.execute(
                "SELECT last_sequence FROM feed_cursors WHERE feed = ANY(?) AND last_sequence IS NOT NULL "
                "ORDER BY updated_at NULLS FIRST",
                [old + [new]],
            ).fetchall()
            con.execute("DELETE FROM feed_cursors WHERE feed = ANY(?)", [old + [new]])
            con.execute(
                "INSERT INTO feed_cursors (feed, last_sequence, etag, updated_at, position, file_identity, "
                "file_head) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [new, _highest_sequence([r[0] for r in sequences]), *merged],
            )
            con.execute("UPDATE event_log SET feed = ? WHERE feed = ANY(?)", [new, old])
            # A source is half the event's identity: where the redacted one is already logged under the
            # same id (the same content, received under other credentials), the older copy goes.
            con.execute(
                """
                DELETE FROM event_log AS l WHERE l.source = ANY(?) AND EXISTS (
                    SELECT 1 FROM event_log AS k WHERE k.source = ? AND k.event_id = l.event_id)
                """,
                [old, new],
            )
            con.execute(
                """
                DELETE FROM event_log AS l WHERE l.source = ANY(?) AND l.rowid NOT IN (
                    SELECT min(rowid) FROM event_log WHERE source = ANY(?) GROUP BY event_id)
                """,
                [old, old],
            )
            con.execute("UPDATE event_log SET source = ? WHERE source = ANY(?)", [new, old])
        con.commit()
    except BaseException:
        con.rollback()
        raise


def _highest_sequence(sequences: list[str]) -> str | None:
    """Of one feed's cursors (oldest written first): the highest when all are integers, else the latest."""
    if not sequences:
        return None
    if all(s.isascii() and s.isdigit() for s in sequences):
        return max(sequences, key=int)
    return sequences[-1]


_FEED_STALE = "feed_stale:"


def _redact_feed_triage(con: duckdb.DuckDBPyConnection) -> None:
    """Triage of a stale feed, kept by older versions under an id holding the feed URL as given
    (`feed_stale:http://user:pass@...`): moved to the redacted id in one transaction. Where the feed was
    triaged under several names, the latest state wins; every action is kept."""
    ids = [
        r[0]
        for r in con.execute(
            """
            SELECT exception_id FROM exception_triage WHERE starts_with(exception_id, ?) AND contains(exception_id, '://')
            UNION SELECT exception_id FROM exception_actions WHERE starts_with(exception_id, ?)
                AND contains(exception_id, '://')
            """,
            [_FEED_STALE, _FEED_STALE],
        ).fetchall()
    ]
    moves = {old: _FEED_STALE + redact_url(old[len(_FEED_STALE) :]) for old in ids}
    moves = {old: new for old, new in moves.items() if old != new}
    if not moves:
        return
    con.begin()
    try:
        for new in sorted(set(moves.values())):
            names = [old for old, target in moves.items() if target == new] + [new]
            con.execute(
                """
                DELETE FROM exception_triage WHERE exception_id = ANY(?) AND exception_id <> (
                    SELECT arg_max(exception_id, updated_at) FROM exception_triage WHERE exception_id = ANY(?))
                """,
                [names, names],
            )
            con.execute("UPDATE exception_triage SET exception_id = ? WHERE exception_id = ANY(?)", [new, names])
            con.execute("UPDATE exception_actions SET exception_id = ? WHERE exception_id = ANY(?)", [new, names])
        con.commit()
    except BaseException:
        con.rollback()
        raise
