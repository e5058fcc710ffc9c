"""Administration use-cases for the business calendar and the service goals.

Opening hours, closure and shortened days are configuration, not records: they are replaced and
deleted freely (but not for days that have passed, which old cases' durations were measured
with). Every change is validated by building the :class:`BusinessCalendar` it would produce, so
the admin pages accept exactly what the goal engine can use, and the cached calendar of the
request is forgotten after the commit.

Service goals are never deleted, only deactivated: each case keeps a copy of the definition it
was given, so editing a goal changes what new cases get and nothing else.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, time, timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from kontaktcenter import jobs
from kontaktcenter.business_calendar import BusinessCalendar, DayException, Unit, Window
from kontaktcenter.business_calendar import swedish_holidays as holidays_of
from kontaktcenter.extensions import db, utcnow
from kontaktcenter.models import (
    CalendarException,
    CaseType,
    Channel,
    GoalTarget,
    OpeningWindow,
    ServiceGoal,
)
from kontaktcenter.services import goals
from kontaktcenter.services.errors import ValidationError

WEEKDAY_NAMES = ("Måndag", "Tisdag", "Onsdag", "Torsdag", "Fredag", "Lördag", "Söndag")
REASON_MAX = 200
HORIZON_DAYS = 3 * 365  # how far ahead a closure day may be planned
DAYS_MAX, HOURS_MAX = 365, 2000
AT_RISK_MIN, AT_RISK_MAX = 1, 90

_RANGE = re.compile(r"^(\d{1,2})[:.](\d{2})\s*[-–]\s*(\d{1,2})[:.](\d{2})$")
_ORDINARY_MONDAY = date(2024, 1, 8)  # a week without red days: shows the default weekly hours
_FORMAT_HINT = "Skriv tiderna som 08:00-12:00 och skilj flera tider åt med kommatecken."


@dataclass
class DayExceptionData:
    day: date | None
    closed: bool  # closed all day; otherwise open during `windows`
    windows: str = ""  # "08:00-12:00"
    reason: str = ""


@dataclass
class GoalData:
    target: GoalTarget | None
    amount: int | None
    unit: Unit | None
    channel: Channel | None = None  # None: every channel
    case_type: CaseType | None = None  # None: every case type
    at_risk_percent: int | None = goals.DEFAULT_AT_RISK_PERCENT
    active: bool = True


def _refresh_open_cases() -> None:
    """Open cases were given due times under the old calendar: recompute them (a job)."""
    from kontaktcenter.jobs.goals import refresh_open_cases

    jobs.enqueue(refresh_open_cases)


def today() -> date:
    """Today where the contact center is (the calendar's time zone)."""
    return utcnow().astimezone(goals.load_calendar().tz).date()


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
    db.session.commit()
    goals.forget_calendar()
    _refresh_open_cases()


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
        db.session.commit()
    except IntegrityError:  # another admin added the same day a moment ago
        db.session.rollback()
        raise ValidationError(_taken(day), "day") from None
    goals.forget_calendar()
    _refresh_open_cases()
    return row


def delete_exception(row: CalendarException, today: date) -> None:
    if row.day < today:
        raise ValidationError(
            "Dagar som har passerat tas inte bort: gamla ärendens tider är räknade med dem."
        )
    db.session.delete(row)
    db.session.commit()
    goals.forget_calendar()
    _refresh_open_cases()


def _taken(day: date) -> str:
    return f"Det finns redan en avvikande dag {day.isoformat()}. Ta bort den först för att ändra."


# --- service goals -------------------------------------------------------------------------------


def case_type_choices(keep: CaseType | None = None) -> list[CaseType]:
    """Active case types by name, plus `keep` (already chosen) even if it is inactive."""
    rows = db.session.scalars(
        sa.select(CaseType)
        .options(sa.orm.selectinload(CaseType.department))
        .order_by(CaseType.name)
    )
    return [t for t in rows if t.active or t == keep]


def list_goals() -> list[ServiceGoal]:
    return list(
        db.session.scalars(
            sa.select(ServiceGoal)
            .outerjoin(ServiceGoal.case_type)
            .order_by(
                ServiceGoal.active.desc(),
                ServiceGoal.target,
                ServiceGoal.case_type_id.is_not(None),
                CaseType.name,
                ServiceGoal.channel,
                ServiceGoal.id,
            )
        )
    )


def create_goal(data: GoalData) -> ServiceGoal:
    goal = ServiceGoal()
    _apply_goal(goal, data)
    db.session.add(goal)
    db.session.commit()
    return goal


def update_goal(goal: ServiceGoal, data: GoalData) -> ServiceGoal:
    _apply_goal(goal, data)
    db.session.commit()
    return goal


def amount_limits(unit: Unit) -> tuple[int, int]:
    return (1, DAYS_MAX) if unit == Unit.WORKING_DAYS else (1, HOURS_MAX)


def _apply_goal(goal: ServiceGoal, data: GoalData) -> None:
    if data.target is None:
        raise ValidationError("Välj vad målet gäller.", "target")
    if data.unit is None:
        raise ValidationError("Välj hur tiden räknas.", "unit")
    low, high = amount_limits(data.unit)
    if data.amount is None or not low <= data.amount <= high:
        what = "arbetsdagar" if data.unit == Unit.WORKING_DAYS else "timmar"
        message = f"Ange antal {what} som ett heltal mellan {low} och {high}."
        raise ValidationError(message, "amount")
    percent = data.at_risk_percent
    if percent is None or not AT_RISK_MIN <= percent <= AT_RISK_MAX:
        raise ValidationError(
            f"Ange när målet ska varna som ett heltal mellan {AT_RISK_MIN} och {AT_RISK_MAX} %.",
            "at_risk_percent",
        )
    case_type = data.case_type
    if (
        data.active
        and case_type is not None
        and not case_type.active
        and case_type.id != goal.case_type_id
    ):
        raise ValidationError("Ärendetypen är inte aktiv. Välj en aktiv ärendetyp.", "case_type")
    if data.active:
        _ensure_single_active(goal, data)
    goal.target = data.target
    goal.channel = data.channel
    goal.case_type = case_type
    goal.amount = data.amount
    goal.unit = data.unit
    goal.at_risk_percent = percent
    goal.active = data.active


def _ensure_single_active(goal: ServiceGoal, data: GoalData) -> None:
    """One active goal per (target, channel, case type): otherwise which one applies is a guess."""
    query = sa.select(ServiceGoal).where(
        ServiceGoal.active.is_(True),
        ServiceGoal.target == data.target,
        ServiceGoal.channel.is_(None)
        if data.channel is None
        else ServiceGoal.channel == data.channel,
        ServiceGoal.case_type_id.is_(None)
        if data.case_type is None
        else ServiceGoal.case_type_id == data.case_type.id,
    )
    if goal.id is not None:
        query = query.where(ServiceGoal.id != goal.id)
    other = db.session.scalars(query).first()
    if other is not None:
        assert data.target is not None
        channel = data.channel.label.lower() if data.channel else "alla kanaler"
        case_type = data.case_type.name if data.case_type else "alla ärendetyper"
        raise ValidationError(
            f"Det finns redan ett aktivt servicemål för {data.target.label.lower()} "
            f"({channel}, {case_type}): {other.description}. Ändra det målet i stället, "
            "eller inaktivera det först.",
            "target",
        )


# --- the admin index -----------------------------------------------------------------------------


@dataclass
class SettingsCounts:
    opening_hours_configured: bool
    upcoming_exceptions: int
    goals: int
    active_goals: int


def counts() -> SettingsCounts:
    def total(*where: sa.ColumnElement[bool]) -> int:
        query = sa.select(sa.func.count()).select_from(ServiceGoal).where(*where)
        return db.session.scalar(query) or 0

    configured = db.session.scalars(sa.select(OpeningWindow.id).limit(1)).first() is not None
    upcoming = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(CalendarException)
        .where(CalendarException.day >= today())
    )
    return SettingsCounts(
        opening_hours_configured=configured,
        upcoming_exceptions=upcoming or 0,
        goals=total(),
        active_goals=total(ServiceGoal.active.is_(True)),
    )
