"""The one presentation module: every duration, quantity and time reads the same in the CLI and the console."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from planner_tui import present


@pytest.mark.parametrize(
    ("minutes", "text"),
    [
        (0, "0m"),
        (45, "45m"),
        (60, "1h"),
        (200, "3h 20m"),
        (1440, "1d"),
        (1800, "1d 6h"),
        (2 * 1440 + 30, "2d"),
        (-90, "-1h 30m"),
        (44.6, "45m"),
    ],
)
def test_a_duration_has_one_form(minutes, text) -> None:
    assert present.duration(minutes) == text


def test_an_unknown_duration_says_so_as_asked() -> None:
    assert present.duration(None) == "-"
    assert present.duration(None, unknown="unknown") == "unknown"
    assert present.duration(float("nan")) == "-"
    assert present.duration("x") == "x"  # raw event data described in the history: shown as it came


def test_a_slip_is_a_signed_duration_or_nothing() -> None:
    assert [present.slip(m) for m in (1800, 45, 0, -30, None)] == ["+1d 6h", "+45m", "-", "-", "-"]


def test_seconds_keep_their_precision_under_a_minute() -> None:
    assert [present.seconds(v) for v in (0.614, 45.2, 90, 5400, None)] == ["0.61 s", "45 s", "2m", "1h 30m", "-"]


def test_quantities() -> None:
    assert [present.quantity(v) for v in (1200, 12.5, 0.25, 3.0, None, float("inf"), "n/a")] == [
        "1,200",
        "12.5",
        "0.25",
        "3",
        "-",
        "-",
        "n/a",
    ]


def test_times() -> None:
    moment = datetime(2026, 11, 25, 8, 10, 30)
    assert present.short_time(moment) == "11-25 08:10"
    assert present.short_time(date(2026, 11, 24)) == "11-24"
    assert present.short_time("2026-11-25T08:10:00") == "11-25 08:10"
    assert present.moment(moment) == "2026-11-25 08:10"
    assert present.day(moment) == "2026-11-25"
    assert present.short_time(None) == present.moment(None) == "-"


def test_times_inside_an_engine_sentence_read_like_short_times() -> None:
    text = "SO-24117/1 LATE, ETA 2026-11-25T02:05:00 after promised 2026-11-24"
    assert present.short_times_in(text) == "SO-24117/1 LATE, ETA 11-25 02:05 after promised 11-24"
    assert present.short_times_in("no time here") == "no time here"


def test_severities_sort_critical_first_and_unknown_last() -> None:
    assert sorted(["low", "odd", "critical", "medium", "high"], key=present.severity_rank) == [
        "critical",
        "high",
        "medium",
        "low",
        "odd",
    ]
    assert present.severity_text("critical", upper=True).plain == "CRITICAL"


def test_the_sparkline_draws_a_dip_without_colour() -> None:
    line = present.sparkline([5, 3, -2, 4], width=8).plain
    assert len(line) == 8
    assert "×" in line and line.index("×") == 4  # the dip keeps its place, widened to two cells
    assert present.sparkline([], width=8).plain == ""
    assert len(present.sparkline(list(range(100)), width=10).plain) == 10


def test_the_current_user_is_never_empty() -> None:
    assert present.current_user()
