"""Finding things: `engine.search` (find, plant_index, starting_points), `planner-tui find`, the plant's name
(`store.status.plant_name`), and the ctrl+p palette asking the engine, on a hand-worked plant."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from planner_tui.cli import app
from planner_tui.engine.search import EXACT, ID_CONTAINS, KINDS, LABEL, PREFIX, find, plant_index, starting_points
from planner_tui.errors import BadRequest
from planner_tui.store import Store
from planner_tui.store.status import plant_name, plant_status
from tests.plantkit import make_plant

PLANT = dict(
    machines=[
        {"machine_id": "M-WELD-01", "name": "Robot welder"},
        {"machine_id": "M-WELD-02", "name": "Manual welder"},
        {"machine_id": "M-PAINT-01", "name": "Paint line", "plant": "ODENSE"},
    ],
    machine_states=[
        {"machine_id": "M-PAINT-01", "state": "maintenance", "since": "2026-01-05T06:00:00"},
        {"machine_id": "M-WELD-02", "state": "down", "since": "2026-01-05T08:00:00"},
        {"machine_id": "M-WELD-01", "state": "down", "since": "2026-01-05T07:00:00"},
    ],
    resources=[{"resource_id": "OP-ZED", "name": "Zed Operator", "kind": "person"}],
    items=[
        {"item_id": "FG-1", "description": "Welded frame"},
        {"item_id": "CP-9", "description": "Weld nut", "item_type": "component"},
    ],
    customers=[{"customer_id": "ACME", "name": "Acme Tools"}, {"customer_id": "BOLT", "name": "Bolt & Co"}],
    sales_orders=[
        {
            "sales_order_id": "SO-1",
            "line_no": 10,
            "customer_id": "ACME",
            "item_id": "FG-1",
            "promised_date": "2026-01-09",
        },
        {
            "sales_order_id": "SO-1",
            "line_no": 2,
            "customer_id": "ACME",
            "item_id": "FG-1",
            "promised_date": "2026-01-09",
        },
        {
            "sales_order_id": "SO-1",
            "line_no": 1,
            "customer_id": "ACME",
            "item_id": "FG-1",
            "promised_date": "2026-01-09",
        },
        {
            "sales_order_id": "SO-12",
            "line_no": 1,
            "customer_id": "BOLT",
            "item_id": "FG-1",
            "promised_date": "2026-01-09",
            "status": "shipped",
        },
    ],
    production_orders=[
        {
            "production_order_id": "PO-1",
            "item_id": "FG-1",
            "planned_start": "2026-01-05T08:00",
            "planned_end": "2026-01-05T12:00",
        }
    ],
    lots=[{"lot_id": "L-1", "item_id": "CP-9"}, {"lot_id": "L_X%", "item_id": "CP-9"}],
    quality_holds=[
        {"hold_id": "QH-OLD", "lot_id": "L-1", "reason": "porosity", "placed_at": "2026-01-02T00:00:00"},
        {"hold_id": "QH-NEW", "lot_id": "L-1", "reason": "hardness", "placed_at": "2026-01-04T00:00:00"},
        {"hold_id": "QH-DONE", "lot_id": "L-1", "reason": "dents", "status": "released"},
    ],
    shipments=[{"shipment_id": "SH-1", "sales_order_id": "SO-1", "line_no": 1, "planned_ship_date": "2026-01-09"}],
)


@pytest.fixture
def store() -> Store:
    s = make_plant(**PLANT)
    yield s
    s.close()


def ids(hits: list[dict]) -> list[str]:
    return [h["id"] for h in hits]


# --- find --------------------------------------------------------------------------------------------------


def test_exact_id_first_then_prefix_then_contains_then_label(store):
    cur = store.cursor()
    hits = find(cur, "m-weld-01")
    assert hits[0] == {"kind": "machine", "id": "M-WELD-01", "label": "Robot welder (down)", "score": EXACT}
    assert ids(find(cur, "M-WELD")) == ["M-WELD-01", "M-WELD-02"]
    assert {h["score"] for h in find(cur, "M-WELD")} == {PREFIX}
    # "weld": ids containing it (machines), then labels only (items' descriptions), small tables first.
    hits = find(cur, "weld")
    assert [(h["id"], h["score"]) for h in hits] == [
        ("M-WELD-01", ID_CONTAINS),
        ("M-WELD-02", ID_CONTAINS),
        ("CP-9", LABEL),
        ("FG-1", LABEL),
    ]


def test_every_word_must_match_id_or_label_in_any_case(store):
    cur = store.cursor()
    assert ids(find(cur, "WELD manual")) == ["M-WELD-02"]
    assert ids(find(cur, "weld 02")) == ["M-WELD-02"]
    assert find(cur, "weld zebra") == []
    # Statuses are in the labels too, found by any part ("maint" finds "maintenance").
    assert ids(find(cur, "maint")) == ["M-PAINT-01"]
    assert ids(find(cur, "SHIPPED", kind="sales_order")) == ["SO-12/1"]
    assert ids(find(cur, "down welder")) == ["M-WELD-01", "M-WELD-02"]
    # A customer's name reaches its order lines too (their label), after the customer itself.
    assert [(h["kind"], h["id"]) for h in find(cur, "acme tools")][:2] == [
        ("customer", "ACME"),
        ("sales_order", "SO-1/1"),
    ]


def test_sales_order_lines_are_so_slash_line_in_line_order(store):
    cur = store.cursor()
    assert ids(find(cur, "SO-1", kind="sales_order")) == ["SO-1/1", "SO-1/2", "SO-1/10", "SO-12/1"]
    assert find(cur, "so-1/2")[0] == {
        "kind": "sales_order",
        "id": "SO-1/2",
        "label": "for ACME Acme Tools - FG-1 (open)",
        "score": EXACT,
    }
    assert ids(find(cur, "SO-1/1", kind="sales_order")) == ["SO-1/1", "SO-1/10"]
    # The line number alone is not an id: "10" finds no sales order line.
    assert find(cur, "10", kind="sales_order") == []


def test_kind_limit_and_no_words(store):
    cur = store.cursor()
    # The lot's id holds "1"; the holds only in their labels ("lot L-1: ...").
    assert ids(find(cur, "1", kind=["lot", "hold"])) == ["L-1", "QH-DONE", "QH-NEW", "QH-OLD"]
    assert {h["kind"] for h in find(cur, "1", kind=("lot", "production_order"))} == {"lot", "production_order"}
    assert len(find(cur, "", limit=3)) == 3
    assert ids(find(cur, "", kind="customer")) == ["ACME", "BOLT"]
    assert len(find(cur, "-", limit=2)) == 2
    with pytest.raises(BadRequest, match="unknown kind 'widget'"):
        find(cur, "x", kind="widget")
    with pytest.raises(BadRequest, match="limit"):
        find(cur, "x", limit=0)


def test_like_wildcards_are_plain_characters(store):
    cur = store.cursor()
    assert ids(find(cur, "%")) == ["L_X%"]
    assert ids(find(cur, "l_x")) == ["L_X%"]
    assert ids(find(cur, "&")) == ["BOLT", "SO-12/1"]  # the customer, and its line by its name


def test_plant_index_lists_everything_by_kind_then_id(store):
    index = plant_index(store.cursor())
    assert [k for k in KINDS if any(e["kind"] == k for e in index)] == list(KINDS)
    assert len(index) == 3 + 1 + 3 + 2 + 2 + 1 + 4 + 1 + 2
    lines = [e["id"] for e in index if e["kind"] == "sales_order"]
    assert lines == ["SO-1/1", "SO-1/2", "SO-1/10", "SO-12/1"]
    assert {"kind": "shipment", "id": "SH-1", "label": "for SO-1/1 (planned)"} in index
    assert {"kind": "hold", "id": "QH-OLD", "label": "lot L-1: porosity (active)"} in index
    assert plant_index(store.cursor(), kind="customer") == [
        {"kind": "customer", "id": "ACME", "label": "Acme Tools"},
        {"kind": "customer", "id": "BOLT", "label": "Bolt & Co"},
    ]


def test_starting_points_are_stopped_machines_then_active_holds(store):
    cur = store.cursor()
    points = starting_points(cur)
    # Down (longest stopped first), then maintenance; then active holds, newest first; released holds not.
    assert ids(points) == ["M-WELD-01", "M-WELD-02", "M-PAINT-01", "QH-NEW", "QH-OLD"]
    assert points[0]["label"] == "Robot welder (down)"
    assert ids(starting_points(cur, kind="hold", limit=1)) == ["QH-NEW"]


# --- plant name ----------------------------------------------------------------------------------------------


def test_plant_name_from_the_snapshot_else_the_machines(store):
    cur = store.cursor()
    assert plant_name(cur) == "ODENSE, TEST"
    assert plant_status(cur)["plant"] == "ODENSE, TEST"
    cur.execute("INSERT INTO store_meta (key, value) VALUES ('plant', 'Aarhus works')")
    assert plant_name(cur) == "Aarhus works" == plant_status(cur)["plant"]
    assert plant_name(Store.memory().cursor()) is None


# --- CLI -----------------------------------------------------------------------------------------------------


@pytest.fixture
def db_file(tmp_path: Path) -> Path:
    path = tmp_path / "plant.duckdb"
    make_plant(Store.open(path), **PLANT).close()
    return path


def _invoke(*args: str):
    return CliRunner().invoke(app, list(args))


def test_cli_find_json_is_the_engine_answer(db_file, store):
    out = _invoke("find", "weld", "--json", "--db", str(db_file))
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout) == find(store.cursor(), "weld")
    out = _invoke("find", "acme", "tools", "--kind", "sales_order", "-n", "2", "--json", "--db", str(db_file))
    assert ids(json.loads(out.stdout)) == ["SO-1/1", "SO-1/2"]


def test_cli_find_without_words_shows_where_to_start(db_file):
    out = _invoke("find", "--json", "--db", str(db_file))
    assert ids(json.loads(out.stdout)) == ["M-WELD-01", "M-WELD-02", "M-PAINT-01", "QH-NEW", "QH-OLD"]
    out = _invoke("find", "--db", str(db_file))
    assert out.exit_code == 0 and "M-WELD-01" in out.stdout and "QH-NEW" in out.stdout


def test_cli_find_table_and_refusals(db_file):
    out = _invoke("find", "so-1/2", "--db", str(db_file))
    assert out.exit_code == 0 and "SO-1/2" in out.stdout and "Acme Tools" in out.stdout
    out = _invoke("find", "zebra", "--db", str(db_file))
    assert out.exit_code == 0 and "Nothing matches 'zebra'" in out.stdout
    for bad in (("--kind", "widget"), ("--limit", "0")):
        out = _invoke("find", "x", *bad, "--db", str(db_file))
        assert out.exit_code != 0 and "Traceback" not in out.output
        assert len(out.output.strip().splitlines()) == 1, out.output


# --- the palette ---------------------------------------------------------------------------------------------


def test_palette_reads_verbs_and_kinds_from_the_query():
    from planner_tui.console.commands import commands_for, read_query

    assert read_query("impact weld") == ("weld", ("machine",), "impact")
    assert read_query("Trace lot L-1") == ("L-1", ("lot",), "trace")
    assert read_query("go to order SO-1/2") == ("SO-1/2", ("production_order", "sales_order"), None)
    assert read_query("acme tools") == ("acme tools", None, None)
    machine = {"kind": "machine", "id": "M1", "label": "Welder (down)"}
    assert [t for t, _ in commands_for(machine, None)] == ["Impact of machine M1", "Go to machine M1"]
    assert [t for t, _ in commands_for(machine, "impact")] == ["Impact of machine M1"]
    assert commands_for({"kind": "lot", "id": "L-1", "label": "CP-9 (released)"}, None) == [
        ("Trace lot L-1", "CP-9 (released): where it came from and went")
    ]
    assert (
        commands_for({"kind": "sales_order", "id": "SO-1/2", "label": "for ACME"}, None)[0][0] == "Go to order SO-1/2"
    )


def _palette(store: Store, keys: str) -> tuple[list[str], list[tuple[str, str]]]:
    """Type `keys` into ctrl+p on the plant: the commands listed, and what Enter on the first one drilled into."""
    from planner_tui.console.app import PlannerApp

    async def run() -> tuple[list[str], list[tuple[str, str]]]:
        drills: list[tuple[str, str]] = []
        app = PlannerApp(store, at="2026-01-05T12:00:00")
        app.action_drill = lambda kind, ident: drills.append((kind, ident))
        async with app.run_test(size=(120, 36)) as pilot:
            await pilot.pause()
            await pilot.press("ctrl+p")
            await pilot.pause()
            if keys:
                await pilot.press(*keys)
            # Textual's own commands can be listed before the plant's provider answers (in a worker):
            # wait until the list has stopped changing, not merely until it holds something.
            settled, last = 0, None
            for _ in range(100):
                await pilot.pause(0.05)
                found = app.screen.query("CommandList")
                shown = found.first().option_count if found else 0
                settled = settled + 1 if shown and shown == last else 0
                last = shown
                ours = shown and any(
                    str(found.first().get_option_at_index(i).prompt).startswith(("Go to", "Impact", "Trace"))
                    for i in range(shown)
                )
                if (ours and settled >= 4) or settled >= 20:
                    break
            listed = found.first()
            texts = [str(listed.get_option_at_index(i).prompt).split("\n")[0] for i in range(listed.option_count)]
            if keys:
                await pilot.press("enter")
                await pilot.pause()
        return texts, drills

    return asyncio.run(run())


def test_palette_goes_to_what_find_finds(db_file):
    store = Store.open(db_file)
    try:
        assert _palette(store, "trace L_X")[1][:1] == [("lot", "L_X%")]
        texts, drills = _palette(store, "order so-1/2")
        assert texts[0] == "Go to order SO-1/2" and drills[:1] == [("sales_order", "SO-1/2")]
        # Before typing: the stopped machines, then the active holds (after Textual's own commands).
        texts, _ = _palette(store, "")
        ours = [t for t in texts if t.startswith(("Impact", "Go to"))]
        assert ours == [
            "Impact of machine M-WELD-01",
            "Impact of machine M-WELD-02",
            "Impact of machine M-PAINT-01",
            "Go to hold QH-NEW",
            "Go to hold QH-OLD",
        ]
    finally:
        store.close()
