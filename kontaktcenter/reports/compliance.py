"""Service-goal compliance for a period: per target, and per target by department, case type
and channel; the breaches, with links to their cases; the second line per department."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from kontaktcenter.cases.enums import ActivityKind, Channel
from kontaktcenter.cases.models import Activity, Case
from kontaktcenter.core.extensions import db, utcnow
from kontaktcenter.goals.models import CaseGoal, GoalTarget
from kontaktcenter.organisation.models import CaseType, Department
from kontaktcenter.reports import aggregates
from kontaktcenter.reports.periods import Period, ReportFilters
from kontaktcenter.reports.service import case_filters, share

BREACH_LIST_MAX = 100


@dataclass
class Compliance:
    target: GoalTarget
    group: str  # "" for the target's total, else the department / case type / channel
    in_time: int
    late: int
    missed: int  # passed without being met, still open
    running: int

    @property
    def judged(self) -> int:
        return self.in_time + self.late + self.missed

    @property
    def rate(self) -> float | None:
        return share(self.in_time, self.judged)


def _counts(now):
    met, due = CaseGoal.met_at, CaseGoal.due_at
    return (
        sa.func.count().filter(met <= due),
        sa.func.count().filter(met > due),
        sa.func.count().filter(met.is_(None), due < now),
        sa.func.count().filter(met.is_(None), due >= now),
    )


GROUPS = {"department": "Kontaktcenter", "case_type": "Ingen ärendetyp", "channel": ""}


IdRange = tuple[int, int]  # the least and greatest id of the period's cases


def goal_rows(
    filters: ReportFilters, period: Period | None = None, ids: IdRange | None = None
) -> list[tuple]:
    """The goals of the period's cases (not cancelled) grouped by target, department, case
    type and channel – a few hundred rows – with the four counts of :class:`Compliance` and,
    for the second line's mean, the sum and count of the met goals' business minutes; the
    department and case type as names (None: none).

    Grouped by ids (the names are looked up here: no join, no text to hash per goal). `ids`,
    the id range of the cases the report's first statement counted, narrows the goals before
    the join (exact: it holds every case of the period; ids grow with the time received, so
    for a year of three it leaves about a third of the goals to join)."""
    now = utcnow()
    period = period or filters.period
    usable = aggregates.usable_ranges(period, now)
    rows = aggregates.goal_rows(filters, usable)
    live = aggregates.other_ranges(period, usable)
    if live:
        rows += _live_goal_rows(filters, period, ids, now, live if usable else None)
    departments = dict(db.session.execute(sa.select(Department.id, Department.name)).all())
    case_types = dict(db.session.execute(sa.select(CaseType.id, CaseType.name)).all())
    return [
        (target, departments.get(department), case_types.get(case_type), channel, *counts)
        for target, department, case_type, channel, *counts in rows
    ]


def _live_goal_rows(
    filters: ReportFilters,
    period: Period,
    ids: IdRange | None,
    now: datetime,
    only: list[Period] | None,
) -> list[tuple]:
    """:func:`goal_rows` counted from the goals (with `only`, of the cases of those days)."""
    met = CaseGoal.met_at.is_not(None)
    where = [*case_filters(filters, period), CaseGoal.cancelled_at.is_(None)]
    if only is not None:
        received = Case.received_at
        where.append(sa.or_(*[(received >= r.start) & (received < r.end) for r in only]))
    if ids is not None:
        where.append(CaseGoal.case_id.between(*ids))
    group = (CaseGoal.target, Case.department_id, Case.case_type_id, Case.channel)
    return [
        tuple(row)
        for row in db.session.execute(
            sa.select(
                *group,
                *_counts(now),
                sa.func.sum(CaseGoal.business_minutes).filter(met),
                sa.func.count(CaseGoal.business_minutes).filter(met),
            )
            .join(Case, Case.id == CaseGoal.case_id)
            .where(*where)
            .group_by(*group)
        ).all()
    ]


def compliance_all(
    filters: ReportFilters, period: Period | None = None, rows: list[tuple] | None = None
) -> tuple[list[Compliance], dict[str, list[Compliance]]]:
    """Per target, and per target by department, case type and channel: one grouped query
    (:func:`goal_rows`, or its `rows` when the caller has them), summed here for each view."""
    if rows is None:
        rows = goal_rows(filters, period)
    sums: dict[str, dict[tuple[GoalTarget, str], list[int]]] = {by: {} for by in ("", *GROUPS)}
    for target, department, case_type, channel, *counts in rows:
        labels = {
            "": "",
            "department": department or GROUPS["department"],
            "case_type": case_type or GROUPS["case_type"],
            "channel": channel.label if isinstance(channel, Channel) else str(channel),
        }
        for by, label in labels.items():
            total = sums[by].setdefault((target, label), [0, 0, 0, 0])
            for i, count in enumerate(counts[:4]):
                total[i] += count

    def rows_of(by: str) -> list[Compliance]:
        return [
            Compliance(target, label, *totals)
            for (target, label), totals in sorted(
                sums[by].items(), key=lambda item: (item[0][0].value, item[0][1])
            )
        ]

    return rows_of(""), {by: rows_of(by) for by in GROUPS}


def compliance(
    filters: ReportFilters, by: str | None = None, period: Period | None = None
) -> list[Compliance]:
    """Per target, or per target and `by` ("department", "case_type", "channel")."""
    total, grouped = compliance_all(filters, period)
    return total if by is None else grouped[by]


def breaches(filters: ReportFilters, ids: IdRange | None = None) -> list[CaseGoal]:
    """Goals of the period's cases that passed their due time unmet (or were met late)."""
    narrow = [] if ids is None else [CaseGoal.case_id.between(*ids)]
    return list(
        db.session.scalars(
            sa.select(CaseGoal)
            .join(Case, Case.id == CaseGoal.case_id)
            .where(
                *case_filters(filters),
                CaseGoal.cancelled_at.is_(None),
                CaseGoal.breached_at.is_not(None),
                *narrow,
            )
            .options(sa.orm.contains_eager(CaseGoal.case))
            .order_by(CaseGoal.due_at.desc())
            .limit(BREACH_LIST_MAX)
        )
    )


@dataclass
class SecondLine:
    department: str
    routed: int
    in_time: int  # the department acted within its second-line goal
    late_or_missed: int
    forwarded_more_than_once: int
    mean_minutes: float | None  # time until the department took it on, in the goal's clock

    @property
    def rate(self) -> float | None:
        return share(self.in_time, self.in_time + self.late_or_missed)


def second_line(
    filters: ReportFilters,
    rows: list[tuple] | None = None,
    per_department: dict[str, int] | None = None,
    ids: IdRange | None = None,
) -> list[SecondLine]:
    """Per department: cases routed to it (every case of the period it holds), how many got
    återkoppling (the second-line goal) in time, and forwarding chains (cases routed more than
    once). The goal counts come from :func:`goal_rows` and the cases per department from
    ``period_counts`` when the caller has them (the full report), so only the chains are
    counted here; the order is the departments' by name, as the database sorts them."""
    if rows is None:
        rows = goal_rows(filters)
    if per_department is None:
        per_department = dict(
            db.session.execute(
                sa.select(Department.name, sa.func.count())
                .select_from(Case)
                .join(Department, Department.id == Case.department_id)
                .where(*case_filters(filters))
                .group_by(Department.name)
                .order_by(Department.name)
            ).all()
        )
    goals: dict[str, list[int]] = {}
    for target, department, _case_type, _channel, in_time, late, missed, _run, total, n in rows:
        if target == GoalTarget.SECOND_LINE and department is not None:
            sums = goals.setdefault(department, [0, 0, 0, 0])
            for i, value in enumerate((in_time, late + missed, total or 0, n)):
                sums[i] += value
    routings = [Activity.kind == ActivityKind.ROUTED]
    if ids is not None:
        routings.append(Activity.case_id.between(*ids))
    chained = (
        sa.select(Activity.case_id)
        .where(*routings)
        .group_by(Activity.case_id)
        .having(sa.func.count() > 1)
        .subquery()
    )
    chains = dict(
        db.session.execute(
            sa.select(Department.name, sa.func.count())
            .select_from(Case)
            .join(chained, chained.c.case_id == Case.id)
            .join(Department, Department.id == Case.department_id)
            .where(*case_filters(filters))
            .group_by(Department.name)
        ).all()
    )
    result = []
    for name, routed in per_department.items():
        in_time, late, minutes, met = goals.get(name, [0, 0, 0, 0])
        mean = minutes / met if met else None
        result.append(SecondLine(name, routed, in_time, late, chains.get(name, 0), mean))
    return result
