"""Credentials for the feeds and snapshot sources the settings file names (issue 13): headers, bearer
tokens, basic auth and client certificates, matched to a URL by prefix. Never taken from the command
line (`ps` would show them); `${NAME}` is read from the environment when a connection is made.

    [[credentials]]
    url = "https://mes.plant.example/events"   # every URL starting with this (the longest match wins)
    bearer = "${MES_TOKEN}"

STUB: filled in by the credentials work of issue 13. The interface below is what the feeds (http.py,
mqtt.py) and the snapshot sources (store/sources.py) call.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class CredentialsError(ValueError):
    """A `credentials` setting that cannot be used: `key` is its place (`[2].bearer`), `value` what was there."""

    def __init__(self, key: str, why: str, value: Any):
        super().__init__(f"{key}: {why}")
        self.key, self.why, self.value = key, why, value


@dataclass(frozen=True)
class Credential:
    """One `[[credentials]]` entry, as written (`${NAME}` not yet read)."""

    url: str  # the prefix it applies to
    headers: Mapping[str, str] = field(default_factory=dict)
    bearer: str | None = None
    username: str | None = None
    password: str | None = None
    client_cert: Path | None = None  # PEM; the key in it or in client_key (mTLS, HTTP and MQTT)
    client_key: Path | None = None
    ca: Path | None = None  # a CA file to trust for this server instead of the system's

    def resolved(self) -> Credential:
        """This entry with every `${NAME}` read from the environment (a PlannerError names an unset one)."""
        return self


def parse(value: Any, base: Path | None) -> tuple[Credential, ...]:
    """The checked `credentials` setting (a list of tables); CredentialsError naming the bad entry."""
    return ()


def shown(value: Any) -> Any:
    """The parsed setting as `config show` prints it: plain JSON values, every secret masked."""
    return []


def for_url(url: str, credentials: Sequence[Credential] | None = None) -> Credential | None:
    """The entry for `url` (the longest matching prefix), resolved; None when none matches. Default: the
    settings in force."""
    return None


def httpx_options(url: str, credentials: Sequence[Credential] | None = None) -> dict[str, Any]:
    """Keyword arguments for httpx.Client(...) reaching `url`: headers, auth, cert, verify; {} without
    credentials for it."""
    return {}
