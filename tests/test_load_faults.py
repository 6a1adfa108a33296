"""Hostile input to the snapshot half (issue 8): races on a new database, files that are not databases,
glob characters, NaN, credentials, hostile servers, SIGTERM, cycles, deep JSON, huge CSV rows, blank keys,
absurd years, leftover staging, a corrupt WAL. Real files, loopback servers and subprocesses only."""

from __future__ import annotations

import gzip
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import duckdb
import pytest
from test_load import PLANT, load_error, rows, the_problem, write_plant
from test_load_cli import serve
from typer.testing import CliRunner

from planner_tui.cli import app
from planner_tui.cli.common import to_json
from planner_tui.errors import PlannerError
from planner_tui.store import Store
from planner_tui.store.loader import load_snapshot

runner = CliRunner()
PLANNER_TUI = Path(sys.executable).with_name("planner-tui")


def cli(*args: str, env: dict | None = None, **kw) -> subprocess.Popen:
    """`planner-tui ARGS` as its own process (the installed entry point, as an admin would run it)."""
    command = [str(PLANNER_TUI)] if PLANNER_TUI.exists() else [sys.executable, "-m", "planner_tui.cli"]
    return subprocess.Popen(
        [*command, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
        **kw,
    )


@contextmanager
def http_server(handler):
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server, server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


class _Quiet(BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


# --- 1. two first loads into one new --db at once ---------------------------------------------------


# A `planner-tui` process that runs `planner-tui load SNAPSHOT --db LINE` for each line on stdin, then
# says "@@done CODE". Everything is imported before the first line, so runs in several such processes,
# given their line together, reach the new database within a millisecond of each other: two admins
# pressing Enter at once, tried many times in a few seconds.
_LOADER = """
import sys
from planner_tui.cli import main
import planner_tui.store.loader
snapshot = sys.argv[1]
print("@@ready", flush=True)
for line in sys.stdin:
    sys.argv = ["planner-tui", "load", snapshot, "--db", line.strip()]
    try:
        main()
        code = 0
    except SystemExit as exit:
        code = exit.code or 0
    print(f"\\n@@done {code}", flush=True)
"""


def test_two_first_loads_at_once_never_claim_a_database_that_is_not_there(tmp_path):
    snap = write_plant(tmp_path / "snap")
    loaders = [
        subprocess.Popen(
            [sys.executable, "-c", _LOADER, str(snap)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(3)
    ]
    try:
        for loader in loaders:
            assert loader.stdout.readline() == "@@ready\n"
        for attempt in range(4):
            db = tmp_path / f"try{attempt}" / "plant.duckdb"
            db.parent.mkdir()
            for loader in loaders:
                loader.stdin.write(f"{db}\n")
                loader.stdin.flush()
            outcomes = []
            for loader in loaders:
                output = ""
                for line in iter(loader.stdout.readline, ""):
                    if line.startswith("@@done "):
                        outcomes.append((int(line.split()[1]), output))
                        break
                    output += line
            for code, output in outcomes:
                assert "Traceback" not in output, output
                if code == 0:
                    assert "Loaded" in output
                    assert db.exists(), f"a run said Loaded, but {db} is gone: {outcomes}"
                    with Store.open(db, read_only=True) as store:
                        assert rows(store, "SELECT count(*) FROM machines") == [(2,)]
            assert any(code == 0 for code, _ in outcomes), outcomes
            # Nothing of a losing run is left beside the database (its temporary file, a WAL).
            assert sorted(p.name for p in db.parent.iterdir()) == ["plant.duckdb"], outcomes
    finally:
        for loader in loaders:
            loader.stdin.close()
            loader.wait(timeout=30)


# --- 2. --db naming a file that is not a DuckDB database ---------------------------------------------


def test_a_db_that_is_not_a_duckdb_file_is_refused_and_left_alone(tmp_path):
    snap = write_plant(tmp_path / "snap")
    csv_file = tmp_path / "plant.csv"
    csv_file.write_text(PLANT["machines"])
    parquet_file = tmp_path / "plant.parquet"
    duckdb.connect().execute(f"COPY (SELECT 1 AS a) TO '{parquet_file}' (FORMAT parquet)")
    for target in (csv_file, parquet_file):
        before = target.read_bytes()
        for args in (
            ["load", str(snap), "--db", str(target)],
            ["status", "--db", str(target)],
            ["exceptions", "--db", str(target)],
        ):
            result = runner.invoke(app, args)
            assert result.exit_code == 1, (args, result.output)
            assert "not a DuckDB database" in result.output and target.name in result.output, result.output
            assert "Traceback" not in result.output
        assert target.read_bytes() == before
        for read_only in (False, True):
            with pytest.raises(PlannerError, match="not a DuckDB database"):
                Store.open(target, read_only=read_only)
    (tmp_path / "folder.duckdb").mkdir()
    with pytest.raises(PlannerError, match="is a folder"):
        Store.open(tmp_path / "folder.duckdb")


# --- 3. glob characters in the snapshot folder's name ------------------------------------------------


@pytest.mark.parametrize("name, sibling", [("plant[1]", "plant1"), ("pl?nt", "plant"), ("pl*", "plx")])
@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_a_folder_named_like_a_glob_pattern_is_read_exactly(tmp_path, name, sibling, fmt):
    three = PLANT["machines"] + "M3,Saw,WC,L1,AAR,\n"
    folders = [write_plant(tmp_path / name), write_plant(tmp_path / sibling, machines=three)]
    if fmt == "parquet":
        import pyarrow.csv
        import pyarrow.parquet

        for folder in folders:  # written by pyarrow: DuckDB would read the sibling here too
            src = folder / "machines.csv"
            pyarrow.parquet.write_table(pyarrow.csv.read_csv(src), folder / "machines.parquet")
            src.unlink()
    store = Store.memory()
    report = load_snapshot(store, tmp_path / name)
    assert report["tables"]["machines"] == 2
    assert rows(store, "SELECT machine_id FROM machines ORDER BY 1") == [("M1",), ("M2",)]
    assert rows(store, "SELECT value FROM store_meta WHERE key = 'loaded_from'") == [(str(tmp_path / name),)]


# --- 4. NaN and infinity -------------------------------------------------------------------------------


def test_nan_and_infinity_in_parquet_and_json_are_refused_with_their_row(tmp_path):
    folder = write_plant(tmp_path / "snap")
    (folder / "items.csv").unlink()
    duckdb.connect().execute(f"""COPY (SELECT * FROM (VALUES
        ('FG1', 'Pump', 'finished', 'ea', 2.0::DOUBLE, NULL),
        ('RAW1', 'Steel', 'raw', 'kg', 'nan'::DOUBLE, 'Ole'))
        t(item_id, description, item_type, uom, safety_stock, buyer)) TO '{folder / "items.parquet"}' (FORMAT parquet)""")
    (folder / "lots.csv").unlink()
    duckdb.connect().execute(f"""COPY (SELECT * FROM (VALUES
        ('L1', 'RAW1', 'inf'::FLOAT, NULL, 'released'), ('L2', 'FG1', 5::FLOAT, 'P1', 'hold'))
        t(lot_id, item_id, qty, produced_by, status)) TO '{folder / "lots.parquet"}' (FORMAT parquet)""")
    (folder / "bom.csv").unlink()
    (folder / "bom.jsonl").write_text('{"parent_item_id": "FG1", "component_item_id": "RAW1", "qty_per": NaN}\n')
    (folder / "inventory.csv").unlink()
    (folder / "inventory.json").write_text(
        '[{"item_id": "RAW1", "location": "WH", "lot_id": "L1", "qty": 10},'
        ' {"item_id": "RAW1", "location": "WH", "lot_id": null, "qty": -Infinity}]'
    )
    error = load_error(folder)
    found = {(p.file, p.row, p.column, p.value) for p in error.problems}
    assert ("items.parquet", 2, "safety_stock", "nan") in found, error
    assert ("lots.parquet", 1, "qty", "inf") in found, error
    assert ("bom.jsonl", 1, "qty_per", "nan") in found, error
    assert ("inventory.json", 2, "qty", "-inf") in found, error


def test_the_json_writer_never_prints_nan_or_infinity():
    text = to_json({"qty": float("nan"), "more": [float("inf"), -math.inf, 1.5], "fine": 2})

    def refuse(constant):
        raise AssertionError(f"{constant} is not JSON")

    assert json.loads(text, parse_constant=refuse) == {"qty": None, "more": [None, None, 1.5], "fine": 2}


# --- 5. credentials in a snapshot URL ----------------------------------------------------------------


class _Needs503(_Quiet):
    def do_GET(self) -> None:
        self.send_error(503, "maintenance")


@pytest.mark.parametrize(
    ("url", "said"),
    [("http://a..b/snap/", "idna"), ("http://u:pw@[::1/snap/", "Invalid IPv6 URL"), ("http://u:pw@h:99999/s/", "Port")],
)
def test_a_malformed_snapshot_url_is_one_line_without_its_password(tmp_path, url, said):
    proc = cli("load", url, "--db", str(tmp_path / "plant.duckdb"))
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, out + err
    assert "Traceback" not in err and said in err and "pw" not in err
    assert err.startswith("error: not a usable snapshot URL") and len(err.strip().splitlines()) == 1


def test_credentials_in_a_snapshot_url_are_never_stored_or_printed(tmp_path):
    folder = write_plant(tmp_path / "snap")
    with serve(folder) as url:
        secret_url = url.replace("http://", "http://ana:s3cr3t-pw@") + "/?access_token=tok-123456"
        db = tmp_path / "plant.duckdb"
        result = runner.invoke(app, ["load", secret_url, "--db", str(db)])
        assert result.exit_code == 0, result.output
        assert "Loaded" in result.output
        for secret in ("s3cr3t-pw", "tok-123456"):
            assert secret not in result.output
        with Store.open(db, read_only=True) as store:
            loaded_from = rows(store, "SELECT value FROM store_meta WHERE key = 'loaded_from'")[0][0]
        assert "s3cr3t-pw" not in loaded_from and "tok-123456" not in loaded_from and "127.0.0.1" in loaded_from
        status = runner.invoke(app, ["status", "--db", str(db)])
        assert "s3cr3t-pw" not in status.output
        report = load_snapshot(Store.memory(), secret_url)
        assert "s3cr3t-pw" not in report["source"]
    with http_server(_Needs503) as (_, port):
        result = runner.invoke(app, ["load", f"http://ana:s3cr3t-pw@127.0.0.1:{port}/snap/", "--db", str(db)])
    assert result.exit_code == 1 and "503" in result.output and "s3cr3t-pw" not in result.output, result.output
    result = runner.invoke(app, ["load", "http://ana:s3cr3t-pw@127.0.0.1:99999/snap/", "--db", str(db)])
    assert result.exit_code == 1 and "s3cr3t-pw" not in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception


# --- 6. hostile snapshot servers ---------------------------------------------------------------------


class _Trickle(_Quiet):
    """200 OK, then one byte every 0.2 s (for at most 8 s, so a test of the old code ends too)."""

    requests: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        type(self).requests.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.end_headers()
        try:
            for _ in range(40):
                self.wfile.write(b"x")
                self.wfile.flush()
                time.sleep(0.2)
        except OSError:
            pass  # the client went away


def test_a_trickling_server_meets_the_overall_deadline(monkeypatch):
    monkeypatch.setenv("PLANNER_TUI_DOWNLOAD_DEADLINE", "1.5")
    with http_server(_Trickle) as (_, port):
        started = time.monotonic()
        with pytest.raises(PlannerError) as caught:
            load_snapshot(Store.memory(), f"http://127.0.0.1:{port}/snap/")
        elapsed = time.monotonic() - started
    assert elapsed < 5, elapsed
    assert "1.5 s" in str(caught.value) and "deadline" in str(caught.value)
    assert "PLANNER_TUI_DOWNLOAD_DEADLINE" in str(caught.value)


class _GzipBomb(_Quiet):
    """machines.csv as a 20 MB CSV sent gzip-compressed (about 20 kB on the wire)."""

    body = gzip.compress(PLANT["machines"].encode() + b"M" + b"9" * (20 << 20) + b",x,x,x,x,\n", compresslevel=1)

    def do_GET(self) -> None:
        if not self.path.endswith("/machines.csv"):
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)


def test_a_download_is_capped_by_its_decompressed_size(monkeypatch, tmp_path):
    monkeypatch.setenv("PLANNER_TUI_DOWNLOAD_MAX_BYTES", str(5 << 20))
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    with http_server(_GzipBomb) as (_, port), pytest.raises(PlannerError) as caught:
        load_snapshot(Store.memory(), f"http://127.0.0.1:{port}/snap/")
    message = str(caught.value)
    assert "machines.csv" in message and "5 MiB" in message and "PLANNER_TUI_DOWNLOAD_MAX_BYTES" in message
    assert not list(tmp_path.glob("planner_tui_snapshot_*"))


class _ZeroBomb(_GzipBomb):
    """32 MiB of zeros, gzip-compressed to about 32 kB: a bomb well inside every size limit."""

    body = gzip.compress(bytes(32 << 20), compresslevel=1)


def test_a_compression_bomb_is_refused_long_before_the_size_limit(monkeypatch, tmp_path):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    with http_server(_ZeroBomb) as (_, port), pytest.raises(PlannerError) as caught:
        load_snapshot(Store.memory(), f"http://127.0.0.1:{port}/snap/")
    assert "machines.csv expands more than 200 times" in str(caught.value), caught.value
    assert not list(tmp_path.glob("planner_tui_snapshot_*"))


def test_sigterm_during_a_download_removes_the_temporary_folder(tmp_path):
    temp = tmp_path / "tmp"
    temp.mkdir()
    db = tmp_path / "db" / "plant.duckdb"
    db.parent.mkdir()
    _Trickle.requests = []
    with http_server(_Trickle) as (_, port):
        run = cli("load", f"http://127.0.0.1:{port}/snap/", "--db", str(db), env={"TMPDIR": str(temp)})
        try:
            deadline = time.monotonic() + 30
            while not (_Trickle.requests and list(temp.glob("planner_tui_snapshot_*"))):
                assert time.monotonic() < deadline and run.poll() is None, run.communicate()
                time.sleep(0.05)
            time.sleep(0.3)  # well inside the download
            run.send_signal(signal.SIGTERM)
            code = run.wait(timeout=15)
        finally:
            if run.poll() is None:
                run.kill()
        _, err = run.communicate()
    assert code == 143 and "stopped by SIGTERM" in err and "Traceback" not in err, (code, err)
    assert list(temp.iterdir()) == []
    assert list(db.parent.iterdir()) == []  # no database, no temporary database


class _Redirect(_Quiet):
    target = ""

    def do_GET(self) -> None:
        self.send_response(302)
        self.send_header("Location", self.target + self.path)
        self.end_headers()


def test_a_redirect_names_the_server_that_failed(tmp_path):
    with http_server(_Needs503) as (_, broken_port), http_server(_Redirect) as (_, port):
        _Redirect.target = f"http://localhost:{broken_port}"
        with pytest.raises(PlannerError) as caught:
            load_snapshot(Store.memory(), f"http://127.0.0.1:{port}/snap/")
        assert f"localhost:{broken_port}" in str(caught.value) and "503" in str(caught.value)
        with pytest.raises(PlannerError) as caught:
            _Redirect.target = "http://localhost:1"  # nobody listens there
            load_snapshot(Store.memory(), f"http://127.0.0.1:{port}/snap/")
        assert "localhost:1" in str(caught.value), caught.value


# --- 7. cycles in feeding links ------------------------------------------------------------------------


def test_a_production_order_that_is_its_own_parent_is_refused(tmp_path):
    text = PLANT["production_orders"].replace(",,,P1\n", ",,,P2\n")
    p = the_problem(
        load_error(write_plant(tmp_path, production_orders=text)), "production_orders.csv", "parent_production_order_id"
    )
    assert (p.row, p.value) == (2, "P2") and "itself" in p.message


def test_production_orders_that_feed_each_other_in_a_loop_are_refused(tmp_path):
    # P1 feeds P2 and P2 feeds P1: every walk up the chain (order, reschedule) would be a cycle error.
    text = PLANT["production_orders"].replace(",SO1,1,\n", ",SO1,1,P2\n")
    p = the_problem(
        load_error(write_plant(tmp_path, production_orders=text)), "production_orders.csv", "parent_production_order_id"
    )
    assert p.value == "P1" and "P1 -> P2 -> P1" in p.message


def test_a_long_chain_of_feeding_orders_without_a_loop_loads(tmp_path):
    chain = [
        f"C{i},FG1,1,planned,2026-11-24T06:00:00,2026-11-24T08:00:00,,,{f'C{i + 1}' if i < 40 else 'P1'}"
        for i in range(41)
    ]
    text = PLANT["production_orders"] + "\n".join(chain) + "\n"
    store = Store.memory()
    load_snapshot(store, write_plant(tmp_path, production_orders=text))
    assert store.cursor().execute("SELECT count(*) FROM production_orders").fetchone()[0] == 43


def test_an_item_that_is_its_own_component_and_a_lot_made_from_itself_are_refused(tmp_path):
    error = load_error(
        write_plant(
            tmp_path, bom=PLANT["bom"] + "RAW1,RAW1,1\n", lot_genealogy="input_lot_id,output_lot_id,qty\nL1,L1,1\n"
        )
    )
    assert the_problem(error, "bom.csv", "component_item_id").row == 2
    assert the_problem(error, "lot_genealogy.csv", "output_lot_id").value == "L1"


def test_a_feeding_loop_does_not_empty_the_exception_inbox():
    from test_exceptions import AT, looped_plant

    from planner_tui.engine.exceptions import list_exceptions

    store = looped_plant()  # a loop of two, which a snapshot cannot bring but events can
    problems: list[str] = []
    listed = {e["exception_id"]: e for e in list_exceptions(store.cursor(), at=AT, problems=problems)}
    # Every kind that does not depend on the feeding links is still there.
    assert {"quality_hold:H1", "quality_hold:H2", "machine_down:M1", "machine_down:M3"} <= set(listed)
    assert any("P1 -> P9 -> P1" in p and "late_order" in p for p in problems), problems
    assert listed["machine_down:M1"]["detail"]["error"].startswith("production orders feed each other in a loop")


# --- 8. deeply nested JSON -----------------------------------------------------------------------------


def test_deeply_nested_json_is_a_clear_problem_not_a_traceback(tmp_path):
    folder = write_plant(tmp_path, customers=None, bom=None)
    (folder / "customers.json").write_text("[" * 100_000)
    (folder / "bom.jsonl").write_text('{"parent_item_id": ' + "[" * 100_000 + "\n")
    (folder / "snapshot.json").write_text('{"as_of": ' + "[" * 100_000)
    error = load_error(folder)
    for file in ("customers.json", "bom.jsonl", "snapshot.json"):
        assert "nested too deeply" in the_problem(error, file).message


# --- smaller ones --------------------------------------------------------------------------------------


def _big_name_plant(tmp_path: Path, *, size: int, newline: bool, quoted: bool) -> Path:
    """The tiny plant with a machine whose name is `size` bytes, on the last line of machines.csv."""
    folder = write_plant(tmp_path)
    name = "N" * size
    with (folder / "machines.csv").open("a") as f:
        f.write(f"M3,{chr(34) + name + chr(34) if quoted else name},WC,L1,AAR,Ole" + ("\n" if newline else ""))
    return folder


@pytest.mark.parametrize("newline, quoted", [(True, True), (False, False)])
def test_a_csv_row_of_34_mb_loads_whole(tmp_path, newline, quoted):
    store = Store.memory()
    report = load_snapshot(store, _big_name_plant(tmp_path, size=34 << 20, newline=newline, quoted=quoted))
    assert report["tables"]["machines"] == 3
    assert rows(store, "SELECT machine_id, length(name), supervisor FROM machines WHERE machine_id = 'M3'") == [
        ("M3", 34 << 20, "Ole")
    ]


def test_a_33_mb_field_in_the_middle_of_a_csv_loads(tmp_path):
    folder = write_plant(tmp_path)
    (folder / "machines.csv").write_text(
        "machine_id,name,work_center,line,plant,supervisor\n"
        f'M1,"{"a, b" * (33 << 18)}",WC,L1,AAR,Marta\nM2,Press,WC,L1,AAR,\n'
    )
    store = Store.memory()
    load_snapshot(store, folder)
    assert rows(store, "SELECT machine_id, length(name) FROM machines ORDER BY 1") == [("M1", 33 << 20), ("M2", 5)]


@pytest.mark.parametrize("blank", ["   ", "\t"])
def test_keys_of_only_blanks_are_refused_like_empty_ones(tmp_path, blank):
    text = PLANT["machines"].replace("M2,Press", f"{blank},Press")
    p = the_problem(load_error(write_plant(tmp_path, machines=text)), "machines.csv", "machine_id")
    assert p.row == 2 and "empty" in p.message and p.value == blank


def test_dates_and_timestamps_outside_the_plausible_years_are_refused(tmp_path):
    folder = write_plant(
        tmp_path,
        quality_holds=PLANT["quality_holds"].replace("2026-11-24T10:00:00+01:00", "0000-11-24T10:00:00"),
        machine_states=None,
    )
    (folder / "sales_orders.csv").unlink()
    duckdb.connect().execute(f"""COPY (SELECT * FROM (VALUES
        ('SO1', 1, 'C1', 'FG1', 5.0, DATE '2026-12-01', TIMESTAMP '2026-11-20 08:00:00', 'open'),
        ('SO1', 2, 'C1', 'FG1', 1.0, DATE '10000-12-05', TIMESTAMP '1899-12-31 23:59:59', 'open'))
        t(sales_order_id, line_no, customer_id, item_id, qty, promised_date, confirmed_at, status))
        TO '{folder / "sales_orders.parquet"}' (FORMAT parquet)""")
    error = load_error(folder)
    found = {(p.file, p.row, p.column): p for p in error.problems}
    assert "1900" in found[("quality_holds.csv", 1, "placed_at")].message
    assert found[("sales_orders.parquet", 2, "promised_date")].value.startswith("10000-12-05")
    assert "2999" in found[("sales_orders.parquet", 2, "confirmed_at")].message


@pytest.mark.parametrize("offset", ["+99:99", "+15:00", "-12:60", "+24"])
def test_a_timestamp_offset_no_time_zone_has_is_refused(tmp_path, offset):
    text = PLANT["operations"].replace("P1,20,M2,2026-11-25T08:00:00,", f"P1,20,M2,2026-11-25T08:00:00{offset},")
    p = the_problem(load_error(write_plant(tmp_path, operations=text)), "operations.csv", "planned_start")
    assert (p.row, p.value) == (2, f"2026-11-25T08:00:00{offset}") and "ISO 8601" in p.message


def test_real_offsets_still_load(tmp_path):
    text = PLANT["operations"].replace(
        "P1,20,M2,2026-11-25T08:00:00,2026-11-25T10:00:00,",
        "P1,20,M2,2026-11-25T21:45:00+13:45,2026-11-25T00:30:00.5-09:30,",
    )
    store = Store.memory()
    load_snapshot(store, write_plant(tmp_path, operations=text))
    assert rows(store, "SELECT planned_start, planned_end FROM operations WHERE op_seq = 20") == [
        (datetime(2026, 11, 25, 8, 0), datetime(2026, 11, 25, 10, 0, 0, 500000))
    ]


def test_a_lone_surrogate_in_json_is_a_problem_not_a_traceback(tmp_path):
    folder = write_plant(tmp_path, machines=None, customers=None, meta=None)
    (folder / "machines.jsonl").write_text('{"machine_id": "M1"}\n{"machine_id": "M2\\ud800"}\n')
    (folder / "customers.json").write_text(
        '[{"customer_id": "C1", "name": "K", "tier": "A", "account_manager": "A", "\\udcff": 1}]'
    )
    (folder / "snapshot.json").write_text('{"plant": "Aarhus \\ud800"}')
    error = load_error(folder)
    assert the_problem(error, "machines.jsonl").row == 2
    assert "half a character" in the_problem(error, "customers.json").message
    assert the_problem(error, "snapshot.json").column == "plant"


def test_a_killed_loads_staging_tables_go_when_a_writable_store_opens(tmp_path):
    db = tmp_path / "plant.duckdb"
    with Store.open(db) as store:
        load_snapshot(store, write_plant(tmp_path / "snap"))
    # What a load killed with SIGKILL leaves: its staging tables, committed as it made them.
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE _load_machines AS SELECT * FROM machines")
    con.execute("CREATE TABLE _load_raw_operations (x VARCHAR)")
    con.close()
    staging = "SELECT table_name FROM duckdb_tables() WHERE starts_with(table_name, '_load_') ORDER BY 1"
    with Store.open(db, read_only=True) as store:
        assert len(rows(store, staging)) == 2  # a reader changes nothing
    with Store.open(db) as store:
        assert rows(store, staging) == []
        assert rows(store, "SELECT count(*) FROM machines") == [(2,)]


def test_a_corrupt_write_ahead_log_says_how_to_recover(tmp_path):
    db = tmp_path / "plant.duckdb"
    wal = tmp_path / "plant.duckdb.wal"
    with Store.open(db) as store:
        load_snapshot(store, write_plant(tmp_path / "snap"))
    checkpointed = db.read_bytes()
    # Changes left in the WAL only (as after a crash): copy the files while the connection is open.
    con = duckdb.connect(str(db), config={"checkpoint_threshold": "1GB"})
    con.execute(
        "INSERT INTO event_log (source, event_id, received_at, outcome) "
        "SELECT 'mes', 'e' || i, TIMESTAMP '2026-11-25 07:00:00', 'applied' FROM range(200) t(i)"
    )
    data = bytearray(wal.read_bytes())
    con.close()
    for pos in range(200, len(data), 500):  # past the WAL's header, so DuckDB does replay it
        data[pos] ^= 0xFF
    db.write_bytes(checkpointed)
    wal.write_bytes(bytes(data))
    result = runner.invoke(app, ["status", "--db", str(db)])
    assert result.exit_code == 1, result.output
    message = " ".join(result.output.split())
    assert "plant.duckdb.wal" in message and "docs/operations.md" in message and "aside" in message, message
    assert "Traceback" not in result.output
    shutil.move(wal, tmp_path / "aside.wal")  # what the message says to do: the last checkpoint opens
    with Store.open(db, read_only=True) as store:
        assert rows(store, "SELECT count(*) FROM machines") == [(2,)]


def test_a_database_in_use_names_the_command_that_holds_it(tmp_path):
    db = tmp_path / "plant.duckdb"
    Store.open(db).close()
    holder_script = tmp_path / "planner-holder"
    holder_script.write_text(
        "import duckdb, sys\nc = duckdb.connect(sys.argv[3])\nprint('ready', flush=True)\nsys.stdin.read()\n"
    )
    holder = subprocess.Popen(
        [sys.executable, str(holder_script), "run", "--db", str(db)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        result = runner.invoke(app, ["status", "--db", str(db)])
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    assert result.exit_code == 4, result.output
    message = " ".join(result.output.split())
    # ... and whose it is: the user to ask (the test runs as that user).
    import getpass

    assert f"planner-holder run (PID {holder.pid}, user {getpass.getuser()})" in message, message


def test_a_csv_row_longer_than_the_limit_is_refused_with_its_line(tmp_path):
    from planner_tui.store.readers import CSV_MAX_ROW

    folder = write_plant(tmp_path)
    with (folder / "machines.csv").open("a") as f:
        f.write("M3," + "N" * (CSV_MAX_ROW + (1 << 20)) + ",WC,L1,AAR,\nM4,Saw,WC,L1,AAR,\n")
    p = the_problem(load_error(folder), "machines.csv")
    assert "line 4 of the file" in p.message and "longer than 64 MiB" in p.message, p


def test_a_last_csv_line_longer_than_the_buffer_is_refused_not_dropped(tmp_path):
    from planner_tui.store.readers import CSV_MAX_ROW

    folder = write_plant(tmp_path)
    path = folder / "machines.csv"
    with path.open("r+b") as f:  # a sparse tail: a last line of 130 MiB costs no disk
        f.truncate(path.stat().st_size + 2 * CSV_MAX_ROW + (2 << 20))
    p = the_problem(load_error(folder), "machines.csv")
    assert "last line" in p.message and "longer than 64 MiB" in p.message, p
