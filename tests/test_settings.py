"""Settings (defaults < file < PLANNER_TUI_* < flags), `config show`/`config path`, and logging.

The CLI runs as a real `python -m planner_tui` subprocess with HOME and the XDG folders in tmp_path, so no
real user settings are read and no real log file is written.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import os
import subprocess
import sys
from pathlib import Path

import pytest

from planner_tui import logs, settings


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """An empty home: the user's settings file and log folder are under tmp_path, no PLANNER_TUI_* set."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / ".local" / "state"))
    for name in list(os.environ):
        if name.startswith("PLANNER_TUI_"):
            monkeypatch.delenv(name)
    return home


def user_file(home: Path) -> Path:
    return home / ".config" / "planner-tui" / "config.toml"


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """planner-tui in a subprocess, with os.environ (the fixture's) plus `env`."""
    return subprocess.run(
        [sys.executable, "-m", "planner_tui", *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


def shown(result: subprocess.CompletedProcess[str]) -> dict:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


# ---------------------------------------------------------------------------------------- precedence


def test_each_layer_overrides_the_one_below(home, tmp_path) -> None:
    config = tmp_path / "plant.toml"
    config.write_text(
        'db = "/plants/file.duckdb"\npoll = 5\ntheme = "nord"\nlog_level = "info"\n'
        'server = "plant.example:8443"\nevents = ["https://mes.example/feed"]\n'
    )
    env = {"PLANNER_TUI_POLL": "3", "PLANNER_TUI_THEME": "dracula", "PLANNER_TUI_LOG_LEVEL": "ERROR"}

    defaults = settings.load(env={})
    from_file = settings.load(config, env={})
    from_env = settings.load(config, env=env)
    from_flags = from_env.with_flags(poll=7.0, theme="gruvbox", db=Path("/plants/flag.duckdb"))

    assert (defaults.poll, defaults.theme, defaults.db, defaults.log_level) == (2.0, None, None, "warning")
    assert set(defaults.sources.values()) == {"default"}
    source = f"file:{config}"
    assert (from_file.poll, from_file.theme, from_file.db) == (5.0, "nord", Path("/plants/file.duckdb"))
    assert from_file.events == ("https://mes.example/feed",) and from_file.server == "plant.example:8443"
    assert from_file.sources["poll"] == from_file.sources["events"] == source
    assert (from_env.poll, from_env.theme, from_env.log_level) == (3.0, "dracula", "error")
    assert from_env.sources["poll"] == "env:PLANNER_TUI_POLL" and from_env.sources["db"] == source
    assert (from_flags.poll, from_flags.theme, from_flags.db) == (7.0, "gruvbox", Path("/plants/flag.duckdb"))
    assert from_flags.sources["poll"] == from_flags.sources["db"] == "flag"
    assert from_flags.sources["log_level"] == "env:PLANNER_TUI_LOG_LEVEL"  # a flag not given changes nothing


def test_config_show_says_where_each_value_came_from(home) -> None:
    user_file(home).parent.mkdir(parents=True)
    user_file(home).write_text('db = "plant.duckdb"\npoll = 5\ntheme = "nord"\n[keymap]\napp.quit = "ctrl+q"\n')
    result = cli("--log-level", "error", "config", "show", "--json", env={"PLANNER_TUI_POLL": "3"})
    doc = shown(result)
    source = f"file:{user_file(home)}"
    assert doc["config_file"] == {"path": str(user_file(home)), "exists": True, "source": "default"}
    assert doc["settings"]["db"] == {"value": str(user_file(home).parent / "plant.duckdb"), "source": source}
    assert doc["settings"]["theme"] == {"value": "nord", "source": source}
    assert doc["settings"]["keymap"] == {"value": {"app.quit": "ctrl+q"}, "source": source}
    assert doc["settings"]["poll"] == {"value": 3.0, "source": "env:PLANNER_TUI_POLL"}
    assert doc["settings"]["log_level"] == {"value": "error", "source": "flag"}
    assert doc["settings"]["server"] == {"value": None, "source": "default"}
    assert doc["log_file"] == str(home / ".local" / "state" / "planner-tui" / "log" / "planner-tui.log")

    lines = cli("config", "show", env={"PLANNER_TUI_POLL": "3"}).stdout.splitlines()
    assert [line.split() for line in lines if line.startswith("poll ")] == [["poll", "3", "(env:PLANNER_TUI_POLL)"]]
    assert [line.split() for line in lines if line.startswith("theme ")] == [["theme", "nord", f"({source})"]]


def test_config_show_and_path_name_the_file_looked_for_even_when_missing(home, tmp_path) -> None:
    result = cli("config", "show")
    assert result.returncode == 0, result.stderr
    assert f"{user_file(home)}  (not found, default)" in result.stdout
    assert cli("config", "path").stdout.strip() == str(user_file(home))

    named = tmp_path / "named.toml"
    named.write_text("poll = 4\n")
    doc = shown(cli("config", "show", "--json", env={"PLANNER_TUI_CONFIG": str(named)}))
    assert doc["config_file"] == {"path": str(named), "exists": True, "source": "env:PLANNER_TUI_CONFIG"}
    assert doc["settings"]["poll"] == {"value": 4.0, "source": f"file:{named}"}
    other = tmp_path / "other.toml"
    other.write_text("poll = 6\n")
    # --config wins over PLANNER_TUI_CONFIG
    assert cli("--config", str(other), "config", "path", env={"PLANNER_TUI_CONFIG": str(named)}).stdout.strip() == str(
        other
    )


def test_relative_paths_in_the_file_are_beside_it_and_keymap_takes_both_toml_forms(home, tmp_path) -> None:
    config = tmp_path / "site" / "planner.toml"
    config.parent.mkdir()
    config.write_text(
        'db = "plant.duckdb"\nevents = "feeds/line1.jsonl"\n[keymap]\napp.help = "f1"\n"main.filter" = "f"\n'
    )
    loaded = settings.load(config, env={"PLANNER_TUI_DB": ""})  # an empty variable counts as unset
    assert loaded.db == config.parent / "plant.duckdb"
    assert loaded.events == (str(config.parent / "feeds" / "line1.jsonl"),)
    assert dict(loaded.keymap) == {"app.help": "f1", "main.filter": "f"}


def test_server_credentials_are_not_shown(home, tmp_path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('server = "https://planner:hunter2@plant.example:8443"\n')
    result = cli("--config", str(config), "config", "show")
    assert result.returncode == 0 and "hunter2" not in result.stdout
    assert "https://***@plant.example:8443" in result.stdout


# ---------------------------------------------------------------------------------------- bad settings


BAD_FILES = [
    # (file content, what the one line must name besides the file)
    ("pol = 2\n", ["'pol'", "unknown key", "did you mean 'poll'", "got 2"]),
    ("[keymaps]\nx = 'q'\n", ["'keymaps'", "unknown key"]),
    ('poll = "fast"\n', ["'poll'", "number of seconds", "got 'fast'"]),
    ("poll = 0\n", ["'poll'", "at least 0.1", "got 0"]),
    ("poll = inf\n", ["'poll'", "at least 0.1", "got inf"]),
    ("poll = true\n", ["'poll'", "got True"]),
    ("db = 3\n", ["'db'", "got 3"]),
    ('db = ""\n', ["'db'", "got ''"]),
    ('events = ["a.jsonl", 3]\n', ["'events'", "got 3"]),
    ("events = []\n", ["'events'", "got []"]),
    ('server = "plant example"\n', ["'server'", "got 'plant example'"]),
    ('log_level = "loud"\n', ["'log_level'", "debug, info, warning, error", "got 'loud'"]),
    ("theme = 7\n", ["'theme'", "got 7"]),
    ('keymap = "q"\n', ["'keymap'", "got 'q'"]),
    ("[keymap]\napp.quit = 3\n", ["'keymap.app.quit'", "got 3"]),
    ('[keymap]\n"main.filter" = ["f"]\n', ["'keymap.main.filter'", "got ['f']"]),
    ("[poll]\nevery = 1\n", ["'poll'", "got a table"]),
    ("poll = 2\npoll = 3\n", ["line 2", "invalid TOML"]),
    ("poll = \n", ["line 1", "invalid TOML"]),
    ("db = 'a.duckdb\n", ["line 1", "invalid TOML"]),
]


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.parametrize(("content", "named"), BAD_FILES, ids=[c.split("\n")[0][:20] for c, _ in BAD_FILES])
def test_a_bad_settings_file_is_one_line_naming_file_key_and_value(home, tmp_path, content, named) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(content)
    line = one_line_error(cli("--config", str(config), "config", "show"))
    assert line.startswith(f"error: {config}")
    for part in named:
        assert part in line


def test_a_bad_user_file_stops_every_command(home) -> None:
    user_file(home).parent.mkdir(parents=True)
    user_file(home).write_text("poll = -1\n")
    line = one_line_error(cli("status"))
    assert str(user_file(home)) in line and "'poll'" in line and "got -1" in line


def test_a_file_that_is_not_utf8_or_not_there(home, tmp_path) -> None:
    config = tmp_path / "latin1.toml"
    config.write_bytes('theme = "caf\xe9"\n'.encode("latin-1"))
    assert "not a UTF-8 text file" in one_line_error(cli("--config", str(config), "config", "show"))
    missing = tmp_path / "missing.toml"
    assert f"{missing}: settings file not found (named by --config)" in one_line_error(
        cli("--config", str(missing), "config", "path")
    )
    assert "named by PLANNER_TUI_CONFIG" in one_line_error(
        cli("config", "path", env={"PLANNER_TUI_CONFIG": str(missing)})
    )


@pytest.mark.parametrize(
    ("name", "value", "part"),
    [
        ("PLANNER_TUI_POLL", "fast", "number of seconds"),
        ("PLANNER_TUI_POLL", "0.01", "at least 0.1"),
        ("PLANNER_TUI_POLL", "nan", "at least 0.1"),
        ("PLANNER_TUI_LOG_LEVEL", "loud", "debug, info, warning, error"),
        ("PLANNER_TUI_SERVER", "a b", "without spaces"),
    ],
)
def test_a_bad_environment_variable_is_one_line(home, name, value, part) -> None:
    line = one_line_error(cli("config", "show", env={name: value}))
    assert line == f"error: {name}: expected {line.split('expected ', 1)[1]}"
    assert part in line and f"got {value!r}" in line


def test_a_bad_log_level_flag_is_a_usage_error(home) -> None:
    result = cli("--log-level", "loud", "config", "show")
    assert result.returncode == 2 and "Traceback" not in result.stderr


# ---------------------------------------------------------------------------------------- the console's settings


def test_run_takes_its_database_from_the_settings_and_the_flag_wins(home, tmp_path) -> None:
    from_env, from_flag = tmp_path / "env.duckdb", tmp_path / "flag.duckdb"
    env = {"PLANNER_TUI_DB": str(from_env)}
    assert f"no database at {from_env}" in one_line_error_any(cli("run", env=env))
    assert f"no database at {from_flag}" in one_line_error_any(cli("run", "--db", str(from_flag), env=env))


def one_line_error_any(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0 and "Traceback" not in result.stderr, result.stderr
    return result.stderr


def test_run_refuses_a_theme_textual_lacks_and_several_feeds_before_the_screen(home, tmp_path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('theme = "no-such-theme"\n')
    line = one_line_error(cli("--config", str(config), "run", "--db", str(tmp_path / "x.duckdb")))
    assert f"{config}: key 'theme'" in line and "nord" in line and "got 'no-such-theme'" in line
    line = one_line_error(cli("run", "--theme", "nope", "--db", str(tmp_path / "x.duckdb")))
    assert line.startswith("error: --theme: unknown Textual theme")
    line = one_line_error(cli("run", "--db", str(tmp_path / "x.duckdb"), env={"PLANNER_TUI_EVENTS": "a.jsonl,b.jsonl"}))
    assert "PLANNER_TUI_EVENTS" in line and "one feed" in line


def test_default_db_is_the_db_setting(home, tmp_path) -> None:
    settings.use(settings.load(env={"PLANNER_TUI_DB": str(tmp_path / "p.duckdb")}))
    try:
        assert settings.default_db() == tmp_path / "p.duckdb"
    finally:
        settings.use(None)
    assert settings.default_db() is None  # loaded afresh: no file, no variable


def test_every_command_that_reads_the_store_takes_the_db_setting(home, tmp_path, sample_dir) -> None:
    db = tmp_path / "plant.duckdb"
    assert cli("load", str(sample_dir), "--db", str(db)).returncode == 0
    status = shown(cli("status", "--json", env={"PLANNER_TUI_DB": str(db)}))
    assert status["tables"]["machines"] == 12
    assert shown(cli("exceptions", "--json", "--at", "2026-11-23T09:00", env={"PLANNER_TUI_DB": str(db)}))["total"] > 0
    neither = cli("status")
    assert neither.returncode == 2 and "set db" in neither.stderr


def test_an_error_naming_markup_like_text_prints_it_as_it_is(home, tmp_path) -> None:
    result = cli("status", "--db", str(tmp_path / "[red]x.duckdb"))
    assert result.returncode == 1 and "[red]x.duckdb" in result.stderr


# ---------------------------------------------------------------------------------------- logging


def test_log_level_sends_debug_to_stderr_and_the_default_is_quiet(home) -> None:
    quiet = cli("config", "path")
    assert quiet.returncode == 0 and quiet.stderr == ""
    loud = cli("--log-level", "DEBUG", "config", "path")
    assert loud.returncode == 0 and "DEBUG planner_tui.cli: settings file" in loud.stderr
    assert "DEBUG" in cli("config", "path", env={"PLANNER_TUI_LOG_LEVEL": "debug"}).stderr


def test_console_logging_goes_to_the_rotating_file_never_the_terminal(home, capfd) -> None:
    path = logs.configure("info", console=True)
    try:
        assert path == logs.log_file_path() and path.parent.is_relative_to(home)
        logging.getLogger(logs.CONSOLE_LOGGER).error("a worker failed")
        logging.getLogger("httpx").warning("a library warning")
        logging.getLogger("planner_tui.console.app").debug("below the level")
        handler = next(h for h in logging.getLogger().handlers if isinstance(h, logging.handlers.RotatingFileHandler))
        assert handler.maxBytes == logs.MAX_BYTES and handler.backupCount == 3
    finally:
        logs.reset()
    written = path.read_text()
    assert "ERROR planner_tui.console" in written and "a library warning" in written
    assert "below the level" not in written
    assert capfd.readouterr().err == ""
    assert not any(isinstance(h, logging.handlers.RotatingFileHandler) for h in logging.getLogger().handlers)


def test_every_binding_id_is_documented(repo_root) -> None:
    """docs/settings.md lists the ids [keymap] can rebind; a new binding id must be added there."""
    import re

    ids = set()
    for path in (repo_root / "planner_tui" / "console").rglob("*.py"):
        # Binding ids hold a dot (app.quit); widget ids cannot, CSS forbids it.
        ids |= set(re.findall(r'\bid="([A-Za-z_]+\.[A-Za-z0-9_.]+)"', path.read_text()))
    documented = set(
        re.findall(r"^\| `([a-z_]+\.[a-z0-9_.]+)` \|", (repo_root / "docs" / "settings.md").read_text(), re.MULTILINE)
    )
    assert ids and ids == documented
