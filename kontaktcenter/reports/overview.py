"""The manager's overview (the wallboard): open work and overdue promises now, in total and per
department, and who is available. Each count uses the queue's own conditions
(cases.queries.urgency_clause), so each number links to the queue filtered to exactly those
cases."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from time import monotonic
from typing import TypeVar, cast

import sqlalchemy as sa
from flask import current_app

from kontaktcenter.cases.enums import CaseStatus, Channel
from kontaktcenter.cases.models import Case
from kontaktcenter.cases.queries import urgency_clause
from kontaktcenter.core.extensions import db, utcnow
from kontaktcenter.distribution import assignment
from kontaktcenter.distribution.models import AgentPresence, AgentStatus
from kontaktcenter.organisation.models import Department, User
from kontaktcenter.reports.periods import local_date, local_midnight

T = TypeVar("T")


@dataclass
class DepartmentLoad:
    name: str
    department_id: int | None
    open: int
    unassigned: int
    overdue: int
    callbacks_pending: int
    callbacks_overdue: int


def department_load() -> list[DepartmentLoad]:
    """One grouped query over the open cases (served by the partial queue indexes)."""
    now = utcnow()
    pending = Case.callback_due_at.is_not(None) & Case.callback_done_at.is_(None)
    rows = db.session.execute(
        sa.select(
            Case.department_id,
            sa.func.count(),
            sa.func.count().filter(Case.assignee_id.is_(None)),
            sa.func.count().filter(urgency_clause("overdue", now)),
            sa.func.count().filter(pending),
            sa.func.count().filter(urgency_clause("callback_overdue", now)),
        )
        .where(Case.status != CaseStatus.CLOSED)
        .group_by(Case.department_id)
    ).all()
    by_id = {row[0]: row[1:] for row in rows}
    departments = db.session.scalars(sa.select(Department).order_by(Department.name)).all()
    result = [DepartmentLoad("Kontaktcenter (första linjen)", None, *by_id.get(None, (0,) * 5))]
    for dept in departments:
        if dept.active or dept.id in by_id:
            result.append(DepartmentLoad(dept.name, dept.id, *by_id.get(dept.id, (0,) * 5)))
    return result


@dataclass
class AgentRow:
    name: str
    since: datetime | None  # None: signed in, no status set
    load: int  # open cases assigned + pending callbacks assigned


@dataclass
class AgentGroup:
    status: AgentStatus
    agents: list[AgentRow]


def availability(now: datetime) -> list[AgentGroup]:
    """Who is available ("Vem är tillgänglig"): the agents with a status, per status, with
    their load and since when. An agent not seen within the presence window counts as signed
    out (their browser closed), since their last request."""
    rows = db.session.execute(
        sa.select(
            User.id, User.name, AgentPresence.status, AgentPresence.since, AgentPresence.seen_at
        )
        .join(AgentPresence, AgentPresence.user_id == User.id)
        .where(User.active.is_(True), User.role.in_(assignment.AGENT_ROLES))
        .order_by(AgentPresence.since, User.name, User.id)
    ).all()
    load = assignment.loads(row.id for row in rows)
    cutoff = assignment.presence_cutoff(now)
    groups = {status: AgentGroup(status, []) for status in AgentStatus}
    for user_id, name, status, since, seen_at in rows:
        shown: datetime | None = since
        if status != AgentStatus.SIGNED_OUT and (seen_at is None or seen_at < cutoff):
            status, shown = AgentStatus.SIGNED_OUT, seen_at
        groups[status].agents.append(AgentRow(name, shown, load[user_id]))
    return list(groups.values())


@dataclass
class Board:
    """The floor's numbers right now (the wallboard), for everything or one department."""

    open_by_channel: dict[Channel, int]
    callbacks_waiting: int
    callbacks_overdue: int
    at_risk: int
    overdue: int
    received_today: int
    closed_today: int
    oldest_unanswered_email: Case | None
    computed_at: datetime
    agents: list[AgentGroup]


def board(department_id: int | None = None) -> Board:
    """Open work now: one grouped query over the open cases (the partial indexes), two counts
    for today, and the oldest e-mail still waiting for its first answer."""
    now = utcnow()
    scope = [] if department_id is None else [Case.department_id == department_id]
    pending = Case.callback_due_at.is_not(None) & Case.callback_done_at.is_(None)
    rows = db.session.execute(
        sa.select(
            Case.channel,
            sa.func.count(),
            sa.func.count().filter(pending),
            sa.func.count().filter(urgency_clause("callback_overdue", now)),
            sa.func.count().filter(urgency_clause("at_risk", now)),
            sa.func.count().filter(urgency_clause("overdue", now)),
        )
        .where(Case.status != CaseStatus.CLOSED, *scope)
        .group_by(Case.channel)
    ).all()
    by_channel = {channel: 0 for channel in Channel}
    totals = [0, 0, 0, 0]
    for channel, count, *rest in rows:
        by_channel[channel] = count
        totals = [a + b for a, b in zip(totals, rest, strict=True)]
    midnight = local_midnight(local_date(now))
    received, closed = db.session.execute(
        sa.select(
            sa.select(sa.func.count())
            .where(Case.received_at >= midnight, *scope)
            .scalar_subquery(),
            sa.select(sa.func.count()).where(Case.closed_at >= midnight, *scope).scalar_subquery(),
        )
    ).one()
    oldest = db.session.scalars(
        sa.select(Case)
        .where(
            Case.status != CaseStatus.CLOSED,
            Case.channel == Channel.EMAIL,
            Case.first_response_at.is_(None),
            *scope,
        )
        .order_by(Case.received_at, Case.id)
        .limit(1)
    ).first()
    callbacks_waiting, callbacks_overdue, at_risk, overdue = totals
    return Board(
        open_by_channel=by_channel,
        callbacks_waiting=callbacks_waiting,
        callbacks_overdue=callbacks_overdue,
        at_risk=at_risk,
        overdue=overdue,
        received_today=received,
        closed_today=closed,
        oldest_unanswered_email=oldest,
        computed_at=now,
        agents=availability(now) if department_id is None else [],
    )


_cache: dict[tuple[str, int | None], tuple[float, object]] = {}


def cached(name: str, department_id: int | None, compute: Callable[[], T]) -> T:
    """`compute()`, shared by the process's requests for OVERVIEW_CACHE_SECONDS (0: always
    computed). The board is read by many viewers at once and may be a few seconds old; it says
    when it was computed."""
    ttl = current_app.config["OVERVIEW_CACHE_SECONDS"]
    key = (name, department_id)
    hit = _cache.get(key)
    if ttl and hit is not None and monotonic() - hit[0] < ttl:
        return cast(T, hit[1])
    value = compute()
    if ttl:
        _cache[key] = (monotonic(), value)
    return value
