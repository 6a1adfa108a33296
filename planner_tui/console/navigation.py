"""Where a drill goes: `screen_for(kind, id)` gives the screen the app pushes for an id, and the
screenshot flows the `planner-tui screenshots` command runs.

Kinds: machine (impact tree), hold and lot (trace tree), item (shortage chart and affected orders),
production_order and sales_order ("SO/line"; order links), shipment, customer, exception (detail and
triage). An unknown id is found by the screen's worker: it notifies and goes back. An unknown kind gets
a screen that does the same, so a drill never crashes the console.
"""

from __future__ import annotations

import asyncio
from typing import Awaitable, Callable

from textual.pilot import Pilot
from textual.screen import Screen


KINDS = ("machine", "hold", "lot", "item", "production_order", "sales_order", "shipment", "customer", "exception")


def screen_for(kind: str, ident: str) -> Screen:
    """The drill-down screen for one id (loading starts when it is mounted)."""
    from planner_tui.console.screens.drilldown import (
        CustomerScreen,
        UnknownScreen,
        ImpactScreen,
        OrderScreen,
        ShipmentScreen,
        TraceScreen,
    )
    from planner_tui.console.screens.exception import ExceptionScreen
    from planner_tui.console.screens.shortage import ShortageScreen

    kind = (kind or "").strip().lower()
    ident = str(ident if ident is not None else "").strip()
    if kind == "machine":
        return ImpactScreen(ident)
    if kind in ("hold", "lot"):
        return TraceScreen(ident, kind=kind)
    if kind == "item":
        return ShortageScreen(ident)
    if kind in ("production_order", "sales_order"):
        return OrderScreen(ident, kind=kind)
    if kind == "shipment":
        return ShipmentScreen(ident)
    if kind == "customer":
        return CustomerScreen(ident)
    if kind == "exception":
        return ExceptionScreen(ident)
    return UnknownScreen(kind, ident)


# --- screenshot flows ------------------------------------------------------------------------------


async def wait_loaded(pilot: Pilot, *, rounds: int = 200) -> None:
    """Wait until the active screen's worker has answered (and dialogs, if any, are drawn)."""
    for _ in range(rounds):
        await pilot.pause()
        screen = pilot.app.screen
        if getattr(screen, "loaded", True) and not _busy(pilot):
            break
        await asyncio.sleep(0.02)
    await pilot.pause()
    await pilot.wait_for_scheduled_animations()


def _busy(pilot: Pilot) -> bool:
    return any(w.is_running for w in pilot.app.workers if w.group in ("drill-load", "triage", "assign-owners"))


async def drill(pilot: Pilot, kind: str, ident: str) -> None:
    result = pilot.app.action_drill(kind, ident)
    if hasattr(result, "__await__"):
        await result
    await wait_loaded(pilot)


def _ask(pilot: Pilot, question: Callable, *args, **kwargs):
    """An engine answer on a cursor of its own (the console never queries the store itself)."""
    cur = pilot.app.store.cursor()
    try:
        return question(cur, *args, **kwargs)
    finally:
        cur.close()


async def flow_impact(pilot: Pilot) -> None:
    """The stopped machine's impact: M-WELD-01 in the sample plant (else the first stopped machine)."""
    from planner_tui.engine.orders import list_machines

    machines = _ask(pilot, list_machines)
    if any(m["machine_id"] == "M-WELD-01" for m in machines):
        machine = "M-WELD-01"
    else:
        machine = next((m["machine_id"] for m in machines if m["stopped"]), None)
    await drill(pilot, "machine", machine or "M-WELD-01")


async def flow_trace(pilot: Pilot) -> None:
    """The trace of the lot under the newest active quality hold (the scenario's hold on a shipped lot)."""
    from planner_tui.engine.orders import active_holds

    holds = _ask(pilot, active_holds)
    await drill(pilot, "lot", holds[0]["lot_id"] if holds else "")


async def flow_triage(pilot: Pilot) -> None:
    """Acknowledge, assign and annotate the stopped machine's exception, its history showing all three."""
    from planner_tui.engine.exceptions import list_exceptions

    cur = pilot.app.store.cursor()
    try:
        rows = list_exceptions(cur, at=pilot.app.now())
    finally:
        cur.close()
    chosen = next((r for r in rows if r["exception_id"] == "machine_down:M-WELD-01"), None)
    chosen = chosen or next((r for r in rows if r["kind"] == "machine_down"), None) or (rows[0] if rows else None)
    await drill(pilot, "exception", chosen["exception_id"] if chosen else "machine_down:M-WELD-01")
    await pilot.press("a")
    await wait_loaded(pilot)
    await pilot.press("s")
    await wait_loaded(pilot)
    subject = chosen["subject_id"] if chosen and chosen.get("subject_kind") == "machine" else "M-WELD-01"
    from planner_tui.engine.orders import list_machines

    supervisor = next((m["supervisor"] for m in _ask(pilot, list_machines) if m["machine_id"] == subject), None)
    if supervisor:
        await pilot.press(*supervisor.split()[0].lower())  # filter the owners by first name
    await pilot.press("enter")
    await wait_loaded(pilot)
    await pilot.press("n")
    await wait_loaded(pilot)
    await pilot.press(*"fitter on site, spare servo ordered", "enter")
    await wait_loaded(pilot)
    await wait_loaded(pilot)


ScreenshotFlow = Callable[[Pilot], Awaitable[None]]

SCREENSHOT_FLOWS: list[tuple[str, ScreenshotFlow]] = [
    ("impact", flow_impact),
    ("trace", flow_trace),
    ("triage", flow_triage),
]

__all__ = ["KINDS", "SCREENSHOT_FLOWS", "screen_for", "wait_loaded", "drill"]
