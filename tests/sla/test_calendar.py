"""Business-hour arithmetic: exact across days, weekends, holidays and clock changes."""

from __future__ import annotations

import datetime as dt

import pytest

from sla.calendar import ROUND_THE_CLOCK, CalendarNeverOpen, work_calendar
from tests.sla.conftest import NY, ny

WEEKDAYS_9_18 = [(d, dt.time(9), dt.time(18)) for d in range(5)]


def nyc(**kwargs):
    return work_calendar(timezone="America/New_York", hours=WEEKDAYS_9_18, **kwargs)


def test_friday_evening_plus_two_hours_is_monday_morning():
    assert nyc().add(ny(2026, 11, 13, 17, 55), dt.timedelta(hours=2)) == ny(2026, 11, 16, 10, 55)


def test_across_the_autumn_clock_change_local_hours_hold():
    # US clocks go back on Sunday 1 November 2026: Friday is UTC−4, Monday UTC−5.
    start = ny(2026, 10, 30, 17, 55)
    due = nyc().add(start, dt.timedelta(hours=2))
    assert due == ny(2026, 11, 2, 10, 55)
    assert due.astimezone(NY).utcoffset() == dt.timedelta(hours=-5)
    assert start.astimezone(NY).utcoffset() == dt.timedelta(hours=-4)


def test_across_the_spring_clock_change():
    # Clocks go forward on Sunday 8 March 2026.
    assert nyc().add(ny(2026, 3, 6, 17, 0), dt.timedelta(hours=3)) == ny(2026, 3, 9, 11, 0)


def test_a_store_open_through_the_night_of_a_change_counts_real_hours():
    # Open 00:00–06:00 every day: on the night clocks go back the span lasts 7 real hours.
    cal = work_calendar(
        timezone="America/New_York", hours=[(d, dt.time(0), dt.time(6)) for d in range(7)]
    )
    assert cal.between(ny(2026, 11, 1, 0, 0), ny(2026, 11, 1, 6, 0)) == dt.timedelta(hours=7)
    assert cal.add(ny(2026, 11, 1, 0, 0), dt.timedelta(hours=7)) == ny(2026, 11, 1, 6, 0)


def test_public_holidays_and_closed_days_are_skipped():
    # Thanksgiving, Thursday 26 November 2026 (US), and a closed Friday after it.
    cal = nyc(country="US", subdivision="NY", closed=[dt.date(2026, 11, 27)])
    assert cal.add(ny(2026, 11, 25, 17, 0), dt.timedelta(hours=2)) == ny(2026, 11, 30, 10, 0)


def test_between_is_the_inverse_of_add():
    cal = nyc(country="US")
    start = ny(2026, 10, 29, 16, 12)
    for hours in (0.5, 2, 9, 11.25, 40, 100):
        end = cal.add(start, dt.timedelta(hours=hours))
        assert cal.between(start, end) == dt.timedelta(hours=hours)
    assert cal.between(ny(2026, 11, 2, 12, 0), ny(2026, 11, 2, 10, 0)) == -dt.timedelta(hours=2)


def test_starting_outside_hours_counts_from_the_next_opening():
    assert nyc().add(ny(2026, 11, 14, 12, 0), dt.timedelta(minutes=30)) == ny(2026, 11, 16, 9, 30)


def test_split_days():
    cal = work_calendar(
        timezone="Europe/Paris",
        hours=[(0, dt.time(9), dt.time(12)), (0, dt.time(14), dt.time(18))],
    )
    start = dt.datetime(2026, 11, 16, 11, 0, tzinfo=dt.UTC)  # 12:00 in Paris
    assert cal.add(start, dt.timedelta(hours=1)) == dt.datetime(2026, 11, 16, 14, 0, tzinfo=dt.UTC)


def test_round_the_clock():
    start = ny(2026, 11, 13, 17, 55)
    assert ROUND_THE_CLOCK.add(start, dt.timedelta(hours=2)) == start + dt.timedelta(hours=2)


def test_a_calendar_without_hours_is_refused():
    with pytest.raises(CalendarNeverOpen):
        work_calendar(timezone="UTC", hours=[]).add(ny(2026, 1, 1), dt.timedelta(hours=1))
