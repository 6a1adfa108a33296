"""Occurrences (issue 15): when an exception's current occurrence was first detected, kept across refreshes
and restarts so its age ticks; a resolve ends one occurrence only (a later one is a new exception in the
inbox, with its own history); and an exception the plant names nobody for goes to a fallback owner from
the settings. Over the hand-made plant of test_exceptions.py, through LocalPlant (what the console, the
CLI and the plant server answer with)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from plantkit import make_plant
from test_exceptions import AT, PLANT
from typer.testing import CliRunner

from planner_tui import settings
from planner_tui.access import LocalPlant
from planner_tui.cli import app
from planner_tui.errors import BadRequest
from planner_tui.store import Store

LATER = AT + timedelta(hours=2)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "plant.duckdb"
    store = Store.open(path, create=True)
    make_plant(store, **PLANT)
    store.close()
    return path


def inbox(plant: LocalPlant, at: datetime, **options) -> dict[str, dict]:
    return {r["exception_id"]: r for r in plant.exceptions(at=at, **options)["exceptions"]}


def test_a_shortage_keeps_its_first_detection_across_refreshes_and_restarts(db: Path) -> None:
    plant = LocalPlant(Store.open(db))
    first = inbox(plant, AT)["shortage:RAW1"]
    assert (first["first_detected_at"], first["raised_at"], first["age_minutes"]) == (AT, AT, 0)
    assert first["occurrence"] == "production_order:P1"  # the first demand it leaves short
    later = inbox(plant, LATER)["shortage:RAW1"]
    assert (later["first_detected_at"], later["raised_at"], later["age_minutes"]) == (AT, AT, 120)  # it ticks
    plant.close()
    reopened = LocalPlant(Store.open(db))
    again = inbox(reopened, LATER + timedelta(minutes=30))["shortage:RAW1"]
    assert (again["first_detected_at"], again["age_minutes"]) == (AT, 150)
    reopened.close()


def test_a_reader_does_not_record_but_ages_from_the_event_behind_it(db: Path) -> None:
    store = Store.open(db)
    store.con.execute("INSERT INTO store_meta VALUES ('as_of', '2026-01-05T04:00:00')")
    store.con.execute(
        "INSERT INTO event_log (source, event_id, type, event_time, received_at, data, outcome) "
        "VALUES ('f', 'e1', 'inventory.adjusted', TIMESTAMP '2026-01-05 05:10:00', TIMESTAMP '2026-01-05 05:10:00', "
        """'{"item_id": "RAW1", "qty": 0}', 'applied')"""
    )
    store.close()
    reader = LocalPlant(Store.open(db, read_only=True))
    rows = inbox(reader, LATER)
    # The event about RAW1 is behind its shortage; FG2 has none: it was in the snapshot, as old as the extract.
    assert rows["shortage:RAW1"]["raised_at"] == datetime(2026, 1, 5, 5, 10)
    assert rows["shortage:RAW1"]["age_minutes"] == 230
    assert rows["shortage:FG2"]["raised_at"] == datetime(2026, 1, 5, 4, 0)
    reader.close()
    store = Store.open(db, read_only=True)
    assert store.con.execute("SELECT count(*) FROM exception_occurrences").fetchall() == [(0,)]
    store.close()


def test_a_new_shortage_after_a_resolve_is_a_new_exception_with_its_own_history(db: Path) -> None:
    plant = LocalPlant(Store.open(db))
    inbox(plant, AT)
    plant.resolve("shortage:RAW1", who="dee", at=AT, reason="expedited by phone")
    assert "shortage:RAW1" not in inbox(plant, LATER)  # the same occurrence stays resolved
    # Another order comes to need RAW1 first: a new shortage of the same item.
    make_plant(
        plant.store,
        production_orders=[
            {
                "production_order_id": "P2",
                "item_id": "FG1",
                "qty": 1,
                "status": "released",
                "planned_start": "2026-01-05T09:30:00",
                "planned_end": "2026-01-05T09:45:00",
            }
        ],
    )
    plant.store.con.execute(
        "UPDATE production_orders SET planned_start = TIMESTAMP '2026-01-05 12:00:00' WHERE production_order_id = 'P1'"
    )
    again = inbox(plant, LATER)["shortage:RAW1"]
    assert again["occurrence"] == "production_order:P2"
    assert again["status"] == "open" and again["previous_occurrence"]["resolved_by"] == "dee"
    assert again["first_detected_at"] == LATER and again["age_minutes"] == 0
    shown = plant.exception("shortage:RAW1", at=LATER)
    actions = [h for h in shown["history"] if h["kind"] == "triage"]
    assert actions == []  # the earlier occurrence's resolve is not this one's history
    # Triage works on it at once (no "reopen it first"), and its history is its own.
    plant.acknowledge("shortage:RAW1", who="dee", at=LATER)
    shown = plant.exception("shortage:RAW1", at=LATER + timedelta(minutes=1))
    assert shown["status"] == "acknowledged"
    assert [h["action"] for h in shown["history"] if h["kind"] == "triage"] == ["acknowledge"]
    plant.close()
    told = CliRunner().invoke(
        app, ["exception", "show", "shortage:RAW1", "--db", str(db), "--at", (LATER + timedelta(minutes=2)).isoformat()]
    )
    assert told.exit_code == 0, told.output
    assert "an earlier occurrence was resolved 2026-01-05 07:00 by dee: expedited by phone" in " ".join(
        told.stdout.split()
    )


def test_a_line_late_again_by_a_later_stop_is_a_new_occurrence(db: Path) -> None:
    plant = LocalPlant(Store.open(db))
    late = inbox(plant, AT)["late_order:SO1/1"]
    assert late["raised_at"] == datetime(2026, 1, 5, 6, 0)  # M1's stop, the one that delayed it
    plant.resolve("late_order:SO1/1", who="eve", at=AT)
    # M1 comes back: on time again, nothing listed; later it stops again and the line is late again.
    plant.store.con.execute(
        "UPDATE machine_states SET state = 'running', since = TIMESTAMP '2026-01-05 07:10:00' WHERE machine_id = 'M1'"
    )
    assert inbox(plant, AT + timedelta(minutes=15), include_resolved=True)["late_order:SO1/1"]["cause_cleared"]
    plant.store.con.execute(
        "UPDATE machine_states SET state = 'down', since = TIMESTAMP '2026-01-05 07:40:00', expected_minutes = 2880 "
        "WHERE machine_id = 'M1'"
    )
    again = inbox(plant, AT + timedelta(hours=1))["late_order:SO1/1"]
    assert again["status"] == "open" and again["occurrence"] == "stop@2026-01-05T07:40:00"
    assert again["previous_occurrence"]["occurrence"] == "stop@2026-01-05T06:00:00"
    plant.close()


def test_an_exception_nobody_owns_goes_to_the_fallback_owner(db: Path, tmp_path: Path) -> None:
    store = Store.open(db)
    store.con.execute("UPDATE items SET buyer = NULL WHERE item_id = 'RAW1'")
    store.close()
    config = tmp_path / "owners.toml"
    config.write_text('[fallback_owners]\nshortage = "Mia Buyer"\n"*" = "Shift planner"\n', encoding="utf-8")
    settings.use(settings.load(config))
    try:
        plant = LocalPlant(Store.open(db))
        rows = inbox(plant, AT)
        assert rows["shortage:RAW1"]["owner"] == "Mia Buyer"
        assert rows["shortage:FG2"]["owner"] == "Cy"  # the plant names someone: kept
        assert plant.exception("shortage:RAW1", at=AT)["owner"] == "Mia Buyer"
        assert all(r["owner"] for r in rows.values())
        plant.close()
        config.write_text('[fallback_owners]\nshortages = "Mia"\n', encoding="utf-8")
        settings.use(settings.load(config))
        plant = LocalPlant(Store.open(db))
        with pytest.raises(BadRequest, match="fallback_owners: 'shortages' is not an exception kind"):
            plant.exceptions(at=AT)
        plant.close()
    finally:
        settings.use(None)


def test_the_cli_shows_when_it_was_first_detected(db: Path) -> None:
    runner = CliRunner()
    at = ["--at", (LATER).isoformat()]
    # A writer records (the console, the server); the CLI reads it back.
    plant = LocalPlant(Store.open(db))
    inbox(plant, AT)
    plant.close()
    result = runner.invoke(app, ["exceptions", "--db", str(db), "--json", *at])
    assert result.exit_code == 0, result.output
    rows = {r["exception_id"]: r for r in json.loads(result.stdout)["exceptions"]}
    assert rows["shortage:RAW1"]["first_detected_at"].startswith("2026-01-05T07:00")
    assert rows["shortage:RAW1"]["age_minutes"] == 120


def test_a_database_from_before_occurrences_is_read_as_it_is_and_upgraded_by_the_next_writer(db: Path) -> None:
    store = Store.open(db)
    plant = LocalPlant(store)
    plant.acknowledge("machine_down:M1", who="ana", at=AT)
    store.con.execute("DROP TABLE exception_occurrences")
    for table in ("exception_triage", "exception_actions"):
        store.con.execute(f"ALTER TABLE {table} DROP COLUMN occurrence")
    store.close()
    runner = CliRunner()
    for moment in (["--at", LATER.isoformat()], ["--as-of", "2026-01-05T07:30:00"]):
        shown = runner.invoke(app, ["exceptions", "--db", str(db), "--json", *moment])
        assert shown.exit_code == 0, shown.output
        rows = {r["exception_id"]: r for r in json.loads(shown.stdout)["exceptions"]}
        assert rows["machine_down:M1"]["status"] == "acknowledged"
    shown = runner.invoke(app, ["exception", "show", "machine_down:M1", "--db", str(db), "--at", LATER.isoformat()])
    assert shown.exit_code == 0 and "acknowledge" in shown.stdout
    writer = LocalPlant(Store.open(db))  # the next writer adds what is missing
    assert inbox(writer, LATER)["machine_down:M1"]["status"] == "acknowledged"
    assert writer.store.con.execute("SELECT count(*) FROM exception_occurrences").fetchall()[0][0] > 0
    writer.close()


def test_the_servers_notifier_keeps_first_detections_when_nobody_has_the_inbox_open(db: Path) -> None:
    """A plant server nobody watches still dates what it finds: its notifier's plan keeps the first
    detections it sees (the server's clock), as an inbox question would."""
    from planner_tui import routing as routing_mod
    from planner_tui.server.core import PlantServer
    from planner_tui.server.notifier import Notifier

    store = Store.open(db)
    routing = routing_mod.parse({"dee": {"name": "Dee", "notify": ["json://127.0.0.1:9/dee"]}}, None, None)
    server = PlantServer(store, routing=routing, clock=lambda: AT)
    Notifier(server, routing).plan_once()
    kept = dict(
        store.con.execute(
            "SELECT exception_id, first_detected_at FROM exception_occurrences WHERE exception_id LIKE 'shortage:%'"
        ).fetchall()
    )
    assert kept == {"shortage:RAW1": AT, "shortage:FG2": AT}
    later = inbox(LocalPlant(store), LATER)
    assert later["shortage:RAW1"]["first_detected_at"] == AT and later["shortage:RAW1"]["age_minutes"] == 120
    store.close()
