"""Business calendar: opening hours, Swedish working days and due-time arithmetic.

Pure module (no database, no Flask). See DOMAIN.md section 4 for the rules.

Working days
    A day is a working day when it has opening windows. In order of precedence:

    1. A :class:`DayException` for the date is authoritative: no windows means closed all day
       (klämdag, staff day; its ``reason`` is reported), windows mean a working day with those
       windows (shortened day, unstaffed afternoon, or even an extra-open Saturday).
    2. Allmänna helgdagar (Lag 1989:253) from ``holidays.Sweden`` in Swedish, plus midsommarafton,
       julafton and nyårsafton (Lag 1930:173) from the library's DE_FACTO category, are closed.
       Library versions without that category get the eves added by rule from its own dates.
    3. Every Sunday is an allmän helgdag ("Söndag"); weekly hours may not open on Sundays.
    4. Otherwise the weekly hours apply; a weekday without windows is closed and its reason is
       the weekday name ("Lördag").

    Holidays exist only for the years ``holidays.Sweden`` covers (1953-2100 in holidays 0.109);
    other years raise ``ValueError`` rather than silently treating red days as working days.

Time
    Windows are half-open ``[start, end)`` wall-clock times in the calendar's zone (default
    Europe/Stockholm); they are turned into instants per date with zoneinfo, so every day, including
    a 23 or 25 hour DST day, has the right UTC offset. Public datetimes must be timezone-aware
    (naive ones raise ``ValueError``); returned datetimes are UTC (``tzinfo=timezone.utc``).

Units (:class:`Unit`) and amounts for :meth:`BusinessCalendar.add`
    ``working_days``      amount is a number of working days ("inom 2 arbetsdagar"). The arrival
                          is moved to :meth:`~BusinessCalendar.next_opening`; its day is day 0 and
                          the due time is the closing time (end of the last window) of the N-th
                          working day after it. ``elapsed`` counts opening-window minutes.
    ``working_day_hours`` amount in minutes of clock time that flows only on working days (whole
                          local 00:00-24:00 days; non-working days are skipped whole), counted from
                          next_opening of the arrival ("24 timmar på vardagar" = 1440).
    ``opening_hours``     amount in minutes inside opening windows ("16 arbetstimmar" = 960).
    ``calendar_hours``    amount in real elapsed minutes (UTC arithmetic); no shift to opening.

    An hour-based result is the earliest instant at which the amount is reached: an
    opening-hours amount used up exactly at a window end returns that end, not the next opening.
    For ``working_day_hours`` and ``opening_hours`` an amount of 0 returns next_opening(start).

    Consequences: ``elapsed(s, add(s, m, u), u) == m`` for every hour-based unit and every ``s``
    (``elapsed`` also counts from next_opening). ``add(add(s, a), b) == add(s, a + b)`` always
    for calendar hours, for opening hours when ``b > 0``, and for working-day hours when
    ``add(s, a)`` is inside opening hours (otherwise the second arrival is shifted to the next
    opening, which is later or equal). For working days, a due time at closing counts as arriving
    at the next opening, so ``add(add(s, a), b) == add(s, a + b + 1)``.

Cost: each call walks day by day over the days it spans; holiday tables are cached per year.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from enum import StrEnum
from functools import lru_cache
from types import MappingProxyType
from zoneinfo import ZoneInfo

import holidays

__all__ = ["BusinessCalendar", "DayException", "Unit", "Window", "swedish_holidays"]

_DAY = timedelta(days=1)
_MINUTE = timedelta(minutes=1)
_PUBLIC, _DE_FACTO = "public", "de_facto"
_WEEKDAY_NAMES = ("Måndag", "Tisdag", "Onsdag", "Torsdag", "Fredag", "Lördag", "Söndag")
# The library's Swedish names, where the product wants another wording.
_RENAMED = {"Nationaldagen": "Sveriges nationaldag"}
_WINDOW_TEXT = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*[-–]\s*(\d{1,2}):(\d{2})\s*$")


class Unit(StrEnum):
    """How a service-goal amount is measured (see the module docstring)."""

    WORKING_DAYS = "working_days"
    WORKING_DAY_HOURS = "working_day_hours"
    OPENING_HOURS = "opening_hours"
    CALENDAR_HOURS = "calendar_hours"


# --------------------------------------------------------------------------- holidays


def _library_holidays(year: int, categories: tuple[str, ...]) -> dict[date, str]:
    lib = holidays.Sweden(years=year, categories=categories, language="sv")
    return dict(lib.items())


def _with_eves(year: int, names: dict[date, str]) -> dict[date, str]:
    """Add midsommarafton, julafton and nyårsafton by rule from the library's own dates."""
    result = dict(names)
    for d, name in names.items():
        parts = name.split("; ")
        if "Midsommardagen" in parts:
            result.setdefault(d - _DAY, "Midsommarafton")
        if "Juldagen" in parts:
            result.setdefault(d - _DAY, "Julafton")
    result.setdefault(date(year, 12, 31), "Nyårsafton")  # the day before next year's nyårsdag
    return result


@lru_cache(maxsize=512)
def swedish_holidays(year: int) -> Mapping[date, str]:
    """Non-working red days and eves of ``year`` (not plain Sundays) with their Swedish names.

    Raises ValueError outside the years ``holidays.Sweden`` covers.
    """
    first, last = holidays.Sweden.start_year, holidays.Sweden.end_year
    if not first <= year <= last:
        raise ValueError(f"Swedish holidays are only known for {first}-{last}, not {year}")
    supported = getattr(holidays.Sweden, "supported_categories", (_PUBLIC,))
    if _DE_FACTO in supported:
        names = _library_holidays(year, (_PUBLIC, _DE_FACTO))
    else:  # holidays < 0.88 has no DE_FACTO category
        names = _with_eves(year, _library_holidays(year, (_PUBLIC,)))
    renamed = {
        d: " och ".join(_RENAMED.get(part, part) for part in name.split("; "))
        for d, name in names.items()
    }
    return MappingProxyType(renamed)


# --------------------------------------------------------------------------- value types


@dataclass(frozen=True, order=True)
class Window:
    """An opening window ``[start, end)`` in local wall-clock time; ends before midnight."""

    start: time
    end: time

    def __post_init__(self) -> None:
        for t in (self.start, self.end):
            if not isinstance(t, time):
                raise TypeError(f"Window times must be datetime.time, got {t!r}")
            if t.tzinfo is not None:
                raise ValueError("Window times are wall-clock times; leave tzinfo unset")
        if self.start >= self.end:
            raise ValueError(f"Window must start before it ends: {self.start}-{self.end}")

    @classmethod
    def parse(cls, text: str) -> Window:
        """Parse ``"08:00-12:00"`` (as stored in configuration)."""
        m = _WINDOW_TEXT.match(text)
        if not m:
            raise ValueError(f"not an opening window like '08:00-12:00': {text!r}")
        h1, m1, h2, m2 = map(int, m.groups())
        return cls(time(h1, m1), time(h2, m2))

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


def _normalize_windows(windows: Iterable[Window]) -> tuple[Window, ...]:
    """Sort, reject overlaps and merge touching windows (08-12 + 12-13 = 08-13)."""
    result: list[Window] = []
    for w in sorted(windows):
        if not isinstance(w, Window):
            raise TypeError(f"expected Window, got {w!r}")
        if result and w.start < result[-1].end:
            raise ValueError(f"overlapping opening windows: {result[-1]} and {w}")
        if result and w.start == result[-1].end:
            result[-1] = Window(result[-1].start, w.end)
        else:
            result.append(w)
    return tuple(result)


def _check_date(d: date) -> date:
    if isinstance(d, datetime) or not isinstance(d, date):
        raise TypeError(f"expected a datetime.date (not a datetime), got {d!r}")
    return d


def _utc(at: datetime) -> datetime:
    if not isinstance(at, datetime):
        raise TypeError(f"expected a datetime, got {at!r}")
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"naive datetime {at.isoformat()}: give it a timezone")
    return at.astimezone(UTC)


@dataclass(frozen=True)
class DayException:
    """An organisation-specific date: closed all day (no windows) or other opening windows."""

    day: date
    windows: tuple[Window, ...] = ()
    reason: str = ""

    def __post_init__(self) -> None:
        _check_date(self.day)
        object.__setattr__(self, "windows", _normalize_windows(self.windows))

    @property
    def closed(self) -> bool:
        return not self.windows


# --------------------------------------------------------------------------- calendar


class _RunningSums:
    """A clock's counted time from a fixed day (the first one asked for) to the start of any
    day, negative before it: the time of whole days from ``a`` to ``b`` is ``at(b) - at(a)``,
    whatever their distance. Extended a day at a time when a day beyond it is asked for."""

    __slots__ = ("hi", "lo", "lock", "sums")

    def __init__(self, origin: date) -> None:
        self.lo = self.hi = origin
        self.sums = {origin: timedelta(0)}
        self.lock = threading.Lock()

    def at(self, d: date, day_total: Callable[[date], timedelta]) -> timedelta:
        found = self.sums.get(d)
        if found is not None:
            return found
        with self.lock:  # each value is written before the bound that makes it reachable
            while self.hi < d:
                self.sums[self.hi + _DAY] = self.sums[self.hi] + day_total(self.hi)
                self.hi += _DAY
            while self.lo > d:
                self.sums[self.lo - _DAY] = self.sums[self.lo] - day_total(self.lo - _DAY)
                self.lo -= _DAY
            return self.sums[d]


_INTERVALS_KEPT = 20_000  # days of opening windows a calendar keeps (55 years)


class BusinessCalendar:
    """Opening hours plus Swedish working days; immutable, safe to share between threads."""

    __slots__ = (
        "_day_totals",
        "_exceptions",
        "_intervals",
        "_running",
        "_running_lock",
        "_tz",
        "_weekly",
    )
    _weekly: Mapping[int, tuple[Window, ...]]
    _exceptions: Mapping[date, DayException]
    _tz: tzinfo
    _day_totals: dict[tuple[date, Unit], timedelta]
    _intervals: dict[date, tuple[tuple[datetime, datetime], ...]]
    _running: dict[Unit, _RunningSums]
    _running_lock: threading.Lock

    def __init__(
        self,
        weekly: Mapping[int, Sequence[Window]],
        exceptions: Iterable[DayException] = (),
        tz: str | tzinfo = "Europe/Stockholm",
    ) -> None:
        """``weekly`` maps ``date.weekday()`` (0 = Monday ... 5 = Saturday) to opening windows."""
        week: dict[int, tuple[Window, ...]] = {}
        for weekday, windows in weekly.items():
            if weekday not in range(7):
                raise ValueError(f"weekday must be 0 (Monday) to 6 (Sunday), got {weekday!r}")
            normalized = _normalize_windows(windows)
            if weekday == 6 and normalized:
                raise ValueError("Sunday is an allmän helgdag; open one with a DayException")
            if normalized:
                week[weekday] = normalized
        if not week:
            raise ValueError("weekly opening hours must open on at least one weekday")
        by_day: dict[date, DayException] = {}
        for exc in exceptions:
            if not isinstance(exc, DayException):
                raise TypeError(f"expected DayException, got {exc!r}")
            if exc.day in by_day:
                raise ValueError(f"more than one exception for {exc.day}")
            by_day[exc.day] = exc
        object.__setattr__(self, "_weekly", MappingProxyType(week))
        object.__setattr__(self, "_exceptions", MappingProxyType(by_day))
        object.__setattr__(self, "_tz", ZoneInfo(tz) if isinstance(tz, str) else tz)
        # (day, unit) → the length of the day's counting intervals: a whole day inside an
        # elapsed time (a goal running for a year is ~365 of them); derived, so sharing is safe
        object.__setattr__(self, "_day_totals", {})
        # day → its opening windows as UTC instants: every goal's durations and due time ask
        # for the same few days (a list of 50 cases, ~100 times a page); derived, so shared
        object.__setattr__(self, "_intervals", {})
        object.__setattr__(self, "_running", {})  # per unit: whole days' time in O(1)
        object.__setattr__(self, "_running_lock", threading.Lock())

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("BusinessCalendar is immutable")

    def __repr__(self) -> str:
        week = {_WEEKDAY_NAMES[d]: [str(w) for w in ws] for d, ws in self._weekly.items()}
        return f"BusinessCalendar({week}, {len(self._exceptions)} exceptions, tz={self._tz})"

    @classmethod
    def default(cls, exceptions: Iterable[DayException] = ()) -> BusinessCalendar:
        """Monday-Friday 08:00-17:00 Europe/Stockholm (the Håbo-style office clock)."""
        office = (Window(time(8), time(17)),)
        return cls(dict.fromkeys(range(5), office), exceptions)

    @property
    def tz(self) -> tzinfo:
        return self._tz

    @property
    def exceptions(self) -> Mapping[date, DayException]:
        return self._exceptions

    # ---- days

    def _day(self, d: date) -> tuple[tuple[Window, ...], str | None]:
        """Windows of ``d`` and, when it has none, the reason (precedence: module docstring)."""
        exc = self._exceptions.get(d)
        if exc is not None:
            return exc.windows, None if exc.windows else (exc.reason or "Stängt")
        holiday = swedish_holidays(d.year).get(d)
        if holiday is not None:
            return (), holiday
        windows = self._weekly.get(d.weekday(), ())
        return windows, None if windows else _WEEKDAY_NAMES[d.weekday()]

    def is_working_day(self, d: date) -> bool:
        """True when ``d`` has opening windows."""
        return bool(self._day(_check_date(d))[0])

    def non_working_reason(self, d: date) -> str | None:
        """Swedish reason ("Lördag", "Julafton", a closure reason); None for a working day."""
        return self._day(_check_date(d))[1]

    def windows_on(self, d: date) -> tuple[Window, ...]:
        """Opening windows on ``d`` (empty on non-working days)."""
        return self._day(_check_date(d))[0]

    def days(self, start: date, end: date) -> list[tuple[date, str | None]]:
        """Every date from ``start`` to ``end`` inclusive with its non-working reason or None."""
        d, last = _check_date(start), _check_date(end)
        result = []
        while d <= last:
            result.append((d, self._day(d)[1]))
            d += _DAY
        return result

    def working_days(self, start: date, end: date) -> list[date]:
        """Working days from ``start`` to ``end`` inclusive."""
        return [d for d, reason in self.days(start, end) if reason is None]

    # ---- instants

    def _instant(self, d: date, t: time) -> datetime:
        return datetime.combine(d, t, tzinfo=self._tz).astimezone(UTC)

    def _local_date(self, at: datetime) -> date:
        return at.astimezone(self._tz).date()

    def _open_intervals(self, d: date) -> Sequence[tuple[datetime, datetime]]:
        found = self._intervals.get(d)
        if found is None:
            spans = ((self._instant(d, w.start), self._instant(d, w.end)) for w in self._day(d)[0])
            # a window inside a DST gap has no length
            found = tuple((a, b) for a, b in spans if a < b)
            if len(self._intervals) >= _INTERVALS_KEPT:
                self._intervals.clear()
            self._intervals[d] = found
        return found

    def _counting_intervals(self, d: date, unit: Unit) -> Sequence[tuple[datetime, datetime]]:
        """The instants of ``d`` during which ``unit``'s clock runs."""
        if unit is Unit.WORKING_DAY_HOURS:
            if not self._day(d)[0]:
                return []
            return [(self._instant(d, time()), self._instant(d + _DAY, time()))]
        return self._open_intervals(d)

    def closing_time(self, d: date) -> datetime | None:
        """End of the last opening window on ``d`` (UTC); None on a non-working day."""
        intervals = self._open_intervals(_check_date(d))
        return intervals[-1][1] if intervals else None

    def is_open(self, at: datetime) -> bool:
        """True when ``at`` lies inside an opening window."""
        t = _utc(at)
        return any(a <= t < b for a, b in self._open_intervals(self._local_date(t)))

    def next_opening(self, at: datetime) -> datetime:
        """``at`` (in UTC) if open then, else the start of the next opening window."""
        t = _utc(at)
        d = self._local_date(t)
        while True:  # ends: weekly hours open some weekday, and far years raise ValueError
            for a, b in self._open_intervals(d):
                if t < b:
                    return max(a, t)
            d += _DAY

    def add(self, start: datetime, amount: int, unit: Unit | str) -> datetime:
        """Due time of a goal of ``amount`` (days or minutes, per ``unit``) from ``start``."""
        unit = Unit(unit)
        if isinstance(amount, bool) or not isinstance(amount, int) or amount < 0:
            raise ValueError(f"amount must be a non-negative int, got {amount!r}")
        if unit is Unit.CALENDAR_HOURS:
            return _utc(start) + amount * _MINUTE
        t = self.next_opening(start)
        d = self._local_date(t)
        if unit is Unit.WORKING_DAYS:
            left = amount  # day 0 is d itself: t lies in one of its windows
            while True:
                intervals = self._open_intervals(d)
                if intervals:
                    if not left:
                        return intervals[-1][1]
                    left -= 1
                d += _DAY
        remaining = amount * _MINUTE
        if not remaining:
            return t
        while True:
            for a, b in self._counting_intervals(d, unit):
                a = max(a, t)
                if a >= b:
                    continue
                if remaining <= b - a:
                    return a + remaining
                remaining -= b - a
            d += _DAY

    def elapsed(self, start: datetime, end: datetime, unit: Unit | str) -> int:
        """Whole minutes of ``unit``'s clock from ``start`` to ``end``; 0 if end <= start.

        Business units count from next_opening(start), like :meth:`add`; ``working_days``
        counts opening-window minutes (as ``opening_hours``). Partial minutes are floored.
        """
        unit = Unit(unit)
        e = _utc(end)
        if unit is Unit.CALENDAR_HOURS:
            return max(e - _utc(start), timedelta(0)) // _MINUTE
        t = self.next_opening(start)
        if e <= t:
            return 0
        clock = Unit.OPENING_HOURS if unit is Unit.WORKING_DAYS else unit
        total = timedelta(0)
        first, last = self._local_date(t), self._local_date(e)
        for d in {first, last}:  # the first and the last day count in part
            for a, b in self._counting_intervals(d, clock):
                lo, hi = max(a, t), min(b, e)
                if lo < hi:
                    total += hi - lo
        if last - first > _DAY:  # whole days between: all of their intervals count
            total += self._whole_days(first + _DAY, last, clock)
        return total // _MINUTE

    def _whole_days(self, start: date, end: date, unit: Unit) -> timedelta:
        """The counted time of the days from `start` up to (not including) `end`."""
        sums = self._running.get(unit)
        if sums is None:
            with self._running_lock:
                sums = self._running.setdefault(unit, _RunningSums(start))
        day_total = lambda d: self._day_total(d, unit)  # noqa: E731
        return sums.at(end, day_total) - sums.at(start, day_total)

    def _day_total(self, d: date, unit: Unit) -> timedelta:
        key = (d, unit)
        total = self._day_totals.get(key)
        if total is None:
            total = sum((b - a for a, b in self._counting_intervals(d, unit)), timedelta(0))
            self._day_totals[key] = total
        return total
