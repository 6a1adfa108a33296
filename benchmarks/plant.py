"""The benchmarks' large plant: generated once (scale 1, seed 1: ~1M operations) and then reused.

It lives in $PLANNER_TUI_BENCH_DATA, else in benchmarks/data/large/ of this checkout (git-ignored).
A fresh checkout generates it on the first benchmark run (about 5-15 s on 2 cores).

The same plant planned in working time (`generate_plant(..., calendars=True)`: two shifts Monday to
Friday, holidays, an operator on a third of the operations) is cached beside it, in `large-calendars/`
(`large_plant(calendars=True)`, or `python benchmarks/plant.py --calendars`).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LARGE = Path(os.environ.get("PLANNER_TUI_BENCH_DATA") or ROOT / "benchmarks" / "data" / "large")
LARGE_CALENDARS = LARGE.with_name(LARGE.name + "-calendars")


def large_plant(path: str | os.PathLike | None = None, *, calendars: bool = False) -> Path:
    """The plant folder to benchmark: `path` if given, else the large plant (`calendars`: the one planned
    in working time), generated when missing."""
    cached = LARGE_CALENDARS if calendars else LARGE
    folder = Path(path) if path is not None else cached
    if folder.resolve() == cached.resolve() and not (folder / "operations.parquet").exists():
        sys.path.insert(0, str(ROOT))
        from planner_tui.generate import generate_plant

        what = "the large plant in working time" if calendars else "the large plant"
        print(f"generating {what} (scale 1, seed 1) in {folder} ...", file=sys.stderr, flush=True)
        generate_plant(folder, scale=1.0, seed=1, calendars=calendars)
    return folder


if __name__ == "__main__":  # `python benchmarks/plant.py [--calendars]` prints the folder, generating it if missing
    print(large_plant(calendars="--calendars" in sys.argv[1:]))
