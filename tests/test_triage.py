"""Triage state: every action recorded with who and when, validated, kept across restarts and reloads."""

from __future__ import annotations

import threading
from datetime import datetime

import pytest
from plantkit import make_plant

from planner_tui.errors import BadRequest, NotFound
from planner_tui.store import Store, triage

AT = datetime(2026, 1, 5, 8, 0)
MACHINE = "machine_down:M1"


def small_plant(store: Store | None = None) -> Store:
    return make_plant(
        store,
        machines=[{"machine_id": "M1", "supervisor": "Ana"}, {"machine_id": "M2", "supervisor": "Ben"}],
        items=[{"item_id": "FG1", "buyer": "Cy"}, {"item_id": "RAW1", "item_type": "raw", "buyer": ""}],
        customers=[{"customer_id": "C1", "account_manager": "Eve"}],
        sales_orders=[
            {
                "sales_order_id": "SO1",
                "line_no": 2,
                "customer_id": "C1",
                "item_id": "FG1",
                "promised_date": "2026-01-09",
            }
        ],
        lots=[{"lot_id": "L1", "item_id": "FG1"}],
        quality_holds=[{"hold_id": "H1", "lot_id": "L1", "placed_by": "Quinn"}],
    )


@pytest.fixture
def store() -> Store:
    return small_plant()


def test_every_action_is_recorded_with_who_and_when_in_order(store: Store) -> None:
    triage.acknowledge(store, MACHINE, who="ana", at=AT)
    triage.assign(store, MACHINE, "Ben", who="ana", at=datetime(2026, 1, 5, 8, 5))
    triage.add_note(store, MACHINE, "  spare part ordered  ", who="ben", at=datetime(2026, 1, 5, 8, 5))
    triage.snooze(store, MACHINE, datetime(2026, 1, 5, 12, 0), who="ben", at=datetime(2026, 1, 5, 9, 0))
    triage.resolve(store, MACHINE, who="ana", at=datetime(2026, 1, 5, 13, 0))
    triage.reopen(store, MACHINE, who="lead", at=datetime(2026, 1, 5, 14, 0))

    steps = triage.history(store.cursor(), MACHINE)
    assert [(s["action"], s["who"], s["at"].strftime("%H:%M"), s["detail"]) for s in steps] == [
        ("acknowledge", "ana", "08:00", None),
        ("assign", "ana", "08:05", "Ben"),
        ("note", "ben", "08:05", "spare part ordered"),  # same instant: kept in the order they were made
        ("snooze", "ben", "09:00", "2026-01-05T12:00:00"),
        ("resolve", "ana", "13:00", None),
        ("reopen", "lead", "14:00", None),
    ]
    state = triage.triage_state(store.cursor())[MACHINE]
    assert state["status"] == "open"
    assert state["assignee"] == "Ben"  # a reopen keeps who has it
    assert state["snoozed_until"] is None
    assert (state["updated_by"], state["updated_at"]) == ("lead", datetime(2026, 1, 5, 14, 0))
    assert state["last_action"] == {
        "at": datetime(2026, 1, 5, 14, 0),
        "who": "lead",
        "action": "reopen",
        "detail": None,
    }


def test_each_action_sets_the_status(store: Store) -> None:
    assert triage.acknowledge(store, MACHINE, who="a", at=AT)["status"] == "acknowledged"
    state = triage.assign(store, MACHINE, "Ben", who="a", at=AT)
    assert (state["status"], state["assignee"]) == ("acknowledged", "Ben")  # assigning keeps the status
    assert triage.add_note(store, MACHINE, "x", who="a", at=AT)["status"] == "acknowledged"
    state = triage.snooze(store, MACHINE, "2h", who="a", at=AT)
    assert (state["status"], state["snoozed_until"]) == ("snoozed", datetime(2026, 1, 5, 10, 0))
    state = triage.acknowledge(store, MACHINE, who="a", at=AT)  # acknowledging ends a snooze
    assert (state["status"], state["snoozed_until"]) == ("acknowledged", None)
    assert triage.resolve(store, MACHINE, who="a", at=AT)["status"] == "resolved"
    # a note or a new assignee on a resolved exception is allowed (closing remarks); a snooze is not
    assert triage.add_note(store, MACHINE, "closing remark", who="a", at=AT)["status"] == "resolved"


def test_who_defaults_to_the_os_user_and_at_to_now(store: Store, monkeypatch) -> None:
    monkeypatch.setenv("LOGNAME", "planner7")  # what getpass reads first for the OS user
    monkeypatch.setattr(triage, "utcnow", lambda: datetime(2026, 2, 1, 9, 30))
    triage.acknowledge(store, MACHINE)
    [step] = triage.history(store.cursor(), MACHINE)
    assert (step["who"], step["at"]) == ("planner7", datetime(2026, 2, 1, 9, 30))


def test_an_untouched_exception_has_no_state(store: Store) -> None:
    triage.acknowledge(store, MACHINE, who="a", at=AT)
    assert set(triage.triage_state(store.cursor())) == {MACHINE}
    assert triage.triage_state(store.cursor(), ["quality_hold:H1"]) == {}
    assert triage.triage_state(store.cursor(), []) == {}
    assert triage.history(store.cursor(), "quality_hold:H1") == []


@pytest.mark.parametrize(
    "exception_id",
    ["", "M1", "machine_down:", "volcano:M1", "late_order:SO1", "no_supply:SO1/x", "MACHINE_DOWN:M1"],
)
def test_a_malformed_exception_id_is_a_bad_request(store: Store, exception_id: str) -> None:
    with pytest.raises(BadRequest, match="malformed exception id"):
        triage.acknowledge(store, exception_id, who="a", at=AT)


@pytest.mark.parametrize(
    "exception_id, what",
    [
        ("machine_down:M9", "machine"),
        ("quality_hold:H9", "quality hold"),
        ("shortage:NOPE", "item"),
        ("late_order:SO1/1", "sales order line"),
        ("no_supply:SO9/2", "sales order line"),
    ],
)
def test_an_exception_about_something_unknown_is_not_found(store: Store, exception_id: str, what: str) -> None:
    with pytest.raises(NotFound, match=f"unknown {what}"):
        triage.acknowledge(store, exception_id, who="a", at=AT)


def test_every_kind_of_well_formed_id_is_accepted(store: Store) -> None:
    for exception_id in (
        "machine_down:M1",
        "quality_hold:H1",
        "shortage:RAW1",
        "late_order:SO1/2",
        "no_supply:SO1/2",
        "feed_stale:http://127.0.0.1:8080/events",
    ):
        assert triage.acknowledge(store, exception_id, who="a", at=AT)["status"] == "acknowledged"


def test_validation_of_each_action(store: Store) -> None:
    with pytest.raises(BadRequest, match="note must not be empty"):
        triage.add_note(store, MACHINE, "   ", who="a", at=AT)
    with pytest.raises(BadRequest, match="limited to"):
        triage.add_note(store, MACHINE, "x" * 5000, who="a", at=AT)
    with pytest.raises(BadRequest, match="not after now"):
        triage.snooze(store, MACHINE, datetime(2026, 1, 5, 7, 0), who="a", at=AT)
    with pytest.raises(BadRequest, match="not after now"):
        triage.snooze(store, MACHINE, AT, who="a", at=AT)
    with pytest.raises(BadRequest, match="malformed snooze time"):
        triage.snooze(store, MACHINE, "tomorrowish", who="a", at=AT)
    with pytest.raises(BadRequest, match="to whom"):
        triage.assign(store, MACHINE, " ", who="a", at=AT)
    with pytest.raises(BadRequest, match="must not be empty"):
        triage.acknowledge(store, MACHINE, who="  ", at=AT)
    with pytest.raises(BadRequest, match="already open"):
        triage.reopen(store, MACHINE, who="a", at=AT)
    # nothing above left a trace
    assert triage.history(store.cursor(), MACHINE) == []
    assert triage.triage_state(store.cursor()) == {}

    triage.resolve(store, MACHINE, who="a", at=AT)
    with pytest.raises(BadRequest, match="already resolved"):
        triage.resolve(store, MACHINE, who="a", at=AT)
    with pytest.raises(BadRequest, match="reopen it first"):
        triage.acknowledge(store, MACHINE, who="a", at=AT)
    with pytest.raises(BadRequest, match="reopen it first"):
        triage.snooze(store, MACHINE, "1h", who="a", at=AT)
    assert [s["action"] for s in triage.history(store.cursor(), MACHINE)] == ["resolve"]


def test_snooze_takes_a_time_or_a_duration() -> None:
    now = datetime(2026, 1, 5, 8, 0)
    assert triage.parse_until("30m", now=now) == datetime(2026, 1, 5, 8, 30)
    assert triage.parse_until("+2h", now=now) == datetime(2026, 1, 5, 10, 0)
    assert triage.parse_until("1d", now=now) == datetime(2026, 1, 6, 8, 0)
    assert triage.parse_until("2026-01-05T09:00:00+01:00", now=now) == datetime(2026, 1, 5, 8, 0)
    assert triage.parse_until("2026-01-06", now=now) == datetime(2026, 1, 6)


@pytest.mark.parametrize("text", ["99999999d", "3000000000d", "9999999999999h", "9" * 400 + "d"])
def test_a_snooze_too_far_ahead_is_a_bad_request(text) -> None:
    with pytest.raises(BadRequest, match="too far ahead"):
        triage.parse_until(text, now=datetime(2026, 1, 5, 8, 0))


def test_a_snooze_runs_out() -> None:
    state = {"status": "snoozed", "snoozed_until": datetime(2026, 1, 5, 10, 0)}
    assert triage.effective_status(state, datetime(2026, 1, 5, 9, 59)) == "snoozed"
    assert triage.effective_status(state, datetime(2026, 1, 5, 10, 0)) == "open"
    assert triage.effective_status(None, datetime(2026, 1, 5, 10, 0)) == "open"


def test_a_snoozed_exception_can_be_reopened_before_its_time_but_not_after(store: Store) -> None:
    triage.snooze(store, MACHINE, "1h", who="a", at=AT)
    with pytest.raises(BadRequest, match="already open"):  # the snooze ran out: it is open already
        triage.reopen(store, MACHINE, who="a", at=datetime(2026, 1, 5, 9, 30))
    assert triage.reopen(store, MACHINE, who="a", at=datetime(2026, 1, 5, 8, 30))["status"] == "open"


def test_owners_are_the_plants_people_with_their_roles(store: Store) -> None:
    triage.assign(store, MACHINE, "Zoe Outsider", who="a", at=AT)
    triage.assign(store, "quality_hold:H1", "Ana", who="a", at=AT)
    assert triage.owners(store.cursor()) == [
        {"person": "Ana", "roles": ["machine supervisor", "assignee"]},
        {"person": "Ben", "roles": ["machine supervisor"]},
        {"person": "Cy", "roles": ["buyer"]},  # RAW1's empty buyer is nobody
        {"person": "Eve", "roles": ["account manager"]},
        {"person": "Quinn", "roles": ["hold placer"]},
        {"person": "Zoe Outsider", "roles": ["assignee"]},
    ]


def test_triage_survives_a_restart(tmp_path) -> None:
    path = tmp_path / "plant.duckdb"
    with Store.open(path) as first:
        small_plant(first)
        triage.acknowledge(first, MACHINE, who="ana", at=AT)
        triage.add_note(first, MACHINE, "waiting for the fitter", who="ana", at=AT)
    with Store.open(path, create=False) as second:
        state = triage.triage_state(second.cursor())[MACHINE]
        assert state["status"] == "acknowledged"
        assert [s["action"] for s in triage.history(second.cursor(), MACHINE)] == ["acknowledge", "note"]
        triage.resolve(second, MACHINE, who="ben", at=datetime(2026, 1, 5, 9, 0))
    with Store.open(path, read_only=True, create=False) as third:
        assert triage.triage_state(third.cursor())[MACHINE]["status"] == "resolved"


def test_triage_of_something_gone_can_still_be_finished(store: Store) -> None:
    triage.acknowledge(store, "quality_hold:H1", who="a", at=AT)
    store.con.execute("DELETE FROM quality_holds")  # e.g. a reload from a snapshot that dropped it
    triage.resolve(store, "quality_hold:H1", who="a", at=AT)
    assert triage.triage_state(store.cursor())["quality_hold:H1"]["status"] == "resolved"


def test_writers_in_threads_do_not_lose_actions(store: Store) -> None:
    def work(who: str) -> None:
        for i in range(15):
            triage.add_note(store, MACHINE, f"{who} {i}", who=who, at=AT)

    threads = [threading.Thread(target=work, args=(name,)) for name in ("a", "b", "c")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(triage.history(store.cursor(), MACHINE)) == 45


def test_triage_survives_a_snapshot_reload(tmp_path, sample_dir) -> None:
    from planner_tui.store.loader import load_snapshot

    path = tmp_path / "plant.duckdb"
    with Store.open(path) as store:
        load_snapshot(store, sample_dir)
        triage.acknowledge(store, "machine_down:M-PRESS-02", who="marta", at=AT)
        triage.assign(store, "quality_hold:QH-2611-007", "Eva Holm (QA)", who="marta", at=AT)
        load_snapshot(store, sample_dir)  # the morning's new snapshot replaces the plant, not the triage
        states = triage.triage_state(store.cursor())
        assert states["machine_down:M-PRESS-02"]["status"] == "acknowledged"
        assert states["quality_hold:QH-2611-007"]["assignee"] == "Eva Holm (QA)"
        assert [s["who"] for s in triage.history(store.cursor(), "machine_down:M-PRESS-02")] == ["marta"]
