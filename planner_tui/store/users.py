"""The plant server's users: a name, a role and a bearer token, of which only a SHA-256 hash is kept.

An `ingest` user (a producer pushing CloudEvents to the server) may be held to the CloudEvents `source`s
it speaks for: `sources`, kept as a JSON list (NULL: any source). Only the ingest role takes them.

Tokens are 256 random bits (`secrets.token_urlsafe(32)`): a fast hash is enough, as nobody can guess
one; a slow password hash would only slow every request. A revoked user keeps its row (the audit trail
names them) and can be added again under the same name with a new token.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Iterable
from datetime import datetime

import duckdb

from planner_tui.errors import BadRequest, NotFound
from planner_tui.roles import RIGHTS, ROLES
from planner_tui.store.db import Store
from planner_tui.timeutil import utcnow

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def check_role(role: str) -> str:
    role = (role or "").strip().lower()
    if role not in ROLES:
        raise BadRequest(f"unknown role {role!r}: expected one of {', '.join(ROLES)}")
    return role


MAX_SOURCE_CHARS = 2048  # a CloudEvents source is a URI-reference: a URL's length is plenty


def check_sources(role: str, sources: Iterable[str] | None) -> list[str] | None:
    """The sources an ingest token is held to, cleaned (order kept, no repeats); None for any source."""
    if sources is None:
        return None
    cleaned = list(dict.fromkeys(str(source).strip() for source in sources))
    if not cleaned:
        return None
    if "ingest" not in RIGHTS.get(role, frozenset()):
        raise BadRequest(f"--source holds a producer to the events it may push: only for --role ingest, not {role}")
    for source in cleaned:
        if not source or len(source) > MAX_SOURCE_CHARS or not source.isprintable():
            raise BadRequest(
                f"bad source {source!r}: a CloudEvents source as the producer sends it (a URI such as "
                f"urn:plant:nordhavn-aar:mes), 1-{MAX_SOURCE_CHARS} printable characters"
            )
    return cleaned


def _sources_of(text: str | None) -> list[str] | None:
    return None if text is None else [str(source) for source in json.loads(text)]


def add_user(
    store: Store,
    name: str,
    role: str,
    *,
    by: str,
    at: datetime | None = None,
    sources: Iterable[str] | None = None,
) -> tuple[dict, str]:
    """A new user (or a revoked one again) and its token, which is returned once and never stored.
    `sources` (ingest only) holds its token to events of those CloudEvents sources."""
    name = (name or "").strip()
    if not _NAME_RE.match(name):
        raise BadRequest(
            f"bad user name {name!r}: 1-64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit"
        )
    role = check_role(role)
    allowed = check_sources(role, sources)
    token = secrets.token_urlsafe(32)
    at = at or utcnow()
    with store.write_lock:
        cur = store.cursor()
        try:
            cur.begin()
            existing = cur.execute("SELECT revoked_at FROM server_users WHERE name = ?", [name]).fetchall()
            if existing and existing[0][0] is None:
                cur.rollback()
                raise BadRequest(f"user {name!r} exists: revoke it first to issue a new token")
            cur.execute("DELETE FROM server_users WHERE name = ?", [name])
            cur.execute(
                "INSERT INTO server_users (name, role, token_sha256, created_at, created_by, sources) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [name, role, token_hash(token), at, by, None if allowed is None else json.dumps(allowed)],
            )
            cur.commit()
        except duckdb.Error:
            cur.rollback()
            raise
        finally:
            cur.close()
    made = {"name": name, "role": role, "created_at": at, "created_by": by, "revoked_at": None, "sources": allowed}
    return made, token


def list_users(cur: duckdb.DuckDBPyConnection) -> list[dict]:
    """Every user; `sources` is the list an ingest token is held to, or None (any source)."""
    rows = cur.execute(
        "SELECT name, role, created_at, created_by, revoked_at, revoked_by, sources FROM server_users ORDER BY name"
    ).fetchall()
    keys = ("name", "role", "created_at", "created_by", "revoked_at", "revoked_by")
    return [{**dict(zip(keys, row[:-1])), "sources": _sources_of(row[-1])} for row in rows]


def revoke_user(store: Store, name: str, *, by: str, at: datetime | None = None) -> dict:
    at = at or utcnow()
    with store.write_lock:
        cur = store.cursor()
        try:
            found = cur.execute(
                "UPDATE server_users SET revoked_at = ?, revoked_by = ? WHERE name = ? AND revoked_at IS NULL "
                "RETURNING name, role",
                [at, by, (name or "").strip()],
            ).fetchall()
        finally:
            cur.close()
    if not found:
        raise NotFound(f"no active user {name!r} (see `planner-tui users list`)")
    return {"name": found[0][0], "role": found[0][1], "revoked_at": at, "revoked_by": by}


def user_for_token(cur: duckdb.DuckDBPyConnection, token: str) -> dict | None:
    """The active user holding `token` ({name, role, sources}), or None."""
    digest = token_hash(token)
    rows = cur.execute(
        "SELECT name, role, token_sha256, sources FROM server_users WHERE token_sha256 = ? AND revoked_at IS NULL",
        [digest],
    ).fetchall()
    if not rows or not hmac.compare_digest(rows[0][2], digest):
        return None
    return {"name": rows[0][0], "role": rows[0][1], "sources": _sources_of(rows[0][3])}


def user_names(cur: duckdb.DuckDBPyConnection) -> set[str]:
    """Every active user's name (a person an exception can be assigned to, beside the plant's owners)."""
    return {row[0] for row in cur.execute("SELECT name FROM server_users WHERE revoked_at IS NULL").fetchall()}
