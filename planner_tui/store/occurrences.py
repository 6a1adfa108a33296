"""When each occurrence of an exception was first detected (issue 15).

The engine detects exceptions afresh at every question; only some kinds know when theirs began (a machine's
stop has its `since`). For the others (a shortage, a late line) the first answer that listed an occurrence
records when it was detected here, so its age keeps counting from then across refreshes and restarts
instead of starting again at every look. An occurrence is the exception id with its kind's fingerprint
(`ExceptionKind.occurrence`): a shortage hitting another first order is another occurrence.
"""

from __future__ import annotations

import logging
from datetime import datetime

import duckdb

from planner_tui.store.db import Store

log = logging.getLogger(__name__)

Key = tuple[str, str]  # (exception_id, occurrence)


def first_detected(cur: duckdb.DuckDBPyConnection) -> dict[Key, datetime]:
    """(exception id, occurrence) -> when it was first detected; empty for a store from before issue 15
    opened read-only (it has no such table, and a reader may not add one)."""
    try:
        found = cur.execute("SELECT exception_id, occurrence, first_detected_at FROM exception_occurrences").fetchall()
    except duckdb.CatalogException:
        return {}
    return {(exception_id, occurrence): at for exception_id, occurrence, at in found}


def record(store: Store, detected: list[tuple[str, str, datetime]]) -> None:
    """Keep (exception id, occurrence, first detected at) for those not kept yet; the first record of an
    occurrence wins (two readers racing to record one keep the same moment or the earlier one's)."""
    if not detected or store.read_only:
        return
    with store.write_lock:
        cur = store.cursor()
        try:
            cur.execute(
                """
                INSERT INTO exception_occurrences
                SELECT * FROM (SELECT unnest(?::VARCHAR[]) AS i, unnest(?::VARCHAR[]) AS o, unnest(?::TIMESTAMP[]) AS t)
                ON CONFLICT DO NOTHING
                """,
                [[d[0] for d in detected], [d[1] for d in detected], [d[2] for d in detected]],
            )
        except duckdb.Error as error:
            # Not the planner's data: the inbox is answered anyway, and the next look records them.
            log.warning("could not keep %d first detections: %s", len(detected), error)
        finally:
            cur.close()
