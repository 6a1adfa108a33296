"""The console shell and main screen, driven by Textual's pilot on the sample plant (clock pinned):
panels, stopped machine first, drill-down on Enter, `/` filter, `?` keys, palette, `q`, stale feed
banner, in-place updates that keep the cursor, and the second-process lock message."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest
from plantkit import pilot_test

from planner_tui.console.app import PlannerApp
from planner_tui.console.screenshots import scenario_store, settle
from planner_tui.console.widgets.live_table import LiveTable
from planner_tui.console.widgets.panels import Row
from planner_tui.present import sparkline
from planner_tui.store import Store

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_data"
AT = "2026-11-23T09:00:00"  # after the scenario's last event


@pytest.fixture(scope="module")
def scenario_db(tmp_path_factory) -> Path:
    """The sample plant with its scenario applied, in a database file copied per test."""
    path = tmp_path_factory.mktemp("plant") / "plant.duckdb"
    memory = scenario_store(SAMPLE)
    memory.con.execute(f"ATTACH '{path}' AS out")
    memory.con.execute("COPY FROM DATABASE memory TO out")
    memory.con.execute("DETACH out")
    memory.close()
    return path


@pytest.fixture
def store(scenario_db, tmp_path) -> Store:
    path = tmp_path / "plant.duckdb"
    path.write_bytes(scenario_db.read_bytes())
    s = Store.open(path)
    yield s
    s.close()


def table(app, name: str) -> LiveTable:
    return app.screen.query_one(f"#table-{name}", LiveTable)


def keys(t: LiveTable) -> list[str]:
    return [r.key.value for r in t.ordered_rows]


@pilot_test
async def test_main_screen_shows_every_panel(store) -> None:
    app = PlannerApp(store, at=AT)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        assert app.screen.crumb == "Plant"
        machines = keys(table(app, "machines"))
        assert machines[0] == "M-WELD-01"  # the stopped machine first
        state = table(app, "machines").get_row("M-WELD-01")[1]
        assert state.plain == "DOWN"  # the state in words, not colour alone
        inbox = table(app, "inbox")
        assert inbox.row_count >= 3
        severities = [inbox.get_row(k)[0].plain for k in keys(inbox)]
        assert severities[0] == "critical"
        assert any(k.startswith("machine_down:M-WELD-01") for k in keys(inbox))
        orders = table(app, "orders")
        assert orders.get_row("SO-24117/1")[1].plain == "LATE"  # in words, not colour alone
        # The weld stop moves Baltic Water's line 30 h; it still makes its promise, so "moved", below the late.
        assert orders.get_row("SO-24120/1")[1].plain == "moved"
        assert keys(orders).index("SO-24117/1") < keys(orders).index("SO-24120/1")
        assert table(app, "materials").row_count >= 1
        assert keys(table(app, "holds")) == ["QH-2611-009"]
        shipped_to = table(app, "holds").get_cell("QH-2611-009", "shipped").plain
        assert shipped_to not in ("not shipped", "?")  # the held lot already went to a customer
        header = str(app.screen.query_one("#header").render())
        assert "Nordhavn" in header and "2026-11-23 09:00" in header and "no feed" in header


@pilot_test
async def test_the_console_lists_the_inbox_as_the_cli_does(store) -> None:
    """Same database, same clock: the same exceptions in the same order (the engine's: causes before their
    consequences), which the console once re-sorted by severity and age."""
    from planner_tui.engine.exceptions import list_exceptions

    next_morning = "2026-11-24T09:00:00"  # the held lot (critical) and the late lines (high) both raised
    expected = [e["exception_id"] for e in list_exceptions(store.cursor(), at=next_morning)]
    assert len(expected) >= 3, "too few exceptions to compare an order"
    app = PlannerApp(store, at=next_morning)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        assert keys(table(app, "inbox")) == expected


def test_orders_at_risk_rows_give_status_slip_eta_promise_customer(store) -> None:
    """Each row is the engine's line, shown: its standing against the promise (LATE turned late by the
    stops, LATE in plan, moved) apart from its slip, ETA, promise and customer."""
    from datetime import datetime

    from planner_tui.access import LocalPlant
    from planner_tui.console.widgets.panels import load_orders_at_risk
    from planner_tui.present import short_time, slip

    at = datetime.fromisoformat(AT)
    plant = LocalPlant(store)
    rows = {r.key: r for r in load_orders_at_risk(plant, at)}
    lines = {f"{ln['sales_order_id']}/{ln['line_no']}": ln for ln in plant.reschedule(at=at)["lines_at_risk"]}
    assert lines and set(rows) == set(lines)
    for key, line in lines.items():
        status = (
            "moved"
            if not line["late"]
            else "OVERDUE"
            if line["overdue"]
            else "LATE in plan"
            if line["late_in_plan"]
            else "LATE"
        )
        assert [c if isinstance(c, str) else c.plain for c in rows[key].cells] == [
            key,
            status,
            slip(line["slip_minutes"]),
            short_time(line["eta"]),
            short_time(line["promised_date"]),
            line["customer_name"] or line["customer_id"],
        ]
    late = rows["SO-24117/1"]
    assert late.cells[1].plain == "LATE" and late.cells[-1] == "Kessler Process Engineering GmbH"
    moved = rows["SO-24120/1"]
    assert moved.cells[1].plain == "moved" and moved.cells[2].plain.startswith("+")
    assert moved.drill == ("sales_order", "SO-24120/1") and "moved" in moved.search


@pilot_test
async def test_narrow_layout_shows_one_panel_and_tab_switches(store) -> None:
    app = PlannerApp(store, at=AT)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert screen.narrow
        assert screen.current_panel == "inbox"
        assert table(app, "inbox").display and screen.query_one("#panel-inbox").display
        assert not screen.query_one("#panel-machines").display
        await pilot.press("tab")
        await settle(pilot)
        assert screen.current_panel == "machines"
        assert screen.query_one("#panel-machines").display
        assert keys(table(app, "machines"))[0] == "M-WELD-01"  # loaded when shown
        await pilot.press("shift+tab")
        assert screen.current_panel == "inbox"
        await pilot.press("5")
        assert screen.current_panel == "holds"


@pilot_test
async def test_enter_on_a_machine_drills_into_its_impact(store) -> None:
    app = PlannerApp(store, at=AT)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("2")  # machines panel, cursor on the stopped machine
        await pilot.press("enter")
        await settle(pilot)
        assert type(app.screen).__name__ == "ImpactScreen"
        assert "M-WELD-01" in app.screen.crumb
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen.crumb == "Plant"


@pilot_test
async def test_enter_on_an_exception_drills_into_the_exception(store) -> None:
    drills = []
    app = PlannerApp(store, at=AT)
    app.action_drill = lambda kind, ident: drills.append((kind, ident))  # record only
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        first = keys(table(app, "inbox"))[0]
        assert drills == [("exception", first)]


@pilot_test
async def test_filter_narrows_the_focused_table_and_escape_clears(store) -> None:
    app = PlannerApp(store, at=AT)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("2", "slash", *"cnc")
        machines = table(app, "machines")
        assert set(keys(machines)) == {"M-CNC-01", "M-CNC-02"}
        await pilot.press("enter")  # keep the filter, back to the table
        assert app.focused is machines
        assert "filter: cnc" in str(app.screen.query_one("#panel-machines").border_title)
        await pilot.press("slash", "escape")
        assert keys(machines)[0] == "M-WELD-01" and len(keys(machines)) > 2


@pilot_test
async def test_help_lists_every_key(store) -> None:
    app = PlannerApp(store, at=AT)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        assert type(app.screen).__name__ == "HelpScreen"
        described = dict(app.screen.rows)
        for key in ("q", "?", "/", "tab", "r", "enter"):
            assert any(k == key or k.startswith(key) for k in described), key
        assert "impact of machine" in described["ctrl+p"]
        await pilot.press("escape")
        assert app.screen.crumb == "Plant"


@pilot_test
async def test_palette_finds_a_machine_and_drills(store) -> None:
    drills = []
    app = PlannerApp(store, at=AT)
    app.action_drill = lambda kind, ident: drills.append((kind, ident))
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"impact weld")
        for _ in range(40):
            await pilot.pause(0.05)
            if app.screen.query("CommandList") and app.screen.query_one("CommandList").option_count:
                break
        await pilot.press("enter")
        await pilot.pause()
        assert drills and drills[0] == ("machine", "M-WELD-01")


@pilot_test
async def test_quitting_during_a_slow_read_waits_for_it_before_closing_the_store(store) -> None:
    """A drill-down is reading when the planner quits: the read finishes without error, and only then is
    the store closed; a read asked for after that is refused with a PlannerError, never run on a closed store."""
    import threading
    import time

    import duckdb

    from planner_tui.access import LocalPlant, PlantUnavailable

    happened: list[str] = []
    reading = threading.Event()

    class SlowPlant(LocalPlant):
        def order_links(self, order_id: str) -> dict:
            reading.set()
            time.sleep(0.5)  # a slow plant (a big one, or one far away)
            answer = super().order_links(order_id)
            happened.append("read done")
            return answer

        def close(self) -> None:
            happened.append("store closed")
            super().close()

    app = PlannerApp(plant=SlowPlant(store), at=AT)
    async with app.run_test(size=(120, 36), notifications=True) as pilot:
        await settle(pilot)
        app.action_drill("production_order", "PRO-26-0411")
        for _ in range(300):
            if reading.is_set():
                break
            await pilot.pause(0.01)
        assert reading.is_set(), "the drill-down's read started"
        screen = app.screen
        answered = []  # what the screen's worker posts when the read is over: Loaded, or Failed with why
        post = screen.post_message

        def recording_post(message) -> bool:
            if isinstance(message, (screen.Loaded, screen.Failed)):
                answered.append(message)
            return post(message)

        screen.post_message = recording_post
        await pilot.press("q")
    assert app.return_code == 0
    assert not happened, "the app has exited; the read is still running"
    app.release()
    assert happened == ["read done", "store closed"]
    assert [type(m).__name__ for m in answered] == ["Loaded"], [getattr(m, "error", m) for m in answered]
    assert not [n for n in app._notifications if n.severity == "error"]
    with pytest.raises(duckdb.Error):
        store.con.execute("SELECT 1")  # really closed
    with pytest.raises(PlantUnavailable), app.reading():
        pass


@pilot_test
async def test_q_quits_cleanly(store) -> None:
    app = PlannerApp(store, at=AT)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("q")
    assert app.return_code == 0
    app.release()  # closes the store; the fixture's close is then harmless


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pilot_test
async def test_dead_feed_shows_a_banner_and_the_data_stays(store) -> None:
    url = f"http://127.0.0.1:{_closed_port()}/events"
    app = PlannerApp(store, at=AT, events=url, poll_seconds=0.2)
    async with app.run_test(size=(120, 36)) as pilot:
        for _ in range(200):
            await pilot.pause(0.05)
            if (app.feed_status or {}).get("state") == "stale":
                break
        await settle(pilot)
        app.screen.render_header()
        banner = app.screen.query_one("#banner")
        assert banner.display and banner.has_class("-shown")
        assert "STALE" in str(banner.render())
        assert "STALE" in str(app.screen.query_one("#header").render())
        assert keys(table(app, "machines"))[0] == "M-WELD-01"  # still working on the data it has
        # The inbox raises the stale feed by itself, without a manual refresh.
        for _ in range(100):
            await pilot.pause(0.05)
            if any(k.startswith("feed_stale:") for k in keys(table(app, "inbox"))):
                break
        assert any(k.startswith("feed_stale:") for k in keys(table(app, "inbox")))


@pilot_test
async def test_table_updates_in_place_keeping_the_cursor() -> None:
    from textual.app import App

    from planner_tui.console.widgets.panels import Column

    class One(App):
        def compose(self):
            yield LiveTable((Column("id", "Id", 6), Column("state", "State", 10)), id="t")

    def rows(*pairs):
        return [Row(k, (k, v), ("machine", k), k.lower()) for k, v in pairs]

    app = One()
    async with app.run_test() as pilot:
        t = app.query_one(LiveTable)
        t.show(rows(("A", "running"), ("B", "running"), ("C", "running")))
        t.move_cursor(row=1)
        t.show(rows(("A", "running"), ("B", "DOWN"), ("C", "running"), ("D", "idle")))
        await pilot.pause()
        assert keys(t) == ["A", "B", "C", "D"] and t.cursor_key == "B"
        assert ("B", "state") in t.highlighted_cells  # what just changed is marked
        assert ("A", "state") not in t.highlighted_cells
        t.show(rows(("B", "DOWN"), ("A", "running"), ("D", "idle")))  # reordered, C gone
        assert keys(t) == ["B", "A", "D"] and t.cursor_key == "B"
        t.show(rows(("E", "DOWN"), ("B", "DOWN"), ("A", "running"), ("D", "idle")))  # a new worst row
        assert t.cursor_key == "E"  # a cursor on the first row keeps watching the top
        t.show([Row(f"R{i}", (f"R{i}", "x"), None, f"r{i}") for i in range(t.limit + 5)])
        assert t.row_count == t.limit + 1  # a paged table: the rest is one "more" row
        assert "5 more" in str(t.get_row("__more__")[0])


def test_sparkline_marks_the_dip_without_colour() -> None:
    line = sparkline([10, 5, -3, 8], width=16)
    assert len(line.plain) == 16 and line.plain[8:12] == "××××" and "×" not in line.plain[:8] + line.plain[12:]


def test_a_second_process_gets_the_lock_message(tmp_path) -> None:
    path = tmp_path / "plant.duckdb"
    holder = Store.open(path)
    try:
        result = subprocess.run(
            [sys.executable, "-m", "planner_tui", "run", "--db", str(path)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        holder.close()
    assert result.returncode == 4
    assert "in use by another process" in result.stderr and "PID" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_sighup_exits_cleanly_and_releases_the_database(scenario_db, tmp_path) -> None:
    """A dropped SSH session (SIGHUP) ends the console with status 0 and the file is free again."""
    import fcntl
    import os
    import pty
    import select
    import signal
    import struct
    import termios
    import time

    path = tmp_path / "plant.duckdb"
    path.write_bytes(scenario_db.read_bytes())
    pid, fd = pty.fork()
    if pid == 0:  # the console, in a real terminal
        env = dict(os.environ, TERM="xterm-256color", COLUMNS="80", LINES="24")
        os.execve(sys.executable, [sys.executable, "-m", "planner_tui", "run", "--db", str(path), "--at", AT], env)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    screen = b""
    deadline = time.monotonic() + 60
    try:
        while b"Inbox" not in screen and time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.5)
            if ready:
                try:
                    screen += os.read(fd, 65536)
                except OSError:
                    break
        assert b"Inbox" in screen, "the console did not draw its main screen"
        os.kill(pid, signal.SIGHUP)
        # waitpid(WNOHANG) answers (0, 0) while the child still runs: only an answer naming the child
        # is its exit status, so a console that never exits fails here rather than reading as "exited 0".
        exited, status = 0, None
        hangup_deadline = time.monotonic() + 20
        while time.monotonic() < hangup_deadline:
            exited, status = os.waitpid(pid, os.WNOHANG)
            if exited == pid:
                break
            ready, _, _ = select.select([fd], [], [], 0.2)
            if ready:
                try:
                    os.read(fd, 65536)
                except OSError:
                    pass
        assert exited == pid, "the console was still running 20 s after SIGHUP"
        assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, f"wait status {status}"
    finally:
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        os.close(fd)
    Store.open(path).close()  # not locked any more


@pilot_test
async def test_a_failing_worker_becomes_a_notification_not_a_crash(store, monkeypatch) -> None:
    import planner_tui.console.screens.main as main_screen

    def broken(*args, **kwargs):
        raise RuntimeError("the disk is on fire")

    monkeypatch.setattr(main_screen, "load_header", broken)
    app = PlannerApp(store, at=AT)
    async with app.run_test(size=(120, 36), notifications=True) as pilot:
        await settle(pilot)
        messages = [n.message for n in app._notifications]
        assert any("the disk is on fire" in m for m in messages)
        assert not app.screen._refreshing  # the next refresh may run
        monkeypatch.undo()
        await pilot.press("r")
        await settle(pilot)
        assert keys(table(app, "machines"))[0] == "M-WELD-01"


@pilot_test
async def test_nothing_repaints_while_the_planner_types_a_filter(store) -> None:
    app = PlannerApp(store, at=AT)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("2", "slash", "m")
        machines = table(app, "machines")
        assert machines.get_row("M-CNC-01")[1].plain == "running"
        store.con.execute("DELETE FROM machine_states WHERE machine_id = 'M-CNC-01'")
        store.con.execute(
            "INSERT INTO machine_states VALUES ('M-CNC-01', 'down', '2026-11-23 08:30:00', 'Spindle alarm', NULL)"
        )
        app.screen.request_refresh()
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert machines.get_row("M-CNC-01")[1].plain == "running"  # held back while typing
        await pilot.press("enter")
        await pilot.pause()
        assert machines.get_row("M-CNC-01")[1].plain == "DOWN"
