"""Finding a snapshot's files: in a folder, or fetched from an http(s) base URL into a temporary folder.

A snapshot is one file per contract table, named `<table><ext>` with ext one of contract.FORMATS, plus
an optional `snapshot.json` describing the extract. This module only finds (and downloads) files; reading
and validating them is the loader's job.

A download is bounded: the whole of it must finish within DOWNLOAD_DEADLINE seconds and hold at most
DOWNLOAD_MAX_BYTES (decoded: a gzip body counts as what it expands to), both settable through the
environment (DEADLINE_ENV, MAX_BYTES_ENV). URLs are shown and recorded without their credentials.

Headers, tokens and client certificates come from the settings' `[[credentials]]` (planner_tui/credentials.py),
never from the command line. A transient failure (no connection, a timeout, 429/502/503/504) is tried again
up to RETRY_ATTEMPTS times in all, with exponential backoff and jitter, within the download's deadline.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import random
import shutil
import ssl
import tempfile
import time
import zoneinfo
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx

from planner_tui import credentials
from planner_tui.errors import BadRequest, PlannerError, Problem
from planner_tui.store.contract import FORMATS, MAX_YEAR, MIN_YEAR, TABLES
from planner_tui.timeutil import iso, parse_timestamp
from planner_tui.urls import redact_text, redact_url

META_FILE = "snapshot.json"

log = logging.getLogger(__name__)

# Generous for large Parquet files on a plant network, but a dead server fails in seconds, not minutes.
HTTP_READ_TIMEOUT = 60.0
HTTP_CONNECT_TIMEOUT = 10.0
HTTP_TIMEOUT = httpx.Timeout(HTTP_READ_TIMEOUT, connect=HTTP_CONNECT_TIMEOUT)

# A server that trickles a byte every few seconds never trips the read timeout: the whole download
# has a deadline too. And a gzip body of 1 MB can expand to gigabytes: the decoded bytes are capped.
DOWNLOAD_DEADLINE = 600.0  # seconds, for every file of one snapshot together
DOWNLOAD_MAX_BYTES = 8 << 30  # decoded bytes, every file together
DEADLINE_ENV = "PLANNER_TUI_DOWNLOAD_DEADLINE"
MAX_BYTES_ENV = "PLANNER_TUI_DOWNLOAD_MAX_BYTES"
# A compressed body that expands more than this many times is a bomb, not an extract: CSV and JSON
# compress 5 to 50 times, Parquet hardly at all, a gigabyte of zeros a thousand times. Judged once a
# file has expanded past BOMB_FLOOR, so that a small, very regular file is never suspected.
MAX_EXPANSION = 200
BOMB_FLOOR = 16 << 20

# A server restarting behind its proxy (502/503/504), a rate limit (429), a dropped connection: tried again
# a few times, as the feeds are (feeds/http.py), waiting RETRY_BACKOFF * 2**n seconds (half of it jittered,
# so clients do not come back in lockstep) or what Retry-After asks, if it asks for at most RETRY_AFTER_MAX.
RETRY_ATTEMPTS = 3  # in all, the first one included
RETRY_BACKOFF = 0.5
RETRY_BACKOFF_MAX = 8.0
RETRY_AFTER_MAX = 30.0
TRANSIENT_STATUS = frozenset({429, 502, 503, 504})

# DuckDB's readers take a path as a glob pattern: a folder named `plant[1]` would read `plant1/`.
_GLOB_CHARS = frozenset("*?[]{}\\")


@dataclass
class SnapshotFiles:
    """What a snapshot source holds: the file found for each table, and problems finding them."""

    source: str  # as shown and recorded: a URL without its credentials
    folder: Path
    files: dict[str, Path] = field(default_factory=dict)  # table name -> file
    meta: dict[str, str | None] = field(default_factory=dict)  # as_of, plant, timezone, calendar
    problems: list[Problem] = field(default_factory=list)
    broken: set[str] = field(default_factory=set)  # tables that cannot be read at all


def is_url(source: str | os.PathLike) -> bool:
    return isinstance(source, str) and source.lower().startswith(("http://", "https://"))


def shown_source(source: str | os.PathLike) -> str:
    """The source as it is printed and recorded: a URL without credentials, a folder as an absolute path."""
    return redact_url(str(source)) if is_url(source) else str(Path(source).resolve())


@contextmanager
def open_source(source: str | os.PathLike) -> Iterator[SnapshotFiles]:
    """The snapshot's files; for a URL they are downloaded into a temporary folder removed afterwards."""
    if is_url(source):
        folder = Path(tempfile.mkdtemp(prefix="planner_tui_snapshot_", dir=_plain_temp_dir()))
        try:
            _download(str(source), folder)
            yield _scan(shown_source(source), folder, single_format=True)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    else:
        folder = Path(source).resolve()
        if not folder.exists():
            raise PlannerError(f"no snapshot at {folder}: give a folder of table files or an http(s) base URL")
        if not folder.is_dir():
            raise PlannerError(f"{folder} is not a folder: a snapshot is a folder of table files (or an http(s) URL)")
        found = _scan(str(folder), folder, single_format=False)
        if not any(c in _GLOB_CHARS for c in str(folder)):
            yield found
            return
        links = Path(tempfile.mkdtemp(prefix="planner_tui_links_", dir=_plain_temp_dir()))
        try:
            found.files = {name: _plain_link(path, links) for name, path in found.files.items()}
            yield found
        finally:
            shutil.rmtree(links, ignore_errors=True)


def _plain_temp_dir() -> str:
    """A temporary folder whose path DuckDB cannot take for a pattern."""
    for candidate in (tempfile.gettempdir(), "/tmp", "/var/tmp"):
        if not any(c in _GLOB_CHARS for c in candidate) and os.path.isdir(candidate):
            return candidate
    raise PlannerError(
        f"the temporary folder {tempfile.gettempdir()} has one of * ? [ ] {{ }} \\ in its path: "
        "point TMPDIR at a plain folder"
    )


def _plain_link(path: Path, folder: Path) -> Path:
    """`path` under a plain name (the same file name) in `folder`, for DuckDB to read as it is."""
    link = folder / path.name
    try:
        link.symlink_to(path)
    except OSError as exc:
        raise PlannerError(
            f"cannot read {path}: its folder's name has one of * ? [ ] {{ }} \\, which DuckDB reads as a "
            f"pattern, and no plain link to it could be made ({exc.strerror or exc}); rename the folder"
        ) from None
    return link


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
            found.problems.append(
                Problem(f"{t.name}.*", f"required table {t.name} is missing (looked for {alternatives})")
            )
            found.broken.add(t.name)
    meta_path = folder / META_FILE
    if meta_path.is_file():
        found.meta = _read_meta(meta_path, found.problems)
    return found


def _read_meta(path: Path, problems: list[Problem]) -> dict[str, str | None]:
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except RecursionError:
        problems.append(Problem(META_FILE, "not valid JSON: nested too deeply"))
        return {}
    except (ValueError, UnicodeDecodeError) as exc:
        problems.append(Problem(META_FILE, f"not valid JSON: {exc}"))
        return {}
    except OSError as exc:
        problems.append(Problem(META_FILE, f"cannot read the file: {exc.strerror or exc}"))
        return {}
    if not isinstance(data, dict):
        problems.append(
            Problem(META_FILE, 'expected a JSON object like {"as_of": "2026-11-25T06:00:00Z", "plant": "..."}')
        )
        return {}
    meta: dict[str, str | None] = {"as_of": None, "plant": None, "timezone": None, "calendar": None}
    as_of = data.get("as_of")
    if as_of not in (None, ""):
        try:
            value = parse_timestamp(str(as_of), what="as_of")
        except (BadRequest, OverflowError, ValueError):  # an offset can push year 1 out of range
            problems.append(Problem(META_FILE, "not an ISO 8601 timestamp", column="as_of", value=str(as_of)))
        else:
            if MIN_YEAR <= value.year <= MAX_YEAR:
                meta["as_of"] = iso(value)
            else:
                problems.append(
                    Problem(META_FILE, f"outside the years {MIN_YEAR} to {MAX_YEAR}", column="as_of", value=str(as_of))
                )
    plant = data.get("plant")
    if plant not in (None, ""):
        if is_text(str(plant)):
            meta["plant"] = str(plant)
        else:
            problems.append(Problem(META_FILE, f"not valid text: {HALF_CHARACTER}", column="plant"))
    timezone = data.get("timezone")
    if timezone not in (None, ""):
        problem = timezone_problem(timezone)
        if problem:
            problems.append(Problem(META_FILE, problem, column="timezone", value=str(timezone)))
        else:
            meta["timezone"] = str(timezone)
    calendar = data.get("calendar")
    if calendar not in (None, ""):
        if not isinstance(calendar, str):
            problems.append(Problem(META_FILE, "not a calendar id (text)", column="calendar", value=str(calendar)))
        elif not is_text(calendar):
            problems.append(Problem(META_FILE, f"not valid text: {HALF_CHARACTER}", column="calendar"))
        elif calendar.strip():  # only blanks: no calendar, as if left out
            meta["calendar"] = calendar  # that calendars defines it is checked once the tables are read
    return meta


def timezone_problem(name: object) -> str | None:
    """What is wrong with a time zone name for the plant (None: it is a known IANA name)."""
    if not isinstance(name, str) or not is_text(name):
        return "not a time zone name (text such as Europe/Berlin)"
    known = _known_timezones()
    if not known:
        return "no time zone data on this system: install the tzdata package (Debian: apt install tzdata)"
    if name not in known:
        return "not a known time zone (an IANA name such as Europe/Berlin or UTC)"
    return None


@functools.cache
def _known_timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


# JSON's "\ud800" decodes to half a UTF-16 pair: it has no UTF-8 form and cannot be stored.
HALF_CHARACTER = "a \\u escape names half a character (a lone surrogate)"


def is_text(value: str) -> bool:
    """False for a string holding a lone surrogate (from a JSON "\\ud800"): it has no UTF-8 form."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


# --- downloading ------------------------------------------------------------------------------------


def _setting(name: str, default: float, unit: str) -> float:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0 or value == float("inf"):
        raise BadRequest(f"{name} must be a positive number of {unit}, got {text!r}")
    return value


def _seconds(value: float) -> str:
    return f"{value:g} s" + (f" ({value / 60:g} min)" if value >= 120 and value % 60 == 0 else "")


def _size(value: float) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if value >= scale:
            return f"{value / scale:.3g} {unit}"
    return f"{value:g} bytes"


def max_download_bytes() -> int:
    """The most a snapshot may hold (decoded, every file together): PLANNER_TUI_DOWNLOAD_MAX_BYTES."""
    return int(_setting(MAX_BYTES_ENV, DOWNLOAD_MAX_BYTES, "bytes"))


class _Budget:
    """What is left of the whole download's time and size."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self.deadline = _setting(DEADLINE_ENV, DOWNLOAD_DEADLINE, "seconds")
        self.max_bytes = max_download_bytes()
        self.stop_at = time.monotonic() + self.deadline
        self.used = 0

    def remaining(self) -> float:
        return self.stop_at - time.monotonic()

    def late(self) -> PlannerError:
        return PlannerError(
            f"the snapshot download from {redact_url(self.base_url)} did not finish within its "
            f"{_seconds(self.deadline)} deadline (for all its files together); the server is too slow or "
            f"stalled. Set {DEADLINE_ENV} (seconds) to allow longer."
        )

    def take(self, size: int, url: httpx.URL) -> None:
        self.used += size
        if self.used > self.max_bytes:
            raise PlannerError(
                f"the snapshot download is larger than its {_size(self.max_bytes)} limit (decompressed, all "
                f"files together) at {redact_url(str(url))}. Set {MAX_BYTES_ENV} (bytes) to allow more."
            )


def file_url(base_url: str, name: str) -> str:
    """`name` under the base URL's path; its query (an access token, say) is kept for every file."""
    parts = urlsplit(base_url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/") + "/" + name, parts.query, ""))


def _download(base_url: str, folder: Path) -> None:
    """Fetch every table file the server has (the first format found per table) and snapshot.json."""
    budget = _Budget(base_url)
    shown = redact_url(base_url)
    try:
        urlsplit(base_url).port  # noqa: B018 - parsing it is the check: a bad IPv6 literal or port
    except ValueError as exc:
        raise PlannerError(f"not a usable snapshot URL {shown}: {redact_text(str(exc), base_url)}") from None
    found_any = False
    # An unset ${NAME} or an unreadable certificate stops here, before any request, with its own message.
    options = credentials.httpx_options(base_url)
    try:
        with httpx.Client(timeout=HTTP_TIMEOUT, follow_redirects=True, **options) as client:
            for t in TABLES:
                for ext in FORMATS:
                    if _fetch_retrying(client, file_url(base_url, t.name + ext), folder / f"{t.name}{ext}", budget):
                        found_any = True
                        break
            _fetch_retrying(client, file_url(base_url, META_FILE), folder / META_FILE, budget)
    except httpx.TimeoutException as exc:
        if budget.remaining() <= 1.0:  # a timeout cut to what was left of the deadline
            raise budget.late() from None
        raise PlannerError(f"snapshot server at {_server(exc, base_url)} timed out") from None
    except httpx.ConnectError as exc:
        raise PlannerError(_connect_failure(exc, base_url)) from None
    except httpx.HTTPError as exc:
        raise PlannerError(
            f"cannot fetch the snapshot from {_server(exc, base_url)}: {redact_text(str(exc), base_url)}"
        ) from None
    except (httpx.InvalidURL, UnicodeError) as exc:
        # A bad port or host (`http://a..b/`): httpx and the idna codec say so, neither as an HTTPError.
        raise PlannerError(f"not a usable snapshot URL {shown}: {redact_text(str(exc), base_url)}") from None
    except OSError as exc:  # writing the temporary copy: a full disk, a quota
        raise PlannerError(
            f"cannot keep the snapshot downloaded from {shown} in {folder}: {exc.strerror or exc}"
        ) from None
    if not found_any:
        raise PlannerError(
            f"no snapshot at {shown}: none of the table files was found there "
            f"(e.g. {redact_url(file_url(base_url, 'machines.csv'))})"
        )


def _server(exc: httpx.HTTPError, base_url: str) -> str:
    """Where a request failed: the base URL, or the server a redirect led to (named with its URL)."""
    try:
        failed = exc.request.url
    except RuntimeError:  # an error raised before any request
        return redact_url(base_url)
    try:
        base = httpx.URL(base_url)  # as httpx compares: default ports, lower-case hosts
    except httpx.InvalidURL:
        return redact_url(str(failed))
    if (failed.scheme, failed.host, failed.port) == (base.scheme, base.host, base.port):
        return redact_url(base_url)
    return f"{redact_url(str(failed))} (redirected from {redact_url(base_url)})"


class _Again(Exception):
    """A transient failure of one request: `failure` says what (redacted), `wait` what Retry-After asked."""

    def __init__(self, failure: str, wait: float | None = None):
        super().__init__(failure)
        self.failure, self.wait = failure, wait


def _fetch_retrying(client: httpx.Client, url: str, dest: Path, budget: _Budget) -> bool:
    """_fetch, tried again after a transient failure; the last failure, with how many attempts were made,
    is the error. What a failed attempt wrote is given back to the budget: the next one writes it again."""
    attempt = 0
    while True:
        attempt += 1
        used = budget.used
        try:
            return _fetch(client, url, dest, budget)
        except _Again as again:
            failure, wait = again.failure, again.wait
        except httpx.TimeoutException as exc:
            if budget.remaining() <= 1.0:  # a timeout cut to what was left of the deadline
                raise budget.late() from None
            failure, wait = f"the snapshot server at {_server(exc, budget.base_url)} timed out", None
        except httpx.ConnectError as exc:
            if _tls_reason(exc) is not None:  # a certificate refused is refused again: not transient
                raise PlannerError(_connect_failure(exc, budget.base_url)) from None
            failure, wait = _connect_failure(exc, budget.base_url), None
        except (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError) as exc:
            if _tls_reason(exc) is not None:  # TLS 1.3 says "certificate required" after the handshake
                raise PlannerError(_connect_failure(exc, budget.base_url)) from None
            reason = redact_text(str(exc), budget.base_url) or type(exc).__name__
            failure, wait = (
                f"the connection to the snapshot server at {_server(exc, budget.base_url)} broke: {reason}",
                None,
            )
        budget.used = used
        plural = "s" if attempt > 1 else ""
        if wait is not None and wait > RETRY_AFTER_MAX:
            raise PlannerError(f"{failure}, asking to come back in {wait:g} s ({attempt} attempt{plural}); try later")
        if attempt >= RETRY_ATTEMPTS:
            raise PlannerError(f"{failure} ({attempt} attempt{plural})")
        delay = wait if wait is not None else _backoff(attempt)
        if delay >= budget.remaining():
            raise PlannerError(
                f"{failure} ({attempt} attempt{plural}; the download's deadline leaves no time for more)"
            )
        log.info("%s; trying again in %.1f s (attempt %d of %d)", failure, delay, attempt + 1, RETRY_ATTEMPTS)
        time.sleep(delay)


def _backoff(attempt: int) -> float:
    base = min(RETRY_BACKOFF_MAX, RETRY_BACKOFF * 2 ** (attempt - 1))
    return base / 2 + base / 2 * random.random()  # "equal jitter", as the feeds: never zero, never in lockstep


def _retry_after(response: httpx.Response) -> float | None:
    """The seconds a Retry-After header asks for (a number of seconds or an HTTP date); None without one."""
    text = response.headers.get("retry-after", "").strip()
    if not text:
        return None
    if text.isdigit():
        return float(text)
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None  # unreadable: the usual backoff
    if when.tzinfo is None:
        return None
    from datetime import datetime

    return max(0.0, (when - datetime.now(when.tzinfo)).total_seconds())


def _tls_reason(exc: BaseException) -> str | None:
    """The TLS failure behind an httpx error (its ssl.SSLError), else None."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ssl.SSLError):
            return current.reason or str(current)
        current = current.__cause__ or current.__context__
    text = str(exc)  # an SSL error httpx kept only as text
    return text if "[SSL" in text or "alert" in text.lower() else None


def _connect_failure(exc: httpx.TransportError, base_url: str) -> str:
    """Why a connection failed, saying which setting to change when TLS refused it."""
    server = _server(exc, base_url)
    reason = _tls_reason(exc)
    reason = redact_text(reason, base_url) if reason is not None else None
    if reason is None:
        return (
            f"cannot reach the snapshot server at {server}: {redact_text(str(exc), base_url) or 'connection refused'}"
        )
    try:
        credential = credentials.for_url(base_url)
    except PlannerError:
        credential = None
    if credential is not None:
        entry = f"{credential.place} (url = {redact_url(credential.url)!r})"
    else:
        entry = credentials.suggested_entry(base_url)
    in_file = f"in the settings file ({credentials.settings_file()})"
    if "VERIFY_FAILED" in reason.upper() or "verify failed" in str(exc).lower():
        return (
            f"the snapshot server at {server} presents a certificate this client does not trust ({reason}): "
            f"set ca (the site's CA file) in {entry} {in_file}"
        )
    if credential is not None and credential.client_cert is not None:
        return (
            f"the snapshot server at {server} refused the TLS connection ({reason}): it did not accept the "
            f"client certificate of {entry}"
        )
    return (
        f"the snapshot server at {server} refused the TLS connection ({reason}): it may require a client "
        f"certificate: set client_cert (and client_key) in {entry} {in_file}"
    )


def _fetch(client: httpx.Client, url: str, dest: Path, budget: _Budget) -> bool:
    """Download url to dest; False when the server does not have it (404/410); _Again for a transient answer."""
    remaining = budget.remaining()
    if remaining <= 0:
        raise budget.late()
    # No single read may outlive the deadline either (the per-read timeout alone never ends a trickle).
    timeout = httpx.Timeout(min(HTTP_READ_TIMEOUT, remaining), connect=min(HTTP_CONNECT_TIMEOUT, remaining))
    with client.stream("GET", url, timeout=timeout) as response:
        if response.status_code in (404, 410):
            return False
        if response.status_code >= 400:
            redirected = f" (redirected from {redact_url(url)})" if response.history else ""
            answered = (
                f"the snapshot server answered {response.status_code} {response.reason_phrase} for "
                f"{redact_url(str(response.url))}{redirected}"
            )
            if response.status_code in TRANSIENT_STATUS:
                raise _Again(answered, _retry_after(response))
            if response.status_code in (401, 403):
                raise PlannerError(f"{answered}: {credentials.reason_refused(budget.base_url, response.status_code)}")
            raise PlannerError(answered)
        declared = response.headers.get("content-length", "")
        if (
            declared.isdigit()
            and not response.headers.get("content-encoding")
            and budget.used + int(declared) > budget.max_bytes
        ):
            budget.take(int(declared), response.url)  # refuses before a byte is written
        with dest.open("wb") as out:
            # iter_bytes decodes a gzip/deflate body: what is counted is what lands on disk.
            written = 0
            for chunk in response.iter_bytes():
                budget.take(len(chunk), response.url)
                written += len(chunk)
                if written > BOMB_FLOOR and written > MAX_EXPANSION * max(response.num_bytes_downloaded, 1):
                    raise PlannerError(
                        f"{redact_url(str(response.url))} expands more than {MAX_EXPANSION} times as it is "
                        f"decompressed ({response.num_bytes_downloaded:,} bytes sent, over {written:,} "
                        "written): a compression bomb, not a snapshot file; refused"
                    )
                out.write(chunk)
                if budget.remaining() <= 0:
                    raise budget.late()
    return True
