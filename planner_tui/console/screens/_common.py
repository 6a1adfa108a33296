"""What the drill-down screens share: the breadcrumb, loading in a worker, trees of drillable ids.

Every screen here loads its answer with plant questions (`fetch`) in a thread worker, inside the app's
``reading()``, shows a loading indicator meanwhile, and gets the result back as a message, so the UI
thread never waits on the plant. Their CSS is drilldown.tcss.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from rich.style import Style
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.dom import NoScreen
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Static, Tree
from textual.widgets.tree import TreeNode

from planner_tui.access import PlantData, Record
from planner_tui.console.context import ConsoleApp, console_of
from planner_tui.console.widgets.breadcrumb import Breadcrumb
from planner_tui.console.widgets.keybar import KeyBar
from planner_tui.errors import PlannerError
from planner_tui.present import ELLIPSIS, clip

T = TypeVar("T")

DRILLDOWN_TCSS = Path(__file__).with_name("drilldown.tcss")

# A dict key naming an id, and the drill kind it opens (first match is a record's own id).
ID_KINDS: tuple[tuple[str, str], ...] = (
    ("exception_id", "exception"),
    ("hold_id", "hold"),
    ("machine_id", "machine"),
    ("resource_id", "resource"),
    ("production_order_id", "production_order"),
    ("sales_order_id", "sales_order"),
    ("shipment_id", "shipment"),
    ("lot_id", "lot"),
    ("customer_id", "customer"),
    ("item_id", "item"),
)

KIND_WORDS = {
    "machine": "machine",
    "resource": "resource",
    "resource_impact": "resource",
    "hold": "hold",
    "lot": "lot",
    "item": "item",
    "production_order": "production order",
    "sales_order": "sales order line",
    "shipment": "shipment",
    "customer": "customer",
    "exception": "exception",
}

Drill = tuple[str, str]  # (kind, ident) carried by every drillable tree node


# --- ids --------------------------------------------------------------------------------------------


def sales_line_id(record: Record) -> str | None:
    so = record.get("sales_order_id")
    if so in (None, ""):
        return None
    line = record.get("line_no")
    return f"{so}/{line}" if line not in (None, "") else str(so)


def resource_drills(record: Record) -> list[Drill]:
    """The secondary resources (people, tools) an operation names, as drills: `resource_ids` (ids) or
    `resources` (ids, or records with a resource_id); none when the plant does not say."""
    found: list[Drill] = []
    named = record.get("resource_ids") or record.get("resources") or []
    if not isinstance(named, (list, tuple)):
        return found
    for entry in named:
        ident = entry.get("resource_id") if isinstance(entry, dict) else entry
        if ident not in (None, "") and ("resource", str(ident)) not in found:
            found.append(("resource", str(ident)))
    return found


def record_ids(record: Record) -> list[Drill]:
    """Every drillable id a record names, its own first."""
    found: list[Drill] = []
    for key, kind in ID_KINDS:
        value = record.get(key)
        if value in (None, ""):
            continue
        ident = sales_line_id(record) if kind == "sales_order" else str(value)
        if ident and (kind, ident) not in found:
            found.append((kind, ident))
    return found


# --- widgets ----------------------------------------------------------------------------------------


class DrillTree(Tree[Drill | None]):
    """A tree whose nodes carry (kind, id): Enter drills into the node, Space folds it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", "Open", id="drill.open", tooltip="Drill into the id under the cursor"),
        Binding("space", "toggle_node", "Fold", id="drill.fold", show=False),
    ]

    def __init__(self, label: str = "", **kwargs: Any) -> None:
        super().__init__(label, **kwargs)
        self.auto_expand = False
        self.show_root = True
        self.guide_depth = 3

    def on_tree_node_selected(self, event: Tree.NodeSelected[Drill | None]) -> None:
        # Enter on a group label folds it; on an id, the screen drills (the message bubbles on).
        if event.node.data is None:
            event.node.toggle()

    def watch_cursor_line(self, previous_line: int, line: int) -> None:
        super().watch_cursor_line(previous_line, line)
        self.show_whole_label()

    def show_whole_label(self) -> None:
        """Under the tree, the cursor's label whole when the tree's width cuts it; nothing otherwise."""
        try:
            shown = self.screen.query("#drill-line")
        except NoScreen:  # not mounted yet: the cursor is set as the tree is built
            return
        if not shown:
            return
        node = self.cursor_node
        whole = None
        if node is not None and self._cut(super().render_label(node, Style(), Style()), node):
            whole = node.label if isinstance(node.label, Text) else Text(str(node.label))
        target = shown.first(Static)
        target.update(whole or "")
        target.set_class(whole is not None, "-cut")

    def on_resize(self) -> None:
        self.show_whole_label()

    def _cut(self, rendered: Text, node: TreeNode[Drill | None]) -> bool:
        """Whether a label as Textual renders it (its fold mark included) is wider than its room."""
        room = self._room(node)
        return 0 < room < rendered.cell_len

    def _room(self, node: TreeNode[Drill | None]) -> int:
        depth, parent = 0, node.parent
        while parent is not None:
            depth, parent = depth + 1, parent.parent
        return self.scrollable_content_region.width - depth * self.guide_depth

    def render_label(self, node: TreeNode[Drill | None], base_style: Style, style: Style) -> Text:
        """The label cut with an ellipsis at a word's end where the tree's width ends, so the tree never
        scrolls sideways (its width is its longest label's); the label itself (the node's) stays whole."""
        label = super().render_label(node, base_style, style)
        if not self._cut(label, node):
            return label
        kept = clip(label.plain, self._room(node))
        return label[: len(kept) - len(ELLIPSIS)] + Text(ELLIPSIS, style=base_style)


def node_label(*parts: Any, style: str | None = None) -> Text:
    """A node label from (text, style) pairs or plain strings, separated by two spaces."""
    text = Text(no_wrap=True)
    first = True
    for part in parts:
        if part in (None, "") or (isinstance(part, tuple) and part[0] in (None, "")):
            continue
        if not first:
            text.append("  ")
        first = False
        if isinstance(part, tuple):
            text.append(str(part[0]), style=part[1])
        elif isinstance(part, Text):
            text.append_text(part)
        else:
            text.append(str(part), style=style)
    return text


def add_record(
    parent: TreeNode[Drill | None],
    label: Text | str,
    record: Record,
    *,
    own: Drill | None = None,
    extra: Iterable[Drill] = (),
) -> TreeNode[Drill | None]:
    """A node for a record: it drills into its own id; every other id it names (and `extra`) is a child
    to drill into."""
    ids = record_ids(record)
    ids += [d for d in extra if d not in ids]
    own = own or (ids[0] if ids else None)
    others = [d for d in ids if d != own]
    if not others:
        return parent.add_leaf(label, data=own)
    node = parent.add(label, data=own, expand=False)
    for kind, ident in others:
        node.add_leaf(Text.assemble((KIND_WORDS.get(kind, kind) + " ", "dim"), (ident, "bold")), data=(kind, ident))
    return node


# A tree holds at most this many rows per group: a trace of a big genealogy or the impact of a busy
# machine on the large plant must not build 100,000 nodes on the UI thread. The rest is counted.
MAX_GROUP_ROWS = 500


def group(
    parent: TreeNode[Drill | None], title: str, items: Iterable[Any], *, empty: str = "none", expand: bool = True
) -> TreeNode[Drill | None]:
    items = list(items)
    label = Text.assemble((title, "bold"), (f" ({len(items)})", "dim"))
    node = parent.add(label, data=None, expand=expand)
    if not items:
        node.add_leaf(Text(empty, style="dim italic"))
    return node


def capped(node: TreeNode[Drill | None], items: Iterable[T], limit: int = MAX_GROUP_ROWS) -> Iterator[T]:
    """The first `limit` items to draw under `node`; a last leaf says how many more there are."""
    items = list(items)
    yield from items[:limit]
    if len(items) > limit:
        node.add_leaf(
            Text(f"... and {len(items) - limit:,} more (the CLI's --json lists them all)", style="dim italic")
        )


# --- the base screen --------------------------------------------------------------------------------


class DrillScreen(Screen[None]):
    """A drill-down screen: breadcrumb, a body filled by a worker, Escape back, refresh on DataChanged."""

    CSS_PATH = DRILLDOWN_TCSS

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="drill.back", tooltip="Back to the previous screen"),
        Binding("r,f5", "reload", "Refresh", id="drill.refresh", show=False),
    ]

    kind: str = ""

    class Loaded(Message):
        def __init__(self, data: Any, generation: int) -> None:
            super().__init__()
            self.data = data
            self.generation = generation

    class Failed(Message):
        def __init__(self, error: BaseException, generation: int) -> None:
            super().__init__()
            self.error = error
            self.generation = generation

    def __init__(self, ident: str) -> None:
        super().__init__()
        self.ident = ident
        self.data: Any = None
        self.loaded = False  # True once the first answer (or error) came back: tests and flows wait on it
        self._stale = False
        self._version: int | None = None
        self._generation = 0  # the latest reload: an older worker's answer that arrives late is dropped

    @property
    def crumb(self) -> str:
        return self.ident

    @property
    def console_app(self) -> ConsoleApp:
        return console_of(self)

    # compose: the crumb bar, the screen's body, the footer
    def compose(self) -> ComposeResult:
        yield Breadcrumb(id="drill-crumbs")  # the shell's: one look across the console
        with Vertical(id="drill-body"):
            yield from self.compose_body()
        yield Static(id="drill-line")  # the cursor's whole label, when the tree cuts it (DrillTree)
        yield KeyBar(compact=True)

    def compose_body(self) -> ComposeResult:
        yield Static(id="drill-summary")

    def on_mount(self) -> None:
        self._refresh_crumbs()
        self.reload()

    def on_screen_resume(self) -> None:
        self._refresh_crumbs()
        # A feed batch applied while another screen was on top: catch up now.
        if self._stale or self.console_app.data_version != self._version:
            self._stale = False
            self.reload()

    def _refresh_crumbs(self) -> None:
        self.query_one(Breadcrumb).update_trail()

    def action_back(self) -> None:
        if len(self.app.screen_stack) > 1 and self.app.screen is self:
            self.app.pop_screen()

    def action_reload(self) -> None:
        self.reload()

    def on_data_changed(self, message: Message) -> None:
        """The shell posts DataChanged after each applied feed batch: reload when seen, else later."""
        if self.app.screen is self:
            self.reload()
        else:
            self._stale = True

    def now(self) -> datetime:
        return self.console_app.now()

    def reload(self) -> None:
        body = self.query_one("#drill-body")
        if not self.loaded:
            body.loading = True
        self._version = self.console_app.data_version
        self._generation += 1
        self._load(self.now(), self._generation)

    @work(thread=True, exclusive=True, exit_on_error=False, group="drill-load")
    def _load(self, at: datetime, generation: int) -> None:
        try:
            with self.console_app.reading() as plant:
                data = self.fetch(plant, at)
        except Exception as error:  # noqa: BLE001 - PlannerError, a bug, a broken plant: say it, never crash
            self.post_message(self.Failed(error, generation))
            return
        self.post_message(self.Loaded(data, generation))

    def fetch(self, plant: PlantData, at: datetime) -> Any:  # runs in the worker thread
        raise NotImplementedError

    def on_drill_screen_loaded(self, message: DrillScreen.Loaded) -> None:
        message.stop()
        if message.generation != self._generation:
            return
        first = not self.loaded
        self.data = message.data
        self.loaded = True
        self.query_one("#drill-body").loading = False
        try:
            self.show(message.data, first=first)
        except Exception as error:  # noqa: BLE001 - an answer it cannot draw: say so, keep the console alive
            self.app.notify(f"could not show {self.crumb}: {error!r}", severity="error")

    def on_drill_screen_failed(self, message: DrillScreen.Failed) -> None:
        message.stop()
        if message.generation != self._generation:
            return
        first = not self.loaded
        self.loaded = True
        self.query_one("#drill-body").loading = False
        error = message.error
        text = str(error) if isinstance(error, PlannerError) else f"could not load {self.crumb}: {error!r}"
        self.app.notify(text, title=f"{KIND_WORDS.get(self.kind, self.kind)} {self.ident}", severity="error")
        if first:
            # Nothing to show for an unknown id: go back to where the planner was.
            self.action_back()

    def show(self, data: Any, *, first: bool) -> None:
        raise NotImplementedError

    # Enter on a tree node with an id: ask the app to drill (it pushes screen_for(kind, id))
    @on(Tree.NodeSelected)
    def _drill_node(self, event: Tree.NodeSelected[Drill | None]) -> None:
        if event.node.data:
            kind, ident = event.node.data
            self.drill(kind, ident)

    def drill(self, kind: str, ident: str) -> None:
        self.console_app.action_drill(kind, ident)

    def fill_tree(
        self, tree: Tree[Drill | None], build: Callable[[TreeNode[Drill | None]], None], *, first: bool
    ) -> None:
        """Rebuild a tree in place, keeping the cursor line (a refresh must not throw the planner off)."""
        line = tree.cursor_line
        tree.clear()
        build(tree.root)
        tree.root.expand()
        if not first and line >= 0:
            tree.call_after_refresh(tree.move_cursor_to_line, min(line, max(tree.last_line, 0)))
        elif first:
            # the first line under the root: Enter acts at once
            tree.call_after_refresh(tree.move_cursor_to_line, 1 if tree.root.children else 0)
