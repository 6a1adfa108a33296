"""CLI commands over the settings: `config show` (every setting and where it came from), `config path`."""

from __future__ import annotations

import json
from typing import Any

import typer

from planner_tui import settings
from planner_tui.cli.common import JsonOption, emit_json, stdout
from planner_tui.logs import log_file_path

config_app = typer.Typer(
    name="config",
    help="The settings: defaults < the settings file < PLANNER_TUI_* variables < flags.",
    no_args_is_help=True,
)


def _shown(value: Any) -> str:
    if value is None or value == [] or value == {}:
        return "-"
    if isinstance(value, list):  # a table in it (a [[credentials]] entry) as JSON, on the one line
        return ", ".join(item if isinstance(item, str) else json.dumps(item) for item in value)
    return f"{value:g}" if isinstance(value, float) else str(value)


@config_app.command("show")
def show(json: JsonOption = False) -> None:
    """Every setting in force and where it came from: default, file:PATH, env:NAME or flag."""
    in_force = settings.current()
    # The theme is checked here too, so `config show` is the way to check a settings file before a console
    # would refuse it.
    from planner_tui.console.theme import check_theme  # Textual only for a console or its check

    check_theme(in_force)
    items = in_force.items()
    if json:
        emit_json(
            {
                "config_file": {
                    "path": str(in_force.config_file),
                    "exists": in_force.config_found,
                    "source": in_force.config_source,
                },
                "log_file": str(log_file_path()),
                "settings": {name: {"value": value, "source": source} for name, value, source in items},
            }
        )
        return
    found = "found" if in_force.config_found else "not found"
    rows = [
        ("settings file", str(in_force.config_file), f"{found}, {in_force.config_source}"),
        ("console log", str(log_file_path()), ""),
    ]
    for name, value, source in items:
        if name == "keymap" and value:
            rows += [(f"keymap.{binding_id}", keys, source) for binding_id, keys in value.items()]
        else:
            rows.append((name, _shown(value), source))
    width = max(len(name) for name, _, _ in rows)
    # Lines rather than a table: paths and sources are long, and a table at 80 columns would cut them.
    for name, value, source in rows:
        line = f"{name:<{width}}  {value}" + (f"  ({source})" if source else "")
        stdout.print(line, soft_wrap=True, highlight=False, markup=False)


@config_app.command("path")
def path() -> None:
    """The settings file looked for, which may not exist yet (--config, $PLANNER_TUI_CONFIG or the user's)."""
    typer.echo(str(settings.current().config_file))


def register(app: typer.Typer) -> None:
    app.add_typer(config_app)
