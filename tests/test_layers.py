"""The headless layers (store, engine, feeds) must never load Textual: the CLI, scripts and servers
use them without a terminal UI, and the console is only a view over them."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEADLESS = [
    "planner_tui.store",
    "planner_tui.store.loader",
    "planner_tui.store.events",
    "planner_tui.store.triage",
    "planner_tui.engine",
    "planner_tui.engine.schedule",
    "planner_tui.engine.impact",
    "planner_tui.engine.trace",
    "planner_tui.engine.shortages",
    "planner_tui.engine.exceptions",
    "planner_tui.feeds",
    "planner_tui.feeds.poller",
    "planner_tui.feeds.server",
    "planner_tui.generate",
]


@pytest.mark.parametrize("module", HEADLESS)
def test_headless_module_does_not_load_textual(module: str) -> None:
    code = (
        "import importlib, sys\n"
        f"importlib.import_module({module!r})\n"
        "loaded = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.'))\n"
        "print(','.join(loaded))\n"
        "sys.exit(1 if loaded else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, f"{module} loaded Textual: {result.stdout} {result.stderr}"
