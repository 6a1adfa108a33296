"""Every question command and every triage command asks the plant through PlantData: `--server ADDR` is only
another PlantData (here a stand-in for the plant server's client, answering from the same database), and the
answers, tables and --json alike, are the same as with `--db`. Triage refuses what is not there to triage
and a person nobody knows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from plantkit import scenario_db
from typer.testing import CliRunner

from planner_tui.access import LocalPlant
from planner_tui.access import remote as remote_module
from planner_tui.cli import app
from planner_tui.store import Store, users

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_data"
AT = "2026-11-23T09:00:00"
ADDRESS = "tcp:127.0.0.1:9999"


class StandIn:
    """What `remote.connect` gives: a PlantData that is not a LocalPlant, answering from the database."""

    def __init__(self, db: Path) -> None:
        self._plant = LocalPlant(Store.open(db))
        self.closed = False

    def __getattr__(self, name: str):
        return getattr(self._plant, name)

    def close(self) -> None:
        self.closed = True
        self._plant.close()


@pytest.fixture(scope="module")
def plant_db(tmp_path_factory) -> Path:
    """The sample plant with its scenario applied, in a database file (copied per test)."""
    return scenario_db(tmp_path_factory.mktemp("plant") / "plant.duckdb")


@pytest.fixture
def db(plant_db, tmp_path) -> Path:
    path = tmp_path / "plant.duckdb"
    path.write_bytes(plant_db.read_bytes())
    return path


@pytest.fixture
def connected(db, monkeypatch) -> list[tuple[str, StandIn]]:
    """Every `remote.connect(address)` made, with the plant it gave."""
    made: list[tuple[str, StandIn]] = []

    def connect(address: str) -> StandIn:
        plant = StandIn(db)
        made.append((address, plant))
        return plant

    monkeypatch.setattr(remote_module, "connect", connect)
    return made


def run(*args: str):
    result = CliRunner().invoke(app, list(args))
    assert "Traceback" not in (result.output or ""), result.output
    return result


def _ids(db: Path) -> dict[str, str]:
    plant = LocalPlant(Store.open(db, read_only=True))
    try:
        hold = plant.holds()[0]
        shipment = next(s["id"] for s in plant.find("S", kind="shipment", limit=50))
        return {"hold": hold["hold_id"], "lot": hold["lot_id"], "shipment": shipment}
    finally:
        plant.close()


def questions(ids: dict[str, str]) -> list[list[str]]:
    at = ["--at", AT]
    return [
        ["exceptions", *at],
        ["exceptions", *at, "--all", "--kind", "machine_down", "--kind", "quality_hold", "--limit", "1"],
        ["exception", "show", "machine_down:M-WELD-01", *at],
        ["exception", "kinds"],
        ["owners"],
        ["notifications"],
        ["notifications", "--failed", "--exception", "machine_down:M-WELD-01"],
        ["routes", "test", "machine_down:M-WELD-01", *at],
        ["machines", *at],
        ["machines", "--stopped", *at],
        ["machine", "M-WELD-01", *at, "--limit", "3"],
        ["holds"],
        ["shipment", ids["shipment"]],
        ["customer", "CUST-KESSLER", *at],
        ["impact", "machine", "M-WELD-01", *at, "--down-minutes", "90"],
        ["resource", "FIX-BASE-100", *at, "--limit", "3"],
        ["impact", "resource", "FIX-BASE-100", *at, "--down-minutes", "240"],
        ["reschedule", *at],
        ["order", "PRO-26-0411"],
        ["trace", "lot", ids["lot"]],
        ["trace", "hold", ids["hold"]],
        ["shortages", *at],
        ["shortages", *at, "--horizon-days", "5"],
        ["shortages", *at, "--item", "R-SEAL-200"],
        ["find", "weld"],
        ["find", "--kind", "machine", "-n", "3"],
        ["status"],
        ["events", "list", "--limit", "5"],
        ["events", "list", "--type", "machine.*", "--since", "2026-11-23T06:00"],
        ["events", "lag"],
        # the plant as it stood before the weld cell stopped, and the shift's story
        *[[*command, "--as-of", "2026-11-23T06:10"] for command in (["exceptions"], ["machines"], ["holds"])],
        *[[*command, "--as-of", "2026-11-23T07:00"] for command in (["shortages"], ["status"])],
        ["impact", "machine", "M-WELD-01", "--as-of", "2026-11-23T07:00"],
        ["report", "shift", *at],
        ["report", "shift", *at, "--format", "html"],
        ["report", "shift", "--from", "2026-11-23T06:00", "--to", "2026-11-23T08:00", *at],
    ]


def test_every_question_answers_the_same_from_a_server_as_from_the_database(db, connected) -> None:
    asked = 0
    for command in questions(_ids(db)):
        for output in ([], ["--json"]):
            local = [] if command[:2] == ["exception", "kinds"] else ["--db", str(db)]  # the kinds need no db
            here = run(*command, *output, *local)
            there = run(*command, *output, "--server", ADDRESS)
            assert here.exit_code == 0, (command, here.output)
            assert there.exit_code == 0, (command, there.output)
            assert there.stdout == here.stdout, command
            asked += 1
            assert len(connected) == asked, f"{command} did not ask the server"
    assert all(address == ADDRESS and plant.closed for address, plant in connected)


def test_the_server_setting_wins_over_the_db_setting_and_a_flag_over_both(db, connected, monkeypatch) -> None:
    monkeypatch.setenv("PLANNER_TUI_DB", str(db))
    assert run("status", "--json").exit_code == 0
    assert connected == []  # the db setting alone: the database
    monkeypatch.setenv("PLANNER_TUI_SERVER", "unix:/run/plant.sock")
    assert run("status", "--json").exit_code == 0
    assert [address for address, _ in connected] == ["unix:/run/plant.sock"]
    assert run("status", "--json", "--db", str(db)).exit_code == 0
    assert run("exception", "kinds", "--json").exit_code == 0  # with a server known, the server says
    assert [address for address, _ in connected] == ["unix:/run/plant.sock"] * 2


def test_server_and_database_flags_together_are_refused(db, connected, sample_dir) -> None:
    for where in (["--db", str(db)], ["--snapshot", str(sample_dir)]):
        result = run("machines", "--server", ADDRESS, *where)
        assert result.exit_code == 2 and "not both" in result.output
        assert len(result.output.strip().splitlines()) == 1
    assert connected == []


def test_exception_kinds_needs_no_database() -> None:
    result = run("exception", "kinds", "--json")
    assert result.exit_code == 0 and json.loads(result.stdout)[0]["kind"] == "machine_down"


def test_nothing_to_ask_says_what_to_give() -> None:
    asked = run("machines")
    assert asked.exit_code == 2 and "--server ADDR" in asked.output and "set db or server" in asked.output
    written = run("triage", "ack", "machine_down:M-WELD-01")
    assert written.exit_code == 2 and "give --db FILE or --server ADDR" in written.output


# --- triage ---------------------------------------------------------------------------------------------


def test_triage_through_a_server_leaves_who_and_when_to_it(db, connected) -> None:
    for flags in (["--who", "ana"], ["--at", AT], ["--who", "ana", "--at", AT]):
        result = run("triage", "ack", "machine_down:M-WELD-01", "--server", ADDRESS, *flags)
        assert result.exit_code == 2, result.output
        assert "--who and --at cannot be used with --server" in result.output
        assert len(result.output.strip().splitlines()) == 1
    done = run("triage", "note", "machine_down:M-WELD-01", "fitter called", "--server", ADDRESS, "--json")
    assert done.exit_code == 0, done.output
    state = json.loads(done.stdout)
    assert (state["exception_id"], state["last_action"]["action"]) == ("machine_down:M-WELD-01", "note")


def test_triage_of_an_exception_never_raised_nor_triaged_is_not_found(db) -> None:
    running = "machine_down:M-CNC-01"  # a machine that exists and runs
    shown = run("exception", "show", running, "--at", AT, "--db", str(db))
    assert shown.exit_code == 3
    for action in (["ack"], ["note", "x"], ["snooze", "2h"], ["resolve"], ["assign", "Someone", "--new-person"]):
        result = run("triage", action[0], running, *action[1:], "--db", str(db), "--at", AT)
        assert result.exit_code == 3 and "no exception" in result.output, (action, result.output)
    # A well-formed id about nothing known is still named as such.
    unknown = run("triage", "ack", "machine_down:M-NOPE", "--db", str(db), "--at", AT)
    assert unknown.exit_code == 3 and "unknown machine" in unknown.output
    # Raised: triaged; and once triaged it can be finished after its cause cleared (here: before it rose).
    assert run("triage", "ack", "machine_down:M-WELD-01", "--db", str(db), "--at", AT).exit_code == 0
    earlier = run("triage", "resolve", "machine_down:M-WELD-01", "--db", str(db), "--at", "2026-01-01T00:00")
    assert earlier.exit_code == 0, earlier.output


def test_assign_takes_a_known_person_or_a_new_one_said_so(db) -> None:
    exception_id = "machine_down:M-WELD-01"
    d = ("--db", str(db), "--at", AT)
    plant = LocalPlant(Store.open(db, read_only=True))
    try:
        owner = plant.owners()[0]["person"]
    finally:
        plant.close()
    assert run("triage", "assign", exception_id, owner, *d).exit_code == 0
    refused = run("triage", "assign", exception_id, "Zoe Outsider", *d)
    assert refused.exit_code == 2 and "'Zoe Outsider'" in refused.output and "--new-person" in refused.output
    assert len(refused.output.strip().splitlines()) == 1
    close = run("triage", "assign", exception_id, owner.lower(), *d)
    assert close.exit_code == 2 and f"did you mean {owner!r}" in close.output
    added = run("triage", "assign", exception_id, "Zoe Outsider", "--new-person", *d, "--json")
    assert added.exit_code == 0 and json.loads(added.stdout)["assignee"] == "Zoe Outsider"
    assert run("triage", "assign", exception_id, "Zoe Outsider", *d).exit_code == 0  # known now: an assignee
    with Store.open(db) as store:
        users.add_user(store, "night.shift", "planner", by="admin")
    assert run("triage", "assign", exception_id, "night.shift", *d).exit_code == 0  # a server user
