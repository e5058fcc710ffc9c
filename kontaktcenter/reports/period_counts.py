"""The measures that need only the cases, for a period and the one before it, in one pass.

E-mail deadlines, phone outcomes, callbacks, lösningsgrad, the top case types, routings and
handoffs per department and the cases per department all count the period's cases by a few of
their columns. Each of them alone is a scan of the period (a year is a third of `cases` at 1M),
so the report asks once: the cases grouped by (period, channel, outcome, case type,
department) with the e-mail-deadline and callback counts as ``FILTER``s – a few hundred rows
– and sums the measures from those rows here; a period and the one before it are one
statement. The e-mail deadlines come per local day on PostgreSQL and per UTC hour on SQLite
(which has no time zones), as bind parameters (see :func:`_deadlines_by_day`).

The definitions are the per-measure functions in :mod:`service` and :mod:`volumes`; a test
checks that both give the same numbers, and orders the same way (names sorted by the
database's collation, NULL where each backend puts it).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.sql.expression import Grouping

from kontaktcenter.cases.enums import Channel, Outcome
from kontaktcenter.cases.models import Case
from kontaktcenter.core.extensions import UTCDateTime, db, utcnow
from kontaktcenter.organisation.models import CaseType, Department
from kontaktcenter.reports import aggregates
from kontaktcenter.reports.models import ResponseTime
from kontaktcenter.reports.periods import TZ, Period, ReportFilters
from kontaktcenter.reports.service import (
    RESOLVED,
    CallbackMeasures,
    EmailMeasures,
    PhoneMeasures,
    ResolutionRow,
    _mean_median,
    answer_deadlines,
    case_filters,
    utc_hour,
)

TOP_CASE_TYPES = 10
NO_CASE_TYPE = "Ingen ärendetyp"


@dataclass
class PeriodCounts:
    email: EmailMeasures
    phone: PhoneMeasures
    callbacks: CallbackMeasures
    resolution: list[ResolutionRow]  # the total first, then per case type, largest first
    top_case_types: list[tuple[str, int]]
    forwarded: list[tuple[str, int, int]]  # (department, routed, handed off), by name
    per_department: dict[str, int] = field(default_factory=dict)  # cases with a department
    # The least and greatest id of the cases counted (None: none). Later statements about the
    # same cases (goals, forwarding chains, response times) narrow their other table to it.
    ids: tuple[int, int] | None = None


def postgres() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def without_jit() -> None:
    """Switch PostgreSQL's JIT off for the rest of the transaction: the planner's costs for
    these aggregates over a year cross `jit_above_cost`, and compiling them took 80 ms to 1.7 s
    (measured on the 1M set) for statements that run in 100–400 ms."""
    if postgres():
        db.session.execute(sa.text("SET LOCAL jit = off"))


def period_counts(filters: ReportFilters, periods: Sequence[Period]) -> list[PeriodCounts]:
    """The counts for each of `periods` (disjoint; in practice a period and the one before)."""
    now = utcnow()
    if len(periods) == 2 and periods[1].end == periods[0].start:
        rows = _counted(filters, periods, now)
    else:
        rows = [
            (i, *row[1:])
            for i, period in enumerate(periods)
            for row in _counted(filters, [period], now)
        ]
    departments = dict(db.session.execute(sa.select(Department.id, Department.name)).all())
    case_types = dict(db.session.execute(sa.select(CaseType.id, CaseType.name)).all())
    name_rank = _name_ranks()
    emails = [row for row in rows if row[1] == Channel.EMAIL]
    mean_medians = response_times(filters, periods, _id_range([row[-2:] for row in emails]))
    results = []
    for i in range(len(periods)):
        mine = [row for row in rows if row[0] == i]
        counts = _sum([row[1:-2] for row in mine], departments, case_types, name_rank)
        counts.ids = _id_range([row[-2:] for row in mine])
        (
            counts.email.mean_office_minutes,
            counts.email.median_office_minutes,
            counts.email.mean_calendar_minutes,
            counts.email.median_calendar_minutes,
        ) = mean_medians[i]
        results.append(counts)
    return results


def _counted(filters: ReportFilters, periods: Sequence[Period], now) -> list:
    """The rows of :func:`_rows` for `periods`: the days counted in advance from their stored
    counts (:mod:`aggregates`), the others from the cases."""
    span = Period(min(p.first for p in periods), max(p.last for p in periods))
    usable = aggregates.usable_ranges(span, now)
    rows = aggregates.case_rows(filters, periods, usable)
    live = aggregates.other_ranges(span, usable)
    if live:
        rows += _rows(filters, periods, now, live if usable else None)
    return rows


def _rows(
    filters: ReportFilters, periods: Sequence[Period], now, only: Sequence[Period] | None = None
) -> list:
    """One statement: the cases of `periods` (one, or two adjacent ones, the later first)
    grouped by (index of the period, channel, outcome, case type, department); with `only`,
    just the cases received on those days."""
    received = Case.received_at
    statement = sa.select().select_from(Case)
    days = (
        []
        if only is None
        else [sa.or_(*[(received >= r.start) & (received < r.end) for r in only])]
    )
    if postgres():
        due_1, due_2 = _deadlines_by_day(periods)
    else:
        hours = _deadlines_by_hour(periods)
        email_hour = sa.case((Case.channel == Channel.EMAIL, utc_hour(received)))
        statement = statement.outerjoin(hours, email_hour == hours.c.key)
        due_1, due_2 = hours.c.due_1, hours.c.due_2
    answered, due, done = Case.first_response_at, Case.callback_due_at, Case.callback_done_at
    # The earlier period is the second; a boolean (the planner counts 2 groups for it).
    earlier = (received < periods[0].start).label("earlier") if len(periods) == 2 else None
    group: list[sa.ColumnElement | sa.orm.QueryableAttribute] = [
        Case.channel,
        Case.outcome,
        Case.case_type_id,
        Case.department_id,
    ]
    if earlier is not None:
        group.insert(0, earlier)
    statement = (
        statement.add_columns(
            *group,
            sa.func.count(),
            sa.func.count().filter(answered <= due_1),
            sa.func.count().filter(answered <= due_2),
            sa.func.count().filter(answered.is_(None), due_1 >= now),
            sa.func.count().filter(answered.is_(None), due_2 >= now),
            sa.func.count().filter(due.is_not(None)),
            sa.func.count().filter(done <= due),
            sa.func.count().filter(done > due),
            sa.func.count().filter(done.is_(None), due < now),
            sa.func.count().filter(done.is_(None), due >= now),
            sa.func.min(Case.id),
            sa.func.max(Case.id),
        )
        .where(
            *case_filters(filters, dated=False),
            received >= min(p.start for p in periods),
            received < max(p.end for p in periods),
            *days,
        )
        .group_by(*group)
    )
    rows = db.session.execute(statement).all()
    if earlier is None:
        return [(0, *row) for row in rows]
    return [(1 if row[0] else 0, *row[1:]) for row in rows]


# The e-mail deadlines reach the statement as bind parameters, not as a VALUES list of three
# per day or hour, which SQLAlchemy compiles anew for every report (the values are part of
# the SQL: 0.1 s for the 730 days of a year and the year before on PostgreSQL, 1.8 s for the
# 8,760 hours of one year on SQLite); so the statement is compiled once and cached.


def _deadlines_by_day(periods: Sequence[Period]) -> tuple[sa.ColumnElement, sa.ColumnElement]:
    """PostgreSQL: each e-mail's deadlines read from two arrays (one element per local day
    from the first day of the periods to the last; they are one period or two adjacent ones)
    at its local date's position – no join (joined to an ``unnest`` of the days, the planner
    misjudged the join and sorted both sides for a merge join)."""
    span = Period(min(p.first for p in periods), max(p.last for p in periods))
    rows = answer_deadlines(span, per_hour=False)  # one per day, in order
    instants = postgresql.ARRAY(sa.DateTime(timezone=True))
    local = sa.cast(sa.func.timezone(TZ.key, Case.received_at), sa.Date)
    first = sa.bindparam("answer_first_day", span.first, type_=sa.Date)
    position = sa.cast(local - first, sa.Integer) + 1
    email = Case.channel == Channel.EMAIL

    def array(name: str, values: list[datetime]) -> sa.ColumnElement:
        # parenthesised, "(%(name)s::TIMESTAMP WITH TIME ZONE[])[…]": a cast cannot be indexed
        return Grouping(sa.bindparam(name, values, instants))

    return (
        sa.case((email, array("answer_due_1", [r[1] for r in rows])[position])),
        sa.case((email, array("answer_due_2", [r[2] for r in rows])[position])),
    )


def _deadlines_by_hour(periods: Sequence[Period]) -> sa.CTE:
    """SQLite (no time zones): (UTC hour, due_1, due_2) rows from one JSON array
    (``json_each``), the times in the text form SQLite stores them in, so they compare as the
    columns do."""
    dialect = db.session.get_bind().dialect
    stored = UTCDateTime().dialect_impl(dialect).bind_processor(dialect)
    assert stored is not None
    text: dict[datetime, str] = {}  # a day's 24 hours share their two deadlines

    def as_stored(at: datetime) -> str:
        if at not in text:
            text[at] = stored(at)
        return text[at]

    rows = [
        [hour, as_stored(due_1), as_stored(due_2)]
        for period in periods
        for hour, due_1, due_2 in answer_deadlines(period, per_hour=True)
    ]
    each = sa.func.json_each(
        sa.bindparam("answer_hours", json.dumps(rows), type_=sa.String)
    ).table_valued("value")
    return sa.select(
        sa.func.json_extract(each.c.value, "$[0]").label("key"),
        sa.type_coerce(sa.func.json_extract(each.c.value, "$[1]"), UTCDateTime()).label("due_1"),
        sa.type_coerce(sa.func.json_extract(each.c.value, "$[2]"), UTCDateTime()).label("due_2"),
    ).cte("answer_hours")


def _id_range(pairs: list) -> tuple[int, int] | None:
    if not pairs:
        return None
    return min(low for low, _high in pairs), max(high for _low, high in pairs)


def _name_ranks():
    """Sort keys for names as the database orders them (its collation; NULL last on
    PostgreSQL, first on SQLite), for the lists the per-measure queries order by name."""
    names = db.session.scalars(
        sa.select(CaseType.name).union(sa.select(Department.name)).order_by(sa.literal_column("1"))
    ).all()
    rank = {name: i for i, name in enumerate(names)}
    missing = len(rank) if postgres() else -1
    return lambda name: missing if name is None else rank.get(name, len(rank))


def _sum(rows, departments, case_types, name_rank) -> PeriodCounts:
    email, callbacks = EmailMeasures(), CallbackMeasures()
    phone = PhoneMeasures(outcomes={outcome: 0 for outcome in Outcome})
    per_type: dict[int | None, list[int]] = {}
    per_department: dict[str, int] = {}
    forwarded: dict[str, list[int]] = {}
    for channel, outcome, case_type_id, department_id, n, *more in rows:
        mail, callback = more[:4], more[4:]
        if channel == Channel.EMAIL:
            email.received += n
            email.answered_within_1_working_day += mail[0]
            email.answered_within_2_working_days += mail[1]
            email.still_within_1 += mail[2]
            email.still_within_2 += mail[3]
        if channel == Channel.PHONE:
            phone.contacts += n
            if outcome is None:
                phone.open_without_outcome += n
            else:
                phone.outcomes[outcome] += n
        callbacks.booked += callback[0]
        callbacks.done_within_goal += callback[1]
        callbacks.done_late += callback[2]
        callbacks.overdue += callback[3]
        callbacks.waiting += callback[4]
        counts = per_type.setdefault(case_type_id, [0, 0])
        counts[0] += n
        counts[1] += n if outcome in RESOLVED else 0
        if department_id is not None:
            name = departments[department_id]
            per_department[name] = per_department.get(name, 0) + n
            if outcome in (Outcome.ROUTED, Outcome.HANDED_OFF):
                pair = forwarded.setdefault(name, [0, 0])
                pair[0 if outcome == Outcome.ROUTED else 1] += n
    rows_by_type = [
        (type_id, case_types.get(type_id) if type_id is not None else None, n, resolved)
        for type_id, (n, resolved) in per_type.items()
    ]
    rows_by_type.sort(key=lambda row: (-row[2], name_rank(row[1])))
    resolution = [ResolutionRow(t, name or NO_CASE_TYPE, n, r) for t, name, n, r in rows_by_type]
    total = ResolutionRow(
        None,
        "Alla kontakter",
        sum(r.contacts for r in resolution),
        sum(r.resolved for r in resolution),
    )
    by_name: dict[str | None, int] = {}
    for _type_id, name, n, _resolved in rows_by_type:
        by_name[name] = by_name.get(name, 0) + n
    top = sorted(by_name.items(), key=lambda item: (-item[1], name_rank(item[0])))
    return PeriodCounts(
        email=email,
        phone=phone,
        callbacks=callbacks,
        resolution=[total, *resolution],
        top_case_types=[(name or NO_CASE_TYPE, n) for name, n in top[:TOP_CASE_TYPES]],
        forwarded=[
            (name, forwarded[name][0], forwarded[name][1])
            for name in sorted(forwarded, key=name_rank)
        ],
        per_department={
            name: per_department[name] for name in sorted(per_department, key=name_rank)
        },
    )


def response_times(
    filters: ReportFilters, periods: Sequence[Period], ids: tuple[int, int] | None = None
) -> list[tuple[float | None, float | None, float | None, float | None]]:
    """Mean and median first-response time of the periods' e-mails, office and calendar
    minutes. PostgreSQL: one statement with ``percentile_cont(0.5)`` (for an even count the
    mean of the two middle values, as the portable path computes); SQLite has no percentile
    function and reads the middle rows with ORDER BY/OFFSET (:func:`service._mean_median`)."""
    office, calendar = ResponseTime.office_minutes, ResponseTime.calendar_minutes
    if not postgres():
        results = []
        for period in periods:
            times = (
                sa.select(ResponseTime)
                .join(Case, Case.id == ResponseTime.case_id)
                .where(*case_filters(filters, period), Case.channel == Channel.EMAIL)
            )
            results.append((*_mean_median(times, office), *_mean_median(times, calendar)))
        return results
    narrow = [] if ids is None else [ResponseTime.case_id.between(*ids)]
    index = sa.case(
        *[
            ((Case.received_at >= p.start) & (Case.received_at < p.end), i)
            for i, p in enumerate(periods)
        ]
    ).label("period")

    def median(column: sa.orm.QueryableAttribute[int]) -> sa.ColumnElement[float]:
        return sa.func.percentile_cont(0.5).within_group(column)

    rows = db.session.execute(
        sa.select(
            index,
            sa.func.avg(office),
            median(office),
            sa.func.avg(calendar),
            median(calendar),
        )
        .join(Case, Case.id == ResponseTime.case_id)
        .where(
            *case_filters(filters, dated=False),
            Case.channel == Channel.EMAIL,
            *narrow,
            sa.or_(*[(Case.received_at >= p.start) & (Case.received_at < p.end) for p in periods]),
        )
        .group_by(index)
    ).all()
    found = {
        i: (round(float(mo), 1), float(mdo), round(float(mc), 1), float(mdc))
        for i, mo, mdo, mc, mdc in rows
    }
    return [found.get(i, (None, None, None, None)) for i in range(len(periods))]
