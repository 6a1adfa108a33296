"""Exception kinds as a registry: one engine module per kind, declared once for the store; the console,
the CLI and access hold no per-kind tables; and a new kind is one module plus one declaration, proved by
adding one here (machine_slow) and watching it go through the inbox, triage, history and the CLI."""

from __future__ import annotations

import ast
import json
import sys
import types
from datetime import datetime
from pathlib import Path

import pytest
from plantkit import make_plant
from test_exceptions import AT, PLANT
from typer.testing import CliRunner

from planner_tui.access import LocalPlant
from planner_tui.cli import app
from planner_tui.cli.common import to_json
from planner_tui.engine.exceptions import (
    Context,
    ExceptionKind,
    all_kinds,
    exception_kinds,
    get_exception,
    kind_named,
    list_exceptions,
    registry,
)
from planner_tui.engine.exceptions.base import exception_row
from planner_tui.errors import BadRequest, NotFound
from planner_tui.store import Store, kinds, triage

PACKAGE = Path(__file__).resolve().parent.parent / "planner_tui"
KIND_MODULES = PACKAGE / "engine" / "exceptions" / "kinds"


# --- the registry ----------------------------------------------------------------------------------


def test_the_registry_is_every_declared_kind_in_order() -> None:
    assert [k.name for k in all_kinds()] == list(kinds.EXCEPTION_KINDS)
    assert list(kinds.EXCEPTION_KINDS) == [
        "machine_down",
        "resource_unavailable",
        "quality_hold",
        "shortage",
        "late_order",
        "no_supply",
        "feed_stale",
        "notification_failed",
    ]


def test_every_kind_module_is_a_declared_kind_and_the_other_way_round() -> None:
    modules = {p.stem for p in KIND_MODULES.glob("*.py") if p.stem != "__init__"}
    assert modules == set(kinds.EXCEPTION_KINDS)


def test_each_kind_is_complete() -> None:
    ranks = [k.rank for k in all_kinds()]
    assert len(set(ranks)) == len(ranks), "two kinds with one rank: their order would be the id's"
    for kind in all_kinds():
        assert kind.words and kind.raised_while and kind.severities, kind.name
        assert callable(kind.detect) and callable(kind.cleared_note), kind.name
        assert bool(kind.event_types) == (kind.events_about is not None), kind.name
        assert kind.subject is kinds.EXCEPTION_KINDS[kind.name]
        if kind.subject.record:
            assert kind.link, f"{kind.name}: the UIs open its subject; say what that shows"


def test_causes_rank_before_their_consequences() -> None:
    order = sorted(all_kinds(), key=lambda k: k.rank)
    assert [k.name for k in order] == [
        "feed_stale",
        "notification_failed",
        "machine_down",
        "resource_unavailable",
        "quality_hold",
        "shortage",
        "no_supply",
        "late_order",
    ]


def test_the_kinds_as_plain_data() -> None:
    described = exception_kinds()
    assert json.loads(to_json(described)) == described
    by_kind = {d["kind"]: d for d in described}
    assert by_kind["late_order"]["subject_kind"] == "sales_order_line"
    assert by_kind["late_order"]["subject_record"] == "sales_order"
    assert by_kind["late_order"]["example"] == "late_order:SO-1001/2"
    assert by_kind["machine_down"]["owner_role"] == "machine supervisor"
    assert by_kind["machine_down"]["link"] == "impact of machine"
    assert by_kind["feed_stale"]["subject_record"] is None and by_kind["feed_stale"]["true_start"]


def test_an_undeclared_kind_cannot_be_made() -> None:
    with pytest.raises(ValueError, match="store/kinds.py"):
        ExceptionKind(
            name="volcano",
            words="eruption",
            rank=1,
            raised_while="-",
            severities="-",
            detect=lambda ctx, only: [],
            cleared_note=lambda ctx, subject: "",
        )


def test_unknown_kinds_are_a_bad_request() -> None:
    with pytest.raises(BadRequest, match="unknown kind"):
        kind_named("volcano")
    with pytest.raises(BadRequest, match=r"unknown kind\(s\) volcano"):
        list_exceptions(Store.memory().cursor(), at=AT, kinds=["volcano"])


# --- no per-kind tables above the engine ---------------------------------------------------------------


def _string_constants(path: Path) -> list[tuple[int, str]]:
    """Every string literal of a module, docstrings left out (they may name a kind as an example)."""
    tree = ast.parse(path.read_text())
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
    ]


ASKERS = sorted(
    [*(PACKAGE / "console").rglob("*.py"), *(PACKAGE / "access").rglob("*.py"), PACKAGE / "cli" / "triage_cmds.py"]
)


@pytest.mark.parametrize("path", ASKERS, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_the_console_cli_and_access_name_no_kind(path: Path) -> None:
    """They ask the registry (PlantData.exception_kinds, engine.exceptions, store.kinds) instead."""
    named = [
        (line, text)
        for line, text in _string_constants(path)
        for kind in kinds.EXCEPTION_KINDS
        if text == kind or f"{kind}:" in text
    ]
    assert not named, f"{path.relative_to(PACKAGE)} names exception kinds: {named}"


# --- a new kind: one module, one declaration -----------------------------------------------------------


SLOW = {"M2"}  # which machines machine_slow raises for; a test empties it to clear the cause


def _detect_slow(ctx: Context, only: str | None = None) -> list[dict]:
    found = ctx.cur.execute("SELECT machine_id, supervisor FROM machines ORDER BY machine_id").fetchall()
    return [
        exception_row(
            "machine_slow",
            machine_id,
            severity="medium",
            title=f"{machine_id} running slow",
            raised_at=datetime(2026, 1, 5, 6, 0),
            owner=supervisor,
            detail={},
            at=ctx.at,
        )
        for machine_id, supervisor in found
        if machine_id in SLOW and only in (None, machine_id)
    ]


@pytest.fixture
def machine_slow(monkeypatch) -> ExceptionKind:
    """What a planner_tui/engine/exceptions/kinds/machine_slow.py would define, plus its one line in
    planner_tui/store/kinds.py, installed for one test."""
    monkeypatch.setitem(kinds.EXCEPTION_KINDS, "machine_slow", kinds.MACHINE)
    module = types.ModuleType(f"{registry.KINDS_PACKAGE}.machine_slow")
    module.KIND = ExceptionKind(  # type: ignore[attr-defined]
        name="machine_slow",
        words="slow machine",
        rank=25,
        raised_while="the machine runs below its rate",
        severities="medium",
        detect=_detect_slow,
        cleared_note=lambda ctx, machine_id: "back at its rate",
        link="impact of machine",
        events_about=lambda subject: ("json_extract_string(data, '$.data.machine_id') = ?", [subject]),
    )
    monkeypatch.setitem(sys.modules, module.__name__, module)
    loaded = registry.load()  # what the registry finds at import, with the new kind declared
    assert list(loaded)[-1] == "machine_slow" and loaded["machine_slow"] is module.KIND
    monkeypatch.setitem(registry.KINDS, "machine_slow", module.KIND)
    monkeypatch.setattr(sys.modules[__name__], "SLOW", {"M2"})
    return module.KIND


def test_a_new_kind_goes_through_the_inbox_triage_history_and_the_cli(machine_slow, tmp_path) -> None:
    store = make_plant(**PLANT)
    rows = {r["exception_id"]: r for r in list_exceptions(store.cursor(), at=AT)}
    slow = rows["machine_slow:M2"]
    assert (slow["subject_kind"], slow["owner"], slow["severity"]) == ("machine", "Ben", "medium")
    assert "machine_slow" in [k["kind"] for k in exception_kinds()]
    plant = LocalPlant(Store.memory())
    try:
        assert "machine_slow" in [k["kind"] for k in plant.exception_kinds()]
    finally:
        plant.close()

    # The store checks its ids with the one declaration: a machine it has, else NotFound.
    assert triage.acknowledge(store, "machine_slow:M2", who="ben", at=AT)["status"] == "acknowledged"
    with pytest.raises(NotFound, match="unknown machine 'M9'"):
        triage.acknowledge(store, "machine_slow:M9", who="ben", at=AT)

    # The cause clears while in triage: listed, low, in the kind's words, owned by the subject's owner.
    SLOW.clear()
    cleared = {r["exception_id"]: r for r in list_exceptions(store.cursor(), at=AT)}["machine_slow:M2"]
    assert cleared["cause_cleared"] and cleared["owner"] == "Ben"
    assert cleared["title"] == "M2: slow machine, cleared: back at its rate"
    shown = get_exception(store.cursor(), "machine_slow:M2", at=AT)
    assert [h["action"] for h in shown["history"]] == ["acknowledge"]

    # The CLI takes it as a kind and shows it.
    path = tmp_path / "plant.duckdb"
    with Store.open(path) as db:
        make_plant(db, **PLANT)
    SLOW.add("M2")
    result = CliRunner().invoke(
        app, ["exceptions", "--db", str(path), "--at", "2026-01-05T07:00:00", "--json", "--kind", "machine_slow"]
    )
    assert result.exit_code == 0, result.output
    assert [e["exception_id"] for e in json.loads(result.stdout)["exceptions"]] == ["machine_slow:M2"]
    listed = CliRunner().invoke(app, ["exception", "kinds", "--json"])
    assert "machine_slow" in [k["kind"] for k in json.loads(listed.stdout)]


def test_without_its_declaration_a_kind_module_is_not_loaded(monkeypatch) -> None:
    """A declared kind must have its module: the registry refuses to start without it."""
    monkeypatch.setitem(kinds.EXCEPTION_KINDS, "machine_gone", kinds.MACHINE)
    with pytest.raises(ModuleNotFoundError, match="machine_gone"):
        registry.load()


# --- held to docs/triage.md ----------------------------------------------------------------------------


def _table_rows(heading: str) -> dict[str, list[str]]:
    """kind -> cells of the first markdown table after `heading` in docs/triage.md (its first cell names the
    kind: `machine_down:M-WELD-01` or `machine_down`)."""
    text = (PACKAGE.parent / "docs" / "triage.md").read_text()
    lines = text[text.index(heading) :].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    rows = {}
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        rows[cells[0].strip("`").split(":")[0]] = cells
    return rows


def test_each_kind_has_its_rows_in_the_docs() -> None:
    raised = _table_rows("## What raises an exception")
    titles = _table_rows("### Titles")
    assert list(raised) == list(titles) == [k.name for k in all_kinds()]
    for kind in all_kinds():
        what, severity = raised[kind.name][1], raised[kind.name][2]
        assert what.startswith(kind.raised_while), (kind.name, what)
        assert severity == kind.severities, kind.name
