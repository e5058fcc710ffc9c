"""The business calendar as configured: loading it (cached), and its administration.

Opening hours, closure and shortened days are configuration, not records: they are replaced and
deleted freely (but not for days that have passed, which old cases' durations were measured
with). Every change is validated by building the :class:`BusinessCalendar` it would produce, so
the admin pages accept exactly what the goal engine can use. After a change the cached calendar
is forgotten and :data:`calendar_changed` is sent, so areas that stored times computed with the
old calendar (the service goals) can recompute them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, time, timedelta
from time import monotonic

import sqlalchemy as sa
from blinker import Namespace
from flask import current_app, g, has_app_context
from sqlalchemy.exc import IntegrityError

from kontaktcenter.calendar.business_calendar import BusinessCalendar, DayException, Window
from kontaktcenter.calendar.business_calendar import swedish_holidays as holidays_of
from kontaktcenter.calendar.models import CalendarException, OpeningWindow
from kontaktcenter.core import outbox
from kontaktcenter.core.errors import ValidationError
from kontaktcenter.core.extensions import db, utcnow

_signals = Namespace()
#: Sent (with no sender) in the transaction that changes opening hours or exception days.
calendar_changed = _signals.signal("calendar-changed")

WEEKDAY_NAMES = ("Måndag", "Tisdag", "Onsdag", "Torsdag", "Fredag", "Lördag", "Söndag")
REASON_MAX = 200
HORIZON_DAYS = 3 * 365  # how far ahead a closure day may be planned

_RANGE = re.compile(r"^(\d{1,2})[:.](\d{2})\s*[-–]\s*(\d{1,2})[:.](\d{2})$")
_ORDINARY_MONDAY = date(2024, 1, 8)  # a week without red days: shows the default weekly hours
_FORMAT_HINT = "Skriv tiderna som 08:00-12:00 och skilj flera tider åt med kommatecken."


@dataclass
class DayExceptionData:
    day: date | None
    closed: bool  # closed all day; otherwise open during `windows`
    windows: str = ""  # "08:00-12:00"
    reason: str = ""


_process_cache: dict[str, tuple[float, BusinessCalendar]] = {}


def load_calendar() -> BusinessCalendar:
    """The configured calendar (Mon–Fri 08–17 until an admin sets opening hours).

    Kept per request, and per process for CALENDAR_CACHE_SECONDS: the queue page and every case
    action need it, and it changes a few times a year. A change is seen at once in the process
    that made it and within the cache time in the others."""
    in_app = has_app_context()
    if in_app:
        # Asked for once per goal shown (a list page: ~100 times): one look in `g`.
        kept: BusinessCalendar | None = g.get("business_calendar")
        if kept is not None:
            return kept
    ttl = current_app.config.get("CALENDAR_CACHE_SECONDS", 0) if in_app else 0
    cached = _process_cache.get("calendar")
    if ttl and cached is not None and monotonic() - cached[0] < ttl:
        g.business_calendar = cached[1]
        return cached[1]
    weekly: dict[int, list[Window]] = {}
    for row in db.session.scalars(sa.select(OpeningWindow).order_by(OpeningWindow.start)):
        weekly.setdefault(row.weekday, []).append(Window(row.start, row.end))
    exceptions = [
        DayException(row.day, tuple(Window.parse(w) for w in row.windows), row.reason)
        for row in db.session.scalars(sa.select(CalendarException))
    ]
    calendar = (
        BusinessCalendar(weekly, exceptions) if weekly else BusinessCalendar.default(exceptions)
    )
    if in_app:
        g.business_calendar = calendar
    if ttl:
        _process_cache["calendar"] = (monotonic(), calendar)
    return calendar


def forget_calendar() -> None:
    """Call after changing opening hours or exceptions."""
    _process_cache.pop("calendar", None)
    if has_app_context():
        g.pop("business_calendar", None)


def _commit_change() -> None:
    """Commit a calendar change with the work it causes (receivers of :data:`calendar_changed`
    write it to the outbox), then forget the cached calendar."""
    calendar_changed.send()
    outbox.commit()
    forget_calendar()


def today() -> date:
    """Today where the contact center is (the calendar's time zone)."""
    return utcnow().astimezone(load_calendar().tz).date()


# --- opening hours -------------------------------------------------------------------------------


def window_text(windows: list[Window] | tuple[Window, ...]) -> str:
    return ", ".join(str(w) for w in windows)


def _weekly() -> tuple[dict[int, list[Window]], bool]:
    """The weekly windows in force, and whether an admin configured them (else the default)."""
    rows = db.session.scalars(
        sa.select(OpeningWindow).order_by(OpeningWindow.weekday, OpeningWindow.start)
    ).all()
    week: dict[int, list[Window]]
    if not rows:
        default = BusinessCalendar.default()
        week = {wd: list(default.windows_on(_ORDINARY_MONDAY + timedelta(wd))) for wd in range(7)}
        return week, False
    week = {wd: [] for wd in range(7)}
    for row in rows:
        week[row.weekday].append(Window(row.start, row.end))
    return week, True


def weekly_hours() -> tuple[dict[int, str], bool]:
    """Each weekday's windows as text, and whether they are configured (else the default)."""
    week, configured = _weekly()
    return {wd: window_text(windows) for wd, windows in week.items()}, configured


def parse_windows(text: str | None, field: str, label: str) -> list[Window]:
    """``"08:00-12:00, 13:00-17:00"`` → sorted windows; Swedish messages for every mistake."""
    windows = []
    for part in (p.strip() for p in re.split(r"[,;\n]", text or "")):
        if not part:
            continue
        match = _RANGE.match(part)
        if not match:
            raise ValidationError(f"{label}: ”{part}” är inte en tid. {_FORMAT_HINT}", field)
        h1, m1, h2, m2 = map(int, match.groups())
        if max(h1, h2) > 23 or max(m1, m2) > 59:
            raise ValidationError(
                f"{label}: ”{part}” är inte en tid på dygnet (timmar 00–23, minuter 00–59).", field
            )
        if (h1, m1) >= (h2, m2):
            raise ValidationError(f"{label}: ”{part}” slutar innan den börjar.", field)
        windows.append(Window(time(h1, m1), time(h2, m2)))
    windows.sort()
    for before, after in zip(windows, windows[1:], strict=False):
        if after.start < before.end:
            raise ValidationError(f"{label}: {before} och {after} överlappar varandra.", field)
    return windows


def _exceptions() -> list[DayException]:
    return [
        DayException(row.day, tuple(Window.parse(w) for w in row.windows), row.reason)
        for row in db.session.scalars(sa.select(CalendarException))
    ]


def _check_calendar(weekly: Mapping[int, list[Window]], exceptions: list[DayException]) -> None:
    """The last word: the calendar the goal engine would build from this configuration."""
    try:
        BusinessCalendar(weekly, exceptions)
    except ValueError as error:  # the checks above should have caught it in plainer words
        raise ValidationError(f"Öppettiderna kan inte användas ({error}).") from None


def save_opening_hours(texts: Mapping[int, str | None]) -> None:
    """Replace the weekly opening hours (0 = Monday … 6 = Sunday; empty = closed)."""
    weekly = {wd: parse_windows(texts.get(wd), f"day_{wd}", WEEKDAY_NAMES[wd]) for wd in range(7)}
    if weekly[6]:
        raise ValidationError(
            "Söndag är en allmän helgdag och kan inte ha öppettider varje vecka. "
            "Öppna en enskild söndag under Avvikande dagar.",
            "day_6",
        )
    if not any(weekly.values()):
        raise ValidationError("Ange öppettider för minst en veckodag.", "day_0")
    _check_calendar(weekly, _exceptions())
    db.session.execute(sa.delete(OpeningWindow))
    rows = [
        OpeningWindow(weekday=wd, start=w.start, end=w.end)
        for wd, windows in weekly.items()
        for w in windows
    ]
    db.session.add_all(rows)
    db.session.flush()
    # Two admins saving at once could each delete the old rows and both insert theirs; the
    # doubled windows would overlap and no calendar could be built. The second one notices.
    if db.session.scalar(sa.select(sa.func.count()).select_from(OpeningWindow)) != len(rows):
        db.session.rollback()
        raise ValidationError(
            "Någon annan sparade öppettiderna samtidigt. Ladda om sidan och försök igen."
        )
    _commit_change()


# --- closure and shortened days ----------------------------------------------------------------


def upcoming_exceptions(today: date) -> list[CalendarException]:
    return list(
        db.session.scalars(
            sa.select(CalendarException)
            .where(CalendarException.day >= today)
            .order_by(CalendarException.day)
        )
    )


def holidays_ahead(today: date, days: int = 60) -> list[tuple[date, str]]:
    """Red days and eves (midsommar-, jul-, nyårsafton) from today on, for reference."""
    end = today + timedelta(days=days)
    found = []
    for year in range(today.year, end.year + 1):
        found += [(d, name) for d, name in holidays_of(year).items() if today <= d <= end]
    return sorted(found)


def add_exception(data: DayExceptionData, today: date) -> CalendarException:
    day = data.day
    if day is None:
        raise ValidationError("Ange datum, till exempel 2026-12-23.", "day")
    if day < today:
        raise ValidationError("Välj ett datum från och med i dag.", "day")
    if day > today + timedelta(days=HORIZON_DAYS):
        raise ValidationError("Välj ett datum inom de närmaste tre åren.", "day")
    taken = db.session.scalars(sa.select(CalendarException.id).where(CalendarException.day == day))
    if taken.first() is not None:
        raise ValidationError(_taken(day), "day")
    windows: list[Window] = []
    if not data.closed:
        windows = parse_windows(data.windows, "windows", "Öppettider")
        if not windows:
            raise ValidationError(
                "Ange öppettiderna för dagen, eller välj stängt hela dagen.", "windows"
            )
    reason = " ".join((data.reason or "").split())
    if not reason:
        raise ValidationError("Ange anledning, till exempel Kompetensdag.", "reason")
    if len(reason) > REASON_MAX:
        raise ValidationError(f"Anledningen får vara högst {REASON_MAX} tecken.", "reason")
    _check_calendar(_weekly()[0], [*_exceptions(), DayException(day, tuple(windows), reason)])
    row = CalendarException(day=day, windows=[str(w) for w in windows], reason=reason)
    db.session.add(row)
    try:
        db.session.flush()
    except IntegrityError:  # another admin added the same day a moment ago
        db.session.rollback()
        raise ValidationError(_taken(day), "day") from None
    _commit_change()
    return row


def delete_exception(row: CalendarException, today: date) -> None:
    if row.day < today:
        raise ValidationError(
            "Dagar som har passerat tas inte bort: gamla ärendens tider är räknade med dem."
        )
    db.session.delete(row)
    _commit_change()


def _taken(day: date) -> str:
    return f"Det finns redan en avvikande dag {day.isoformat()}. Ta bort den först för att ändra."


def upcoming_closures(today: date | None = None, days: int = 14) -> list[tuple[date, str]]:
    """Weekdays the center is closed or has other hours soon, for the agents' notice."""
    cal = load_calendar()
    today = today or utcnow().astimezone(cal.tz).date()
    shortened = {day: exc for day, exc in cal.exceptions.items() if not exc.closed}
    notices = []
    for day, reason in cal.days(today, today + timedelta(days=days)):
        if day.weekday() >= 5 and day not in shortened:
            continue
        if reason is not None:
            notices.append((day, f"Stängt – {reason}"))
        elif day in shortened:
            hours = ", ".join(f"{w.start:%H:%M}–{w.end:%H:%M}" for w in cal.windows_on(day))
            reason_text = f" – {shortened[day].reason}" if shortened[day].reason else ""
            notices.append((day, f"Öppet {hours}{reason_text}"))
    return notices


@dataclass
class CalendarCounts:
    opening_hours_configured: bool
    upcoming_exceptions: int


def counts() -> CalendarCounts:
    configured = db.session.scalars(sa.select(OpeningWindow.id).limit(1)).first() is not None
    upcoming = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(CalendarException)
        .where(CalendarException.day >= today())
    )
    return CalendarCounts(opening_hours_configured=configured, upcoming_exceptions=upcoming or 0)
