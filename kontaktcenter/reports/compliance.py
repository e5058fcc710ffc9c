"""Service-goal compliance for a period: per target, and per target by department, case type
and channel; the breaches, with links to their cases; the second line per department."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from kontaktcenter.cases.enums import ActivityKind, Channel
from kontaktcenter.cases.models import Activity, Case
from kontaktcenter.core.extensions import db, utcnow
from kontaktcenter.goals.models import CaseGoal, GoalTarget
from kontaktcenter.organisation.models import CaseType, Department
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


def compliance(
    filters: ReportFilters, by: str | None = None, period: Period | None = None
) -> list[Compliance]:
    """Per target, or per target and `by` ("department", "case_type", "channel")."""
    now = utcnow()
    group: list[sa.orm.QueryableAttribute[Any]] = [CaseGoal.target]
    query = sa.select(CaseGoal.target)
    fallback = ""
    if by == "department":
        query, fallback = query.add_columns(Department.name), "Kontaktcenter"
        group.append(Department.name)
    elif by == "case_type":
        query, fallback = query.add_columns(CaseType.name), "Ingen ärendetyp"
        group.append(CaseType.name)
    elif by == "channel":
        query = query.add_columns(Case.channel)
        group.append(Case.channel)
    else:
        query = query.add_columns(sa.null())
    rows = db.session.execute(
        query.add_columns(*_counts(now))
        .join(Case, Case.id == CaseGoal.case_id)
        .outerjoin(Department, Department.id == Case.department_id)
        .outerjoin(CaseType, CaseType.id == Case.case_type_id)
        .where(*case_filters(filters, period), CaseGoal.cancelled_at.is_(None))
        .group_by(*group)
        .order_by(*group)
    ).all()
    return [
        Compliance(
            target,
            label.label if isinstance(label, Channel) else (label or fallback),
            in_time,
            late,
            missed,
            running,
        )
        for target, label, in_time, late, missed, running in rows
    ]


def breaches(filters: ReportFilters) -> list[CaseGoal]:
    """Goals of the period's cases that passed their due time unmet (or were met late)."""
    return list(
        db.session.scalars(
            sa.select(CaseGoal)
            .join(Case, Case.id == CaseGoal.case_id)
            .where(
                *case_filters(filters),
                CaseGoal.cancelled_at.is_(None),
                CaseGoal.breached_at.is_not(None),
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


def second_line(filters: ReportFilters) -> list[SecondLine]:
    """Per department: cases routed to it, how many got återkoppling (the second-line goal)
    in time, and forwarding chains (cases routed more than once)."""
    now = utcnow()
    goal = sa.orm.aliased(CaseGoal)
    routings = (
        sa.select(Activity.case_id, sa.func.count().label("n"))
        .where(Activity.kind == ActivityKind.ROUTED)
        .group_by(Activity.case_id)
        .subquery()
    )
    rows = db.session.execute(
        sa.select(
            Department.name,
            sa.func.count(sa.distinct(Case.id)),
            sa.func.count(sa.distinct(goal.id)).filter(goal.met_at <= goal.due_at),
            sa.func.count(sa.distinct(goal.id)).filter(
                (goal.met_at > goal.due_at) | (goal.met_at.is_(None) & (goal.due_at < now))
            ),
            sa.func.count(sa.distinct(Case.id)).filter(routings.c.n > 1),
            sa.func.avg(goal.business_minutes).filter(goal.met_at.is_not(None)),
        )
        .join(Department, Department.id == Case.department_id)
        .outerjoin(
            goal,
            (goal.case_id == Case.id)
            & (goal.target == GoalTarget.SECOND_LINE)
            & goal.cancelled_at.is_(None),
        )
        .outerjoin(routings, routings.c.case_id == Case.id)
        .where(*case_filters(filters))
        .group_by(Department.name)
        .order_by(Department.name)
    ).all()
    return [
        SecondLine(name, routed, in_time, late, chains, None if mean is None else float(mean))
        for name, routed, in_time, late, chains, mean in rows
    ]
