"""Drill-down screens on the sample plant, clock pinned: impact tree, order links, trace, shortage chart,
breadcrumb and Escape back, unknown ids. Driven by Textual's pilot through the real console app
(PlannerApp over the store), as the planner drives it."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path

import pytest
from textual.app import App
from textual.widgets import DataTable, Static, Tree

from planner_tui.console.app import PlannerApp
from planner_tui.console.screenshots import wait_loaded
from planner_tui.store import Store
from planner_tui.timeutil import parse_timestamp

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_data" / "plant"
AT = datetime(2026, 11, 23, 6, 0)  # the sample snapshot's as_of
USER = "ana.planner"


def console(store: Store, at: datetime = AT, user: str = USER) -> PlannerApp:
    """The planner's console over `store`, its clock pinned at `at`, acting as `user`; its triage is
    recorded at `at` too (a real console records the real clock), so tests can say when."""
    pinned = parse_timestamp(at)
    return PlannerApp(store, at=at, user=user, animate=False, triage_clock=lambda: pinned)


def event(n: int, type_: str, time: str, **data) -> dict:
    return {
        "specversion": "1.0",
        "id": f"t-{n}",
        "source": "test-feed",
        "type": type_,
        "time": time,
        "sequence": n,
        "data": data,
    }


def sample_store(events: list[dict] | None = None) -> Store:
    from planner_tui.store.loader import load_snapshot

    store = Store.memory()
    load_snapshot(store, str(SAMPLE))
    if events:
        from planner_tui.store.events import apply_events

        apply_events(store, events, feed="test-feed")
    return store


# The tests' own events over the sample plant, so they do not hang on the sample's exact numbers:
# M-WELD-01 (the machine every make-to-order chain runs through) down at 05:30 for two days, which makes
# customer lines late whatever the sample's slack...
WELD_DOWN = event(
    1,
    "machine.down",
    "2026-11-23T05:30:00Z",
    machine_id="M-WELD-01",
    reason="Wire feeder jammed, torch damaged",
    expected_minutes=2880,
)
# ...and a big rush order for pump sets due tomorrow, which no stock or order covers: a shortage of P-200.
RUSH_ORDER = event(
    2,
    "order.confirmed",
    "2026-11-23T05:40:00Z",
    sales_order_id="SO-RUSH",
    line_no=1,
    customer_id="CUST-KESSLER",
    item_id="P-200",
    qty=500,
    promised_date="2026-11-24",
)
SHORT_ITEM = "P-200"


@pytest.fixture
def store() -> Store:
    s = sample_store([WELD_DOWN, RUSH_ORDER])
    yield s
    s.close()


def labels(tree: Tree) -> list[str]:
    """Every node label in the tree, depth first (collapsed branches included)."""
    out: list[str] = []

    def walk(node) -> None:
        out.append(node.label.plain)
        for child in node.children:
            walk(child)

    walk(tree.root)
    return out


def find_node(tree: Tree, predicate):
    stack = [tree.root]
    while stack:
        node = stack.pop(0)
        if predicate(node):
            return node
        stack.extend(node.children)
    return None


async def open_screen(pilot, kind: str, ident: str):
    pilot.app.action_drill(kind, ident)
    await wait_loaded(pilot)
    return pilot.app.screen


def notifications(app: App) -> list[str]:
    return [n.message for n in app._notifications]


# --- impact ----------------------------------------------------------------------------------------


def test_impact_tree_shows_late_customer_lines_and_who_to_tell(store: Store) -> None:
    async def run() -> None:
        app = console(store)
        async with app.run_test(size=(120, 36)) as pilot:
            screen = await open_screen(pilot, "machine", "M-WELD-01")
            assert type(screen).__name__ == "ImpactScreen"
            assert screen.crumb == "M-WELD-01 impact"
            from planner_tui.engine.impact import machine_impact

            expected = machine_impact(store.cursor(), "M-WELD-01")
            text = labels(screen.query_one(Tree))
            late = [s for s in expected["sales_orders"] if s["late"]]
            assert late, "the sample's weld stop makes customer lines late"
            for line in late:
                key = f"{line['sales_order_id']}/{line['line_no']}"
                assert any(key in t and "LATE" in t for t in text), key
            notify = [t for t in text if t.startswith("Tell these people")]
            assert notify and f"({len(expected['notify'])})" in notify[0]
            for person in expected["notify"]:
                assert any(person["person"] in t for t in text)
            # The counts say what they count: lateness against the promise apart from the slip.
            summary = str(screen.query_one("#drill-summary", Static).render())
            turned = sum(1 for s in expected["sales_orders"] if s["late"] and not s["late_in_plan"])
            slipping = sum(1 for s in expected["sales_orders"] if s["slip_minutes"] > 0)
            assert turned and slipping
            assert f"{turned} turned late by this stop" in summary, summary
            assert f"{slipping} slip" in summary and "already late in the plan" in summary, summary

    asyncio.run(run())


def test_enter_on_an_order_node_drills_into_the_order_and_escape_comes_back(store: Store) -> None:
    async def run() -> None:
        app = console(store)
        async with app.run_test(size=(120, 36)) as pilot:
            screen = await open_screen(pilot, "machine", "M-WELD-01")
            tree = screen.query_one(Tree)
            node = find_node(tree, lambda n: n.data and n.data[0] == "production_order" and n.parent.is_expanded)
            assert node is not None
            tree.move_cursor(node)
            cursor_before = tree.cursor_line
            await pilot.press("enter")
            await wait_loaded(pilot)
            order_screen = app.screen
            assert type(order_screen).__name__ == "OrderScreen"
            assert (order_screen.kind, order_screen.ident) == node.data
            crumbs = str(order_screen.query_one("#drill-crumbs", Static).render())
            assert "M-WELD-01 impact" in crumbs and node.data[1] in crumbs
            await pilot.press("escape")
            await pilot.pause()
            assert app.screen is screen
            assert screen.query_one(Tree).cursor_line == cursor_before
            await pilot.press("escape")
            await pilot.pause()
            assert len(app.screen_stack) == 1

    asyncio.run(run())


# --- trace -----------------------------------------------------------------------------------------


def test_trace_of_the_active_hold_lot_shows_forward_and_backward(store: Store) -> None:
    from planner_tui.engine.trace import trace_lot

    lot_id = store.con.execute(
        "SELECT lot_id FROM quality_holds WHERE status = 'active' ORDER BY placed_at LIMIT 1"
    ).fetchone()[0]
    expected = trace_lot(store.cursor(), lot_id)

    async def run() -> None:
        app = console(store)
        async with app.run_test(size=(120, 36)) as pilot:
            screen = await open_screen(pilot, "lot", lot_id)
            assert type(screen).__name__ == "TraceScreen"
            tree = screen.query_one(Tree)
            text = labels(tree)
            assert any(t.startswith("Forward: lots made from it") for t in text)
            assert any(t.startswith("Backward: lots it came from") for t in text)
            for lot in expected["descendants"] + expected["ancestors"]:
                assert any(t.startswith(lot["lot_id"]) for t in text), lot["lot_id"]
            for row in expected["inventory"]:
                assert any(row["location"] in t for t in text)
            # the hold is on the tree and can be drilled into
            hold = find_node(tree, lambda n: n.data and n.data[0] == "hold")
            assert hold is not None
            # Enter on an ancestor/descendant lot drills into its own trace
            other = find_node(
                tree, lambda n: n.data and n.data[0] == "lot" and n.data[1] != lot_id and n.parent.is_expanded
            )
            if other is not None:
                tree.move_cursor(other)
                await pilot.press("enter")
                await wait_loaded(pilot)
                assert app.screen.ident == other.data[1]

    asyncio.run(run())


def test_trace_by_hold_id(store: Store) -> None:
    async def run() -> None:
        app = console(store)
        async with app.run_test(size=(120, 36)) as pilot:
            hold_id, lot_id = store.con.execute(
                "SELECT hold_id, lot_id FROM quality_holds WHERE status = 'active' ORDER BY hold_id LIMIT 1"
            ).fetchone()
            screen = await open_screen(pilot, "hold", hold_id)
            assert screen.crumb == f"hold {hold_id} trace"
            summary = str(screen.query_one("#drill-summary", Static).render())
            assert lot_id in summary and f"hold {hold_id} active" in summary

    asyncio.run(run())


# --- shortage --------------------------------------------------------------------------------------


def _short_item(store: Store) -> dict:
    from planner_tui.engine.shortages import shortages

    found = [s for s in shortages(store.cursor(), at=AT)["shortages"] if s["item_id"] == SHORT_ITEM]
    assert found, "the rush order makes P-200 short"
    return found[0]


def test_shortage_chart_and_affected_orders(store: Store) -> None:
    short = _short_item(store)

    async def run() -> None:
        app = console(store)
        async with app.run_test(size=(120, 36)) as pilot:
            screen = await open_screen(pilot, "item", short["item_id"])
            assert type(screen).__name__ == "ShortageScreen"
            chart = screen.query_one("#shortage-chart")
            drawn = str(chart.render())
            assert "▒" in drawn, "the short stretch is drawn below the zero line"
            assert "SHORT" in str(screen.query_one("#drill-summary", Static).render())
            table = screen.query_one(DataTable)
            flagged = [
                table.get_row_at(i) for i in range(table.row_count) if "SHORT: affected" in str(table.get_row_at(i)[-1])
            ]
            affected_ids = {a["id"] for a in short["affected"]}
            assert {str(r[2]) for r in flagged} == affected_ids
            # Enter on an affected row drills into that order
            index = next(i for i in range(table.row_count) if "SHORT: affected" in str(table.get_row_at(i)[-1]))
            table.move_cursor(row=index)
            await pilot.press("enter")
            await wait_loaded(pilot)
            assert type(app.screen).__name__ == "OrderScreen"
            assert app.screen.ident == str(table.get_row_at(index)[2])
            assert app.screen.kind in ("production_order", "sales_order")

    asyncio.run(run())


def test_projection_chart_marks_zero_safety_and_short() -> None:
    from planner_tui.console.screens.shortage import projection_chart

    start = datetime(2026, 1, 5)
    points = [
        {"at": start, "balance": 10.0},
        {"at": datetime(2026, 1, 6), "balance": -5.0},
        {"at": datetime(2026, 1, 8), "balance": 20.0},
    ]
    rows = [r.plain for r in projection_chart(points, on_hand=10, safety_stock=4, start=start, width=50, height=8)]
    assert any(r.strip().startswith("0│") and "─" in r for r in rows), rows
    assert any("SS 4" in r and "┄" in r for r in rows), rows
    assert any("▒" in r for r in rows) and any("█" in r for r in rows)
    assert "01-05 00:00" in rows[-1]


# --- unknown ids, breadcrumb -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind,ident",
    [
        ("machine", "M-NOPE"),
        ("lot", "LOT-NOPE"),
        ("item", "NOPE"),
        ("customer", "NOPE"),
        ("shipment", "NOPE"),
        ("spaceship", "X"),
    ],
)
def test_unknown_id_is_a_notification_not_a_crash(store: Store, kind: str, ident: str) -> None:
    async def run() -> None:
        app = console(store)
        async with app.run_test(size=(80, 24)) as pilot:
            await open_screen(pilot, kind, ident)
            await pilot.pause()
            assert len(app.screen_stack) == 1, "back on the screen the planner came from"
            assert any(ident in m for m in notifications(app))

    asyncio.run(run())


def test_customer_and_shipment_details_drill_on(store: Store) -> None:
    async def run() -> None:
        app = console(store)
        async with app.run_test(size=(120, 36)) as pilot:
            screen = await open_screen(pilot, "customer", "CUST-KESSLER")
            text = labels(screen.query_one(Tree))
            assert any(t.startswith("Open order lines") for t in text)
            assert "Anna Kowalczyk" in str(screen.query_one("#drill-summary", Static).render())
            screen = await open_screen(pilot, "shipment", "SH-61020")
            tree = screen.query_one(Tree)
            customer = find_node(tree, lambda n: n.data and n.data[0] == "customer")
            assert customer is not None
            crumbs = str(screen.query_one("#drill-crumbs", Static).render())
            assert "customer CUST-KESSLER > shipment SH-61020" in crumbs

    asyncio.run(run())


def test_customer_and_shipment_screens_show_holds_overdue_and_made_for_orders() -> None:
    """On the hand-worked plant of test_details (clock Jan 6 12:00): what the engine answers, drawn."""
    from test_details import AT as DETAIL_AT
    from test_details import build as build_detail_plant

    async def run() -> None:
        app = console(build_detail_plant(), at=DETAIL_AT)
        async with app.run_test(size=(80, 30)) as pilot:
            screen = await open_screen(pilot, "customer", "ACME")
            tree = screen.query_one(Tree)
            groups = [c.label.plain for c in tree.root.children]
            assert groups[0].startswith("Active holds reaching its shipments (2)"), "quality first"
            so11 = find_node(tree, lambda n: n.data == ("sales_order", "SO-1/1"))
            assert "OVERDUE" in so11.label.plain
            assert ("production_order", "PO-A") in [c.data for c in so11.children]
            shipments = find_node(tree, lambda n: n.label.plain.startswith("Shipments"))
            assert [c.data for c in shipments.children] == [
                ("shipment", "SH-4"),
                ("shipment", "SH-1"),
                ("shipment", "SH-2"),
            ], "a shipment row opens the shipment"
            screen = await open_screen(pilot, "shipment", "SH-1")
            tree = screen.query_one(Tree)
            held = find_node(tree, lambda n: n.data == ("lot", "L-P2"))
            assert "ON HOLD H-2" in held.label.plain and ("hold", "H-2") in [c.data for c in held.children]
            upstream = find_node(tree, lambda n: n.label.plain.startswith("Holds on lots they were made from"))
            assert [c.data for c in upstream.children] == [("hold", "H-1")]

    asyncio.run(run())


# --- order links -----------------------------------------------------------------------------------


def test_production_order_links_show_what_feeds_it_and_what_it_feeds(store: Store) -> None:
    async def run() -> None:
        app = console(store)
        async with app.run_test(size=(120, 36)) as pilot:
            # PRO-26-0411 (pump P-200 for SO-24117/1) is fed by the weld base PRO-26-0412 and PRO-26-0413
            screen = await open_screen(pilot, "production_order", "PRO-26-0411")
            tree = screen.query_one(Tree)
            fed_by = find_node(tree, lambda n: n.label.plain.startswith("Fed by"))
            assert {c.data[1] for c in fed_by.children} == {"PRO-26-0412", "PRO-26-0413"}
            lines = find_node(tree, lambda n: n.label.plain.startswith("Customer order lines"))
            assert [c.data for c in lines.children] == [("sales_order", "SO-24117/1")]
            # and from the feeder, what it feeds
            screen = await open_screen(pilot, "production_order", "PRO-26-0412")
            feeds = find_node(screen.query_one(Tree), lambda n: n.label.plain.startswith("Feeds"))
            assert [c.data for c in feeds.children] == [("production_order", "PRO-26-0411")]
            ops = find_node(screen.query_one(Tree), lambda n: n.label.plain.startswith("Operations"))
            assert ("machine", "M-WELD-01") in [c.data for c in ops.children]

    asyncio.run(run())


def test_sales_order_line_links_nest_the_chain_that_makes_it(store: Store) -> None:
    async def run() -> None:
        app = console(store)
        async with app.run_test(size=(120, 36)) as pilot:
            screen = await open_screen(pilot, "sales_order", "SO-24117/1")
            assert screen.crumb == "SO-24117/1 links"
            tree = screen.query_one(Tree)
            made_by = find_node(tree, lambda n: n.label.plain.startswith("Made by"))
            assert [c.data for c in made_by.children] == [("production_order", "PRO-26-0411")]
            assert {c.data[1] for c in made_by.children[0].children} == {"PRO-26-0412", "PRO-26-0413"}
            assert "CUST-KESSLER" in str(screen.query_one("#drill-summary", Static).render())

    asyncio.run(run())


def test_data_changed_reloads_the_screen_in_place(store: Store) -> None:
    from planner_tui.console.messages import DataChanged
    from planner_tui.store.events import apply_events

    async def run() -> None:
        app = console(store)
        async with app.run_test(size=(120, 36)) as pilot:
            screen = await open_screen(pilot, "customer", "CUST-KESSLER")
            before = len(
                find_node(screen.query_one(Tree), lambda n: n.label.plain.startswith("Open order lines")).children
            )
            apply_events(
                store,
                [
                    event(
                        7,
                        "order.confirmed",
                        "2026-11-23T05:55:00Z",
                        sales_order_id="SO-29999",
                        line_no=1,
                        customer_id="CUST-KESSLER",
                        item_id="P-200",
                        qty=2,
                        promised_date="2026-12-10",
                    )
                ],
                feed="test-feed",
            )
            screen.post_message(DataChanged(1, 1))
            await wait_loaded(pilot)
            lines = find_node(screen.query_one(Tree), lambda n: n.label.plain.startswith("Open order lines"))
            assert len(lines.children) == before + 1
            assert any(c.data == ("sales_order", "SO-29999/1") for c in lines.children)

    asyncio.run(run())


def test_downtime_what_if_recomputes_the_impact(store: Store) -> None:
    from planner_tui.console.dialogs.downtime import parse_downtime

    assert [parse_downtime(t) for t in ("240", "90m", "4h", "1.5d")] == [240, 90, 240, 2160]
    with pytest.raises(ValueError):
        parse_downtime("soon")

    async def run() -> None:
        app = console(store)
        async with app.run_test(size=(120, 36)) as pilot:
            screen = await open_screen(pilot, "machine", "M-WELD-01")
            assert screen.data["down_minutes"] == 2880
            late_before = sum(1 for s in screen.data["sales_orders"] if s["late"])
            await pilot.press("d")
            await pilot.pause()
            assert type(app.screen).__name__ == "DowntimeDialog"
            await pilot.press(*("backspace",) * 5, *"soon", "enter")
            await pilot.pause()
            assert "not a duration" in str(app.screen.query_one("#downtime-error", Static).render())
            await pilot.press(*("backspace",) * 5, *"20m", "enter")
            await wait_loaded(pilot)
            await wait_loaded(pilot)
            assert app.screen is screen
            assert screen.data["down_minutes"] == 20
            assert "for 20m (what-if" in str(screen.query_one("#drill-summary", Static).render())
            assert sum(1 for s in screen.data["sales_orders"] if s["late"]) <= late_before

    asyncio.run(run())


def test_the_console_drills_from_an_exception_and_comes_back(store: Store) -> None:
    """Exception, triage, its machine's impact, and back to the main screen: the whole shell."""

    async def run() -> None:
        app = console(store)
        async with app.run_test(size=(120, 36)) as pilot:
            await wait_loaded(pilot)
            main = app.screen
            app.action_drill("exception", "machine_down:M-WELD-01")
            await wait_loaded(pilot)
            assert type(app.screen).__name__ == "ExceptionScreen"
            await pilot.press("a")
            await wait_loaded(pilot)
            await wait_loaded(pilot)
            row = store.con.execute(
                "SELECT status, updated_by FROM exception_triage WHERE exception_id = 'machine_down:M-WELD-01'"
            ).fetchone()
            assert row == ("acknowledged", USER)
            await pilot.press("enter")  # the cursor starts on "Open impact of machine M-WELD-01"
            await wait_loaded(pilot)
            assert type(app.screen).__name__ == "ImpactScreen"
            crumbs = str(app.screen.query_one("#drill-crumbs", Static).render())
            assert "machine_down:M-WELD-01 > M-WELD-01 impact" in crumbs
            await pilot.press("escape")
            await pilot.press("escape")
            await pilot.pause()
            assert app.screen is main

    asyncio.run(run())


def test_r_refreshes_a_drill_down_and_never_resolves_its_exception(store: Store) -> None:
    """On the main screen "r" is Refresh; on an impact screen it must refresh too, not close the stop."""

    async def run() -> None:
        app = console(store)
        async with app.run_test(size=(120, 36)) as pilot:
            screen = await open_screen(pilot, "machine", "M-WELD-01")
            before = screen._generation
            await pilot.press("r")
            await wait_loaded(pilot)
            assert screen._generation > before  # it reloaded
            rows = store.con.execute("SELECT count(*) FROM exception_actions").fetchone()[0]
            assert rows == 0  # and nothing was triaged

    asyncio.run(run())
