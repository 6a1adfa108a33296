"""The exception inbox over a hand-worked plant: each kind raised with its id, severity, owner and
order; triage merged in; causes that clear; snoozes that run out; history with the events; the CLI."""

from __future__ import annotations

import json
from datetime import datetime
from types import SimpleNamespace

import pytest
from plantkit import make_plant
from typer.testing import CliRunner

from planner_tui.cli import app
from planner_tui.engine.exceptions import get_exception, list_exceptions
from planner_tui.errors import BadRequest, NotFound
from planner_tui.store import Store, triage

AT = datetime(2026, 1, 5, 7, 0)

# The plant, worked by hand (now = 2026-01-05 07:00):
# - M1 (Weld cell, Ana) is down since 06:00 for 2 days. P1, made for SO1/1 (Acme, promised 01-06), runs on
#   it 08:00-10:00, so P1 now ends 01-07 and SO1/1 turns late:    machine_down:M1 critical, late_order:SO1/1
# - M3 (Saw, Cal) is in maintenance since 05:00 with nothing on it:  machine_down:M3 low
# - Lot L1 was shipped to Bolt (S1) and H1 (Quinn) holds it:          quality_hold:H1 critical
# - Lot L2 went nowhere; H2 (Rob) holds it:                           quality_hold:H2 low
# - P1 needs RAW1 (Dee) at 08:00 and there is none:                   shortage:RAW1 high (hits an order soon)
# - SO3/1 (Acme, 5 FG2, promised 01-09) has no stock and no order:     shortage:FG2 high, no_supply:SO3/1 high
PLANT = dict(
    machines=[
        {"machine_id": "M1", "name": "Weld cell", "supervisor": "Ana"},
        {"machine_id": "M2", "name": "Paint", "supervisor": "Ben"},
        {"machine_id": "M3", "name": "Saw", "supervisor": "Cal"},
    ],
    machine_states=[
        {
            "machine_id": "M1",
            "state": "down",
            "since": "2026-01-05T06:00:00",
            "reason": "robot fault",
            "expected_minutes": 2880,
        },
        {"machine_id": "M2", "state": "running", "since": "2026-01-04T00:00:00"},
        {"machine_id": "M3", "state": "maintenance", "since": "2026-01-05T05:00:00", "expected_minutes": 60},
    ],
    items=[
        {"item_id": "FG1", "buyer": "Cy"},
        {"item_id": "FG2", "buyer": "Cy"},
        {"item_id": "RAW1", "item_type": "raw", "buyer": "Dee"},
    ],
    bom=[{"parent_item_id": "FG1", "component_item_id": "RAW1", "qty_per": 1}],
    customers=[
        {"customer_id": "C1", "name": "Acme", "account_manager": "Eve"},
        {"customer_id": "C2", "name": "Bolt", "account_manager": "Fay"},
    ],
    sales_orders=[
        {
            "sales_order_id": "SO1",
            "line_no": 1,
            "customer_id": "C1",
            "item_id": "FG1",
            "qty": 1,
            "promised_date": "2026-01-06",
        },
        {
            "sales_order_id": "SO2",
            "line_no": 1,
            "customer_id": "C2",
            "item_id": "FG1",
            "qty": 1,
            "promised_date": "2026-01-02",
            "status": "shipped",
        },
        {
            "sales_order_id": "SO3",
            "line_no": 1,
            "customer_id": "C1",
            "item_id": "FG2",
            "qty": 5,
            "promised_date": "2026-01-09",
        },
    ],
    production_orders=[
        {
            "production_order_id": "P1",
            "item_id": "FG1",
            "qty": 1,
            "status": "released",
            "planned_start": "2026-01-05T08:00:00",
            "planned_end": "2026-01-05T10:00:00",
            "sales_order_id": "SO1",
            "line_no": 1,
        },
    ],
    operations=[
        {
            "production_order_id": "P1",
            "op_seq": 10,
            "machine_id": "M1",
            "planned_start": "2026-01-05T08:00:00",
            "planned_end": "2026-01-05T10:00:00",
        },
    ],
    lots=[
        {"lot_id": "L1", "item_id": "FG1", "status": "shipped"},
        {"lot_id": "L2", "item_id": "FG1", "status": "hold"},
    ],
    shipments=[
        {
            "shipment_id": "S1",
            "sales_order_id": "SO2",
            "line_no": 1,
            "planned_ship_date": "2026-01-02",
            "status": "shipped",
        },
    ],
    shipment_lots=[{"shipment_id": "S1", "lot_id": "L1"}],
    quality_holds=[
        {
            "hold_id": "H1",
            "lot_id": "L1",
            "placed_at": "2026-01-04T12:00:00",
            "placed_by": "Quinn",
            "reason": "weld porosity",
        },
        {"hold_id": "H2", "lot_id": "L2", "placed_at": "2026-01-05T06:30:00", "placed_by": "Rob"},
    ],
)

WORST_FIRST = [
    "quality_hold:H1",  # critical, 19 h old
    "machine_down:M1",  # critical, 1 h old
    "no_supply:SO3/1",  # high, confirmed 4 days ago
    "late_order:SO1/1",  # high, late since the earliest current stop (05:00)
    "shortage:FG2",  # high, still ahead (age 0); ties by id
    "shortage:RAW1",
    "machine_down:M3",  # low, 2 h old
    "quality_hold:H2",  # low, 30 min old
]


def plant(store: Store | None = None) -> Store:
    return make_plant(store, **PLANT)


def looped_plant(store: Store | None = None) -> Store:
    """The plant with P9 feeding P1 and P1 feeding P9: a loop a snapshot cannot bring but events can. The
    whole-plant reschedule fails on it, so late_order cannot be checked; every other kind can."""
    store = plant(store)
    make_plant(
        store,
        production_orders=[
            {
                "production_order_id": "P9",
                "item_id": "FG2",
                "status": "released",
                "planned_start": "2026-01-06T08:00:00",
                "planned_end": "2026-01-06T10:00:00",
                "parent_production_order_id": "P1",
            }
        ],
    )
    store.con.execute("UPDATE production_orders SET parent_production_order_id = 'P9' WHERE production_order_id = 'P1'")
    return store


@pytest.fixture
def store() -> Store:
    return plant()


def by_id(rows: list[dict]) -> dict[str, dict]:
    return {r["exception_id"]: r for r in rows}


def listed(store: Store, at: datetime = AT, **kw) -> dict[str, dict]:
    return by_id(list_exceptions(store.cursor(), at=at, **kw))


# ----------------------------------------------------------------------------------------- raising


def test_each_kind_is_raised_with_its_stable_id_worst_first(store: Store) -> None:
    rows = list_exceptions(store.cursor(), at=AT)
    assert [r["exception_id"] for r in rows] == WORST_FIRST


def test_severity_kind_and_subject(store: Store) -> None:
    rows = listed(store)
    assert {i: r["severity"] for i, r in rows.items()} == {
        "quality_hold:H1": "critical",
        "machine_down:M1": "critical",
        "no_supply:SO3/1": "high",
        "late_order:SO1/1": "high",
        "shortage:FG2": "high",
        "shortage:RAW1": "high",
        "machine_down:M3": "low",
        "quality_hold:H2": "low",
    }
    assert {i: (r["kind"], r["subject_kind"], r["subject_id"]) for i, r in rows.items()} == {
        "quality_hold:H1": ("quality_hold", "hold", "H1"),
        "machine_down:M1": ("machine_down", "machine", "M1"),
        "no_supply:SO3/1": ("no_supply", "sales_order_line", "SO3/1"),
        "late_order:SO1/1": ("late_order", "sales_order_line", "SO1/1"),
        "shortage:FG2": ("shortage", "item", "FG2"),
        "shortage:RAW1": ("shortage", "item", "RAW1"),
        "machine_down:M3": ("machine_down", "machine", "M3"),
        "quality_hold:H2": ("quality_hold", "hold", "H2"),
    }


def test_default_owners(store: Store) -> None:
    assert {i: r["owner"] for i, r in listed(store).items()} == {
        "quality_hold:H1": "Quinn",  # the hold placer
        "machine_down:M1": "Ana",  # the machine supervisor
        "no_supply:SO3/1": "Eve",  # the customer's account manager
        "late_order:SO1/1": "Eve",
        "shortage:FG2": "Cy",  # the item's buyer
        "shortage:RAW1": "Dee",
        "machine_down:M3": "Cal",
        "quality_hold:H2": "Rob",
    }


def test_titles_ages_and_details_a_planner_reads(store: Store) -> None:
    rows = listed(store)
    m1 = rows["machine_down:M1"]
    assert m1["title"] == "M1 down: 1 customer line late (Weld cell)"
    assert (m1["raised_at"], m1["age_minutes"]) == (datetime(2026, 1, 5, 6, 0), 60)
    assert m1["detail"]["late_lines"] == 1
    assert m1["detail"]["production_orders"] >= 1
    assert m1["detail"]["reason"] == "robot fault"
    assert rows["machine_down:M3"]["title"] == "M3 in maintenance: nothing scheduled on it (Saw)"

    h1 = rows["quality_hold:H1"]
    assert h1["title"] == "Hold H1 on L1: shipped to 1 customer (FG1)"
    assert (h1["detail"]["shipped"], h1["detail"]["customers_shipped_to"]) == (1, 1)
    assert h1["age_minutes"] == 19 * 60
    assert rows["quality_hold:H2"]["title"] == "Hold H2 on L2: contained (FG1)"

    late = rows["late_order:SO1/1"]
    assert late["title"] == "SO1/1 late +1d: ETA 01-07, promised 01-06 (Acme)"
    assert late["detail"]["slip_days"] == 1

    assert rows["shortage:RAW1"]["title"] == "RAW1 short 1 from 08:00: hits 1 production order"
    assert rows["no_supply:SO3/1"]["title"] == "SO3/1 confirmed with no supply (Acme)"
    for row in rows.values():
        assert row["status"] == "open"
        assert row["cause_cleared"] is False
        assert row["assignee"] is None and row["last_action"] is None


def test_an_order_made_for_the_line_is_supply(store: Store) -> None:
    make_plant(
        store,
        production_orders=[
            {
                "production_order_id": "P3",
                "item_id": "FG2",
                "qty": 5,
                "status": "planned",
                "planned_start": "2026-01-10T08:00:00",
                "planned_end": "2026-01-10T12:00:00",
                "sales_order_id": "SO3",
                "line_no": 1,
            },
        ],
    )
    rows = listed(store)
    assert "no_supply:SO3/1" not in rows  # supplied, even if late: the shortage still says so
    assert "shortage:FG2" in rows


def test_a_stale_feed_is_an_exception(store: Store) -> None:
    feed = "http://127.0.0.1:8765/events"
    stale = SimpleNamespace(
        state="stale", since=datetime(2026, 1, 5, 6, 50), last_error="connection refused", feed=feed
    )
    rows = listed(store, feed_status=stale)
    row = rows[f"feed_stale:{feed}"]
    assert row["severity"] == "high"
    assert row["title"] == f"Feed {feed} stale since 06:50: connection refused"
    assert row["age_minutes"] == 10
    assert row["detail"]["last_error"] == "connection refused"
    live = SimpleNamespace(state="live", since=datetime(2026, 1, 5, 6, 50), last_error=None, feed=feed)
    assert f"feed_stale:{feed}" not in listed(store, feed_status=live)


# ----------------------------------------------------------------------------------------- triage


def test_triage_state_is_merged_into_the_inbox(store: Store) -> None:
    triage.acknowledge(store, "machine_down:M1", who="ana", at=datetime(2026, 1, 5, 6, 30))
    triage.assign(store, "machine_down:M1", "Ben", who="ana", at=datetime(2026, 1, 5, 6, 31))
    row = listed(store)["machine_down:M1"]
    assert (row["status"], row["assignee"], row["owner"]) == ("acknowledged", "Ben", "Ana")
    assert row["last_action"] == {"at": datetime(2026, 1, 5, 6, 31), "who": "ana", "action": "assign", "detail": "Ben"}


def test_a_snoozed_exception_hides_until_its_time_then_returns(store: Store) -> None:
    triage.snooze(store, "machine_down:M1", datetime(2026, 1, 5, 9, 0), who="ana", at=AT)
    at_8 = datetime(2026, 1, 5, 8, 0)
    assert "machine_down:M1" not in listed(store, at_8, include_snoozed=False)
    row = listed(store, at_8)["machine_down:M1"]
    assert (row["status"], row["snoozed_until"]) == ("snoozed", datetime(2026, 1, 5, 9, 0))
    back = listed(store, datetime(2026, 1, 5, 9, 0), include_snoozed=False)["machine_down:M1"]
    assert (back["status"], back["snoozed_until"]) == ("open", None)


def test_a_resolved_exception_is_hidden_unless_asked_for(store: Store) -> None:
    triage.resolve(store, "quality_hold:H1", who="quinn", at=AT)
    assert "quality_hold:H1" not in listed(store)
    assert listed(store, include_resolved=True)["quality_hold:H1"]["status"] == "resolved"


def test_a_cleared_cause_stays_listed_while_in_triage(store: Store) -> None:
    triage.acknowledge(store, "machine_down:M1", who="ana", at=AT)
    triage.acknowledge(store, "quality_hold:H1", who="quinn", at=AT)
    # M1 and M3 come back up, both holds are released; only M1 and H1 were being triaged
    store.con.execute(
        "UPDATE machine_states SET state = 'running', since = TIMESTAMP '2026-01-05 10:42:00' "
        "WHERE machine_id IN ('M1', 'M3')"
    )
    store.con.execute("UPDATE quality_holds SET status = 'released'")
    rows = listed(store, datetime(2026, 1, 5, 11, 0))
    m1 = rows["machine_down:M1"]
    assert m1["cause_cleared"] is True
    assert m1["cleared_note"] == "machine back up (running) since 10:42"
    assert m1["status"] == "acknowledged"
    assert m1["owner"] == "Ana"
    assert "cleared" in m1["title"]
    h1 = rows["quality_hold:H1"]
    assert (h1["cause_cleared"], h1["cleared_note"]) == (True, "hold released")
    assert "machine_down:M3" not in rows and "quality_hold:H2" not in rows  # no triage: simply gone
    # cleared ones sort after raised ones of the same severity, and a resolve sends them away
    ids = [r["exception_id"] for r in list_exceptions(store.cursor(), at=datetime(2026, 1, 5, 11, 0))]
    assert ids.index("machine_down:M1") > ids.index("shortage:RAW1")
    triage.resolve(store, "machine_down:M1", who="ana", at=datetime(2026, 1, 5, 11, 0))
    assert "machine_down:M1" not in listed(store, datetime(2026, 1, 5, 11, 0))


def test_a_cleared_order_line_says_what_happened(store: Store) -> None:
    triage.assign(store, "no_supply:SO3/1", "Eve", who="lead", at=AT)
    make_plant(
        store,
        production_orders=[
            {
                "production_order_id": "P3",
                "item_id": "FG2",
                "qty": 5,
                "status": "planned",
                "planned_start": "2026-01-06T08:00:00",
                "planned_end": "2026-01-06T12:00:00",
                "sales_order_id": "SO3",
                "line_no": 1,
            },
        ],
    )
    row = listed(store)["no_supply:SO3/1"]
    assert (row["cause_cleared"], row["cleared_note"]) == (True, "supply planned: production order P3")
    store.con.execute("UPDATE sales_orders SET status = 'cancelled' WHERE sales_order_id = 'SO3'")
    assert listed(store)["no_supply:SO3/1"]["cleared_note"] == "order line cancelled"


def test_triage_survives_a_restart_and_the_inbox_picks_it_up(tmp_path) -> None:
    path = tmp_path / "plant.duckdb"
    with Store.open(path) as first:
        plant(first)
        triage.acknowledge(first, "machine_down:M1", who="ana", at=AT)
    with Store.open(path, read_only=True, create=False) as second:
        assert listed(second)["machine_down:M1"]["status"] == "acknowledged"


# ----------------------------------------------------------------------------------------- detail


def _event(
    store: Store,
    event_id: str,
    event_type: str,
    time: str,
    data: dict,
    *,
    envelope: bool = True,
    outcome: str = "applied",
) -> None:
    payload = (
        {"specversion": "1.0", "id": event_id, "source": "mes", "type": event_type, "time": time, "data": data}
        if envelope
        else data
    )
    store.con.execute(
        """INSERT INTO event_log (source, event_id, sequence, type, event_time, received_at, applied_at, outcome,
                                  data, feed)
           VALUES ('mes', ?, NULL, ?, ?, ?, ?, ?, ?, 'test')""",
        [event_id, event_type, time, time, time, outcome, json.dumps(payload)],
    )


def test_get_exception_has_its_events_and_triage_in_time_order(store: Store) -> None:
    _event(store, "e1", "machine.down", "2026-01-04T20:00:00", {"machine_id": "M1", "reason": "jam"})
    _event(store, "e2", "machine.up", "2026-01-04T21:00:00", {"machine_id": "M1"}, envelope=False)
    _event(
        store,
        "e3",
        "machine.down",
        "2026-01-05T06:00:00",
        {"machine_id": "M1", "reason": "robot fault", "expected_minutes": 2880},
    )
    _event(store, "e4", "machine.down", "2026-01-05T06:10:00", {"machine_id": "M2"})  # another machine
    triage.acknowledge(store, "machine_down:M1", who="ana", at=datetime(2026, 1, 5, 6, 5))
    triage.add_note(store, "machine_down:M1", "fitter on the way", who="ana", at=datetime(2026, 1, 5, 6, 20))

    row = get_exception(store.cursor(), "machine_down:M1", at=AT)
    assert row["exception_id"] == "machine_down:M1"
    assert row["status"] == "acknowledged"
    steps = [(h["kind"], h["at"].strftime("%d %H:%M"), h.get("type") or h.get("action")) for h in row["history"]]
    assert steps == [
        ("event", "04 20:00", "machine.down"),
        ("event", "04 21:00", "machine.up"),
        ("event", "05 06:00", "machine.down"),
        ("triage", "05 06:05", "acknowledge"),
        ("triage", "05 06:20", "note"),
    ]
    assert row["history"][2]["summary"] == "machine.down: reason=robot fault, expected_minutes=2880"
    assert row["history"][4]["who"] == "ana" and row["history"][4]["detail"] == "fitter on the way"


def test_get_exception_of_a_hold_and_an_order_line_shows_their_events(store: Store) -> None:
    _event(store, "h1", "hold.placed", "2026-01-04T12:00:00", {"hold_id": "H1", "lot_id": "L1"})
    _event(store, "h2", "hold.placed", "2026-01-05T06:30:00", {"hold_id": "H2", "lot_id": "L2"})
    _event(
        store,
        "o1",
        "order.confirmed",
        "2026-01-01T00:00:00",
        {"sales_order_id": "SO3", "line_no": 1, "customer_id": "C1", "item_id": "FG2", "qty": 5},
    )
    _event(store, "o2", "order.changed", "2026-01-02T00:00:00", {"sales_order_id": "SO3", "line_no": 2, "qty": 1})
    hold = get_exception(store.cursor(), "quality_hold:H1", at=AT)
    assert [h["event_id"] for h in hold["history"]] == ["h1"]
    line = get_exception(store.cursor(), "no_supply:SO3/1", at=AT)
    assert [h["event_id"] for h in line["history"]] == ["o1"]
    assert line["severity"] == "high" and line["owner"] == "Eve"


def test_get_exception_errors(store: Store) -> None:
    with pytest.raises(NotFound, match="no exception machine_down:M2"):
        get_exception(store.cursor(), "machine_down:M2", at=AT)  # running, never triaged
    with pytest.raises(BadRequest, match="malformed exception id"):
        get_exception(store.cursor(), "M1", at=AT)


def test_get_exception_of_a_cleared_cause(store: Store) -> None:
    triage.acknowledge(store, "machine_down:M3", who="cal", at=AT)
    store.con.execute("DELETE FROM machine_states WHERE machine_id = 'M3'")  # a machine not listed runs
    row = get_exception(store.cursor(), "machine_down:M3", at=AT)
    assert (row["cause_cleared"], row["cleared_note"], row["severity"]) == (True, "machine running", "low")
    assert [h["action"] for h in row["history"]] == ["acknowledge"]


# ----------------------------------------------------------------------------------------- the CLI


@pytest.fixture
def db(tmp_path) -> str:
    path = tmp_path / "plant.duckdb"
    with Store.open(path) as store:
        plant(store)
    return str(path)


def run(*args: str):
    result = CliRunner().invoke(app, list(args))
    assert "Traceback" not in (result.output or "")
    return result


def test_cli_exceptions_json(db: str) -> None:
    result = run("exceptions", "--db", db, "--at", "2026-01-05T07:00:00", "--json")
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert answer["at"] == "2026-01-05T07:00:00"
    assert [e["exception_id"] for e in answer["exceptions"]] == WORST_FIRST
    first = answer["exceptions"][0]
    assert set(first) >= {
        "exception_id",
        "kind",
        "severity",
        "title",
        "subject_kind",
        "subject_id",
        "raised_at",
        "age_minutes",
        "owner",
        "assignee",
        "status",
        "snoozed_until",
        "cause_cleared",
        "cleared_note",
        "detail",
        "last_action",
    }
    assert first["raised_at"] == "2026-01-04T12:00:00"


def test_cli_triage_flow(db: str) -> None:
    at = ["--at", "2026-01-05T07:00:00"]
    result = run("triage", "ack", "machine_down:M1", "--db", db, "--who", "ana", *at, "--json")
    assert result.exit_code == 0, result.output
    state = json.loads(result.stdout)
    assert (state["exception_id"], state["status"], state["updated_by"]) == ("machine_down:M1", "acknowledged", "ana")
    assert run("triage", "assign", "machine_down:M1", "Ben", "--db", db, *at).exit_code == 0
    assert run("triage", "note", "machine_down:M1", "fitter called", "--db", db, *at).exit_code == 0
    assert run("triage", "snooze", "quality_hold:H2", "2h", "--db", db, *at).exit_code == 0
    assert run("triage", "resolve", "shortage:FG2", "--db", db, *at).exit_code == 0
    assert run("triage", "reopen", "shortage:FG2", "--db", db, "--at", "2026-01-05T07:01:00").exit_code == 0
    assert run("triage", "resolve", "shortage:RAW1", "--db", db, *at).exit_code == 0

    listing = json.loads(run("exceptions", "--db", db, *at, "--json").stdout)["exceptions"]
    rows = by_id(listing)
    assert "quality_hold:H2" not in rows and "shortage:RAW1" not in rows  # snoozed, resolved
    assert (rows["machine_down:M1"]["assignee"], rows["shortage:FG2"]["status"]) == ("Ben", "open")
    everything = by_id(json.loads(run("exceptions", "--all", "--db", db, *at, "--json").stdout)["exceptions"])
    assert everything["quality_hold:H2"]["status"] == "snoozed"
    assert everything["shortage:RAW1"]["status"] == "resolved"

    shown = json.loads(run("exception", "show", "machine_down:M1", "--db", db, *at, "--json").stdout)
    assert [h["action"] for h in shown["history"]] == ["acknowledge", "assign", "note"]
    assert shown["history"][0]["who"] == "ana"
    table = run("exceptions", "--db", db, *at)
    assert table.exit_code == 0 and "machine_down:M1" in table.stdout and "CRITICAL" in table.stdout
    detail = run("exception", "show", "machine_down:M1", "--db", db, *at)
    assert detail.exit_code == 0 and "fitter called" in detail.stdout


def test_cli_owners_json(db: str) -> None:
    result = run("owners", "--db", db, "--json")
    assert result.exit_code == 0
    people = {p["person"]: p["roles"] for p in json.loads(result.stdout)}
    assert people["Ana"] == ["machine supervisor"]
    assert people["Quinn"] == ["hold placer"]
    assert people["Eve"] == ["account manager"]
    assert people["Dee"] == ["buyer"]


@pytest.mark.parametrize(
    "args, code, message",
    [
        (["triage", "ack", "M1"], 2, "malformed exception id"),
        (["triage", "ack", "machine_down:NOPE"], 3, "unknown machine"),
        (["triage", "note", "machine_down:M1", " "], 2, "note must not be empty"),
        (["triage", "snooze", "machine_down:M1", "2020-01-01T00:00"], 2, "not after now"),
        (["exception", "show", "machine_down:M2", "--at", "2026-01-05T07:00"], 3, "no exception"),
        (["exceptions", "--at", "yesterday"], 2, "malformed --at timestamp"),
    ],
)
def test_cli_errors_are_one_line_with_an_exit_code(db: str, args: list[str], code: int, message: str) -> None:
    result = run(*args, "--db", db)
    assert result.exit_code == code, result.output
    assert message in result.output


def test_cli_triage_needs_a_database_file() -> None:
    result = run("triage", "ack", "machine_down:M1")
    assert result.exit_code == 2 and "give --db FILE" in result.output


def _cloud_event(event_id: str, event_type: str, time: str, data: dict, sequence: int) -> dict:
    return {
        "specversion": "1.0",
        "id": event_id,
        "source": "mes-test",
        "type": event_type,
        "time": time,
        "sequence": sequence,
        "data": data,
    }


def test_events_applied_from_a_feed_raise_clear_and_show_in_history(store: Store) -> None:
    from planner_tui.store.events import apply_events

    apply_events(
        store,
        [
            _cloud_event(
                "d1",
                "machine.down",
                "2026-01-05T06:40:00Z",
                {"machine_id": "M2", "reason": "spindle", "expected_minutes": 30},
                1,
            )
        ],
        feed="test-feed",
        received_at=datetime(2026, 1, 5, 6, 40, 5),
    )
    row = listed(store)["machine_down:M2"]
    assert row["owner"] == "Ben" and row["detail"]["reason"] == "spindle"
    triage.acknowledge(store, "machine_down:M2", who="ben", at=datetime(2026, 1, 5, 6, 45))
    apply_events(
        store,
        [_cloud_event("u1", "machine.up", "2026-01-05T06:58:00Z", {"machine_id": "M2"}, 2)],
        feed="test-feed",
        received_at=datetime(2026, 1, 5, 6, 58, 2),
    )
    shown = get_exception(store.cursor(), "machine_down:M2", at=AT)
    assert shown["cause_cleared"] is True
    assert shown["cleared_note"].startswith("machine back up")
    assert [(h["kind"], h.get("type") or h.get("action")) for h in shown["history"]] == [
        ("event", "machine.down"),
        ("triage", "acknowledge"),
        ("event", "machine.up"),
    ]
    assert shown["history"][0]["summary"] == "machine.down: reason=spindle, expected_minutes=30"


def test_a_hold_with_stock_but_nothing_shipped_is_medium(store: Store) -> None:
    make_plant(store, inventory=[{"item_id": "FG1", "location": "FG-STORE", "lot_id": "L2", "qty": 4}])
    row = listed(store)["quality_hold:H2"]
    assert (row["severity"], row["title"]) == ("medium", "Hold H2 on L2: 4 in stock (FG1)")


def test_several_feeds_and_a_stale_feed_that_recovers(store: Store) -> None:
    a, b = "http://127.0.0.1:1/a", "http://127.0.0.1:2/b"
    since = datetime(2026, 1, 5, 6, 0)
    statuses = [
        SimpleNamespace(state="stale", since=since, last_error="HTTP 500", feed=a),
        SimpleNamespace(state="live", since=since, last_error=None, feed=b),
    ]
    assert [i for i in listed(store, feed_status=statuses) if i.startswith("feed_stale")] == [f"feed_stale:{a}"]
    triage.acknowledge(store, f"feed_stale:{a}", who="it", at=AT)
    recovered = [SimpleNamespace(state="live", since=AT, last_error=None, feed=a)]
    row = listed(store, feed_status=recovered)[f"feed_stale:{a}"]
    assert (row["cause_cleared"], row["cleared_note"]) == (True, "feed live again")
    assert listed(store)[f"feed_stale:{a}"]["cleared_note"] == "feed not followed here"


def _write_snapshot(store: Store, folder) -> None:
    from planner_tui.store.contract import TABLES

    folder.mkdir(parents=True, exist_ok=True)
    for t in TABLES:
        store.con.execute(f"COPY \"{t.name}\" TO '{folder / (t.name + '.csv')}' (HEADER)")


def test_triage_survives_a_snapshot_reload_and_a_cleared_cause_says_so(tmp_path) -> None:
    from planner_tui.store.loader import load_snapshot

    source = plant()
    _write_snapshot(source, tmp_path / "monday")
    source.con.execute(
        "UPDATE machine_states SET state = 'running', since = TIMESTAMP '2026-01-05 10:42:00' WHERE machine_id = 'M1'"
    )
    _write_snapshot(source, tmp_path / "tuesday")

    with Store.open(tmp_path / "plant.duckdb") as store:
        load_snapshot(store, tmp_path / "monday")
        triage.acknowledge(store, "machine_down:M1", who="ana", at=AT)
        triage.assign(store, "quality_hold:H1", "Quinn", who="ana", at=AT)
        load_snapshot(store, tmp_path / "monday")  # the same plant again: nothing changes
        rows = listed(store)
        assert rows["machine_down:M1"]["status"] == "acknowledged"
        assert rows["quality_hold:H1"]["assignee"] == "Quinn"
        load_snapshot(store, tmp_path / "tuesday")  # M1 came back up in the new snapshot
        rows = listed(store, datetime(2026, 1, 5, 11, 0))
        assert rows["machine_down:M1"]["cause_cleared"] is True
        assert rows["machine_down:M1"]["cleared_note"] == "machine back up (running) since 10:42"
        assert rows["machine_down:M1"]["status"] == "acknowledged"
        assert rows["quality_hold:H1"]["assignee"] == "Quinn"


def test_a_machine_that_stops_again_after_a_resolve_is_open_again(store: Store) -> None:
    triage.resolve(store, "machine_down:M1", who="ana", at=AT)
    assert "machine_down:M1" not in listed(store)  # the 06:00 stop is resolved
    store.con.execute("UPDATE machine_states SET since = TIMESTAMP '2026-01-05 09:00:00' WHERE machine_id = 'M1'")
    row = listed(store, datetime(2026, 1, 5, 9, 30))["machine_down:M1"]
    assert row["status"] == "open"
    assert row["last_action"]["action"] == "resolve"  # the history of the earlier stop stays with it


def test_the_pollers_feed_status_is_understood(store: Store) -> None:
    from planner_tui.feeds.poller import STALE, FeedStatus

    status = FeedStatus(
        feed="http://127.0.0.1:9/events",
        state=STALE,
        since=datetime(2026, 1, 5, 6, 55),
        last_error="connection refused",
    )
    row = listed(store, feed_status=status)["feed_stale:http://127.0.0.1:9/events"]
    assert (row["severity"], row["age_minutes"], row["owner"]) == ("high", 5, None)
    assert row["title"] == "Feed http://127.0.0.1:9/events stale since 06:55: connection refused"
    live = FeedStatus(feed="http://127.0.0.1:9/events", state="live")
    assert not [i for i in listed(store, feed_status=live) if i.startswith("feed_stale")]


def test_the_sample_scenario_shows_every_gap(sample_dir, repo_root) -> None:
    from planner_tui.store.events import apply_events
    from planner_tui.store.loader import load_snapshot

    store = Store.memory()
    load_snapshot(store, sample_dir)
    lines = (repo_root / "sample_data" / "scenario.jsonl").read_text().splitlines()
    apply_events(store, [json.loads(line) for line in lines if line.strip()], feed="scenario")
    at = datetime(2026, 11, 23, 9, 0)
    rows = list_exceptions(store.cursor(), at=at)
    kinds = {r["kind"] for r in rows}
    assert {"machine_down", "quality_hold", "shortage", "late_order", "no_supply"} <= kinds
    assert rows[0]["severity"] == "critical"
    weld = by_id(rows)["machine_down:M-WELD-01"]
    assert weld["severity"] == "critical" and weld["detail"]["late_lines"] >= 1
    shipped_holds = [r for r in rows if r["kind"] == "quality_hold" and r["severity"] == "critical"]
    assert shipped_holds and all(r["detail"]["shipped"] >= 1 for r in shipped_holds)
    history = get_exception(store.cursor(), "machine_down:M-WELD-01", at=at)["history"]
    assert any(h["kind"] == "event" and h["type"] == "machine.down" for h in history)


def _reach_from_trace(cur, lot_id: str) -> dict:
    """The inbox's hold counts, worked out from the lot trace (the reference answer)."""
    from planner_tui.engine.trace import trace_lot

    trace = trace_lot(cur, lot_id)
    shipments = {s["shipment_id"]: s for s in trace["shipments"]}
    shipped = {i for i, s in shipments.items() if s["status"] in ("shipped", "delivered")}
    return {
        "descendants": len(trace["descendants"]),
        "shipments": len(shipments),
        "shipped": len(shipped),
        "customers": len({s["customer_id"] for s in shipments.values()} - {None}),
        "customers_shipped_to": len({shipments[i]["customer_id"] for i in shipped} - {None}),
        "stock_qty": float(sum(i["qty"] for i in trace["inventory"])),
    }


def _assert_reach_matches_trace(store: Store) -> int:
    from planner_tui.engine.exceptions import hold_reach

    cur = store.cursor()
    holds = hold_reach(cur)
    for h in holds:
        mine = {k: (float(h[k]) if k == "stock_qty" else h[k]) for k in _reach_from_trace(cur, h["lot_id"])}
        assert mine == _reach_from_trace(cur, h["lot_id"]), h["hold_id"]
    return len(holds)


def test_hold_reach_agrees_with_the_lot_trace(store: Store) -> None:
    # L1 -> L3 and L4 -> L5 (a diamond through L3 and L4), L5 -> L3 closes a cycle; L4 is in stock in two
    # places and on an open shipment, L5 shipped to Acme.
    make_plant(
        store,
        lots=[{"lot_id": f"L{i}", "item_id": "FG1"} for i in (3, 4, 5)],
        lot_genealogy=[
            {"input_lot_id": "L1", "output_lot_id": "L3"},
            {"input_lot_id": "L1", "output_lot_id": "L4"},
            {"input_lot_id": "L3", "output_lot_id": "L5"},
            {"input_lot_id": "L4", "output_lot_id": "L5"},
            {"input_lot_id": "L5", "output_lot_id": "L3"},
        ],
        inventory=[
            {"item_id": "FG1", "location": "A", "lot_id": "L4", "qty": 2},
            {"item_id": "FG1", "location": "B", "lot_id": "L4", "qty": 3},
        ],
        shipments=[
            {"shipment_id": "S2", "sales_order_id": "SO1", "line_no": 1, "planned_ship_date": "2026-01-06"},
            {
                "shipment_id": "S3",
                "sales_order_id": "SO3",
                "line_no": 1,
                "planned_ship_date": "2026-01-03",
                "status": "delivered",
            },
        ],
        shipment_lots=[
            {"shipment_id": "S2", "lot_id": "L4"},
            {"shipment_id": "S3", "lot_id": "L5"},
            {"shipment_id": "S3", "lot_id": "L3"},
        ],
    )
    assert _assert_reach_matches_trace(store) == 2
    h1 = listed(store)["quality_hold:H1"]["detail"]
    assert (h1["descendants"], h1["shipments"], h1["shipped"], h1["stock_qty"]) == (3, 3, 2, 5.0)


def test_hold_reach_agrees_with_the_lot_trace_on_the_sample(sample_dir, repo_root) -> None:
    from planner_tui.store.events import apply_events
    from planner_tui.store.loader import load_snapshot

    store = Store.memory()
    load_snapshot(store, sample_dir)
    lines = (repo_root / "sample_data" / "scenario.jsonl").read_text().splitlines()
    apply_events(store, [json.loads(line) for line in lines if line.strip()], feed="scenario")
    store.con.execute("UPDATE quality_holds SET status = 'active'")  # every hold, released ones too
    assert _assert_reach_matches_trace(store) >= 2


def _stops(cur) -> list[dict]:
    return [
        dict(zip(("machine_id", "since", "expected_minutes", "supervisor"), row))
        for row in cur.execute(
            """SELECT s.machine_id, s.since, s.expected_minutes, m.supervisor
               FROM machine_states s JOIN machines m USING (machine_id)
               WHERE s.state IN ('down', 'maintenance') ORDER BY s.machine_id"""
        ).fetchall()
    ]


def _assert_machine_counts_match_impact(store: Store, at: datetime) -> int:
    """The set-based counts of every stop at once equal one machine_impact per stop (all six counts), and
    the inbox shows them; a stop that hits nothing is listed with zeros, as before (no impact computed).
    Returns how many stops hit work."""
    from planner_tui.engine.exceptions import machine_counts, machine_counts_slow
    from planner_tui.engine.impact import machine_impact

    cur = store.cursor()
    stops = _stops(cur)
    fast = machine_counts(cur, stops)
    assert set(fast) == {s["machine_id"] for s in stops}
    for stop in stops:
        assert fast[stop["machine_id"]] == machine_counts_slow(cur, stop["machine_id"]), stop["machine_id"]
    rows = [r for r in list_exceptions(cur, at=at) if r["kind"] == "machine_down"]
    assert len(rows) == len(stops)
    with_work = 0
    for row in rows:
        impact = machine_impact(cur, row["subject_id"])
        expected = (
            len(impact["production_orders"]),
            len(impact["sales_orders"]),
            sum(1 for s in impact["sales_orders"] if s["turns_late"]),
        )
        got = (row["detail"]["production_orders"], row["detail"]["sales_lines"], row["detail"]["late_lines"])
        assert got == expected, row["exception_id"]
        if row["detail"]["production_orders"]:
            with_work += 1
            counts = {k: row["detail"][k] for k in fast[row["subject_id"]]}
            assert counts == fast[row["subject_id"]], row["exception_id"]
    return with_work


def test_stops_that_hit_nothing_skip_the_repair_but_agree_with_machine_impact(store: Store) -> None:
    # M2 stops 06:00-07:00: its operation before (done by 05:00) and after (09:00) are untouched; M4 stops
    # with an operation running across the stop; M5 stops with unknown downtime and work ahead of it.
    make_plant(
        store,
        machines=[{"machine_id": m, "supervisor": "Ben"} for m in ("M4", "M5")],
        production_orders=[
            {"production_order_id": p, "item_id": "FG2", "status": "released", "planned_start": a, "planned_end": b}
            for p, a, b in (
                ("P2", "2026-01-05T03:00:00", "2026-01-05T10:00:00"),
                ("P4", "2026-01-05T05:00:00", "2026-01-05T09:00:00"),
                ("P5", "2026-01-06T08:00:00", "2026-01-06T09:00:00"),
            )
        ],
        operations=[
            {
                "production_order_id": "P2",
                "op_seq": 10,
                "machine_id": "M2",
                "planned_start": "2026-01-05T03:00:00",
                "planned_end": "2026-01-05T05:00:00",
            },
            {
                "production_order_id": "P2",
                "op_seq": 20,
                "machine_id": "M2",
                "planned_start": "2026-01-05T09:00:00",
                "planned_end": "2026-01-05T10:00:00",
            },
            {
                "production_order_id": "P4",
                "op_seq": 10,
                "machine_id": "M4",
                "status": "running",
                "planned_start": "2026-01-05T05:00:00",
                "planned_end": "2026-01-05T09:00:00",
            },
            {
                "production_order_id": "P5",
                "op_seq": 10,
                "machine_id": "M5",
                "planned_start": "2026-01-06T08:00:00",
                "planned_end": "2026-01-06T09:00:00",
            },
        ],
    )
    store.con.execute(
        "UPDATE machine_states SET state = 'down', since = TIMESTAMP '2026-01-05 06:00:00', "
        "expected_minutes = 60 WHERE machine_id = 'M2'"
    )
    make_plant(
        store,
        machine_states=[
            {"machine_id": "M4", "state": "down", "since": "2026-01-05T06:00:00", "expected_minutes": 30},
            {"machine_id": "M5", "state": "down", "since": "2026-01-05T06:00:00"},
        ],
    )
    assert _assert_machine_counts_match_impact(store, AT) == 3  # M1, M4, M5 (M2 and M3 hit nothing)
    rows = listed(store)
    assert rows["machine_down:M2"]["severity"] == "low"
    assert rows["machine_down:M4"]["detail"]["production_orders"] == 1
    assert rows["machine_down:M5"]["detail"]["production_orders"] == 1


def test_machine_counts_agree_with_machine_impact_on_the_sample(sample_dir, repo_root) -> None:
    from planner_tui.store.events import apply_events
    from planner_tui.store.loader import load_snapshot

    store = Store.memory()
    load_snapshot(store, sample_dir)
    lines = (repo_root / "sample_data" / "scenario.jsonl").read_text().splitlines()
    apply_events(store, [json.loads(line) for line in lines if line.strip()], feed="scenario")
    # every machine stopped: some for 4 h from 07:00, every third with unknown downtime
    store.con.execute("DELETE FROM machine_states")
    store.con.execute(
        """INSERT INTO machine_states (machine_id, state, since, reason, expected_minutes)
           SELECT machine_id, 'down', TIMESTAMP '2026-11-23 07:00:00', 'test',
                  CASE WHEN row_number() OVER (ORDER BY machine_id) % 3 = 0 THEN NULL ELSE 240 END
           FROM machines"""
    )
    assert _assert_machine_counts_match_impact(store, datetime(2026, 11, 23, 9, 0)) >= 5


def _stop_every_machine(store: Store, since: str) -> None:
    # every machine stopped: most for 4 h, every third with unknown downtime
    store.con.execute("DELETE FROM machine_states")
    store.con.execute(
        """INSERT INTO machine_states (machine_id, state, since, reason, expected_minutes)
           SELECT machine_id, 'down', CAST(? AS TIMESTAMP), 'test',
                  CASE WHEN row_number() OVER (ORDER BY machine_id) % 3 = 0 THEN NULL ELSE 240 END
           FROM machines""",
        [since],
    )


def test_machine_counts_agree_with_machine_impact_on_a_generated_plant(tmp_path) -> None:
    from planner_tui.generate import generate_plant
    from planner_tui.store.loader import load_snapshot

    generate_plant(tmp_path / "plant", scale=0.01, seed=3)
    store = Store.memory()
    load_snapshot(store, tmp_path / "plant")
    at = datetime(2026, 11, 23, 6, 0)  # the extract's as_of
    _assert_machine_counts_match_impact(store, at)  # its own stops
    _stop_every_machine(store, "2026-11-23 06:00:00")
    assert _assert_machine_counts_match_impact(store, at) >= 10
    # a later stop, so known downtimes hit later work and push it on (knock-on machines, late lines)
    _stop_every_machine(store, "2026-11-26 10:00:00")
    assert _assert_machine_counts_match_impact(store, at) >= 10


def test_machine_counts_on_a_feeding_loop_say_why_as_machine_impact_does() -> None:
    from planner_tui.engine.exceptions import machine_counts, machine_counts_slow
    from planner_tui.errors import CycleError

    store = looped_plant()  # M1's stop hits P1, whose chain loops
    cur = store.cursor()
    with pytest.raises(CycleError) as raised:
        machine_counts_slow(cur, "M1")
    counts = machine_counts(cur, _stops(cur))
    assert counts["M1"] == {"error": str(raised.value)}
    assert counts["M3"] == machine_counts_slow(cur, "M3")


def test_cli_exceptions_kind_and_limit(db: str) -> None:
    at = ["--at", "2026-01-05T07:00:00"]
    answer = json.loads(
        run("exceptions", "--db", db, *at, "--json", "--kind", "shortage", "--kind", "machine_down").stdout
    )
    assert [e["exception_id"] for e in answer["exceptions"]] == [
        "machine_down:M1",
        "shortage:FG2",
        "shortage:RAW1",
        "machine_down:M3",
    ]
    assert answer["total"] == 4
    limited = json.loads(run("exceptions", "--db", db, *at, "--json", "--limit", "2").stdout)
    assert [e["exception_id"] for e in limited["exceptions"]] == WORST_FIRST[:2]
    assert limited["total"] == len(WORST_FIRST)
    table = run("exceptions", "--db", db, *at, "--limit", "3")
    assert table.exit_code == 0 and "3 worst of 8" in table.stdout and "and 5 more" in table.stdout
    bad = run("exceptions", "--db", db, *at, "--kind", "volcano")
    assert bad.exit_code == 2 and "unknown kind" in bad.output


def test_no_supply_only_when_nothing_is_planned_for_the_item():
    """A short line whose item has an open purchase order is the item's shortage, not 'no supply'."""
    from plantkit import make_plant

    from planner_tui.engine.exceptions import list_exceptions
    from planner_tui.timeutil import parse_timestamp

    def plant(with_po: bool):
        return make_plant(
            customers=[{"customer_id": "C1", "account_manager": "Ann"}],
            items=[{"item_id": "FG", "buyer": "Bob"}],
            sales_orders=[
                {
                    "sales_order_id": "SO-1",
                    "customer_id": "C1",
                    "item_id": "FG",
                    "qty": 5,
                    "promised_date": "2026-01-10",
                }
            ],
            purchase_orders=[{"purchase_order_id": "PO-1", "item_id": "FG", "qty": 5, "due_date": "2026-01-20"}]
            if with_po
            else [],
        )

    at = parse_timestamp("2026-01-05T08:00")
    kinds = lambda store: {e["exception_id"] for e in list_exceptions(store.cursor(), at=at)}  # noqa: E731
    assert "no_supply:SO-1/1" in kinds(plant(with_po=False))
    late_supply = kinds(plant(with_po=True))
    assert "no_supply:SO-1/1" not in late_supply
    assert "shortage:FG" in late_supply


def test_a_kind_that_cannot_be_checked_is_said_after_the_table_and_in_the_json(tmp_path) -> None:
    path = tmp_path / "loop.duckdb"
    with Store.open(path) as store:
        looped_plant(store)
    at = ["--db", str(path), "--at", "2026-01-05T07:00:00"]
    answer = json.loads(run("exceptions", *at, "--json").stdout)
    assert "machine_down:M1" in {e["exception_id"] for e in answer["exceptions"]}
    assert answer["problems"] == [
        "late_order: could not check: production orders feed each other in a loop: P1 -> P9 -> P1"
    ]
    table = run("exceptions", *at)
    assert table.exit_code == 0, table.output
    text = " ".join(table.stdout.split())  # a long line wraps on a narrow terminal
    said = text.split("not checked: ")
    assert len(said) == 2 and said[1].startswith("late_order: could not check:") and "P1 -> P9 -> P1" in said[1]
    assert "machine_down:M1" in said[0]  # after the table
    # Kinds that do not need the reschedule are checked alone, with nothing to say.
    narrowed = json.loads(run("exceptions", *at, "--json", "--kind", "machine_down").stdout)
    assert narrowed["problems"] == [] and narrowed["total"] == 2
    assert json.loads(run("exceptions", "--db", db_of(tmp_path), "--json").stdout)["problems"] == []


def db_of(tmp_path) -> str:
    """The hand-worked plant (no loop) in a database file of its own."""
    path = tmp_path / "plain.duckdb"
    with Store.open(path) as store:
        plant(store)
    return str(path)
