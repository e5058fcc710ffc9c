"""Report periods and filters: which contacts a report counts.

A period is a range of local dates (Europe/Stockholm), inclusive; a contact belongs to it by the
local date it was received. Bounds are turned into UTC instants once, so the database compares
plain timestamps on every backend (SQLite has no time zones) and daylight saving is exact.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays

from kontaktcenter.cases.enums import Channel
from kontaktcenter.core.errors import ValidationError
from kontaktcenter.core.forms import INVALID_CHOICE, parse_id
from kontaktcenter.core.roles import Role
from kontaktcenter.organisation.models import User

TZ = ZoneInfo("Europe/Stockholm")
MAX_DAYS = 3 * 366  # a report covers at most three years
YEARS = (holidays.Sweden.start_year, holidays.Sweden.end_year)  # the calendar knows their red days

PRESETS = {
    "this_week": "Denna vecka",
    "last_week": "Förra veckan",
    "this_month": "Denna månad",
    "last_month": "Förra månaden",
    "this_year": "I år",
    "custom": "Egen period",
}


@dataclass(frozen=True)
class Period:
    first: date
    last: date  # inclusive

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    @property
    def start(self) -> datetime:
        return local_midnight(self.first)

    @property
    def end(self) -> datetime:  # exclusive
        return local_midnight(self.last + timedelta(days=1))

    def previous(self) -> Period:
        """The period of the same length just before this one (for comparison)."""
        return Period(self.first - timedelta(days=self.days), self.first - timedelta(days=1))

    def dates(self) -> list[date]:
        return [self.first + timedelta(days=n) for n in range(self.days)]

    @property
    def label(self) -> str:
        return f"{self.first.isoformat()} – {self.last.isoformat()}"


def local_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), TZ).astimezone(UTC)


def local_date(at: datetime) -> date:
    return at.astimezone(TZ).date()


def preset(name: str, today: date) -> Period:
    if name == "this_week":
        monday = today - timedelta(days=today.weekday())
        return Period(monday, monday + timedelta(days=6))
    if name == "last_week":
        monday = today - timedelta(days=today.weekday() + 7)
        return Period(monday, monday + timedelta(days=6))
    if name == "this_month":
        first = today.replace(day=1)
        return Period(first, _month_end(first))
    if name == "last_month":
        last = today.replace(day=1) - timedelta(days=1)
        return Period(last.replace(day=1), last)
    if name == "this_year":
        return Period(date(today.year, 1, 1), date(today.year, 12, 31))
    raise ValidationError("Okänd period.", "period")


def _month_end(first: date) -> date:
    following = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
    return following - timedelta(days=1)


def parse_date(value: str | None, field: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise ValidationError(
            "Ange datum som ÅÅÅÅ-MM-DD, till exempel 2026-11-30.", field
        ) from None


def custom(first: date | None, last: date | None) -> Period:
    if first is None:
        raise ValidationError("Ange första dagen i perioden.", "from")
    if last is None:
        raise ValidationError("Ange sista dagen i perioden.", "to")
    if last < first:
        raise ValidationError("Periodens sista dag ligger före den första.", "to")
    if (last - first).days + 1 > MAX_DAYS:
        raise ValidationError("En rapport kan omfatta högst tre år.", "to")
    for day, field in ((first, "from"), (last, "to")):
        if not YEARS[0] <= day.year <= YEARS[1]:  # working days need the year's red days
            raise ValidationError(f"Välj en period mellan åren {YEARS[0]} och {YEARS[1]}.", field)
    return Period(first, last)


@dataclass(frozen=True)
class ReportFilters:
    period: Period
    preset: str = "custom"
    department_id: int | None = None
    case_type_id: int | None = None
    channel: Channel | None = None
    # The departments the viewer may see figures of; None: all (managers, admins).
    scope: frozenset[int] | None = None

    def previous(self) -> ReportFilters:
        return replace(self, period=self.period.previous(), preset="custom")


def filters_from_args(
    args: Mapping[str, str], today: date, scope: frozenset[int] | None
) -> ReportFilters:
    """Filters from a query string: ``period`` (a preset) or ``from``/``to``, ``department``,
    ``case_type``, ``channel``. Invalid values raise ValidationError with the field."""
    name = args.get("period") or ("custom" if args.get("from") or args.get("to") else "last_month")
    if name not in PRESETS:
        raise ValidationError("Välj en period i listan.", "period")
    if name == "custom":
        period = custom(parse_date(args.get("from"), "from"), parse_date(args.get("to"), "to"))
    else:
        period = preset(name, today)
    channel = None
    if args.get("channel"):
        try:
            channel = Channel(args["channel"])
        except ValueError:
            raise ValidationError("Okänd kanal.", "channel") from None
    department_id = _id(args.get("department"), "department")
    if scope is not None and department_id is not None and department_id not in scope:
        raise ValidationError("Du kan bara se siffror för din egen förvaltning.", "department")
    return ReportFilters(
        period=period,
        preset=name,
        department_id=department_id,
        case_type_id=_id(args.get("case_type"), "case_type"),
        channel=channel,
        scope=scope,
    )


def _id(value: str | None, field: str) -> int | None:
    """An id from the query string; a value that is not one is an error here (a filter the
    viewer chose must not silently widen the report)."""
    if not value:
        return None
    if (number := parse_id(value)) is None:
        raise ValidationError(INVALID_CHOICE, field)
    return number


def scope_of(user: User) -> frozenset[int] | None:
    """Whose figures `user` may see: a handler only their departments'; managers and admins
    every department's."""
    return frozenset(user.department_ids) if user.role == Role.HANDLER else None
