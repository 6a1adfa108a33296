"""`planner-tui screenshots`: the README's SVGs, from the sample plant with its scenario applied, clock pinned.

The main screen, then the drill-down flows (impact, trace, triage: `SCREENSHOT_FLOWS`), each from a fresh
console driven by Textual's pilot. This shipped command needs the pilot, so the flows and the waits they
use (`settle`, `wait_loaded`, `drill`) live here; the tests use them too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from planner_tui.store import Store
from planner_tui.timeutil import parse_timestamp

if TYPE_CHECKING:
    from textual.pilot import Pilot

    from planner_tui.console.app import PlannerApp

# After the scenario's last event (08:53): every gap is visible, nothing depends on the real clock.
SCREENSHOT_AT = "2026-11-23T09:00:00"
SIZE = (120, 36)
# Worker groups a drill-down flow waits for: the screen's answer, a triage action, the assign dialog's owners.
LOADING_GROUPS = ("drill-load", "triage", "assign-owners")


def scenario_store(sample_dir: Path, *, events: bool = True) -> Store:
    """The sample plant in memory, with the whole scenario file applied (as a file feed would)."""
    from planner_tui.feeds.poller import open_feed
    from planner_tui.store.loader import load_snapshot

    store = Store.memory()
    load_snapshot(store, str(sample_dir / "plant"))
    if events:
        feed = open_feed(store, str(sample_dir / "scenario.jsonl"))
        for _ in range(1000):
            if not feed.poll_once().applied:
                break
    return store


# --- waiting for the console ---------------------------------------------------------------------------


async def settle(pilot: Pilot[Any]) -> None:
    """Wait for every worker and the repaint that follows."""
    app = pilot.app
    for _ in range(50):
        await pilot.pause()
        await app.workers.wait_for_complete()
        if not any(w.is_running for w in app.workers):
            break
    await pilot.pause()
    await pilot.wait_for_scheduled_animations()


async def wait_loaded(pilot: Pilot[Any], *, rounds: int = 200) -> None:
    """Wait until the active screen's worker has answered (and dialogs, if any, are drawn)."""
    from planner_tui.console.screens._common import DrillScreen

    for _ in range(rounds):
        await pilot.pause()
        screen = pilot.app.screen
        loaded = screen.loaded if isinstance(screen, DrillScreen) else True
        if loaded and not _busy(pilot):
            break
        await asyncio.sleep(0.02)
    await pilot.pause()
    await pilot.wait_for_scheduled_animations()


def _busy(pilot: Pilot[Any]) -> bool:
    return any(w.is_running for w in pilot.app.workers if w.group in LOADING_GROUPS)


async def drill(pilot: Pilot[Any], kind: str, ident: str) -> None:
    """Drill into (kind, ident) as Enter on it would, and wait for the screen's answer."""
    _planner(pilot).action_drill(kind, ident)
    await wait_loaded(pilot)


def _planner(pilot: Pilot[Any]) -> PlannerApp:
    from planner_tui.console.app import PlannerApp

    app = pilot.app
    if not isinstance(app, PlannerApp):
        raise TypeError(f"the screenshot flows drive a PlannerApp, not {type(app).__name__}")
    return app


# --- the flows -------------------------------------------------------------------------------------------


async def flow_impact(pilot: Pilot[Any]) -> None:
    """The stopped machine's impact: M-WELD-01 in the sample plant (else the first stopped machine)."""
    with _planner(pilot).reading() as plant:
        machines = plant.machines()
    stopped = [str(m["machine_id"]) for m in machines if m["stopped"]]
    sample = any(m["machine_id"] == "M-WELD-01" for m in machines)
    await drill(pilot, "machine", "M-WELD-01" if sample or not stopped else stopped[0])


async def flow_trace(pilot: Pilot[Any]) -> None:
    """The trace of the lot under the newest active quality hold (the scenario's hold on a shipped lot)."""
    with _planner(pilot).reading() as plant:
        holds = plant.holds()
    await drill(pilot, "lot", holds[0]["lot_id"] if holds else "")


async def flow_triage(pilot: Pilot[Any]) -> None:
    """Acknowledge, assign and annotate the stopped machine's exception, its history showing all three."""
    from planner_tui.console.dialogs.triage import kind_about

    app = _planner(pilot)
    with app.reading() as plant:
        rows = plant.exceptions(at=app.now())["exceptions"]
        machines = plant.machines()
        stop_kind = kind_about(plant.exception_kinds(), "machine")
    stops = [r for r in rows if r["kind"] == stop_kind]
    chosen = next((r for r in stops if r["subject_id"] == "M-WELD-01"), None)
    chosen = chosen or (stops[0] if stops else None) or (rows[0] if rows else None)
    await drill(pilot, "exception", chosen["exception_id"] if chosen else f"{stop_kind}:M-WELD-01")
    await pilot.press("a")
    await wait_loaded(pilot)
    await pilot.press("s")
    await wait_loaded(pilot)
    subject = chosen["subject_id"] if chosen and chosen["kind"] == stop_kind else "M-WELD-01"
    supervisor = next((m["supervisor"] for m in machines if m["machine_id"] == subject), None)
    if supervisor:
        await pilot.press(*supervisor.split()[0].lower())  # filter the owners by first name
    await pilot.press("enter")
    await wait_loaded(pilot)
    await pilot.press("n")
    await wait_loaded(pilot)
    await pilot.press(*"fitter on site, spare servo ordered", "enter")
    await wait_loaded(pilot)
    await wait_loaded(pilot)


ScreenshotFlow = Callable[["Pilot[Any]"], Awaitable[None]]

SCREENSHOT_FLOWS: list[tuple[str, ScreenshotFlow]] = [
    ("impact", flow_impact),
    ("trace", flow_trace),
    ("triage", flow_triage),
]


# --- the command -----------------------------------------------------------------------------------------


async def _shoot(sample_dir: Path, out: Path, name: str, flow: ScreenshotFlow | None) -> Path:
    from planner_tui.console.app import PlannerApp

    store = scenario_store(sample_dir)
    pinned = parse_timestamp(SCREENSHOT_AT)  # screenshots are reproducible: triage shown at the pinned time
    app = PlannerApp(store, at=SCREENSHOT_AT, user="ana.planner", animate=False, triage_clock=lambda: pinned)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            if flow is not None:
                await flow(pilot)
                await settle(pilot)
            app.clear_notifications()
            await pilot.pause()
            path = out / f"{name}.svg"
            app.save_screenshot(filename=path.name, path=str(out))
            return path
    finally:
        store.close()


async def write_screenshots(sample_dir: Path, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = [await _shoot(sample_dir, out, "main", None)]
    for name, flow in SCREENSHOT_FLOWS:
        written.append(await _shoot(sample_dir, out, name, flow))
    return written
