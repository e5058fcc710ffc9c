"""The outbox as the admin's health page shows it: what waits, what runs, what failed, and
running a failed row again."""

from __future__ import annotations

from typing import Any, cast

import sqlalchemy as sa
from flask import current_app

from kontaktcenter.core.extensions import db, utcnow
from kontaktcenter.core.outbox import FAILED, PENDING, RUNNING, OutboxJob, run


def health(limit: int = 50) -> dict[str, Any]:
    """Counts per state of unfinished and failed rows, and the oldest of them (admin page)."""
    counts = dict(
        db.session.execute(
            sa.select(OutboxJob.state, sa.func.count())
            .where(OutboxJob.state.in_((PENDING, RUNNING, FAILED)))
            .group_by(OutboxJob.state)
        ).all()
    )
    problems = db.session.scalars(
        sa.select(OutboxJob)
        .where(
            sa.or_(
                OutboxJob.state == FAILED,
                sa.and_(OutboxJob.state == PENDING, OutboxJob.attempts > 0),
                OutboxJob.state == RUNNING,
            )
        )
        .order_by(OutboxJob.created_at.desc())
        .limit(limit)
    ).all()
    return {"counts": counts, "problems": problems}


def retry(job_id: int) -> bool:
    """An admin asks for a failed row to be tried again."""
    result = db.session.execute(
        sa.update(OutboxJob)
        .where(OutboxJob.id == job_id, OutboxJob.state == FAILED)
        .values(state=PENDING, run_after=utcnow(), attempts=0, finished_at=None)
        .execution_options(synchronize_session=False)
    )
    # An UPDATE without RETURNING gives a CursorResult; Session.execute is typed as Result.
    changed = cast("sa.CursorResult[Any]", result).rowcount
    db.session.commit()
    if changed and current_app.config["JOBS_MODE"] == "eager":
        run(job_id)
    return changed == 1
