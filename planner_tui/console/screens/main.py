"""The main screen: header, feed banner, and the five live panels (inbox first).

At 120x36 and wider the panels sit in a grid, all visible; below that (80x24) one panel fills the screen
and Tab / shift+Tab / 1-5 switch between them, the inbox first. Data comes from a worker thread as a
PanelData message; tables change in place, and nothing changes while the planner types a filter.
Its CSS (and its panels') is main.tcss.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Vertical
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Input, Static
from textual.worker import Worker, WorkerState

from planner_tui import settings
from planner_tui.access import PlantData
from planner_tui.console.context import ConsoleApp, console_of
from planner_tui.console.dialogs.triage import TRIAGE_BINDINGS_HIDDEN, TriageActions, TriageDone
from planner_tui.console.messages import (
    DataChanged,
    PanelData,
    PanelsShown,
    RefreshDone,
)
from planner_tui.console.widgets.keybar import KeyBar
from planner_tui.console.widgets.live_table import LiveTable
from planner_tui.console.widgets.panels import PANELS, PANELS_BY_NAME, Row, answer_of, load_exceptions, load_header
from planner_tui.console.widgets.status import FeedBanner, PlantHeader
from planner_tui.present import duration, moment

NARROW_WIDTH = 110
NARROW_HEIGHT = 30
AGE_REFRESH_SECONDS = 30.0  # ages and the clock move even when no event arrives
MIN_REFRESH_GAP = 0.5  # seconds between the starts of two refreshes while events pour in
LOAD_ORDER = ["machines", "holds", "orders", "materials", "inbox"]
BIG_TABLE_ROWS = 20_000
FILTER_DEBOUNCE = 0.25

MAIN_TCSS = Path(__file__).with_name("main.tcss")

log = logging.getLogger(__name__)


def panel_of(table: LiveTable) -> str:
    """The panel a table shows ("machines" for #table-machines)."""
    return (table.id or "").removeprefix("table-")


def is_new(row: Row, since: datetime | None) -> bool:
    return since is not None and row.raised_at is not None and row.raised_at > since


def mark_news(rows: list[Row], since: datetime, user: str) -> tuple[list[Row], list[Row]]:
    """The inbox rows with what is NEW (raised since the planner last looked) or CHANGED (someone else
    triaged it since) marked before its text, and the marked rows."""
    marked, news = [], []
    for row in rows:
        changed = row.acted_at is not None and row.acted_at > since and row.acted_by != user
        if not (is_new(row, since) or changed):
            marked.append(row)
            continue
        word = "NEW" if is_new(row, since) else "CHANGED"
        title = Text.assemble((word, "bold reverse"), " ", str(row.cells[4]))
        row = replace(row, cells=(*row.cells[:4], title), search=f"{row.search} {word.lower()}")
        marked.append(row)
        news.append(row)
    return marked, news


class PanelBox(Vertical):
    """One bordered panel holding one LiveTable."""

    def __init__(self, name: str, title: str, table: LiveTable) -> None:
        super().__init__(id=f"panel-{name}", classes="panel")
        self.panel_name = name
        self.base_title = title
        self.table = table
        self.border_title = title

    def compose(self) -> ComposeResult:
        yield self.table


class PanelSwitcher(Static):
    """The panel names with their keys; the current one marked in brackets (readable without colour)."""

    def show(self, current: str, counts: dict[str, str]) -> None:
        text = Text()
        for index, panel in enumerate(PANELS, start=1):
            label = f"{index} {panel.short or panel.title}"
            if counts.get(panel.name):
                label += f" {counts[panel.name]}"
            if panel.name == current:
                text.append(f"[{label}]", style="bold reverse")
            else:
                text.append(f" {label} ")
        self.update(text)


class FilterInput(Input):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Clear filter", id="filter.cancel")]

    def action_cancel(self) -> None:
        self.value = ""
        self.post_message(self.Submitted(self, ""))


class MainScreen(TriageActions, Screen[None]):
    crumb = "Plant"
    CSS_PATH = MAIN_TCSS

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "drill", "Open", id="main.drill", show=False),
        Binding("slash", "filter", "Filter", id="main.filter"),
        Binding("tab", "next_panel", "Next panel", id="main.next_panel"),
        Binding("shift+tab", "previous_panel", "Previous panel", id="main.previous_panel", show=False),
        Binding("r", "refresh", "Refresh", id="main.refresh"),
        *(
            Binding(str(i), f"panel('{p.name}')", f"Show {p.title}", id=f"main.panel_{p.name}", show=False)
            for i, p in enumerate(PANELS, start=1)
        ),
        # Triage acts on the inbox row under the cursor, as on the exception's own screen. Out of the footer
        # (it must keep `q Quit  ? Keys` at 80 columns); `?` lists them.
        *TRIAGE_BINDINGS_HIDDEN,
        Binding("S", "show_all", "Snoozed and resolved", id="main.show_all", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.current_panel = PANELS[0].name
        self._generation = 0
        self._applied_generation = 0
        self._loaded_version: dict[str, int] = {}
        self._pending: list[PanelData] = []
        self._counts: dict[str, str] = {}
        self._told_news = False  # "since you looked" is said once, on the first inbox
        # The inbox hides snoozed and resolved exceptions, as `planner-tui exceptions` does; `S` shows them.
        self.show_all = False
        self._filter_target: LiveTable | None = None
        self._refreshing = False
        self._refresh_wanted = False
        self._refresh_started = 0.0
        self._errors: dict[str, str] = {}
        self._problems: dict[str, tuple[str, ...]] = {}  # panel -> what the plant could not check for it
        self._filter_timer: Timer | None = None
        self._outstanding = 0
        self.header_data: dict[str, Any] = {}

    @property
    def console_app(self) -> ConsoleApp:
        return console_of(self)

    # ------------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        yield PlantHeader(id="header")
        yield FeedBanner(id="banner")
        yield PanelSwitcher(id="switcher")
        with Grid(id="panels"):
            for panel in PANELS:
                table = LiveTable(panel.columns, empty=panel.empty, id=f"table-{panel.name}")
                yield PanelBox(panel.name, panel.title, table)
        yield FilterInput(placeholder="filter rows: type words, enter keeps, escape clears", id="filter")
        yield KeyBar()

    def on_mount(self) -> None:
        self._apply_size(self.app.size.width, self.app.size.height)
        self._mark_current(self.current_panel)
        self.table(self.current_panel).focus()
        self.render_header()
        self.request_refresh()
        if not self.console_app.clock_pinned:
            self.set_interval(AGE_REFRESH_SECONDS, self.request_refresh)
            self.set_interval(1.0, self.render_header)

    def on_resize(self, event: events.Resize) -> None:
        self._apply_size(event.size.width, event.size.height)

    def _apply_size(self, width: int, height: int) -> None:
        narrow = width < NARROW_WIDTH or height < NARROW_HEIGHT
        if narrow != self.has_class("-narrow"):
            self.set_class(narrow, "-narrow")
            if not narrow:
                self.request_refresh()

    @property
    def narrow(self) -> bool:
        return self.has_class("-narrow")

    def table(self, name: str) -> LiveTable:
        return self.query_one(f"#table-{name}", LiveTable)

    def box(self, name: str) -> PanelBox:
        return self.query_one(f"#panel-{name}", PanelBox)

    # ------------------------------------------------------------------ panels and focus

    def _mark_current(self, name: str) -> None:
        self.current_panel = name
        for panel in PANELS:
            self.box(panel.name).set_class(panel.name == name, "-current")
        self.query_one(PanelSwitcher).show(name, self._counts)

    def action_panel(self, name: str) -> None:
        self._mark_current(name)
        self.table(name).focus()
        if self._loaded_version.get(name, -1) < self.console_app.data_version or name not in self._loaded_version:
            self.request_refresh()

    def _step_panel(self, step: int) -> None:
        names = [p.name for p in PANELS]
        index = (names.index(self.current_panel) + step) % len(names)
        self.action_panel(names[index])

    def action_next_panel(self) -> None:
        self._step_panel(1)

    def action_previous_panel(self) -> None:
        self._step_panel(-1)

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        widget = event.widget
        if isinstance(widget, LiveTable):
            name = panel_of(widget)
            if name != self.current_panel:
                self._mark_current(name)

    # ------------------------------------------------------------------ drill-down

    # --- triage on the inbox row (dialogs/triage.py does the asking and acting) --------------------------

    def triage_target(self) -> str | None:
        table = self.focused if isinstance(self.focused, LiveTable) else self.table(self.current_panel)
        target = table.cursor_drill
        if target is None or target[0] != "exception":
            self.app.notify("triage acts on an exception: pick one in the inbox (1)", severity="warning")
            return None
        return target[1]

    def _target_or_say(self) -> str | None:
        return self.triage_target()

    def triage_severity(self) -> str | None:
        table = self.focused if isinstance(self.focused, LiveTable) else self.table(self.current_panel)
        row = next((r for r in table.all_rows if r.key == table.cursor_key), None)
        return str(row.cells[0]) if row is not None else None

    def action_show_all(self) -> None:
        """`S`: the snoozed and resolved exceptions too (their status says which), or hide them again."""
        self.show_all = not self.show_all
        self.app.notify(
            "The inbox lists snoozed and resolved exceptions too" if self.show_all else "Snoozed and resolved hidden",
            timeout=3,
        )
        self.request_refresh(force=True)

    def triage_changed(self, message: TriageDone) -> None:
        if message.error is None:
            self.request_refresh(force=True)

    def action_drill(self) -> None:
        table = self.focused if isinstance(self.focused, LiveTable) else self.table(self.current_panel)
        target = table.cursor_drill
        if target:
            self.console_app.action_drill(*target)

    @on(LiveTable.RowSelected)
    def _row_selected(self, event: LiveTable.RowSelected) -> None:
        event.stop()
        table = event.data_table
        if isinstance(table, LiveTable):
            target = table.drill.get(event.row_key.value or "")
            if target:
                self.console_app.action_drill(*target)

    @on(LiveTable.RowHighlighted)
    def _row_highlighted(self, event: LiveTable.RowHighlighted) -> None:
        table = event.data_table
        if isinstance(table, LiveTable):
            self._show_detail(table)

    def _show_detail(self, table: LiveTable) -> None:
        """The cursor row's long text (the exception's title, why a machine stopped) in full under the
        panel, so a narrow terminal loses nothing to a clipped column."""
        name = panel_of(table)
        # An empty inbox because a check failed must not read "no open exceptions".
        problems = self._problems.get(name) if table.loaded and not table.all_rows else None
        note = self._errors.get(name) or (problems[0] if problems else "") or table.note
        if not note:
            note = table.cursor_detail
        self.box(name).border_subtitle = note

    # ------------------------------------------------------------------ filter

    def action_filter(self) -> None:
        # The current panel, not self.focused: a "2 /" typed fast arrives before focus has moved.
        table = self.table(self.current_panel)
        self._filter_target = table
        box = self.query_one("#filter", FilterInput)
        box.value = table.filter_text
        box.border_title = f"filter {self.box(panel_of(table)).base_title}"
        box.add_class("-shown")
        box.focus()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        target = self._filter_target
        if target is None:
            return
        if len(target.all_rows) > BIG_TABLE_ROWS:
            # A big answer takes ~0.1 s to filter: wait for a pause in typing rather than per key.
            if self._filter_timer is not None:
                self._filter_timer.stop()
            self._filter_timer = self.set_timer(FILTER_DEBOUNCE, lambda: self._run_filter(target, event.value))
        else:
            self._run_filter(target, event.value)

    def _run_filter(self, target: LiveTable, text: str) -> None:
        target.set_filter(text)
        self._update_titles()

    @on(Input.Submitted, "#filter")
    def _filter_done(self, event: Input.Submitted) -> None:
        box = self.query_one("#filter", FilterInput)
        if self._filter_timer is not None:
            self._filter_timer.stop()
            self._filter_timer = None
        box.remove_class("-shown")
        table = self._filter_target or self.table(self.current_panel)
        table.set_filter(box.value)
        self._filter_target = None
        table.focus()
        self._update_titles()
        pending, self._pending = self._pending, []
        for message in pending:
            self._apply(message)

    @property
    def typing(self) -> bool:
        return isinstance(self.focused, Input)

    # ------------------------------------------------------------------ data

    def action_refresh(self) -> None:
        self.request_refresh(force=True)

    def on_screen_resume(self) -> None:
        # Back from a drill-down: events may have arrived, and triage done there changes the inbox.
        if self._loaded_version:
            self.request_refresh()
        self.render_header()

    def on_data_changed(self, message: DataChanged) -> None:
        self.request_refresh()

    def visible_panels(self) -> list[str]:
        """Only what the planner can see is worth a query."""
        if self.narrow:
            return [self.current_panel]
        return [p.name for p in PANELS]

    def request_refresh(self, force: bool = False) -> None:
        """Refresh what is visible. One refresh at a time: a request during one is remembered and run
        after it, no sooner than MIN_REFRESH_GAP (or the last refresh's own duration) later, so a fast
        feed on a large plant cannot pile up queries or starve the keyboard."""
        if not self.is_current and not force:
            return  # hidden under a drill-down: on_screen_resume catches up
        if self._refreshing:
            self._refresh_wanted = True
            return
        self._refreshing = True
        self._refresh_wanted = False
        self._generation += 1
        self._refresh_started = time.monotonic()
        names = self.visible_panels()
        # The inbox is the slow one on a big plant (the exception engine): it gets its own thread,
        # so the other panels (mostly DuckDB time, which runs outside the GIL) come in beside it.
        batches = [b for b in ([n for n in names if n != "inbox"], [n for n in names if n == "inbox"]) if b]
        self._outstanding = len(batches)
        at = self.console_app.now()
        for batch in batches:
            self._load(self._generation, tuple(batch), self.console_app.data_version, at)

    @work(thread=True, exclusive=False, group="main-panels", exit_on_error=False, description="main panels")
    def _load(self, generation: int, names: tuple[str, ...], version: int, at: datetime) -> None:
        try:
            with self.console_app.reading() as plant:
                self._load_panels(plant, generation, names, version, at)
        finally:
            self.post_message(RefreshDone(generation))

    def _load_panels(
        self, plant: PlantData, generation: int, names: tuple[str, ...], version: int, at: datetime
    ) -> None:
        header = load_header(plant, at)
        # Cheap panels first, so the screen fills while the slow ones (the inbox on a big plant) run.
        for name in sorted(names, key=LOAD_ORDER.index):
            errors: dict[str, str] = {}
            problems: dict[str, tuple[str, ...]] = {}
            data: dict[str, Any] = {"header": header, "errors": errors, "problems": problems, "version": version}
            try:
                if name == "inbox":
                    answer = load_exceptions(plant, at, show_all=self.show_all)
                else:
                    answer = answer_of(PANELS_BY_NAME[name].load(plant, at))
                data[name], problems[name] = answer.rows, answer.problems
                if name == "inbox" and self.console_app.last_looked is not None:
                    data[name], news = mark_news(answer.rows, self.console_app.last_looked, self.console_app.user)
                    self._tell_news(news)
            except Exception as exc:  # shown on the panel, never a crash
                log.exception("panel %s", name)
                errors[name] = f"{type(exc).__name__}: {exc}"
                data[name] = None
            self.post_message(PanelData(generation, data))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            self.console_app.report_worker_failure(event.worker)

    def _tell_news(self, news: list[Row]) -> None:
        """Once, on the first inbox after the console starts: what critical came or changed since the
        planner last looked (a notification: dismissable, never in the way)."""
        if self._told_news:
            return
        self._told_news = True
        since = self.console_app.last_looked
        critical = [row for row in news if str(row.cells[0]).lower() == "critical"]
        if not critical:
            return
        lines = [f"{'NEW' if is_new(row, since) else 'CHANGED'}: {row.cells[4]}" for row in critical[:5]]
        more = f"\n... and {len(critical) - 5} more" if len(critical) > 5 else ""
        self.app.call_from_thread(
            self.app.notify,
            "\n".join(lines) + more,
            title=f"Since you looked ({moment(since)} UTC): {len(news)} new or changed, {len(critical)} critical",
            severity="warning",
            timeout=20,
        )

    def on_refresh_done(self, message: RefreshDone) -> None:
        self._outstanding -= 1
        if self._outstanding > 0:
            return
        self._refreshing = False
        took = time.monotonic() - self._refresh_started
        if self._refresh_wanted:
            # At least the gap from the last start, and on a big plant busy a third of the time at
            # most: the keyboard and the feed need the CPU too.
            self.set_timer(max(MIN_REFRESH_GAP - took, 2 * took, 0.01), self.request_refresh)

    def on_panel_data(self, message: PanelData) -> None:
        if message.generation < self._applied_generation:
            return  # an older answer arriving late
        names = [p.name for p in PANELS if p.name in message.data]
        first_fill = names and all(not self.table(n).loaded for n in names)
        if self.typing and not first_fill:
            self._pending.append(message)  # nothing repaints while the planner types
            return
        self._apply(message)

    def _apply(self, message: PanelData) -> None:
        self._applied_generation = message.generation
        data = message.data
        self.header_data = data.get("header") or {}
        with self.app.batch_update():
            self.render_header()
            for panel in PANELS:
                if panel.name not in data:
                    continue
                table = self.table(panel.name)
                rows = data[panel.name]
                if rows is None:
                    error = data["errors"].get(panel.name, "failed")
                    self._errors[panel.name] = f"could not load: {error}"[:70]
                    self.box(panel.name).border_subtitle = self._errors[panel.name]
                    continue
                self._errors.pop(panel.name, None)
                table.show(rows)
                self._loaded_version[panel.name] = data.get("version", 0)
                self._say_problems(panel.name, tuple(data.get("problems", {}).get(panel.name, ())))
            self._update_titles()
        self.app.post_message(PanelsShown([k for k in data if k in {p.name for p in PANELS}]))

    def _say_problems(self, name: str, problems: tuple[str, ...]) -> None:
        """What the plant could not check for a panel (a kind of exception, on a loop in its data): marked
        in the panel's title while it lasts, and told once in a warning when it appears or changes."""
        before = self._problems.get(name, ())
        self._problems[name] = problems
        if problems and problems != before:
            panel = PANELS_BY_NAME[name]
            self.app.notify(
                "\n".join(problems), title=f"{panel.title}: some could not be checked", severity="warning", timeout=12
            )

    def _update_titles(self) -> None:
        for panel in PANELS:
            table = self.table(panel.name)
            if not table.loaded:
                continue
            total = len(table.all_rows)
            count = f"{table.matching:,} of {total:,}" if table.filter_text else f"{total:,}"
            self._counts[panel.name] = count
            title = f"{panel.title} ({count})"
            if panel.name == "inbox" and self.show_all:
                title = f"{panel.title}, snoozed and resolved too ({count}) S hides them"
            self._show_detail(table)
            failed = len(self._problems.get(panel.name, ()))
            if failed:
                title += f" ! {failed} check{'' if failed == 1 else 's'} failed"
            if table.filter_text:
                title += f" filter: {table.filter_text}"
            self.box(panel.name).border_title = title
        self.query_one(PanelSwitcher).show(self.current_panel, self._counts)

    def render_header(self) -> None:
        if self.typing:
            return
        app = self.console_app
        self.query_one(PlantHeader).show(
            plant=self.header_data.get("plant") or "plant",
            now=app.now(),
            clock_note=app.clock_note,
            status=app.feed_status,
            lag=self.header_data.get("lag"),
            error=app.feed_error,
            disconnected=app.disconnected,
            past=app.as_of is not None,
            speed=app.clock_speed,
            snapshot_as_of=self.header_data.get("snapshot_as_of"),
        )
        self.query_one(FeedBanner).show(
            app.feed_status, app.feed_error, app.disconnected, stale_snapshot=self._stale_snapshot(app.now())
        )

    def _stale_snapshot(self, now: datetime) -> str:
        """What to say when the loaded snapshot is older than the `stale_after` setting (else "")."""
        extract = self.header_data.get("snapshot_as_of")
        if extract is None or self.console_app.as_of is not None:
            return ""  # the time slider shows the past on purpose
        limit = settings.current().stale_after
        age = (now - extract).total_seconds()
        if age <= limit:
            return ""
        return (
            f"The snapshot is {duration(age / 60)} old (extract {moment(extract)} UTC; stale_after is "
            f"{duration(limit / 60)}): what is shown is that plant plus the events since. Load a new one "
            "(planner-tui load)."
        )
