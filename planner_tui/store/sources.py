"""Finding a snapshot's files: in a folder, or fetched from an http(s) base URL into a temporary folder.

A snapshot is one file per contract table, named `<table><ext>` with ext one of contract.FORMATS, plus
an optional `snapshot.json` describing the extract. This module only finds (and downloads) files; reading
and validating them is the loader's job.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import httpx

from planner_tui.errors import BadRequest, PlannerError, Problem
from planner_tui.store.contract import FORMATS, TABLES
from planner_tui.timeutil import iso, parse_timestamp

META_FILE = "snapshot.json"

# Generous for large Parquet files on a plant network, but a dead server fails in seconds, not minutes.
HTTP_TIMEOUT = httpx.Timeout(60.0, connect=10.0)


@dataclass
class SnapshotFiles:
    """What a snapshot source holds: the file found for each table, and problems finding them."""

    source: str
    folder: Path
    files: dict[str, Path] = field(default_factory=dict)  # table name -> file
    meta: dict[str, str | None] = field(default_factory=dict)  # as_of, plant from snapshot.json
    problems: list[Problem] = field(default_factory=list)
    broken: set[str] = field(default_factory=set)  # tables that cannot be read at all


def is_url(source: str | os.PathLike) -> bool:
    return isinstance(source, str) and source.lower().startswith(("http://", "https://"))


@contextmanager
def open_source(source: str | os.PathLike) -> Iterator[SnapshotFiles]:
    """The snapshot's files; for a URL they are downloaded into a temporary folder removed afterwards."""
    if is_url(source):
        folder = Path(tempfile.mkdtemp(prefix="planner_tui_snapshot_"))
        try:
            _download(str(source), folder)
            yield _scan(str(source), folder, single_format=True)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    else:
        folder = Path(source)
        if not folder.exists():
            raise PlannerError(f"no snapshot at {folder}: give a folder of table files or an http(s) base URL")
        if not folder.is_dir():
            raise PlannerError(f"{folder} is not a folder: a snapshot is a folder of table files (or an http(s) URL)")
        yield _scan(str(source), folder, single_format=False)


def _scan(source: str, folder: Path, *, single_format: bool) -> SnapshotFiles:
    found = SnapshotFiles(source=source, folder=folder)
    for t in TABLES:
        present = [folder / f"{t.name}{ext}" for ext in FORMATS if (folder / f"{t.name}{ext}").is_file()]
        if len(present) > 1 and not single_format:
            names = " and ".join(p.name for p in present)
            found.problems.append(
                Problem(present[0].name, f"the table {t.name} is given twice ({names}): keep one format per table")
            )
            found.broken.add(t.name)
        elif present:
            found.files[t.name] = present[0]
        elif t.required:
            alternatives = ", ".join(f"{t.name}{ext}" for ext in FORMATS)
            found.problems.append(Problem(f"{t.name}.*", f"required table {t.name} is missing (looked for {alternatives})"))
            found.broken.add(t.name)
    meta_path = folder / META_FILE
    if meta_path.is_file():
        found.meta = _read_meta(meta_path, found.problems)
    return found


def _read_meta(path: Path, problems: list[Problem]) -> dict[str, str | None]:
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (ValueError, UnicodeDecodeError) as exc:
        problems.append(Problem(META_FILE, f"not valid JSON: {exc}"))
        return {}
    if not isinstance(data, dict):
        problems.append(Problem(META_FILE, 'expected a JSON object like {"as_of": "2026-11-25T06:00:00Z", "plant": "..."}'))
        return {}
    meta: dict[str, str | None] = {"as_of": None, "plant": None}
    as_of = data.get("as_of")
    if as_of not in (None, ""):
        try:
            meta["as_of"] = iso(parse_timestamp(str(as_of), what="as_of"))
        except BadRequest:
            problems.append(Problem(META_FILE, "not an ISO 8601 timestamp", column="as_of", value=str(as_of)))
    plant = data.get("plant")
    if plant not in (None, ""):
        meta["plant"] = str(plant)
    return meta


def _download(base_url: str, folder: Path) -> None:
    """Fetch every table file the server has (the first format found per table) and snapshot.json."""
    base = base_url.rstrip("/") + "/"
    found_any = False
    try:
        with httpx.Client(timeout=HTTP_TIMEOUT, follow_redirects=True) as client:
            for t in TABLES:
                for ext in FORMATS:
                    if _fetch(client, base + t.name + ext, folder / f"{t.name}{ext}"):
                        found_any = True
                        break
            _fetch(client, base + META_FILE, folder / META_FILE)
    except httpx.TimeoutException:
        raise PlannerError(f"snapshot server at {base_url} timed out") from None
    except httpx.ConnectError as exc:
        raise PlannerError(f"cannot reach the snapshot server at {base_url}: {exc or 'connection refused'}") from None
    except httpx.HTTPError as exc:
        raise PlannerError(f"cannot fetch the snapshot from {base_url}: {exc}") from None
    if not found_any:
        raise PlannerError(
            f"no snapshot at {base_url}: none of the table files was found there (e.g. {base}machines.csv)"
        )


def _fetch(client: httpx.Client, url: str, dest: Path) -> bool:
    """Download url to dest; False when the server does not have it (404/410)."""
    with client.stream("GET", url) as response:
        if response.status_code in (404, 410):
            return False
        if response.status_code >= 400:
            raise PlannerError(
                f"the snapshot server answered {response.status_code} {response.reason_phrase} for {url}"
            )
        with dest.open("wb") as out:
            for chunk in response.iter_bytes(1 << 20):
                out.write(chunk)
    return True
