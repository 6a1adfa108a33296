"""The plant server's roles and what each may do: one table, read by the settings (`roles`), the users
store and the server's checks."""

from __future__ import annotations

# A role's rights: a viewer reads; a planner also triages; an admin also loads snapshots and manages
# users; ingest may only push events (POST /api/v1/events) and reads nothing. An admin may not push: a
# person's token is not a producer's, so a leaked producer token reads nothing and a person's writes no events.
RIGHTS: dict[str, frozenset[str]] = {
    "viewer": frozenset({"read"}),
    "planner": frozenset({"read", "triage"}),
    "admin": frozenset({"read", "triage", "load", "users"}),
    "ingest": frozenset({"ingest"}),
}
ROLES = tuple(RIGHTS)
DEFAULT_LOCAL_ROLE = "planner"  # a user on the Unix socket the settings do not name
