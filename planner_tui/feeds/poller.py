"""`open_feed`: the feed for a location, an http(s) URL, an mqtt(s) URL or a JSON Lines file. Also the front door to the
feed classes and states for callers that import them from here (base.py, file.py, http.py hold them)."""

from __future__ import annotations

from typing import Any

from planner_tui.errors import BadRequest
from planner_tui.feeds.base import (
    CATCHING_UP,
    LIVE,
    STALE,
    STARTING,
    Feed,
    FeedStatus,
    FeedUnavailable,
    PollResult,
)
from planner_tui.feeds.file import FileFeed
from planner_tui.feeds.http import HttpFeed
from planner_tui.store import Store
from planner_tui.urls import redact_url

__all__ = [
    "CATCHING_UP",
    "LIVE",
    "STALE",
    "STARTING",
    "Feed",
    "FeedStatus",
    "FeedUnavailable",
    "FileFeed",
    "HttpFeed",
    "PollResult",
    "open_feed",
]


def open_feed(store: Store, source: str, **opts: Any) -> Feed:
    """A feed for `source`: an http(s) URL (HttpFeed), an mqtt:// or mqtts:// URL whose path is a topic filter
    (MqttFeed), or a JSON Lines file path (FileFeed)."""
    text = str(source)
    if text.startswith(("http://", "https://")):
        return HttpFeed(store, text, **opts)
    if text.lower().startswith(("mqtt://", "mqtts://")):
        # Imported here: paho is only loaded by those who follow a broker.
        from planner_tui.feeds.mqtt import MqttFeed

        return MqttFeed(store, text, **opts)
    if "://" in text:
        raise BadRequest(f"unsupported feed {redact_url(text)!r}: give a .jsonl file, an http(s) URL or an mqtt(s) URL")
    file_opts = {k: v for k, v in opts.items() if k in ("apply_batch", "max_events_per_poll", "clock")}
    return FileFeed(store, text, **file_opts)
