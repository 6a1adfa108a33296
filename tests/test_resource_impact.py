"""A person or tool unavailable, asked like a machine stop (issue 11 item 4): `resource_states` and its
events, `resource_impact` and `resource_detail`, the resource_unavailable exception, `impact resource` and
`resource` on the CLI and over a real plant server.

The hand-worked plant (2026-11-23 is a Monday; no calendars, so every minute works). Anna (ANNA, a person,
supervised by Lena) is needed by P1/10 on M1 and P2/10 on M3; JIG (a tool) by P6/10. Absent from 17:00 for
three hours:
  * P1/10 (M1, 18:00-21:00) waits for her: 20:00-23:00; P1/20 (M2, 21:00-23:00) then runs 23:00-01:00, so
    SO1/1 (promised 11-23, Kessler) turns late;
  * P2/10 (M3, 21:00-22:00) needs her too, after P1/10 in her planned order: 23:00-00:00 (SO2/1, promised
    11-25, moves but stays on time);
  * knock-on: P3/10 follows P1/20 on M2 (01:00-01:30), P4/10 follows P1/10 on M1 (23:00-00:00);
  * not hit: P5/10 needs her the next morning, untouched; P6/10 overlaps the absence but needs JIG, not
    her; P7/10 needed her in the window but is done.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
import serverkit
from eventkit import ce
from plantkit import make_plant
from typer.testing import CliRunner

from planner_tui.access import LocalPlant
from planner_tui.cli import app
from planner_tui.engine.exceptions import list_exceptions
from planner_tui.engine.exceptions.counts import resource_counts, resource_counts_slow
from planner_tui.engine.impact import machine_impact, reschedule, resource_impact
from planner_tui.engine.resources import resource_detail, unavailable_resources
from planner_tui.engine.schedule import stops_from_store
from planner_tui.engine.search import find, plant_index, starting_points
from planner_tui.errors import NotFound
from planner_tui.store import Store, triage
from planner_tui.store.events import apply_events, event_history
from planner_tui.store.status import plant_status
from planner_tui.wire import to_json


def T(text: str) -> datetime:
    return datetime.fromisoformat(f"2026-{text}")


START = T("11-23T17:00")
AT = T("11-23T17:30")


def op(po, seq, machine, start, end, status="waiting"):
    return {
        "production_order_id": po,
        "op_seq": seq,
        "machine_id": machine,
        "planned_start": T(start),
        "planned_end": T(end),
        "status": status,
    }


def order(po, start, end, **extra):
    return {"production_order_id": po, "item_id": "FG", "planned_start": T(start), "planned_end": T(end), **extra}


PLANT = {
    "machines": [
        {"machine_id": "M1", "name": "Press", "supervisor": "Sam"},
        {"machine_id": "M2", "name": "Lathe", "supervisor": "Mia"},
        {"machine_id": "M3", "name": "Weld", "supervisor": "Max"},
    ],
    "resources": [
        {"resource_id": "ANNA", "name": "Anna Berg", "kind": "person", "calendar_id": None, "supervisor": "Lena"},
        {"resource_id": "JIG", "name": "Jig 7", "kind": "tool", "calendar_id": None, "supervisor": None},
    ],
    "items": [{"item_id": "FG"}],
    "customers": [
        {"customer_id": "C1", "name": "Kessler", "account_manager": "Ada"},
        {"customer_id": "C2", "name": "Iberia", "account_manager": "Ben"},
    ],
    "sales_orders": [
        {"sales_order_id": "SO1", "customer_id": "C1", "item_id": "FG", "promised_date": "2026-11-23"},
        {"sales_order_id": "SO2", "customer_id": "C2", "item_id": "FG", "promised_date": "2026-11-25"},
    ],
    "shipments": [{"shipment_id": "SH1", "sales_order_id": "SO1", "planned_ship_date": "2026-11-23"}],
    "production_orders": [
        order("P1", "11-23T18:00", "11-23T23:00", sales_order_id="SO1", line_no=1),
        order("P2", "11-23T21:00", "11-23T22:00", sales_order_id="SO2", line_no=1),
        order("P3", "11-23T23:00", "11-23T23:30"),
        order("P4", "11-23T21:00", "11-23T22:00"),
        order("P5", "11-24T10:00", "11-24T11:00"),
        order("P6", "11-23T17:30", "11-23T18:30"),
        order("P7", "11-23T17:00", "11-23T17:30"),
    ],
    "operations": [
        op("P1", 10, "M1", "11-23T18:00", "11-23T21:00"),
        op("P1", 20, "M2", "11-23T21:00", "11-23T23:00"),
        op("P2", 10, "M3", "11-23T21:00", "11-23T22:00"),
        op("P3", 10, "M2", "11-23T23:00", "11-23T23:30"),
        op("P4", 10, "M1", "11-23T21:00", "11-23T22:00"),
        op("P5", 10, "M1", "11-24T10:00", "11-24T11:00"),
        op("P6", 10, "M3", "11-23T17:30", "11-23T18:30"),
        op("P7", 10, "M3", "11-23T17:00", "11-23T17:30", status="done"),
    ],
    "operation_resources": [
        {"production_order_id": po, "op_seq": seq, "resource_id": r}
        for po, seq, r in (
            ("P1", 10, "ANNA"),
            ("P2", 10, "ANNA"),
            ("P5", 10, "ANNA"),
            ("P6", 10, "JIG"),
            ("P7", 10, "ANNA"),
        )
    ],
}


def plant(store: Store | None = None) -> Store:
    return make_plant(store, **PLANT)


def away(event_id: str = "a1", resource_id: str = "ANNA", minutes: int | None = 180, **extra) -> dict:
    data = {"resource_id": resource_id, "reason": "sick", "expected_minutes": minutes}
    return ce(event_id, "resource.unavailable", data, time="2026-11-23T17:00:00Z", **extra)


def back(event_id: str = "b1", resource_id: str = "ANNA", time: str = "2026-11-23T19:42:00Z") -> dict:
    return ce(event_id, "resource.available", {"resource_id": resource_id}, time=time)


def plain(value) -> object:
    """As the CLI and the API print it."""
    return json.loads(to_json(value))


@pytest.fixture
def store() -> Store:
    return plant()


# --- the engine ---------------------------------------------------------------------------------------------


def test_a_person_absent_hits_exactly_the_operations_needing_them_and_delays_the_knock_on(store) -> None:
    result = resource_impact(store.cursor(), "ANNA", at=START, down_minutes=180)
    ops = {(o["production_order_id"], o["op_seq"]): o for o in result["operations"]}
    assert list(ops) == [("P1", 10), ("P2", 10)]  # P5 untouched, P6 needs JIG, P7 done
    assert (ops[("P1", 10)]["machine_id"], ops[("P1", 10)]["new_start"], ops[("P1", 10)]["new_end"]) == (
        "M1",
        T("11-23T20:00"),
        T("11-23T23:00"),
    )
    assert (ops[("P2", 10)]["machine_id"], ops[("P2", 10)]["new_start"], ops[("P2", 10)]["new_end"]) == (
        "M3",
        T("11-23T23:00"),
        T("11-24T00:00"),
    )
    orders = {o["production_order_id"]: o for o in result["production_orders"]}
    assert set(orders) == {"P1", "P2", "P3", "P4"}
    assert orders["P1"]["new_end"] == T("11-24T01:00") and orders["P1"]["why"] == "needs ANNA"
    assert orders["P3"]["new_end"] == T("11-24T01:30") and orders["P3"]["why"] == "knock-on on M2"
    assert orders["P4"]["new_end"] == T("11-24T00:00") and orders["P4"]["why"] == "knock-on on M1"
    lines = {f"{s['sales_order_id']}/{s['line_no']}": s for s in result["sales_orders"]}
    assert lines["SO1/1"]["late"] and lines["SO1/1"]["turns_late"] and not lines["SO2/1"]["late"]
    assert result["late_lines"] == 1 and [s["shipment_id"] for s in result["shipments"]] == ["SH1"]
    assert result["knock_on_machines"] == ["M2"]  # M1 and M3 run her own operations: told as such
    roles = {p["person"]: p["role"] for p in result["notify"]}
    assert roles == {
        "Lena": "resource supervisor",
        "Sam": "machine supervisor",
        "Max": "machine supervisor",
        "Ada": "account manager",
        "Ben": "account manager",
        "Mia": "supervisor (knock-on)",
    }
    assert (result["resource_id"], result["resource_name"], result["resource_kind"]) == ("ANNA", "Anna Berg", "person")
    assert (result["machine_id"], result["machine_name"]) == (None, None)
    assert result["downtime_known"] and not result["exposed"] and result["stop_end"] == T("11-23T20:00")


def test_the_answer_has_machine_impacts_keys_plus_the_resource(store) -> None:
    by_resource = resource_impact(store.cursor(), "ANNA", at=START, down_minutes=180)
    by_machine = machine_impact(store.cursor(), "M1", at=START, down_minutes=180)
    assert by_machine["operations"] and by_resource["operations"]
    assert set(by_resource) == set(by_machine) | {"resource_id", "resource_name", "resource_kind"}
    assert set(by_resource["operations"][0]) == set(by_machine["operations"][0])
    assert set(by_resource["production_orders"][0]) == set(by_machine["production_orders"][0])


def test_an_unknown_length_exposes_every_operation_needing_it_from_then_on(store) -> None:
    result = resource_impact(store.cursor(), "ANNA", at=START)
    assert result["exposed"] and not result["downtime_known"] and result["down_minutes"] is None
    assert [(o["production_order_id"], o["op_seq"]) for o in result["operations"]] == [
        ("P1", 10),
        ("P2", 10),
        ("P5", 10),
    ]
    assert all(line["at_risk"] for line in result["sales_orders"]) and result["sales_orders"]


def test_an_unknown_resource_is_not_found(store) -> None:
    with pytest.raises(NotFound, match="no resource 'BOB'"):
        resource_impact(store.cursor(), "BOB", at=START)
    with pytest.raises(NotFound, match="BOB"):
        resource_detail(store.cursor(), "BOB")


def test_the_resource_detail(store) -> None:
    apply_events(store, [away()], feed="f")
    detail = resource_detail(store.cursor(), "ANNA", at=AT, limit=2)
    assert (detail["kind"], detail["name"], detail["supervisor"], detail["state"]) == (
        "person",
        "Anna Berg",
        "Lena",
        "unavailable",
    )
    assert detail["unavailable"] and detail["since"] == START and detail["state_minutes"] == 30
    assert (detail["reason"], detail["expected_minutes"]) == ("sick", 180)
    assert detail["open_operations"] == 3 and detail["machines"] == ["M1", "M3"]
    nxt = detail["next_operations"]
    assert [(o["production_order_id"], o["op_seq"], o["machine_id"]) for o in nxt] == [
        ("P1", 10, "M1"),
        ("P2", 10, "M3"),
    ]
    assert (nxt[0]["sales_order_id"], nxt[0]["line_no"], nxt[0]["customer_name"]) == ("SO1", 1, "Kessler")
    jig = resource_detail(store.cursor(), "JIG", at=AT)
    assert (jig["state"], jig["unavailable"], jig["since"]) == ("available", False, None)
    assert [o["production_order_id"] for o in jig["next_operations"]] == ["P6"]


# --- the events ---------------------------------------------------------------------------------------------


def _states(store: Store) -> list[tuple]:
    return store.cursor().execute("SELECT * FROM resource_states ORDER BY ALL").fetchall()


def test_the_events_apply_and_an_unknown_resource_is_rejected_changing_nothing(store) -> None:
    result = apply_events(store, [away(), away("a2", "BOB")], feed="f")
    assert (result.applied, result.rejected) == (1, 1)
    assert result.changed == ["resource ANNA unavailable: sick (expected 3h)"]
    assert _states(store) == [("ANNA", "unavailable", START, "sick", 180)]
    history = {h["id"]: h for h in event_history(store.cursor())}
    assert history["a2"]["outcome"] == "rejected" and history["a2"]["reason"] == "unknown resource BOB"
    assert apply_events(store, [back("b2", "BOB")], feed="f").rejected == 1
    assert _states(store) == [("ANNA", "unavailable", START, "sick", 180)]
    assert apply_events(store, [back()], feed="f").applied == 1
    assert _states(store) == [("ANNA", "available", T("11-23T19:42"), None, None)]


def test_an_older_database_without_the_table_still_applies_the_events(store) -> None:
    store.con.execute("DROP TABLE resource_states")
    assert stops_from_store(store.cursor()) == [] and unavailable_resources(store.cursor()) == []
    assert resource_detail(store.cursor(), "ANNA", at=AT)["state"] == "available"
    assert resource_impact(store.cursor(), "ANNA", at=START, down_minutes=180)["operations"]
    assert plant_status(store.cursor())["tables"]["resource_states"] == 0
    assert not [r for r in list_exceptions(store.cursor(), at=AT) if r["kind"] == "resource_unavailable"]
    result = apply_events(store, [away(minutes=None)], feed="f")
    assert (result.applied, result.rejected) == (1, 0)
    assert _states(store) == [("ANNA", "unavailable", START, "sick", None)]


def test_reschedule_picks_up_an_unavailable_resource_from_the_store(store) -> None:
    assert reschedule(store.cursor(), at=AT)["production_orders"] == []
    apply_events(store, [away()], feed="f")
    stops = stops_from_store(store.cursor())
    assert [(s.machine_id, s.kind, s.start, s.minutes) for s in stops] == [("ANNA", "resource", START, 180.0)]
    result = reschedule(store.cursor(), at=AT)
    assert [s["machine_id"] for s in result["stops"]] == ["ANNA"]
    ends = {o["production_order_id"]: o["new_end"] for o in result["production_orders"]}
    assert ends == {"P1": T("11-24T01:00"), "P2": T("11-24T00:00"), "P3": T("11-24T01:30"), "P4": T("11-24T00:00")}
    assert [f"{s['sales_order_id']}/{s['line_no']}" for s in result["sales_orders"]] == ["SO1/1"]
    # The store's own since and estimate are what resource_impact takes without `at` or a length.
    from_store = plain(resource_impact(store.cursor(), "ANNA"))
    assert from_store["operations"] and from_store["state_in_store"] == "unavailable"
    assert from_store == plain(resource_impact(store.cursor(), "ANNA", at=START, down_minutes=180))


# --- the exception ------------------------------------------------------------------------------------------


def test_the_exception_is_raised_and_clears_when_the_resource_is_back(store) -> None:
    apply_events(store, [away()], feed="f")
    rows = {r["exception_id"]: r for r in list_exceptions(store.cursor(), at=AT)}
    row = rows["resource_unavailable:ANNA"]
    assert row["title"] == "ANNA unavailable: 1 customer line late (Anna Berg)"
    assert (row["severity"], row["owner"], row["raised_at"], row["subject_kind"]) == (
        "critical",
        "Lena",
        START,
        "resource",
    )
    counted = {k: row["detail"][k] for k in resource_counts_slow(store.cursor(), "ANNA")}
    assert counted == resource_counts_slow(store.cursor(), "ANNA") and counted["late_lines"] == 1
    assert counted["notify"] == 6 and counted["production_orders"] == 4
    # Acknowledged, then back: listed while in triage, saying so; without triage simply gone.
    triage.acknowledge(store, "resource_unavailable:ANNA", who="ana", at=AT)
    apply_events(store, [back()], feed="f")
    rows = {r["exception_id"]: r for r in list_exceptions(store.cursor(), at=T("11-23T20:00"))}
    cleared = rows["resource_unavailable:ANNA"]
    assert cleared["cause_cleared"] and cleared["cleared_note"] == "resource available again since 19:42"
    triage.resolve(store, "resource_unavailable:ANNA", who="ana", at=T("11-23T20:00"))
    assert "resource_unavailable:ANNA" not in {
        r["exception_id"] for r in list_exceptions(store.cursor(), at=T("11-23T20:00"))
    }


def test_a_late_lines_lateness_begins_with_the_stop_that_delayed_it(store) -> None:
    from planner_tui.engine.exceptions.kinds.late_order import _stop_began
    from planner_tui.engine.impact import reschedule

    assert _stop_began(reschedule(store.cursor(), at=AT)["stops"])([]) is None
    apply_events(store, [away()], feed="f")
    stops = reschedule(store.cursor(), at=AT)["stops"]
    assert _stop_began(stops)([]) == START  # an absence can begin it
    store.con.execute("INSERT INTO machine_states VALUES ('M2', 'down', TIMESTAMP '2026-11-23 18:00:00', NULL, NULL)")
    stops = reschedule(store.cursor(), at=T("11-23T18:30"))["stops"]
    assert len(stops) == 2
    # Moved by knock-on only: the earlier of the stops; its own operations moved on M2: M2's stop, though later.
    assert _stop_began(stops)([]) == START
    assert _stop_began(stops)(["M2"]) == T("11-23T18:00")


def test_the_counts_agree_with_the_impact_for_every_absence(store) -> None:
    apply_events(
        store, [away(), ce("j1", "resource.unavailable", {"resource_id": "JIG"}, time="2026-11-23T17:15:00Z")], feed="f"
    )
    absent = unavailable_resources(store.cursor())
    assert [a["resource_id"] for a in absent] == ["ANNA", "JIG"]
    fast = resource_counts(store.cursor(), absent)
    assert set(fast) == {"ANNA", "JIG"}
    for resource_id, counted in fast.items():
        assert counted == resource_counts_slow(store.cursor(), resource_id), resource_id
    assert fast["JIG"]["production_orders"] >= 1  # exposed (length unknown): P6 and what it feeds


# --- finding it ---------------------------------------------------------------------------------------------


def test_find_lists_resources_and_the_unavailable_ones_are_where_to_start(store) -> None:
    hits = find(store.cursor(), "anna")
    assert hits and hits[0] == {
        "kind": "resource",
        "id": "ANNA",
        "label": "Anna Berg (person, available)",
        "score": 1.0,
    }
    assert [h["id"] for h in find(store.cursor(), "tool", kind="resource")] == ["JIG"]
    assert [p["id"] for p in starting_points(store.cursor(), kind="resource")] == []
    apply_events(store, [away()], feed="f")
    assert find(store.cursor(), "ANNA")[0]["label"] == "Anna Berg (person, unavailable)"
    points = starting_points(store.cursor())
    assert {"kind": "resource", "id": "ANNA", "label": "Anna Berg (person, unavailable)"} in points
    store.con.execute("DROP TABLE resource_states")  # an older store: every resource available
    assert [(e["id"], e["label"]) for e in plant_index(store.cursor(), kind="resource")] == [
        ("ANNA", "Anna Berg (person, available)"),
        ("JIG", "Jig 7 (tool, available)"),
    ]


# --- the CLI and a real server ------------------------------------------------------------------------------


@pytest.fixture
def db(tmp_path) -> Path:
    path = tmp_path / "plant.duckdb"
    with Store.open(path) as store:
        plant(store)
        apply_events(store, [away()], feed="f")
    return path


def run(*args: str):
    result = CliRunner().invoke(app, list(args))
    assert "Traceback" not in (result.output or ""), result.output
    return result


def test_the_cli_json_is_the_engines_answer(db) -> None:
    result = run(
        "impact", "resource", "ANNA", "--at", "2026-11-23T17:00", "--down-minutes", "180", "--json", "--db", str(db)
    )
    assert result.exit_code == 0, result.output
    with Store.open(db, read_only=True) as store:
        expected = plain(resource_impact(store.cursor(), "ANNA", at=START, down_minutes=180))
        detail = plain(resource_detail(store.cursor(), "ANNA", at=AT, limit=3))
    assert json.loads(result.stdout) == expected and expected["operations"]
    shown = run("resource", "ANNA", "--at", "2026-11-23T17:30", "--limit", "3", "--json", "--db", str(db))
    assert shown.exit_code == 0 and json.loads(shown.stdout) == detail and detail["next_operations"]


def test_the_cli_tables_name_the_resource_and_what_it_hits(db) -> None:
    result = run("impact", "resource", "ANNA", "--db", str(db))
    assert result.exit_code == 0, result.output
    for words in (
        "ANNA",
        "Anna Berg",
        "unavailable from",
        "Operations needing it",
        "P2",
        "SO1/1",
        "Lena",
        "Who to tell",
    ):
        assert words in result.stdout, words
    shown = run("resource", "ANNA", "--at", "2026-11-23T17:30", "--db", str(db))
    assert shown.exit_code == 0, shown.output
    for words in ("person ANNA", "UNAVAILABLE", "sick", "supervisor Lena", "P1", "SO1/1", "Kessler"):
        assert words in shown.stdout, words


def test_an_unknown_resource_exits_as_an_unknown_machine_does(db) -> None:
    machine = run("impact", "machine", "NOPE", "--db", str(db))
    resource = run("impact", "resource", "NOPE", "--db", str(db))
    detail = run("resource", "NOPE", "--db", str(db))
    assert machine.exit_code == resource.exit_code == detail.exit_code == NotFound.exit_code != 0
    assert "no resource 'NOPE'" in resource.output


def test_a_real_server_answers_as_the_database(db, tmp_path) -> None:
    with Store.open(db, read_only=True) as store:
        local = LocalPlant(store)
        impact = plain(local.resource_impact("ANNA", at=START, down_minutes=180))
        detail = plain(local.resource("ANNA", at=AT, limit=3))
    assert impact["operations"] and detail["next_operations"]
    server = serverkit.start_server(db, tcp=False)
    try:
        remote = server.client()
        assert plain(remote.resource_impact("ANNA", at=START, down_minutes=180)) == impact
        assert plain(remote.resource("ANNA", at=AT, limit=3)) == detail
        with pytest.raises(NotFound, match="no resource 'BOB'"):
            remote.resource_impact("BOB", at=START)
        cli = server.cli(
            "impact",
            "resource",
            "ANNA",
            "--at",
            "2026-11-23T17:00",
            "--down-minutes",
            "180",
            "--json",
            "--server",
            server.unix,
        )
        assert cli.returncode == 0, cli.stderr
        assert json.loads(cli.stdout) == impact
    finally:
        server.stop()
