"""Who is told what, and when (issue 12, the engine's half), over the hand-worked plant of
test_exceptions: grouping, group_wait, folding, updates, repeats, acknowledgement, escalation, rules,
and the routing settings' errors. Planned messages are written to the store's outbox as the server does."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from plantkit import make_plant
from test_exceptions import AT, PLANT

from planner_tui import routing
from planner_tui.engine.notify import plan_notifications, route_test
from planner_tui.store import outbox, triage

PEOPLE = {
    "ana": {"name": "Ana", "notify": ["json://127.0.0.1:9/ana"]},  # M1's supervisor
    "eve": {"name": "Eve", "notify": ["json://127.0.0.1:9/eve", "mailto://eve:${EVE_PASS}@mail.example"]},
    "quinn": {"name": "Quinn", "notify": ["json://127.0.0.1:9/quinn"]},
    "pm": {"notify": ["json://127.0.0.1:9/pm"]},
    "qa.lead": {"notify": ["json://127.0.0.1:9/qa"]},
}


def config(**extra) -> routing.Routing:
    tables = {"group_wait": "30s", "repeat_interval": "4h", **extra}
    return routing.parse(PEOPLE, {"quality": ["qa.lead", "quinn"]}, tables)


@pytest.fixture
def store():
    return make_plant(**PLANT)


def step(store, cfg, at):
    """Plan at `at` and record it, as the server's notifier does; the messages planned."""
    planned, states = plan_notifications(store.cursor(), cfg, at=at)
    outbox.record(store, planned, states, at=at)
    return planned


def told(planned) -> set[tuple[str, str, str]]:
    return {(p.exception_id, p.person, p.reason) for p in planned}


def test_nothing_goes_out_before_group_wait_then_one_message_per_cause_per_person(store):
    cfg = config()
    assert step(store, cfg, AT) == []  # first seen: gathering
    planned = step(store, cfg, AT + timedelta(seconds=31))
    stop = [p for p in planned if p.exception_id == "machine_down:M1"]
    # The weld cell's stop goes to its supervisor and the account manager of the line it makes late, once
    # each; the late line itself (cause: the stop) is folded into it, not sent again.
    assert {(p.person, p.reason) for p in stop} == {("ana", "new"), ("eve", "new")}
    assert not [p for p in planned if p.exception_id.startswith("late_order:")]
    eve = next(p for p in stop if p.person == "eve")
    assert "SO1/1" in eve.body and "promised" in eve.body and "ETA" in eve.body  # the context to act
    assert "Also raised by it: late lines SO1/1" in eve.body
    assert "account manager" in eve.why and eve.channels == tuple(PEOPLE["eve"]["notify"])
    assert "Open it: planner-tui run" in eve.body and "machine_down:M1" in eve.body
    assert len(eve.body.splitlines()) <= 16  # short enough for a phone
    # Written once per channel; planning again sends nothing more.
    assert len(outbox.deliveries(store.cursor(), exception_id="machine_down:M1")) == 3
    assert step(store, cfg, AT + timedelta(seconds=40)) == []


def test_group_wait_zero_sends_at_once(store):
    planned = step(store, config(group_wait="0s"), AT)
    assert ("machine_down:M1", "ana", "new") in told(planned)


def test_a_changed_situation_sends_an_update_to_whose_part_changed(store):
    cfg = config(group_wait="0s")
    step(store, cfg, AT)
    # The stop is extended: its title stays, but the severity changes when a second line... here the stop
    # stops making SO1/1 late (expected back sooner): the situation changes for both.
    store.con.execute("UPDATE machine_states SET expected_minutes = 30 WHERE machine_id = 'M1'")
    planned = step(store, cfg, AT + timedelta(minutes=1))
    updates = {(p.person, p.reason) for p in planned if p.exception_id == "machine_down:M1"}
    assert updates and all(reason == "update" for _, reason in updates)
    assert ("ana", "update") in updates
    assert all(p.subject.startswith("[") and "Update: " in p.subject for p in planned if p.reason == "update")


def test_an_open_exception_repeats_after_repeat_interval_and_an_acknowledgement_stops_it(store):
    cfg = config(group_wait="0s", repeat_interval="1h")
    step(store, cfg, AT)
    assert step(store, cfg, AT + timedelta(minutes=59)) == []
    again = step(store, cfg, AT + timedelta(minutes=61))
    assert ("machine_down:M1", "ana", "repeat") in told(again)
    triage.acknowledge(store, "machine_down:M1", who="ana", at=AT + timedelta(minutes=62))
    later = step(store, cfg, AT + timedelta(hours=3))
    assert not [p for p in later if p.exception_id == "machine_down:M1"]
    assert [p for p in later if p.reason == "repeat"]  # the others, unacknowledged, still repeat


def test_an_unacknowledged_critical_escalates_after_its_delay_once_per_level(store):
    cfg = config(
        group_wait="0s",
        escalation=[
            {"match": {"kind": "machine_down", "severity": "critical"}, "after": "15m", "to": ["pm"]},
            {"match": {"kind": "machine_down"}, "after": "1h", "to": ["quality"]},
        ],
    )
    # M1 has been down since 06:00; at 06:10 nothing is due, at 06:16 level 1, at 07:01 level 2 too.
    start = datetime(2026, 1, 5, 6, 10)
    step(store, cfg, start)
    assert not [p for p in step(store, cfg, start + timedelta(minutes=1)) if p.reason == "escalation"]
    first = [p for p in step(store, cfg, datetime(2026, 1, 5, 6, 16)) if p.reason == "escalation"]
    assert {(p.exception_id, p.person) for p in first} == {("machine_down:M1", "pm")}
    assert "not acknowledged" in first[0].body and "Escalated" in first[0].subject
    assert not [p for p in step(store, cfg, datetime(2026, 1, 5, 6, 30)) if p.reason == "escalation"]
    second = [p for p in step(store, cfg, datetime(2026, 1, 5, 7, 1)) if p.reason == "escalation"]
    assert {(p.exception_id, p.person) for p in second} == {
        ("machine_down:M1", "qa.lead"),
        ("machine_down:M1", "quinn"),
    }


def test_an_acknowledged_exception_does_not_escalate(store):
    cfg = config(group_wait="0s", escalation=[{"match": {"kind": "machine_down"}, "after": "15m", "to": ["pm"]}])
    first = step(store, cfg, datetime(2026, 1, 5, 6, 10))
    # M3, in maintenance since 05:00 and not acknowledged, is past its 15 minutes already; M1 (06:00) not yet.
    assert ("machine_down:M3", "pm", "escalation") in told(first)
    assert ("machine_down:M1", "pm", "escalation") not in told(first)
    triage.acknowledge(store, "machine_down:M1", who="ana", at=datetime(2026, 1, 5, 6, 12))
    planned = step(store, cfg, datetime(2026, 1, 5, 6, 20))
    assert not [p for p in planned if p.reason == "escalation"]  # M1 acknowledged, M3's level told once


def test_a_rule_adds_a_team_for_holds_and_only_replaces_the_default_list(store):
    planned = step(store, config(group_wait="0s", rules=[{"match": {"kind": "hold"}, "add": ["quality"]}]), AT)
    holds = {p.person for p in planned if p.exception_id == "quality_hold:H1"}
    assert {"qa.lead", "quinn"} <= holds
    store2 = make_plant(**PLANT)
    only = config(group_wait="0s", rules=[{"match": {"kind": "hold"}, "add": ["pm"], "only": True}])
    planned = step(store2, only, AT)
    assert {p.person for p in planned if p.exception_id == "quality_hold:H1"} == {"pm"}


def test_a_snoozed_exception_is_silent(store):
    triage.snooze(store, "machine_down:M1", AT + timedelta(days=1), who="ana", at=AT)
    planned = step(store, config(group_wait="0s"), AT + timedelta(minutes=1))
    assert not [p for p in planned if p.exception_id == "machine_down:M1"]
    assert planned  # the others go out


def test_route_test_says_who_would_be_told_and_why_without_sending(store):
    cfg = config(escalation=[{"match": {"kind": "machine_down"}, "after": "15m", "to": ["pm"]}])
    answer = route_test(store.cursor(), cfg, "machine_down:M1", at=AT)
    people = {r["person"]: r for r in answer["recipients"]}
    assert people["Ana"]["sent"] and people["Ana"]["configured_as"] == "ana" and people["Ana"]["via"] == "default"
    assert people["Eve"]["channels"][1].startswith("mailto://") and "${EVE_PASS}" not in str(people["Eve"]["channels"])
    assert answer["escalation"] == [
        {"level": 1, "after_minutes": 15.0, "due_at": datetime(2026, 1, 5, 6, 15), "to": ["pm"]}
    ]
    assert outbox.deliveries(store.cursor()) == []  # nothing planned, nothing sent


@pytest.mark.parametrize(
    ("tables", "key", "why"),
    [
        ({"people": {"ben": {"notify": ["not a url"]}}}, "people.ben.notify[0]", "Apprise URL"),
        ({"people": {"ben": {"notfy": []}}}, "people.ben.notfy", "unknown key"),
        ({"routing": {"group_wait": "soon"}}, "routing.group_wait", "duration"),
        ({"routing": {"rules": [{"match": {"colour": "red"}}]}}, "routing.rules[0].match.colour", "unknown match key"),
        ({"routing": {"escalation": [{"match": {}, "to": ["pm"]}]}}, "routing.escalation[0]", "needs `after`"),
        ({"routing": {"retries": 0}}, "routing.retries", "from 1 to 100"),
    ],
)
def test_bad_routing_settings_are_refused_naming_the_key(tables, key, why):
    with pytest.raises(routing.RoutingError) as caught:
        routing.parse(**tables)
    assert caught.value.key == key and why in caught.value.why


def test_unknown_people_in_teams_rules_and_escalation_are_problems():
    cfg = routing.parse(
        {"pm": {"notify": ["json://h/pm"]}},
        {"quality": ["qa.lead"]},
        {
            "rules": [{"match": {"kind": "hold"}, "add": ["quality", "nobody"]}],
            "escalation": [{"after": "5m", "to": ["pm"]}],
        },
    )
    assert cfg.problems() == [
        "teams.quality: unknown person 'qa.lead' (no [people.\"qa.lead\"] entry)",
        "routing.rules[0].add: unknown person or team 'nobody'",
    ]


def test_secrets_come_from_the_environment_when_sent():
    assert (
        routing.expand("mailto://eve:${EVE_PASS}@mail.example", {"EVE_PASS": "s3cret"})
        == "mailto://eve:s3cret@mail.example"
    )
    with pytest.raises(routing.RoutingError, match="EVE_PASS is not set"):
        routing.expand("mailto://eve:${EVE_PASS}@mail.example", {})


def test_a_message_failed_for_good_raises_notification_failed_until_a_later_one_is_delivered(store):
    from planner_tui.engine.exceptions import list_exceptions

    step(store, config(group_wait="0s"), AT)
    keys = [d["message_key"] for d in outbox.deliveries(store.cursor()) if d["person"] == "ana"]
    assert keys
    outbox.mark_attempt_failed(store, keys[0], "connection refused", at=AT + timedelta(minutes=1), retry_at=None)
    failed = [
        e for e in list_exceptions(store.cursor(), at=AT + timedelta(minutes=2)) if e["kind"] == "notification_failed"
    ]
    assert [(e["subject_id"], e["severity"]) for e in failed] == [("ana", "high")]
    assert "connection refused" in failed[0]["title"] and failed[0]["detail"]["about"]
    assert outbox.deliveries(store.cursor(), failed_only=True)[0]["last_error"] == "connection refused"
    # A later message to ana delivered: the channel works again, the exception clears.
    later = [d["message_key"] for d in outbox.deliveries(store.cursor()) if d["person"] == "ana"][-1]
    outbox.mark_delivered(store, later, at=AT + timedelta(minutes=3))
    after = list_exceptions(store.cursor(), at=AT + timedelta(minutes=4))
    assert not [e for e in after if e["kind"] == "notification_failed"]


def test_in_a_burst_the_worst_exceptions_are_sent_first(store):
    def message(eid: str, priority: int) -> outbox.Planned:
        return outbox.Planned(eid, "ana", "new", "owner", eid, "body", "body", ("json://h/a",), 1, priority)

    outbox.record(store, [message("late_order:SO1/1", 1)], [], at=AT)
    outbox.record(store, [message("machine_down:M1", 0)], [], at=AT + timedelta(seconds=1))
    due = outbox.due(store.cursor(), at=AT + timedelta(seconds=2))
    assert [d["exception_id"] for d in due] == ["machine_down:M1", "late_order:SO1/1"]  # critical first, though newer


def test_next_due_is_when_a_group_wait_repeat_or_escalation_falls_due(store):
    from planner_tui.engine.notify import next_due

    cfg = config(repeat_interval="1h", escalation=[{"match": {"kind": "machine_down"}, "after": "2h", "to": ["pm"]}])
    step(store, cfg, AT)  # everything first seen at AT: group_wait runs out 30 s later
    assert next_due(store.cursor(), cfg, at=AT) == AT + timedelta(seconds=30)
    step(store, cfg, AT + timedelta(seconds=30))  # sent: repeats an hour on; M1 (down since 06:00) escalates at 08:00
    assert next_due(store.cursor(), cfg, at=AT + timedelta(seconds=30)) == datetime(2026, 1, 5, 8, 0)
