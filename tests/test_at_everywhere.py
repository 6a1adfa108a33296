"""`--at TS` on the questions of how things stood (issue 15): `order`, `shipment`, `trace lot|hold`, `holds`,
`find`, `owners`, `events list|lag` answer as things stood at TS (the later events taken back, triage
replayed to TS, the event log cut at TS), the same in-process (`--db`) and through a real plant server
(`--server`, its JSON the same bytes); TS at the newest event is the present; a TS before the snapshot's
extract is refused, naming the earliest time, with `--at` in the words, exit 2 and no traceback."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import serverkit
from plantkit import scenario_db
from typer.testing import CliRunner

from planner_tui.cli import app
from planner_tui.store import Store
from planner_tui.store.triage import assign

DAY = "2026-11-23T"
NEWEST = DAY + "09:00"  # after the scenario's last event (08:53) and the triage below
ASSIGNED_AT = datetime(2026, 11, 23, 7, 0)
NEWCOMER = "Zofia Newcomer"  # an owner only once assigned, at 07:00


def _ids(records: list[dict], key: str) -> list[str]:
    return [r[key] for r in records]


# command, (early TS, late TS), what tells them apart, (its value early, late): each an event (or the
# triage) of the scenario between the two moments.
CASES: list[tuple[list[str], tuple[str, str], Callable[[Any], Any], tuple[Any, Any]]] = [
    (  # order.changed SO-24130/1 qty 8 at 07:44
        ["order", "SO-24130/1"],
        ("07:30", "08:00"),
        lambda a: a["sales_order_lines"][0]["qty"],
        (6, 8),
    ),
    (  # shipment.shipped SH-61030 at 06:08
        ["shipment", "SH-61030"],
        ("06:05", "06:10"),
        lambda a: a["shipment"]["status"],
        ("picked", "shipped"),
    ),
    (  # hold.placed QH-2611-009 on LOT-C8-24117 at 06:31
        ["trace", "lot", "LOT-C8-24117"],
        ("06:20", "06:40"),
        lambda a: _ids(a["holds"], "hold_id"),
        ([], ["QH-2611-009"]),
    ),
    (  # hold.released QH-2611-007 at 08:33
        ["trace", "hold", "QH-2611-007"],
        ("08:00", "08:40"),
        lambda a: a["hold"]["status"],
        ("active", "released"),
    ),
    (
        ["holds"],
        ("06:20", "06:40"),
        lambda a: _ids(a, "hold_id"),
        (["QH-2611-007"], ["QH-2611-009", "QH-2611-007"]),
    ),
    (  # machine.down M-WELD-01 at 06:12
        ["status"],
        ("06:10", "06:15"),
        lambda a: a["machines_stopped"],
        (1, 2),
    ),
    (  # order.confirmed SO-24142/1 (for CUST-IBERMIN) at 06:46
        ["find", "CUST-IBERMIN"],
        ("06:40", "06:50"),
        lambda a: "SO-24142/1" in _ids(a, "id"),
        (False, True),
    ),
    (  # machine.down M-WELD-01 at 06:12: a starting point
        ["find"],
        ("06:10", "06:15"),
        lambda a: "M-WELD-01" in _ids(a, "id"),
        (False, True),
    ),
    (  # the triage below, at 07:00
        ["owners"],
        ("06:30", "07:30"),
        lambda a: NEWCOMER in _ids(a, "person"),
        (False, True),
    ),
    (  # 4 events by 06:10, 7 by 06:20
        ["events", "list"],
        ("06:10", "06:20"),
        len,
        (4, 7),
    ),
    (
        ["events", "lag"],
        ("06:10", "06:20"),
        lambda a: a["count"],
        (4, 7),
    ),
]
NAMES = [" ".join(case[0]) or "find" for case in CASES]


@pytest.fixture(scope="module")
def plant_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample plant with its scenario applied, and one assignment at 07:00 (a fixed clock)."""
    path = scenario_db(tmp_path_factory.mktemp("at-everywhere") / "plant.duckdb")
    store = Store.open(path)
    try:
        assign(store, "machine_down:M-WELD-01", NEWCOMER, who="ana", at=ASSIGNED_AT)
    finally:
        store.close()
    return path


@pytest.fixture(scope="module")
def server(plant_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[serverkit.RunningServer]:
    """A real plant server over a copy of that plant (its clock the real one: the scenario is never "now")."""
    yield from serverkit.served(serverkit.copy_db(plant_db, tmp_path_factory.mktemp("at-everywhere-served")))


def run(*args: str) -> Any:
    """`planner-tui ARGS --json` in-process; its answer read back."""
    result = CliRunner().invoke(app, [*args, "--json"])
    assert result.exit_code == 0 and "Traceback" not in result.output, result.output
    return json.loads(result.stdout)


def answered(answer: Any) -> Any:
    """The answer, asserted to hold something (a comparison of two empty answers proves nothing)."""
    assert answer not in (None, [], {}, ""), answer
    return answer


@pytest.mark.parametrize(("command", "moments", "fact", "expected"), CASES, ids=NAMES)
def test_at_gives_the_answer_as_things_stood_in_process_and_through_the_server(
    plant_db: Path,
    server: serverkit.RunningServer,
    command: list[str],
    moments: tuple[str, str],
    fact: Callable[[Any], Any],
    expected: tuple[Any, Any],
) -> None:
    seen = []
    for moment in moments:
        at = ["--at", DAY + moment]
        here = answered(run(*command, *at, "--db", str(plant_db)))
        there = answered(run(*command, *at, "--server", server.unix))
        assert there == here, f"{command} --at {moment}: the server's answer differs from the in-process one"
        seen.append(fact(here))
    assert tuple(seen) == expected, f"{command} at {moments}"


@pytest.mark.parametrize("command", [case[0] for case in CASES], ids=NAMES)
def test_at_the_newest_event_is_the_present(
    plant_db: Path, server: serverkit.RunningServer, command: list[str]
) -> None:
    present = answered(run(*command, "--db", str(plant_db)))
    assert run(*command, "--at", NEWEST, "--db", str(plant_db)) == present
    assert run(*command, "--server", server.unix) == present  # without --at, the server's "now": the present


def test_the_server_json_is_the_same_bytes(plant_db: Path, server: serverkit.RunningServer) -> None:
    """The CLI through the server (a subprocess, as a planner runs it) prints what the in-process one prints."""
    args = ["trace", "hold", "QH-2611-007", "--at", DAY + "08:00", "--json"]
    there = server.cli(*args, "--server", server.unix)
    assert there.returncode == 0, there.stderr
    here = CliRunner().invoke(app, [*args, "--db", str(plant_db)])
    assert here.exit_code == 0, here.output
    assert json.loads(answered(there.stdout)) == json.loads(here.stdout)
    assert there.stdout == here.stdout


@pytest.mark.parametrize("command", ["holds", "status"])
def test_holds_and_status_take_at_or_as_of_alike_and_refuse_both(plant_db: Path, command: str) -> None:
    db = ["--db", str(plant_db)]
    at = answered(run(command, "--at", DAY + "06:20", *db))
    as_of = run(command, "--as-of", DAY + "06:20", *db)
    if command == "status":  # --as-of says which moment it shows, as on every question it takes
        assert as_of.pop("shown_as_of") == DAY + "06:20:00"
    assert as_of == at
    refused = CliRunner().invoke(app, [command, "--at", DAY + "06:20", "--as-of", DAY + "06:20", *db])
    assert refused.exit_code == 2 and "not both" in refused.output, refused.output


@pytest.mark.parametrize("command", [case[0] for case in CASES], ids=NAMES)
def test_a_moment_before_the_snapshot_is_refused_naming_the_earliest(
    plant_db: Path, server: serverkit.RunningServer, command: list[str]
) -> None:
    for where in (["--db", str(plant_db)], ["--server", server.unix]):
        refused = CliRunner().invoke(app, [*command, "--at", "2026-11-22T12:00", *where])
        assert refused.exit_code == 2, (where, refused.output)
        assert "Traceback" not in refused.output
        assert "--at 2026-11-22T12:00:00: the plant can be shown from 2026-11-23T06:00:00 on" in refused.output, (
            refused.output
        )
        assert "--as-of" not in refused.output


def test_the_refusal_in_a_real_process(server: serverkit.RunningServer, plant_db: Path) -> None:
    for where in (["--db", str(plant_db)], ["--server", server.unix]):
        refused = server.cli("order", "SO-24130/1", "--at", "2026-11-22T12:00", *where)
        assert refused.returncode == 2, refused.stderr
        assert "Traceback" not in refused.stderr and refused.stdout == ""
        assert "the plant can be shown from 2026-11-23T06:00:00 on" in refused.stderr
