"""Volumes: contacts per channel per day, week and month, per weekday × hour (for staffing),
the top case types, routings and handoffs per department, and the open backlog by age.

The database counts per channel and UTC hour (at most 24 × 366 rows for a year); those counts
are then placed on local days and hours here, which is exact across daylight saving time and
needs no time-zone support in the database (SQLite has none). The full report takes the top
case types and the routings and handoffs from :mod:`period_counts` (the same numbers, checked
by a test against :func:`top_case_types` and :func:`forwarded_per_department`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta

import sqlalchemy as sa

from kontaktcenter.cases.enums import CaseStatus, Channel, Outcome
from kontaktcenter.cases.models import Case
from kontaktcenter.core.extensions import db, utcnow
from kontaktcenter.core.roles import Role
from kontaktcenter.organisation.models import CaseType, Department, User
from kontaktcenter.reports import aggregates
from kontaktcenter.reports.periods import ReportFilters
from kontaktcenter.reports.service import case_filters, share

TOP_CASE_TYPES = 10
AGE_BUCKETS = ((1, "under 1 dygn"), (3, "1–2 dygn"), (6, "3–5 dygn"), (11, "6–10 dygn"))
OLDEST = "över 10 dygn"


@dataclass
class Volumes:
    channels: list[Channel]
    per_day: dict[date, Counter[Channel]] = field(default_factory=dict)
    heatmap: list[list[int]] = field(default_factory=lambda: [[0] * 24 for _ in range(7)])

    def total(self, channel: Channel | None = None) -> int:
        return sum(c[channel] if channel else sum(c.values()) for c in self.per_day.values())

    def per_week(self) -> list[tuple[str, Counter[Channel]]]:
        return self._grouped(lambda d: "v. {1:02d} {0}".format(*d.isocalendar()))

    def per_month(self) -> list[tuple[str, Counter[Channel]]]:
        return self._grouped(lambda d: f"{d.year}-{d.month:02d}")

    def _grouped(self, key) -> list[tuple[str, Counter[Channel]]]:
        groups: dict[str, Counter[Channel]] = {}
        for day, counts in sorted(self.per_day.items()):
            groups.setdefault(key(day), Counter()).update(counts)
        return list(groups.items())

    @property
    def busiest(self) -> int:
        return max((n for row in self.heatmap for n in row), default=0)


def volumes(filters: ReportFilters) -> Volumes:
    """Counted per channel and hour: finished days from the stored counts when the report is
    not filtered by department or case type (:mod:`aggregates`), the others live."""
    result = Volumes(channels=[filters.channel] if filters.channel else list(Channel))
    for day in filters.period.dates():
        result.per_day[day] = Counter({channel: 0 for channel in result.channels})
    period = filters.period
    usable = aggregates.usable_ranges(period) if aggregates.hours_stored_for(filters) else []
    for day, channel, hour, count in aggregates.hour_rows(filters, usable):
        result.per_day.setdefault(day, Counter())[channel] += count
        result.heatmap[day.weekday()][hour] += count
    live = aggregates.other_ranges(period, usable)
    if not live:
        return result
    hour = aggregates.hour_expression().label("hour")
    where = case_filters(filters)
    if usable:
        received = Case.received_at
        where.append(sa.or_(*[(received >= r.start) & (received < r.end) for r in live]))
    rows = db.session.execute(
        sa.select(Case.channel, hour, sa.func.count()).where(*where).group_by(Case.channel, hour)
    ).all()
    for channel, start, count in rows:
        at = aggregates.local_hour_start(start)
        result.per_day.setdefault(at.date(), Counter())[channel] += count
        result.heatmap[at.weekday()][at.hour] += count
    return result


def top_case_types(filters: ReportFilters) -> list[tuple[str, int]]:
    rows = db.session.execute(
        sa.select(CaseType.name, sa.func.count())
        .select_from(Case)
        .outerjoin(CaseType, CaseType.id == Case.case_type_id)
        .where(*case_filters(filters))
        .group_by(CaseType.name)
        .order_by(sa.func.count().desc(), CaseType.name)
        .limit(TOP_CASE_TYPES)
    ).all()
    return [(name or "Ingen ärendetyp", count) for name, count in rows]


def forwarded_per_department(filters: ReportFilters) -> list[tuple[str, int, int]]:
    """(department, routed to it, handed off to its direct numbers) for the period's cases."""
    rows = db.session.execute(
        sa.select(
            Department.name,
            sa.func.count().filter(Case.outcome == Outcome.ROUTED),
            sa.func.count().filter(Case.outcome == Outcome.HANDED_OFF),
        )
        .join(Department, Department.id == Case.department_id)
        .where(*case_filters(filters), Case.outcome.in_((Outcome.ROUTED, Outcome.HANDED_OFF)))
        .group_by(Department.name)
        .order_by(Department.name)
    ).all()
    return [(name, routed, handed) for name, routed, handed in rows]


def backlog(filters: ReportFilters) -> list[tuple[str, int]]:
    """Open cases now by age (the period does not apply; the other filters do)."""
    now = utcnow()
    buckets = [
        (label, Case.received_at > now - timedelta(days=days)) for days, label in AGE_BUCKETS
    ]
    age = sa.case(*[(cond, label) for label, cond in buckets], else_=OLDEST).label("age")
    rows: dict[str, int] = dict(
        db.session.execute(
            sa.select(age, sa.func.count())
            # `status <> 'closed'` (the same cases as OPEN_STATUSES) is the predicate of the
            # queue's partial indexes: an index-only scan of ix_cases_queue's received_at.
            .where(*case_filters(filters, dated=False), Case.status != CaseStatus.CLOSED)
            .group_by(age)
        ).all()
    )
    return [(label, rows.get(label, 0)) for _days, label in AGE_BUCKETS] + [
        (OLDEST, rows.get(OLDEST, 0))
    ]


@dataclass
class AgentRow:
    name: str
    contacts: int
    answered: int
    handed_off: int
    routed: int
    callbacks: int
    referred: int

    @property
    def direct_answer_share(self) -> float | None:
        return share(self.answered, self.contacts)


def per_agent(filters: ReportFilters) -> list[AgentRow]:
    """Contacts each agent logged in the period and how they ended at the first line. Shown only
    where the municipality has agreed to it (REPORTS_PER_AGENT) and only to managers."""
    counts = [sa.func.count().filter(Case.outcome == outcome) for outcome in AGENT_OUTCOMES]
    rows = db.session.execute(
        sa.select(User.name, sa.func.count(), *counts)
        .join(User, User.id == Case.created_by_id)
        .where(*case_filters(filters), User.role == Role.AGENT)
        .group_by(User.id, User.name)
        .order_by(User.name)
    ).all()
    return [AgentRow(r[0], r[1], r[2], r[3], r[4], r[5], r[6]) for r in rows]


AGENT_OUTCOMES = (
    Outcome.ANSWERED,
    Outcome.HANDED_OFF,
    Outcome.ROUTED,
    Outcome.CALLBACK,
    Outcome.REFERRED,
)
