"""Loading over HTTP (a real http.server on 127.0.0.1) and the `planner-tui load` command."""

from __future__ import annotations

import functools
import json
import socket
import subprocess
import sys
import threading
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from test_load import PLANT, write_plant
from typer.testing import CliRunner

from planner_tui.cli import app
from planner_tui.errors import PlannerError, SnapshotError
from planner_tui.store import Store
from planner_tui.store.loader import load_snapshot


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


class _BrokenHandler(_QuietHandler):
    def do_GET(self) -> None:
        self.send_error(503, "maintenance")


@contextmanager
def serve(folder: Path, handler=_QuietHandler):
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_http_base_url_loads_like_a_folder(tmp_path):
    folder = write_plant(tmp_path / "snap", meta={"plant": "Aarhus"})
    with serve(folder) as url:
        store = Store.memory()
        report = load_snapshot(store, url + "/")
    assert report["tables"]["operations"] == 3 and report["plant"] == "Aarhus"
    assert store.con.execute("SELECT value FROM store_meta WHERE key = 'loaded_from'").fetchall() == [(url + "/",)]


def test_http_problems_name_the_file(tmp_path):
    folder = write_plant(tmp_path / "snap", operations=PLANT["operations"].replace("P1,20,M2,", "P1,20,M9,"))
    with serve(folder) as url, pytest.raises(SnapshotError) as caught:
        load_snapshot(Store.memory(), url)
    assert "operations.csv, row 2, column machine_id" in str(caught.value)


def test_http_nothing_there_refused_and_server_errors(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with serve(empty) as url, pytest.raises(PlannerError, match="no snapshot at"):
        load_snapshot(Store.memory(), url)
    with serve(empty, _BrokenHandler) as url, pytest.raises(PlannerError, match="503"):
        load_snapshot(Store.memory(), url)
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(PlannerError, match="cannot reach"):
        load_snapshot(Store.memory(), f"http://127.0.0.1:{port}/snapshot")


def test_http_missing_required_table(tmp_path):
    with serve(write_plant(tmp_path / "snap", machines=None)) as url, pytest.raises(SnapshotError) as caught:
        load_snapshot(Store.memory(), url)
    assert "required table machines is missing" in str(caught.value)


# --- the command ------------------------------------------------------------------------------------

runner = CliRunner()


def test_cli_load_prints_a_summary_and_creates_the_database(tmp_path):
    db = tmp_path / "plant.duckdb"
    result = runner.invoke(app, ["load", str(write_plant(tmp_path / "snap")), "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert "operations" in result.output and "rows in" in result.output
    assert db.exists()


def test_cli_load_json_report(tmp_path):
    db = tmp_path / "plant.duckdb"
    result = runner.invoke(app, ["load", str(write_plant(tmp_path / "snap")), "--db", str(db), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["tables"]["machines"] == 2 and "seconds" in report


def test_cli_bad_snapshot_exits_non_zero_without_traceback(tmp_path):
    db = tmp_path / "plant.duckdb"
    assert runner.invoke(app, ["load", str(write_plant(tmp_path / "good")), "--db", str(db)]).exit_code == 0
    bad = write_plant(tmp_path / "bad", operations=PLANT["operations"].replace("P1,20,M2,", "P1,20,M9,"))
    result = runner.invoke(app, ["load", str(bad), "--db", str(db)])
    assert result.exit_code == SnapshotError.exit_code
    assert "operations.csv, row 2, column machine_id" in result.output and "'M9'" in result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    for args in (
        ["load", str(tmp_path / "nowhere"), "--db", str(db)],
        ["load", "http://127.0.0.1:1/", "--db", str(db)],
    ):
        result = runner.invoke(app, args)
        assert result.exit_code != 0 and "Traceback" not in result.output and "error" in result.output


def test_cli_first_load_that_fails_leaves_no_database(tmp_path):
    db = tmp_path / "plant.duckdb"
    result = runner.invoke(app, ["load", str(write_plant(tmp_path / "bad", machines=None)), "--db", str(db)])
    assert result.exit_code == SnapshotError.exit_code
    assert not db.exists()


def test_cli_load_into_a_database_in_use_by_another_process(tmp_path):
    db = tmp_path / "plant.duckdb"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys; c = duckdb.connect(sys.argv[1]); print('ready', flush=True); sys.stdin.read()",
            str(db),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        result = runner.invoke(app, ["load", str(write_plant(tmp_path / "snap")), "--db", str(db)])
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    assert result.exit_code == 4, result.output
    assert "in use by another process" in result.output and "Traceback" not in result.output
    assert db.exists()  # the other process's database is not removed


def test_snapshot_option_of_analysis_commands_uses_the_loader(tmp_path):
    result = runner.invoke(app, ["status", "--snapshot", str(write_plant(tmp_path / "snap")), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["tables"]["operations"] == 3
