"""`planner-tui screenshots`: the README's SVGs, from the sample plant with its scenario applied, clock pinned.

The main screen is ours; the drill-down flows (impact, trace, triage) come from
``planner_tui.console.navigation.SCREENSHOT_FLOWS``, each starting from a fresh console.
"""

from __future__ import annotations

from pathlib import Path

from planner_tui.store import Store

# After the scenario's last event (08:53): every gap is visible, nothing depends on the real clock.
SCREENSHOT_AT = "2026-11-23T09:00:00"
SIZE = (120, 36)


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


async def settle(pilot) -> None:
    """Wait for every worker and the repaint that follows."""
    app = pilot.app
    for _ in range(50):
        await pilot.pause()
        await app.workers.wait_for_complete()
        if not any(w.is_running for w in app.workers):
            break
    await pilot.pause()
    await pilot.wait_for_scheduled_animations()


async def _shoot(sample_dir: Path, out: Path, name: str, flow) -> Path:
    from planner_tui.console.app import PlannerApp

    store = scenario_store(sample_dir)
    app = PlannerApp(store, at=SCREENSHOT_AT, user="ana.planner", animate=False)
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
    try:
        from planner_tui.console.navigation import SCREENSHOT_FLOWS
    except ImportError:
        SCREENSHOT_FLOWS = []
    for name, flow in SCREENSHOT_FLOWS:
        written.append(await _shoot(sample_dir, out, name, flow))
    return written
