"""Command palette (ctrl+p): go to a machine, resource, order, lot, item...; impact of machine X or of
resource R (a person's or tool's absence); trace lot Y.

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
from planner_tui.errors import BadRequest, PlannerError

T = TypeVar("T")

MAX_HITS = 40
# Typing fast replaces the query before this: the search it would have started is not started at all.
DEBOUNCE_SECONDS = 0.08

# Words that say what is wanted rather than which one: "impact weld", "trace lot L-1", "go to order SO-7".
VERB_KINDS = {"impact": ("machine",), "trace": ("lot",)}
# "impact X" with no kind word looks for machines and resources alike (see `search_kinds`).
IMPACT_KINDS = ("machine", "resource")
KIND_WORDS = {
    "machine": ("machine",),
    "machines": ("machine",),
    "resource": ("resource",),
    "resources": ("resource",),
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
    "resource": "resource",
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
    "resource": "what its absence hits",
}
# The drill that shows what a stop hits, per kind: a machine's screen is its impact; a resource has a
# detail screen, and its impact apart.
IMPACT_DRILL = {"machine": "machine", "resource": "resource_impact"}


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
    return [(text, help_text) for text, help_text, _ in offers_for(hit, verb)]


def offers_for(hit: Record, verb: str | None) -> list[tuple[str, str, str]]:
    """(text, help, drill kind) of what the palette offers for one thing found."""
    kind, ident, label = hit["kind"], hit["id"], hit["label"] or ""
    if kind == "lot":
        return [(f"Trace lot {ident}", f"{label}: {WHAT_IT_SHOWS['lot']}", kind)]
    help_text = f"{label}: {WHAT_IT_SHOWS[kind]}" if kind == "item" else label
    go_to = (f"Go to {GO_TO.get(kind, kind.replace('_', ' '))} {ident}", help_text, kind)
    if kind in IMPACT_DRILL:
        impact = (f"Impact of {kind} {ident}", f"{label}: {WHAT_IT_SHOWS[kind]}", IMPACT_DRILL[kind])
        return [impact] if verb == "impact" else [impact, go_to]
    return [go_to]


def search_kinds(query: str, kinds: tuple[str, ...] | None, verb: str | None) -> tuple[str, ...] | None:
    """The kinds to search: "impact X" without a kind word means a machine's stop or a resource's absence;
    "impact resource X" or "resource X" a resource (a kind word says which, over the verb)."""
    lowered = [w.lower() for w in query.split()]
    named = [k for w in lowered if w in KIND_WORDS for k in KIND_WORDS[w]]
    if named and kinds is not None and not set(kinds) & set(named):
        return tuple(sorted(set(named)))
    if verb == "impact" and not named:
        return IMPACT_KINDS
    return kinds


def _ask(console: ConsoleApp, question: Callable[[PlantData], T]) -> T:
    """One plant question, in the worker thread; quitting waits for it before closing the plant."""
    with console.reading() as plant:
        return question(plant)


def _find(words: str, kinds: Sequence[str] | None) -> Callable[[PlantData], list[Record]]:
    def question(plant: PlantData) -> list[Record]:
        try:
            return plant.find(words, kind=kinds, limit=MAX_HITS)
        except BadRequest:
            if not kinds or "resource" not in kinds:
                raise
        # A plant whose search does not list resources: the other kinds, and the resource named exactly.
        others = [k for k in kinds if k != "resource"]
        found = plant.find(words, kind=others, limit=MAX_HITS) if others else []
        return _resource_named(plant, words) + found

    return question


def _resource_named(plant: PlantData, words: str) -> list[Record]:
    ident = words.strip()
    if not ident or " " in ident:
        return []
    try:
        answer = plant.resource(ident)
    except PlannerError:
        return []
    nested = answer.get("resource")
    inner: Record = nested if isinstance(nested, dict) else answer
    name = ", ".join(str(x) for x in (inner.get("kind"), inner.get("name")) if x not in (None, ""))
    return [{"kind": "resource", "id": str(inner.get("resource_id") or ident), "label": name, "score": 1.0}]


class PlantCommands(Provider):
    """Every machine, hold, order, lot, item, customer and shipment of the plant."""

    async def discover(self) -> Hits:
        # Before typing: the stopped machines and active holds, the usual starting points.
        console = console_of(self)
        points = await asyncio.to_thread(_ask, console, lambda plant: plant.starting_points())
        for point in points:
            text, help_text, drill = offers_for(point, "impact")[0]
            yield DiscoveryHit(text, partial(console.action_drill, drill, point["id"]), help=help_text)

    async def search(self, query: str) -> Hits:
        words, kinds, verb = read_query(query)
        if not words and kinds is None:
            return
        kinds = search_kinds(query, kinds, verb)
        console = console_of(self)
        await asyncio.sleep(DEBOUNCE_SECONDS)  # cancelled here when the next key comes first
        found = await asyncio.to_thread(_ask, console, _find(words, kinds))
        matcher = self.matcher(query)
        offered = 0
        for hit in found:
            for text, help_text, drill in offers_for(hit, verb):
                # The engine's order, kept: the palette sorts every provider's hits by score alone.
                score = hit["score"] - offered * 1e-6
                offered += 1
                yield Hit(
                    score,
                    matcher.highlight(text),
                    partial(console.action_drill, drill, hit["id"]),
                    text=text,
                    help=help_text,
                )
