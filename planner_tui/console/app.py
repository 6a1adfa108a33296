"""PlannerApp: the console shell. It owns the store, the clock, the feed worker, navigation and keys.

The app is the single writer of its database: it polls and applies its feed itself, in a thread worker,
one poll at a time (the next is armed when the last finishes). After an applied batch it posts
DataChanged to the active screen. Screens read through their own cursors in their own workers.
"""

from __future__ import annotations

import asyncio
import getpass
import logging
import signal
import threading
import time
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Callable

from textual import work
from textual.app import App
from textual.binding import Binding
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from planner_tui.console.commands import PlantCommands
from planner_tui.console.messages import DataChanged, FeedPolled
from planner_tui.console.screens.main import MainScreen
from planner_tui.console.widgets.help import HelpScreen, describe_bindings
from planner_tui.errors import PlannerError
from planner_tui.store import Store
from planner_tui.timeutil import resolve_now, utcnow

log = logging.getLogger(__name__)

CATCH_UP_DELAY = 0.05  # a feed that is behind is asked again at once
DEFAULT_POLL_SECONDS = 2.0


def _os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry in some containers
        return "unknown"


class PlannerApp(App):
    """The planner's console over one store."""

    CSS_PATH = "app.tcss"
    TITLE = "planner_tui"
    COMMANDS = App.COMMANDS | {PlantCommands}
    COMMAND_PALETTE_DISPLAY = "ctrl+p"
    BINDINGS = [
        Binding("q", "quit", "Quit", id="app.quit"),
        Binding("question_mark", "help", "Keys", id="app.help"),
        Binding("escape", "back", "Back", id="app.back"),
    ]

    def __init__(
        self,
        store: Store,
        *,
        at: str | datetime | None = None,
        events: str | None = None,
        poll_seconds: float = DEFAULT_POLL_SECONDS,
        user: str | None = None,
        animate: bool = True,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        super().__init__()
        self.store = store
        self._at = resolve_now(at) if at is not None else None
        self._clock = clock  # e.g. the demo's ReplayClock; None means the real UTC clock
        self.events_source = events
        self.poll_seconds = poll_seconds
        self.user = user or _os_user()
        self.feed_status: Any = None  # latest planner_tui.feeds.poller.FeedStatus
        self.feed_error: str | None = None  # the feed could not be opened at all
        self.data_version = 0  # bumped after every applied batch
        self.polls = 0  # finished polls (tests wait on it)
        self._feed = None
        self._feed_busy = threading.Lock()  # held while a poll writes; shutdown waits for it
        self._reads = 0  # worker threads reading the store right now
        self._reads_done = threading.Condition()
        self._shutting_down = False
        self._poll_timer = None
        self._poll_started = time.monotonic()
        if not animate:
            self.animation_level = "none"

    # ------------------------------------------------------------------ the interface screens use

    def now(self) -> datetime:
        """The pinned --at clock, a replay clock, or the real UTC clock."""
        if self._at is not None:
            return self._at
        return self._clock() if self._clock is not None else utcnow()

    @property
    def clock_pinned(self) -> bool:
        return self._at is not None

    @property
    def clock_note(self) -> str | None:
        """Said beside the clock when it is not the real time."""
        if self._at is not None:
            return "pinned"
        speed = getattr(self._clock, "speed", None)
        if speed is not None:
            return f"replay x{speed:g}"
        return None

    def action_drill(self, kind: str, ident: str) -> None:
        """Open the drill-down for (kind, ident): machine, hold, lot, item, production_order,
        sales_order ("SO/line"), shipment, customer, exception."""
        try:
            from planner_tui.console.navigation import screen_for
        except ImportError:
            self.notify(f"{kind} {ident}: drill-down screens are not installed yet", severity="warning")
            return
        try:
            screen = screen_for(kind, ident)
        except PlannerError as error:
            self.notify(str(error), severity="error")
            return
        if screen is not None:
            self.push_screen(screen)

    @contextmanager
    def reading(self):
        """Wrap a worker's store reads: quitting waits for them before it closes the store."""
        with self._reads_done:
            self._reads += 1
        try:
            yield
        finally:
            with self._reads_done:
                self._reads -= 1
                self._reads_done.notify_all()

    @property
    def main_screen(self) -> MainScreen | None:
        for screen in self.screen_stack:
            if isinstance(screen, MainScreen):
                return screen
        return None

    # ------------------------------------------------------------------ lifecycle

    def get_default_screen(self) -> Screen:
        return MainScreen()

    def on_mount(self) -> None:
        if not self.is_headless:
            self._install_signal_handlers()
        if self.events_source:
            self._poll_feed()

    def _install_signal_handlers(self) -> None:
        """A dropped SSH session sends SIGHUP: exit cleanly so the database file is released."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        for sig in (getattr(signal, "SIGHUP", None), getattr(signal, "SIGTERM", None)):
            if sig is None:
                continue
            try:
                loop.add_signal_handler(sig, self._hang_up)
            except (NotImplementedError, RuntimeError, ValueError):
                pass

    def _hang_up(self) -> None:
        self._shutting_down = True
        self.exit(return_code=0)

    async def action_quit(self) -> None:
        self._shutting_down = True
        await super().action_quit()

    def release(self, timeout: float = 10.0) -> None:
        """After the app has exited: wait for a poll that is writing, then close the store."""
        self._shutting_down = True
        if self._poll_timer is not None:
            self._poll_timer.stop()
        acquired = self._feed_busy.acquire(timeout=timeout)
        with self._reads_done:
            self._reads_done.wait_for(lambda: self._reads == 0, timeout=timeout)
        try:
            self.store.close()
        finally:
            if acquired:
                self._feed_busy.release()

    # ------------------------------------------------------------------ keys

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "back" and isinstance(self.screen, MainScreen):
            return False  # nothing to go back to: keep it out of the footer
        return True

    def action_back(self) -> None:
        if len(self.screen_stack) > 1 and not isinstance(self.screen, MainScreen):
            self.pop_screen()

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            return
        self.push_screen(HelpScreen(describe_bindings(self)))

    # ------------------------------------------------------------------ the feed

    @work(thread=True, exclusive=True, group="feed", exit_on_error=False, description="feed poll")
    def _poll_feed(self) -> None:
        if self._shutting_down:
            return
        self._poll_started = time.monotonic()
        if self._feed is None:
            try:
                from planner_tui.feeds.poller import open_feed
            except ImportError:
                self.post_message(FeedPolled(0, None, error="the feed poller is not installed"))
                return
            try:
                options = {"clock": self._clock} if self._clock is not None else {}
                self._feed = open_feed(self.store, self.events_source, **options)
            except PlannerError as error:
                self.post_message(FeedPolled(0, None, error=str(error)))
                return
        with self._feed_busy:
            if self._shutting_down:
                return
            result = self._feed.poll_once()
        self.post_message(FeedPolled(int(getattr(result, "applied", 0) or 0), getattr(result, "status", None)))

    def on_feed_polled(self, message: FeedPolled) -> None:
        self.polls += 1
        previous_state = getattr(self.feed_status, "state", None)
        self.feed_status = message.status
        self.feed_error = message.error
        # A feed going stale (or coming back) is news for the inbox too, even with nothing applied.
        state_changed = getattr(message.status, "state", None) != previous_state
        if message.applied or state_changed:
            self.data_version += 1
            self.screen.post_message(DataChanged(message.applied, self.data_version))
        main = self.main_screen
        if main is not None and main.is_current:
            main.render_header()
        state = getattr(message.status, "state", None)
        if state == "catching_up" and message.applied:
            self._arm_poll(CATCH_UP_DELAY)
        else:
            # Polls start every poll_seconds (the time a poll took counts towards it), one at a time.
            self._arm_poll(max(CATCH_UP_DELAY, self.poll_seconds - (time.monotonic() - self._poll_started)))

    def _arm_poll(self, delay: float) -> None:
        if self._shutting_down or not self.events_source:
            return
        self._poll_timer = self.set_timer(delay, self._poll_feed, name="next feed poll")

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """Any app worker that fails becomes a notification, never a crash. (Worker.StateChanged does
        not bubble: a screen forwards its own workers' failures to ``report_worker_failure``.)"""
        if event.state == WorkerState.ERROR:
            self.report_worker_failure(event.worker)

    def report_worker_failure(self, worker: Worker) -> None:
        error = worker.error
        what = worker.description or worker.name or "background work"
        log.error("%s failed: %r", what, error)
        message = str(error) if isinstance(error, PlannerError) else f"{type(error).__name__}: {error}"
        self.notify(f"{what} failed: {message}", severity="error", timeout=8)
        if worker.group == "feed":
            self.feed_error = message
            main = self.main_screen
            if main is not None and main.is_current:
                main.render_header()
            self._arm_poll(self.poll_seconds)
