"""The benchmarks' large plant: generated once (scale 1, seed 1: ~1M operations) and then reused.

It lives in $PLANNER_TUI_BENCH_DATA, else in benchmarks/data/large/ of this checkout (git-ignored).
A fresh checkout generates it on the first benchmark run (about 5-15 s on 2 cores).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LARGE = Path(os.environ.get("PLANNER_TUI_BENCH_DATA") or ROOT / "benchmarks" / "data" / "large")


def large_plant(path: str | os.PathLike | None = None) -> Path:
    """The plant folder to benchmark: `path` if given, else the large plant, generated when missing."""
    folder = Path(path) if path is not None else LARGE
    if folder.resolve() == LARGE.resolve() and not (folder / "operations.parquet").exists():
        sys.path.insert(0, str(ROOT))
        from planner_tui.generate import generate_plant

        print(f"generating the large plant (scale 1, seed 1) in {folder} ...", file=sys.stderr, flush=True)
        generate_plant(folder, scale=1.0, seed=1)
    return folder


if __name__ == "__main__":  # `python benchmarks/plant.py` prints the folder, generating it if missing
    print(large_plant())
