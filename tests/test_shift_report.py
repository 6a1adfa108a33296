"""The shift's story (issue 14): `planner-tui report shift` on the sample scenario says what the script says
happened, section by section: the weld-cell stop and the lines it made late, the held coil lot and where
its goods went, the orders confirmed (with their lag), changed and cancelled, the seal shortage and how far
ahead it was found, who did what, and the feed's health; as Markdown, as one self-contained HTML page and
as JSON. The window is the shift by the plant's calendar unless given."""

from __future__ import annotations

import json
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest
from plantkit import scenario_db
from typer.testing import CliRunner

from planner_tui.access import LocalPlant
from planner_tui.cli import app
from planner_tui.engine.shift import shift_window
from planner_tui.store import Store
from planner_tui.store.events import apply_events

AT = datetime(2026, 11, 23, 9, 0)


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> Path:
    """The scenario's plant, with a morning's triage: ana acknowledges the weld stop and assigns it, ben
    notes the next step, ana resolves the old impeller hold's exception."""
    path = scenario_db(tmp_path_factory.mktemp("shift") / "plant.duckdb")
    plant = LocalPlant(Store.open(path))
    try:
        plant.acknowledge("machine_down:M-WELD-01", who="ana", at=datetime(2026, 11, 23, 6, 20))
        plant.assign("machine_down:M-WELD-01", "Tomasz Nowak", who="ana", at=datetime(2026, 11, 23, 6, 22))
        plant.note(
            "machine_down:M-WELD-01",
            "servo drive ordered; run P-200 welds on station A",
            who="ben",
            at=datetime(2026, 11, 23, 7, 5),
        )
    finally:
        plant.close()
    return path


def _report(db: Path, **window) -> dict:
    plant = LocalPlant(Store.open(db))
    try:
        return plant.shift_report(at=AT, **window)
    finally:
        plant.close()


def test_the_window_is_the_shift_by_the_plant_calendar(db: Path) -> None:
    store = Store.open(db)
    try:
        cur = store.cursor()
        # Copenhagen is UTC+1 in November: the 07:00-15:00 shift of TWO-SHIFT is 06:00-14:00 UTC.
        morning = shift_window(cur, datetime(2026, 11, 23, 9, 0))
        evening = shift_window(cur, datetime(2026, 11, 23, 16, 30))
        night = shift_window(cur, datetime(2026, 11, 23, 23, 30))  # after 23:00 local: the evening just ended
    finally:
        store.close()
    assert (morning["start"], morning["end"]) == (datetime(2026, 11, 23, 6), datetime(2026, 11, 23, 14))
    assert "TWO-SHIFT" in morning["basis"] and "07:00-15:00" in morning["basis"]
    assert (evening["start"], evening["end"]) == (datetime(2026, 11, 23, 14), datetime(2026, 11, 23, 22))
    assert (night["start"], night["end"]) == (evening["start"], evening["end"])


def test_the_report_tells_the_scenarios_morning(db: Path) -> None:
    report = _report(db)
    assert report["window"]["from"] == datetime(2026, 11, 23, 6) and report["window"]["to"] == AT

    attention = {a["exception_id"]: a for a in report["attention"]}
    weld = attention["machine_down:M-WELD-01"]
    assert (weld["status"], weld["assignee"], weld["next_step_by"]) == ("acknowledged", "Tomasz Nowak", "ben")
    assert weld["next_step"].startswith("servo drive ordered")
    assert [a["severity"] for a in report["attention"]][:2] == ["critical", "critical"]

    stops = {s["machine_id"]: s for s in report["stops"]}
    assert stops["M-WELD-01"]["down_at"] == datetime(2026, 11, 23, 6, 12)
    assert not stops["M-WELD-01"]["over"] and stops["M-WELD-01"]["minutes"] == 168
    assert "Torch collision" in stops["M-WELD-01"]["reason"] and stops["M-WELD-01"]["late_lines"] == 3
    # the press was down since Saturday and came back at 08:20: over, within the window
    assert stops["M-PRESS-02"]["over"] and stops["M-PRESS-02"]["up_at"] == datetime(2026, 11, 23, 8, 20)

    late = {line["line"]: line for line in report["late_lines"]}
    # none was late at 06:00, as the plant stood then: all three turned late in the shift, none recovered
    assert sorted(late) == ["SO-24117/1", "SO-24133/1", "SO-24138/1"] and report["recovered_lines"] == []
    assert late["SO-24138/1"]["customer"] == "Baltic Water Utilities AB" and late["SO-24138/1"]["days_late"] == 2

    holds = {h["hold_id"]: h for h in report["holds"]}
    coil = holds["QH-2611-009"]
    assert coil["placed_in_window"] and coil["lot_id"] == "LOT-C8-24117" and coil["lots_reached"] == 7
    assert coil["shipped_shipments"] == ["SH-61020", "SH-61024"]
    assert holds["QH-2611-007"]["released_at"] == datetime(2026, 11, 23, 8, 33)

    seal = {s["item_id"]: s for s in report["shortages"]}["R-SEAL-200"]
    assert seal["found_at"] == datetime(2026, 11, 23, 7, 3) and seal["lead_hours"] == 24.9

    orders = report["orders"]
    assert [c["line"] for c in orders["confirmed"]] == ["SO-24142/1", "SO-24143/1", "SO-24144/1"]
    assert all(c["lag_seconds"] is not None and c["lag_seconds"] >= 0 for c in orders["confirmed"])
    assert orders["lag"]["count"] == 3
    assert [(c["line"], c["before"], c["after"]) for c in orders["changed"]][0] == (
        "SO-24130/1",
        {"qty": 6.0},
        {"qty": 8.0},
    )
    assert [c["line"] for c in orders["cancelled"]] == ["SO-24139/2"]

    done = {person["who"]: [a["action"] for a in person["actions"]] for person in report["actions"]}
    assert done == {"ana": ["acknowledge", "assign"], "ben": ["note"]}

    feed = report["feed"]
    assert (feed["events"], feed["applied"], feed["rejected"]) == (34, 34, 0)
    assert feed["lag_seconds"]["p50"] is not None


def test_a_window_ended_before_now_is_told_as_it_stood_then(db: Path) -> None:
    """06:00-06:30: the weld cell is down, the coil hold not yet placed, nobody had noted anything."""
    report = _report(db, start=datetime(2026, 11, 23, 6), end=datetime(2026, 11, 23, 6, 30))
    assert report["window"]["basis"] == "given"
    attention = {a["exception_id"]: a for a in report["attention"]}
    assert "quality_hold:QH-2611-009" not in attention
    assert attention["machine_down:M-WELD-01"]["next_step"] is None
    assert attention["machine_down:M-WELD-01"]["status"] == "acknowledged"  # ana, at 06:20
    assert [h["hold_id"] for h in report["holds"]] == ["QH-2611-007"]
    assert report["orders"]["confirmed"] == []


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.outside: list[str] = []  # anything the page would fetch

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.tags.append(tag)
        for name, value in attrs:
            if name in ("src", "href") and value and not value.startswith("#"):
                self.outside.append(value)


def test_markdown_html_and_json_from_the_command(db: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    at = ["--at", "2026-11-23T09:00", "--db", str(db)]
    markdown = runner.invoke(app, ["report", "shift", *at])
    assert markdown.exit_code == 0, markdown.output
    text = markdown.stdout
    headings = [line for line in text.splitlines() if line.startswith("## ")]
    assert [h.split(" (")[0] for h in headings] == [
        "## Needs attention now",
        "## Machine stops",
        "## Quality holds",
        "## Customer lines made late",
        "## Customer lines recovered",
        "## Shortages",
        "## Customer orders",
        "## What was done",
        "## Who was told",
        "## Feed health",
    ]
    assert "**M-WELD-01** Robot welding cell" in text and "SH-61020, SH-61024" in text
    assert "servo drive ordered; run P-200 welds on station A (ben, 11-23 07:05)" in text

    page = tmp_path / "shift.html"
    written = runner.invoke(app, ["report", "shift", *at, "--format", "html", "--out", str(page)])
    assert written.exit_code == 0, written.output
    assert "wrote" in written.stdout
    parser = _Page()
    parser.feed(page.read_text())
    assert parser.tags.count("svg") == 1 and parser.tags.count("rect") == 4  # 2 stops, 2 holds on the timeline
    assert parser.tags.count("h2") == 11 and parser.outside == []

    as_json = runner.invoke(app, ["report", "shift", *at, "--json"])
    assert as_json.exit_code == 0, as_json.output
    assert json.loads(as_json.stdout)["plant"] == "Nordhavn Pumps & Fabrication, Aarhus works"

    refused = runner.invoke(app, ["report", "shift", *at, "--format", "pdf"])
    assert refused.exit_code == 2 and "--format 'pdf'" in refused.output


def test_a_line_late_when_the_window_began_and_on_time_at_its_end_recovered(db: Path, tmp_path: Path) -> None:
    """At 09:30 the customer moves SO-24117/1's promise out to 11-28: in 09:00-10:00 it recovered, and the
    other two stayed late (not turned late: they were late when the window began)."""
    copy = tmp_path / "plant.duckdb"
    copy.write_bytes(db.read_bytes())
    store = Store.open(copy)
    try:
        apply_events(
            store,
            [
                {
                    "specversion": "1.0",
                    "id": "erp-test-recover",
                    "source": "urn:test",
                    "type": "order.changed",
                    "time": "2026-11-23T09:30:00Z",
                    "data": {"sales_order_id": "SO-24117", "line_no": 1, "promised_date": "2026-11-28"},
                }
            ],
            feed="test",
        )
        report = LocalPlant(store).shift_report(
            at=datetime(2026, 11, 23, 10), start=datetime(2026, 11, 23, 9), end=datetime(2026, 11, 23, 10)
        )
    finally:
        store.close()
    assert [line["line"] for line in report["recovered_lines"]] == ["SO-24117/1"]
    assert report["recovered_lines"][0]["customer"] == "Kessler Process Engineering GmbH"
    assert report["late_lines"] == []
