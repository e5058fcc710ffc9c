"""The agent's status (tillgänglig, i samtal, rast, utbildning, utloggad) and when they were
last seen.

An agent sets the status from the header of every page; signing out sets utloggad; a call
answered by an available agent sets i samtal and its end sets tillgänglig again (only when the
system had set i samtal). Going away (rast, utbildning, utloggad) gives back the distributed
items the agent has not started; becoming available hands out what waits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from time import time

import sqlalchemy as sa
from flask import request, session
from flask_login import current_user
from sqlalchemy.exc import SQLAlchemyError

from kontaktcenter.core import outbox
from kontaktcenter.core.errors import ValidationError
from kontaktcenter.core.extensions import db, utcnow
from kontaktcenter.distribution import assignment
from kontaktcenter.distribution.models import AgentPresence, AgentStatus, DistributionMode
from kontaktcenter.organisation.models import User

SEEN_EVERY_SECONDS = 60  # seen_at is written at most this often per agent


@dataclass(frozen=True)
class Changed:
    presence: AgentPresence
    given_back: int  # distributed items returned to the queue


def apply_status(
    user: User, status: AgentStatus, *, by_system: bool = False, now: datetime | None = None
) -> Changed | None:
    """Set `user`'s status in the current transaction (no commit: the call events' hook runs
    inside their transaction). None: signing out a user who never had a status."""
    now = now or utcnow()
    row = db.session.get(AgentPresence, user.id, with_for_update=True)
    if row is None:
        if status == AgentStatus.SIGNED_OUT:
            return None
        row = AgentPresence(user_id=user.id, status=status, since=now, set_by_system=by_system)
        db.session.add(row)
    elif row.status != status:
        row.status, row.since = status, now
    row.set_by_system = by_system
    if status != AgentStatus.SIGNED_OUT:
        row.seen_at = now  # setting a status is being seen
    given_back = assignment.give_back(user.id, now) if status.gives_back else 0
    # Someone can take work, or work came back: hand out what waits (after the commit).
    if (status == AgentStatus.AVAILABLE or given_back) and (
        assignment.settings().mode != DistributionMode.OFF
    ):
        outbox.add("distribution.sweep")
    return Changed(row, given_back)


def set_status(user: User, status: AgentStatus | str | None) -> Changed | None:
    """The agent's own choice (the header's form), or signing out."""
    try:
        chosen = AgentStatus(status) if status else None
    except ValueError:
        chosen = None
    if chosen is None:
        raise ValidationError("Välj en status.", "status")
    try:
        changed = apply_status(user, chosen)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return changed


def seen(user_id: int, now: datetime | None = None) -> None:
    """The agent made a request: refresh when they were seen (the caller limits how often)."""
    db.session.execute(
        sa.update(AgentPresence)
        .where(AgentPresence.user_id == user_id)
        .values(seen_at=now or utcnow())
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def signed_in(row: AgentPresence, now: datetime | None = None) -> bool:
    return (
        row.status != AgentStatus.SIGNED_OUT
        and row.seen_at is not None
        and row.seen_at >= assignment.presence_cutoff(now or utcnow())
    )


@dataclass(frozen=True)
class HeaderStatus:
    status: AgentStatus
    since: datetime | None

    @property
    def back(self) -> str:
        """Where the status form returns to: this page with its query (the queue's filters),
        or without it when the query is not UTF-8 (the 400 page for such a request must
        still render its header)."""
        try:
            return request.full_path if request.query_string else request.path
        except UnicodeDecodeError:
            return request.path


def header_status() -> HeaderStatus | None:
    """The signed-in user's status for the header (read once per request)."""
    if not current_user.is_authenticated:
        return None
    try:
        row = db.session.get(AgentPresence, current_user.id)
    except SQLAlchemyError:  # an error page while the database is away: no status
        db.session.rollback()
        return None
    if row is None:
        return HeaderStatus(AgentStatus.SIGNED_OUT, None)
    return HeaderStatus(row.status, row.since)


_SEEN_KEY = "distribution_seen"


def refresh_seen() -> None:
    """Before each request: an agent's requests keep them signed in for distribution. Written
    at most once a minute per browser session (the time is kept in the session), so a closed
    browser stops getting work after the presence window, and no request writes for nothing."""
    if request.blueprint == "api" or request.endpoint in (None, "static"):
        return
    if not current_user.is_authenticated or current_user.role not in assignment.AGENT_ROLES:
        return
    now = time()
    last = session.get(_SEEN_KEY)
    if isinstance(last, int | float) and 0 <= now - last < SEEN_EVERY_SECONDS:
        return
    seen(current_user.id)
    session[_SEEN_KEY] = now
