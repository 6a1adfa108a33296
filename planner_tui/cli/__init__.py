"""The `planner-tui` command line: every question the console answers, with `--json` for scripts."""

from __future__ import annotations

import sys

import typer
from typer.core import TyperGroup

from planner_tui.errors import PlannerError


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
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def _root() -> None:
    """planner-tui: the planner's console for the Execution Gap."""


def _register() -> None:
    from planner_tui.cli import (
        console_cmds,
        detail_cmds,
        event_cmds,
        generate_cmds,
        impact_cmds,
        material_cmds,
        search_cmds,
        store_cmds,
        triage_cmds,
    )

    for module in (store_cmds, generate_cmds, impact_cmds, detail_cmds, material_cmds, event_cmds, triage_cmds,
                   search_cmds, console_cmds):
        module.register(app)


_register()


def main() -> None:
    app(prog_name="planner-tui")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
