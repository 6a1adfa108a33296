"""A feed's cursor in `feed_cursors`: the last sequence applied, and for a file feed its byte offset and
which file that offset is in. Written with each batch, in its transaction (see apply.py).

The sequence is opaque text, kept exactly as the feed sent it ("00000002", a ULID, "3-1042"; a JSON
integer as its decimal digits) so that `?after=` gives it back byte for byte."""

from __future__ import annotations

from datetime import datetime

import duckdb


def first_row(cur: duckdb.DuckDBPyConnection, sql: str, params: list) -> tuple | None:
    # fetchall, not fetchone: DuckDB refuses further work on a cursor with an unfinished result.
    rows = cur.execute(sql, params).fetchall()
    return rows[0] if rows else None


def feed_cursor(cur: duckdb.DuckDBPyConnection, feed: str) -> str | None:
    """The last sequence applied from `feed`, as the feed sent it (None before its first event with a
    sequence)."""
    row = first_row(cur, "SELECT last_sequence FROM feed_cursors WHERE feed = ?", [feed])
    # str(): a database opened read-only may still hold an older version's BIGINT column.
    return None if not row or row[0] is None else str(row[0])


def feed_position(cur: duckdb.DuckDBPyConnection, feed: str) -> int:
    """A file feed's byte offset after the last complete line it consumed (0 at the start)."""
    row = first_row(cur, "SELECT position FROM feed_cursors WHERE feed = ?", [feed])
    return int(row[0]) if row and row[0] is not None else 0


def feed_file_identity(cur: duckdb.DuckDBPyConnection, feed: str) -> tuple[str | None, str | None]:
    """The (device:inode, head fingerprint) of the file a file feed's position is in, as stored with
    it; (None, None) before the first read, or for a cursor from an older version."""
    row = first_row(cur, "SELECT file_identity, file_head FROM feed_cursors WHERE feed = ?", [feed])
    return (row[0], row[1]) if row else (None, None)


def write_cursor(
    cur: duckdb.DuckDBPyConnection,
    feed: str,
    sequence: str | None,
    position: int | None,
    now: datetime,
    file_identity: tuple | None = None,
) -> None:
    identity, head = file_identity if file_identity is not None else (None, None)
    cur.execute(
        """
        INSERT INTO feed_cursors (feed, last_sequence, etag, updated_at, position, file_identity, file_head)
        VALUES (?, ?, NULL, ?, ?, ?, ?)
        ON CONFLICT (feed) DO UPDATE SET
            last_sequence = coalesce(excluded.last_sequence, feed_cursors.last_sequence),
            position = coalesce(excluded.position, feed_cursors.position),
            file_identity = coalesce(excluded.file_identity, feed_cursors.file_identity),
            file_head = coalesce(excluded.file_head, feed_cursors.file_head),
            updated_at = excluded.updated_at
        """,
        [feed, sequence, now, position, identity, head],
    )
