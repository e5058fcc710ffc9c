"""The periodic sweep: record goals that became at risk or breached, once each, and alert.

Runs every minute (RQ cron in production, a thread in the embedded default). Safe to run from
several processes at once: each record is a conditional UPDATE that only one of them wins, and
the alert jobs are enqueued only by the winner.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa

from kontaktcenter.cases.enums import CaseStatus
from kontaktcenter.cases.models import Case
from kontaktcenter.core import outbox
from kontaktcenter.core.extensions import db, utcnow
from kontaktcenter.core.jobs import app_job
from kontaktcenter.goals.models import CaseGoal

PAUSED_OR_DONE = (CaseStatus.WAITING, CaseStatus.CLOSED)


@dataclass
class SweepResult:
    at_risk: list[int] = field(default_factory=list)
    breached: list[int] = field(default_factory=list)


def _record(
    column: sa.orm.InstrumentedAttribute,
    when: sa.orm.InstrumentedAttribute,
    now: datetime,
    batch: int,
) -> list[int]:
    # Two steps on purpose: the goals come from the small partial sweep index, then their cases
    # by primary key. Joined in one query, PostgreSQL read every open case (1M cases: 100 ms).
    due = db.session.execute(
        sa.select(CaseGoal.id, CaseGoal.case_id)
        .where(
            CaseGoal.met_at.is_(None),
            CaseGoal.cancelled_at.is_(None),
            column.is_(None),
            when <= now,
        )
        .order_by(when)
        .limit(batch * 5)
    ).all()
    running = (
        set(
            db.session.scalars(
                sa.select(Case.id).where(
                    Case.id.in_({row.case_id for row in due}), Case.status.not_in(PAUSED_OR_DONE)
                )
            )
        )
        if due
        else set()
    )
    candidates = [row.id for row in due if row.case_id in running][:batch]
    won = []
    for goal_id in candidates:
        # An UPDATE without RETURNING gives a CursorResult; Session.execute is typed as Result.
        result = cast(
            "sa.CursorResult[Any]",
            db.session.execute(
                sa.update(CaseGoal)
                .where(CaseGoal.id == goal_id, column.is_(None))
                .values({column.key: now})
                .execution_options(synchronize_session=False)
            ),
        )
        if result.rowcount == 1:
            won.append(goal_id)
    return won


def sweep(now: datetime | None = None, batch: int = 1000) -> SweepResult:
    now = now or utcnow()
    result = SweepResult()
    result.breached = _record(CaseGoal.breached_at, CaseGoal.due_at, now, batch)
    # A goal already breached is not also "at risk"; mark those flagged without an alert.
    result.at_risk = [
        goal_id
        for goal_id in _record(CaseGoal.at_risk_flagged_at, CaseGoal.at_risk_at, now, batch)
        if goal_id not in result.breached
    ]
    for goal_id in result.breached:
        outbox.add("goals.send_alert", goal_id=goal_id, kind="breached")
    for goal_id in result.at_risk:
        outbox.add("goals.send_alert", goal_id=goal_id, kind="at_risk")
    outbox.commit()  # the record and its alerts together: an alert is never lost
    return result


def recent_breaches(limit: int = 50) -> list[CaseGoal]:
    """Breached goals of open cases, newest first (the managers' list)."""
    return list(
        db.session.scalars(
            sa.select(CaseGoal)
            .join(Case, Case.id == CaseGoal.case_id)
            .where(
                CaseGoal.breached_at.is_not(None),
                CaseGoal.met_at.is_(None),
                CaseGoal.cancelled_at.is_(None),
                Case.status != CaseStatus.CLOSED,
            )
            .options(
                sa.orm.contains_eager(CaseGoal.case).joinedload(Case.department),
                sa.orm.contains_eager(CaseGoal.case).joinedload(Case.assignee),
            )
            .order_by(CaseGoal.breached_at.desc())
            .limit(limit)
        )
    )


@app_job
def sweep_job() -> None:
    """The periodic entry point (every minute)."""
    sweep()
