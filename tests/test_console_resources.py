"""Resources in the console (issue 11, "plant time"): a person's absence asked like a machine stop, and a
stop's slip shown apart from lateness against the promise.

On a hand-worked plant (clock Jan 5 07:00, no calendars: every minute works):
  * ANNA (person, Anna Berg, supervisor Lea) is needed by P1 op 10 (M1, 08:00-10:00), made for SO-1/1
    promised Jan 5, and by P2A op 10 (M1, 10:00-11:00), one of the two orders made for SO-2/1;
  * SO-2/1 is promised Jan 6: the plan already has it late (its other order P2B ends Jan 10 10:00); not
    yet past its promise, which would make it OVERDUE whatever the plan says.
Anna away 30 h from 07:00: P1 runs Jan 6 13:00-15:00, so SO-1/1 turns late (+1d) and slips 29 h; P2A
moves too, but SO-2/1's ETA stays P2B's end: it does not slip, it was and stays late in the plan (+4d).

Driven by Textual's pilot through the real console app, as the planner drives it.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

import pytest
from plantkit import make_plant
from test_console_drilldown import console, find_node, open_screen
from textual.widgets import Static, Tree

from planner_tui.access import LocalPlant
from planner_tui.console.screenshots import wait_loaded
from planner_tui.present import duration, slip
from planner_tui.store import Store

AT = datetime(2026, 1, 5, 7, 0)
AWAY_MINUTES = 30 * 60


def _op(po: str, machine: str, start: str, end: str) -> dict:
    return {"production_order_id": po, "op_seq": 10, "machine_id": machine, "planned_start": start, "planned_end": end}


def _po(po: str, so: str, start: str, end: str) -> dict:
    return {
        "production_order_id": po,
        "item_id": "X",
        "planned_start": start,
        "planned_end": end,
        "sales_order_id": so,
        "line_no": 1,
    }


def build(*, anna_away: bool = False) -> Store:
    """The plant of the module docstring; `anna_away`: the store has Anna unavailable since 07:00 for 30 h
    (as a resource.unavailable event leaves it)."""
    tables: dict[str, list[dict]] = {
        "machines": [{"machine_id": "M1", "name": "Press", "supervisor": "Sam"}, {"machine_id": "M2"}],
        "resources": [{"resource_id": "ANNA", "name": "Anna Berg", "kind": "person", "supervisor": "Lea"}],
        "items": [{"item_id": "X"}],
        "customers": [{"customer_id": "C1", "name": "Acme", "account_manager": "Amy"}],
        "sales_orders": [
            {"sales_order_id": "SO-1", "customer_id": "C1", "item_id": "X", "promised_date": "2026-01-05"},
            {"sales_order_id": "SO-2", "customer_id": "C1", "item_id": "X", "promised_date": "2026-01-06"},
        ],
        "production_orders": [
            _po("P1", "SO-1", "2026-01-05T08:00", "2026-01-05T10:00"),
            _po("P2A", "SO-2", "2026-01-05T10:00", "2026-01-05T11:00"),
            _po("P2B", "SO-2", "2026-01-10T08:00", "2026-01-10T10:00"),
        ],
        "operations": [
            _op("P1", "M1", "2026-01-05T08:00", "2026-01-05T10:00"),
            _op("P2A", "M1", "2026-01-05T10:00", "2026-01-05T11:00"),
            _op("P2B", "M2", "2026-01-10T08:00", "2026-01-10T10:00"),
        ],
        "operation_resources": [
            {"production_order_id": "P1", "op_seq": 10, "resource_id": "ANNA"},
            {"production_order_id": "P2A", "op_seq": 10, "resource_id": "ANNA"},
        ],
    }
    if anna_away:
        tables["resource_states"] = [
            {
                "resource_id": "ANNA",
                "state": "unavailable",
                "since": "2026-01-05T07:00:00",
                "reason": "sick",
                "expected_minutes": AWAY_MINUTES,
            }
        ]
    return make_plant(**tables)


@pytest.fixture
def store() -> Store:
    s = build()
    yield s
    s.close()


@pytest.fixture
def away_store() -> Store:
    s = build(anna_away=True)
    yield s
    s.close()


def summary_of(screen) -> str:
    return str(screen.query_one("#drill-summary", Static).render())


def line_node(tree: Tree, line_id: str):
    node = find_node(tree, lambda n: n.data == ("sales_order", line_id))
    assert node is not None, f"{line_id} is listed"
    return node


def check_lines(tree: Tree, answer: dict) -> int:
    """Each customer line of the impact says its slip and, apart, its standing against the promise, as the
    engine's answer has them. Returns how many lines it checked."""
    checked = 0
    for line in answer["sales_orders"]:
        label = line_node(tree, f"{line['sales_order_id']}/{line['line_no']}").label.plain
        moved = line["slip_minutes"] > 0
        assert (f"slip {slip(line['slip_minutes'])}" if moved else "slip —") in label, label
        if line["late"] and line["late_in_plan"]:
            assert f"LATE in plan +{line['days_late']}d" in label, label
        elif line["late"]:
            assert f"LATE +{line['days_late']}d" in label and "in plan" not in label, label
        else:
            assert "on time" in label, label
        checked += 1
    return checked


# --- the line's slip apart from its lateness (a) turned late (b) late in the plan, not moved -------------


def test_the_impact_shows_each_lines_slip_apart_from_its_standing_against_the_promise(away_store: Store) -> None:
    expected = LocalPlant(away_store).resource_impact("ANNA")
    lines = {f"{s['sales_order_id']}/{s['line_no']}": s for s in expected["sales_orders"]}
    # The plant does what the docstring says, or the labels below would prove nothing.
    assert lines["SO-1/1"]["turns_late"] and lines["SO-1/1"]["slip_minutes"] == 29 * 60
    assert lines["SO-2/1"]["late_in_plan"] and lines["SO-2/1"]["slip_minutes"] == 0
    assert lines["SO-2/1"]["days_late"] == 4

    async def run() -> None:
        app = console(away_store, at=AT)
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await open_screen(pilot, "resource_impact", "ANNA")
            assert type(screen).__name__ == "ResourceImpactScreen"
            tree = screen.query_one(Tree)
            assert check_lines(tree, expected) == 2
            turned = line_node(tree, "SO-1/1").label.plain
            assert "slip +1d 5h" in turned and "LATE +1d" in turned
            in_plan = line_node(tree, "SO-2/1").label.plain
            assert "slip —" in in_plan and "LATE in plan +4d" in in_plan
            # The slip and the standing come before the dates: both readable at 80 columns.
            assert in_plan.index("LATE in plan") < in_plan.index("promised")
            # Turned late by this stop first.
            group = find_node(tree, lambda n: n.label.plain.startswith("Customer order lines"))
            assert [c.data for c in group.children] == [("sales_order", "SO-1/1"), ("sales_order", "SO-2/1")]
            # Every count says what it counts.
            summary = summary_of(screen)
            assert "2 lines: 1 turned late by this stop · 1 already late in the plan · 1 slip" in summary
            customer = find_node(tree, lambda n: n.data == ("customer", "C1") and n.parent.parent is tree.root)
            assert customer is not None
            assert "1 turned late" in customer.label.plain and "1 late in plan" in customer.label.plain

    asyncio.run(run())


def test_a_line_the_stop_moves_but_leaves_on_time_says_so() -> None:
    from planner_tui.console.screens.drilldown import late_words, line_counts

    on_time = {"late": False, "late_in_plan": False, "slip_minutes": 90, "days_late": 0}
    assert late_words(on_time).plain == "slip +1h 30m  on time"
    unmoved = {"late": False, "late_in_plan": False, "slip_minutes": 0.0, "days_late": 0}
    assert late_words(unmoved).plain == "slip —  on time"
    later_still = {
        "late": True,
        "late_in_plan": True,
        "slip_minutes": 2 * 1440,
        "days_late": 5,
        "planned_eta": "2026-01-04T10:00:00",
        "promised_date": "2026-01-01",
    }
    assert late_words(later_still).plain == "slip +2d  LATE in plan +3d -> +5d"
    counts = line_counts([on_time, unmoved, later_still]).plain
    assert counts == "3 lines: 0 turned late by this stop · 1 already late in the plan · 2 slip"


# --- a resource from the palette, its detail, its impact for a duration -----------------------------------


async def _palette_choose(pilot, typed: str, wanted: str) -> list[str]:
    """Type into ctrl+p, wait for the plant's commands to settle, choose the one reading `wanted`."""
    app = pilot.app
    await pilot.press("ctrl+p")
    await pilot.pause()
    await pilot.press(*typed)
    texts: list[str] = []
    settled, last = 0, None
    for _ in range(100):
        await pilot.pause(0.05)
        found = app.screen.query("CommandList")
        listed = found.first() if found else None
        texts = (
            [str(listed.get_option_at_index(i).prompt).split("\n")[0] for i in range(listed.option_count)]
            if listed
            else []
        )
        settled = settled + 1 if texts and texts == last else 0
        last = texts
        if wanted in texts and settled >= 4:
            break
    assert wanted in texts, texts
    listed = app.screen.query_one("CommandList")
    listed.highlighted = texts.index(wanted)
    await pilot.pause()
    await pilot.press("enter")
    await wait_loaded(pilot)
    return texts


def test_a_resource_from_the_palette_then_its_impact_for_a_duration(store: Store) -> None:
    expected = LocalPlant(store).resource_impact("ANNA", at=AT, down_minutes=AWAY_MINUTES)
    assert [op["production_order_id"] for op in expected["operations"]] == ["P1", "P2A"]

    async def run() -> None:
        app = console(store, at=AT)
        async with app.run_test(size=(100, 30)) as pilot:
            await wait_loaded(pilot)
            offered = await _palette_choose(pilot, "resource ANNA", "Go to resource ANNA")
            assert "Impact of resource ANNA" in offered
            screen = app.screen
            assert type(screen).__name__ == "ResourceScreen" and screen.ident == "ANNA"
            summary = summary_of(screen)
            assert "ANNA (person, Anna Berg)" in summary and "available" in summary
            assert "supervisor Lea" in summary and "2 open operation(s) on M1" in summary
            tree = screen.query_one(Tree)
            ops = find_node(tree, lambda n: n.label.plain.startswith("Next open operations"))
            assert [c.data for c in ops.children] == [("production_order", "P1"), ("production_order", "P2A")]
            assert all("on M1" in c.label.plain for c in ops.children)
            assert ("machine", "M1") in [g.data for g in ops.children[0].children]

            # d: how long will she be away? 30h, then the impact.
            await pilot.press("d")
            await wait_loaded(pilot)
            assert type(app.screen).__name__ == "DowntimeDialog"
            assert "How long will ANNA be unavailable?" in str(app.screen.query_one(".dialog-title").render())
            await pilot.press(*"30h", "enter")
            await wait_loaded(pilot)
            impact = app.screen
            assert type(impact).__name__ == "ResourceImpactScreen" and impact.down_minutes == AWAY_MINUTES
            summary = summary_of(impact)
            title = f"Impact: ANNA (person, Anna Berg) unavailable from 2026-01-05 07:00 for {duration(AWAY_MINUTES)}"
            assert title in summary and "(what-if)" in summary, summary
            tree = impact.query_one(Tree)
            hit = find_node(tree, lambda n: n.label.plain.startswith("Operations needing ANNA"))
            assert hit is not None and f"({len(expected['operations'])})" in hit.label.plain
            hit.expand()
            assert [c.data for c in hit.children] == [("production_order", "P1"), ("production_order", "P2A")]
            for child in hit.children:
                assert "on M1" in child.label.plain and "now 2026-01-06" in child.label.plain, child.label.plain
                assert ("machine", "M1") in [g.data for g in child.children]
            assert check_lines(tree, expected) == 2
            crumbs = str(impact.query_one("#drill-crumbs", Static).render())
            assert "resource ANNA" in crumbs and "ANNA impact" in crumbs

            # Escape back to the detail; i opens the impact straight away (its length unknown: exposure).
            await pilot.press("escape")
            await pilot.pause()
            assert app.screen is screen
            await pilot.press("i")
            await wait_loaded(pilot)
            assert type(app.screen).__name__ == "ResourceImpactScreen" and app.screen.down_minutes is None
            assert "for how long unknown" in summary_of(app.screen)

    asyncio.run(run())


def test_impact_from_the_palette_opens_the_resources_impact(store: Store) -> None:
    async def run() -> None:
        app = console(store, at=AT)
        async with app.run_test(size=(100, 30)) as pilot:
            await wait_loaded(pilot)
            offered = await _palette_choose(pilot, "impact resource ANNA", "Impact of resource ANNA")
            assert "Go to resource ANNA" not in offered
            assert type(app.screen).__name__ == "ResourceImpactScreen" and app.screen.ident == "ANNA"

    asyncio.run(run())


def test_before_typing_the_palette_offers_an_absent_resources_impact(away_store: Store) -> None:
    async def run() -> None:
        app = console(away_store, at=AT)
        async with app.run_test(size=(100, 30)) as pilot:
            await wait_loaded(pilot)
            await _palette_choose(pilot, "", "Impact of resource ANNA")
            assert type(app.screen).__name__ == "ResourceImpactScreen" and app.screen.ident == "ANNA"

    asyncio.run(run())


def test_the_palette_still_finds_a_resource_by_its_id_on_a_plant_whose_search_lacks_resources() -> None:
    from planner_tui.console.commands import _find, offers_for, search_kinds
    from planner_tui.errors import BadRequest, NotFound

    class OldSearch:
        """A plant whose `find` knows no resource kind (an older server), but answers `resource`."""

        asked: list = []

        def find(self, words, *, kind=None, limit=20):
            self.asked.append(kind)
            if kind and "resource" in kind:
                raise BadRequest("unknown kind 'resource'")
            return [{"kind": "machine", "id": "M-ANNA", "label": "", "score": 0.8}]

        def resource(self, resource_id, *, at=None, limit=10):
            if resource_id != "ANNA":
                raise NotFound(resource_id)
            return {"resource_id": "ANNA", "name": "Anna Berg", "kind": "person"}

    kinds = search_kinds("impact ANNA", ("machine",), "impact")
    assert kinds == ("machine", "resource")
    found = _find("ANNA", kinds)(OldSearch())
    assert [(h["kind"], h["id"]) for h in found] == [("resource", "ANNA"), ("machine", "M-ANNA")]
    assert OldSearch.asked == [("machine", "resource"), ["machine"]]
    assert offers_for(found[0], "impact") == [
        ("Impact of resource ANNA", "person, Anna Berg: what its absence hits", "resource_impact")
    ]
    assert _find("NOBODY", ("resource",))(OldSearch()) == []
    # A kind word says which, over the verb.
    assert search_kinds("impact resource ANNA", ("machine",), "impact") == ("resource",)
    assert search_kinds("impact machine weld", ("machine",), "impact") == ("machine",)


# --- the inbox: a resource_unavailable exception opens the resource's impact ------------------------------


def test_the_absence_exception_opens_the_resources_impact_and_triages_it(away_store: Store) -> None:
    plant = LocalPlant(away_store)
    inbox = plant.exceptions(at=AT)["exceptions"]
    assert "resource_unavailable:ANNA" in [e["exception_id"] for e in inbox]

    async def run() -> None:
        app = console(away_store, at=AT)
        async with app.run_test(size=(100, 30)) as pilot:
            screen = await open_screen(pilot, "exception", "resource_unavailable:ANNA")
            tree = screen.query_one(Tree)
            opens = find_node(tree, lambda n: n.data == ("resource_impact", "ANNA"))
            assert opens is not None and opens.label.plain.startswith("Open")
            # Who is hit, on the exception itself: the lines, slip apart from lateness.
            hit = find_node(tree, lambda n: n.label.plain.startswith("Customer lines hit"))
            assert hit is not None
            assert any("1 turned late by this stop" in c.label.plain for c in hit.children)
            assert "LATE in plan +4d" in line_node(tree, "SO-2/1").label.plain
            tree.move_cursor(opens)
            await pilot.press("enter")
            await wait_loaded(pilot)
            impact = app.screen
            assert type(impact).__name__ == "ResourceImpactScreen" and impact.ident == "ANNA"
            summary = summary_of(impact)
            assert "unavailable from 2026-01-05 07:00 for 1d 6h" in summary and "what-if" not in summary
            # The triage keys act on her absence.
            await pilot.press("a")
            await wait_loaded(pilot)
            for _ in range(50):
                state = plant.exception("resource_unavailable:ANNA", at=AT)
                if state["status"] == "acknowledged":
                    break
                await pilot.pause(0.05)
            assert state["status"] == "acknowledged"

    asyncio.run(run())


def test_an_available_resource_has_no_absence_to_triage(store: Store) -> None:
    async def run() -> None:
        app = console(store, at=AT)
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await open_screen(pilot, "resource_impact", "ANNA")
            assert screen.triage_target() is None
            await pilot.pause()
            assert any("ANNA is available" in n.message for n in app._notifications)

    asyncio.run(run())


@pytest.mark.parametrize("kind", ["resource", "resource_impact"])
def test_an_unknown_resource_is_a_notification_not_a_crash(store: Store, kind: str) -> None:
    async def run() -> None:
        app = console(store, at=AT)
        async with app.run_test(size=(80, 24)) as pilot:
            await open_screen(pilot, kind, "NOBODY")
            await pilot.pause()
            assert len(app.screen_stack) == 1
            assert any("NOBODY" in n.message for n in app._notifications)

    asyncio.run(run())


# --- the reschedule's lines at risk: LATE in plan apart from LATE ----------------------------------------


def test_the_orders_at_risk_panel_says_late_in_plan_apart_from_late(away_store: Store) -> None:
    from planner_tui.console.widgets.panels import load_orders_at_risk

    rows = {r.key: r for r in load_orders_at_risk(LocalPlant(away_store), AT)}
    assert rows["SO-1/1"].cells[1].plain == "LATE" and rows["SO-1/1"].cells[2].plain == "+1d 5h"
    assert rows["SO-2/1"].cells[1].plain == "LATE in plan" and rows["SO-2/1"].cells[2].plain == "-"


# --- operations elsewhere name the resources they need, when the plant says ------------------------------


def test_an_operation_naming_its_resources_drills_into_them() -> None:
    from planner_tui.console.screens._common import DrillTree, resource_drills
    from planner_tui.console.screens.drilldown import OrderScreen

    assert resource_drills({"resource_ids": ["ANNA", "FIX-1"]}) == [("resource", "ANNA"), ("resource", "FIX-1")]
    assert resource_drills({"resources": [{"resource_id": "ANNA"}, "ANNA"]}) == [("resource", "ANNA")]
    assert resource_drills({"machine_id": "M1"}) == []
    tree = DrillTree("P1")
    ops = [{"op_seq": 10, "machine_id": "M1", "resource_ids": ["ANNA"]}, {"op_seq": 20, "machine_id": "M2"}]
    OrderScreen("P1")._build_production_order(tree.root, {"operations": ops})
    group = find_node(tree, lambda n: n.label.plain.startswith("Operations"))
    assert [c.data for c in group.children] == [("machine", "M1"), ("machine", "M2")]
    assert [c.data for c in group.children[0].children] == [("resource", "ANNA")]
    assert not group.children[1].children
