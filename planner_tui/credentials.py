"""Credentials for the feeds and snapshot sources the settings file names (issue 13): headers, bearer
tokens, basic auth and client certificates, matched to a URL by prefix. Never taken from the command
line (`ps` would show them); `${NAME}` is read from the environment when a connection is made.

    [[credentials]]
    url = "https://mes.plant.example/events"   # every URL starting with this (the longest match wins)
    bearer = "${MES_TOKEN}"

The feeds (http.py, mqtt.py) and the snapshot sources (store/sources.py) call `for_url`, `httpx_options`
and `ssl_context`; `config show` calls `shown`, which never prints a secret.
"""

from __future__ import annotations

import difflib
import os
import re
import ssl
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from planner_tui.errors import PlannerError, SettingEntryError
from planner_tui.urls import MASK, redact_url

SCHEMES = ("http", "https", "mqtt", "mqtts")
_TLS = ("https", "mqtts")
_DEFAULT_PORTS = {"http": 80, "https": 443, "mqtt": 1883, "mqtts": 8883}
KEYS = ("url", "bearer", "username", "password", "headers", "client_cert", "client_key", "client_key_password", "ca")
_SECRET_KEYS = ("bearer", "password", "client_key_password")
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # an RFC 9110 token
# Header names whose values are secrets: masked by `config show` unless written as a `${NAME}` reference.
_SECRET_HEADER_WORDS = ("auth", "token", "key", "secret", "password", "passwd", "cookie", "session", "signature")
# A value shown as written by `config show`: only references, perhaps after an auth scheme ("Bearer ${T}").
_REFERENCE_ONLY = re.compile(r"^(?:[A-Za-z]+ +)?(?:\$\{[A-Za-z_][A-Za-z0-9_]*\})+$")
# Keys people write for the ones meant, which difflib would not find.
_MEANT = {
    "token": "bearer",
    "access_token": "bearer",
    "bearer_token": "bearer",
    "user": "username",
    "cert": "client_cert",
    "key": "client_key",
    "ca_cert": "ca",
    "cacert": "ca",
    "header": "headers",
}


class CredentialsError(SettingEntryError):
    """A `credentials` setting that cannot be used."""


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
    client_key_password: str | None = None  # for an encrypted client_key
    place: str = "credentials"  # where it is in the settings (`credentials[1]`), for messages

    def resolved(self, where: str = "the settings file") -> Credential:
        """This entry with every `${NAME}` read from the environment (a PlannerError names an unset one and
        `where` the entry is: the settings file, by its path when known)."""
        changes: dict[str, Any] = {
            key: self._expand(key, getattr(self, key), where)
            for key in ("bearer", "username", "password", "client_key_password")
            if getattr(self, key) is not None
        }
        changes["headers"] = {
            name: self._expand(f"headers.{name}", value, where) for name, value in self.headers.items()
        }
        return replace(self, **changes)

    def _expand(self, key: str, value: str, where: str) -> str:
        def read(found: re.Match[str]) -> str:
            name = found[1]
            if not os.environ.get(name):
                raise PlannerError(
                    f"{self.place}.{key} (for {redact_url(self.url)}): the environment variable {name} is not set "
                    f"(or empty); set it for this command, or change the entry in {where}"
                )
            return os.environ[name]

        expanded = _VAR.sub(read, value)
        if key.startswith("headers.") and any(ch in expanded for ch in "\r\n\0"):
            # A header split by a newline would smuggle another one in; the value itself is never shown.
            raise PlannerError(f"{self.place}.{key} (for {redact_url(self.url)}): the value holds a line break")
        return expanded

    def ssl_context(self) -> ssl.SSLContext | None:
        """The TLS context for this server: its own CA if `ca`, the client certificate if `client_cert`;
        None when the entry has neither (the client's default applies). Call it on a resolved entry."""
        if self.ca is None and self.client_cert is None:
            return None
        where = f"{self.place} (for {redact_url(self.url)})"
        try:
            if self.ca is not None:
                context = ssl.create_default_context(cafile=str(self.ca))
            else:
                context = _default_context()
        except (OSError, ssl.SSLError) as exc:
            raise PlannerError(f"{where}: cannot read the CA file {self.ca}: {_ssl_reason(exc)}") from None
        if self.client_cert is not None:
            try:
                context.load_cert_chain(
                    str(self.client_cert),
                    str(self.client_key) if self.client_key is not None else None,
                    password=self._key_password(where),
                )
            except (OSError, ssl.SSLError) as exc:
                files = str(self.client_cert) + (f" and {self.client_key}" if self.client_key is not None else "")
                raise PlannerError(
                    f"{where}: cannot use the client certificate {files}: {_ssl_reason(exc)} (expected PEM files: "
                    "the certificate, and its unencrypted key in it or in client_key, or client_key_password set)"
                ) from None
        return context

    def _key_password(self, where: str) -> Callable[[], str]:
        # A callable, never None: without one OpenSSL would prompt on the terminal for an encrypted key.
        def password() -> str:
            if self.client_key_password is None:
                raise PlannerError(
                    f"{where}: the client key is encrypted: set client_key_password (as a ${{NAME}} reference)"
                )
            return self.client_key_password

        return password


def _default_context() -> ssl.SSLContext:
    """The trust httpx uses by default (SSL_CERT_FILE, SSL_CERT_DIR, else certifi), with no CA given."""
    if os.environ.get("SSL_CERT_FILE"):
        return ssl.create_default_context(cafile=os.environ["SSL_CERT_FILE"])
    if os.environ.get("SSL_CERT_DIR"):
        return ssl.create_default_context(capath=os.environ["SSL_CERT_DIR"])
    import certifi

    return ssl.create_default_context(cafile=certifi.where())


def _ssl_reason(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLError):
        return exc.reason or str(exc)
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    return str(exc)


# ---------------------------------------------------------------------------------------- parsing


def parse(value: Any, base: Path | None) -> tuple[Credential, ...]:
    """The checked `credentials` setting (a list of tables); CredentialsError naming the bad entry."""
    entries = [value] if isinstance(value, dict) else value  # a single `credentials = {...}` is one entry
    if not isinstance(entries, list):
        raise CredentialsError("", 'expected [[credentials]] tables, each with url = "..." and what to send', value)
    parsed: list[Credential] = []
    seen: dict[tuple | None, int] = {}
    for index, entry in enumerate(entries):
        credential = _entry(index, entry, base)
        prefix = _prefix(credential.url)
        if prefix in seen:
            raise CredentialsError(
                f"[{index}].url", f"the same url as credentials[{seen[prefix]}]: give each prefix once", credential.url
            )
        seen[prefix] = index
        parsed.append(credential)
    return tuple(parsed)


def _entry(index: int, entry: Any, base: Path | None) -> Credential:
    at = f"[{index}]"
    if not isinstance(entry, dict):
        raise CredentialsError(at, 'expected a table with url = "..." and what to send', entry)
    for key in entry:
        if key not in KEYS:
            close = [_MEANT[key.lower()]] if key.lower() in _MEANT else difflib.get_close_matches(key, KEYS, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            # The value of a misspelt key may well be a secret (`token = "..."`): not echoed.
            value = _shown_secret(entry[key]) if isinstance(entry[key], str) else entry[key]
            raise CredentialsError(f"{at}.{key}", f"unknown key ({hint}the keys are {', '.join(KEYS)})", value)
    if "url" not in entry:
        raise CredentialsError(
            f"{at}.url", "missing: every [[credentials]] entry names the URL prefix it is for", entry
        )
    url = _url(f"{at}.url", entry["url"])
    scheme = urlsplit(url).scheme.lower()
    texts = {key: _secret_or_text(f"{at}.{key}", key, entry[key]) for key in KEYS[1:4] if key in entry}
    if "client_key_password" in entry:
        texts["client_key_password"] = _secret_or_text(
            f"{at}.client_key_password", "client_key_password", entry["client_key_password"]
        )
    if "bearer" in texts and ("username" in texts or "password" in texts):
        raise CredentialsError(
            f"{at}.bearer", "give either bearer or username and password, not both", _shown_secret(texts["bearer"])
        )
    if "password" in texts and "username" not in texts:
        raise CredentialsError(f"{at}.password", "needs a username beside it", _shown_secret(texts["password"]))
    headers = _headers(f"{at}.headers", entry.get("headers", {}))
    if ("bearer" in texts or "username" in texts) and any(name.lower() == "authorization" for name in headers):
        raise CredentialsError(
            f"{at}.headers",
            "an Authorization header beside bearer or username: give one of them",
            {name: _shown_header(name, value) for name, value in headers.items()},
        )
    if scheme in ("mqtt", "mqtts"):
        if "bearer" in texts:
            raise CredentialsError(
                f"{at}.bearer", "MQTT has no bearer tokens: give username and password", _shown_secret(texts["bearer"])
            )
        if headers:
            raise CredentialsError(f"{at}.headers", "MQTT has no headers: give username and password", "a table")
    files = {key: _file(f"{at}.{key}", entry[key], base) for key in ("client_cert", "client_key", "ca") if key in entry}
    if files and scheme not in _TLS:
        first = next(iter(files))
        raise CredentialsError(
            f"{at}.{first}",
            f"certificates need TLS: a url starting https:// or mqtts://, not {scheme}://",
            entry[first],
        )
    if "client_key" in files and "client_cert" not in files:
        raise CredentialsError(f"{at}.client_key", "needs client_cert beside it", entry["client_key"])
    if "client_key_password" in texts and "client_key" not in files and "client_cert" not in files:
        raise CredentialsError(f"{at}.client_key_password", "needs client_cert beside it", MASK)
    return Credential(
        url=url,
        headers=headers,
        bearer=texts.get("bearer"),
        username=texts.get("username"),
        password=texts.get("password"),
        client_cert=files.get("client_cert"),
        client_key=files.get("client_key"),
        ca=files.get("ca"),
        client_key_password=texts.get("client_key_password"),
        place=f"credentials{at}",
    )


def _url(key: str, value: Any) -> str:
    expected = f"expected an absolute URL prefix such as https://mes.plant.example/events ({', '.join(SCHEMES)})"
    if not isinstance(value, str) or not value.strip():
        raise CredentialsError(key, expected, value)
    url = value.strip()
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - parsing it is the check: a bad port or IPv6 literal
    except ValueError as exc:
        raise CredentialsError(key, f"not a usable URL ({exc})", url) from None
    if parts.scheme.lower() not in SCHEMES or not parts.hostname:
        raise CredentialsError(key, expected, url)
    if parts.username is not None or parts.password is not None:
        raise CredentialsError(key, "a user or password in the url: give them as username and password", url)
    if parts.query or parts.fragment or "?" in url or "#" in url:
        raise CredentialsError(key, "a prefix is scheme://host[:port]/path, without ? or #", url)
    return url


def _secret_or_text(key: str, name: str, value: Any) -> str:
    secret = name in _SECRET_KEYS
    if not isinstance(value, str) or not value.strip():
        shown = value if not secret or not isinstance(value, str) else MASK
        raise CredentialsError(key, "expected a non-empty string (a ${NAME} reference keeps it out of the file)", shown)
    if name in ("bearer", "username") and any(ch.isspace() for ch in value.strip()):
        raise CredentialsError(key, "expected no spaces", _shown_secret(value) if secret else value)
    if any(ch in value for ch in "\r\n\0"):
        raise CredentialsError(key, "expected a single line", _shown_secret(value) if secret else value)
    return value.strip() if name in ("bearer", "username") else value  # a password's spaces are its own


def _headers(key: str, value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise CredentialsError(key, 'expected a table of "Header-Name" = "value"', value)
    headers: dict[str, str] = {}
    for name, text in value.items():
        if not _HEADER_NAME.match(name):
            raise CredentialsError(f"{key}.{name}", "not a valid header name (letters, digits and -)", name)
        if not isinstance(text, str):
            raise CredentialsError(f"{key}.{name}", "expected the value as a string", text)
        if any(ch in text for ch in "\r\n\0"):
            raise CredentialsError(f"{key}.{name}", "expected a single line", _shown_header(name, text))
        headers[name] = text
    return headers


def _file(key: str, value: Any, base: Path | None) -> Path:
    if not isinstance(value, str) or not value.strip():
        raise CredentialsError(key, "expected a file path (relative to the settings file's folder)", value)
    path = Path(value.strip()).expanduser()
    if base is not None and not path.is_absolute():
        path = base / path  # beside the settings file, so it does not depend on where a command runs
    if not path.is_file():
        raise CredentialsError(key, f"no such file: {path}", value)
    return path


# ---------------------------------------------------------------------------------------- showing


def _is_reference_only(value: str) -> bool:
    """True when `value` is `${NAME}` references, perhaps after an auth scheme word ("Bearer ${T}"):
    printing it shows where the secret comes from, not the secret."""
    return bool(_REFERENCE_ONLY.match(value.strip()))


def _shown_secret(value: str) -> str:
    return value if _is_reference_only(value) else MASK


def _is_secret_header(name: str) -> bool:
    lowered = name.lower()
    return any(word in lowered for word in _SECRET_HEADER_WORDS)


def _shown_header(name: str, value: str) -> str:
    return _shown_secret(value) if _is_secret_header(name) or _VAR.search(value) else value


def shown(value: Any) -> Any:
    """The parsed setting as `config show` prints it: plain JSON values, every secret masked."""
    out = []
    for credential in value or ():
        if not isinstance(credential, Credential):
            continue
        entry: dict[str, Any] = {"url": redact_url(credential.url)}
        if credential.bearer is not None:
            entry["bearer"] = _shown_secret(credential.bearer)
        if credential.username is not None:
            entry["username"] = credential.username
        if credential.password is not None:
            entry["password"] = _shown_secret(credential.password)
        if credential.headers:
            entry["headers"] = {name: _shown_header(name, text) for name, text in credential.headers.items()}
        for key in ("client_cert", "client_key", "ca"):
            path = getattr(credential, key)
            if path is not None:
                entry[key] = str(path)
        if credential.client_key_password is not None:
            entry["client_key_password"] = _shown_secret(credential.client_key_password)
        out.append(entry)
    return out


# ---------------------------------------------------------------------------------------- matching


def _prefix(url: str) -> tuple[str, str, int | None, str] | None:
    """(scheme, host, port, path) as compared: scheme and host in lower case, the default port filled in,
    no user or password; None for what is not a URL."""
    try:
        parts = urlsplit(url.strip())
        host, port = parts.hostname, parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if not host:
        return None
    return scheme, host.lower(), port if port is not None else _DEFAULT_PORTS.get(scheme), parts.path or "/"


def _matches(prefix: tuple[str, str, int | None, str], target: tuple[str, str, int | None, str]) -> bool:
    return prefix[:3] == target[:3] and target[3].startswith(prefix[3])


def for_url(url: str, credentials: Sequence[Credential] | None = None) -> Credential | None:
    """The entry for `url` (the longest matching prefix), resolved; None when none matches. Default: the
    settings in force."""
    where = "the settings file"
    if credentials is None:
        from planner_tui import settings

        in_force = settings.current()
        credentials = in_force.credentials or ()
        source = in_force.sources.get("credentials", "")
        where = f"the settings file {source[5:]}" if source.startswith("file:") else where
    target = _prefix(url)
    if target is None:
        return None
    best: Credential | None = None
    best_length = -1
    for credential in credentials:
        prefix = _prefix(credential.url)
        if prefix is not None and _matches(prefix, target) and len(prefix[3]) > best_length:
            best, best_length = credential, len(prefix[3])
    return best.resolved(where) if best is not None else None


def httpx_options(url: str, credentials: Sequence[Credential] | None = None) -> dict[str, Any]:
    """Keyword arguments for httpx.Client(...) reaching `url`: headers, auth, verify (an SSL context with
    the entry's CA and client certificate: httpx's own `cert=` is deprecated) and event_hooks (which keep
    the entry's headers from a server a redirect leads to); {} without credentials for it."""
    credential = for_url(url, credentials)
    if credential is None:
        return {}
    options: dict[str, Any] = {}
    headers = dict(credential.headers)
    if credential.bearer is not None:
        headers["Authorization"] = f"Bearer {credential.bearer}"
    if headers:
        options["headers"] = headers
        options["event_hooks"] = {"request": [_keep_to_origin(url, tuple(headers))]}
    if credential.username is not None:
        import httpx

        options["auth"] = httpx.BasicAuth(credential.username, credential.password or "")
    context = credential.ssl_context()
    if context is not None:
        options["verify"] = context
    return options


def _keep_to_origin(url: str, names: tuple[str, ...]) -> Callable[[Any], None]:
    """A request hook dropping the entry's headers from a request to another server than `url`'s (a
    redirect elsewhere): httpx drops Authorization itself then, but sends every other client header on."""
    origin = _prefix(url)

    def hook(request: Any) -> None:
        target = _prefix(str(request.url))
        if target is None or origin is None or target[:3] != origin[:3]:
            for name in names:
                request.headers.pop(name, None)

    return hook


def suggested_entry(url: str) -> str:
    """`a [[credentials]] entry with url = "scheme://host:port/"` for `url`'s server, for messages."""
    try:
        parts = urlsplit(url)
        netloc = (parts.hostname or "") if ":" not in (parts.hostname or "") else f"[{parts.hostname}]"
        netloc += f":{parts.port}" if parts.port else ""
    except ValueError:
        return "a [[credentials]] entry"
    return f'a [[credentials]] entry with url = "{parts.scheme}://{netloc}/"'


def settings_file() -> str:
    """The settings file in force, for messages that say where to add an entry."""
    from planner_tui import settings

    return str(settings.current().config_file)


def reason_refused(url: str, status: int) -> str:
    """What a 401 or 403 from `url` means for its credentials, naming the setting to change."""
    try:
        credential = for_url(url)
    except PlannerError as exc:  # an unset variable: that is the reason
        return str(exc)
    where = settings_file()
    if credential is None:
        if urlsplit(url).username is not None:
            return "the user and password in the URL were refused (a [[credentials]] entry keeps them out of it)"
        return (
            f"credentials are missing: add to the settings file ({where}) {suggested_entry(url)} and "
            'bearer = "${TOKEN}", username and password, or headers'
        )
    verb = "refused" if status == 401 else "not allowed here"
    return (
        f"the credentials of {credential.place} (url = {redact_url(credential.url)!r}) were {verb}: "
        f"check them in the settings file ({where}) and the environment variables they name"
    )
