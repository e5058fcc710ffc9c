"""A case logged from a call the platform reported: the case and the call's link to it are
committed together, and the case starts when the call was answered.

The call form carries our call id (a hidden field) from the screen pop or from the list of
unlogged calls. Only the agent who has the call (who answered it, or to whom it was transferred)
links a case to it, and a call links one case: the first one saved. The call's times (answered,
ended, talk time) stay on the call and are shown with the case, so an `ended` that arrives after
the case was saved fills them in too.
"""

from __future__ import annotations

import sqlalchemy as sa

from kontaktcenter.cases.models import Case
from kontaktcenter.cases.services import NewCase, build_case, commit_keeping_state
from kontaktcenter.channels.phone.models import Call
from kontaktcenter.core.extensions import db
from kontaktcenter.core.forms import parse_id
from kontaktcenter.organisation.models import User


def call_for(user: User, value: str | int | None) -> Call | None:
    """The call `value` names if it is the user's to log (handled by them, no case yet)."""
    call_id = value if isinstance(value, int) else parse_id(value)
    call = db.session.get(Call, call_id) if call_id else None
    if call is None or call.handled_by_id != user.id or call.case_id is not None:
        return None
    return call


def create_case_for_call(data: NewCase, call: Call | None, *, by: User) -> Case:
    """create_case, with the case linked to `call` (when given) in the same transaction. The
    call is locked first, so two saves of one call link one case."""
    try:
        if call is not None:
            locked = db.session.scalars(
                sa.select(Call)
                .where(Call.id == call.id, Call.case_id.is_(None))
                .with_for_update()
                .execution_options(populate_existing=True)
            ).first()
            call = locked
        if call is not None and call.answered_at is not None and data.received_at is None:
            data.received_at = call.answered_at
        case = build_case(data, by=by)
        if call is not None:
            db.session.flush()
            call.case_id = case.id
        commit_keeping_state()
    except Exception:
        db.session.rollback()
        raise
    return case


_CALL_OF_CASE = sa.select(Call).where(Call.case_id == sa.bindparam("case_id")).limit(1)


def case_has_call() -> sa.ColumnElement[bool]:
    """SQL: the case (``cases``) was logged from a call, as the case page's probe for its call
    panel (core.case_panels)."""
    return sa.exists().where(Call.case_id == Case.id)


def call_of_case(case_id: int) -> Call | None:
    return db.session.scalars(_CALL_OF_CASE, {"case_id": case_id}).first()
