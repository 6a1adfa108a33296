"""The `mqtt` setting (issue 13): the MQTT client's identity and how plain machine-state messages on
topics map to planner_tui events, so a floor whose gateways publish bare JSON needs no adapter.

    [mqtt]
    client_id = "planner-tui-plant1"          # optional: the persistent session's name at the broker
    [[mqtt.topics]]
    topic = "plant/+/{machine_id}/state"       # {name} captures that level into data.name; + and # as in MQTT
    field = "state"                            # the payload field whose value picks the event type
    states = { down = "machine.down", running = "machine.up" }
    reason = "reason"                          # optional: payload field -> data.reason
    time = "ts"                                # optional: payload field -> the event's time (else arrival)
    data = { expected_minutes = "eta_min" }    # optional: more data fields from payload fields

A message is matched against the maps in order; the first whose topic matches maps it. Which event types
exist is the store's business: `check_types` is given them by the feed that opens the subscription (this
module is shared and imports no layer).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from planner_tui.errors import SettingEntryError

# How long the broker keeps the session (subscriptions and messages queued while planner_tui is down).
DEFAULT_SESSION_EXPIRY = 7 * 24 * 3600
_CLIENT_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")
_CAPTURE = re.compile(r"^\{([A-Za-z_][A-Za-z0-9_]*)\}$")
_TYPE_NAME = re.compile(r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)+$")
_TABLE_KEYS = {"client_id", "session_expiry", "topics"}
_MAP_KEYS = {"topic", "field", "states", "reason", "time", "data"}


class TopicMapError(SettingEntryError):
    """An `mqtt` setting that cannot be used."""


@dataclass(frozen=True)
class TopicMap:
    """One `[[mqtt.topics]]` entry, checked."""

    index: int
    topic: str  # the pattern as written
    levels: tuple[str, ...]  # "+", "#", "{name}" or a literal level
    field: str
    states: Mapping[str, str]  # the field's value (lower case) -> event type
    reason: str | None = None
    time: str | None = None
    data: Mapping[str, str] = dataclasses.field(default_factory=dict)  # data key -> payload field

    @property
    def where(self) -> str:
        return f"mqtt.topics[{self.index}]"

    @property
    def captures(self) -> tuple[str, ...]:
        return tuple(m[1] for level in self.levels if (m := _CAPTURE.match(level)))

    @property
    def subscription(self) -> str:
        """The MQTT topic filter this pattern stands for (captures are single-level wildcards)."""
        return "/".join("+" if _CAPTURE.match(level) else level for level in self.levels)

    def match(self, topic: str) -> dict[str, str] | None:
        """The captured levels when `topic` (a published topic name) matches, else None."""
        parts = topic.split("/")
        captured: dict[str, str] = {}
        for i, level in enumerate(self.levels):
            if level == "#":
                return captured  # matches the parent level too ("a/#" matches "a")
            if i >= len(parts):
                return None
            found = _CAPTURE.match(level)
            if found:
                captured[found[1]] = parts[i]
            elif level != "+" and level != parts[i]:
                return None
        return captured if len(parts) == len(self.levels) else None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"topic": self.topic, "field": self.field, "states": dict(self.states)}
        if self.reason is not None:
            out["reason"] = self.reason
        if self.time is not None:
            out["time"] = self.time
        if self.data:
            out["data"] = dict(self.data)
        return out


@dataclass(frozen=True)
class MqttSettings:
    """The checked `[mqtt]` table."""

    client_id: str | None = None
    session_expiry: int = DEFAULT_SESSION_EXPIRY
    topics: tuple[TopicMap, ...] = ()

    def map_for(self, topic: str) -> tuple[TopicMap, dict[str, str]] | None:
        """The first map whose pattern matches `topic`, with what it captured."""
        for topic_map in self.topics:
            captured = topic_map.match(topic)
            if captured is not None:
                return topic_map, captured
        return None


def _text(value: Any, key: str, *, what: str = "a non-empty string") -> str:
    if not isinstance(value, str) or not value.strip():
        raise TopicMapError(key, f"expected {what}", value)
    return value.strip()


def _levels(pattern: str, key: str) -> tuple[str, ...]:
    levels = tuple(pattern.split("/"))
    names: set[str] = set()
    for i, level in enumerate(levels):
        if level == "#":
            if i != len(levels) - 1:
                raise TopicMapError(key, "'#' may only be the last level of a topic", pattern)
            continue
        if level == "+":
            continue
        found = _CAPTURE.match(level)
        if found:
            if found[1] in names:
                raise TopicMapError(key, f"{{{found[1]}}} is captured twice", pattern)
            names.add(found[1])
            continue
        if any(c in level for c in "+#{}"):
            raise TopicMapError(
                key, "a level is either a name, '+', '#' or a whole {name} (e.g. plant/+/{machine_id}/state)", pattern
            )
    return levels


def _field_map(value: Any, key: str, what: str) -> dict[str, str]:
    if not isinstance(value, dict):
        raise TopicMapError(key, f"expected a table of {what}", value)
    out: dict[str, str] = {}
    for name, target in value.items():
        out[str(name)] = _text(target, f"{key}.{name}")
    return out


def _parse_map(entry: Any, index: int) -> TopicMap:
    key = f"topics[{index}]"
    if not isinstance(entry, dict):
        raise TopicMapError(key, "expected a table (a [[mqtt.topics]] entry)", entry)
    unknown = sorted(set(entry) - _MAP_KEYS)
    if unknown:
        raise TopicMapError(f"{key}.{unknown[0]}", f"unknown key (known: {', '.join(sorted(_MAP_KEYS))})", unknown[0])
    if "topic" not in entry:
        raise TopicMapError(f"{key}.topic", "missing: the topic pattern, e.g. plant/+/{machine_id}/state", None)
    topic = _text(entry["topic"], f"{key}.topic")
    levels = _levels(topic, f"{key}.topic")
    field_name = _text(entry.get("field", "state"), f"{key}.field")
    if "states" not in entry:
        raise TopicMapError(
            f"{key}.states", 'missing: which event each value means, e.g. { down = "machine.down" }', None
        )
    raw_states = _field_map(entry["states"], f"{key}.states", "values to event types")
    if not raw_states:
        raise TopicMapError(f"{key}.states", "expected at least one value = event type", entry["states"])
    states: dict[str, str] = {}
    for value, event_type in raw_states.items():
        if not _TYPE_NAME.match(event_type):
            raise TopicMapError(f"{key}.states.{value}", "expected an event type such as machine.down", event_type)
        lowered = value.strip().lower()
        if lowered in states and states[lowered] != event_type:
            raise TopicMapError(
                f"{key}.states.{value}", "the same value (ignoring case) maps to two event types", value
            )
        states[lowered] = event_type
    reason = _text(entry["reason"], f"{key}.reason") if "reason" in entry else None
    time = _text(entry["time"], f"{key}.time") if "time" in entry else None
    data = _field_map(entry.get("data", {}), f"{key}.data", "data fields to payload fields")
    topic_map = TopicMap(
        index=index, topic=topic, levels=levels, field=field_name, states=states, reason=reason, time=time, data=data
    )
    for name in data:
        if name in topic_map.captures:
            raise TopicMapError(f"{key}.data.{name}", f"also captured by the topic ({{{name}}}): choose one", name)
        if name == "reason" and reason is not None:
            raise TopicMapError(f"{key}.data.reason", "also given by `reason`: choose one", name)
    return topic_map


def parse(value: Any, base: Path | None) -> Any:
    """The checked `mqtt` setting (a table); TopicMapError naming the bad entry."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise TopicMapError("", "expected a table ([mqtt], with client_id and [[mqtt.topics]])", value)
    unknown = sorted(set(value) - _TABLE_KEYS)
    if unknown:
        raise TopicMapError(unknown[0], f"unknown key (known: {', '.join(sorted(_TABLE_KEYS))})", unknown[0])
    client_id = None
    if "client_id" in value:
        client_id = _text(value["client_id"], "client_id")
        if not _CLIENT_ID.match(client_id):
            raise TopicMapError("client_id", "expected 1 to 128 letters, digits, '_', '-', '.' or ':'", client_id)
    expiry = value.get("session_expiry", DEFAULT_SESSION_EXPIRY)
    if isinstance(expiry, bool) or not isinstance(expiry, int) or not 60 <= expiry <= 0xFFFFFFFF:
        raise TopicMapError("session_expiry", "expected whole seconds, at least 60", expiry)
    topics = value.get("topics", [])
    if isinstance(topics, dict):
        topics = [topics]  # `[mqtt.topics]` written for a single map
    if not isinstance(topics, list):
        raise TopicMapError("topics", "expected a list of tables ([[mqtt.topics]])", topics)
    maps = tuple(_parse_map(entry, i) for i, entry in enumerate(topics))
    return MqttSettings(client_id=client_id, session_expiry=expiry, topics=maps)


def shown(value: Any) -> Any:
    """The parsed setting as `config show` prints it: plain JSON values."""
    if not isinstance(value, MqttSettings):
        return value
    return {
        "client_id": value.client_id,
        "session_expiry": value.session_expiry,
        "topics": [m.to_dict() for m in value.topics],
    }


def check_types(value: MqttSettings, types: Mapping[str, Sequence[str]]) -> None:
    """TopicMapError unless every mapped event type is one of `types` (name -> the data keys it reads),
    each gets its subject (`machine_id`...) from a capture or `data`, and every `data` key is read by one of
    the entry's types. The feed calls it with the store's registry when it opens."""
    for topic_map in value.topics:
        key = f"topics[{topic_map.index}]"
        named = sorted(set(topic_map.states.values()))
        for state, event_type in topic_map.states.items():
            if event_type not in types:
                raise TopicMapError(
                    f"{key}.states.{state}", f"unknown event type (known: {', '.join(sorted(types))})", event_type
                )
        given = set(topic_map.captures) | set(topic_map.data)
        for event_type in named:
            keys = types[event_type]
            subject = keys[0] if keys else None
            if subject and subject.endswith("_id") and subject not in given:
                raise TopicMapError(
                    f"{key}.topic",
                    f"{event_type} needs data.{subject}: capture it in the topic ({{{subject}}}) or map it in data",
                    topic_map.topic,
                )
        readable = {k for event_type in named for k in types[event_type]}
        for name in topic_map.data:
            if name not in readable:
                raise TopicMapError(
                    f"{key}.data.{name}",
                    f"not a field of {' or '.join(named)} (fields: {', '.join(sorted(readable))})",
                    name,
                )


# ------------------------------------------------------------------------------------------- mapping


def _lookup(payload: Any, path: str) -> Any:
    """A payload field: its name as written, else a dotted path into nested objects ("status.state")."""
    if not isinstance(payload, dict):
        return None
    if path in payload:
        return payload[path]
    value: Any = payload
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _time_text(value: Any) -> Any:
    """An RFC 3339 string for the envelope: numbers are Unix times (seconds, or milliseconds when larger than
    any time in seconds could be); anything else goes on as it is, for the envelope to judge."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return value
    seconds = value / 1000 if abs(value) > 1e11 else value
    try:
        return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    except (OverflowError, OSError, ValueError):
        return str(value)


def _state_key(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).strip().lower()


@dataclass(frozen=True)
class Mapped:
    """A message a topic map turned into an event: the CloudEvents `type`, `data`, and `time` when the payload
    gave one (else the caller stamps the arrival)."""

    type: str
    data: dict[str, Any]
    time: Any = None


def map_payload(topic_map: TopicMap, captured: Mapping[str, str], payload: Any) -> Mapped | str:
    """The event `payload` (a decoded JSON object, or a bare value that is itself the state) stands for under
    `topic_map`, or the reason it cannot be mapped."""
    if isinstance(payload, dict):
        value = _lookup(payload, topic_map.field)
        if value is None:
            return f"the payload has no field {topic_map.field!r} ({topic_map.where})"
    else:
        value = payload
    if isinstance(value, (dict, list)):
        return f"the payload's {topic_map.field!r} is not a plain value ({topic_map.where})"
    event_type = topic_map.states.get(_state_key(value))
    if event_type is None:
        known = ", ".join(sorted(topic_map.states))
        return f"{topic_map.field} {value!r} has no entry in {topic_map.where}.states ({known})"
    data: dict[str, Any] = dict(captured)
    if topic_map.reason is not None:
        reason = _lookup(payload, topic_map.reason)
        if reason is not None:
            data["reason"] = reason
    for name, source in topic_map.data.items():
        found = _lookup(payload, source)
        if found is not None:
            data[name] = found
    time = _lookup(payload, topic_map.time) if topic_map.time is not None else None
    return Mapped(type=event_type, data=data, time=None if time is None else _time_text(time))
