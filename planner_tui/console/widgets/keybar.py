"""The key bar at the foot of every screen: `q Quit` and `? Keys` always in view.

Textual's Footer lists the bindings in order and scrolls off the right edge when they do not fit, so at
80 columns a screen with many keys (the exception's triage) lost `q Quit  ? Keys`, the two a new planner
needs. Here those two are kept and the screen's other keys fill the room left, in order; a key that does
not fit is left out of the bar (never cut mid-word) and `?` still lists it.
"""

from __future__ import annotations

from typing import ClassVar

from rich.cells import cell_len
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

# The bindings the bar always shows (app.py's), in this order, at its right end.
KEPT = ("app.quit", "app.help")


class KeyBar(Footer):
    """A Footer that never loses `q Quit` and `? Keys` (see the module's doc)."""

    KEPT: ClassVar[tuple[str, ...]] = KEPT

    def __init__(self, *, compact: bool = False, id: str | None = None) -> None:
        super().__init__(compact=compact, id=id)
        self._composed_width = 0

    def key_width(self, key_display: str, description: str) -> int:
        """Cells a FooterKey takes (Footer's CSS): compact `k desc` and a margin, else ` k desc `."""
        return cell_len(key_display) + cell_len(description) + (2 if self.compact else 3)

    def compose(self) -> ComposeResult:
        if not self._bindings_ready:
            return
        active = self.screen.active_bindings
        keys: dict[str, tuple[Binding, bool, str]] = {}
        for _, binding, enabled, tooltip in active.values():
            if binding.show:
                keys.setdefault(binding.action, (binding, enabled, tooltip))
        kept = sorted((k for k in keys.values() if k[0].id in self.KEPT), key=lambda k: self.KEPT.index(str(k[0].id)))
        rest = [k for k in keys.values() if k[0].id not in self.KEPT]
        palette = None
        if self.show_command_palette and self.app.ENABLE_COMMAND_PALETTE:
            palette = active.get(self.app.COMMAND_PALETTE_BINDING)

        width = self.size.width
        self._composed_width = width
        if width:
            room = width - sum(self.key_width(self.app.get_key_display(b), b.description) for b, _, _ in kept)
            if palette is not None:
                _, binding, _, _ = palette
                # docked right: "▏ctrl+p palette", a border, the key, a space, the description
                room -= cell_len(self.app.get_key_display(binding)) + cell_len(binding.description) + 2
            fitting = []
            for key in rest:
                binding = key[0]
                size = self.key_width(self.app.get_key_display(binding), binding.description)
                if size > room:
                    break
                fitting.append(key)
                room -= size
            rest = fitting

        for binding, enabled, tooltip in [*rest, *kept]:
            yield FooterKey(
                binding.key,
                self.app.get_key_display(binding),
                binding.description,
                binding.action,
                disabled=not enabled,
                tooltip=tooltip,
            ).data_bind(compact=Footer.compact)
        if palette is not None:
            _, binding, enabled, _ = palette
            yield FooterKey(
                binding.key,
                self.app.get_key_display(binding),
                binding.description,
                binding.action,
                classes="-command-palette",
                disabled=not enabled,
                tooltip=binding.tooltip or binding.description,
            )

    def on_resize(self, event: events.Resize) -> None:
        if self._bindings_ready and event.size.width != self._composed_width:
            self.call_after_refresh(self.recompose)

    def shown_text(self) -> str:
        """What the bar reads, left to right (for tests and the keys help)."""
        return "  ".join(f"{key.key_display} {key.description}".strip() for key in self.query(FooterKey) if key.display)
