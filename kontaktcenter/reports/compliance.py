"""Service-goal compliance for a period: per target, and per target by department, case type
and channel; the breaches, with links to their cases; the second line per department."""

from __future__ import annotations

from dataclasses import dataclass

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


GROUPS = {"department": "Kontaktcenter", "case_type": "Ingen ärendetyp", "channel": ""}


def compliance_all(
    filters: ReportFilters, period: Period | None = None
) -> tuple[list[Compliance], dict[str, list[Compliance]]]:
    """Per target, and per target by department, case type and channel: one grouped query
    (by target, department, case type and channel), summed here for each view."""
    now = utcnow()
    rows = db.session.execute(
        sa.select(CaseGoal.target, Department.name, CaseType.name, Case.channel, *_counts(now))
        .join(Case, Case.id == CaseGoal.case_id)
        .outerjoin(Department, Department.id == Case.department_id)
        .outerjoin(CaseType, CaseType.id == Case.case_type_id)
        .where(*case_filters(filters, period), CaseGoal.cancelled_at.is_(None))
        .group_by(CaseGoal.target, Department.name, CaseType.name, Case.channel)
    ).all()
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
            for i, count in enumerate(counts):
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
