"""planner_tui's settings: defaults < the settings file < PLANNER_TUI_* environment variables < flags.

The file is TOML, in the user's config folder (`config path` shows where) or named by `--config FILE` or
PLANNER_TUI_CONFIG. It is read with tomllib and checked against the small schema below: an unknown key, a
wrong type or a bad value is one line naming the file, the key and the value (a SettingsError, exit 2),
never a traceback. Every value keeps where it came from, so `config show` can say why it is what it is.

This module is headless: the theme name is checked against Textual by planner_tui/console/theme.py when
a console starts (or `config show` runs), so the CLI's other commands never import Textual.
"""

from __future__ import annotations

import difflib
import math
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from planner_tui.errors import BadRequest, SettingEntryError
from planner_tui.logs import LEVELS as LOG_LEVELS

CONFIG_ENV = "PLANNER_TUI_CONFIG"
MIN_POLL = 0.1  # the same floor as `run --poll`

DEFAULT = "default"
FLAG = "flag"


class SettingsError(BadRequest):
    """A settings file or PLANNER_TUI_* variable that cannot be used; the message names where and what."""


_WHOLE = object()  # _Bad's value when it is the whole value of the key


class _Bad(ValueError):
    """A value rejected by the schema; the reason is completed with the place it came from. `key` and
    `value` narrow it to one entry of a table (a keymap binding)."""

    def __init__(self, why: str, *, key: str | None = None, value: Any = _WHOLE):
        super().__init__(why)
        self.why, self.key, self.value = why, key, value


_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s,'\"\]]+")


def _message(source: str, key: str, why: str, value: Any) -> str:
    """The one line for a bad value: the file and key, the variable, or the flag; then the value."""
    from planner_tui.urls import redact_url

    shown = "a table" if isinstance(value, dict) else repr(value)  # a whole table would be a long line
    shown = _URL.sub(lambda found: redact_url(found[0]), shown)  # an address may carry a password
    if source.startswith("file:"):
        return f"{source[5:]}: key {key!r}: {why}, got {shown}"
    if source.startswith("env:"):
        return f"{source[4:]}: {why}, got {shown}"
    if source == FLAG:
        return f"--{key.replace('_', '-')}: {why}, got {shown}"
    return f"the default {key}: {why}, got {shown}"


def user_config_file() -> Path:
    from platformdirs import user_config_dir

    return Path(user_config_dir("planner-tui", appauthor=False)) / "config.toml"


# ---------------------------------------------------------------------------------------- the schema
# One checker per key: it takes the value as TOML typed it (or as its environment variable converted it)
# and the folder relative paths are read from, and returns the typed value or raises _Bad(why).


def _text(value: Any) -> str:
    # Strict: `db = 3` is a mistake to report, not a file named "3".
    if not isinstance(value, str) or not value.strip():
        raise _Bad("expected a non-empty string")
    return value.strip()


def _path(value: Any, base: Path | None) -> Path:
    path = Path(_text(value)).expanduser()
    # A relative path in the file means beside the file, so it does not depend on where a command is run.
    return base / path if base is not None and not path.is_absolute() else path


def _server(value: Any, base: Path | None) -> str:
    text = _text(value)
    if any(ch.isspace() for ch in text):
        raise _Bad("expected an address without spaces")
    return text


def _token(value: Any, base: Path | None) -> str:
    text = _text(value)
    if any(ch.isspace() for ch in text):
        raise _Bad("expected a token without spaces", value="***")  # never echo a secret
    return text


def _roles(value: Any, base: Path | None) -> dict[str, str]:
    from planner_tui.roles import ROLES

    if not isinstance(value, dict):
        raise _Bad('expected a table of OS user = "role"')
    for name, role in value.items():
        if not isinstance(role, str) or role.strip().lower() not in ROLES:
            raise _Bad(f"expected one of {', '.join(ROLES)}", key=name, value=role)
    return {name: role.strip().lower() for name, role in value.items()}


def _events(value: Any, base: Path | None) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value  # a single source is a one-item list
    if not isinstance(items, list) or not items:
        raise _Bad("expected a list of feed sources (.jsonl files, http(s) or mqtt(s) URLs)")
    sources = []
    for item in items:
        try:
            text = _text(item)
        except _Bad:
            raise _Bad("expected each feed source as a non-empty string", value=item) from None
        sources.append(text if "://" in text else str(_path(text, base)))
    return tuple(sources)


def _poll(value: Any, base: Path | None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _Bad("expected a number of seconds")
    if not math.isfinite(value) or value < MIN_POLL:  # TOML and float() both accept inf and nan
        raise _Bad(f"expected a number of seconds, at least {MIN_POLL}")
    return float(value)


def _stale_after(value: Any, base: Path | None) -> float:
    """A duration (`24h`, `90m`, `2d`, or seconds): how old a snapshot may be before the console warns."""
    from planner_tui.routing import RoutingError, duration

    try:
        seconds = duration(value, "stale_after").total_seconds()
    except RoutingError as bad:
        raise _Bad(bad.why) from None
    if seconds <= 0:
        raise _Bad("expected a duration above 0, like 24h")
    return seconds


_KIND_NAME = re.compile(r"^(\*|[a-z_]+)$")


def _fallback_owners(value: Any, base: Path | None) -> dict[str, str]:
    """kind = "person" ("*" for every kind): who owns an exception the plant names nobody for. The kinds
    are checked by the inbox (planner_tui/access), which knows them; here only their form."""
    if not isinstance(value, dict):
        raise _Bad('expected a table of exception kind = "person", e.g. shortage = "Mia Buyer"')
    owners: dict[str, str] = {}
    for kind, person in value.items():
        if not _KIND_NAME.match(kind):
            raise _Bad('expected an exception kind such as shortage, or "*" for every kind', key=kind, value=kind)
        if not isinstance(person, str) or not person.strip():
            raise _Bad("expected a person's name", key=kind, value=person)
        owners[kind] = person.strip()
    return owners


def _theme(value: Any, base: Path | None) -> str:
    return _text(value)


def _log_level(value: Any, base: Path | None) -> str:
    if not isinstance(value, str) or value.strip().lower() not in LOG_LEVELS:
        raise _Bad(f"expected one of {', '.join(LOG_LEVELS)}")
    return value.strip().lower()


def _keymap(value: Any, base: Path | None) -> dict[str, str]:
    if not isinstance(value, dict):
        raise _Bad('expected a table of binding id = "keys"')
    keymap: dict[str, str] = {}
    _flatten_keymap(value, "", keymap)
    return keymap


def _flatten_keymap(table: dict[str, Any], prefix: str, into: dict[str, str]) -> None:
    # Binding ids hold dots (app.quit), which TOML reads as nested tables unless quoted: take both forms.
    for key, value in table.items():
        binding_id = prefix + key
        if isinstance(value, dict):
            _flatten_keymap(value, binding_id + ".", into)
        elif isinstance(value, str) and value.strip():
            into[binding_id] = value.strip()
        else:
            raise _Bad('expected the keys as a string, e.g. "ctrl+q" or "q,f10"', key=binding_id, value=value)


def _env_float(text: str) -> Any:
    try:
        return float(text)
    except ValueError:
        return text  # the checker rejects it with the value shown


def _env_list(text: str) -> Any:
    return [part.strip() for part in text.split(",") if part.strip()]


@dataclass(frozen=True)
class _Key:
    check: Callable[[Any, Path | None], Any]
    env: str | None  # its PLANNER_TUI_* variable, if it has one
    from_env: Callable[[str], Any] = str


def _routing_part(part: str) -> Callable[[Any, Path | None], Any]:
    """The checker of one of the notification tables (`people`, `teams`, `routing`): planner_tui.routing
    parses it; the raw table is kept, and `Settings.routing_config()` builds the whole from the three."""

    def check(value: Any, base: Path | None) -> Any:
        from planner_tui import routing

        try:
            routing.parse(**{part: value})
        except routing.RoutingError as bad:
            key = bad.key.split(".", 1)[1] if "." in bad.key else None
            raise _Bad(bad.why, key=key, value=bad.value) from None
        return value

    return check


def _parsed_by(module_name: str) -> Callable[[Any, Path | None], Any]:
    """The checker of a table a shared module parses (`credentials`, `mqtt`): its parse(value, base),
    whose error (key, why, value) names the bad entry."""

    def check(value: Any, base: Path | None) -> Any:
        import importlib

        module = importlib.import_module(f"planner_tui.{module_name}")
        try:
            return module.parse(value, base)
        except SettingEntryError as bad:
            raise _Bad(bad.why, key=str(bad.key).lstrip(".") or None, value=bad.value) from None

    return check


_SCHEMA: dict[str, _Key] = {
    "db": _Key(_path, "PLANNER_TUI_DB"),
    "server": _Key(_server, "PLANNER_TUI_SERVER"),
    "token": _Key(_token, "PLANNER_TUI_TOKEN"),
    "ca": _Key(_path, "PLANNER_TUI_CA"),
    "roles": _Key(_roles, None),  # a table: the plant server's roles for users on its Unix socket
    "events": _Key(_events, "PLANNER_TUI_EVENTS", _env_list),
    "poll": _Key(_poll, "PLANNER_TUI_POLL", _env_float),
    "stale_after": _Key(_stale_after, "PLANNER_TUI_STALE_AFTER"),
    "fallback_owners": _Key(_fallback_owners, None),  # a table
    "theme": _Key(_theme, "PLANNER_TUI_THEME"),
    "log_level": _Key(_log_level, "PLANNER_TUI_LOG_LEVEL"),
    "keymap": _Key(_keymap, None),  # a table: too many keys for one variable
    # Notifications (the plant server's; planner_tui/routing.py): tables only the file can hold.
    "people": _Key(_routing_part("people"), None),
    "teams": _Key(_routing_part("teams"), None),
    "routing": _Key(_routing_part("routing"), None),
    # Events and snapshots (planner_tui/credentials.py, planner_tui/mqtt_topics.py): secrets and topic
    # maps, file only (a secret on a command line shows in `ps`).
    "credentials": _Key(_parsed_by("credentials"), None),
    "mqtt": _Key(_parsed_by("mqtt_topics"), None),
}


# ---------------------------------------------------------------------------------------- the settings


@dataclass(frozen=True)
class Settings:
    """The settings in force. `sources` says where each came from: "default", "file:PATH", "env:NAME" or
    "flag"; `config_file` is the file looked for (whether or not it exists) and `config_source` why."""

    db: Path | None = None
    server: str | None = None  # the plant server to ask instead of opening db (unix:PATH, tcp:HOST:PORT, URL)
    token: str | None = None  # the bearer token for a plant server on TCP (from `planner-tui users add`)
    ca: Path | None = None  # a CA file to trust for an https plant server (a site's own certificate)
    roles: Mapping[str, str] = field(default_factory=dict)  # serve: OS user -> role on the Unix socket
    events: tuple[str, ...] = ()
    poll: float = 2.0
    stale_after: float = 24 * 3600.0  # seconds: a snapshot older than this is said to be stale in the console
    fallback_owners: Mapping[str, str] = field(default_factory=dict)  # exception kind ("*": any) -> person
    theme: str | None = None  # None: Textual's default theme
    log_level: str = "warning"
    keymap: Mapping[str, str] = field(default_factory=dict)
    people: Mapping[str, Any] = field(default_factory=dict)  # [people."name"] notify = [channels], name = ...
    teams: Mapping[str, Any] = field(default_factory=dict)
    routing: Mapping[str, Any] = field(default_factory=dict)  # group_wait, repeat_interval, rules, escalation...
    credentials: Any = ()  # [[credentials]]: headers, tokens and certificates per URL prefix (credentials.py)
    mqtt: Any = None  # [mqtt]: client id and topic maps for plain machine-state messages (mqtt_topics.py)
    config_file: Path = field(default_factory=user_config_file)
    config_source: str = DEFAULT
    config_found: bool = False
    sources: Mapping[str, str] = field(default_factory=lambda: dict.fromkeys(_SCHEMA, DEFAULT))

    def with_flags(self, **flags: Any) -> Settings:
        """These settings overridden by the command-line flags that were given (None means not given)."""
        given = {name: value for name, value in flags.items() if value is not None}
        unknown = set(given) - set(_SCHEMA)
        if unknown:
            raise TypeError(f"not settings: {sorted(unknown)}")
        changes: dict[str, Any] = {}
        for name, value in given.items():
            changes[name] = tuple(value) if name == "events" else value
        return replace(self, **changes, sources={**self.sources, **dict.fromkeys(given, FLAG)})

    def items(self) -> list[tuple[str, Any, str]]:
        """(key, value, source) for every setting, in schema order, as `config show` prints them: plain
        JSON values, and URLs without the credentials they may carry (settings are shown and logged)."""
        from planner_tui.urls import redact_url

        shown: dict[str, Any] = {
            "db": str(self.db) if self.db is not None else None,
            "server": redact_url(self.server) if self.server is not None else None,
            "token": "***" if self.token else None,  # shown as set, never printed
            "ca": str(self.ca) if self.ca is not None else None,
            "roles": dict(self.roles),
            "events": [redact_url(source) for source in self.events],
            "poll": self.poll,
            "stale_after": self.stale_after,
            "fallback_owners": dict(self.fallback_owners),
            "theme": self.theme,
            "log_level": self.log_level,
            "keymap": dict(self.keymap),
            # Channels may carry credentials: shown as written but with any password taken out.
            "people": {
                key: {**entry, "notify": [redact_url(u) for u in entry.get("notify", [])]}
                if isinstance(entry, dict)
                else entry
                for key, entry in self.people.items()
            },
            "teams": dict(self.teams),
            "routing": dict(self.routing),
            "credentials": _shown_by("credentials", self.credentials),
            "mqtt": _shown_by("mqtt_topics", self.mqtt),
        }
        return [(name, shown[name], self.sources[name]) for name in _SCHEMA]

    def routing_config(self) -> Any:
        """The notification routing these settings describe (`planner_tui.routing.Routing`)."""
        from planner_tui import routing

        return routing.parse(self.people, self.teams, self.routing)

    def rejected(self, key: str, why: str) -> SettingsError:
        """The error for a setting a command cannot use as it is, naming where it came from."""
        value = next(value for name, value, _ in self.items() if name == key)
        return SettingsError(_message(self.sources[key], key, why, value))


def _shown_by(module_name: str, value: Any) -> Any:
    """A parsed table as `config show` prints it: its module's `shown(value)` (secrets masked)."""
    import importlib

    module = importlib.import_module(f"planner_tui.{module_name}")
    return module.shown(value)


def _line_of(error: tomllib.TOMLDecodeError, text: str) -> tuple[str, str]:
    """(where, what) from tomllib's message, which carries "(at line L, column C)" or "(at end of document)"."""
    message = str(error)
    found = re.search(r"\s*\(at line (\d+), column (\d+)\)$", message)
    if found:
        return f"line {found[1]}, column {found[2]}", message[: found.start()]
    found = re.search(r"\s*\(at end of document\)$", message)
    if found:
        return f"line {max(1, len(text.splitlines()))} (end of file)", message[: found.start()]
    return "", message


def _unknown(name: str) -> str:
    close = difflib.get_close_matches(name, _SCHEMA, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"unknown key ({hint}the keys are {', '.join(_SCHEMA)})"


def _read_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise SettingsError(f"{path}: not a UTF-8 text file") from None
    except OSError as error:
        raise SettingsError(f"{path}: cannot read the settings file: {error.strerror or error}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        where, what = _line_of(error, text)
        place = f"{path}, {where}" if where else str(path)
        raise SettingsError(f"{place}: invalid TOML: {what}") from None
    except RecursionError:  # tomllib recurses per level of nesting: `x = [[[[...` exhausts the stack
        raise SettingsError(f"{path}: invalid TOML: values are nested too deeply") from None


def load(config: Path | None = None, *, env: Mapping[str, str] | None = None, **flags: Any) -> Settings:
    """The settings in force: defaults, then the settings file, then PLANNER_TUI_* variables, then `flags`.

    The file is `config` (the --config flag), else $PLANNER_TUI_CONFIG, else the user's config file; a file
    named by the flag or the variable must exist, the user's file is read only when it exists."""
    env = os.environ if env is None else env
    if config is not None:
        path, path_source = Path(config).expanduser(), FLAG
    elif env.get(CONFIG_ENV, "").strip():
        path, path_source = Path(env[CONFIG_ENV].strip()).expanduser(), f"env:{CONFIG_ENV}"
    else:
        path, path_source = user_config_file(), DEFAULT
    found = path.is_file()
    if not found and path_source != DEFAULT:
        named_by = "--config" if path_source == FLAG else CONFIG_ENV
        raise SettingsError(f"{path}: settings file not found (named by {named_by})")

    values: dict[str, Any] = {}
    sources: dict[str, str] = dict.fromkeys(_SCHEMA, DEFAULT)
    if found:
        data = _read_file(path)
        base = path.resolve().parent
        source = f"file:{path}"
        for name, raw in data.items():
            if name not in _SCHEMA:
                raise SettingsError(_message(source, name, _unknown(name), raw))
            try:
                values[name] = _SCHEMA[name].check(raw, base)
            except _Bad as bad:
                # An entry of a list of tables reads `credentials[1].url`, a key of a table `keymap.app.quit`.
                key = name if bad.key is None else f"{name}{'' if bad.key.startswith('[') else '.'}{bad.key}"
                value = raw if bad.value is _WHOLE else bad.value
                raise SettingsError(_message(source, key, bad.why, value)) from None
            sources[name] = source

    for name, spec in _SCHEMA.items():
        if spec.env is None or not env.get(spec.env, "").strip():
            continue  # an empty variable counts as unset, as in most tools
        text = env[spec.env].strip()
        try:
            values[name] = spec.check(spec.from_env(text), None)  # relative to where the command runs
        except _Bad as bad:
            shown = text if bad.value is _WHOLE else bad.value  # a secret's checker hides it ("***")
            raise SettingsError(_message(f"env:{spec.env}", name, bad.why, shown)) from None
        sources[name] = f"env:{spec.env}"

    settings = Settings(config_file=path, config_source=path_source, config_found=found, sources=sources, **values)
    return settings.with_flags(**flags)


# ---------------------------------------------------------------------------------------- the current settings
# The CLI's root callback loads the settings once per command (it knows --config); the commands and
# cli.common.open_store read them from here. Outside the CLI they are loaded on first use.

_current: Settings | None = None


def use(settings: Settings | None) -> None:
    """Make `settings` the ones in force for this process (None: load them again on next use)."""
    global _current
    _current = settings


def current() -> Settings:
    global _current
    if _current is None:
        _current = load()
    return _current


def default_db() -> Path | None:
    """The database a command uses when it is given neither --db nor --snapshot."""
    return current().db
