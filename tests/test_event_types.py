"""The event type registry: one module per type, held to its row in docs/events.md; a new type is one module."""

from __future__ import annotations

import importlib
import re
import sys
import textwrap
from pathlib import Path

import pytest
from eventkit import ce, one, plant

from planner_tui.store import events
from planner_tui.store.events import KNOWN_TYPES, REGISTRY, EventType, apply_events, event_history
from planner_tui.store.events.registry import discover, kinds_raised, types_raising

TYPES_DIR = Path(events.__file__).parent / "types"


def _documented_types(text: str) -> dict[str, dict[str, str]]:
    """type -> its row of the "Event types" table, by column header."""
    section = text.split("## Event types", 1)[1].split("\n## ", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("|")]
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    rows = {}
    for line in lines[2:]:
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        rows[cells[0].strip("`")] = dict(zip(header, cells))
    return rows


def _ticked(cell: str) -> set[str]:
    return set(re.findall(r"`([^`]+)`", cell))


@pytest.fixture(scope="module")
def documented(repo_root) -> dict[str, dict[str, str]]:
    return _documented_types((repo_root / "docs" / "events.md").read_text())


def test_every_type_has_its_module_and_its_docs_row(documented):
    assert set(documented) == set(REGISTRY)
    modules = {p.stem for p in TYPES_DIR.glob("*.py") if not p.stem.startswith("_")}
    assert modules == {name.replace(".", "_") for name in REGISTRY}
    assert KNOWN_TYPES == tuple(REGISTRY)


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_the_docs_row_names_the_data_keys_and_inbox_kinds_the_type_declares(documented, name):
    event_type = REGISTRY[name]
    row = documented[name]
    assert _ticked(row["data"]) == set(event_type.keys), name
    assert _ticked(row["inbox kinds"]) == set(event_type.raises), name


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_a_type_is_complete(name):
    event_type = REGISTRY[name]
    assert isinstance(event_type, EventType) and event_type.name == name
    assert event_type.keys and len(set(event_type.keys)) == len(event_type.keys)
    assert all(re.fullmatch(r"[a-z_]+", kind) for kind in event_type.raises)
    # describe reads data alone and never fails on missing keys.
    assert isinstance(event_type.describe({}), str)
    assert event_type.describe({key: "x" for key in event_type.keys})


def test_the_engine_can_ask_which_types_touch_a_kind():
    assert types_raising("machine_down") == ("machine.down", "machine.up")
    assert types_raising("quality_hold") == ("hold.placed", "hold.released")
    assert types_raising("feed_stale") == ()
    assert set(kinds_raised()) == {k for t in REGISTRY.values() for k in t.raises}
    assert "shortage" in REGISTRY["receipt.posted"].raises


def test_a_module_not_named_after_its_type_is_refused(tmp_path, monkeypatch):
    package = tmp_path / "badtypes"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "shift_started.py").write_text(
        "from planner_tui.store.events.types.machine_up import TYPE as UP\nTYPE = UP\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ImportError, match="must be named machine_up.py"):
        discover(importlib.import_module("badtypes"))


NEW_TYPE = '''
"""shift.started: a new shift; records who leads it on a machine (a made-up type for the test)."""

from planner_tui.store.events.base import EventType
from planner_tui.store.events.fields import Reject, get_id, get_text, peek_id


def wants(data, wanted):
    wanted.add("machines", peek_id(data, "machine_id"))


def apply(p, ev, data, changes):
    machine_id, lead = get_id(data, "machine_id"), get_text(data, "lead")
    if machine_id not in p.known["machines"]:
        raise Reject(f"unknown machine {machine_id}")
    p.put("machine_states", {"machine_id": machine_id, "state": "running", "since": ev["time"],
                             "reason": f"shift of {lead}", "expected_minutes": None}, changes)
    return f"shift on {machine_id} led by {lead}"


TYPE = EventType(name="shift.started", keys=("machine_id", "lead"), wants=wants, apply=apply,
                 describe=lambda d: f"shift on {d.get('machine_id')}", raises=("machine_down",))
'''


def test_a_new_type_is_one_module(tmp_path, monkeypatch):
    """What adding a type takes: its module (here in a scratch package, found the way the registry finds
    planner_tui's own) is applied, rejected and described with nothing else changed."""
    package = tmp_path / "moretypes"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "shift_started.py").write_text(textwrap.dedent(NEW_TYPE))
    monkeypatch.syspath_prepend(str(tmp_path))
    found = discover(importlib.import_module("moretypes"))
    assert list(found) == ["shift.started"]
    for name, event_type in found.items():
        monkeypatch.setitem(REGISTRY, name, event_type)
    store = plant()
    result = apply_events(
        store,
        [
            ce("s1", "shift.started", {"machine_id": "M1", "lead": "Ada"}),
            ce("s2", "shift.started", {"machine_id": "M-NONE", "lead": "Bo"}),
        ],
        feed="f",
    )
    assert (result.applied, result.rejected) == (1, 1)
    assert result.changed == ["shift on M1 led by Ada"]
    assert one(store, "SELECT reason FROM machine_states WHERE machine_id = 'M1'") == "shift of Ada"
    history = {h["id"]: h for h in event_history(store.cursor())}
    assert history["s1"]["summary"] == "shift on M1"
    assert history["s2"]["reason"] == "unknown machine M-NONE"
    assert types_raising("machine_down")[-1] == "shift.started"
    sys.modules.pop("moretypes.shift_started", None)
    sys.modules.pop("moretypes", None)


def test_an_unknown_type_is_kept_not_applied():
    store = plant()
    result = apply_events(store, [ce("u1", "shift.started", {"machine_id": "M1"})], feed="f")
    assert result.unknown == 1
    assert event_history(store.cursor())[0]["summary"] == "shift.started"
