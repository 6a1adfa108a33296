"""What an event type is: one `EventType` per CloudEvents type, defined in its own module under `types/`.

A type says which keys of `data` it reads, which rows of the plant it needs (`wants`, so a batch reads
them all at once), how it is validated and applied (`apply`: raise Reject before changing anything),
how the history describes it from its data alone (`describe`), and which exception kinds of the inbox
it can raise or clear (`raises`: plain kind names, as `planner_tui.engine.exceptions` names them; the
store does not import the engine).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from planner_tui.store.events.working import Plant, Wanted

# apply(plant, event, data, changes) -> a one-line summary of what it did; raises Reject with the reason.
# Every check comes before the first `plant.put`, so a rejected event changes nothing.
Apply = Callable[[Plant, dict, dict, list], str]


@dataclass(frozen=True)
class EventType:
    name: str  # the CloudEvents `type`, e.g. "machine.down"
    keys: tuple[str, ...]  # the keys of `data` it reads (docs/events.md lists each in the type's row)
    wants: Callable[[dict, Wanted], None]  # adds the rows its `data` names to the batch's Wanted
    apply: Apply  # validates and applies one event to the working set
    describe: Callable[[dict], str]  # one line for the history, from `data` alone (None values dropped)
    raises: tuple[str, ...] = ()  # exception kinds it can raise or clear ("machine_down", "late_order"...)
