from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/plantkit.py


@pytest.fixture(autouse=True)
def _no_user_settings(tmp_path_factory, monkeypatch):
    """No test reads the real user's settings or writes the real log folder; subprocesses inherit this."""
    folder = tmp_path_factory.mktemp("user")
    for name in list(os.environ):
        if name.startswith("PLANNER_TUI_") and name != "PLANNER_TUI_BENCH_DATA":
            monkeypatch.delenv(name)
    (folder / "config.toml").write_text("")
    monkeypatch.setenv("PLANNER_TUI_CONFIG", str(folder / "config.toml"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(folder / "config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(folder / "state"))


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    """The sample plant's snapshot folder."""
    return ROOT / "sample_data" / "plant"
