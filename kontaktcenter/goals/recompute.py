"""Recompute the due times of open cases after the calendar changed (opening hours, closure
days). Idempotent and batched; a case someone edits meanwhile is simply skipped, since every
action on a case recomputes its goals anyway."""

from __future__ import annotations

import logging

import sqlalchemy as sa
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.exc import StaleDataError

from kontaktcenter.calendar.services import forget_calendar
from kontaktcenter.cases.enums import CaseStatus
from kontaktcenter.cases.models import Case
from kontaktcenter.core import outbox
from kontaktcenter.core.extensions import db, utcnow
from kontaktcenter.goals import engine as goals

log = logging.getLogger(__name__)
BATCH = 500


@outbox.task("goals.refresh_open_cases")
def refresh_open_cases() -> int:
    forget_calendar()
    last_id, changed = 0, 0
    while True:
        ids = db.session.scalars(
            sa.select(Case.id)
            .where(Case.status != CaseStatus.CLOSED, Case.id > last_id)
            .order_by(Case.id)
            .limit(BATCH)
        ).all()
        if not ids:
            return changed
        now = utcnow()
        cases = db.session.scalars(
            sa.select(Case)
            .where(Case.id.in_(ids))
            .options(selectinload(Case.goals), selectinload(Case.activities))
        ).all()
        for case in cases:
            before = case.due_at
            goals.refresh(case, now)
            try:
                db.session.commit()  # per case: one edited meanwhile costs only itself
            except StaleDataError:
                db.session.rollback()
                log.info(
                    "Case %s changed during the refresh; its own action recomputed it.", case.id
                )
                continue
            changed += case.due_at != before
        last_id = ids[-1]
