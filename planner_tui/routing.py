"""Who is told what, as the settings file says it: people and their channels, teams, routing rules,
pacing and escalation (issue 12). Pure data and its checks; the engine (engine/notify) plans with it and
the plant server delivers.

    [people."ben.okafor"]
    name = "Ben Okafor"                       # optional: the name the plant data uses for this person
    notify = ["mailto://ben:${SMTP_PASS}@mail.plant.example", "json://hooks.plant.example/weld"]
    [teams]
    quality = ["qa.lead", "ben.okafor"]
    [routing]
    group_wait = "30s"
    repeat_interval = "4h"
    [[routing.rules]]
    match = { kind = "hold" }                 # kind, severity, machine, line, customer, tier, item, buyer
    add = ["quality"]
    [[routing.escalation]]
    match = { kind = "machine_down", severity = "critical" }
    after = "15m"
    to = ["plant.manager"]

A person is matched to the plant's people (supervisors, account managers, buyers, owners) by their key
or their `name`, without regard to case. Secrets stay out of the file: `${NAME}` in a channel is read
from the environment when a message is sent (`expand`), never stored.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property
from typing import Any

from planner_tui.errors import SettingEntryError

MATCH_KEYS = ("kind", "severity", "machine", "line", "customer", "tier", "item", "buyer")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)?\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://\S+$")


class RoutingError(SettingEntryError):
    """A routing setting that cannot be used (people, teams, routing)."""


def duration(value: Any, key: str) -> timedelta:
    """`"30s"`, `"15m"`, `"4h"`, `"1d"`, `"0s"`, or a number of seconds."""
    if isinstance(value, bool):
        raise RoutingError(key, "must be a duration like 30s, 15m, 4h or 1d", value)
    if isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, str) and (found := _DURATION.match(value)):
        seconds = float(found[1]) * _UNITS[found[2] or "s"]
    else:
        raise RoutingError(key, "must be a duration like 30s, 15m, 4h or 1d", value)
    if seconds < 0 or seconds > 366 * 86400:
        raise RoutingError(key, "must be from 0 to a year", value)
    return timedelta(seconds=seconds)


def _names(value: Any, key: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise RoutingError(key, "must be a list of names", value)
    return tuple(v.strip() for v in value)


def _match(value: Any, key: str) -> Mapping[str, tuple[str, ...]]:
    if not isinstance(value, dict):
        raise RoutingError(key, f"must be a table of {', '.join(MATCH_KEYS)}", value)
    out = {}
    for name, wanted in value.items():
        if name not in MATCH_KEYS:
            raise RoutingError(f"{key}.{name}", f"unknown match key (the keys are {', '.join(MATCH_KEYS)})", wanted)
        out[name] = tuple(w.lower() for w in _names(wanted, f"{key}.{name}"))
    return out


@dataclass(frozen=True)
class Rule:
    """`[[routing.rules]]`: when `match` holds, add `add` (people or teams); `only`: instead of the
    default list; the first matching rule decides unless it says `continue`."""

    match: Mapping[str, tuple[str, ...]]
    add: tuple[str, ...] = ()
    only: bool = False
    cont: bool = False


@dataclass(frozen=True)
class Escalation:
    """`[[routing.escalation]]`: an exception `match`ing, not acknowledged `after` it was raised, is
    told to `to` (people or teams); each level once."""

    match: Mapping[str, tuple[str, ...]]
    after: timedelta
    to: tuple[str, ...]


@dataclass(frozen=True)
class Person:
    key: str
    name: str | None
    channels: tuple[str, ...]


@dataclass(frozen=True)
class Routing:
    people: Mapping[str, Person] = field(default_factory=dict)
    teams: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    group_wait: timedelta = timedelta(seconds=30)
    repeat_interval: timedelta = timedelta(hours=4)
    rules: tuple[Rule, ...] = ()
    escalation: tuple[Escalation, ...] = ()
    retries: int = 5
    retry_first: timedelta = timedelta(seconds=2)
    open_with: str | None = None  # how a person opens planner_tui on this plant (`planner-tui run --server ...`)

    @property
    def enabled(self) -> bool:
        return any(p.channels for p in self.people.values())

    def expand(self, url: str, env: Mapping[str, str] | None = None) -> str:
        """A channel as it is sent: `${NAME}` read from the environment (see `expand`)."""
        return expand(url, env)

    @cached_property
    def _by_name(self) -> dict[str, Person]:
        found: dict[str, Person] = {}
        for person in self.people.values():
            if person.name:
                found.setdefault(person.name.lower(), person)
        for person in self.people.values():  # a key wins over somebody else's name
            found[person.key.lower()] = person
        return found

    def person(self, name: str | None) -> Person | None:
        """The configured person the plant's `name` is (by key or by name, any case), else None."""
        return self._by_name.get(name.strip().lower()) if name else None

    def expand_names(self, names: tuple[str, ...]) -> list[str]:
        """People and teams, as people's names (a team's members, in order; each person once)."""
        out: list[str] = []
        for name in names:
            for member in self.teams.get(name, (name,)):
                if member not in out:
                    out.append(member)
        return out

    def problems(self) -> list[str]:
        """What `routes check` reports beyond what parsing refused: names no person or team carries."""
        found = []
        known = {p.key.lower() for p in self.people.values()} | {(p.name or "").lower() for p in self.people.values()}
        for team, members in self.teams.items():
            for member in members:
                if member.lower() not in known:
                    found.append(f'teams.{team}: unknown person {member!r} (no [people."{member}"] entry)')
        places = [(f"routing.rules[{i}].add", r.add) for i, r in enumerate(self.rules)]
        places += [(f"routing.escalation[{i}].to", e.to) for i, e in enumerate(self.escalation)]
        for place, names in places:
            for name in names:
                if name not in self.teams and name.lower() not in known:
                    found.append(f"{place}: unknown person or team {name!r}")
        return found


def expand(url: str, env: Mapping[str, str] | None = None) -> str:
    """The channel with every `${NAME}` replaced from the environment (RoutingError naming it when unset)."""
    env = os.environ if env is None else env

    def value(found: re.Match[str]) -> str:
        name = found[1]
        if name not in env:
            raise RoutingError("people", f"the environment variable {name} is not set", f"${{{name}}}")
        return env[name]

    return _VAR.sub(value, url)


def _people(value: Any) -> dict[str, Person]:
    if not isinstance(value, dict):
        raise RoutingError("people", 'must be a table of people ([people."ben.okafor"])', value)
    out = {}
    for key, entry in value.items():
        place = f"people.{key}"
        if not isinstance(entry, dict):
            raise RoutingError(place, "must be a table with `notify` (a list of channels)", entry)
        unknown = set(entry) - {"notify", "name"}
        if unknown:
            raise RoutingError(f"{place}.{sorted(unknown)[0]}", "unknown key (the keys are notify, name)", entry)
        channels = entry.get("notify", [])
        if isinstance(channels, str):
            channels = [channels]
        if not isinstance(channels, list):
            raise RoutingError(f"{place}.notify", "must be a list of Apprise URLs", channels)
        for i, url in enumerate(channels):
            if not isinstance(url, str) or not _SCHEME.match(url.strip()):
                raise RoutingError(
                    f"{place}.notify[{i}]", "must be an Apprise URL like mailto://... or json://...", url
                )
        name = entry.get("name")
        if name is not None and not isinstance(name, str):
            raise RoutingError(f"{place}.name", "must be text", name)
        out[key] = Person(key, name, tuple(u.strip() for u in channels))
    return out


def _teams(value: Any) -> dict[str, tuple[str, ...]]:
    if not isinstance(value, dict):
        raise RoutingError("teams", "must be a table: team = [people]", value)
    return {team: _names(members, f"teams.{team}") for team, members in value.items()}


def _routing(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise RoutingError("routing", "must be a table", value)
    allowed = {"group_wait", "repeat_interval", "rules", "escalation", "retries", "retry_first", "open_with"}
    unknown = set(value) - allowed
    if unknown:
        name = sorted(unknown)[0]
        raise RoutingError(f"routing.{name}", f"unknown key (the keys are {', '.join(sorted(allowed))})", value[name])
    out: dict[str, Any] = {}
    for name in ("group_wait", "repeat_interval", "retry_first"):
        if name in value:
            out[name] = duration(value[name], f"routing.{name}")
    if "retries" in value:
        retries = value["retries"]
        if isinstance(retries, bool) or not isinstance(retries, int) or not 1 <= retries <= 100:
            raise RoutingError("routing.retries", "must be a whole number of attempts from 1 to 100", retries)
        out["retries"] = retries
    if "open_with" in value:
        if not isinstance(value["open_with"], str):
            raise RoutingError("routing.open_with", "must be text", value["open_with"])
        out["open_with"] = value["open_with"]
    rules = value.get("rules", [])
    if not isinstance(rules, list):
        raise RoutingError("routing.rules", "must be an array of tables ([[routing.rules]])", rules)
    parsed_rules = []
    for i, rule in enumerate(rules):
        place = f"routing.rules[{i}]"
        if not isinstance(rule, dict):
            raise RoutingError(place, "must be a table", rule)
        unknown = set(rule) - {"match", "add", "only", "continue"}
        if unknown:
            raise RoutingError(
                f"{place}.{sorted(unknown)[0]}", "unknown key (the keys are match, add, only, continue)", rule
            )
        for flag in ("only", "continue"):
            if flag in rule and not isinstance(rule[flag], bool):
                raise RoutingError(f"{place}.{flag}", "must be true or false", rule[flag])
        parsed_rules.append(
            Rule(
                _match(rule.get("match", {}), f"{place}.match"),
                _names(rule.get("add", []), f"{place}.add") if rule.get("add") else (),
                bool(rule.get("only", False)),
                bool(rule.get("continue", False)),
            )
        )
    out["rules"] = tuple(parsed_rules)
    levels = value.get("escalation", [])
    if not isinstance(levels, list):
        raise RoutingError("routing.escalation", "must be an array of tables ([[routing.escalation]])", levels)
    parsed = []
    for i, level in enumerate(levels):
        place = f"routing.escalation[{i}]"
        if not isinstance(level, dict):
            raise RoutingError(place, "must be a table", level)
        unknown = set(level) - {"match", "after", "to"}
        if unknown:
            raise RoutingError(f"{place}.{sorted(unknown)[0]}", "unknown key (the keys are match, after, to)", level)
        if "after" not in level or "to" not in level:
            raise RoutingError(place, "needs `after` (a duration) and `to` (people or teams)", level)
        parsed.append(
            Escalation(
                _match(level.get("match", {}), f"{place}.match"),
                duration(level["after"], f"{place}.after"),
                _names(level["to"], f"{place}.to"),
            )
        )
    out["escalation"] = tuple(parsed)
    return out


def parse(people: Any = None, teams: Any = None, routing: Any = None) -> Routing:
    """The routing from the settings file's `people`, `teams` and `routing` tables (RoutingError naming
    the key on anything it cannot use)."""
    return Routing(
        people=_people(people) if people is not None else {},
        teams=_teams(teams) if teams is not None else {},
        **(_routing(routing) if routing is not None else {}),
    )
