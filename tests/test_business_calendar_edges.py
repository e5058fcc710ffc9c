"""Edges of the business calendar that the example and property tests left open, found by
mutation testing (scripts/mutation, docs/mutation-testing.md): boundaries of windows and
weekdays, the daylight-saving gap, minutes that are not whole, and what a wrong argument is told.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

import pytest

from kontaktcenter.calendar.business_calendar import BusinessCalendar, DayException, Unit, Window

STHLM = ZoneInfo("Europe/Stockholm")
W = Window.parse
MONDAY = date(2026, 3, 9)


def local(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=STHLM)


def test_a_window_must_have_a_length():
    with pytest.raises(ValueError, match=r"^Window must start before it ends: 08:00:00-08:00:00$"):
        Window(time(8), time(8))
    with pytest.raises(ValueError, match=r"^Window must start before it ends: 12:00:00-08:00:00$"):
        Window(time(12), time(8))


def test_window_text_keeps_its_minutes():
    assert W("08:30-12:15") == Window(time(8, 30), time(12, 15))
    assert W(" 8:05 – 16:45 ") == Window(time(8, 5), time(16, 45))
    assert str(W("08:30-12:15")) == "08:30-12:15"


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda: Window("08:00", time(12)), TypeError, "^Window times must be datetime.time, got "),
        (
            lambda: Window(time(8, tzinfo=UTC), time(12)),
            ValueError,
            "^Window times are wall-clock times; leave tzinfo unset$",
        ),
        (lambda: W("8-12"), ValueError, "^not an opening window like '08:00-12:00': '8-12'$"),
        (
            lambda: BusinessCalendar({0: ["08:00-12:00"]}),
            TypeError,
            "^expected Window, got '08:00-12:00'$",
        ),
        (
            lambda: BusinessCalendar({7: [W("08:00-12:00")]}),
            ValueError,
            r"^weekday must be 0 \(Monday\) to 6 \(Sunday\), got 7$",
        ),
        (
            lambda: BusinessCalendar({6: [W("08:00-12:00")]}),
            ValueError,
            "^Sunday is an allmän helgdag; open one with a DayException$",
        ),
        (
            lambda: BusinessCalendar({0: []}),
            ValueError,
            "^weekly opening hours must open on at least one weekday$",
        ),
        (
            lambda: BusinessCalendar.default([MONDAY]),
            TypeError,
            r"^expected DayException, got datetime.date\(2026, 3, 9\)$",
        ),
        (
            lambda: BusinessCalendar.default().windows_on(local(2026, 3, 9)),
            TypeError,
            r"^expected a datetime.date \(not a datetime\), got ",
        ),
        (
            lambda: BusinessCalendar.default().is_open(MONDAY),
            TypeError,
            r"^expected a datetime, got datetime.date\(2026, 3, 9\)$",
        ),
    ],
)
def test_a_wrong_argument_is_told_what_was_expected(make, error, message):
    with pytest.raises(error, match=message):
        make()


class _NoOffset(tzinfo):
    """A tzinfo that does not know its offset: Python calls such a datetime naive."""

    def utcoffset(self, dt: datetime | None) -> timedelta | None:
        return None

    def dst(self, dt: datetime | None) -> timedelta | None:
        return None


def test_a_datetime_whose_zone_has_no_offset_is_naive():
    with pytest.raises(ValueError, match="naive"):
        BusinessCalendar.default().is_open(datetime(2026, 3, 9, 10, tzinfo=_NoOffset()))


def test_a_day_exception_keeps_its_windows_in_order_and_merged():
    exception = DayException(MONDAY, (W("13:00-15:00"), W("10:00-13:00")), "Kortare dag")
    assert exception.windows == (W("10:00-15:00"),)
    assert not exception.closed
    cal = BusinessCalendar.default([exception])
    assert cal.windows_on(MONDAY) == (W("10:00-15:00"),)
    assert cal.closing_time(MONDAY) == local(2026, 3, 9, 15).astimezone(UTC)
    assert cal.exceptions == {MONDAY: exception}


def test_monday_to_sunday_are_the_weekdays():
    six_days = BusinessCalendar(dict.fromkeys(range(6), (W("09:00-10:00"),)))
    assert six_days.is_working_day(date(2026, 3, 14))  # a Saturday (weekday 5) can open
    assert six_days.non_working_reason(date(2026, 3, 15)) == "Söndag"


@pytest.mark.parametrize("tz", [ZoneInfo("Europe/Helsinki"), timezone(timedelta(hours=2))])
def test_the_zone_may_be_given_as_a_tzinfo(tz):
    cal = BusinessCalendar({0: (W("08:00-09:00"),)}, tz=tz)
    assert cal.tz is tz
    assert cal.next_opening(datetime(2026, 3, 9, 0, tzinfo=UTC)) == datetime(
        2026, 3, 9, 8, tzinfo=tz
    )


def test_the_default_clock_is_weekdays_eight_to_five_in_stockholm():
    cal = BusinessCalendar.default()
    assert cal.tz == STHLM
    for offset in range(5):
        assert cal.windows_on(MONDAY + timedelta(days=offset)) == (W("08:00-17:00"),)
    assert cal.closing_time(MONDAY) == local(2026, 3, 9, 17).astimezone(UTC)
    assert repr(cal) == (
        "BusinessCalendar({'Måndag': ['08:00-17:00'], 'Tisdag': ['08:00-17:00'], "
        "'Onsdag': ['08:00-17:00'], 'Torsdag': ['08:00-17:00'], 'Fredag': ['08:00-17:00']}, "
        "0 exceptions, tz=Europe/Stockholm)"
    )


def test_a_window_inside_the_spring_gap_has_no_length():
    """On 29 March 2026 the clocks jump from 02:00 to 03:00: a window 02:00-03:00 that night
    (opened by an exception: it is a Sunday) has no minutes, and the day is not open at all."""
    gap_day = date(2026, 3, 29)
    cal = BusinessCalendar.default([DayException(gap_day, (W("02:00-03:00"),), "Natt")])
    assert cal.closing_time(gap_day) is None
    saturday_night = local(2026, 3, 28, 23)
    assert cal.next_opening(saturday_night) == local(2026, 3, 30, 8).astimezone(UTC)
    assert cal.add(saturday_night, 0, Unit.WORKING_DAYS) == local(2026, 3, 30, 17).astimezone(UTC)


def test_elapsed_minutes_are_whole():
    start = datetime(2026, 3, 9, 10, tzinfo=UTC)
    end = start + timedelta(minutes=90, seconds=30)
    elapsed = BusinessCalendar.default().elapsed(start, end, Unit.CALENDAR_HOURS)
    assert elapsed == 90 and isinstance(elapsed, int)
