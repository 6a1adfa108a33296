"""Where a drill goes: `screen_for(kind, id)` gives the screen the app pushes for an id.

Kinds: machine (impact tree), resource (a person's or tool's detail) and resource_impact (what its
absence hits), hold and lot (trace tree), item (shortage chart and affected orders),
production_order and sales_order ("SO/line"; order links), shipment, customer, exception (detail and
triage). An unknown id is found by the screen's worker: it notifies and goes back. An unknown kind gets
a screen that does the same, so a drill never crashes the console.
"""

from __future__ import annotations

from typing import Any

from textual.screen import Screen

KINDS = (
    "machine",
    "resource",
    "resource_impact",
    "hold",
    "lot",
    "item",
    "production_order",
    "sales_order",
    "shipment",
    "customer",
    "exception",
)


def screen_for(kind: str, ident: str) -> Screen[Any]:
    """The drill-down screen for one id (loading starts when it is mounted)."""
    from planner_tui.console.screens.drilldown import CustomerScreen, OrderScreen, ShipmentScreen, UnknownScreen
    from planner_tui.console.screens.exception import ExceptionScreen
    from planner_tui.console.screens.impact import ImpactScreen
    from planner_tui.console.screens.resource import ResourceImpactScreen, ResourceScreen
    from planner_tui.console.screens.shortage import ShortageScreen
    from planner_tui.console.screens.trace import TraceScreen

    kind = (kind or "").strip().lower()
    ident = str(ident if ident is not None else "").strip()  # a caller's None must not crash a drill
    if kind == "machine":
        return ImpactScreen(ident)
    if kind == "resource":
        return ResourceScreen(ident)
    if kind == "resource_impact":
        return ResourceImpactScreen(ident)
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


__all__ = ["KINDS", "screen_for"]
