"""Business-time arithmetic: adding a duration of open hours to an instant, and counting the
open hours between two instants, for a location's calendar (its time zone, weekly hours,
public holidays and closed days). Plain objects, no queries: `calendars_for` loads them.

Every instant is aware; spans are built in local wall time and converted to UTC, so the
hours stay 9–18 local on either side of a clock change, and a span's length is real time.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import holidays as holidays_lib

UTC = dt.UTC
# Past this many days without an open hour a calendar is taken to be closed for good.
MAX_CLOSED_DAYS = 366


class CalendarNeverOpen(ValueError):
    pass


@dataclass
class WorkCalendar:
    """A location's working time; `hours` maps weekday (0 = Monday) to (opens, closes) spans."""

    tz: dt.tzinfo
    hours: dict[int, list[tuple[dt.time, dt.time]]]
    closed: frozenset[dt.date] = frozenset()
    public: holidays_lib.HolidayBase | None = None
    label: str = ""
    _cache: dict[dt.date, list[tuple[dt.datetime, dt.datetime]]] = field(
        default_factory=dict, repr=False
    )

    def is_closed(self, day: dt.date) -> bool:
        return day in self.closed or (self.public is not None and day in self.public)

    def day_spans(self, day: dt.date) -> list[tuple[dt.datetime, dt.datetime]]:
        """The open spans of one local date, in UTC."""
        spans = self._cache.get(day)
        if spans is None:
            spans = []
            if not self.is_closed(day):
                for opens, closes in self.hours.get(day.weekday(), ()):
                    start = _local_to_utc(day, opens, self.tz)
                    end = _local_to_utc(day, closes, self.tz)
                    if end > start:
                        spans.append((start, end))
            self._cache[day] = spans
        return spans

    def spans_from(self, instant: dt.datetime) -> Iterator[tuple[dt.datetime, dt.datetime]]:
        """Open spans (UTC) that end after `instant`, in order, forever."""
        if not any(self.hours.values()):
            raise CalendarNeverOpen(f"{self.label or 'this calendar'} has no opening hours")
        day = instant.astimezone(self.tz).date() - dt.timedelta(days=1)
        idle = 0
        while True:
            spans = self.day_spans(day)
            idle = 0 if spans else idle + 1
            if idle > MAX_CLOSED_DAYS:
                raise CalendarNeverOpen(
                    f"{self.label or 'this calendar'} is closed for a year from {day}"
                )
            for start, end in spans:
                if end > instant:
                    yield max(start, instant), end
            day += dt.timedelta(days=1)

    def add(self, instant: dt.datetime, duration: dt.timedelta) -> dt.datetime:
        """The instant at which `duration` of open time has passed since `instant`."""
        if duration <= dt.timedelta(0):
            return instant
        remaining = duration
        for start, end in self.spans_from(instant):
            if end - start >= remaining:
                return (start + remaining).astimezone(UTC)
            remaining -= end - start
        raise AssertionError("unreachable")  # spans_from never ends

    def between(self, start: dt.datetime, end: dt.datetime) -> dt.timedelta:
        """Open time from `start` to `end` (negative when `end` is before `start`)."""
        if end < start:
            return -self.between(end, start)
        total = dt.timedelta(0)
        for a, b in self.spans_from(start):
            if a >= end:
                break
            total += min(b, end) - a
        return total


class RoundTheClock:
    """A clock that never pauses."""

    label = "round the clock"

    def add(self, instant: dt.datetime, duration: dt.timedelta) -> dt.datetime:
        return (instant + max(duration, dt.timedelta(0))).astimezone(UTC)

    def between(self, start: dt.datetime, end: dt.datetime) -> dt.timedelta:
        return end - start


ROUND_THE_CLOCK = RoundTheClock()


def _local_to_utc(day: dt.date, at: dt.time, tz: dt.tzinfo) -> dt.datetime:
    """A local wall time as a UTC instant. A repeated wall time (clocks back) is its first
    occurrence; a skipped one (clocks forward) is read with the offset before the change, so
    02:30 on a spring-forward night is 03:30 after it (PEP 495's fold=0)."""
    return dt.datetime.combine(day, at, tzinfo=tz).astimezone(UTC)


def work_calendar(
    *,
    timezone: str,
    hours: Iterable[tuple[int, dt.time, dt.time]],
    closed: Iterable[dt.date] = (),
    country: str = "",
    subdivision: str = "",
    label: str = "",
) -> WorkCalendar:
    by_day: dict[int, list[tuple[dt.time, dt.time]]] = {}
    for weekday, opens, closes in hours:
        by_day.setdefault(weekday, []).append((opens, closes))
    for spans in by_day.values():
        spans.sort()
    public = None
    if country:
        public = holidays_lib.country_holidays(country, subdiv=subdivision or None)
    return WorkCalendar(
        tz=zoneinfo.ZoneInfo(timezone),
        hours=by_day,
        closed=frozenset(closed),
        public=public,
        label=label,
    )


def calendars_for(location_ids: Iterable[int]) -> dict[int, WorkCalendar]:
    """The calendars of these locations (three queries, whatever their number)."""
    from sla.models import BusinessCalendar

    result = {}
    rows = BusinessCalendar.objects.filter(location_id__in=set(location_ids)).prefetch_related(
        "hours", "closed_days"
    )
    for cal in rows.select_related("location"):
        result[cal.location_id] = work_calendar(
            timezone=cal.timezone,
            hours=[(h.weekday, h.opens, h.closes) for h in cal.hours.all()],
            closed=[d.date for d in cal.closed_days.all()],
            country=cal.holiday_country,
            subdivision=cal.holiday_subdivision,
            label=f"the calendar of {cal.location.code}",
        )
    return result


def clock_calendars(clocks) -> dict[int, WorkCalendar | RoundTheClock]:
    """Each clock's calendar by its id: its location's if it counts business hours and the
    location has one, else round the clock (one load for all the clocks' locations)."""
    calendars = calendars_for({c.location_id for c in clocks if c.business_hours and c.location_id})
    return {
        c.pk: calendars.get(c.location_id, ROUND_THE_CLOCK) if c.business_hours else ROUND_THE_CLOCK
        for c in clocks
    }
