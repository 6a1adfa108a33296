"""Command palette (ctrl+p): go to a machine, order, lot, item...; impact of machine X; trace lot Y.

The palette is a view over the plant's `find` (the same answers as `planner-tui find`): each keystroke
asks it in a worker thread, so a plant with millions of ids is searched where it lives, never held in
the console.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from functools import partial
from typing import TypeVar

from textual.command import DiscoveryHit, Hit, Hits, Provider

from planner_tui.access import PlantData, Record
from planner_tui.console.context import ConsoleApp, console_of

T = TypeVar("T")

MAX_HITS = 40
# Typing fast replaces the query before this: the search it would have started is not started at all.
DEBOUNCE_SECONDS = 0.08

# Words that say what is wanted rather than which one: "impact weld", "trace lot L-1", "go to order SO-7".
VERB_KINDS = {"impact": ("machine",), "trace": ("lot",)}
KIND_WORDS = {
    "machine": ("machine",),
    "machines": ("machine",),
    "hold": ("hold",),
    "holds": ("hold",),
    "order": ("production_order", "sales_order"),
    "orders": ("production_order", "sales_order"),
    "production": ("production_order",),
    "sales": ("sales_order",),
    "lot": ("lot",),
    "lots": ("lot",),
    "item": ("item",),
    "items": ("item",),
    "customer": ("customer",),
    "customers": ("customer",),
    "shipment": ("shipment",),
    "shipments": ("shipment",),
}
FILLER = {"go", "to", "of"}

GO_TO = {
    "machine": "machine",
    "hold": "hold",
    "item": "item",
    "customer": "customer",
    "production_order": "production order",
    "sales_order": "order",
    "shipment": "shipment",
}
WHAT_IT_SHOWS = {
    "item": "projected balance and shortages",
    "lot": "where it came from and went",
    "machine": "what its stop hits",
}


def read_query(query: str) -> tuple[str, tuple[str, ...] | None, str | None]:
    """(words to find, kinds or None for all, verb) from what was typed."""
    kinds: set[str] | None = None
    verb = None
    words = []
    for word in query.split():
        lowered = word.lower()
        named = VERB_KINDS.get(lowered) or KIND_WORDS.get(lowered)
        if lowered in VERB_KINDS:
            verb = lowered
        if named:
            kinds = set(named) if kinds is None else (kinds & set(named)) or kinds
        elif lowered not in FILLER:
            words.append(word)
    return " ".join(words), (tuple(sorted(kinds)) if kinds is not None else None), verb


def commands_for(hit: Record, verb: str | None) -> list[tuple[str, str]]:
    """(text, help) of what the palette offers for one thing found."""
    kind, ident, label = hit["kind"], hit["id"], hit["label"] or ""
    if kind == "lot":
        return [(f"Trace lot {ident}", f"{label}: {WHAT_IT_SHOWS['lot']}")]
    go_to = (f"Go to {GO_TO[kind]} {ident}", f"{label}: {WHAT_IT_SHOWS[kind]}" if kind == "item" else label)
    if kind == "machine":
        impact = (f"Impact of machine {ident}", f"{label}: {WHAT_IT_SHOWS['machine']}")
        return [impact] if verb == "impact" else [impact, go_to]
    return [go_to]


def _ask(console: ConsoleApp, question: Callable[[PlantData], T]) -> T:
    """One plant question, in the worker thread; quitting waits for it before closing the plant."""
    with console.reading() as plant:
        return question(plant)


def _find(words: str, kinds: Sequence[str] | None) -> Callable[[PlantData], list[Record]]:
    return lambda plant: plant.find(words, kind=kinds, limit=MAX_HITS)


class PlantCommands(Provider):
    """Every machine, hold, order, lot, item, customer and shipment of the plant."""

    async def discover(self) -> Hits:
        # Before typing: the stopped machines and active holds, the usual starting points.
        console = console_of(self)
        points = await asyncio.to_thread(_ask, console, lambda plant: plant.starting_points())
        for point in points:
            text, help_text = commands_for(point, "impact")[0]
            yield DiscoveryHit(text, partial(console.action_drill, point["kind"], point["id"]), help=help_text)

    async def search(self, query: str) -> Hits:
        words, kinds, verb = read_query(query)
        if not words and kinds is None:
            return
        console = console_of(self)
        await asyncio.sleep(DEBOUNCE_SECONDS)  # cancelled here when the next key comes first
        found = await asyncio.to_thread(_ask, console, _find(words, kinds))
        matcher = self.matcher(query)
        offered = 0
        for hit in found:
            for text, help_text in commands_for(hit, verb):
                # The engine's order, kept: the palette sorts every provider's hits by score alone.
                score = hit["score"] - offered * 1e-6
                offered += 1
                yield Hit(
                    score,
                    matcher.highlight(text),
                    partial(console.action_drill, hit["kind"], hit["id"]),
                    text=text,
                    help=help_text,
                )
