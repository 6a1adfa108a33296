"""The snapshot loader: every format loads, every kind of bad input is named precisely, loads are atomic."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest

from planner_tui.errors import PlannerError, SnapshotError
from planner_tui.store import Store
from planner_tui.store.contract import TABLES
from planner_tui.store.loader import load_snapshot

# A tiny plant that satisfies the contract: two machines, a made-to-order order with a child order,
# lots with a hold. Each table is CSV text; tests override single tables to break them.
PLANT: dict[str, str] = {
    "machines": """machine_id,name,work_center,line,plant,supervisor
M1,Laser,WC-CUT,L1,AAR,Marta
M2,Press,WC-FORM,L1,AAR,
""",
    "machine_states": """machine_id,state,since,reason
M1,down,2026-11-25T04:00:00Z,hydraulic leak
""",
    "items": """item_id,description,item_type,uom,safety_stock,buyer
FG1,"Pump, 7.5 kW",finished,ea,2,
RAW1,Steel coil,raw,kg,,Ole
""",
    "bom": """parent_item_id,component_item_id,qty_per
FG1,RAW1,2.5
""",
    "customers": """customer_id,name,tier,account_manager
C1,Kessler,A,Anna
""",
    "sales_orders": """sales_order_id,line_no,customer_id,item_id,qty,promised_date,confirmed_at,status
SO1,1,C1,FG1,5,2026-12-01,2026-11-20T08:00:00,open
SO1,2,C1,FG1,1,2026-12-05,2026-11-20T08:00:00,open
""",
    "production_orders": """production_order_id,item_id,qty,status,planned_start,planned_end,sales_order_id,line_no,parent_production_order_id
P1,FG1,5,released,2026-11-25T06:00:00,2026-11-25T10:00:00,SO1,1,
P2,FG1,1,planned,2026-11-24T06:00:00,2026-11-24T08:00:00,,,P1
""",
    "operations": """production_order_id,op_seq,machine_id,planned_start,planned_end,status
P1,10,M1,2026-11-25T06:00:00,2026-11-25T08:00:00,waiting
P1,20,M2,2026-11-25T08:00:00,2026-11-25T10:00:00,waiting
P2,10,M1,2026-11-24T06:00:00,2026-11-24T08:00:00,done
""",
    "lots": """lot_id,item_id,qty,produced_by,status
L1,RAW1,10,,released
L2,FG1,5,P1,hold
""",
    "inventory": """item_id,location,lot_id,qty
RAW1,WH,L1,10
RAW1,WH,,3
""",
    "shipments": """shipment_id,sales_order_id,line_no,qty,planned_ship_date,status,carrier
SH1,SO1,1,5,2026-12-01,planned,DSV
""",
    "quality_holds": """hold_id,lot_id,reason,placed_at,placed_by,status
H1,L2,porosity,2026-11-24T10:00:00+01:00,QA,active
""",
}


def write_plant(folder: Path, meta: dict | None = None, **changes: str | None) -> Path:
    """Write the tiny plant as CSV into `folder`; a change replaces a table's text (None removes it)."""
    folder.mkdir(parents=True, exist_ok=True)
    tables = {**PLANT, **changes}
    for name, text in tables.items():
        if text is not None:
            (folder / f"{name}.csv").write_text(text)
    if meta is not None:
        (folder / "snapshot.json").write_text(json.dumps(meta))
    return folder


def rows(store: Store, sql: str, params=()) -> list[tuple]:
    return store.con.execute(sql, list(params)).fetchall()


def load_error(folder: Path) -> SnapshotError:
    with pytest.raises(SnapshotError) as caught:
        load_snapshot(Store.memory(), folder)
    return caught.value


def the_problem(error: SnapshotError, file: str, column: str | None = None):
    """The single problem listed for file (and column)."""
    found = [p for p in error.problems if p.file == file and (column is None or p.column == column)]
    assert len(found) == 1, error
    return found[0]


# --- good snapshots -------------------------------------------------------------------------------


def test_tiny_csv_plant_loads_with_contract_types_and_meta(tmp_path):
    folder = write_plant(tmp_path / "snap", meta={"as_of": "2026-11-25T07:00:00+01:00", "plant": "Aarhus"})
    store = Store.memory()
    report = load_snapshot(store, folder)
    assert report["source"] == str(folder)
    assert report["tables"]["operations"] == 3 and report["tables"]["machines"] == 2
    assert set(report["tables"]) == {t.name for t in TABLES}
    assert report["seconds"] >= 0
    assert rows(store, "SELECT line_no, qty, promised_date, confirmed_at FROM sales_orders ORDER BY line_no")[0] == (
        1,
        5.0,
        date(2026, 12, 1),
        datetime(2026, 11, 20, 8, 0),
    )
    # An empty safety stock takes the contract's default, 0.
    assert rows(store, "SELECT item_id, safety_stock FROM items ORDER BY item_id") == [("FG1", 2.0), ("RAW1", 0.0)]
    # Empty optional values are NULL, not empty strings.
    assert rows(store, "SELECT sales_order_id, line_no FROM production_orders WHERE production_order_id = 'P2'") == [
        (None, None)
    ]
    meta = dict(rows(store, "SELECT key, value FROM store_meta"))
    assert meta["as_of"] == "2026-11-25T06:00:00"  # converted to UTC
    assert meta["plant"] == "Aarhus"
    assert meta["loaded_from"] == str(folder)
    assert datetime.fromisoformat(meta["loaded_at"])


def test_timestamps_with_an_offset_are_converted_to_utc_and_no_offset_means_utc(tmp_path):
    store = Store.memory()
    load_snapshot(store, write_plant(tmp_path))
    assert rows(store, "SELECT placed_at FROM quality_holds") == [(datetime(2026, 11, 24, 9, 0),)]
    assert rows(store, "SELECT since FROM machine_states") == [(datetime(2026, 11, 25, 4, 0),)]
    assert rows(store, "SELECT planned_start FROM operations WHERE op_seq = 20") == [(datetime(2026, 11, 25, 8, 0),)]


def test_missing_optional_table_is_empty_and_optional_column_is_null(tmp_path):
    store = Store.memory()
    report = load_snapshot(store, write_plant(tmp_path, purchase_orders=None, shipment_lots=None))
    assert report["tables"]["purchase_orders"] == 0
    assert rows(store, "SELECT count(*) FROM purchase_orders") == [(0,)]
    # machine_states.expected_minutes is planner_tui's own column: absent from the file, NULL.
    assert rows(store, "SELECT machine_id, expected_minutes FROM machine_states") == [("M1", None)]


def test_extra_columns_are_kept_after_the_contract_columns(tmp_path):
    folder = write_plant(
        tmp_path,
        machines="machine_id,cost_center,name,work_center,line,plant,supervisor\n"
        "M1,CC-9,Laser,WC,L1,AAR,Marta\nM2,CC-8,Press,WC,L1,AAR,\n",
    )
    store = Store.memory()
    load_snapshot(store, folder)
    names = [r[0] for r in rows(store, "DESCRIBE machines")]
    # calendar_id: the contract's optional column, absent from this file, NULL (issue 11).
    assert names == ["machine_id", "name", "work_center", "line", "plant", "supervisor", "calendar_id", "cost_center"]
    assert rows(store, "SELECT cost_center FROM machines WHERE machine_id = 'M1'") == [("CC-9",)]


def _export(folder: Path, out: Path, fmt: str) -> Path:
    """The tiny plant written in another format (from a loaded store, so Parquet types are the contract's)."""
    store = Store.memory()
    load_snapshot(store, folder)
    out.mkdir()
    for t in TABLES:
        target = out / f"{t.name}.{fmt}"
        if fmt == "parquet":
            store.con.execute(f"COPY \"{t.name}\" TO '{target}' (FORMAT parquet)")
        else:
            records = [
                dict(zip([d[0] for d in store.con.execute(f'SELECT * FROM "{t.name}"').description], r))
                for r in store.con.execute(f'SELECT * FROM "{t.name}"').fetchall()
            ]
            text = [json.dumps(r, default=str) for r in records]
            target.write_text("\n".join(text) + "\n" if fmt == "jsonl" else "[" + ",\n".join(text) + "]")
    return out


@pytest.mark.parametrize("fmt", ["parquet", "json", "jsonl"])
def test_parquet_json_and_jsonl_snapshots_load_the_same_plant(tmp_path, fmt):
    folder = write_plant(tmp_path / "csv")
    expected = Store.memory()
    load_snapshot(expected, folder)
    store = Store.memory()
    load_snapshot(store, _export(folder, tmp_path / fmt, fmt))
    for t in TABLES:
        query = f'SELECT * FROM "{t.name}" ORDER BY ALL'
        assert rows(store, query) == rows(expected, query), t.name


def test_parquet_with_other_types_is_cast(tmp_path):
    """Parquet from another tool: BIGINT line numbers, text timestamps with offsets, integer quantities."""
    folder = write_plant(tmp_path / "snap")
    con = duckdb.connect()
    target = folder / "sales_orders.parquet"
    (folder / "sales_orders.csv").unlink()
    con.execute(f"""COPY (SELECT 'SO1' AS sales_order_id, 1::BIGINT AS line_no, 'C1' AS customer_id,
        'FG1' AS item_id, 5::BIGINT AS qty, DATE '2026-12-01' AS promised_date,
        '2026-11-20T09:00:00+01:00' AS confirmed_at, 'open' AS status
        UNION ALL SELECT 'SO1', 2, 'C1', 'FG1', 1, DATE '2026-12-05', '2026-11-20T08:00:00', 'open')
        TO '{target}' (FORMAT parquet)""")
    store = Store.memory()
    load_snapshot(store, folder)
    assert rows(store, "SELECT line_no, qty, confirmed_at FROM sales_orders ORDER BY line_no") == [
        (1, 5.0, datetime(2026, 11, 20, 8, 0)),
        (2, 1.0, datetime(2026, 11, 20, 8, 0)),
    ]
    assert [r[1] for r in rows(store, "DESCRIBE sales_orders")][:5] == [
        "VARCHAR",
        "INTEGER",
        "VARCHAR",
        "VARCHAR",
        "DOUBLE",
    ]


def test_parquet_bad_value_is_named_with_its_row(tmp_path):
    folder = write_plant(tmp_path / "snap")
    (folder / "operations.csv").unlink()
    duckdb.connect().execute(f"""COPY (SELECT * FROM (VALUES
        ('P1', 10, 'M1', '2026-11-25T06:00:00', '2026-11-25T08:00:00', 'waiting'),
        ('P1', 20, 'M2', 'soon', '2026-11-25T10:00:00', 'waiting'),
        ('P2', 10, 'M1', '2026-11-24T06:00:00', '2026-11-24T08:00:00', 'finished'))
        t(production_order_id, op_seq, machine_id, planned_start, planned_end, status))
        TO '{folder / "operations.parquet"}' (FORMAT parquet)""")
    error = load_error(folder)
    p = the_problem(error, "operations.parquet", "planned_start")
    assert (p.row, p.value) == (2, "soon")
    p = the_problem(error, "operations.parquet", "status")
    assert (p.row, p.value) == (3, "finished")


def test_parquet_timestamp_with_time_zone_becomes_utc(tmp_path):
    folder = write_plant(tmp_path / "snap", machine_states=None)
    duckdb.connect().execute(f"""COPY (SELECT 'M1' AS machine_id, 'down' AS state,
        TIMESTAMPTZ '2026-11-25 05:00:00+01' AS since, NULL::VARCHAR AS reason, 45::BIGINT AS expected_minutes)
        TO '{folder / "machine_states.parquet"}' (FORMAT parquet)""")
    store = Store.memory()
    load_snapshot(store, folder)
    assert rows(store, "SELECT since, expected_minutes FROM machine_states") == [(datetime(2026, 11, 25, 4, 0), 45)]


def test_the_sample_plant_loads_cleanly(sample_dir):
    store = Store.memory()
    report = load_snapshot(store, sample_dir)
    for t in TABLES:
        if t.required:
            assert report["tables"][t.name] > 0, t.name


# --- bad input: each kind names the file, the column, the value and the row -----------------------


def test_missing_required_table(tmp_path):
    error = load_error(write_plant(tmp_path, operations=None))
    assert "required table operations is missing" in str(error)
    assert "operations.csv" in str(error)  # says what file names are looked for


def test_missing_column(tmp_path):
    error = load_error(write_plant(tmp_path, customers="customer_id,name,tier\nC1,Kessler,A\n"))
    p = the_problem(error, "customers.csv")
    assert p.column == "account_manager" and "missing" in p.message


@pytest.mark.parametrize(
    "table, text, column, row, value, words",
    [
        ("sales_orders", PLANT["sales_orders"].replace("FG1,1,", "FG1,one,"), "qty", 2, "one", "not a number"),
        ("operations", PLANT["operations"].replace("P1,20,", "P1,2.5,"), "op_seq", 2, "2.5", "whole number"),
        (
            "shipments",
            PLANT["shipments"].replace("2026-12-01", "01/12/2026"),
            "planned_ship_date",
            1,
            "01/12/2026",
            "YYYY-MM-DD",
        ),
        (
            "quality_holds",
            PLANT["quality_holds"].replace("2026-11-24T10:00:00+01:00", "yesterday"),
            "placed_at",
            1,
            "yesterday",
            "ISO 8601",
        ),
        # A column with a default takes it only when empty, never for a malformed value.
        ("items", PLANT["items"].replace("ea,2,", "ea,plenty,"), "safety_stock", 1, "plenty", "not a number"),
    ],
)
def test_wrong_type(tmp_path, table, text, column, row, value, words):
    p = the_problem(load_error(write_plant(tmp_path, **{table: text})), f"{table}.csv")
    assert (p.column, p.row, p.value) == (column, row, value)
    assert words in p.message
    assert f"{table}.csv, row {row}, column {column}" in str(p) and repr(value) in str(p)


def test_empty_required_value(tmp_path):
    text = PLANT["operations"].replace("P1,20,M2,", "P1,20,,")
    p = the_problem(load_error(write_plant(tmp_path, operations=text)), "operations.csv")
    assert (p.column, p.row) == ("machine_id", 2) and "empty" in p.message


def test_duplicate_key(tmp_path):
    text = PLANT["operations"] + "P1,20,M1,2026-11-25T08:00:00,2026-11-25T10:00:00,waiting\n"
    p = the_problem(load_error(write_plant(tmp_path, operations=text)), "operations.csv")
    assert (p.column, p.row, p.value) == ("production_order_id, op_seq", 4, "P1, 20")
    assert "duplicate key" in p.message and "row 2" in p.message


def test_duplicate_inventory_rows_without_lot_clash(tmp_path):
    text = PLANT["inventory"] + "RAW1,WH,,4\n"
    p = the_problem(load_error(write_plant(tmp_path, inventory=text)), "inventory.csv")
    assert p.row == 3 and "row 2" in p.message and p.value == "RAW1, WH, (empty)"


def test_value_outside_enum(tmp_path):
    text = PLANT["operations"].replace(
        "P2,10,M1,2026-11-24T06:00:00,2026-11-24T08:00:00,done",
        "P2,10,M1,2026-11-24T06:00:00,2026-11-24T08:00:00,finished",
    )
    p = the_problem(load_error(write_plant(tmp_path, operations=text)), "operations.csv")
    assert (p.column, p.row, p.value) == ("status", 3, "finished")
    assert "waiting, running, done" in p.message


def test_positive_quantity(tmp_path):
    p = the_problem(load_error(write_plant(tmp_path, bom=PLANT["bom"].replace("2.5", "0"))), "bom.csv")
    assert (p.column, p.row, p.value) == ("qty_per", 1, "0.0") and "greater than 0" in p.message


def test_reference_to_a_missing_id(tmp_path):
    text = PLANT["operations"].replace("P1,20,M2,", "P1,20,M9,")
    p = the_problem(load_error(write_plant(tmp_path, operations=text)), "operations.csv")
    assert (p.column, p.row, p.value) == ("machine_id", 2, "M9") and "machines" in p.message


def test_composite_reference_to_a_missing_sales_order_line(tmp_path):
    text = PLANT["shipments"].replace("SH1,SO1,1,", "SH1,SO1,3,")
    p = the_problem(load_error(write_plant(tmp_path, shipments=text)), "shipments.csv")
    assert (p.column, p.row, p.value) == ("sales_order_id, line_no", 1, "SO1, 3") and "sales_orders" in p.message


def test_reference_into_a_missing_optional_table(tmp_path):
    """Inventory names lot L1 but the snapshot has no lots file: the reference fails."""
    error = load_error(write_plant(tmp_path, lots=None, quality_holds=None))
    p = the_problem(error, "inventory.csv")
    assert (p.column, p.value) == ("lot_id", "L1")


def test_made_to_order_link_needs_both_sales_order_and_line(tmp_path):
    text = PLANT["production_orders"].replace(",SO1,1,", ",SO1,,")
    p = the_problem(load_error(write_plant(tmp_path, production_orders=text)), "production_orders.csv")
    assert (p.column, p.row, p.value) == ("sales_order_id, line_no", 1, "SO1, (empty)")
    assert "both set or both empty" in p.message


def test_unreadable_csv(tmp_path):
    text = PLANT["customers"] + "C2,Too,many,fields,here\n"
    p = the_problem(load_error(write_plant(tmp_path, customers=text)), "customers.csv")
    assert "cannot read the CSV" in p.message and "line 3" in p.message


def test_unreadable_json_and_parquet(tmp_path):
    folder = write_plant(tmp_path, customers=None, lots=None, quality_holds=None, inventory=None)
    (folder / "customers.json").write_text('[{"customer_id": "C1"},')
    (folder / "lots.parquet").write_bytes(b"PAR1 not really parquet")
    error = load_error(folder)
    assert "not valid JSON" in the_problem(error, "customers.json").message
    assert "cannot read the Parquet file" in the_problem(error, "lots.parquet").message


def test_a_table_given_in_two_formats_is_refused(tmp_path):
    folder = write_plant(tmp_path)
    (folder / "bom.jsonl").write_text('{"parent_item_id": "FG1", "component_item_id": "RAW1", "qty_per": 1}\n')
    assert "given twice" in str(load_error(folder))


def test_bad_snapshot_json(tmp_path):
    p = the_problem(load_error(write_plant(tmp_path, meta={"as_of": "last tuesday"})), "snapshot.json")
    assert (p.column, p.value) == ("as_of", "last tuesday")


def test_several_problems_are_reported_together(tmp_path):
    error = load_error(
        write_plant(
            tmp_path,
            operations=PLANT["operations"].replace("P1,20,M2,", "P1,20,M9,"),
            items=PLANT["items"].replace(",raw,", ",metal,"),
            customers="customer_id,name,tier\nC1,K,A\n",
        )
    )
    files = {(p.file, p.column) for p in error.problems}
    assert {("operations.csv", "machine_id"), ("items.csv", "item_type"), ("customers.csv", "account_manager")} <= files
    assert str(error).startswith("snapshot rejected: 3 problem(s)")


def test_many_bad_rows_are_capped_and_counted(tmp_path):
    bad = "".join(f"P1,{100 + i},M9,2026-11-25T06:00:00,2026-11-25T08:00:00,waiting\n" for i in range(40))
    error = load_error(write_plant(tmp_path, operations=PLANT["operations"] + bad))
    assert len(error.problems) == 5 and error.more == 35
    assert "... and 35 more" in str(error)


# --- atomicity ------------------------------------------------------------------------------------


def _counts(store: Store) -> dict[str, int]:
    return {t.name: rows(store, f'SELECT count(*) FROM "{t.name}"')[0][0] for t in TABLES}


def test_a_failed_load_leaves_the_previous_snapshot_whole(tmp_path):
    db = tmp_path / "plant.duckdb"
    good = write_plant(tmp_path / "good", meta={"plant": "Aarhus"})
    with Store.open(db) as store:
        load_snapshot(store, good)
        before = _counts(store)
        ops_before = rows(store, "SELECT * FROM operations ORDER BY ALL")
        meta_before = rows(store, "SELECT * FROM store_meta ORDER BY key")
        bad = write_plant(
            tmp_path / "bad",
            machines=PLANT["machines"] + "M3,Saw,WC,L1,AAR,\n",  # would change machines...
            operations=PLANT["operations"].replace("P1,20,M2,", "P1,20,M9,"),  # ...but this is wrong
        )
        with pytest.raises(SnapshotError):
            load_snapshot(store, bad)
        with pytest.raises(PlannerError):
            load_snapshot(store, tmp_path / "nowhere")
    with Store.open(db) as store:  # as a new process would see it
        assert _counts(store) == before
        assert rows(store, "SELECT * FROM operations ORDER BY ALL") == ops_before
        assert rows(store, "SELECT * FROM store_meta ORDER BY key") == meta_before
        leftovers = rows(
            store, "SELECT table_name FROM information_schema.tables WHERE table_name LIKE '\\_load%' ESCAPE '\\'"
        )
        assert leftovers == []


def test_a_reload_replaces_the_snapshot_and_keeps_planner_tui_tables(tmp_path):
    db = tmp_path / "plant.duckdb"
    with Store.open(db) as store:
        load_snapshot(store, write_plant(tmp_path / "one", meta={"plant": "Aarhus", "as_of": "2026-11-25T06:00:00"}))
        store.con.execute(
            "INSERT INTO event_log (source, event_id, received_at, outcome) "
            "VALUES ('mes', 'e1', TIMESTAMP '2026-11-25 07:00:00', 'applied')"
        )
        store.con.execute(
            "INSERT INTO exception_triage (exception_id, status, assignee, snoozed_until, updated_at, updated_by) "
            "VALUES ('machine_down:M1', 'acknowledged', 'ana', NULL, "
            "TIMESTAMP '2026-11-25 07:00:00', 'ana')"
        )
        store.con.execute("INSERT INTO store_meta VALUES ('theme', 'dark')")
        second = write_plant(tmp_path / "two", machines=PLANT["machines"] + "M3,Saw,WC,L1,AAR,\n")
        load_snapshot(store, second)
        assert rows(store, "SELECT count(*) FROM machines") == [(3,)]
        assert rows(store, "SELECT event_id FROM event_log") == [("e1",)]
        assert rows(store, "SELECT status FROM exception_triage") == [("acknowledged",)]
        meta = dict(rows(store, "SELECT key, value FROM store_meta"))
        # The second snapshot has no snapshot.json: the first one's as_of/plant must not linger.
        assert "as_of" not in meta and "plant" not in meta
        assert meta["theme"] == "dark" and meta["loaded_from"] == str(second)


def test_a_reader_sees_the_old_snapshot_or_the_new_one_never_a_mix(tmp_path):
    store = Store.memory()
    load_snapshot(store, write_plant(tmp_path / "one"))
    reader = store.cursor()
    reader.execute("BEGIN TRANSACTION")
    both = "SELECT (SELECT count(*) FROM machines), (SELECT count(*) FROM operations)"
    assert reader.execute(both).fetchall() == [(2, 3)]
    load_snapshot(
        store,
        write_plant(
            tmp_path / "two",
            machines=PLANT["machines"] + "M3,Saw,WC,L1,AAR,\n",
            operations=PLANT["operations"] + "P2,20,M3,2026-11-24T08:00:00,2026-11-24T09:00:00,waiting\n",
        ),
    )
    assert reader.execute(both).fetchall() == [(2, 3)]  # its transaction began before the swap
    reader.execute("COMMIT")
    assert reader.execute(both).fetchall() == [(3, 4)]


def test_progress_display_does_not_change_the_result(tmp_path, capsys):
    report = load_snapshot(Store.memory(), write_plant(tmp_path), progress=True)
    assert report["tables"]["operations"] == 3
    assert capsys.readouterr().out == ""  # progress goes to stderr, never into --json output


def test_column_names_are_exact_and_csv_is_comma_separated(tmp_path):
    error = load_error(
        write_plant(
            tmp_path,
            machines=PLANT["machines"].replace("machine_id,", "Machine_ID,", 1),
            customers=PLANT["customers"].replace(",", ";"),
        )
    )
    p = the_problem(error, "machines.csv")
    assert p.column == "machine_id" and "'Machine_ID'" in p.message
    assert "separated by semicolons" in the_problem(error, "customers.csv").message


def test_references_to_one_table_from_several_columns_are_each_named(tmp_path):
    genealogy = "input_lot_id,output_lot_id,qty\nL1,L2,1\nLX,L2,1\nL1,LY,1\n"
    holds = PLANT["quality_holds"].replace("H1,L2,", "H1,LZ,")
    error = load_error(write_plant(tmp_path, lot_genealogy=genealogy, quality_holds=holds))
    found = {(p.file, p.column, p.row, p.value) for p in error.problems}
    assert found == {
        ("lot_genealogy.csv", "input_lot_id", 2, "LX"),
        ("lot_genealogy.csv", "output_lot_id", 3, "LY"),
        ("quality_holds.csv", "lot_id", 1, "LZ"),
    }


def test_a_load_puts_duckdb_threads_back_as_it_found_them(sample_dir):
    """The loader may run DuckDB single-threaded while it stages on a small machine; afterwards the
    console's queries must get every thread back."""
    from planner_tui.store import Store
    from planner_tui.store.loader import load_snapshot

    store = Store.memory()
    before = store.con.execute("SELECT current_setting('threads')").fetchone()[0]
    load_snapshot(store, sample_dir)
    assert store.con.execute("SELECT current_setting('threads')").fetchone()[0] == before
