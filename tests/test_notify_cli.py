"""What users see and type about notifications (issue 12): `planner-tui notifications`, `routes test`,
`routes check`, and the deliveries in an exception's history; over the hand-worked plant of
test_exceptions in a database file, with the outbox written as the plant server's notifier writes it
(store/outbox.py `record`, `mark_delivered`, `mark_attempt_failed`) and the settings from a file."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
import serverkit
from plantkit import make_plant
from test_exceptions import AT, PLANT
from typer.testing import CliRunner

from planner_tui import routing, settings
from planner_tui.access import LocalPlant
from planner_tui.cli import app
from planner_tui.engine.notify import plan_notifications, route_test
from planner_tui.store import Store, outbox
from planner_tui.wire import loads, to_json

WHEN = AT.isoformat()
STOP = "machine_down:M1"

# The people of the hand-worked plant (test_notify_plan's), as a settings file writes them.
GOOD = """
[people.ana]
name = "Ana"
notify = ["json://127.0.0.1:9/ana"]
[people.eve]
name = "Eve"
notify = ["json://127.0.0.1:9/eve", "mailto://eve:${EVE_PASS}@mail.example"]
[people.pm]
notify = ["ntfy://ntfy.plant.example/pm"]
[people."qa.lead"]
notify = ["json://127.0.0.1:9/qa"]
[people.quinn]
name = "Quinn"
notify = ["json://127.0.0.1:9/quinn"]
[teams]
quality = ["qa.lead", "quinn"]
[routing]
group_wait = "30s"
repeat_interval = "4h"
[[routing.rules]]
match = { kind = "hold" }
add = ["quality"]
[[routing.escalation]]
match = { kind = "machine_down", severity = "critical" }
after = "15m"
to = ["pm"]
"""


def write(folder: Path, text: str, name: str = "config.toml") -> Path:
    path = folder / name
    path.write_text(text)
    return path


def run(*args: str, env: dict[str, str] | None = None):
    result = CliRunner().invoke(app, list(args), env=env)
    assert "Traceback" not in (result.output or ""), result.output
    return result


@pytest.fixture
def config(tmp_path) -> Path:
    return write(tmp_path, GOOD)


@pytest.fixture
def db(tmp_path, config) -> Path:
    """The plant in a file, with what the notifier sent for it at AT (group_wait 0s): the stop's message to
    Ana delivered, one of Eve's failed for good after three attempts, the rest pending."""
    path = tmp_path / "plant.duckdb"
    store = make_plant(Store.open(path), **PLANT)
    try:
        loaded = settings.load(config)
        cfg = routing.parse(loaded.people, loaded.teams, {**loaded.routing, "group_wait": "0s"})
        assert cfg.people and cfg.rules
        planned, states = plan_notifications(store.cursor(), cfg, at=AT)
        outbox.record(store, planned, states, at=AT)
        stop = {
            d["person"] + d["channel"]: d["message_key"] for d in outbox.deliveries(store.cursor(), exception_id=STOP)
        }
        outbox.mark_delivered(store, stop["anajson://127.0.0.1:9/ana"], at=AT + timedelta(seconds=2))
        failing = stop["evejson://127.0.0.1:9/eve"]
        for attempt in range(1, 3):
            outbox.mark_attempt_failed(
                store,
                failing,
                "connection refused",
                at=AT + timedelta(seconds=attempt),
                retry_at=AT + timedelta(minutes=1),
            )
        outbox.mark_attempt_failed(store, failing, "connection refused", at=AT + timedelta(seconds=9), retry_at=None)
    finally:
        store.close()
    return path


# ------------------------------------------------------------------------------------------ notifications


def test_notifications_lists_every_delivery_and_failed_only_the_failed(db, config) -> None:
    listed = run("--config", str(config), "notifications", "--json", "--db", str(db))
    assert listed.exit_code == 0, listed.output
    sent = json.loads(listed.stdout)
    assert len(sent) >= 4
    assert {d["state"] for d in sent} == {"delivered", "failed", "pending"}
    failed = json.loads(run("--config", str(config), "notifications", "--failed", "--json", "--db", str(db)).stdout)
    assert [(d["person"], d["exception_id"], d["state"], d["attempts"]) for d in failed] == [("eve", STOP, "failed", 3)]
    assert failed[0]["last_error"] == "connection refused" and failed[0]["reason"] == "new"
    # No secret leaves the store: Eve's mail channel is shown without its password (nor the ${VAR}).
    mail = [d["channel"] for d in sent if d["channel"].startswith("mailto:")]
    assert mail and all("EVE_PASS" not in c and "eve:" not in c for c in mail)
    about = json.loads(run("notifications", "--exception", STOP, "--json", "--db", str(db)).stdout)
    assert about and {d["exception_id"] for d in about} == {STOP} and len(about) < len(sent)

    # The table: every message, at 80 columns, the failure's error in it.
    table = run("notifications", "--db", str(db), env={"COLUMNS": "80"})
    assert table.exit_code == 0
    lines = table.stdout.splitlines()
    assert max(len(line.rstrip()) for line in lines) <= 80
    for word in ("Notifications: ", "ana", "eve", STOP, "delivered", "failed, 3 attempts", "connection refused"):
        assert word in table.stdout, word
    assert "eve:" not in table.stdout


def test_no_notifications_is_said(tmp_path) -> None:
    path = tmp_path / "empty.duckdb"
    make_plant(Store.open(path), **PLANT).close()
    result = run("notifications", "--failed", "--db", str(path))
    assert result.exit_code == 0 and "none failed" in result.stdout
    assert json.loads(run("notifications", "--json", "--db", str(path)).stdout) == []


# ------------------------------------------------------------------------------------------- routes test


def test_routes_test_json_is_the_engines_answer_and_the_table_says_who_and_why(db, config) -> None:
    result = run("--config", str(config), "routes", "test", STOP, "--at", WHEN, "--json", "--db", str(db))
    assert result.exit_code == 0, result.output
    store = Store.open(db, read_only=True)
    try:
        engine = route_test(store.cursor(), settings.load(config).routing_config(), STOP, at=AT)
    finally:
        store.close()
    assert engine["recipients"] and engine["escalation"]
    assert loads(result.stdout) == loads(to_json(engine))
    told = {r["person"]: r for r in engine["recipients"]}
    assert told["Ana"]["sent"] and told["Ana"]["configured_as"] == "ana"
    assert engine["escalation"][0]["to"] == ["pm"]

    shown = run("--config", str(config), "routes", "test", STOP, "--at", WHEN, "--db", str(db), env={"COLUMNS": "80"})
    assert shown.exit_code == 0, shown.output
    for word in (
        "Would be told: 2 of 2",
        "machine supervisor",
        "account manager",
        "(default)",
        "json://127.0.0.1:9/ana",
    ):
        assert word in shown.stdout, word
    assert "Escalation" in shown.stdout and "15m" in shown.stdout and "pm" in shown.stdout
    assert "Subject: [CRITICAL]" in shown.stdout and "Open it:" in shown.stdout
    assert "eve:" not in shown.stdout  # the channel without its secret


def test_routes_test_says_who_a_rule_adds_and_who_has_no_entry(db, tmp_path) -> None:
    config = write(
        tmp_path, GOOD.replace('[people.quinn]\nname = "Quinn"\nnotify = ["json://127.0.0.1:9/quinn"]\n', "")
    )
    answer = json.loads(
        run(
            "--config", str(config), "routes", "test", "quality_hold:H1", "--at", WHEN, "--json", "--db", str(db)
        ).stdout
    )
    via = {r["person"]: (r["via"], r["sent"]) for r in answer["recipients"]}
    assert via["qa.lead"] == ("rule 1", True)  # `hold` matches quality_hold: the quality team is added
    assert via["Quinn"] == ("default", False)  # the hold's placer: no [people] entry
    shown = run("--config", str(config), "routes", "test", "quality_hold:H1", "--at", WHEN, "--db", str(db))
    assert "not told: no [people]" in shown.stdout and "(rule 1)" in shown.stdout
    unknown = run("--config", str(config), "routes", "test", "machine_down:NOPE", "--db", str(db))
    assert unknown.exit_code == 3 and "NOPE" in unknown.output


# ------------------------------------------------------------------------------------------ routes check


def test_routes_check_passes_good_settings_and_warns_of_the_plants_unconfigured_people(db, config) -> None:
    fine = run("--config", str(config), "routes", "check", env={"EVE_PASS": "s3cret"})
    assert fine.exit_code == 0, fine.output
    assert "5 people, 1 team, 1 rule, 1 escalation level: fine" in fine.stdout
    with_plant = run("--config", str(config), "routes", "check", "--db", str(db), "--json", env={"EVE_PASS": "s3cret"})
    assert with_plant.exit_code == 0, with_plant.output
    checked = json.loads(with_plant.stdout)
    assert checked["ok"] and checked["problems"] == []
    # The plant's supervisors, buyers, account managers and hold placers nobody configured: a warning.
    assert {p["person"] for p in checked["unconfigured"]} == {"Ben", "Cal", "Cy", "Dee", "Fay", "Rob"}
    assert any(w.startswith("people: Cy (buyer) has no [people] entry") for w in checked["warnings"])
    table = run("--config", str(config), "routes", "check", "--db", str(db), env={"EVE_PASS": "s3cret"})
    assert table.exit_code == 0 and "warning:" in table.output and "Fay (account manager)" in table.output


def test_routes_check_still_checks_when_the_plant_the_settings_name_cannot_be_opened(config, tmp_path) -> None:
    missing = str(tmp_path / "gone.duckdb")
    result = run("--config", str(config), "routes", "check", env={"EVE_PASS": "x", "PLANNER_TUI_DB": missing})
    assert result.exit_code == 0, result.output
    assert "were not compared" in result.stderr and "gone.duckdb" in result.stderr and "fine" in result.stdout
    named = run("--config", str(config), "routes", "check", "--db", missing, env={"EVE_PASS": "x"})
    assert named.exit_code not in (0, 2) and "gone.duckdb" in named.output  # a plant asked for must be there


def test_routes_check_names_each_problem_by_key_and_exits_2(tmp_path) -> None:
    bad = GOOD.replace('to = ["pm"]', 'to = ["pm", "night.shift"]').replace(
        'notify = ["ntfy://ntfy.plant.example/pm"]', 'notify = ["ntfy://ntfy.plant.example/pm", "nosuch://x/y"]'
    )
    bad += '[people.ghost]\nname = "Ghost"\n'
    bad = bad.replace('quality = ["qa.lead", "quinn"]', 'quality = ["qa.lead", "quinn", "qa.nobody"]')
    config = write(tmp_path, bad)
    result = run("--config", str(config), "routes", "check")  # EVE_PASS unset
    assert result.exit_code == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    expected = {
        "teams.quality: unknown person 'qa.nobody'",
        "routing.escalation[0].to: unknown person or team 'night.shift'",
        "people.pm.notify[1]: Apprise cannot use nosuch://x/y",
        "people.eve.notify[1]: the environment variable EVE_PASS is not set",
        "people.ghost.notify: no channel",
    }
    assert len(errors) == len(expected), result.stderr
    for part in expected:
        assert sum(part in line for line in errors) == 1, part
    assert all(line.startswith(f"error: {config}: ") for line in errors)
    assert "5 problems" in result.stdout
    checked = json.loads(run("--config", str(config), "routes", "check", "--json").stdout)
    assert not checked["ok"] and len(checked["problems"]) == len(expected)


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (('after = "15m"', 'after = "soon"'), ["routing.escalation[0].after", "soon"]),
        (('match = { kind = "hold" }', 'match = { color = "red" }'), ["color", "unknown match key"]),
        (('notify = ["ntfy://ntfy.plant.example/pm"]', 'notify = ["not a url"]'), ["pm", "not a url"]),
    ],
)
def test_a_setting_that_cannot_be_read_stops_routes_check_at_load(tmp_path, change, named) -> None:
    config = write(tmp_path, GOOD.replace(*change))
    result = run("--config", str(config), "routes", "check")
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {config}")
    for part in named:
        assert part in lines[0], (part, lines[0])


def test_no_settings_file_is_fine_and_says_nobody_is_told() -> None:
    result = run("routes", "check")
    assert result.exit_code == 0 and "0 people" in result.stdout and "tells nobody" in result.stderr


# --------------------------------------------------------------------------------------------- history


def test_the_exception_history_has_who_was_told_and_whether_it_got_there(db, config) -> None:
    ack = run("triage", "ack", STOP, "--who", "ana", "--at", (AT + timedelta(seconds=1)).isoformat(), "--db", str(db))
    assert ack.exit_code == 0, ack.output
    shown = loads(run("exception", "show", STOP, "--at", WHEN, "--json", "--db", str(db)).stdout)
    told = [h for h in shown["history"] if h["kind"] == "delivery"]
    # Ana's one channel, Eve's two, and the plant manager's escalation (the stop is an hour old, unacknowledged).
    assert len(told) == 4
    assert {(h["person"], h["state"], h["reason"]) for h in told} == {
        ("ana", "delivered", "new"),
        ("eve", "failed", "new"),
        ("eve", "pending", "new"),
        ("pm", "pending", "escalation"),
    }
    ana = next(h for h in told if h["person"] == "ana")
    assert ana["reason"] == "new" and ana["at"] == AT + timedelta(seconds=2) and ana["attempts"] == 1
    # In time order with the events and triage actions, as the history always was.
    kinds = [(h["kind"], h.get("person") or h.get("who")) for h in shown["history"]]
    assert kinds[-2:] == [("triage", "ana"), ("delivery", "ana")]  # acknowledged at :01, Ana's delivered at :02
    times = [h["at"] for h in shown["history"]]
    assert len(times) == len(told) + 1 and times == sorted(times)
    table = run("exception", "show", STOP, "--at", WHEN, "--db", str(db), env={"COLUMNS": "80"})
    assert "told ana" in table.stdout and "told eve" in table.stdout and "connection refused" in table.stdout
    plant = LocalPlant(Store.open(db, read_only=True))
    try:
        assert plant.notifications(exception_id=STOP) and len(plant.notifications(failed=True)) == 1
    finally:
        plant.close()


# ------------------------------------------------------------------------------- the same through a server


def test_through_a_server_the_answers_are_the_databases_and_its_own_settings_route(db, tmp_path) -> None:
    # The server's settings: the same people and rules, but no channel, so its notifier does not start and
    # the outbox it serves is the one the database holds.
    served = re.sub(r"(?m)^notify = .*$", "notify = []", GOOD)
    assert served.count("notify = []") == 5
    server_config = write(tmp_path, served, "server.toml")
    here = {
        "notifications": run("notifications", "--json", "--db", str(db)).stdout,
        "failed": run("notifications", "--failed", "--json", "--db", str(db)).stdout,
        "route": run(
            "--config", str(server_config), "routes", "test", STOP, "--at", WHEN, "--json", "--db", str(db)
        ).stdout,
    }
    folder = tmp_path / "served"
    folder.mkdir()
    server = serverkit.start_server(db, folder=folder, tcp=False, env={"PLANNER_TUI_CONFIG": str(server_config)})
    try:
        # The client has no routing of its own (the empty settings file): the server's decides.
        there = {
            "notifications": run("notifications", "--json", "--server", server.unix).stdout,
            "failed": run("notifications", "--failed", "--json", "--server", server.unix).stdout,
            "route": run("routes", "test", STOP, "--at", WHEN, "--json", "--server", server.unix).stdout,
        }
    finally:
        server.stop()
    compared = 0
    for name, answer in here.items():
        assert json.loads(answer), name  # something real to compare
        assert json.loads(there[name]) == json.loads(answer), name
        compared += 1
    assert compared == 3
    # Routed by the server's people (the client's settings file is empty: it knows nobody).
    assert json.loads(there["route"])["recipients"][0]["configured_as"] == "ana"
