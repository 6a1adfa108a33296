"""When this person last looked at a plant's inbox (issue 14: "what changed since I looked").

Kept per OS user in their state folder (`looked.json` beside the log), one time per plant: the database
file's path, or the plant server's address. The console reads it when it starts (the inbox marks what is
new or changed since, and a critical change is told at once) and writes it when the planner leaves. A
missing or unreadable file is a first visit, never an error.
"""

from __future__ import annotations

import json
import logging
import os
from datetime import datetime
from pathlib import Path

from planner_tui.timeutil import as_datetime, iso

log = logging.getLogger(__name__)


def looked_file() -> Path:
    from platformdirs import user_state_dir

    return Path(user_state_dir("planner-tui", appauthor=False)) / "looked.json"


def _read(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def last_looked(plant_key: str | None) -> datetime | None:
    if not plant_key:
        return None
    stored = _read(looked_file()).get(plant_key)
    return as_datetime(stored) if isinstance(stored, str) else None


def remember_looked(plant_key: str | None, at: datetime) -> None:
    """Record that the inbox of `plant_key` was looked at until `at` (atomically: a crash keeps the old)."""
    if not plant_key:
        return
    path = looked_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        data = _read(path)
        data[plant_key] = iso(at) or ""
        spare = path.with_suffix(".tmp")
        spare.write_text(json.dumps(data, indent=1, sort_keys=True), encoding="utf-8")
        os.replace(spare, path)
    except OSError as error:  # a read-only home must not stop anyone quitting
        log.warning("could not remember when the inbox was looked at: %s", error)
