"""Machine-stop impact and whole-plant reschedule: hand-worked plants, the sample plant, and the CLI."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

import pytest
from plantkit import make_plant
from typer.testing import CliRunner

from planner_tui.cli import app
from planner_tui.engine.impact import machine_impact, reschedule
from planner_tui.errors import BadRequest, CycleError, NotFound
from planner_tui.store import Store

DAY = datetime(2026, 1, 5)


def t(hhmm: str, day: int = 0) -> datetime:
    h, m = hhmm.split(":")
    return DAY + timedelta(days=day, hours=int(h), minutes=int(m))


def op(po, seq, machine, start, end, status="waiting"):
    return {
        "production_order_id": po,
        "op_seq": seq,
        "machine_id": machine,
        "planned_start": t(start),
        "planned_end": t(end),
        "status": status,
    }


def order(po, start, end, **extra):
    return {
        "production_order_id": po,
        "item_id": "ITEM-" + po,
        "planned_start": t(start),
        "planned_end": t(end),
        **extra,
    }


def build(store=None, machine_states=()):
    """Three-level feeding into a customer line, a second customer hit by knock-on on M-PAINT.

    C (on M-WELD) feeds B (M-PAINT) feeds A (M-ASSY), made for SO-1/1 (promised day 0, ACME, Ann).
    K on M-PAINT after B, made for SO-2/1 (promised day 1, BOLT, Bob). U on M-ASSY untouched.
    """
    return make_plant(
        store,
        machines=[
            {"machine_id": "M-WELD", "supervisor": "Wanda"},
            {"machine_id": "M-PAINT", "supervisor": "Paul"},
            {"machine_id": "M-ASSY", "supervisor": "Asa"},
        ],
        machine_states=list(machine_states),
        customers=[
            {"customer_id": "ACME", "name": "Acme AB", "account_manager": "Ann"},
            {"customer_id": "BOLT", "name": "Bolt Ltd", "account_manager": "Bob"},
            {"customer_id": "CALM", "name": "Calm Co", "account_manager": "Cid"},
        ],
        items=[{"item_id": "ITEM-" + p} for p in ("A", "B", "C", "K", "U")],
        sales_orders=[
            {"sales_order_id": "SO-1", "customer_id": "ACME", "item_id": "ITEM-A", "promised_date": date(2026, 1, 5)},
            {"sales_order_id": "SO-2", "customer_id": "BOLT", "item_id": "ITEM-K", "promised_date": date(2026, 1, 6)},
            {"sales_order_id": "SO-3", "customer_id": "CALM", "item_id": "ITEM-U", "promised_date": date(2026, 1, 5)},
        ],
        production_orders=[
            order("C", "08:00", "10:00", parent_production_order_id="B"),
            order("B", "10:00", "12:00", parent_production_order_id="A"),
            order("A", "12:00", "20:00", sales_order_id="SO-1", line_no=1),
            order("K", "12:00", "13:00", sales_order_id="SO-2", line_no=1),
            order("U", "08:00", "09:00", sales_order_id="SO-3", line_no=1),
        ],
        operations=[
            op("C", 10, "M-WELD", "08:00", "10:00"),
            op("B", 10, "M-PAINT", "10:00", "12:00"),
            op("A", 10, "M-ASSY", "12:00", "20:00"),
            op("K", 10, "M-PAINT", "12:00", "13:00"),
            op("U", 10, "M-ASSY", "08:00", "09:00"),
        ],
        shipments=[
            {"shipment_id": "SH-1", "sales_order_id": "SO-1", "planned_ship_date": date(2026, 1, 5)},
            {
                "shipment_id": "SH-OLD",
                "sales_order_id": "SO-1",
                "planned_ship_date": date(2026, 1, 4),
                "status": "shipped",
            },
            {
                "shipment_id": "SH-2",
                "sales_order_id": "SO-2",
                "planned_ship_date": date(2026, 1, 6),
                "status": "picked",
            },
        ],
    )


def by_id(rows, key="production_order_id"):
    return {r[key]: r for r in rows}


def test_impact_shape_and_multi_level_delay_to_late_line():
    result = machine_impact(build().cursor(), "M-WELD", at=t("09:00"), down_minutes=300)
    for key in (
        "machine_id",
        "at",
        "down_minutes",
        "production_orders",
        "sales_orders",
        "shipments",
        "customers",
        "notify",
    ):
        assert key in result
    assert result["down_minutes"] == 300 and result["stop_end"] == t("14:00") and result["downtime_known"]
    pos = by_id(result["production_orders"])
    assert set(pos) == {"A", "B", "C", "K"}  # U is untouched
    # C: 1 h left at 09:00, resumes 14:00 -> 15:00; B 15-17; A 17-01:00 next day; K after B on M-PAINT.
    assert pos["C"]["new_end"] == t("15:00") and pos["C"]["why"] == "on M-WELD"
    assert pos["B"]["delay_minutes"] == 300 and pos["B"]["why"] == "fed by C"
    assert pos["A"]["new_end"] == t("01:00", day=1) and pos["A"]["why"] == "fed by B"
    assert pos["K"]["new_end"] == t("18:00") and pos["K"]["why"] == "knock-on on M-PAINT"
    assert [p["production_order_id"] for p in result["production_orders"]][0] in {"A", "B", "C"}  # worst first
    lines = {(ln["sales_order_id"], ln["line_no"]): ln for ln in result["sales_orders"]}
    assert lines[("SO-1", 1)]["late"] is True and lines[("SO-1", 1)]["eta"] == t("01:00", day=1)
    assert lines[("SO-2", 1)]["late"] is False  # ETA day 0 18:00, promised day 1
    assert result["sales_orders"][0]["sales_order_id"] == "SO-1"
    assert {s["shipment_id"] for s in result["shipments"]} == {"SH-1", "SH-2"}  # shipped ones are not open
    assert {c["customer_id"]: c["account_manager"] for c in result["customers"]} == {"ACME": "Ann", "BOLT": "Bob"}
    ops = result["operations"]
    assert [(o["production_order_id"], o["new_end"]) for o in ops] == [("C", t("15:00"))]


def test_late_means_eta_day_after_promised_day():
    # 120 min: A ends 22:00 on the promised day itself: later, but not late.
    result = machine_impact(build().cursor(), "M-WELD", at=t("09:00"), down_minutes=120)
    line = next(ln for ln in result["sales_orders"] if ln["sales_order_id"] == "SO-1")
    assert line["eta"] == t("22:00") and line["late"] is False and line["slip_minutes"] == 120


def test_notify_lists_supervisors_and_account_managers_with_reasons():
    result = machine_impact(build().cursor(), "M-WELD", at=t("09:00"), down_minutes=300)
    notify = {n["person"]: n for n in result["notify"]}
    assert set(notify) == {"Wanda", "Ann", "Bob", "Paul", "Asa"}
    assert notify["Wanda"]["role"] == "machine supervisor" and "M-WELD stopped" in notify["Wanda"]["why"]
    assert "SO-1/1 LATE" in notify["Ann"]["why"]
    assert "SO-2/1 at risk" in notify["Bob"]["why"]
    assert notify["Paul"]["role"] == "supervisor (knock-on)" and "B, K shift on M-PAINT" in notify["Paul"]["why"]
    assert "A shift on M-ASSY" in notify["Asa"]["why"]
    assert result["notify"][0]["person"] == "Wanda"


def test_unknown_downtime_reports_exposure_without_delays():
    result = machine_impact(build().cursor(), "M-WELD", at=t("09:00"))
    assert result["downtime_known"] is False and result["exposed"] is True and result["down_minutes"] is None
    assert set(by_id(result["production_orders"])) == {"A", "B", "C"}  # the chain above the machine's work
    assert all(p["delay_minutes"] == 0 for p in result["production_orders"])
    line = result["sales_orders"][0]
    assert (line["sales_order_id"], line["late"], line["at_risk"]) == ("SO-1", False, True)
    assert {n["person"] for n in result["notify"]} == {"Wanda", "Ann"}


def test_stop_and_downtime_from_store():
    store = build(
        machine_states=[{"machine_id": "M-WELD", "state": "down", "since": t("09:00"), "expected_minutes": 300}]
    )
    result = machine_impact(store.cursor(), "M-WELD")
    assert result["stop_start"] == t("09:00") and result["down_minutes"] == 300
    assert by_id(result["production_orders"])["A"]["delay_minutes"] == 300
    # --down-minutes overrides the recorded expectation; --at overrides `since`.
    result = machine_impact(store.cursor(), "M-WELD", at=t("09:30"), down_minutes=60)
    assert by_id(result["production_orders"])["C"]["new_end"] == t("11:00")


def test_errors():
    cur = build().cursor()
    with pytest.raises(NotFound):
        machine_impact(cur, "M-NOPE", at=t("09:00"))
    with pytest.raises(BadRequest):
        machine_impact(cur, "M-WELD", at=t("09:00"), down_minutes=-1)


def test_feeding_cycle_is_reported_not_looped_on():
    store = make_plant(
        machines=[{"machine_id": "M1"}],
        production_orders=[
            order("X", "08:00", "09:00", parent_production_order_id="Y"),
            order("Y", "09:00", "10:00", parent_production_order_id="X"),
        ],
        operations=[op("X", 10, "M1", "08:00", "09:00"), op("Y", 10, "M1", "09:00", "10:00")],
    )
    with pytest.raises(CycleError, match="X") as info:
        machine_impact(store.cursor(), "M1", at=t("08:30"), down_minutes=30)
    assert "Y" in str(info.value)
    with pytest.raises(CycleError):
        reschedule(store.cursor(), at=t("08:30"))


def test_reschedule_with_two_stopped_machines():
    store = build(
        machine_states=[
            {"machine_id": "M-WELD", "state": "down", "since": t("09:00"), "expected_minutes": 60},
            {"machine_id": "M-ASSY", "state": "maintenance", "since": t("12:00"), "expected_minutes": 300},
        ]
    )
    result = reschedule(store.cursor(), at=t("12:00"))
    assert [s["machine_id"] for s in result["stops"]] == ["M-ASSY", "M-WELD"]
    pos = by_id(result["production_orders"])
    # C ends 11:00, B 11-13, A waits for B (13:00) and for M-ASSY's downtime (until 17:00): ends 01:00 next day.
    assert pos["A"]["new_end"] == t("01:00", day=1)
    assert pos["K"]["new_end"] == t("14:00")
    assert "U" not in pos
    assert [(ln["sales_order_id"], ln["late"]) for ln in result["sales_orders"]] == [("SO-1", True)]
    notify = {n["person"]: n for n in result["notify"]}
    assert {"Wanda", "Asa", "Ann", "Paul"} <= set(notify)
    assert "Bob" not in notify  # SO-2 slips but does not turn late


def test_reschedule_with_nothing_stopped_keeps_plan():
    result = reschedule(build().cursor(), at=t("08:00"))
    assert result["stops"] == [] and result["production_orders"] == [] and result["sales_orders"] == []


def build_at_risk(store=None):
    """One stopped machine, lines that move, turn late, were late already, or stay put.

    M1 is down 09:00-11:00 (120 min). On M1: A 08:00-10:00 for SO-1/1 (promised day 0) ends 12:00, on
    time still; B 10:00-23:00 for SO-2/1 (promised day 0) waits for A, ends 01:00 next day: turns late.
    On M2, untouched: C ends day 1 for SO-3/1 promised day 0 (late in the plan itself), D ends 09:00 for
    SO-4/1 (on time), E ends day 1 for SO-5/1 promised day 0 but that line has shipped (closed).
    """
    return make_plant(
        store,
        machines=[{"machine_id": "M1", "supervisor": "Sam"}, {"machine_id": "M2", "supervisor": "Sue"}],
        machine_states=[{"machine_id": "M1", "state": "down", "since": t("09:00"), "expected_minutes": 120}],
        customers=[
            {"customer_id": c, "name": c.title(), "account_manager": m}
            for c, m in (("ACME", "Ann"), ("BOLT", "Bob"), ("CALM", "Cid"), ("DART", "Dee"), ("EDGE", "Eve"))
        ],
        sales_orders=[
            {"sales_order_id": "SO-1", "customer_id": "ACME", "item_id": "ITEM-A", "promised_date": date(2026, 1, 5)},
            {"sales_order_id": "SO-2", "customer_id": "BOLT", "item_id": "ITEM-B", "promised_date": date(2026, 1, 5)},
            {"sales_order_id": "SO-3", "customer_id": "CALM", "item_id": "ITEM-C", "promised_date": date(2026, 1, 5)},
            {"sales_order_id": "SO-4", "customer_id": "DART", "item_id": "ITEM-D", "promised_date": date(2026, 1, 5)},
            {
                "sales_order_id": "SO-5",
                "customer_id": "EDGE",
                "item_id": "ITEM-E",
                "promised_date": date(2026, 1, 5),
                "status": "shipped",
            },
        ],
        production_orders=[
            order("A", "08:00", "10:00", sales_order_id="SO-1", line_no=1),
            order("B", "10:00", "23:00", sales_order_id="SO-2", line_no=1),
            {**order("C", "08:00", "09:00", sales_order_id="SO-3", line_no=1), "planned_end": t("09:00", day=1)},
            order("D", "08:00", "09:00", sales_order_id="SO-4", line_no=1),
            {**order("E", "08:00", "09:00", sales_order_id="SO-5", line_no=1), "planned_end": t("09:00", day=1)},
        ],
        operations=[
            op("A", 10, "M1", "08:00", "10:00"),
            op("B", 10, "M1", "10:00", "23:00"),
            {**op("C", 10, "M2", "09:00", "10:00"), "planned_end": t("09:00", day=1)},
            op("D", 10, "M2", "08:00", "09:00"),
        ],
    )


def test_reschedule_lists_lines_that_move_turn_late_or_are_late_in_plan():
    result = reschedule(build_at_risk().cursor(), at=t("09:30"))
    at_risk = result["lines_at_risk"]
    # Late first (biggest slip first), then moved; SO-4 (on time, unmoved) and SO-5 (shipped) are not at risk.
    assert [(ln["sales_order_id"], ln["status"], ln["slip_minutes"]) for ln in at_risk] == [
        ("SO-2", "LATE", 120.0),
        ("SO-3", "LATE", 0.0),
        ("SO-1", "moved", 120.0),
    ]
    lines = {ln["sales_order_id"]: ln for ln in at_risk}
    assert lines["SO-1"]["planned_eta"] == t("10:00") and lines["SO-1"]["eta"] == t("12:00")
    assert lines["SO-1"]["promised_date"] == date(2026, 1, 5)
    assert not lines["SO-1"]["late"] and not lines["SO-1"]["turns_late"]
    assert lines["SO-2"]["eta"] == t("01:00", day=1) and lines["SO-2"]["late"] and lines["SO-2"]["turns_late"]
    # Already late in the plan, no stop needed: LATE, but not turned late by the repair.
    assert lines["SO-3"]["eta"] == lines["SO-3"]["planned_eta"] == t("09:00", day=1)
    assert lines["SO-3"]["late"] and lines["SO-3"]["late_in_plan"] and not lines["SO-3"]["turns_late"]
    # `sales_orders` keeps its meaning: only the lines the repair turns late (late_order exceptions use it).
    assert [(ln["sales_order_id"], ln["line_no"]) for ln in result["sales_orders"]] == [("SO-2", 1)]
    assert result["lines_slipping"] == 2
    people = {n["person"] for n in result["notify"]}
    assert "Bob" in people and not {"Ann", "Cid", "Dee", "Eve"} & people


def test_reschedule_with_nothing_stopped_still_lists_lines_late_in_plan():
    store = build_at_risk()
    store.con.execute("UPDATE machine_states SET state = 'running'")
    result = reschedule(store.cursor(), at=t("09:30"))
    assert result["sales_orders"] == [] and result["production_orders"] == []
    assert [(ln["sales_order_id"], ln["status"]) for ln in result["lines_at_risk"]] == [("SO-3", "LATE")]


# --- CLI ----------------------------------------------------------------------------------------------


@pytest.fixture
def db_file(tmp_path):
    path = tmp_path / "plant.duckdb"
    store = Store.open(path)
    build(store)
    store.close()
    return path


def test_cli_impact_json(db_file):
    runner = CliRunner()
    out = runner.invoke(
        app,
        [
            "impact",
            "machine",
            "M-WELD",
            "--at",
            "2026-01-05T09:00:00",
            "--down-minutes",
            "300",
            "--json",
            "--db",
            str(db_file),
        ],
    )
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert data["machine_id"] == "M-WELD" and data["down_minutes"] == 300
    assert data["sales_orders"][0]["late"] is True
    assert set(data["production_orders"][0]) >= {
        "production_order_id",
        "item_id",
        "planned_end",
        "new_end",
        "delay_minutes",
    }
    assert set(data["sales_orders"][0]) >= {"sales_order_id", "line_no", "customer_id", "promised_date", "eta", "late"}
    assert set(data["shipments"][0]) >= {"shipment_id", "planned_ship_date", "status"}
    assert set(data["customers"][0]) >= {"customer_id", "name", "account_manager"}
    assert set(data["notify"][0]) >= {"person", "role", "why"}


def test_cli_tables_say_late_in_words(db_file):
    out = CliRunner().invoke(
        app, ["impact", "machine", "M-WELD", "--at", "2026-01-05T09:00", "--down-minutes", "300", "--db", str(db_file)]
    )
    assert out.exit_code == 0, out.output
    assert "LATE" in out.stdout and "Who to tell" in out.stdout


def test_cli_errors(db_file):
    runner = CliRunner()
    out = runner.invoke(app, ["impact", "machine", "M-WELD", "--at", "yesterday", "--db", str(db_file)])
    assert out.exit_code == 2 and "malformed" in out.output and "Traceback" not in out.output
    out = runner.invoke(app, ["impact", "machine", "M-NOPE", "--db", str(db_file)])
    assert out.exit_code == 3 and "M-NOPE" in out.output
    out = runner.invoke(app, ["impact", "machine", "M-WELD", "--down-minutes", "-5", "--db", str(db_file)])
    assert out.exit_code == 2


def test_cli_tables_read_at_80_columns(tmp_path):
    path = tmp_path / "at_risk.duckdb"
    store = Store.open(path)
    build_at_risk(store)
    store.close()
    runner = CliRunner()
    for args in (
        ["reschedule", "--at", "2026-01-05T09:30"],
        ["impact", "machine", "M1", "--at", "2026-01-05T09:00", "--down-minutes", "120"],
    ):
        out = runner.invoke(app, [*args, "--db", str(path)], env={"COLUMNS": "80"})
        assert out.exit_code == 0, out.output
        text = out.stdout
        assert max(len(line.rstrip()) for line in text.splitlines()) <= 80
        assert "…" not in text and "2026-01-05T" not in text  # nothing cut, times compact
        assert "01-06 01:00" in text and "+2h" in text  # SO-2's ETA; the 120-minute slip
        assert "LATE" in text and "moved" in text
    out = runner.invoke(app, ["reschedule", "--at", "2026-01-05T09:30", "--db", str(path)], env={"COLUMNS": "80"})
    rows = {line.split()[0]: line for line in out.stdout.splitlines() if line.startswith("SO-")}
    assert rows["SO-3/1"].split()[1:4] == ["LATE", "in", "plan"]  # late in the plan, no stop needed
    assert rows["SO-1/1"].split()[1:3] == ["moved", "+2h"]
    # Each count says what it counts: SO-2 turned late, SO-3 late before the stop, SO-1 and SO-2 slip 2 h.
    assert "1 turned late by the stop(s) · 1 already late in the plan · 2 slip +2h against the plan" in " ".join(
        out.stdout.split()
    )


def test_cli_reschedule_and_order_json(db_file):
    runner = CliRunner()
    out = runner.invoke(app, ["reschedule", "--at", "2026-01-05T09:00", "--json", "--db", str(db_file)])
    assert out.exit_code == 0, out.output
    assert set(json.loads(out.stdout)) >= {"at", "stops", "production_orders", "sales_orders", "notify"}
    out = runner.invoke(app, ["order", "B", "--json", "--db", str(db_file)])
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["feeds"][0]["production_order_id"] == "A"
    out = runner.invoke(app, ["order", "SO-1/1", "--db", str(db_file)])
    assert out.exit_code == 0 and "Acme AB" in out.stdout


# --- the sample plant -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample_store(sample_dir):
    from planner_tui.store.loader import load_snapshot

    store = Store.memory()
    load_snapshot(store, str(sample_dir))
    return store


def test_sample_weld_cell_stop_names_late_customer_lines(sample_store):
    # The sample's story (sample_data/README.md): at 06:12 the weld cell stops for 30 h (22 working hours).
    result = machine_impact(sample_store.cursor(), "M-WELD-01", at=datetime(2026, 11, 23, 6, 12), down_minutes=1800)
    late = [ln for ln in result["sales_orders"] if ln["late"]]
    assert {(ln["sales_order_id"], ln["line_no"]) for ln in late} == {("SO-24117", 1), ("SO-24133", 1)}
    assert all(ln["eta"].date() > ln["promised_date"] and not ln["late_in_plan"] for ln in late)
    baltic = [ln for ln in result["sales_orders"] if ln["customer_id"] == "CUST-BALTWAT"]
    assert baltic and all(ln["slip_minutes"] > 0 and not ln["late"] for ln in baltic)  # slip but hold
    people = {n["person"] for n in result["notify"]}
    supervisor = (
        sample_store.cursor().execute("SELECT supervisor FROM machines WHERE machine_id = 'M-WELD-01'").fetchall()[0][0]
    )
    assert supervisor in people
    assert {ln["account_manager"] for ln in late} <= people
    assert any(p["why"].startswith("fed by") for p in result["production_orders"])


def test_sample_reschedule_runs(sample_store):
    result = reschedule(sample_store.cursor(), at=datetime(2026, 11, 23, 6, 0))
    assert result["stops"] and all("machine_id" in s for s in result["stops"])
    at_risk = {(ln["sales_order_id"], ln["line_no"]): ln["status"] for ln in result["lines_at_risk"]}
    assert {k for k, status in at_risk.items() if status == "LATE"} >= {
        (ln["sales_order_id"], ln["line_no"]) for ln in result["sales_orders"]
    }


@pytest.mark.parametrize("minutes", [float("nan"), float("inf"), 1e10])
def test_a_downtime_that_is_not_a_sane_number_is_a_bad_request(minutes):
    from plantkit import make_plant

    from planner_tui.engine.impact import machine_impact
    from planner_tui.errors import BadRequest

    store = make_plant(machines=[{"machine_id": "M1"}])
    with pytest.raises(BadRequest, match="M1"):
        machine_impact(store.cursor(), "M1", at=datetime(2026, 1, 5, 8), down_minutes=minutes)
