"""The service report: KKiK's e-mail and phone measures, lösningsgrad, callbacks and service
goals for a period, computed by aggregate queries in the database (never case by case in Python).

Every figure counts the cases *received* in the period (local dates, Europe/Stockholm), narrowed
by the filters. Each measure's definition is in :data:`DEFINITIONS`, shown next to it.

The functions here compute one measure each, one query apiece: they are the definitions. The
report itself reads the same numbers from one grouped statement over the period and the one
before it (:mod:`period_counts`); tests/test_reports_paths.py checks that both agree.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from kontaktcenter.calendar.services import load_calendar
from kontaktcenter.cases.enums import Channel, Outcome
from kontaktcenter.cases.models import Case
from kontaktcenter.core.extensions import UTCDateTime, db, utcnow
from kontaktcenter.organisation.models import CaseType
from kontaktcenter.reports.models import ResponseTime
from kontaktcenter.reports.periods import TZ, Period, ReportFilters, local_midnight

RESOLVED = (Outcome.ANSWERED, Outcome.REFERRED)

DEFINITIONS = {
    "email.answered_within": (
        "Andel e-brev vars första svar skickades senast vid stängningstid den N:e arbetsdagen "
        "efter dagen då brevet kom (helgdagar, midsommar-, jul- och nyårsafton och stängda "
        "dagar räknas inte). Brev utan svar när tiden gått ut räknas som inte besvarade i tid; "
        "brev vars tid ännu inte gått ut räknas inte med. Automatiska svar blir inga ärenden "
        "och räknas inte."
    ),
    "email.response_time": (
        "Tid från att brevet kom till första svaret: inom öppettiderna (som de var när svaret "
        "gavs) och i kalendertid. Medelvärde och median över besvarade brev."
    ),
    "phone.outcomes": (
        "Hur första linjen avslutade samtalet: besvarat direkt (löst i första kontakten), "
        "kopplat till direktnummer, skickat till förvaltning, återuppringning bokad eller "
        "hänvisat till annan myndighet. Andel av alla samtal i perioden."
    ),
    "resolution_rate": (
        "Lösningsgrad: andel av alla kontakter som kontaktcenter löste själv utan att skicka "
        "dem vidare – besvarade direkt eller hänvisade till annan myndighet – av alla kontakter "
        "i perioden. Kopplade, skickade och återuppringda kontakter räknas som vidareförda."
    ),
    "callbacks": (
        "Bokade återuppringningar bland periodens ärenden; i tid = den som ringde nåddes "
        "senast vid den utlovade tiden."
    ),
    "goals": (
        "Servicemål för periodens ärenden: uppfyllda i tid, uppfyllda för sent, och passerade "
        "utan att uppfyllas. Andel i tid = i tid / (i tid + för sent + passerade). Mål som "
        "fortfarande löper räknas inte; ersatta mål (ändrad ärendetyp) räknas inte."
    ),
}


def share(part: int, whole: int) -> float | None:
    """A percentage with one decimal, or None when there is nothing to divide."""
    return round(100.0 * part / whole, 1) if whole else None


def case_filters(
    filters: ReportFilters,
    period: Period | None = None,
    *,
    dated: bool = True,
    on: Any = Case,
) -> list[sa.ColumnElement]:
    """The conditions on Case for the filters: received in the period (unless not `dated`),
    department (and the viewer's scope), case type, channel. `on`: another table with those
    columns (the reports' daily counts, undated)."""
    period = period or filters.period
    where: list[sa.ColumnElement] = []
    if dated:
        where += [on.received_at >= period.start, on.received_at < period.end]
    if filters.department_id is not None:
        where.append(on.department_id == filters.department_id)
    if filters.scope is not None:
        where.append(on.department_id.in_(sorted(filters.scope)))
    if filters.case_type_id is not None:
        where.append(on.case_type_id == filters.case_type_id)
    if filters.channel is not None:
        where.append(on.channel == filters.channel)
    return where


# --- e-mail ----------------------------------------------------------------------------------


@dataclass
class EmailMeasures:
    received: int = 0
    answered_within_1_working_day: int = 0
    answered_within_2_working_days: int = 0
    still_within_1: int = 0  # unanswered, deadline not passed yet: not counted in the shares
    still_within_2: int = 0
    mean_office_minutes: float | None = None
    median_office_minutes: float | None = None
    mean_calendar_minutes: float | None = None
    median_calendar_minutes: float | None = None

    @property
    def share_within_1(self) -> float | None:
        return share(self.answered_within_1_working_day, self.received - self.still_within_1)

    @property
    def share_within_2(self) -> float | None:
        return share(self.answered_within_2_working_days, self.received - self.still_within_2)


def answer_deadlines(
    period: Period, *, per_hour: bool = True
) -> list[tuple[str, datetime, datetime]]:
    """The closing times of the 1st and 2nd working day after each local day of the period, in
    UTC, keyed by what the database can compute from a timestamp: the local date
    ('YYYY-MM-DD', on PostgreSQL, 366 rows a year) or, with `per_hour`, the UTC hour
    ('YYYY-MM-DD HH', for SQLite, which has no time zones; Stockholm's offsets are whole hours,
    so every UTC hour lies within one local day). The deadline depends only on the day a
    message arrived, and an equality join on the key is a hash join (a range join per day
    compared every message with every day)."""
    cal = load_calendar()
    working = cal.working_days(period.first, period.last + timedelta(days=60))
    deadlines: dict[date, tuple[datetime, datetime]] = {}
    for day in period.dates():
        after = bisect_right(working, day)  # the first working day after `day`
        first, second = cal.closing_time(working[after]), cal.closing_time(working[after + 1])
        assert first is not None and second is not None  # working days have hours
        deadlines[day] = (first, second)
    if not per_hour:
        return [(day.isoformat(), *due) for day, due in deadlines.items()]
    rows = []
    for day, due in deadlines.items():  # the UTC hours from the day's midnight to the next
        hour, end = local_midnight(day), local_midnight(day + timedelta(days=1))
        while hour < end:
            rows.append((hour.strftime("%Y-%m-%d %H"), *due))
            hour += timedelta(hours=1)
    return rows


def email_measures(filters: ReportFilters, period: Period | None = None) -> EmailMeasures:
    period = period or filters.period
    postgres = db.session.get_bind().dialect.name == "postgresql"
    days = (
        sa.values(
            sa.column("key", sa.String(13)),
            sa.column("due_1", UTCDateTime()),
            sa.column("due_2", UTCDateTime()),
            name="answer_hours",
        )
        .data(answer_deadlines(period, per_hour=not postgres))
        .cte("answer_hours")  # WITH … AS (VALUES …): SQLite too
    )
    now = utcnow()
    answered = Case.first_response_at
    where = [*case_filters(filters, period), Case.channel == Channel.EMAIL]
    row = db.session.execute(
        sa.select(
            sa.func.count(),
            sa.func.count().filter(answered <= days.c.due_1),
            sa.func.count().filter(answered <= days.c.due_2),
            sa.func.count().filter(answered.is_(None), days.c.due_1 >= now),
            sa.func.count().filter(answered.is_(None), days.c.due_2 >= now),
        )
        .select_from(Case)
        .join(
            days,
            (local_day(Case.received_at) if postgres else utc_hour(Case.received_at)) == days.c.key,
        )
        .where(*where)
    ).one()
    measures = EmailMeasures(*row)
    times = sa.select(ResponseTime).join(Case, Case.id == ResponseTime.case_id).where(*where)
    measures.mean_office_minutes, measures.median_office_minutes = _mean_median(
        times, ResponseTime.office_minutes
    )
    measures.mean_calendar_minutes, measures.median_calendar_minutes = _mean_median(
        times, ResponseTime.calendar_minutes
    )
    return measures


def local_day(column: sa.orm.QueryableAttribute[datetime]) -> sa.ColumnElement[str]:
    """The local (Europe/Stockholm) date of a timestamp as 'YYYY-MM-DD' (PostgreSQL only)."""
    return sa.func.to_char(sa.func.timezone(TZ.key, column), sa.literal_column("'YYYY-MM-DD'"))


def utc_hour(column: sa.orm.QueryableAttribute[datetime]) -> sa.ColumnElement[str]:
    """The UTC hour of a timestamp as text, 'YYYY-MM-DD HH', on either backend."""
    if db.session.get_bind().dialect.name == "postgresql":
        return sa.func.to_char(
            sa.func.timezone("UTC", column), sa.literal_column("'YYYY-MM-DD HH24'")
        )
    return sa.func.strftime("%Y-%m-%d %H", column)


def _mean_median(
    query: sa.Select, column: sa.orm.QueryableAttribute[int]
) -> tuple[float | None, float | None]:
    """Mean and median of `column` over `query`'s rows, in the database (portable: the median
    is read with ORDER BY … LIMIT/OFFSET, as SQLite has no percentile function)."""
    sub = query.with_only_columns(column.label("value")).subquery()
    count, mean = db.session.execute(sa.select(sa.func.count(), sa.func.avg(sub.c.value))).one()
    if not count:
        return None, None
    middle = db.session.scalars(
        sa.select(sub.c.value)
        .order_by(sub.c.value)
        .offset((count - 1) // 2)
        .limit(2 if count % 2 == 0 else 1)
    ).all()
    return round(float(mean), 1), float(sum(middle)) / len(middle)


# --- phone, lösningsgrad, callbacks -----------------------------------------------------------


@dataclass
class PhoneMeasures:
    contacts: int = 0
    outcomes: dict[Outcome, int] = field(default_factory=dict)
    open_without_outcome: int = 0

    @property
    def direct_answer_share(self) -> float | None:
        return share(self.outcomes.get(Outcome.ANSWERED, 0), self.contacts)

    def share_of(self, outcome: Outcome) -> float | None:
        return share(self.outcomes.get(outcome, 0), self.contacts)


def phone_measures(filters: ReportFilters, period: Period | None = None) -> PhoneMeasures:
    rows = db.session.execute(
        sa.select(Case.outcome, sa.func.count())
        .where(*case_filters(filters, period), Case.channel == Channel.PHONE)
        .group_by(Case.outcome)
    ).all()
    measures = PhoneMeasures(outcomes={outcome: 0 for outcome in Outcome})
    for outcome, count in rows:
        measures.contacts += count
        if outcome is None:
            measures.open_without_outcome += count
        else:
            measures.outcomes[outcome] = count
    return measures


@dataclass
class ResolutionRow:
    case_type_id: int | None
    name: str
    contacts: int
    resolved: int

    @property
    def rate(self) -> float | None:
        return share(self.resolved, self.contacts)


def resolution(filters: ReportFilters, period: Period | None = None) -> list[ResolutionRow]:
    """Lösningsgrad per case type, largest first; the first row is the total."""
    rows = db.session.execute(
        sa.select(
            Case.case_type_id,
            CaseType.name,
            sa.func.count(),
            sa.func.count().filter(Case.outcome.in_(RESOLVED)),
        )
        .outerjoin(CaseType, CaseType.id == Case.case_type_id)
        .where(*case_filters(filters, period))
        .group_by(Case.case_type_id, CaseType.name)
        .order_by(sa.func.count().desc(), CaseType.name)
    ).all()
    per_type = [ResolutionRow(tid, name or "Ingen ärendetyp", n, r) for tid, name, n, r in rows]
    total = ResolutionRow(
        None, "Alla kontakter", sum(r.contacts for r in per_type), sum(r.resolved for r in per_type)
    )
    return [total, *per_type]


@dataclass
class CallbackMeasures:
    booked: int = 0
    done_within_goal: int = 0
    done_late: int = 0
    overdue: int = 0  # not done, promised time passed
    waiting: int = 0  # not done, still in time

    @property
    def share_within_goal(self) -> float | None:
        return share(self.done_within_goal, self.booked - self.waiting)


def callback_measures(filters: ReportFilters, period: Period | None = None) -> CallbackMeasures:
    due, done = Case.callback_due_at, Case.callback_done_at
    now = utcnow()
    row = db.session.execute(
        sa.select(
            sa.func.count(),
            sa.func.count().filter(done <= due),
            sa.func.count().filter(done > due),
            sa.func.count().filter(done.is_(None), due < now),
            sa.func.count().filter(done.is_(None), due >= now),
        ).where(*case_filters(filters, period), due.is_not(None))
    ).one()
    return CallbackMeasures(*row)
