"""Calendars, resources and the plant's time zone in the snapshot (issue 11): a calendared plant loads,
and every bad calendar is refused with its file, row, column and value, all together, nothing loaded."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from test_load import PLANT, load_error, rows, the_problem, write_plant

from planner_tui.engine.calendar import plant_time
from planner_tui.store import Store
from planner_tui.store.loader import load_snapshot

MACHINES = """machine_id,name,work_center,line,plant,supervisor,calendar_id
M1,Laser,WC-CUT,L1,AAR,Marta,DAY
M2,Press,WC-FORM,L1,AAR,,
"""
CALENDARS = """calendar_id,weekday,start_time,end_time
DAY,1,06:00,14:00
DAY,1,14:00,22:00
DAY,2,06:00,24:00
NIGHT,1,22:00,24:00
NIGHT,2,00:00,06:00
"""
EXCEPTIONS = """calendar_id,start,end,working,reason
DAY,2026-12-24T00:00:00,2026-12-27T00:00:00,false,Christmas
DAY,2026-11-28T06:00:00+01:00,2026-11-28T14:00:00+01:00,true,Extra Saturday shift
"""
RESOURCES = """resource_id,name,kind,calendar_id,supervisor
ANNA,Anna Berg,person,NIGHT,Marta
JIG,Weld jig,tool,,
CREW1,Fitters,crew,,Ole
"""
OPERATION_RESOURCES = """production_order_id,op_seq,resource_id
P1,10,ANNA
P1,10,JIG
P1,20,CREW1
"""
META = {"as_of": "2026-11-25T06:00:00Z", "timezone": "Europe/Copenhagen", "calendar": "DAY"}
CALENDARED = {
    "machines": MACHINES,
    "calendars": CALENDARS,
    "calendar_exceptions": EXCEPTIONS,
    "resources": RESOURCES,
    "operation_resources": OPERATION_RESOURCES,
}


def plant(tmp_path, meta: dict | None = None, **changes: str | None):
    return write_plant(tmp_path, meta=META if meta is None else meta, **{**CALENDARED, **changes})


def problem_of(tmp_path, file: str, column: str, meta: dict | None = None, **changes: str | None):
    """The single problem of `file` and `column` when the calendared plant is changed so."""
    error = load_error(plant(tmp_path, meta, **changes))
    return the_problem(error, file, column)


# --- good snapshots ---------------------------------------------------------------------------------------


def test_a_calendared_plant_loads_with_its_time_zone_and_default_calendar(tmp_path):
    store = Store.memory()
    report = load_snapshot(store, plant(tmp_path))
    assert report["tables"]["calendars"] == 5 and report["tables"]["calendar_exceptions"] == 2
    assert report["tables"]["resources"] == 3 and report["tables"]["operation_resources"] == 3
    assert rows(store, "SELECT machine_id, calendar_id FROM machines ORDER BY 1") == [("M1", "DAY"), ("M2", None)]
    assert rows(store, 'SELECT "start", "end", working FROM calendar_exceptions ORDER BY 1') == [
        (datetime(2026, 11, 28, 5, 0), datetime(2026, 11, 28, 13, 0), "true"),  # UTC, as every timestamp
        (datetime(2026, 12, 24, 0, 0), datetime(2026, 12, 27, 0, 0), "false"),
    ]
    meta = dict(rows(store, "SELECT key, value FROM store_meta"))
    assert (meta["timezone"], meta["calendar"]) == ("Europe/Copenhagen", "DAY")
    pt = plant_time(store.cursor())
    assert pt.timezone == "Europe/Copenhagen" and not pt.always
    # M2 names no calendar: the plant's DAY. Monday 06:00-22:00 in Copenhagen is 05:00-21:00 UTC.
    assert pt.machine("M2").periods(datetime(2026, 11, 23), datetime(2026, 11, 24)) == [
        (datetime(2026, 11, 23, 5, 0), datetime(2026, 11, 23, 21, 0))
    ]
    # A reload without them forgets the time zone and the default calendar.
    load_snapshot(store, write_plant(tmp_path / "again"))
    meta = dict(rows(store, "SELECT key, value FROM store_meta"))
    assert "timezone" not in meta and "calendar" not in meta
    assert plant_time(store.cursor()).always
    assert rows(store, "SELECT count(*) FROM calendars") == [(0,)]
    assert rows(store, "SELECT count(*) FROM machines WHERE calendar_id IS NOT NULL") == [(0,)]


def test_json_booleans_and_parquet_booleans_say_working(tmp_path):
    folder = plant(tmp_path / "json", calendar_exceptions=None)
    (folder / "calendar_exceptions.json").write_text(
        json.dumps(
            [
                {
                    "calendar_id": "DAY",
                    "start": "2026-12-24T00:00:00",
                    "end": "2026-12-25T00:00:00",
                    "working": False,
                    "reason": None,
                },
                {"calendar_id": "DAY", "start": "2026-11-28T06:00:00", "end": "2026-11-28T14:00:00", "working": True},
            ]
        )
    )
    store = Store.memory()
    load_snapshot(store, folder)
    assert rows(store, "SELECT working FROM calendar_exceptions ORDER BY 1") == [("false",), ("true",)]

    import duckdb

    folder = plant(tmp_path / "parquet", calendar_exceptions=None)
    duckdb.connect().execute(f"""COPY (SELECT 'DAY' AS calendar_id, TIMESTAMP '2026-12-24 00:00' AS "start",
        TIMESTAMP '2026-12-25 00:00' AS "end", false AS working, NULL::VARCHAR AS reason)
        TO '{folder / "calendar_exceptions.parquet"}' (FORMAT parquet)""")
    store = Store.memory()
    load_snapshot(store, folder)
    assert rows(store, "SELECT working FROM calendar_exceptions") == [("false",)]


def test_an_operation_may_end_when_it_starts(tmp_path):
    ops = PLANT["operations"].replace(
        "P2,10,M1,2026-11-24T06:00:00,2026-11-24T08:00:00", "P2,10,M1,2026-11-24T06:00:00,2026-11-24T06:00:00"
    )
    load_snapshot(Store.memory(), plant(tmp_path, operations=ops))


def test_a_database_loaded_before_calendars_gains_the_machines_column_when_opened(tmp_path):
    db = tmp_path / "plant.duckdb"
    with Store.open(db) as store:
        load_snapshot(store, write_plant(tmp_path / "snap"))
        store.con.execute("ALTER TABLE machines DROP COLUMN calendar_id")  # as an older version left it
    with Store.open(db) as store:
        assert rows(store, "SELECT machine_id, calendar_id FROM machines ORDER BY 1") == [("M1", None), ("M2", None)]
        assert plant_time(store.cursor()).always


# --- each rule, named with file, row, column and value ------------------------------------------------------


def test_a_weekday_outside_1_to_7(tmp_path):
    text = CALENDARS + "DAY,8,06:00,14:00\nDAY,0,06:00,14:00\n"
    error = load_error(plant(tmp_path, calendars=text))
    found = [(p.file, p.row, p.column, p.value) for p in error.problems]
    assert found == [("calendars.csv", 6, "weekday", "8"), ("calendars.csv", 7, "weekday", "0")]
    assert error.problems[0].message == "must be from 1 to 7 (1 = Monday ... 7 = Sunday)"
    assert "calendars.csv, row 6, column weekday: must be from 1 to 7 (1 = Monday ... 7 = Sunday) (value '8')" in str(
        error
    )


@pytest.mark.parametrize(
    "column, bad",
    [
        ("start_time", "6:00"),  # not HH:MM
        ("start_time", "06:60"),  # minutes past 59
        ("end_time", "25:00"),  # hour past 24
        ("end_time", "24:30"),  # only 24:00 past the day's last minute
        ("end_time", "noon"),
        ("start_time", "06:00:00"),
        ("end_time", "0600"),
    ],
)
def test_a_malformed_time_of_day(tmp_path, column, bad):
    row = {"start_time": "DAY,3,{},22:00\n", "end_time": "DAY,3,06:00,{}\n"}[column].format(bad)
    p = problem_of(tmp_path, "calendars.csv", column, calendars=CALENDARS + row)
    assert (p.row, p.value) == (6, bad)
    assert p.message == "not a time of day (expected HH:MM, from 00:00 to 24:00)"


@pytest.mark.parametrize("start, end", [("22:00", "06:00"), ("08:00", "08:00"), ("24:00", "24:00")])
def test_an_end_time_not_after_its_start_time(tmp_path, start, end):
    p = problem_of(tmp_path, "calendars.csv", "end_time", calendars=CALENDARS + f"DAY,5,{start},{end}\n")
    assert (p.row, p.value) == (6, end)
    assert p.message.startswith(f"must be after this row's start_time ({start}); a shift past midnight is two rows")


def test_a_calendar_row_given_twice(tmp_path):
    p = problem_of(
        tmp_path, "calendars.csv", "calendar_id, weekday, start_time", calendars=CALENDARS + "DAY,1,06:00,12:00\n"
    )
    assert (p.row, p.value) == (6, "DAY, 1, 06:00") and "duplicate key" in p.message and "row 1" in p.message


def test_an_unknown_calendar_id_on_a_machine(tmp_path):
    p = problem_of(tmp_path, "machines.csv", "calendar_id", machines=MACHINES.replace(",,\n", ",,NIGHTS\n"))
    assert (p.row, p.value, p.message) == (2, "NIGHTS", "no calendars row has this calendar_id")


def test_an_unknown_calendar_id_on_a_resource(tmp_path):
    p = problem_of(
        tmp_path, "resources.csv", "calendar_id", resources=RESOURCES.replace("person,NIGHT,", "person,NITE,")
    )
    assert (p.row, p.value, p.message) == (1, "NITE", "no calendars row has this calendar_id")


def test_an_unknown_calendar_id_on_an_exception(tmp_path):
    p = problem_of(
        tmp_path,
        "calendar_exceptions.csv",
        "calendar_id",
        calendar_exceptions=EXCEPTIONS.replace("\nDAY,2026-11", "\nWEEKEND,2026-11"),
    )
    assert (p.row, p.value, p.message) == (2, "WEEKEND", "no calendars row has this calendar_id")


def test_an_unknown_default_calendar_in_snapshot_json(tmp_path):
    p = problem_of(tmp_path, "snapshot.json", "calendar", meta={**META, "calendar": "TWO-SHIFT"})
    assert (p.row, p.value, p.message) == (None, "TWO-SHIFT", "no calendars row has this calendar_id")
    assert "snapshot.json, column calendar: no calendars row has this calendar_id (value 'TWO-SHIFT')" in str(
        load_error(plant(tmp_path / "again", meta={**META, "calendar": "TWO-SHIFT"}))
    )


def test_a_calendar_made_only_of_exceptions_is_unknown(tmp_path):
    """A calendar id must have at least one calendars row: exceptions alone do not define one."""
    text = EXCEPTIONS + "HOLIDAYS,2026-12-31T00:00:00,2027-01-02T00:00:00,false,New year\n"
    error = load_error(plant(tmp_path, calendar_exceptions=text, meta={**META, "calendar": "HOLIDAYS"}))
    assert the_problem(error, "calendar_exceptions.csv", "calendar_id").value == "HOLIDAYS"
    assert the_problem(error, "snapshot.json", "calendar").value == "HOLIDAYS"


def test_calendars_named_without_a_calendars_table(tmp_path):
    error = load_error(plant(tmp_path, calendars=None))
    assert {(p.file, p.column, p.value) for p in error.problems} == {
        ("machines.csv", "calendar_id", "DAY"),
        ("resources.csv", "calendar_id", "NIGHT"),
        ("calendar_exceptions.csv", "calendar_id", "DAY"),
        ("snapshot.json", "calendar", "DAY"),
    }


@pytest.mark.parametrize("zone", ["Europe/Aarhus", "europe/berlin", "CET+1", "../../etc/passwd", ""])
def test_an_unknown_time_zone(tmp_path, zone):
    if not zone:  # empty: as if left out, UTC
        load_snapshot(Store.memory(), plant(tmp_path, meta={**META, "timezone": zone}))
        return
    p = problem_of(tmp_path, "snapshot.json", "timezone", meta={**META, "timezone": zone})
    assert p.value == zone
    assert p.message == "not a known time zone (an IANA name such as Europe/Berlin or UTC)"


def test_a_time_zone_that_is_not_text(tmp_path):
    p = problem_of(tmp_path, "snapshot.json", "timezone", meta={**META, "timezone": 1})
    assert (p.value, p.message) == ("1", "not a time zone name (text such as Europe/Berlin)")


def test_an_exception_ending_before_it_starts(tmp_path):
    text = EXCEPTIONS + "NIGHT,2026-12-31T22:00:00,2026-12-31T06:00:00,false,Backwards\n"
    p = problem_of(tmp_path, "calendar_exceptions.csv", "end", calendar_exceptions=text)
    assert (p.row, p.value) == (3, "2026-12-31 06:00:00")
    assert p.message == "must be after this row's start (2026-12-31 22:00:00)"


@pytest.mark.parametrize("value", ["yes", "TRUE", "1"])
def test_an_exception_neither_working_nor_closed(tmp_path, value):
    p = problem_of(
        tmp_path, "calendar_exceptions.csv", "working", calendar_exceptions=EXCEPTIONS.replace(",true,", f",{value},")
    )
    assert (p.row, p.value) == (2, value) and p.message == "not an allowed value (allowed: true, false)"


def test_a_resource_of_an_unknown_kind(tmp_path):
    p = problem_of(tmp_path, "resources.csv", "kind", resources=RESOURCES.replace(",tool,", ",robot,"))
    assert (p.row, p.value) == (2, "robot") and p.message == "not an allowed value (allowed: person, tool, crew)"


def test_an_operation_resource_naming_an_unknown_operation(tmp_path):
    text = OPERATION_RESOURCES + "P1,30,JIG\n"
    p = problem_of(tmp_path, "operation_resources.csv", "production_order_id, op_seq", operation_resources=text)
    assert (p.row, p.value, p.message) == (4, "P1, 30", "no operations row has this production_order_id, op_seq")


def test_an_operation_resource_naming_an_unknown_resource(tmp_path):
    text = OPERATION_RESOURCES + "P2,10,ERIK\n"
    p = problem_of(tmp_path, "operation_resources.csv", "resource_id", operation_resources=text)
    assert (p.row, p.value, p.message) == (4, "ERIK", "no resources row has this resource_id")


def test_an_operation_ending_before_it_starts(tmp_path):
    ops = PLANT["operations"].replace(
        "P1,20,M2,2026-11-25T08:00:00,2026-11-25T10:00:00", "P1,20,M2,2026-11-25T10:00:00,2026-11-25T08:00:00"
    )
    p = problem_of(tmp_path, "operations.csv", "planned_end", operations=ops)
    assert (p.row, p.value) == (2, "2026-11-25 08:00:00")
    assert p.message == "earlier than this row's planned_start (2026-11-25 10:00:00)"


def test_a_production_order_ending_before_it_starts(tmp_path):
    orders = PLANT["production_orders"].replace(
        "2026-11-24T06:00:00,2026-11-24T08:00:00", "2026-11-24T06:00:00,2026-11-23T08:00:00"
    )
    p = problem_of(tmp_path, "production_orders.csv", "planned_end", production_orders=orders)
    assert (p.row, p.value) == (2, "2026-11-23 08:00:00")
    assert p.message == "earlier than this row's planned_start (2026-11-24 06:00:00)"


def test_bad_calendars_are_reported_together_and_nothing_is_loaded(tmp_path):
    db = tmp_path / "plant.duckdb"
    with Store.open(db) as store:
        load_snapshot(store, plant(tmp_path / "good"))
        before = rows(store, "SELECT * FROM calendars ORDER BY ALL")
        error = load_error_into(
            store,
            plant(
                tmp_path / "bad",
                meta={**META, "timezone": "Mars/Olympus_Mons"},
                calendars=CALENDARS + "DAY,9,06:00,14:00\nDAY,3,22:00,06:00\nDAY,4,6:00,14:00\n",
                machines=MACHINES.replace(",,\n", ",,NIGHTS\n"),
                resources=RESOURCES.replace(",crew,", ",team,"),
                operation_resources=OPERATION_RESOURCES + "P9,10,JIG\n",
            ),
        )
        found = {(p.file, p.row, p.column, p.value) for p in error.problems}
        assert found == {
            ("snapshot.json", None, "timezone", "Mars/Olympus_Mons"),
            ("calendars.csv", 6, "weekday", "9"),
            ("calendars.csv", 7, "end_time", "06:00"),
            ("calendars.csv", 8, "start_time", "6:00"),
            ("machines.csv", 2, "calendar_id", "NIGHTS"),
            ("resources.csv", 3, "kind", "team"),
            ("operation_resources.csv", 4, "production_order_id, op_seq", "P9, 10"),
        }
        assert rows(store, "SELECT * FROM calendars ORDER BY ALL") == before
        assert dict(rows(store, "SELECT key, value FROM store_meta"))["timezone"] == "Europe/Copenhagen"


def load_error_into(store: Store, folder):
    from planner_tui.errors import SnapshotError

    with pytest.raises(SnapshotError) as caught:
        load_snapshot(store, folder)
    return caught.value
