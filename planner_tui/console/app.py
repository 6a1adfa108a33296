"""PlannerApp: the console shell. It owns the plant, the clock, the feed worker, navigation and keys.

The app reads and triages the plant only through `PlantData` (planner_tui.access): given a Store, it
builds a LocalPlant over it. It polls the plant's feed itself, in a thread worker, one poll at a time
(the next is armed when the last finishes); after an applied batch it posts DataChanged to the active
screen. Screens ask the plant in their own workers, each call inside ``reading()``, so quitting never
closes the plant under a running call. What screens need from the app is `context.ConsoleApp`.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path, PurePath
from typing import Any, ClassVar

from textual import work
from textual.app import App
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.timer import Timer
from textual.worker import Worker, WorkerState

from planner_tui.access import LocalPlant, PlantData, PlantUnavailable, Record
from planner_tui.access.past import PastPlant
from planner_tui.console.commands import PlantCommands
from planner_tui.console.context import ConsoleApp
from planner_tui.console.dialogs.as_of import AsOfDialog
from planner_tui.console.dialogs.help import HelpScreen, describe_bindings
from planner_tui.console.looked import last_looked, remember_looked
from planner_tui.console.messages import DataChanged, FeedPolled
from planner_tui.console.navigation import screen_for
from planner_tui.console.screens.main import MAIN_TCSS, MainScreen
from planner_tui.errors import PlannerError
from planner_tui.present import current_user, moment
from planner_tui.store import Store
from planner_tui.timeutil import ReplayClock, resolve_now, utcnow

log = logging.getLogger(__name__)

CATCH_UP_DELAY = 0.05  # a feed that is behind is asked again at once
RECONNECT_DELAY = 1.0  # the plant server is away: ask again (its client retries its stream meanwhile)
DEFAULT_POLL_SECONDS = 2.0


def _plant_key(plant: PlantData) -> str | None:
    """Which plant "last looked" is about: its database file, or its plant server; None for a plant held
    in memory (a --snapshot run), which nobody comes back to."""
    address = getattr(plant, "address", None)
    if address is not None:
        return f"server {address}"
    store = getattr(plant, "store", None)
    path = getattr(store, "path", None)
    return f"db {Path(path).resolve()}" if path is not None else None


class PlannerApp(App[None]):
    """The planner's console over one plant: a Store (read through a LocalPlant), or any PlantData."""

    # Absolute paths: a subclass defined elsewhere finds them too. main.tcss is MainScreen's own CSS_PATH,
    # but Textual does not load the CSS_PATH of the default screen (get_default_screen): listed here.
    CSS_PATH: ClassVar[list[str | PurePath]] = [Path(__file__).with_name("app.tcss"), MAIN_TCSS]
    TITLE = "planner_tui"
    COMMANDS = App.COMMANDS | {PlantCommands}
    COMMAND_PALETTE_DISPLAY = "ctrl+p"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit", id="app.quit"),
        Binding("question_mark", "help", "Keys", id="app.help"),
        Binding("escape", "back", "Back", id="app.back"),
        # Out of the footer (it must keep `q Quit  ? Keys` at 80 columns); `?` lists them.
        Binding("t", "as_of", "As of...", id="app.as_of", show=False),
        Binding("h", "shift", "Shift handover", id="app.shift", show=False),
    ]

    def __init__(
        self,
        store: Store | None = None,
        *,
        plant: PlantData | None = None,
        at: str | datetime | None = None,
        events: str | None = None,
        poll_seconds: float = DEFAULT_POLL_SECONDS,
        user: str | None = None,
        animate: bool = True,
        clock: Callable[[], datetime] | None = None,
        triage_clock: Callable[[], datetime] | None = None,
    ) -> None:
        super().__init__()
        if plant is None:
            if store is None:
                raise TypeError("PlannerApp needs a store or a plant")
            plant = LocalPlant(store, events=events, clock=clock)
        self.plant: PlantData = plant
        self._at = resolve_now(at) if at is not None else None
        self._clock = clock  # e.g. the demo's ReplayClock; None means the real UTC clock
        # When triage is recorded: None lets the plant use the real clock, whatever --at pinned (the
        # audit trail is not the view). Only tests and screenshots pass a clock, to stay reproducible.
        self._triage_clock = triage_clock
        self.events_source = events  # a feed to poll (through the plant); None: no polling
        # A plant server's client: its poll_feed waits for the server's changes, asked again at once.
        self.follows_changes = bool(getattr(plant, "follows_changes", False))
        self.disconnected: str | None = None  # the plant server cannot be reached: why
        self.poll_seconds = poll_seconds
        self.user = user or current_user()
        self.feed_status: Record | None = None  # PlantData.feed_status as of the last poll
        self.feed_error: str | None = None  # the feed could not be opened at all
        self.data_version = 0  # bumped after every applied batch
        self.polls = 0  # finished polls (tests wait on it)
        self._reads = 0  # plant calls running right now (in workers)
        self._reads_done = threading.Condition()
        self._closing = False  # release() has begun: no new plant call starts
        self._shutting_down = False
        self._poll_timer: Timer | None = None
        self._poll_started = time.monotonic()
        self.as_of: datetime | None = None  # the time slider: every panel shows the plant as it stood then
        # What changed since this person last looked: the inbox marks it (console/looked.py).
        self.plant_key = _plant_key(plant)
        self.last_looked = last_looked(self.plant_key)
        if not animate:
            self.animation_level = "none"

    # ------------------------------------------------------------------ the interface screens use

    def now(self) -> datetime:
        """The moment the time slider shows, the pinned --at clock, a replay clock, or the real UTC clock."""
        if self.as_of is not None:
            return self.as_of
        if self._at is not None:
            return self._at
        return self._clock() if self._clock is not None else utcnow()

    def triage_time(self) -> datetime | None:
        """The time to record a triage action at: None (the plant's real clock) unless a test pinned it."""
        return self._triage_clock() if self._triage_clock is not None else None

    @property
    def clock_pinned(self) -> bool:
        return self._at is not None or self.as_of is not None

    @property
    def clock_speed(self) -> float:
        """How many times faster than real time the console's clock runs: a replay's speed, else 1."""
        return float(self._clock.speed) if isinstance(self._clock, ReplayClock) else 1.0

    @property
    def clock_note(self) -> str | None:
        """Said beside the clock when it is not the real time."""
        if self.as_of is not None:
            return "THE PAST: t returns to now"
        if self._at is not None:
            return "pinned"
        if isinstance(self._clock, ReplayClock):
            return f"replay x{self._clock.speed:g}"
        return None

    def action_drill(self, kind: str, ident: str) -> None:
        """Open the drill-down for (kind, ident): machine, hold, lot, item, production_order,
        sales_order ("SO/line"), shipment, customer, exception."""
        try:
            screen = screen_for(kind, ident)
        except PlannerError as error:
            self.notify(str(error), severity="error")
            return
        if screen is not None:
            self.push_screen(screen)

    @contextmanager
    def reading(self) -> Iterator[PlantData]:
        """Every plant call a worker makes goes inside this: ``with app.reading() as plant: ...``.
        Quitting (``release``) waits for the calls running before it closes the plant, and no call
        starts once it has begun (PlantUnavailable)."""
        with self._reads_done:
            if self._closing:
                raise PlantUnavailable("the console is closing")
            self._reads += 1
        as_of = self.as_of
        try:
            yield self.plant if as_of is None else PastPlant(self.plant, as_of)
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

    def get_default_screen(self) -> Screen[Any]:
        return MainScreen()

    def on_mount(self) -> None:
        if not self.is_headless:
            self._install_signal_handlers()
        if self.events_source or self.follows_changes:
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
        """After the app has exited: wait for the plant calls still running (a read, a poll writing, a
        triage action), at most `timeout` seconds, then close the plant."""
        self._shutting_down = True
        if self._poll_timer is not None:
            self._poll_timer.stop()
        with self._reads_done:
            self._closing = True
            finished = self._reads_done.wait_for(lambda: self._reads == 0, timeout=timeout)
        if not finished:
            log.warning("closing the plant with %d call(s) still running after %.0f s", self._reads, timeout)
        self.plant.close()
        looked_until = self._at or (self._clock() if self._clock is not None else utcnow())
        remember_looked(self.plant_key, looked_until)

    # ------------------------------------------------------------------ keys

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # On the main screen there is nothing to go back to: "back" stays out of the footer.
        return not (action == "back" and isinstance(self.screen, MainScreen))

    async def action_back(self) -> None:
        if len(self.screen_stack) > 1 and not isinstance(self.screen, MainScreen):
            self.pop_screen()  # not awaited, as Textual's own action_back

    def action_shift(self) -> None:
        """`h`: the shift handover, as `planner-tui report shift` tells it, to walk and drill into."""
        from planner_tui.console.screens.shift import ShiftScreen

        if not isinstance(self.screen, ShiftScreen):
            self.push_screen(ShiftScreen())

    # ------------------------------------------------------------------ the time slider

    def action_as_of(self) -> None:
        """`t`: ask which moment to show the plant at; in the past, `t` comes back to now."""
        if self.as_of is not None:
            self._show_moment(None)
            self.notify("Back to now: the plant as it is", timeout=4)
            return
        if isinstance(self.screen, AsOfDialog):
            return
        self.push_screen(AsOfDialog(self.now()), self._go_to)

    def _go_to(self, moment_asked: datetime | None) -> None:
        if moment_asked is not None:
            self._check_moment(moment_asked)

    @work(thread=True, exclusive=True, group="as_of", exit_on_error=False, description="the plant as it stood")
    def _check_moment(self, moment_asked: datetime) -> None:
        """Ask the plant once at that moment (it refuses one before its snapshot), then show it."""
        try:
            with self.reading() as plant:
                plant.status(as_of=moment_asked)
        except PlannerError as error:
            self.call_from_thread(self.notify, str(error), severity="error", timeout=8)
            return
        self.call_from_thread(self._show_moment, moment_asked)
        self.call_from_thread(
            self.notify,
            f"The plant as it stood at {moment(moment_asked)} UTC: nothing here can be triaged; t returns to now",
            timeout=8,
        )

    def _show_moment(self, moment_asked: datetime | None) -> None:
        self.as_of = moment_asked
        self.data_version += 1
        self.screen.post_message(DataChanged(0, self.data_version))
        main = self.main_screen
        if main is not None and main.is_current:
            main.render_header()

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
        try:
            with self.reading() as plant:
                if self._shutting_down:
                    return
                polled = plant.poll_feed()
        except PlantUnavailable as error:
            if self._shutting_down:
                return
            if self.follows_changes:  # the server is away: say so, keep the last answers, try again
                self.post_message(FeedPolled(0, self.feed_status, disconnected=str(error)))
            else:
                self.post_message(FeedPolled(0, None, error=str(error)))
            return
        except PlannerError as error:  # the feed cannot even be opened (or the console is closing)
            self.post_message(FeedPolled(0, None, error=str(error)))
            return
        self.post_message(
            FeedPolled(
                int(polled.get("applied") or 0),
                polled.get("status"),
                changed=bool(polled.get("changed")),
                loaded=polled.get("loaded"),
            )
        )

    @staticmethod
    def _state(status: Record | None) -> str | None:
        return status.get("state") if status is not None else None

    def on_feed_polled(self, message: FeedPolled) -> None:
        self.polls += 1
        previous_state = self._state(self.feed_status)
        self.feed_status = message.status
        self.feed_error = message.error
        was_disconnected, self.disconnected = self.disconnected, message.disconnected
        # A feed going stale (or coming back) is news for the inbox too, even with nothing applied; so is
        # the plant server coming back (what changed meanwhile was not heard).
        state_changed = self._state(message.status) != previous_state
        reconnected = was_disconnected is not None and message.disconnected is None
        if message.loaded:  # everyone on the plant sees the new snapshot at once: say so, and whose
            loaded = message.loaded
            self.notify(
                f"New snapshot {loaded.get('source') or ''} (as of {moment(loaded.get('as_of'))}), loaded by "
                f"{loaded.get('who') or '?'}: every panel now shows it",
                timeout=8,
            )
        if message.applied or message.changed or state_changed or reconnected:
            self.data_version += 1
            self.screen.post_message(DataChanged(message.applied, self.data_version))
        main = self.main_screen
        if main is not None and main.is_current:
            main.render_header()
        if message.disconnected:
            self._arm_poll(RECONNECT_DELAY)
        elif self.follows_changes or (self._state(message.status) == "catching_up" and message.applied):
            self._arm_poll(CATCH_UP_DELAY)
        else:
            # Polls start every poll_seconds (the time a poll took counts towards it), one at a time.
            self._arm_poll(max(CATCH_UP_DELAY, self.poll_seconds - (time.monotonic() - self._poll_started)))

    def _arm_poll(self, delay: float) -> None:
        if self._shutting_down or not (self.events_source or self.follows_changes):
            return
        self._poll_timer = self.set_timer(delay, self._poll_feed, name="next feed poll")

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """Any app worker that fails becomes a notification, never a crash. (Worker.StateChanged does
        not bubble: a screen forwards its own workers' failures to ``report_worker_failure``.)"""
        if event.state == WorkerState.ERROR:
            self.report_worker_failure(event.worker)

    def report_worker_failure(self, worker: Worker[Any]) -> None:
        error = worker.error
        what = worker.description or worker.name or "background work"
        log.error("%s failed", what, exc_info=error)  # the traceback for the developer, in the log file
        message = str(error) if isinstance(error, PlannerError) else f"{type(error).__name__}: {error}"
        self.notify(f"{what} failed: {message}", severity="error", timeout=8)
        if worker.group == "feed":
            self.feed_error = message
            main = self.main_screen
            if main is not None and main.is_current:
                main.render_header()
            self._arm_poll(self.poll_seconds)


def _is_a_console_app(app: PlannerApp) -> ConsoleApp:
    """Never called: the type checker proves here that PlannerApp is what screens expect (ConsoleApp)."""
    return app
