"""Hand one outbox message to its channel with Apprise (e-mail, chat, ntfy, webhooks and the rest).

`deliver(message, expand=...)` takes an outbox row (store/outbox.py: `message_key`, `channel`, `subject`,
`body`, `body_markdown`, `reason`) and returns when the channel accepted it, or raises `DeliveryFailed`
with a one-line reason (`permanent` when trying again cannot help: a URL Apprise cannot use, a secret's
variable that is not set).

- **Secrets** stay out of the store: the channel is kept as the settings write it, and `${NAME}` is
  expanded (`expand`, the routing's) only here, at send time; an error never shows an expanded value.
- **Format.** Markdown where the channel renders it (its Apprise plugin prefers markdown, or `?format=markdown`
  asks for it, or it takes markdown and not plain text: Telegram), plain text everywhere else (e-mail, JSON
  webhooks, SMS, most chat).
- **Nothing twice.** The message's key travels with it, so a receiver can drop a copy (a message sent again
  after a server stopped mid-delivery): JSON, form and XML webhooks get it as the `Idempotency-Key` header;
  e-mail as the `X-Planner-Message-Key` header (Apprise sets the Message-ID itself, and a second one would make
  the mail malformed, so the key cannot be the Message-ID).
- **Failures.** Apprise logs a failure instead of raising it; its result carries those log lines, and the
  warnings among them are the reason given.
- **In this thread.** The send runs in the caller's thread, bounded by the channel's own connect and read
  timeouts (Apprise's `cto=` and `rto=`, 4 s each unless the URL says otherwise), not in Apprise's worker
  pool (which its call timeout would use): a server stopping mid-delivery is not held up by a pool thread
  it cannot leave behind at exit.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

from planner_tui.errors import PlannerError
from planner_tui.urls import redact_url

log = logging.getLogger(__name__)

IDEMPOTENCY_HEADER = "Idempotency-Key"
EMAIL_KEY_HEADER = "X-Planner-Message-Key"
WEBHOOK_SCHEMES = frozenset({"json", "jsons", "form", "forms", "xml", "xmls"})
EMAIL_SCHEMES = frozenset({"mailto", "mailtos"})
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class DeliveryFailed(Exception):
    """The channel did not take the message; `permanent`: trying again cannot help."""

    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


def scheme_of(url: str) -> str:
    return url.split("://", 1)[0].strip().lower() if "://" in url else ""


def with_key(url: str, key: str) -> str:
    """`url` carrying the message key as a custom header (Apprise's `+Header=value` URL argument), for the
    channels that send headers (see the module docstring); other URLs come back as they are."""
    scheme = scheme_of(url)
    if scheme in WEBHOOK_SCHEMES:
        header = IDEMPOTENCY_HEADER
    elif scheme in EMAIL_SCHEMES:
        header = EMAIL_KEY_HEADER
    else:
        return url
    base, hash_mark, fragment = url.partition("#")
    joiner = "&" if "?" in base else "?"
    return f"{base}{joiner}+{header}={quote(key, safe='')}{hash_mark}{fragment}"


def _secrets(channel: str, expanded: str) -> list[str]:
    """The values `${NAME}`s took in `expanded` (to keep them out of error messages)."""
    parts = _VARIABLE.split(channel)
    literal = parts[0::2]
    pattern = "".join(re.escape(text) + ("(.*?)" if i < len(literal) - 1 else "") for i, text in enumerate(literal))
    found = re.fullmatch(pattern, expanded, flags=re.DOTALL)
    return [value for value in (found.groups() if found else ()) if value]


def _scrub(text: str, secrets: list[str]) -> str:
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, "***")
        text = text.replace(quote(secret, safe=""), "***")
    return text


def deliver(
    message: Mapping[str, Any],
    *,
    expand: Callable[[str], str] = lambda url: url,
) -> None:
    """Send one outbox message to its channel (see the module docstring); raises DeliveryFailed."""
    import apprise
    from apprise import NotifyFormat, NotifyType

    channel = str(message["channel"])
    shown = redact_url(channel)
    try:
        url = expand(channel)
    except (PlannerError, ValueError) as error:  # a ${NAME} that is not set (RoutingError): it names it
        raise DeliveryFailed(f"{shown}: {error}", permanent=True) from None
    secrets = _secrets(channel, url)
    sender = apprise.Apprise(asset=apprise.AppriseAsset(service_timeout=0))
    if not sender.add(with_key(url, str(message["message_key"]))):
        raise DeliveryFailed(
            f"{shown}: not a channel Apprise can use (an unknown scheme, or a URL missing what its service needs)",
            permanent=True,
        )
    plugin = sender[0]
    markdown = renders_markdown(plugin)
    body = str(message["body_markdown"] if markdown and message.get("body_markdown") else message["body"])
    notify_type = NotifyType.WARNING if message.get("reason") == "escalation" else NotifyType.INFO
    try:
        # Apprise says why a send failed only in its log: capture its warnings here, whatever level the
        # process's logging is at (a quieter root logger would otherwise leave the reason out).
        with apprise.LogCapture(level=logging.WARNING, fmt="%(message)s") as captured:
            result = sender.notify(
                body=body,
                title=str(message["subject"]),
                notify_type=notify_type,
                body_format=NotifyFormat.MARKDOWN if markdown else NotifyFormat.TEXT,
            )
            logged = captured.getvalue()
    except Exception as error:  # noqa: BLE001 - a plugin's own bug must not end the sender
        raise DeliveryFailed(_scrub(f"{shown}: {type(error).__name__}: {error}", secrets)) from None
    if result:
        return
    said = [entry.message for entry in result.logs() if entry.level in ("WARNING", "ERROR", "CRITICAL")]
    said = said or logged.splitlines()
    reason = "; ".join(dict.fromkeys(line.strip() for line in said if line.strip())) or "the channel did not accept it"
    raise DeliveryFailed(_scrub(f"{shown}: {reason}", secrets).replace("\n", " "))


def renders_markdown(plugin: Any) -> bool:
    """Whether to hand this Apprise service the markdown body: it prefers markdown (or its URL asks for it),
    or it takes markdown but not plain text."""
    from apprise import NotifyFormat

    try:
        preferred = plugin.resolve_format(None)
        formats = tuple(plugin._formats())
    except AttributeError:  # an Apprise without per-send format resolution: its one declared format
        preferred = plugin.notify_format
        formats = (preferred,)
    if preferred == NotifyFormat.MARKDOWN:
        return True
    return NotifyFormat.MARKDOWN in formats and NotifyFormat.TEXT not in formats
