from datetime import datetime, timedelta

import pytest

from planner_tui.errors import BadRequest
from planner_tui.timeutil import ReplayClock, parse_timestamp


def test_offsets_become_utc_and_no_offset_means_utc():
    assert parse_timestamp("2026-11-23T08:00:00+01:00") == datetime(2026, 11, 23, 7, 0)
    assert parse_timestamp("2026-11-23T08:00:00Z") == datetime(2026, 11, 23, 8, 0)
    assert parse_timestamp("2026-11-23T08:00:00") == datetime(2026, 11, 23, 8, 0)


def test_malformed_timestamp_is_a_bad_request_naming_the_value():
    with pytest.raises(BadRequest, match="yesterday"):
        parse_timestamp("yesterday")


def test_replay_clock_runs_speed_times_faster_from_its_start():
    ticks = iter([100.0, 102.5])
    clock = ReplayClock(datetime(2026, 11, 23, 6, 0), speed=60)
    clock._origin = next(ticks)
    clock._monotonic = lambda: next(ticks)
    assert clock() == datetime(2026, 11, 23, 6, 0) + timedelta(minutes=2.5)
