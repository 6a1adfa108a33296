"""Notifications, durably: what was planned to be told to whom (the outbox), each delivery attempt, and
what each person was last told about each exception (the pacing state).

The plant server's notifier plans messages (engine/notify) and writes them here with the pacing state
they change in one transaction (`record`): a crash before it leaves nothing half-planned, and the next
plan finds the same exceptions untold and plans them again; a crash after it finds them in the outbox.
The sender takes due messages (`due`), marks each `sending` before it hands it to the channel and
`delivered` or back to `pending` (with a backoff) or `failed` (after the last retry) after, recording
every attempt. A message found `sending` after a restart was perhaps accepted by its channel: it is sent
again with the same `message_key`, which the channel may use to drop the copy (webhooks get it as the
`Idempotency-Key` header, e-mail as an `X-Planner-Message-Key` header: Apprise sets its own Message-ID).

Tables (planner_tui's own, kept across snapshot reloads, created by store/schema.py):
  * `notify_outbox`: one row per message and channel: message_key (exception, person, revision,
    channel index), exception_id, person, channel (the Apprise URL as the settings write it, ${VAR}
    unexpanded, so no secret is stored), why (what the person is told for), reason (new, update,
    repeat, escalation), subject, body (plain text), body_markdown, created_at, state, attempts,
    next_attempt_at, last_error, delivered_at;
  * `notify_attempts`: every attempt: message_key, attempted_at, ok, error;
  * `notify_sent`: per exception and person what was last planned: fingerprint (what the message said:
    a changed situation is a new fingerprint), first_seen_at (when the exception first asked to be told:
    group_wait counts from it), last_sent_at, revision, escalation_level (the last level told), raised_at
    (which raising of the exception: a resolved one that comes back is news).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import duckdb
import pyarrow as pa

from planner_tui.store.db import Store, rows

PENDING, SENDING, DELIVERED, FAILED = "pending", "sending", "delivered", "failed"
STATES = (PENDING, SENDING, DELIVERED, FAILED)


@dataclass(frozen=True)
class Planned:
    """One message to one person about one exception, as the engine planned it; `channels` are the
    person's Apprise URLs as written in the settings (one outbox row each)."""

    exception_id: str
    person: str
    reason: str
    why: str
    subject: str
    body: str
    body_markdown: str
    channels: tuple[str, ...]
    revision: int
    priority: int = 9  # the exception's severity rank (0 critical): in a burst the worst are sent first

    def key(self, channel_index: int) -> str:
        return f"{self.exception_id}|{self.person}|{self.revision}|{channel_index}"


@dataclass(frozen=True)
class Pacing:
    """The pacing state of one (exception, person), as `notify_sent` keeps it."""

    exception_id: str
    person: str
    fingerprint: str | None
    first_seen_at: datetime
    last_sent_at: datetime | None
    revision: int
    escalation_level: int
    raised_at: datetime | None


def pacing(cur: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], Pacing]:
    """Every (exception, person) -> what they were last told (empty for a store without the table)."""
    try:
        found = cur.execute(
            "SELECT exception_id, person, fingerprint, first_seen_at, last_sent_at, revision, escalation_level, "
            "raised_at FROM notify_sent"
        ).fetchall()
    except duckdb.CatalogException:
        return {}
    return {(r[0], r[1]): Pacing(*r) for r in found}


def record(store: Store, planned: list[Planned], states: list[Pacing], *, at: datetime) -> int:
    """Write the planned messages (one outbox row per channel, pending, due now) and the pacing states
    they change, in one transaction. A message key already in the outbox is left as it is (a plan made
    twice sends once). Returns the outbox rows written."""
    written = 0
    with store.write_lock:
        cur = store.cursor()
        try:
            cur.execute("BEGIN TRANSACTION")
            by_key = {
                p.key(i): [
                    p.key(i),
                    p.exception_id,
                    p.person,
                    channel,
                    p.why,
                    p.reason,
                    p.subject,
                    p.body,
                    p.body_markdown,
                    p.priority,
                ]
                for p in planned
                for i, channel in enumerate(p.channels)
            }
            rows_out = list(by_key.values())  # a key planned twice is one message
            if rows_out:
                present = {
                    key
                    for (key,) in cur.execute(
                        "SELECT message_key FROM notify_outbox WHERE message_key IN (SELECT unnest(?::VARCHAR[]))",
                        [[r[0] for r in rows_out]],
                    ).fetchall()
                }
                fresh = [r[:-1] + [at, PENDING, at, r[-1]] for r in rows_out if r[0] not in present]
                if fresh:
                    cur.executemany(
                        "INSERT INTO notify_outbox VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, NULL, NULL, ?)", fresh
                    )
                written = len(fresh)
            # The last state planned for a pair wins (a plan may name one twice).
            last = list({(s.exception_id, s.person): s for s in states}.values())
            if last:
                table = pa.table(
                    {
                        "exception_id": pa.array([s.exception_id for s in last], pa.string()),
                        "person": pa.array([s.person for s in last], pa.string()),
                        "fingerprint": pa.array([s.fingerprint for s in last], pa.string()),
                        "first_seen_at": pa.array([s.first_seen_at for s in last], pa.timestamp("us")),
                        "last_sent_at": pa.array([s.last_sent_at for s in last], pa.timestamp("us")),
                        "revision": pa.array([s.revision for s in last], pa.int32()),
                        "escalation_level": pa.array([s.escalation_level for s in last], pa.int32()),
                        "raised_at": pa.array([s.raised_at for s in last], pa.timestamp("us")),
                    }
                )
                cur.register("_pacing_in", table)
                try:
                    cur.execute(
                        """DELETE FROM notify_sent WHERE (exception_id, person) IN
                           (SELECT exception_id, person FROM _pacing_in)"""
                    )
                    cur.execute("INSERT INTO notify_sent SELECT * FROM _pacing_in")
                finally:
                    cur.unregister("_pacing_in")
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        finally:
            cur.close()
    return written


def due(cur: duckdb.DuckDBPyConnection, *, at: datetime, limit: int = 100) -> list[dict]:
    """Messages to send now: pending ones whose next attempt is due, and ones left `sending` by a server
    that stopped mid-delivery (sent again with the same key); the worst exceptions first (a burst of
    thousands at a large plant's first plan must not hold a critical stop back), then the oldest."""
    try:
        return rows(
            cur,
            """SELECT * FROM notify_outbox
               WHERE (state = ? AND next_attempt_at <= ?) OR state = ?
               ORDER BY priority, created_at, message_key LIMIT ?""",
            [PENDING, at, SENDING, limit],
        )
    except duckdb.CatalogException:
        return []


def _update(store: Store, sql: str, params: list[Any], attempt: tuple[str, datetime, bool, str | None] | None) -> None:
    with store.write_lock:
        cur = store.cursor()
        try:
            cur.execute("BEGIN TRANSACTION")
            cur.execute(sql, params)
            if attempt is not None:
                cur.execute("INSERT INTO notify_attempts VALUES (?, ?, ?, ?)", list(attempt))
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        finally:
            cur.close()


def mark_sending(store: Store, message_key: str) -> None:
    _update(store, "UPDATE notify_outbox SET state = ? WHERE message_key = ?", [SENDING, message_key], None)


def mark_delivered(store: Store, message_key: str, *, at: datetime) -> None:
    _update(
        store,
        "UPDATE notify_outbox SET state = ?, attempts = attempts + 1, delivered_at = ?, last_error = NULL "
        "WHERE message_key = ?",
        [DELIVERED, at, message_key],
        (message_key, at, True, None),
    )


def mark_attempt_failed(store: Store, message_key: str, error: str, *, at: datetime, retry_at: datetime | None) -> None:
    """A failed attempt: pending again until `retry_at`, or `failed` for good when it is None."""
    state = FAILED if retry_at is None else PENDING
    _update(
        store,
        "UPDATE notify_outbox SET state = ?, attempts = attempts + 1, last_error = ?, next_attempt_at = ? "
        "WHERE message_key = ?",
        [state, error, retry_at or at, message_key],
        (message_key, at, False, error),
    )


def backoff(
    attempts: int, *, first: timedelta = timedelta(seconds=2), cap: timedelta = timedelta(minutes=10)
) -> timedelta:
    """How long to wait after the `attempts`-th failed attempt: doubling from `first`, at most `cap`."""
    return min(cap, first * (2 ** max(0, attempts - 1)))


def deliveries(
    cur: duckdb.DuckDBPyConnection,
    *,
    exception_id: str | None = None,
    failed_only: bool = False,
    limit: int = 500,
) -> list[dict]:
    """Messages with their delivery state, newest first: for one exception, or all; `failed_only`: those
    that failed for good. The channel is shown without credentials."""
    from planner_tui.urls import redact_url

    try:
        found = rows(
            cur,
            """SELECT message_key, exception_id, person, channel, why, reason, subject, created_at, state, attempts,
                      last_error, delivered_at
               FROM notify_outbox
               WHERE (? IS NULL OR exception_id = ?) AND (NOT ? OR state = ?)
               ORDER BY created_at DESC, message_key LIMIT ?""",
            [exception_id, exception_id, failed_only, FAILED, limit],
        )
    except duckdb.CatalogException:
        return []
    for d in found:
        d["channel"] = redact_url(d["channel"])
    return found
