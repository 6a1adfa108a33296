"""The layers, one direction only (docs/architecture.md): store <- engine <- feeds <- access <- server <- console <- cli.

Every module under planner_tui/ is read (its AST, imports inside functions included: a lazy import is still
a dependency) and may import only from its own layer and the layers above it, plus the shared top-level
utilities. Nothing below the console imports Textual, in its source or when it is imported. Inside the
console, screens, dialogs, widgets and the palette reach the plant only through planner_tui.access.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "planner_tui"

# Top to bottom: a layer may import itself and the layers above it.
LAYERS = ("store", "engine", "feeds", "access", "server", "console", "cli")
# Top-level modules every layer may use; they may use one another but no layer.
SHARED = {
    "__init__",
    "errors",
    "timeutil",
    "urls",
    "present",
    "logs",
    "settings",
    "wire",
    "roles",
    "routing",
    "credentials",
    "mqtt_topics",
    "handover",
}
# Top-level modules with a place of their own: what each may import (beside SHARED and itself).
PLACED = {
    "generate": {"store"},  # the synthetic plant generator writes a store; the CLI runs it
    "__main__": set(LAYERS),  # `python -m planner_tui` is the CLI
}
# ... and which layers may import them.
IMPORTED_BY = {"generate": {"cli"}, "__main__": set()}
HEADLESS = ("store", "engine", "feeds", "access", "server")  # below the console: no Textual
# Console modules that may open the store themselves: the app (it builds a LocalPlant from the Store it
# is given) and `planner-tui screenshots` (it builds the sample plant). Everything else uses access.
CONSOLE_STORE_USERS = {"app", "screenshots"}


def unit_of(path: Path) -> str:
    """The layer (store, engine...) or top-level module name a source file belongs to."""
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return parts[0]


def module_name(path: Path) -> str:
    parts = ("planner_tui", *path.relative_to(PACKAGE).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in the file, relative ones resolved."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.append((node.lineno, module))
            # `from planner_tui import settings`, `from . import x`: the names may be modules themselves
            folder = PACKAGE.parent.joinpath(*module.split("."))
            found += [
                (node.lineno, f"{module}.{alias.name}")
                for alias in node.names
                if (folder / f"{alias.name}.py").exists() or (folder / alias.name).is_dir()
            ]
    return found


def target_unit(module: str) -> str | None:
    """The layer or top-level module a planner_tui import names (None: not planner_tui, or the root)."""
    parts = module.split(".")
    if parts[0] != "planner_tui" or len(parts) == 1:
        return None
    return parts[1]


def allowed(unit: str) -> set[str]:
    if unit in SHARED:
        return set(SHARED)
    if unit in PLACED:
        return SHARED | PLACED[unit] | {unit}
    index = LAYERS.index(unit)
    placed = {name for name, users in IMPORTED_BY.items() if unit in users}
    return SHARED | set(LAYERS[: index + 1]) | placed


def violations(path: Path, unit: str) -> list[str]:
    """What `path`, a module of `unit`, imports that it must not."""
    wrong = []
    for line, module in imports_of(path):
        target = target_unit(module)
        if target is not None and target not in allowed(unit):
            wrong.append(f"line {line}: {module}")
        if unit in HEADLESS + tuple(PLACED) + tuple(SHARED) and (module == "textual" or module.startswith("textual.")):
            wrong.append(f"line {line}: {module} (no Textual below the console)")
    return wrong


SOURCES = sorted(PACKAGE.rglob("*.py"))


def test_every_module_has_a_place() -> None:
    unknown = sorted({unit_of(p) for p in SOURCES} - set(LAYERS) - SHARED - set(PLACED))
    assert not unknown, (
        f"planner_tui/{unknown[0]} is in no layer: add it to LAYERS, SHARED or PLACED in "
        "tests/test_layers.py (and to docs/architecture.md)"
    )


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_a_module_imports_only_from_the_layers_above_it(path: Path) -> None:
    unit = unit_of(path)
    if unit not in set(LAYERS) | SHARED | set(PLACED):
        pytest.skip("no place yet: test_every_module_has_a_place says so")
    wrong = violations(path, unit)
    assert not wrong, f"{path.relative_to(PACKAGE)} ({unit}) reaches below itself:\n" + "\n".join(wrong)


CONSOLE_VIEWS = sorted(
    p
    for p in (PACKAGE / "console").rglob("*.py")
    if p.relative_to(PACKAGE / "console").with_suffix("").parts[0] not in CONSOLE_STORE_USERS
)


@pytest.mark.parametrize("path", CONSOLE_VIEWS, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_screens_and_widgets_reach_the_plant_only_through_access(path: Path) -> None:
    wrong = [
        f"line {line}: {module}"
        for line, module in imports_of(path)
        if target_unit(module) in ("store", "engine", "feeds")
    ]
    assert not wrong, f"{path.relative_to(PACKAGE)} asks the plant around planner_tui.access:\n" + "\n".join(wrong)


# The checker itself: it must catch what it is for.
@pytest.mark.parametrize(
    "unit,source,bad",
    [
        ("engine", "from planner_tui.feeds.poller import open_feed", True),
        ("store", "def f():\n    from planner_tui.engine import impact", True),
        ("store", "import planner_tui.engine.orders", True),
        ("feeds", "from planner_tui.access import LocalPlant", True),
        ("access", "from planner_tui.console.app import PlannerApp", True),
        ("console", "from planner_tui.cli.common import to_json", True),
        ("engine", "from textual.widgets import Static", True),
        ("settings", "def f():\n    from textual.theme import BUILTIN_THEMES", True),
        ("errors", "from planner_tui.store import Store", True),
        ("engine", "from planner_tui.generate import generate", True),
        ("access", "from planner_tui.feeds.poller import open_feed", False),
        ("cli", "from planner_tui.console.app import PlannerApp", False),
        ("generate", "from planner_tui.store import Store", False),
        ("engine", "from planner_tui import errors", False),
        ("engine", "from planner_tui import settings", False),
        ("engine", "from planner_tui import console", True),
    ],
)
def test_the_checker_catches_a_wrong_import(tmp_path: Path, unit: str, source: str, bad: bool) -> None:
    path = tmp_path / "m.py"
    path.write_text(source + "\n")
    wrong = violations(path, unit)
    assert bool(wrong) == bad, (unit, source, wrong)


# Importing them must not load Textual either (a library they import could), in a fresh interpreter.
IMPORTED_HEADLESS = sorted(
    {module_name(p) for p in SOURCES if unit_of(p) in HEADLESS + tuple(PLACED) + tuple(SHARED)}
    - {"planner_tui.__main__"}
)


def test_headless_modules_do_not_load_textual() -> None:
    code = (
        "import importlib, sys\n"
        f"for module in {IMPORTED_HEADLESS!r}:\n"
        "    importlib.import_module(module)\n"
        "    if any(m == 'textual' or m.startswith('textual.') for m in sys.modules):\n"
        "        print(module)\n"
        "        sys.exit(1)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, f"importing {result.stdout.strip()} loaded Textual {result.stderr}"
    assert "planner_tui.access.local" in IMPORTED_HEADLESS and "planner_tui.engine.impact" in IMPORTED_HEADLESS
