"""Is a case type's direct number answering now? Its phone hours plus the municipality's red
days and closure days from the business calendar."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from kontaktcenter.calendar.business_calendar import BusinessCalendar, swedish_holidays
from kontaktcenter.calendar.services import load_calendar
from kontaktcenter.channels.phone import line_hours
from kontaktcenter.core.extensions import utcnow
from kontaktcenter.organisation.models import CaseType


@dataclass(frozen=True)
class LineStatus:
    hours: str | None  # the text people read ("Mån–tor 10–12")
    open: bool | None  # None: no hours, or hours we cannot read (then we never warn)
    opens_at: datetime | None = None  # the next opening (aware), when closed

    @property
    def closed(self) -> bool:
        return self.open is False


def hours_text(case_type: CaseType) -> str | None:
    """The case type's own phone hours, else its department's (as the admin pages promise)."""
    return case_type.direct_number_hours or case_type.department.phone_hours


def _closed_all_day(calendar: BusinessCalendar, day: date) -> bool:
    """A red day or a closure day. The contact center's own weekly hours do not apply: a line
    may well answer on a Saturday the contact center is closed."""
    exception = calendar.exceptions.get(day)
    if exception is not None:
        return exception.closed
    try:
        return day in swedish_holidays(day.year)
    except ValueError:  # a year the holiday tables do not cover
        return False


def line_status(case_type: CaseType, at: datetime | None = None) -> LineStatus:
    text = hours_text(case_type)
    if not case_type.direct_number:
        return LineStatus(text, None)
    schedule = line_hours.parse(text)
    if schedule is None:
        return LineStatus(text, None)
    calendar = load_calendar()
    local = (at or utcnow()).astimezone(calendar.tz)
    is_open = not _closed_all_day(calendar, local.date()) and schedule.is_open(local)
    if is_open:
        return LineStatus(text, True)
    opens_at = schedule.next_opening(local, lambda d: not _closed_all_day(calendar, d))
    return LineStatus(text, False, opens_at)


def line_statuses(case_types: list[CaseType]) -> dict[str, LineStatus]:
    """Each case type's line now, by slug (for the form's panels and the warning)."""
    now = utcnow()
    return {t.slug: line_status(t, now) for t in case_types}
