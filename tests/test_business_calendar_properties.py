"""Property tests for kontaktcenter.calendar.business_calendar (deterministic: derandomized,
no database)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from kontaktcenter.calendar.business_calendar import BusinessCalendar, DayException, Unit, Window

W = Window.parse
DEFAULT = BusinessCalendar.default()
STHLM = DEFAULT.tz
LUNCH_WITH_EXCEPTIONS = BusinessCalendar(
    {
        **dict.fromkeys(range(4), (W("08:00-12:00"), W("13:00-16:30"))),
        4: (W("08:00-12:00"), W("13:00-15:00")),
    },
    [
        DayException(date(2026, 1, 2), reason="Klämdag"),
        DayException(date(2026, 5, 15), reason="Klämdag"),
        DayException(date(2026, 4, 30), (W("08:00-12:00"),), "Dag före röd dag"),
        DayException(date(2026, 6, 18), (W("08:00-12:00"),), "Dag före midsommarafton"),
        DayException(date(2026, 3, 29), (W("01:00-05:00"),), "Öppet under sommartidsbytet"),
        DayException(date(2026, 10, 25), (W("01:00-05:00"),), "Öppet under normaltidsbytet"),
    ],
)
WITH_SATURDAYS = BusinessCalendar(
    {**dict.fromkeys(range(5), (W("07:30-18:00"),)), 5: (W("10:00-14:00"),)}
)

HOUR_UNITS = (Unit.WORKING_DAY_HOURS, Unit.OPENING_HOURS, Unit.CALENDAR_HOURS)
PROPERTY_SETTINGS = settings(max_examples=150, derandomize=True, database=None, deadline=None)

calendars = st.sampled_from([DEFAULT, LUNCH_WITH_EXCEPTIONS, WITH_SATURDAYS])
instants = st.datetimes(
    min_value=datetime(2025, 1, 1),
    max_value=datetime(2027, 12, 31),
    timezones=st.sampled_from([STHLM, UTC, timezone(timedelta(hours=-5))]),
)
minutes = st.integers(min_value=0, max_value=20_000)  # up to about 40 working days
day_counts = st.integers(min_value=0, max_value=40)
hour_units = st.sampled_from(HOUR_UNITS)


def open_spans(cal: BusinessCalendar, at: datetime) -> list[tuple[datetime, datetime]]:
    """Opening windows of the local day of ``at``, built independently of the module."""
    d = at.astimezone(cal.tz).date()
    return [
        (datetime.combine(d, w.start, cal.tz), datetime.combine(d, w.end, cal.tz))
        for w in cal.windows_on(d)
    ]


@PROPERTY_SETTINGS
@given(calendars, instants, minutes, minutes, hour_units)
def test_add_is_monotonic_in_amount(
    cal: BusinessCalendar, start: datetime, a: int, b: int, unit: Unit
) -> None:
    lo, hi = sorted((a, b))
    assert cal.add(start, lo, unit) <= cal.add(start, hi, unit)


@PROPERTY_SETTINGS
@given(calendars, instants, day_counts, day_counts)
def test_working_days_add_is_monotonic(
    cal: BusinessCalendar, start: datetime, a: int, b: int
) -> None:
    lo, hi = sorted((a, b))
    assert cal.add(start, lo, Unit.WORKING_DAYS) <= cal.add(start, hi, Unit.WORKING_DAYS)


@PROPERTY_SETTINGS
@given(calendars, instants, minutes)
def test_opening_hours_never_end_in_closed_time(
    cal: BusinessCalendar, start: datetime, amount: int
) -> None:
    due = cal.add(start, amount, Unit.OPENING_HOURS)
    assert due.tzinfo is UTC
    assert due >= cal.next_opening(start)
    if amount == 0:
        assert due == cal.next_opening(start) and cal.is_open(due)
    else:  # inside a window, or exactly at its end
        assert any(a < due <= b for a, b in open_spans(cal, due))


@PROPERTY_SETTINGS
@given(calendars, instants, day_counts)
def test_working_days_end_at_closing_of_the_nth_working_day(
    cal: BusinessCalendar, start: datetime, n: int
) -> None:
    due = cal.add(start, n, Unit.WORKING_DAYS)
    due_day = due.astimezone(cal.tz).date()
    arrival_day = cal.next_opening(start).astimezone(cal.tz).date()
    assert due.tzinfo is UTC
    assert due == cal.closing_time(due_day) == max(b for _, b in open_spans(cal, due))
    assert len(cal.working_days(arrival_day, due_day)) == n + 1


@PROPERTY_SETTINGS
@given(calendars, instants, minutes)
def test_working_day_hours_end_within_or_at_the_end_of_a_working_day(
    cal: BusinessCalendar, start: datetime, amount: int
) -> None:
    due = cal.add(start, amount, Unit.WORKING_DAY_HOURS).astimezone(cal.tz)
    at_midnight = due.time() == datetime.min.time()
    day = due.date() - timedelta(days=1) if at_midnight and amount else due.date()
    assert cal.is_working_day(day)


@PROPERTY_SETTINGS
@given(calendars, instants, minutes, minutes, hour_units)
def test_add_composes(cal: BusinessCalendar, start: datetime, a: int, b: int, unit: Unit) -> None:
    middle = cal.add(start, a, unit)
    twice, once = cal.add(middle, b, unit), cal.add(start, a + b, unit)
    exact = unit is Unit.CALENDAR_HOURS or (b > 0 and unit is Unit.OPENING_HOURS)
    if exact or cal.is_open(middle):
        assert twice == once
    else:  # the second arrival is moved to the next opening first: never earlier
        assert twice >= once


@PROPERTY_SETTINGS
@given(calendars, instants, day_counts, day_counts)
def test_working_days_compose(cal: BusinessCalendar, start: datetime, a: int, b: int) -> None:
    """A due time at closing counts as arriving at the next opening: one more day."""
    middle = cal.add(start, a, Unit.WORKING_DAYS)
    assert cal.add(middle, b, Unit.WORKING_DAYS) == cal.add(start, a + b + 1, Unit.WORKING_DAYS)
    opening = cal.next_opening(middle - timedelta(minutes=1))
    assert cal.add(opening, b, Unit.WORKING_DAYS) == cal.add(start, a + b, Unit.WORKING_DAYS)


@PROPERTY_SETTINGS
@given(calendars, instants, minutes, hour_units)
def test_elapsed_inverts_add(
    cal: BusinessCalendar, start: datetime, amount: int, unit: Unit
) -> None:
    assert cal.elapsed(start, cal.add(start, amount, unit), unit) == amount


@PROPERTY_SETTINGS
@given(calendars, instants, minutes, minutes)
def test_opening_hours_elapsed_is_additive(
    cal: BusinessCalendar, start: datetime, a: int, b: int
) -> None:
    middle = start.astimezone(UTC) + timedelta(minutes=a)  # aware + timedelta is wall-clock
    end = middle + timedelta(minutes=b)
    for unit in (Unit.OPENING_HOURS, Unit.CALENDAR_HOURS):
        whole = cal.elapsed(start, end, unit)
        parts = cal.elapsed(start, middle, unit) + cal.elapsed(middle, end, unit)
        assert parts <= whole <= parts + 1  # each part floors partial minutes
    assert cal.elapsed(start, end, Unit.WORKING_DAYS) == cal.elapsed(start, end, "opening_hours")


@PROPERTY_SETTINGS
@given(calendars, instants, minutes, st.sampled_from(list(Unit)))
def test_elapsed_is_zero_backwards(
    cal: BusinessCalendar, start: datetime, amount: int, unit: Unit
) -> None:
    assert cal.elapsed(start, start.astimezone(UTC) - timedelta(minutes=amount), unit) == 0


@PROPERTY_SETTINGS
@given(calendars, instants)
def test_next_opening_is_open_and_nothing_is_open_before_it(
    cal: BusinessCalendar, at: datetime
) -> None:
    opening = cal.next_opening(at)
    assert opening.tzinfo is UTC and opening >= at and cal.is_open(opening)
    # Compare in UTC: an imaginary or ambiguous local time never equals another zone's time.
    assert (opening == at.astimezone(UTC)) == cal.is_open(at)
    # Only closed time between: the opening-hours clock does not run.
    assert cal.elapsed(at, opening, Unit.OPENING_HOURS) == 0


@PROPERTY_SETTINGS
@given(calendars, st.dates(min_value=date(2025, 1, 1), max_value=date(2027, 12, 31)))
def test_day_views_agree(cal: BusinessCalendar, d: date) -> None:
    working = cal.is_working_day(d)
    assert working == (cal.non_working_reason(d) is None) == bool(cal.windows_on(d))
    assert cal.days(d, d) == [(d, cal.non_working_reason(d))]
    assert (cal.closing_time(d) is None) == (not working)
    if d.weekday() == 6:
        assert not working or d in cal.exceptions


@PROPERTY_SETTINGS
@given(calendars, instants, minutes, st.sampled_from(list(Unit)))
def test_only_the_instant_matters_not_its_timezone(
    cal: BusinessCalendar, start: datetime, amount: int, unit: Unit
) -> None:
    in_utc = start.astimezone(UTC)
    if unit is Unit.WORKING_DAYS:
        amount %= 40
    assert cal.add(start, amount, unit) == cal.add(in_utc, amount, unit)
    assert cal.next_opening(start) == cal.next_opening(in_utc)


def elapsed_day_by_day(cal: BusinessCalendar, start: datetime, end: datetime, unit: Unit) -> int:
    """The definition of `elapsed` for the business units: every local day's counting intervals
    clipped to [next opening, end], summed (the module adds whole days between from a cache)."""
    t, e = cal.next_opening(start), end.astimezone(UTC)
    if e <= t:
        return 0
    clock = Unit.OPENING_HOURS if unit is Unit.WORKING_DAYS else unit
    total, d = timedelta(0), t.astimezone(cal.tz).date()
    while d <= e.astimezone(cal.tz).date():
        for a, b in cal._counting_intervals(d, clock):
            lo, hi = max(a, t), min(b, e)
            total += max(hi - lo, timedelta(0))
        d += timedelta(days=1)
    return total // timedelta(minutes=1)


@PROPERTY_SETTINGS
@given(calendars, instants, instants, st.sampled_from([*HOUR_UNITS[:2], Unit.WORKING_DAYS]))
def test_elapsed_over_whole_days_equals_counting_day_by_day(
    cal: BusinessCalendar, start: datetime, end: datetime, unit: Unit
) -> None:
    """Across DST changes, holidays, exceptions and years (the cached whole days)."""
    assert cal.elapsed(start, end, unit) == elapsed_day_by_day(cal, start, end, unit)
    assert cal.elapsed(start, end, unit) == elapsed_day_by_day(cal, start, end, unit)  # cached
