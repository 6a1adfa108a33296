"""The default (rich) output reads at 80 columns, as supervisors see it over SSH: no line is wider than 80,
and the ids a planner types next (orders, lots, holds, lines, shipments) are never broken or cut."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from planner_tui.cli import app

ROOT = Path(__file__).resolve().parent.parent
AT = "2026-11-23T09:00"
runner = CliRunner()


def _run(args: list[str], columns: int = 80) -> str:
    result = runner.invoke(app, [str(a) for a in args], env={"COLUMNS": str(columns)})
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> dict:
    """The sample plant and its scenario feed in one database, built once for the module."""
    db = tmp_path_factory.mktemp("cli80") / "plant.duckdb"
    load_output = _run(["load", ROOT / "sample_data" / "plant", "--db", db])
    _run(["events", "pull", ROOT / "sample_data" / "scenario.jsonl", "--db", db])
    return {"db": db, "load": load_output}


def _count(text: str, ident: str) -> int:
    """Whole occurrences: not as part of a longer id."""
    return len(re.findall(rf"(?<![\w-]){re.escape(ident)}(?![\w-])", text))


def assert_reads_at_80(sample: dict, args: list[str], ids: list[str]) -> str:
    """No line over 80, and each id shown as often whole at 80 columns as on a wide terminal."""
    narrow = _run([*args, "--db", sample["db"]])
    wide = _run([*args, "--db", sample["db"]], columns=200)
    too_long = [line for line in narrow.splitlines() if len(line) > 80]
    assert not too_long, "\n".join(too_long)
    for ident in ids:
        assert _count(narrow, ident) >= 1, f"{ident} missing in:\n{narrow}"
        assert _count(narrow, ident) == _count(wide, ident), f"{ident} broken at 80 columns:\n{narrow}"
    return narrow


def _row(text: str, first: str) -> str:
    return next(line for line in text.splitlines() if line.startswith(first))


def test_material_trace_and_shortages(sample):
    text = assert_reads_at_80(sample, ["shortages", "--at", AT], ["R-SEAL-200", "PRO-26-0434", "SO-24142/1"])
    assert "to never" in text and "11-24 08:00" in text  # compact times; the full ones are in --json
    for args in (["trace", "lot", "LOT-C8-24117"], ["trace", "hold", "QH-2611-009"]):
        text = assert_reads_at_80(
            sample,
            args,
            [
                "LOT-C8-24117",
                "QH-2611-009",
                "LOT-RL100-2611-01",
                "LOT-P100-2611-02",
                "PRO-26-0401",
                "SO-24088/1",
                "CUST-NORDAIRY",
                "SH-61024",
            ],
        )
        assert "…" not in text
        assert "Mill certificate mismatch:" in text  # the reason gets the width, not one word a line


def test_order_links(sample):
    text = assert_reads_at_80(
        sample, ["order", "PRO-26-0411"], ["PRO-26-0411", "PRO-26-0412", "SO-24117/1", "SH-61040", "M-ASSY-01"]
    )
    assert re.search(r"^\s*10\s+M-ASSY-01\s+11-23 11:40\s+11-23 17:00\s+waiting", text, re.M)  # compact times
    assert "T11:40" not in text
    assert_reads_at_80(sample, ["order", "SO-24117/1"], ["SO-24117/1", "PRO-26-0413", "SH-61040"])


def test_events_list_and_lag(sample):
    text = assert_reads_at_80(
        sample,
        ["events", "list"],
        ["PRO-26-0425/10", "LOT-C8-24117", "QH-2611-009", "SO-24142/1", "operation.completed"],
    )
    assert "34 event(s)" in text
    assert_reads_at_80(sample, ["events", "lag"], [])


def test_store_load_and_status(sample):
    load = sample["load"]
    # Paths are printed whole on their own lines (to copy them); everything else fits.
    assert all(len(line) <= 80 for line in load.splitlines() if str(ROOT) not in line and "plant.duckdb" not in line)
    assert "plant: Nordhavn Pumps & Fabrication, Aarhus works" in load
    assert _count(load, "production_orders") == 1
    text = assert_reads_at_80(sample, ["status"], ["production_orders", "quality_holds"])
    assert "Plant Nordhavn Pumps & Fabrication, Aarhus works" in text  # the name on one line, not wrapped


def test_machine_customer_shipment_and_hold_details(sample):
    text = assert_reads_at_80(sample, ["machines", "--at", AT], ["M-WELD-01", "M-PRESS-02"])
    assert "DOWN" in _row(text, "M-WELD-01")  # a word, not colour alone
    assert_reads_at_80(sample, ["machine", "M-WELD-01", "--at", AT], ["PRO-26-0412", "SO-24117/1", "SA-FRAME-400"])
    assert_reads_at_80(sample, ["holds"], ["QH-2611-009", "LOT-C8-24117"])
    text = assert_reads_at_80(
        sample,
        ["customer", "CUST-KESSLER", "--at", AT],
        ["SO-24117/1", "PRO-26-0413", "PRO-26-0411", "SH-61040", "QH-2611-009"],
    )
    assert "Mill certificate" in text
    assert_reads_at_80(
        sample, ["shipment", "SH-61024"], ["SH-61024", "LOT-P100-2611-02", "QH-2611-009", "LOT-C8-24117"]
    )


def test_exception_show_and_owners(sample):
    text = assert_reads_at_80(
        sample, ["exception", "show", "machine_down:M-WELD-01", "--at", AT], ["machine_down:M-WELD-01"]
    )
    assert "event mes" in text and "11-23 06:12" in text  # the feed's system by name, a compact time
    text = assert_reads_at_80(sample, ["owners"], [])
    assert "machine supervisor" in _row(text, "Marta Lindqvist")


def test_find(sample):
    assert_reads_at_80(sample, ["find", "weld"], ["M-WELD-01", "SA-FRAME-400", "R-WIRE-G3SI1"])
