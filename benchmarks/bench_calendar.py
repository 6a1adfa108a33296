"""Working time (planner_tui/engine/calendar.py): calls per second of what the repair asks per operation.

    .venv/bin/python benchmarks/bench_calendar.py [--calls 200000]

A two-shift Monday-Friday calendar in Europe/Berlin with a Christmas closure, over 2026 (both clock
changes), the weeks computed once before timing; and the always-working calendar for comparison."""

from __future__ import annotations

import argparse
import time
from datetime import datetime

from planner_tui.engine.calendar import ALWAYS, US_PER_MIN, calendar
from planner_tui.engine.schedule import to_us

TWO_SHIFT = [(day, "06:00", "14:00") for day in range(1, 6)] + [(day, "14:00", "22:00") for day in range(1, 6)]


def rate(call, starts: list[int]) -> float:
    for start in starts:  # every week worked out once, as a long-running server would have it
        call(start)
    began = time.perf_counter()
    for start in starts:
        call(start)
    return len(starts) / (time.perf_counter() - began)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200_000)
    calls = parser.parse_args().calls
    shifts = calendar(TWO_SHIFT, [(datetime(2026, 12, 24), datetime(2026, 12, 27), False)], "Europe/Berlin")
    year = 365 * 24 * 60 * US_PER_MIN
    base = to_us(datetime(2026, 1, 1))
    starts = [base + (i * 7_919_113_000) % year for i in range(calls)]
    print(f"{'calendar':<28} {'call':<18} calls/s")
    for name, cal in (("two-shift, Europe/Berlin", shifts), ("always working", ALWAYS)):
        print(f"{name:<28} {'add_us (90 min)':<18} {rate(lambda s, c=cal: c.add_us(s, 90 * US_PER_MIN), starts):,.0f}")
        print(
            f"{name:<28} {'between_us (1 day)':<18} {rate(lambda s, c=cal: c.between_us(s, s + 1440 * US_PER_MIN), starts):,.0f}"
        )
        print(f"{name:<28} {'next_working_us':<18} {rate(lambda s, c=cal: c.next_working_us(s), starts):,.0f}")


if __name__ == "__main__":
    main()
