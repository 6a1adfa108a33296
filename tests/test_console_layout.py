"""The console's layout at 80x24 and 120x36, as a new planner sees it over SSH (issue 15, item 6): the
inbox's exception text gets the room, no panel scrolls sideways, the key bar keeps `q Quit` and `? Keys`
on every screen, and the drill-down's sentences carry no raw ISO times. Clock pinned, no live feed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from plantkit import pilot_test, scenario_db
from rich.cells import cell_len
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from planner_tui import present
from planner_tui.console.app import PlannerApp
from planner_tui.console.screens._common import DrillScreen
from planner_tui.console.screenshots import settle
from planner_tui.console.widgets.keybar import KeyBar
from planner_tui.console.widgets.live_table import LiveTable, fit_columns
from planner_tui.console.widgets.panels import PANELS, PANELS_BY_NAME
from planner_tui.store import Store

AT = "2026-11-23T09:00:00"  # after the scenario's last event
ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d|\bT\d\d:\d\d")


@pytest.fixture
def store(tmp_path: Path):
    s = Store.open(scenario_db(tmp_path / "plant.duckdb"))
    yield s
    s.close()


def screen_lines(app: PlannerApp) -> list[str]:
    """The screen as drawn, one string a line."""
    return [strip.text for strip in app.screen._compositor.render_strips()]


def table_lines(table: LiveTable) -> list[str]:
    """The table as drawn: its header, then its rows in view."""
    return [table.render_line(y).text for y in range(table.size.height)]


def key_bar(app: PlannerApp) -> str:
    """The screen's last line: the key bar as drawn."""
    bar = app.screen.query_one(KeyBar)
    assert bar.region.y == app.size.height - 1
    return screen_lines(app)[-1]


async def open_first_row(pilot, panel: str) -> None:
    """Show a panel (its number key), then open the row under its cursor (Enter)."""
    await pilot.press(panel)
    await settle(pilot)  # a panel loads when shown
    await pilot.press("enter")
    await settle(pilot)


def table(app: PlannerApp, name: str) -> LiveTable:
    return app.screen.query_one(f"#table-{name}", LiveTable)


def assert_fits(t: LiveTable) -> None:
    """No sideways scroll, and every header whole (its label or its short form, never clipped)."""
    assert t.size.width > 0, t.id
    assert t.virtual_size.width <= t.scrollable_content_region.width, t.id
    assert t.max_scroll_x == 0, t.id
    spec = {c.key: c for c in PANELS_BY_NAME[str(t.id).removeprefix("table-")].columns}
    for column in t.ordered_columns:
        label = column.label.plain
        assert cell_len(label) <= column.width, (t.id, label, column.width)
        assert label in (spec[str(column.key.value)].label, spec[str(column.key.value)].short), (t.id, label)


# ---------------------------------------------------------------- the inbox at 80x24


@pilot_test
async def test_the_inbox_text_gets_the_room_at_80x24(store: Store) -> None:
    app = PlannerApp(store, at=AT)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        inbox = table(app, "inbox")
        widths = {str(c.key.value): c.width for c in inbox.ordered_columns}
        fixed = {k: w for k, w in widths.items() if k != "title"}
        assert fixed and all(widths["title"] > w for w in fixed.values()), widths
        assert_fits(inbox)

        lines = table_lines(inbox)
        assert len(lines) > 1 and inbox.row_count > 0
        header, first = lines[0], lines[1]
        assert "Exception" in header
        title = str(inbox.get_row_at(0)[4])
        words = title.split()[:4]  # "M-WELD-01 down: 3 customer"
        assert len(words) == 4 and " ".join(words) in first, (title, first)
        # the fixed columns speak in short forms rather than taking the room
        assert inbox.get_row_at(0)[0].plain == "critical" and " CRIT " in first
        cut = [line for line in lines[1:] if "…" in line]
        assert cut and all(not line.split("…")[0].endswith(" ") for line in cut)


# ---------------------------------------------------------------- the key bar at 80 columns


@pilot_test
async def test_the_key_bar_keeps_keys_and_quit_on_every_screen_at_80_columns(store: Store) -> None:
    app = PlannerApp(store, at=AT)
    seen: list[str] = []
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        main = key_bar(app)
        assert "? Keys" in main and "q Quit" in main, main
        seen.append("main")
        # the exception's detail (triage keys), a machine's impact, a shortage, a hold's trace
        for panel, kind in (("1", "ExceptionScreen"), ("2", "ImpactScreen"), ("4", "ShortageScreen"), ("5", "")):
            await open_first_row(pilot, panel)
            assert isinstance(app.screen, DrillScreen) and app.screen.loaded
            assert not kind or type(app.screen).__name__ == kind
            bar = key_bar(app)
            assert "? Keys" in bar and "q Quit" in bar, (type(app.screen).__name__, bar)
            assert "esc Back" in bar, bar
            seen.append(type(app.screen).__name__)
            await pilot.press("escape")
            await settle(pilot)
        assert len(seen) == 5


@pilot_test
async def test_a_key_left_out_of_the_bar_is_still_listed_by_help(store: Store) -> None:
    app = PlannerApp(store, at=AT)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        bar = key_bar(app)
        assert "x Resolve" not in bar and "q Quit" in bar  # 80 columns hold the first triage keys only
        await pilot.press("question_mark")
        await pilot.pause()
        described = dict(app.screen.rows)
        assert described and any("Resolve" in text for text in described.values())


# ---------------------------------------------------------------- no sideways scroll at 120x36 (and 80x24)


@pilot_test
async def test_no_panel_scrolls_sideways_at_120x36(store: Store) -> None:
    app = PlannerApp(store, at=AT)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        tables = list(app.screen.query(LiveTable))
        assert len(tables) == len(PANELS)
        for t in tables:
            assert t.row_count > 0, t.id
            assert_fits(t)
            flex = next(c for c in PANELS_BY_NAME[str(t.id).removeprefix("table-")].columns if c.flex)
            assert flex.key in [str(c.key.value) for c in t.ordered_columns], t.id
        # the side panels' words whole: a customer cut at a word's end, headers not clipped
        orders = "\n".join(table_lines(table(app, "orders")))
        assert "Custom " not in orders and "Customer" in orders
        assert "Kessler…" in orders or "Kessler Process" in orders
        materials = table_lines(table(app, "materials"))[0]
        assert "Recov" not in materials and "To" in materials


@pilot_test
async def test_every_panel_fits_at_80x24_and_keeps_its_id_and_text(store: Store) -> None:
    app = PlannerApp(store, at=AT)
    checked = []
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        for index, panel in enumerate(PANELS, start=1):
            await pilot.press(str(index))
            await settle(pilot)
            t = table(app, panel.name)
            assert t.row_count > 0, panel.name
            assert_fits(t)
            shown = [str(c.key.value) for c in t.ordered_columns]
            assert shown[0] == panel.columns[0].key
            assert next(c.key for c in panel.columns if c.flex) in shown
            if panel.name != "inbox":  # the first column is the row's id, never cut
                ident = str(t.get_row_at(0)[0])
                assert ident == t.cursor_key and f" {ident} " in table_lines(t)[1]
            checked.append(panel.name)
    assert checked == [p.name for p in PANELS]


@pytest.mark.parametrize("room", [56, 76, 116])
def test_columns_fit_the_room_of_a_side_panel_and_of_80_and_120_columns(room: int) -> None:
    for panel in PANELS:
        if panel.name == "inbox" and room < 76:
            continue  # the inbox spans the screen: 76 cells at 80 columns, never a side panel
        layout = fit_columns(panel.columns, room, 2)
        assert layout and sum(width + 2 for _, width in layout) <= room, (panel.name, layout)
        flex = next(c for c in panel.columns if c.flex)
        assert dict((c.key, w) for c, w in layout)[flex.key] >= max(flex.want, flex.width), panel.name


# ---------------------------------------------------------------- times through present.py


def _labels(node: TreeNode) -> list[str]:
    out = []
    for child in node.children:
        out.append(str(child.label.plain if hasattr(child.label, "plain") else child.label))
        out.extend(_labels(child))
    return out


def _tell(app: PlannerApp) -> list[str]:
    tree = app.screen.query_one(Tree)
    stack = [tree.root]
    while stack:
        node = stack.pop()
        if str(node.label).startswith("Tell these people"):
            return _labels(node)
        stack.extend(node.children)
    return []


@pilot_test
async def test_tell_these_people_says_times_without_iso(store: Store) -> None:
    app = PlannerApp(store, at=AT)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        checked = 0
        for panel in ("1", "2"):  # the exception's detail, the machine's impact
            await open_first_row(pilot, panel)
            told = _tell(app)
            sentences = [t for t in told if re.search(r"\d\d-\d\d", t)]
            assert told and sentences, type(app.screen).__name__
            assert not [t for t in told if ISO.search(t)], told
            assert any(re.search(r"\b\d\d-\d\d \d\d:\d\d\b", t) for t in sentences)  # present.short_time's form
            checked += 1
            await pilot.press("escape")
            await settle(pilot)
        assert checked == 2
        assert not [line for line in screen_lines(app) if ISO.search(line)]


@pytest.mark.parametrize(
    ("text", "short"),
    [
        ("stopped at 2026-11-23T06:12:00 (down 2h)", "stopped at 11-23 06:12 (down 2h)"),
        ("stopped at 2026-11-23T06:12:00+00:00 (down 2h)", "stopped at 11-23 06:12 (down 2h)"),
        ("ETA 2026-11-25T02:05Z after promised 2026-11-24", "ETA 11-25 02:05 after promised 11-24"),
        ("at 2026-11-23T06:12:00.250000, then", "at 11-23 06:12, then"),
    ],
)
def test_an_engine_sentence_says_its_times_short(text: str, short: str) -> None:
    assert present.short_times_in(text) == short


@pytest.mark.parametrize(
    ("text", "width", "cut"),
    [
        ("M-WELD-01 down: 3 customer lines late (Robot welding cell)", 37, "M-WELD-01 down: 3 customer lines…"),
        ("Kessler Process Engineering GmbH", 14, "Kessler…"),
        ("Eva Holm (QA)", 10, "Eva Holm…"),
        ("LOT-C8-24117-XYZ", 10, "LOT-C8-24…"),
        ("Tomasz Nowak", 12, "Tomasz Nowak"),
    ],
)
def test_text_is_cut_at_a_words_end_with_an_ellipsis(text: str, width: int, cut: str) -> None:
    assert present.clip(text, width) == cut
    assert cell_len(present.clip(text, width)) <= width


def test_short_forms_for_narrow_columns() -> None:
    assert [present.severity_short(s) for s in ("critical", "high", "medium", "low")] == ["CRIT", "HIGH", "MED", "LOW"]
    assert [present.status_short(s) for s in ("open", "acknowledged", "snoozed", "resolved")] == [
        "open",
        "ack",
        "snz",
        "res",
    ]
    assert present.status_short("acknowledged, cleared") == "ack clr"
    assert present.day_of("11-25 02:05") == "11-25" and present.day_of("not in view") == "not in view"


# ---------------------------------------------------------------- trees: cut, never scrolled sideways


def _nodes(node: TreeNode) -> list[TreeNode]:
    out = [node]
    for child in node.children:
        out.extend(_nodes(child))
    return out


@pytest.mark.parametrize("size", [(80, 24), (120, 36)])
@pilot_test
async def test_a_drill_tree_cuts_long_labels_and_shows_the_cursors_whole(store: Store, size) -> None:
    """The impact and exception trees are never wider than their screen: a long label ends in "…" at a
    word's end, and under the tree the cursor's label is shown whole while it is cut."""
    from textual.widgets import Static

    from planner_tui.console.screens._common import DrillTree

    app = PlannerApp(store, at=AT)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        checked = 0
        for panel in ("1", "2"):  # the exception's detail, the machine's impact
            await open_first_row(pilot, panel)
            tree = app.screen.query_one(DrillTree)
            assert tree.virtual_size.width <= tree.scrollable_content_region.width
            cut = [n for n in _nodes(tree.root) if tree._room(n) < n.label.cell_len + (2 if n.allow_expand else 0)]
            assert cut, type(app.screen).__name__  # these screens have long lines at both sizes
            rendered = tree.render_label(cut[0], tree.rich_style, tree.rich_style).plain
            assert rendered.endswith(present.ELLIPSIS) and len(rendered) < len(cut[0].label.plain)
            tree.move_cursor(cut[0])
            await settle(pilot)
            line = app.screen.query_one("#drill-line", Static)
            assert line.display and str(line.render()) == cut[0].label.plain
            tree.move_cursor(tree.root)  # a short label: nothing to show
            await settle(pilot)
            assert not line.display
            checked += 1
            await pilot.press("escape")
            await settle(pilot)
        assert checked == 2
