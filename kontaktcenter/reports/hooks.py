"""The reports record each case's first-response time when the answer is given (in the same
transaction), from the case events."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from kontaktcenter.calendar.business_calendar import Unit
from kontaktcenter.calendar.services import load_calendar
from kontaktcenter.cases import events
from kontaktcenter.cases.models import Case
from kontaktcenter.core.extensions import db
from kontaktcenter.reports.models import ResponseTime


def record_response_time(case: Case, *, known_missing: bool = False) -> ResponseTime | None:
    """Measure the case's first-response time once (no-op without an answer or when done)."""
    answered = case.first_response_at
    if answered is None:
        return None
    if (
        not known_missing
        and case.id is not None
        and db.session.get(ResponseTime, case.id) is not None
    ):
        return None
    received = case.received_at
    row = ResponseTime(
        case=case,
        office_minutes=load_calendar().elapsed(received, answered, Unit.OPENING_HOURS),
        calendar_minutes=max(int((answered - received).total_seconds() // 60), 0),
    )
    db.session.add(row)
    return row


@events.created.connect
@events.first_response.connect
@events.callback_done.connect
def _answered(case: Case, at: datetime, **_: object) -> None:
    record_response_time(case)


def backfill(batch: int = 1000) -> int:
    """Measure answered cases that have no response time yet (cases from before this table, or
    written by bulk tools); idempotent, in batches by id (one query and one commit each)."""
    done, last_id = 0, 0
    while True:
        cases = db.session.scalars(
            sa.select(Case)
            .outerjoin(ResponseTime, ResponseTime.case_id == Case.id)
            .where(
                Case.id > last_id,
                Case.first_response_at.is_not(None),
                ResponseTime.case_id.is_(None),
            )
            .order_by(Case.id)
            .limit(batch)
        ).all()
        if not cases:
            return done
        with db.session.no_autoflush:
            for case in cases:
                record_response_time(case, known_missing=True)
        db.session.commit()
        done += len(cases)
        last_id = cases[-1].id
