"""planner_tui.access: the PlantData interface the console reads the plant through, and LocalPlant, its
in-process implementation. Every answer is what the CLI prints with --json for the same question; every
call takes a cursor of its own; a closed plant says so with a PlannerError."""

from __future__ import annotations

import ast
import inspect
import json
import threading
from datetime import datetime
from pathlib import Path

import pytest
from plantkit import scenario_db
from typer.testing import CliRunner

from planner_tui.access import LocalPlant, PlantData, PlantUnavailable
from planner_tui.access import interface as interface_module
from planner_tui.cli import app as cli_app
from planner_tui.cli.common import to_json
from planner_tui.errors import BadRequest, NotFound, PlannerError
from planner_tui.store import Store
from planner_tui.store.loader import load_snapshot

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_data"
AT = "2026-11-23T09:00:00"
NOW = datetime.fromisoformat(AT)
HOLD_LOT = "LOT-C8-24117"


def protocol_methods() -> list[str]:
    return sorted(name for name, value in vars(PlantData).items() if callable(value) and not name.startswith("_"))


@pytest.fixture(scope="module")
def plant_db(tmp_path_factory) -> Path:
    """The sample plant with its scenario applied, in a database file (copied per test that writes)."""
    return scenario_db(tmp_path_factory.mktemp("plant") / "plant.duckdb")


@pytest.fixture
def db(plant_db, tmp_path) -> Path:
    path = tmp_path / "plant.duckdb"
    path.write_bytes(plant_db.read_bytes())
    return path


def cli_json(*args: str) -> object:
    result = CliRunner().invoke(cli_app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def as_json(answer: object) -> object:
    """What the answer looks like once it crossed the wire (datetimes as ISO text)."""
    return json.loads(to_json(answer))


# --- the interface ----------------------------------------------------------------------------------


def test_local_plant_implements_every_method_with_the_same_signature() -> None:
    plant = LocalPlant(Store.memory())
    try:
        assert isinstance(plant, PlantData)
        for name in protocol_methods():
            wanted = inspect.signature(getattr(PlantData, name))
            given = inspect.signature(getattr(LocalPlant, name))
            assert list(given.parameters) == list(wanted.parameters), name
            for param in wanted.parameters.values():
                other = given.parameters[param.name]
                assert (other.kind, other.default) == (param.kind, param.default), f"{name}({param.name})"
    finally:
        plant.close()


def test_the_interface_carries_plain_values_only() -> None:
    """No cursor, Store, engine or Textual type crosses it: an HTTP client can implement it as it is."""
    source = Path(interface_module.__file__).read_text()
    imported = {
        alias.name if isinstance(node, ast.Import) else node.module
        for node in ast.walk(ast.parse(source))
        if isinstance(node, (ast.Import, ast.ImportFrom))
        for alias in node.names
    }
    assert imported <= {"__future__", "collections.abc", "datetime", "typing", "planner_tui.errors"}, imported
    for name in protocol_methods():
        annotations = " ".join(str(a) for a in inspect.get_annotations(getattr(PlantData, name)).values())
        for word in ("Store", "duckdb", "Cursor", "Connection", "FeedStatus"):
            assert word not in annotations, f"{name}: {annotations}"


# --- the answers are the CLI's --json ----------------------------------------------------------------


def test_answers_are_what_the_cli_prints_with_json(db: Path) -> None:
    store = Store.open(db)
    plant = LocalPlant(store)
    try:
        answers = {
            "machines": plant.machines(),
            "machine": plant.machine("M-WELD-01", at=NOW),
            "holds": plant.holds(),
            "impact": plant.machine_impact("M-WELD-01"),
            "order": plant.order_links("PRO-26-0411"),
            "customer": plant.customer("CUST-KESSLER", at=NOW),
            "trace": plant.trace_lot(HOLD_LOT),
            "shortages": plant.shortages(at=NOW),
            "projection": plant.projection("R-SEAL-200", at=NOW),
            "find": plant.find("weld"),
            "starting": plant.starting_points(),
            "owners": plant.owners(),
            "status": plant.status(),
            "lag": plant.event_lag(),
            # `exceptions` without --all hides the snoozed too; the console shows them (the default)
            "exceptions": plant.exceptions(at=NOW, include_snoozed=False),
            "exception": plant.exception("machine_down:M-WELD-01", at=NOW),
        }
    finally:
        plant.close()
    d = ("--db", str(db))
    assert as_json(answers["machines"]) == cli_json("machines", *d)
    assert as_json(answers["machine"]) == cli_json("machine", "M-WELD-01", "--at", AT, *d)
    assert as_json(answers["holds"]) == cli_json("holds", *d)
    assert as_json(answers["impact"]) == cli_json("impact", "machine", "M-WELD-01", *d)
    assert as_json(answers["order"]) == cli_json("order", "PRO-26-0411", *d)
    assert as_json(answers["customer"]) == cli_json("customer", "CUST-KESSLER", "--at", AT, *d)
    assert as_json(answers["trace"]) == cli_json("trace", "lot", HOLD_LOT, *d)
    assert as_json(answers["shortages"]) == cli_json("shortages", "--at", AT, *d)
    assert as_json(answers["projection"]) == cli_json("shortages", "--item", "R-SEAL-200", "--at", AT, *d)
    assert as_json(answers["find"]) == cli_json("find", "weld", *d)
    assert as_json(answers["starting"]) == cli_json("find", *d)
    assert as_json(answers["owners"]) == cli_json("owners", *d)
    assert as_json(answers["status"]) == cli_json("status", *d)
    assert as_json(answers["lag"]) == cli_json("events", "lag", *d)
    assert as_json(answers["exceptions"]) == cli_json("exceptions", "--at", AT, *d)
    assert as_json(answers["exception"]) == cli_json("exception", "show", "machine_down:M-WELD-01", "--at", AT, *d)
    assert answers["exceptions"]["exceptions"], "the scenario raises exceptions"


def test_a_triage_action_answers_as_the_cli_does(db: Path, tmp_path: Path) -> None:
    twin = tmp_path / "twin.duckdb"
    twin.write_bytes(db.read_bytes())
    plant = LocalPlant(Store.open(db))
    try:
        ours = plant.acknowledge(" machine_down:M-WELD-01", who="ana.planner", at=NOW)
    finally:
        plant.close()
    theirs = cli_json("triage", "ack", " machine_down:M-WELD-01", "--db", str(twin), "--who", "ana.planner", "--at", AT)
    assert as_json(ours) == theirs
    assert ours["exception_id"] == "machine_down:M-WELD-01" and ours["status"] == "acknowledged"


def test_every_answer_crosses_json(db: Path) -> None:
    plant = LocalPlant(Store.open(db))
    try:
        series = plant.balance_series(["R-SEAL-200"], at=NOW)
        assert series["R-SEAL-200"] and as_json(series)["R-SEAL-200"][0][1] == series["R-SEAL-200"][0][1]
        assert plant.plant_name() == plant.status()["plant"]
        assert plant.reschedule(at=NOW)["lines_at_risk"]
        as_json(plant.exceptions(at=NOW))
    finally:
        plant.close()


def test_the_inbox_says_what_it_could_not_check() -> None:
    from test_exceptions import AT as INBOX_AT
    from test_exceptions import looped_plant

    plant = LocalPlant(looped_plant())
    try:
        answer = plant.exceptions(at=INBOX_AT)
        assert [p.split(":")[0] for p in answer["problems"]] == ["late_order"]
        assert "P1 -> P9 -> P1" in answer["problems"][0]
        assert answer["exceptions"] and answer["total"] == len(answer["exceptions"])
        as_json(answer)
    finally:
        plant.close()


def test_the_kinds_of_exception_are_the_clis_and_plain() -> None:
    plant = LocalPlant(Store.memory())
    try:
        kinds = plant.exception_kinds()
    finally:
        plant.close()
    assert as_json(kinds) == cli_json("exception", "kinds") == kinds
    assert [k["kind"] for k in kinds][:3] == ["machine_down", "resource_unavailable", "quality_hold"]
    with pytest.raises(PlantUnavailable):
        plant.exception_kinds()


# --- calls, failures, closing -------------------------------------------------------------------------


def test_each_call_takes_a_cursor_of_its_own_and_gives_it_back(db: Path) -> None:
    store = Store.open(db)
    opened, closed = [], []
    real_cursor = store.cursor

    def counting_cursor():
        cur = real_cursor()
        opened.append(threading.get_ident())

        class Tracked:
            def __getattr__(self, name):
                return getattr(cur, name)

            def close(self) -> None:
                closed.append(threading.get_ident())
                cur.close()

        return Tracked()

    store.cursor = counting_cursor  # type: ignore[method-assign]
    plant = LocalPlant(store)
    try:
        plant.machines()
        plant.holds()
        with pytest.raises(NotFound):
            plant.trace_lot("LOT-NOPE")  # a failing call gives its cursor back too
        answers: list[object] = []
        workers = [threading.Thread(target=lambda: answers.append(plant.machines())) for _ in range(4)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        assert len(answers) == 4 and all(a == answers[0] for a in answers)
        assert len(opened) == len(closed) == 7
    finally:
        plant.close()


def test_errors_are_planner_errors_and_a_closed_plant_says_so(db: Path) -> None:
    plant = LocalPlant(Store.open(db))
    with pytest.raises(NotFound):
        plant.machine("M-NOPE")
    with pytest.raises(BadRequest):
        plant.snooze("machine_down:M-WELD-01", "not a time", at=NOW)
    plant.close()
    for call in (
        plant.machines,
        plant.holds,
        lambda: plant.exceptions(at=NOW),
        lambda: plant.acknowledge("machine_down:M-WELD-01"),
    ):
        with pytest.raises(PlantUnavailable) as raised:
            call()
        assert isinstance(raised.value, PlannerError) and "closed" in str(raised.value)
    Store.open(db).close()  # the file is released


# --- the feed -----------------------------------------------------------------------------------------


def _event(n: int, machine: str) -> str:
    return json.dumps(
        {
            "specversion": "1.0",
            "id": f"e-{n}",
            "source": "urn:test:mes",
            "type": "machine.down",
            "time": "2026-11-23T06:05:00Z",
            "sequence": n,
            "data": {"machine_id": machine, "reason": "Spindle alarm", "expected_minutes": 90},
        }
    )


def test_the_feed_is_polled_through_the_plant(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    events.write_text(_event(1, "M-CNC-01") + "\n")
    store = Store.memory()
    load_snapshot(store, str(SAMPLE / "plant"))
    plant = LocalPlant(store, events=str(events))
    try:
        assert plant.feed_status() is None  # not polled yet
        polled = plant.poll_feed()
        assert polled["applied"] == 1 and polled["status"]["state"] == "live"
        assert plant.feed_status() == polled["status"]
        assert next(m for m in plant.machines() if m["machine_id"] == "M-CNC-01")["state"] == "down"
        assert plant.poll_feed()["applied"] == 0
        as_json(polled)
    finally:
        plant.close()


def test_a_stale_feed_is_an_exception_of_the_plant(tmp_path: Path) -> None:
    store = Store.memory()
    load_snapshot(store, str(SAMPLE / "plant"))
    plant = LocalPlant(store, events="http://127.0.0.1:9/events")  # nothing listens on the discard port
    try:
        polled = plant.poll_feed()  # trouble with the feed is its status, not an error
        assert polled["applied"] == 0 and polled["status"]["state"] == "stale"
        kinds = [e["kind"] for e in plant.exceptions(at=NOW)["exceptions"]]
        assert "feed_stale" in kinds
    finally:
        plant.close()


def test_a_feed_that_cannot_be_opened_raises_and_is_tried_again() -> None:
    plant = LocalPlant(Store.memory(), events="ftp://example.invalid/feed")
    try:
        for _ in range(2):
            with pytest.raises(PlannerError):
                plant.poll_feed()
    finally:
        plant.close()
    without = LocalPlant(Store.memory())
    try:
        assert without.poll_feed() == {"applied": 0, "status": None}  # no feed: nothing to do
    finally:
        without.close()
