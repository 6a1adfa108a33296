"""A snapshot read days after its extract (issue 15): the clock outranks the plan. Every open line past its
promised day is late whatever the plan says, and an ETA that has passed with the work not reported done
is shown as overdue, not as a date in the past. Over the sample plant, asked 13 days after its extract."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from plantkit import SAMPLE
from typer.testing import CliRunner

from planner_tui.access import LocalPlant
from planner_tui.cli import app
from planner_tui.engine.etas import PlantDay
from planner_tui.store import Store
from planner_tui.store.loader import load_snapshot

EXTRACT = datetime(2026, 11, 23, 6, 0)
WEEKS_ON = datetime(2026, 12, 6, 10, 0)  # the snapshot is 13 days old


@pytest.fixture(scope="module")
def plant() -> LocalPlant:
    store = Store.memory()
    load_snapshot(store, str(SAMPLE / "plant"))
    return LocalPlant(store)


def past_promise(plant: LocalPlant, at: datetime) -> set[str]:
    """Open lines whose promised day is before the plant's day at `at`, read from the table itself."""
    cur = plant.store.cursor()
    today = PlantDay.of(cur).day(at)
    found = cur.execute(
        "SELECT sales_order_id || '/' || line_no FROM sales_orders WHERE status = 'open' AND promised_date < ?", [today]
    ).fetchall()
    return {f"late_order:{line}" for (line,) in found}


def test_every_line_past_its_promise_is_late_whatever_the_plan_says(plant: LocalPlant) -> None:
    expected = past_promise(plant, WEEKS_ON)
    assert len(expected) >= 15  # the sample's lines promised in its first two weeks
    rows = {r["exception_id"]: r for r in plant.exceptions(at=WEEKS_ON, kinds=["late_order"])["exceptions"]}
    overdue = {i for i, r in rows.items() if r["detail"]["cause"] == "overdue"}
    assert overdue == expected
    for exception_id in overdue:
        row = rows[exception_id]
        assert " past its promise +" in row["title"] and row["severity"] == "high"
        assert row["detail"]["days_late"] >= 1
    # The ETAs that passed say so instead of showing a date in the past.
    passed = [r for r in rows.values() if r["detail"]["eta_overdue"]]
    assert passed and all("ETA overdue" in r["title"] for r in passed)
    # At the extract itself the same plan has none of them late by the clock.
    # At the extract nothing is past its promise; two days on, the first lines are.
    assert past_promise(plant, EXTRACT) == set() and plant.reschedule(at=EXTRACT)["lines_at_risk"] == []
    two_days_on = datetime(2026, 11, 25, 12, 0)
    lines = plant.reschedule(at=two_days_on)["lines_at_risk"]
    assert {f"late_order:{x['sales_order_id']}/{x['line_no']}" for x in lines if x["overdue"]} == past_promise(
        plant, two_days_on
    )
    assert len(lines) == 4


def test_the_orders_at_risk_list_them_with_overdue_etas(plant: LocalPlant) -> None:
    lines = plant.reschedule(at=WEEKS_ON)["lines_at_risk"]
    listed = {f"late_order:{line['sales_order_id']}/{line['line_no']}" for line in lines if line["overdue"]}
    assert listed == past_promise(plant, WEEKS_ON)
    assert all(line["late"] and not line["turns_late"] for line in lines if line["overdue"])
    passed = [line for line in lines if line["eta_overdue"]]
    assert passed and all(line["eta"] < WEEKS_ON for line in passed)


def test_the_cli_says_overdue_not_a_past_date() -> None:
    runner = CliRunner()
    snapshot = str(SAMPLE / "plant")
    shown = runner.invoke(
        app, ["reschedule", "--snapshot", snapshot, "--at", WEEKS_ON.isoformat()], env={"COLUMNS": "100"}
    )
    assert shown.exit_code == 0, shown.output
    assert "OVERDUE +" in shown.stdout and " overdue " in shown.stdout
    as_json = runner.invoke(app, ["reschedule", "--snapshot", snapshot, "--at", WEEKS_ON.isoformat(), "--json"])
    lines = json.loads(as_json.stdout)["lines_at_risk"]
    assert sum(1 for line in lines if line["overdue"]) >= 15
