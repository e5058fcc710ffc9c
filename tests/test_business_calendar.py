"""Example-based tests for kontaktcenter.calendar.business_calendar (DOMAIN.md section 4)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta, timezone

import pytest

from kontaktcenter.calendar import business_calendar as bc
from kontaktcenter.calendar.business_calendar import BusinessCalendar, DayException, Unit, Window

STHLM = BusinessCalendar.default().tz
W = Window.parse


def local(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=STHLM)


def utc(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=UTC)


DEFAULT = BusinessCalendar.default()
LUNCH = BusinessCalendar(dict.fromkeys(range(5), (W("08:00-12:00"), W("13:00-17:00"))))


# --------------------------------------------------------------------------- holidays

HOLIDAYS = [
    (date(2026, 1, 1), "Nyårsdagen"),
    (date(2026, 1, 6), "Trettondedag jul"),
    (date(2026, 4, 3), "Långfredagen"),
    (date(2026, 4, 5), "Påskdagen"),
    (date(2026, 4, 6), "Annandag påsk"),
    (date(2026, 5, 1), "Första maj"),
    (date(2026, 5, 14), "Kristi himmelsfärdsdag"),
    (date(2026, 5, 24), "Pingstdagen"),
    (date(2026, 6, 6), "Sveriges nationaldag"),  # a Saturday: the holiday name wins
    (date(2025, 6, 6), "Sveriges nationaldag"),
    (date(2026, 6, 19), "Midsommarafton"),
    (date(2026, 6, 20), "Midsommardagen"),
    (date(2026, 10, 31), "Alla helgons dag"),
    (date(2026, 12, 24), "Julafton"),
    (date(2026, 12, 25), "Juldagen"),
    (date(2026, 12, 26), "Annandag jul"),
    (date(2026, 12, 31), "Nyårsafton"),
    (date(2027, 1, 1), "Nyårsdagen"),
    (date(2027, 1, 6), "Trettondedag jul"),
    (date(2027, 3, 26), "Långfredagen"),
    (date(2027, 3, 29), "Annandag påsk"),
    (date(2027, 5, 6), "Kristi himmelsfärdsdag"),
    (date(2027, 6, 25), "Midsommarafton"),
    (date(2027, 6, 26), "Midsommardagen"),
    (date(2027, 11, 6), "Alla helgons dag"),
    (date(2027, 12, 24), "Julafton"),
    (date(2027, 12, 31), "Nyårsafton"),
    (date(2008, 5, 1), "Första maj och Kristi himmelsfärdsdag"),
]


@pytest.mark.parametrize(("day", "name"), HOLIDAYS, ids=[str(d) for d, _ in HOLIDAYS])
def test_holidays_and_eves_are_non_working_with_swedish_names(day: date, name: str) -> None:
    assert not DEFAULT.is_working_day(day)
    assert DEFAULT.non_working_reason(day) == name
    assert DEFAULT.windows_on(day) == ()


@pytest.mark.parametrize(
    ("day", "name"),
    [(date(2026, 3, 7), "Lördag"), (date(2026, 3, 8), "Söndag"), (date(2026, 4, 4), "Lördag")],
)
def test_weekends(day: date, name: str) -> None:
    assert DEFAULT.non_working_reason(day) == name


@pytest.mark.parametrize(
    "day",
    [date(2026, 1, 2), date(2026, 1, 5), date(2026, 5, 15), date(2027, 5, 7), date(2026, 4, 30)],
)
def test_klamdagar_and_days_before_red_days_are_working_days(day: date) -> None:
    assert DEFAULT.is_working_day(day)
    assert DEFAULT.non_working_reason(day) is None
    assert DEFAULT.windows_on(day) == (W("08:00-17:00"),)


# DOMAIN.md section 4.2: weekday holidays and eves, and working days, per year.
TABLE = {
    2025: ("01-01 01-06 04-18 04-21 05-01 05-29 06-06 06-20 12-24 12-25 12-26 12-31", 249),
    2026: ("01-01 01-06 04-03 04-06 05-01 05-14 06-19 12-24 12-25 12-31", 251),
    2027: ("01-01 01-06 03-26 03-29 05-06 06-25 12-24 12-31", 253),
}


@pytest.mark.parametrize("year", sorted(TABLE))
def test_working_day_counts_match_domain_table(year: int) -> None:
    days, count = TABLE[year]
    listing = DEFAULT.days(date(year, 1, 1), date(year, 12, 31))
    weekday_closed = {d for d, reason in listing if reason is not None and d.weekday() < 5}
    assert weekday_closed == {date.fromisoformat(f"{year}-{md}") for md in days.split()}
    assert len(DEFAULT.working_days(date(year, 1, 1), date(year, 12, 31))) == count


def test_eves_by_rule_match_the_library_de_facto_category() -> None:
    """The fallback for holidays < 0.88 gives the same days as the DE_FACTO category."""
    for year in range(1953, 2101):
        by_rule = bc._with_eves(year, bc._library_holidays(year, ("public",)))
        assert by_rule == bc._library_holidays(year, ("public", "de_facto"))


def test_years_outside_the_library_range_raise() -> None:
    with pytest.raises(ValueError, match="only known"):
        DEFAULT.is_working_day(date(2101, 1, 3))
    assert DEFAULT.is_working_day(date(2100, 12, 30))


def test_days_listing() -> None:
    assert DEFAULT.days(date(2026, 4, 2), date(2026, 4, 7)) == [
        (date(2026, 4, 2), None),
        (date(2026, 4, 3), "Långfredagen"),
        (date(2026, 4, 4), "Lördag"),
        (date(2026, 4, 5), "Påskdagen"),
        (date(2026, 4, 6), "Annandag påsk"),
        (date(2026, 4, 7), None),
    ]
    assert DEFAULT.working_days(date(2026, 4, 2), date(2026, 4, 7)) == [
        date(2026, 4, 2),
        date(2026, 4, 7),
    ]
    assert DEFAULT.days(date(2026, 4, 7), date(2026, 4, 2)) == []


# --------------------------------------------------------------------------- opening times


def test_next_opening_winter_and_summer_offsets() -> None:
    assert DEFAULT.next_opening(local(2026, 1, 13, 6)) == utc(2026, 1, 13, 7)  # CET
    assert DEFAULT.next_opening(local(2026, 6, 16, 6)) == utc(2026, 6, 16, 6)  # CEST


def test_next_opening_returns_the_instant_itself_when_open_in_utc() -> None:
    at = local(2026, 3, 10, 9, 30)
    result = DEFAULT.next_opening(at)
    assert result == at and result.tzinfo is UTC
    assert DEFAULT.next_opening(local(2026, 3, 10, 17)) == local(2026, 3, 11, 8)  # [start, end)
    assert DEFAULT.next_opening(local(2026, 3, 13, 20)) == local(2026, 3, 16, 8)  # Fri night
    assert DEFAULT.next_opening(local(2026, 4, 2, 18)) == local(2026, 4, 7, 8)  # påsk


def test_lunch_closure() -> None:
    assert LUNCH.next_opening(local(2026, 3, 10, 12, 15)) == local(2026, 3, 10, 13)
    assert not LUNCH.is_open(local(2026, 3, 10, 12))
    assert LUNCH.is_open(local(2026, 3, 10, 11, 59))
    lunch_break = LUNCH.add(local(2026, 3, 10, 11, 30), 60, Unit.OPENING_HOURS)
    assert lunch_break == local(2026, 3, 10, 13, 30)
    # Lands exactly at the window end: that end, not the next opening.
    assert LUNCH.add(local(2026, 3, 10, 11), 60, Unit.OPENING_HOURS) == local(2026, 3, 10, 12)
    assert LUNCH.elapsed(local(2026, 3, 10, 11), local(2026, 3, 10, 14), "opening_hours") == 120
    # 16 arbetstimmar from Monday 10:00 = Wednesday 10:00 (8 h a day).
    assert LUNCH.add(local(2026, 3, 9, 10), 960, "opening_hours") == local(2026, 3, 11, 10)
    assert LUNCH.add(local(2026, 3, 10, 12, 30), 0, "working_days") == local(2026, 3, 10, 17)


def test_windows_are_normalized() -> None:
    cal = BusinessCalendar({0: [W("13:00-17:00"), W("08:00-12:00"), W("12:00-13:00")]})
    assert cal.windows_on(date(2026, 3, 9)) == (W("08:00-17:00"),)
    assert cal.non_working_reason(date(2026, 3, 10)) == "Tisdag"  # not open on Tuesdays


# --------------------------------------------------------------------------- working_days


@pytest.mark.parametrize(
    ("arrival", "n", "due"),
    [
        (local(2026, 3, 9, 10), 0, local(2026, 3, 9, 17)),
        (local(2026, 3, 9, 10), 2, local(2026, 3, 11, 17)),
        (local(2026, 3, 9, 20), 2, local(2026, 3, 12, 17)),  # Monday night counts as Tuesday
        (local(2026, 3, 10, 6), 0, local(2026, 3, 10, 17)),  # early morning: same day
        (local(2026, 3, 10, 17), 0, local(2026, 3, 11, 17)),  # at closing: next day
        (local(2026, 3, 14, 11), 0, local(2026, 3, 16, 17)),  # Saturday
        (local(2026, 3, 15, 3), 1, local(2026, 3, 17, 17)),  # Sunday night
        (local(2026, 4, 2, 10), 1, local(2026, 4, 7, 17)),  # Skärtorsdag, over påsk
        (local(2026, 12, 23, 12), 2, local(2026, 12, 29, 17)),  # over jul
        (local(2026, 12, 30, 12), 1, local(2027, 1, 4, 17)),  # over nyår
    ],
)
def test_working_days(arrival: datetime, n: int, due: datetime) -> None:
    result = DEFAULT.add(arrival, n, Unit.WORKING_DAYS)
    assert result == due and result.tzinfo is UTC


# --------------------------------------------------------------------------- working_day_hours


@pytest.mark.parametrize(
    ("arrival", "due"),
    [
        (local(2026, 3, 9, 10), local(2026, 3, 10, 10)),
        (local(2026, 3, 13, 10), local(2026, 3, 16, 10)),  # Friday -> Monday
        (local(2026, 6, 18, 10), local(2026, 6, 22, 10)),  # Thursday before midsommarafton
        (local(2026, 3, 9, 20), local(2026, 3, 11, 8)),  # night: counts from Tuesday 08:00
        (local(2026, 3, 14, 12), local(2026, 3, 17, 8)),  # Saturday: from Monday 08:00
        (local(2026, 12, 23, 15), local(2026, 12, 28, 15)),  # over jul
    ],
)
def test_working_day_hours_24h(arrival: datetime, due: datetime) -> None:
    assert DEFAULT.add(arrival, 1440, Unit.WORKING_DAY_HOURS) == due
    assert DEFAULT.elapsed(arrival, due, Unit.WORKING_DAY_HOURS) == 1440


def test_working_day_hours_result_may_be_in_closed_time() -> None:
    assert DEFAULT.add(local(2026, 3, 9, 10), 12 * 60, "working_day_hours") == local(2026, 3, 9, 22)
    # Exactly at the end of the last working day before a weekend: Saturday 00:00.
    assert DEFAULT.add(local(2026, 3, 13, 10), 14 * 60, "working_day_hours") == local(2026, 3, 14)


# --------------------------------------------------------------------------- calendar_hours


def test_calendar_hours_is_plain_elapsed_time() -> None:
    sat = local(2026, 3, 14, 3)
    assert DEFAULT.add(sat, 60, Unit.CALENDAR_HOURS) == local(2026, 3, 14, 4)
    assert DEFAULT.add(sat, 1440, "calendar_hours") == local(2026, 3, 15, 3)
    assert DEFAULT.elapsed(sat, local(2026, 3, 16, 3), "calendar_hours") == 2880
    assert DEFAULT.elapsed(local(2026, 3, 16, 3), sat, "calendar_hours") == 0


# --------------------------------------------------------------------------- DST


def test_spring_dst_weekend() -> None:
    """Sommartid starts Sunday 29 March 2026: +01:00 before, +02:00 after."""
    fri = local(2026, 3, 27, 10)
    assert fri == utc(2026, 3, 27, 9)
    assert DEFAULT.add(fri, 1440, "working_day_hours") == utc(2026, 3, 30, 8)  # Mon 10:00 CEST
    assert DEFAULT.add(fri, 1, "working_days") == utc(2026, 3, 30, 15)  # Mon 17:00 CEST
    assert DEFAULT.add(local(2026, 3, 27, 16), 120, "opening_hours") == utc(2026, 3, 30, 7)
    assert DEFAULT.next_opening(local(2026, 3, 28, 12)) == utc(2026, 3, 30, 6)
    # The Sunday has 23 hours of real time.
    assert DEFAULT.add(local(2026, 3, 28, 12), 1440, "calendar_hours") == local(2026, 3, 29, 13)
    assert DEFAULT.elapsed(fri, utc(2026, 3, 30, 8), "calendar_hours") == 71 * 60


def test_autumn_dst_weekend() -> None:
    """Normaltid returns Sunday 25 October 2026: +02:00 before, +01:00 after."""
    fri = local(2026, 10, 23, 10)
    assert fri == utc(2026, 10, 23, 8)
    assert DEFAULT.add(fri, 1440, "working_day_hours") == utc(2026, 10, 26, 9)  # Mon 10:00 CET
    assert DEFAULT.add(fri, 1, "working_days") == utc(2026, 10, 26, 16)
    assert DEFAULT.add(local(2026, 10, 23, 16), 120, "opening_hours") == utc(2026, 10, 26, 8)
    assert DEFAULT.add(local(2026, 10, 24, 12), 1440, "calendar_hours") == local(2026, 10, 25, 11)
    assert DEFAULT.elapsed(fri, utc(2026, 10, 26, 9), "calendar_hours") == 73 * 60


def test_open_on_a_dst_sunday_counts_real_minutes() -> None:
    spring = DayException(date(2026, 3, 29), (W("01:00-05:00"),), "Valvaka")
    autumn = DayException(date(2026, 10, 25), (W("01:00-05:00"),), "Valvaka")
    cal = BusinessCalendar.default([spring, autumn])
    assert cal.elapsed(local(2026, 3, 29), local(2026, 3, 30), "opening_hours") == 3 * 60
    # Whole working days count, whatever their length: Friday 16 h + Sunday 23 h or 25 h.
    assert cal.elapsed(local(2026, 3, 27, 8), local(2026, 3, 30), "working_day_hours") == 39 * 60
    assert cal.elapsed(local(2026, 10, 25), local(2026, 10, 26), "opening_hours") == 5 * 60
    assert cal.elapsed(local(2026, 10, 23, 8), local(2026, 10, 26), "working_day_hours") == 41 * 60


# --------------------------------------------------------------------------- exceptions

KLAMDAG = DayException(date(2026, 3, 13), reason="Klämdag – stängt")
VALBORG = DayException(date(2026, 4, 30), (W("08:00-12:00"),), "Dag före röd dag")
UNSTAFFED = DayException(date(2025, 5, 20), (W("08:00-14:00"),), "Obemannat från kl. 14")
EXTRA_SATURDAY = DayException(date(2026, 3, 21), (W("10:00-14:00"),), "Öppet hus")
ORG = BusinessCalendar.default([KLAMDAG, VALBORG, UNSTAFFED, EXTRA_SATURDAY])


def test_closure_day() -> None:
    assert not ORG.is_working_day(date(2026, 3, 13))
    assert ORG.non_working_reason(date(2026, 3, 13)) == "Klämdag – stängt"
    thursday = local(2026, 3, 12, 10)
    assert ORG.add(thursday, 1440, "working_day_hours") == local(2026, 3, 16, 10)
    assert ORG.add(thursday, 1, "working_days") == local(2026, 3, 16, 17)
    assert ORG.next_opening(local(2026, 3, 12, 18)) == local(2026, 3, 16, 8)
    unnamed = BusinessCalendar.default([DayException(date(2026, 3, 13))])
    assert unnamed.non_working_reason(date(2026, 3, 13)) == "Stängt"


def test_shortened_day() -> None:
    assert ORG.is_working_day(date(2026, 4, 30))
    assert ORG.non_working_reason(date(2026, 4, 30)) is None
    assert ORG.windows_on(date(2026, 4, 30)) == (W("08:00-12:00"),)
    assert ORG.closing_time(date(2026, 4, 30)) == local(2026, 4, 30, 12)
    assert ORG.add(local(2026, 4, 30, 9), 0, "working_days") == local(2026, 4, 30, 12)
    assert ORG.add(local(2026, 4, 29, 9), 1, "working_days") == local(2026, 4, 30, 12)
    # After the early closing the next opening is Monday (1 May is a Friday holiday).
    assert ORG.next_opening(local(2026, 4, 30, 13)) == local(2026, 5, 4, 8)
    assert ORG.add(local(2026, 4, 30, 11), 120, "opening_hours") == local(2026, 5, 4, 9)


def test_unstaffed_afternoon() -> None:
    assert ORG.add(local(2025, 5, 20, 13), 120, "opening_hours") == local(2025, 5, 21, 9)
    assert ORG.add(local(2025, 5, 20, 15), 0, "working_days") == local(2025, 5, 21, 17)


def test_exception_opening_a_saturday_makes_it_a_working_day() -> None:
    assert ORG.is_working_day(date(2026, 3, 21))
    assert ORG.add(local(2026, 3, 20, 18), 0, "working_days") == local(2026, 3, 21, 14)


def test_closing_time_none_on_non_working_day() -> None:
    assert DEFAULT.closing_time(date(2026, 12, 24)) is None


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "call",
    [
        lambda: DEFAULT.next_opening(datetime(2026, 3, 9, 10)),
        lambda: DEFAULT.is_open(datetime(2026, 3, 9, 10)),
        lambda: DEFAULT.add(datetime(2026, 3, 9, 10), 60, "opening_hours"),
        lambda: DEFAULT.add(datetime(2026, 3, 9, 10), 60, "calendar_hours"),
        lambda: DEFAULT.elapsed(local(2026, 3, 9), datetime(2026, 3, 9, 10), "opening_hours"),
        lambda: DEFAULT.elapsed(datetime(2026, 3, 9), local(2026, 3, 9, 10), "calendar_hours"),
    ],
)
def test_naive_datetimes_are_rejected(call: Callable[[], object]) -> None:
    with pytest.raises(ValueError, match="naive"):
        call()


def test_invalid_input() -> None:
    with pytest.raises(ValueError):
        Window(time(12), time(8))
    with pytest.raises(ValueError):
        Window(time(8, tzinfo=UTC), time(12))
    with pytest.raises(ValueError):
        W("8-12")
    with pytest.raises(ValueError, match="overlapping"):
        BusinessCalendar({0: [W("08:00-12:00"), W("11:00-13:00")]})
    with pytest.raises(ValueError, match="Sunday"):
        BusinessCalendar({6: [W("08:00-12:00")]})
    with pytest.raises(ValueError, match="at least one"):
        BusinessCalendar({0: []})
    with pytest.raises(ValueError, match="more than one"):
        BusinessCalendar.default([KLAMDAG, KLAMDAG])
    with pytest.raises(TypeError):
        DEFAULT.is_working_day(local(2026, 3, 9))  # a datetime is not a date here
    with pytest.raises(TypeError):
        DayException(local(2026, 3, 9))  # type: ignore[arg-type]
    for amount in (-1, 1.5, True):
        with pytest.raises(ValueError, match="amount"):
            DEFAULT.add(local(2026, 3, 9), amount, "opening_hours")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        DEFAULT.add(local(2026, 3, 9), 1, "fortnights")
    with pytest.raises(AttributeError):
        DEFAULT._tz = UTC  # type: ignore[misc]


def test_other_aware_timezones_are_accepted_and_results_are_utc() -> None:
    eastern = timezone(timedelta(hours=-5))
    at = datetime(2026, 3, 9, 4, tzinfo=eastern)  # 10:00 Stockholm
    result = DEFAULT.add(at, 60, "opening_hours")
    assert result == local(2026, 3, 9, 11) and result.tzinfo is UTC


# --------------------------------------------------------------------------- cost


def test_walks_day_by_day(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = 0
    original = BusinessCalendar._day

    def counting(self: BusinessCalendar, d: date) -> tuple[tuple[Window, ...], str | None]:
        nonlocal calls
        calls += 1
        return original(self, d)

    monkeypatch.setattr(BusinessCalendar, "_day", counting)
    start = local(2026, 1, 2, 9)
    due = DEFAULT.add(start, 250 * 9 * 60, "opening_hours")  # about a year of opening hours
    spanned = (due - start).days + 1
    assert 360 < spanned < 380
    assert calls <= 2 * spanned
    calls = 0
    assert DEFAULT.elapsed(start, due, "opening_hours") == 250 * 9 * 60
    assert calls <= 2 * spanned
