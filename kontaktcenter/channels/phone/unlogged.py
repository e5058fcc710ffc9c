"""Ologgade samtal: calls an agent answered that ended without a case logged for them within
CALL_UNLOGGED_MINUTES, so that every answered call ends up in the volume statistics."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from kontaktcenter.channels.phone.models import Call, CallState
from kontaktcenter.core.extensions import db, utcnow
from kontaktcenter.organisation.models import User

LIMIT = 200


def handled_by_clause(user_id: int) -> sa.ColumnElement[bool]:
    """The agent who has the call last: the one it was transferred to, else who answered."""
    return sa.func.coalesce(Call.transferred_to_id, Call.agent_id) == user_id


def unlogged_calls(user: User, now: datetime | None = None) -> list[Call]:
    """The user's answered, ended calls with no case, ended at least N minutes ago; newest
    first."""
    minutes = int(current_app.config["CALL_UNLOGGED_MINUTES"])
    cutoff = (now or utcnow()) - timedelta(minutes=minutes)
    return list(
        db.session.scalars(
            sa.select(Call)
            .where(
                handled_by_clause(user.id),
                Call.state == CallState.ENDED,
                Call.case_id.is_(None),
                Call.ended_at <= cutoff,
            )
            .order_by(Call.ended_at.desc(), Call.id.desc())
            .limit(LIMIT)
        )
    )


def recent_calls(user: User, limit: int = 20) -> list[Call]:
    """The user's latest calls (answered by or transferred to them), newest first: the page to
    open a call from when the browser missed its screen pop."""
    return list(
        db.session.scalars(
            sa.select(Call)
            .where(handled_by_clause(user.id), Call.answered_at.is_not(None))
            .order_by(Call.answered_at.desc(), Call.id.desc())
            .limit(limit)
        )
    )
