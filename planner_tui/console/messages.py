"""Messages the console passes between its workers, the app and its screens."""

from __future__ import annotations

from typing import Any

from textual.message import Message

from planner_tui.access import Record


class DataChanged(Message):
    """The store changed (a feed batch was applied): screens showing plant data should refresh.

    Posted by the app to the active screen after each applied batch; a screen that is not active learns
    of it through ``app.data_version`` when it resumes.
    """

    def __init__(self, applied: int, version: int) -> None:
        super().__init__()
        self.applied = applied  # events applied in this batch
        self.version = version  # app.data_version after the batch


class FeedPolled(Message):
    """One poll of the feed finished (in a worker): what it applied and the feed's state."""

    def __init__(
        self,
        applied: int,
        status: Record | None,
        error: str | None = None,
        *,
        changed: bool = False,
        disconnected: str | None = None,
        loaded: Record | None = None,
    ) -> None:
        super().__init__()
        self.applied = applied
        self.status = status  # PlantData.feed_status after the poll, or None
        self.error = error  # set when the feed could not even be opened
        self.changed = changed  # the plant server said something changed (triage, a load, events)
        self.disconnected = disconnected  # the plant server cannot be reached: why
        self.loaded = loaded  # the plant server loaded a new snapshot: {source, as_of, who}


class PanelData(Message):
    """Rows for the main screen's panels, computed in a worker thread."""

    def __init__(self, generation: int, data: dict[str, Any]) -> None:
        super().__init__()
        self.generation = generation
        self.data = data  # panel name -> list of Row, plus "header" -> dict


class PanelsShown(Message):
    """The main screen painted fresh data for these panels (tests and benchmarks wait for it)."""

    def __init__(self, panels: list[str]) -> None:
        super().__init__()
        self.panels = panels


class RefreshDone(Message):
    """A main-screen refresh worker finished (whatever happened): the next one may start."""

    def __init__(self, generation: int) -> None:
        super().__init__()
        self.generation = generation
