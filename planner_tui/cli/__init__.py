"""The `planner-tui` command line: every question the console answers, with `--json` for scripts."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Annotated, Literal

import typer
from typer.core import TyperGroup

from planner_tui.errors import PlannerError

log = logging.getLogger(__name__)


class _GuardedGroup(TyperGroup):
    """Turns PlannerError into a one-line message and its exit status: no traceback reaches a user."""

    def invoke(self, ctx):
        from planner_tui.cli.common import fail

        try:
            return super().invoke(ctx)
        except PlannerError as error:
            fail(error)
            raise typer.Exit(error.exit_code) from None
        except KeyboardInterrupt:
            raise typer.Exit(130) from None


app = typer.Typer(
    cls=_GuardedGroup,
    name="planner-tui",
    help="A terminal console for manufacturing planners: load the ERP/MES snapshot, follow live events, "
    "see what a machine stop or a quality hold hits, and triage it from the keyboard.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,  # --install-completion and --show-completion
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _forget() -> None:
    """In-process callers (tests) run many commands: leave no settings or log handler behind."""
    from planner_tui import logs, settings

    settings.use(None)
    logs.reset()


def version_text() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"planner-tui {version('planner-tui')}"
    except PackageNotFoundError:  # run from a source tree that was never installed
        from planner_tui import __version__

        return f"planner-tui {__version__}"


def _show_version(value: bool) -> None:
    if value:
        typer.echo(version_text())
        raise typer.Exit(0)


@app.callback()
def _root(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            metavar="FILE",
            dir_okay=False,
            help="The settings file (default: $PLANNER_TUI_CONFIG, else `planner-tui config path`).",
        ),
    ] = None,
    log_level: Annotated[
        Literal["debug", "info", "warning", "error"] | None,
        typer.Option(
            "--log-level",
            metavar="LEVEL",
            case_sensitive=False,
            help="Log debug, info, warning (the default) or error and above to stderr; the console "
            "logs to its log file.",
        ),
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", is_eager=True, callback=_show_version, help="Print the version and exit.")
    ] = False,
) -> None:
    """planner-tui: the planner's console for the Execution Gap."""
    from planner_tui import logs, settings

    # Read once for the whole command; a bad file stops every command with one line (exit 2).
    in_force = settings.load(config, log_level=log_level.lower() if log_level else None)
    settings.use(in_force)
    logs.configure(in_force.log_level, console=False)
    ctx.call_on_close(_forget)
    log.debug(
        "settings file %s (%s, %s)",
        in_force.config_file,
        "found" if in_force.config_found else "not found",
        in_force.config_source,
    )
    for name, value, source in in_force.items():
        log.debug("setting %s = %r (%s)", name, value, source)


def _register() -> None:
    from planner_tui.cli import (
        config_cmds,
        console_cmds,
        detail_cmds,
        event_cmds,
        generate_cmds,
        impact_cmds,
        material_cmds,
        mqtt_cmds,
        notify_cmds,
        report_cmds,
        search_cmds,
        server_cmds,
        store_cmds,
        triage_cmds,
    )

    for module in (
        store_cmds,
        generate_cmds,
        impact_cmds,
        detail_cmds,
        material_cmds,
        event_cmds,
        mqtt_cmds,
        triage_cmds,
        notify_cmds,
        report_cmds,
        search_cmds,
        console_cmds,
        server_cmds,
        config_cmds,
    ):
        module.register(app)


_register()


PROG = "planner-tui"
_COMPLETE_VAR = "_PLANNER_TUI_COMPLETE"  # what typer's scripts set when the shell asks for completions
_SHELLS = ("bash", "zsh", "fish", "powershell", "pwsh")


def _completion_shell(named: str | None) -> str | None:
    """The shell named, else the one this runs under (from the parent processes), else $SHELL's."""
    if named:
        return named
    try:
        import shellingham  # typer's dependency for the same detection

        return str(shellingham.detect_shell()[0]).lower()
    except Exception:  # noqa: BLE001 - no /proc, no ps, not under a shell: fall back to $SHELL
        return Path(os.environ.get("SHELL", "")).name or None


def _completion_option(args: list[str]) -> bool:
    """Handle `--show-completion [SHELL]` and `--install-completion [SHELL]` given on their own.

    typer's options are flags that detect the shell from the parent processes: a shell named after them
    was ignored (`--show-completion zsh` run from bash printed bash's script), and with no shell among the
    parents they failed. Here the name wins, then detection, then $SHELL."""
    if not args or len(args) > 2:
        return False
    option, equals, named = args[0].partition("=")
    if option not in ("--show-completion", "--install-completion") or (equals and len(args) == 2):
        return False
    if len(args) == 2:
        named = args[1]
    from typer.completion import completion_init, get_completion_script, install

    shell = _completion_shell(named)
    if shell not in _SHELLS:
        typer.echo(
            f"error: cannot complete for shell {shell or '(unknown)'!r}: name one of {', '.join(_SHELLS)}", err=True
        )
        raise SystemExit(2)
    completion_init()
    if option == "--show-completion":
        typer.echo(get_completion_script(prog_name=PROG, complete_var=_COMPLETE_VAR, shell=shell))
    else:
        shell, path = install(shell=shell, prog_name=PROG, complete_var=_COMPLETE_VAR)
        typer.echo(f"{shell} completion installed in {path}; it takes effect in a new terminal")
    return True


def main() -> None:
    if _completion_option(sys.argv[1:]):
        return
    app(prog_name=PROG)


if __name__ == "__main__":  # pragma: no cover
    main()
