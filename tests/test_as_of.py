"""The plant as it was (issue 14, store/past.py): at every moment of the scenario, the answers read from the
present with the later events taken back are the answers of a store that was loaded and fed only up to
that moment (a property over the scenario's prefixes); a moment before the snapshot is refused clearly."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from planner_tui.engine import shortages
from planner_tui.engine.exceptions import list_exceptions
from planner_tui.engine.orders import active_holds, list_machines
from planner_tui.errors import BadRequest
from planner_tui.store import Store
from planner_tui.store.events import apply_events
from planner_tui.store.loader import load_snapshot
from planner_tui.store.past import past_cursor
from planner_tui.store.triage import acknowledge, add_note, assign, resolve
from planner_tui.timeutil import parse_timestamp
from planner_tui.wire import to_json

ROOT = Path(__file__).resolve().parent.parent


def _scenario() -> list[dict]:
    return [json.loads(line) for line in (ROOT / "sample_data" / "scenario.jsonl").read_text().splitlines() if line]


def _answers(cur, ts: datetime) -> dict:
    """What the questions --as-of covers say at `ts`, as comparable JSON."""
    inbox = list_exceptions(cur, at=ts)
    return json.loads(
        to_json(
            {
                "exceptions": [(e["exception_id"], e["title"], e["severity"], e["status"], e["detail"]) for e in inbox],
                "machines": list_machines(cur),
                "holds": active_holds(cur),
                "shortages": shortages.shortages(cur, at=ts),
            }
        )
    )


@pytest.fixture(scope="module")
def fed(sample_dir: Path, tmp_path_factory) -> Store:
    """The sample plant with the whole scenario applied, and triage taken along the way."""
    store = Store.open(tmp_path_factory.mktemp("past") / "plant.duckdb")
    load_snapshot(store, str(sample_dir))
    apply_events(store, _scenario(), feed="scenario")
    return store


def test_every_moment_of_the_scenario_reads_as_a_store_fed_only_up_to_it(fed: Store, sample_dir: Path) -> None:
    events = _scenario()
    growing = Store.memory()
    load_snapshot(growing, str(sample_dir))
    compared = 0
    try:
        for i, event in enumerate(events):
            apply_events(growing, [event], feed="scenario")
            ts = parse_timestamp(event["time"])
            if i + 1 < len(events) and parse_timestamp(events[i + 1]["time"]) == ts:
                continue  # events at the same moment: compare once all of them are in
            cur = growing.cursor()
            try:
                expected = _answers(cur, ts)
            finally:
                cur.close()
            with past_cursor(fed, ts) as past:
                got = _answers(past, ts)
            assert got == expected, f"as of {event['time']} (after event {event['id']})"
            compared += 1
    finally:
        growing.close()
    assert compared >= 20, compared
    # and the store itself is the present, untouched: the last moment's answers equal the present's
    cur = fed.cursor()
    try:
        assert _answers(cur, ts) == got
    finally:
        cur.close()


def test_triage_is_shown_as_it_stood(fed: Store) -> None:
    exception_id = "machine_down:M-WELD-01"
    acknowledge(fed, exception_id, who="ana", at=datetime(2026, 11, 23, 6, 20))
    assign(fed, exception_id, "Tomasz Nowak", who="ana", at=datetime(2026, 11, 23, 6, 25))
    add_note(fed, exception_id, "fitter on the way", who="ben", at=datetime(2026, 11, 23, 6, 40))
    resolve(fed, exception_id, who="ben", at=datetime(2026, 11, 23, 9, 0))

    def state(ts: datetime) -> tuple:
        with past_cursor(fed, ts) as cur:
            row = {e["exception_id"]: e for e in list_exceptions(cur, at=ts, include_resolved=True)}[exception_id]
        return row["status"], row["assignee"]

    seen = [state(datetime(2026, 11, 23, 6, m)) for m in (15, 22, 30)] + [state(datetime(2026, 11, 23, 9, 30))]
    assert seen == [
        ("open", None),
        ("acknowledged", None),
        ("acknowledged", "Tomasz Nowak"),
        ("resolved", "Tomasz Nowak"),
    ]


def test_a_moment_before_the_snapshot_is_refused_naming_the_earliest(fed: Store) -> None:
    with pytest.raises(BadRequest) as refused:
        with past_cursor(fed, datetime(2026, 11, 1)):
            pass
    message = str(refused.value)
    assert "2026-11-01T00:00:00" in message and "from 2026-11-23T06:00:00" in message
