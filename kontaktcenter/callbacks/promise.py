"""A pending callback keeps the promise of its case's running callback goal.

The goal engine sets ``case.callback_due_at`` when a callback is booked, but it moves the
running goal's due time later without it: a reclassified case restarts the goal under the new
case type's promise, a pause (status "väntar") extends it, a changed calendar recomputes it in
a job. Before every flush, a running callback goal whose due time differs from its case's
promise is copied to the case (the queue, the overview and the reports read it) and to the
case's pending callback row (the worklist's order and its "lovad senast"), whichever path
moved the goal.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kontaktcenter.callbacks import booking
from kontaktcenter.goals.models import CaseGoal, GoalTarget


@sa.event.listens_for(Session, "before_flush")
def _follow_the_goal(session: Session, _context: Any, _instances: Any) -> None:
    for goal in [*session.new, *session.dirty]:
        if not isinstance(goal, CaseGoal) or goal.target != GoalTarget.CALLBACK:
            continue
        case = goal.case
        if (
            not goal.is_active
            or case is None
            or not case.callback_pending
            or case.callback_due_at == goal.due_at
        ):
            continue
        case.callback_due_at = goal.due_at
        callback = booking.pending_of(case)  # no autoflush: the session is flushing
        if callback is not None and callback.case is case:
            callback.due_at = goal.due_at
