"""`planner-tui --version` and shell completion, run as the installed console script would be."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import version

import pytest


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    """A process environment whose home is tmp_path (installing completion writes there)."""
    home = tmp_path / "home"
    home.mkdir()
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PLANNER_TUI_", "_PLANNER_TUI_"))}
    return {
        **clean,
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_STATE_HOME": str(home / ".local" / "state"),
        "SHELL": "/bin/bash",
    }


def cli(env: dict[str, str], *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "planner_tui", *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        env={**env, **extra},
    )


def test_version(env) -> None:
    result = cli(env, "--version")
    assert result.returncode == 0 and result.stderr == ""
    assert result.stdout == f"planner-tui {version('planner-tui')}\n"


def test_version_comes_before_reading_settings(env, tmp_path) -> None:
    result = cli(env, "--config", str(tmp_path / "missing.toml"), "--version")
    assert result.returncode == 0 and result.stdout.startswith("planner-tui ")


def test_help_lists_the_root_options(env) -> None:
    result = cli(env, "--help")
    assert result.returncode == 0
    for option in ("--config", "--log-level", "--version", "--install-completion", "--show-completion"):
        assert option in result.stdout


@pytest.mark.parametrize(
    ("shell", "marker"),
    [
        ("bash", "complete -o default -F _planner_tui_completion planner-tui"),
        ("zsh", "#compdef planner-tui"),
        ("fish", "complete --command planner-tui"),
    ],
)
def test_show_completion_prints_the_named_shells_script(env, shell, marker) -> None:
    result = cli(env, "--show-completion", shell)
    assert result.returncode == 0, result.stderr
    assert marker in result.stdout and "_PLANNER_TUI_COMPLETE" in result.stdout


def test_show_completion_without_a_name_still_works(env) -> None:
    # Detected from the parent processes, else from $SHELL: either way a script for a known shell.
    result = cli(env, "--show-completion")
    assert result.returncode == 0, result.stderr
    assert "_PLANNER_TUI_COMPLETE" in result.stdout


def test_an_unknown_shell_is_one_line(env) -> None:
    result = cli(env, "--show-completion", "tcsh")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        "error: cannot complete for shell 'tcsh': name one of bash, zsh, fish, powershell, pwsh"
    ]


def test_the_script_s_completion_requests_are_answered(env) -> None:
    """What the bash script asks at a Tab press: commands, subcommands, option values."""

    def complete(words: str, cword: int) -> list[str]:
        result = cli(env, _PLANNER_TUI_COMPLETE="complete_bash", COMP_WORDS=words, COMP_CWORD=str(cword))
        assert result.returncode == 0, result.stderr
        return result.stdout.split()

    assert complete("planner-tui con", 1) == ["config"]
    assert complete("planner-tui config ", 2) == ["show", "path"]
    assert complete("planner-tui --log-level ", 2) == ["debug", "info", "warning", "error"]


def test_install_completion_writes_the_script_under_home(env) -> None:
    result = cli(env, "--install-completion", "bash")
    assert result.returncode == 0, result.stderr
    script = os.path.join(env["HOME"], ".bash_completions", "planner-tui.sh")
    assert "bash completion installed in" in result.stdout and os.path.isfile(script)
    with open(os.path.join(env["HOME"], ".bashrc")) as bashrc:
        assert "planner-tui.sh" in bashrc.read()
