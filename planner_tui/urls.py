"""URLs as planner_tui shows and stores them: never with the credentials they may carry.

A feed or snapshot URL may hold a user and password (`https://user:pass@mes.example/feed`) or a token
in its query (`?access_token=...`). What is stored (`store_meta.loaded_from`, `feed_cursors.feed`,
`event_log.feed`) and what is printed (output, errors, the console) is the redacted form; only the
HTTP client sees the URL as given.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

MASK = "***"

# Query parameters that carry a secret in the usual APIs (lower case; a name containing one counts).
_SECRET_PARAMS = (
    "token",
    "password",
    "passwd",
    "secret",
    "apikey",
    "api_key",
    "api-key",
    "key",
    "sig",
    "signature",
    "auth",
    "credential",
)


def _is_secret(name: str) -> bool:
    lowered = name.lower()
    return any(word in lowered for word in _SECRET_PARAMS)


def _masked_pair(pair: str) -> str:
    name, equals, _ = pair.partition("=")
    return f"{name}={MASK}" if equals and _is_secret(name) else pair


def redact_url(url: str) -> str:
    """`url` without its password, user and secret query values: safe to store, log and print.

    Anything that is not a URL with a scheme comes back as it is (a file path)."""
    if "://" not in url:
        return url
    try:
        parts = urlsplit(url)
        host = parts.hostname
        port = parts.port
    except ValueError:
        # Not parseable (a bad port, a bad IPv6 literal): keep only the scheme and what follows the
        # last "@", and mask secret query values by hand, so nothing can leak through an error message.
        scheme, _, rest = url.partition("://")
        rest, mark, query = rest.partition("?")
        if "@" in rest:
            rest = f"{MASK}@{rest.rsplit('@', 1)[-1]}"
        if query:
            query = "&".join(_masked_pair(pair) for pair in query.split("&"))
        return f"{scheme}://{rest}{mark}{query}"
    netloc = parts.netloc
    if parts.username is not None or parts.password is not None:
        shown_host = host or ""
        if ":" in shown_host:  # an IPv6 literal keeps its brackets
            shown_host = f"[{shown_host}]"
        netloc = f"{MASK}@{shown_host}" + (f":{port}" if port is not None else "")
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(_is_secret(name) for name, _ in pairs):
            query = urlencode([(name, MASK if _is_secret(name) else value) for name, value in pairs], safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def redact_text(text: str, url: str) -> str:
    """`text` (an error message, say) with every occurrence of `url` and its secrets replaced by the
    redacted form."""
    redacted = redact_url(url)
    if redacted == url:
        return text
    text = text.replace(url, redacted)
    try:
        parts = urlsplit(url)
        secrets = [s for s in (parts.password, parts.username) if s]
        secrets += [value for name, value in parse_qsl(parts.query) if _is_secret(name) and value]
    except ValueError:
        secrets = []
    for secret in sorted(secrets, key=len, reverse=True):
        if len(secret) >= 3:  # a one-letter user would mangle the whole message
            text = text.replace(secret, MASK)
    return text
