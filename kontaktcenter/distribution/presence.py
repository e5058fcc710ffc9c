"""The agent's status (tillgänglig, i samtal, rast, utbildning, utloggad) and when they were
last seen.

An agent sets the status from the header of every page; signing out sets utloggad; a call
answered by an available agent sets i samtal and its end (or its transfer to a colleague) sets
tillgänglig again (only when the system had set i samtal). Going away (rast, utbildning,
utloggad) gives back the distributed items the agent has not started; becoming available hands
out what waits.

Only the agent's own requests make them seen: a call event says the softphone is in use, not
that the browser is open, so the statuses the system sets never touch seen_at. An agent who
comes back after the presence window (the browser was closed on Friday, still "tillgänglig")
finds the status lapsed to utloggad and chooses again: they never get work they did not ask
for.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from time import time
from typing import Any, cast
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import current_app, render_template, request, session, url_for
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException
from werkzeug.routing import RequestRedirect

from kontaktcenter.core import outbox, rendered
from kontaktcenter.core.errors import ValidationError
from kontaktcenter.core.extensions import db, upsert, utcnow
from kontaktcenter.core.templating import format_datetime
from kontaktcenter.distribution import assignment
from kontaktcenter.distribution.models import AgentPresence, AgentStatus, DistributionMode
from kontaktcenter.organisation import sessions
from kontaktcenter.organisation.models import User

SEEN_EVERY_SECONDS = 60  # seen_at is written at most this often per agent


@dataclass(frozen=True)
class Changed:
    presence: AgentPresence
    given_back: assignment.GivenBack  # distributed items returned to the queue


def apply_status(
    user: User, status: AgentStatus, *, by_system: bool = False, now: datetime | None = None
) -> Changed | None:
    """Set `user`'s status in the current transaction (no commit: the call events' hook runs
    inside their transaction). None: signing out a user who never had a status. `by_system`
    (a call event): the agent is not seen by it."""
    now = now or utcnow()
    row = db.session.get(AgentPresence, user.id, with_for_update=True)
    if row is None:
        if status == AgentStatus.SIGNED_OUT:
            return None
        row = _first_row(user.id, now)
    if row.status != status:
        row.status, row.since = status, now
    row.set_by_system = by_system
    if status != AgentStatus.SIGNED_OUT and not by_system:
        row.seen_at = now  # the agent setting a status is being seen
    given_back = assignment.give_back(user.id, now) if status.gives_back else assignment.GivenBack()
    # Someone can take work, or work came back: hand out what waits (after the commit).
    if (status == AgentStatus.AVAILABLE or given_back) and (
        assignment.settings().mode != DistributionMode.OFF
    ):
        outbox.add("distribution.sweep")
    return Changed(row, given_back)


def _first_row(user_id: int, now: datetime) -> AgentPresence:
    """The agent's row, made now (locked): two first statuses at once (two tabs, a double
    click) both find no row; the second insert does nothing and waits for the first's row."""
    db.session.execute(
        upsert(AgentPresence)
        .values(user_id=user_id, status=AgentStatus.SIGNED_OUT, since=now, set_by_system=False)
        .on_conflict_do_nothing(index_elements=["user_id"])
    )
    row = db.session.get(AgentPresence, user_id, with_for_update=True, populate_existing=True)
    assert row is not None
    return row


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
    """The agent made a request: refresh when they were seen (the caller limits how often).

    Back after the presence window (a new sign-in, a remembered one, a browser that restored
    its tabs): the status they left is stale and lapses to utloggad, giving back what they have
    not started; an open page's screen-pop stream asks every half minute, so an agent at their
    desk never lapses."""
    now = now or utcnow()
    try:
        lapsed = cast(
            "sa.CursorResult[Any]",
            db.session.execute(
                sa.update(AgentPresence)
                .where(
                    AgentPresence.user_id == user_id,
                    AgentPresence.status != AgentStatus.SIGNED_OUT,
                    sa.or_(
                        AgentPresence.seen_at.is_(None),
                        AgentPresence.seen_at < assignment.presence_cutoff(now),
                    ),
                )
                .values(status=AgentStatus.SIGNED_OUT, since=now, set_by_system=False, seen_at=now)
                .execution_options(synchronize_session=False)
            ),
        ).rowcount
        if lapsed:
            if assignment.give_back(user_id, now) and (
                assignment.settings().mode != DistributionMode.OFF
            ):
                outbox.add("distribution.sweep")  # to someone who is there
        else:
            db.session.execute(
                sa.update(AgentPresence)
                .where(AgentPresence.user_id == user_id)
                .values(seen_at=now)
                .execution_options(synchronize_session=False)
            )
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise


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
        still render its header). A page that answers a POST (a form shown again with its
        errors) has no address to return to: the page the form was on, else the start page."""
        if request.method not in ("GET", "HEAD"):
            return _referring_page()
        try:
            return request.full_path if request.query_string else request.path
        except UnicodeDecodeError:
            return request.path


def back_to(target: str | None) -> str:
    """A page to return to: a path of ours only (never another site), else the start page."""
    if (
        target
        and target.startswith("/")
        and not target.startswith("//")
        and all(ch.isprintable() and ch != "\\" for ch in target)
    ):
        return target
    return url_for("auth.home")


def _referring_page() -> str:
    """The referrer's path and query when it is a page of this site that answers a GET (a form
    sent twice has the form's own address as its referrer), else the start page."""
    home = url_for("auth.home")
    try:
        parts = urlsplit(request.referrer or "")
    except ValueError:
        return home
    if parts.netloc != request.host or back_to(parts.path) != parts.path:
        return home
    try:
        current_app.url_map.bind_to_environ(request.environ).match(parts.path, method="GET")
    except RequestRedirect:
        pass  # a missing slash: the page redirects to itself
    except HTTPException:
        return home
    return back_to(parts.path + (f"?{parts.query}" if parts.query else ""))


# The header's status is read with the signed-in user, in the user loader's one statement
# (issue #16): exact, not cached. The request's own writes (a new status, a lapsed one) make
# header_status read it again.
_STATUS, _SINCE = "distribution.status", "distribution.since"
sessions.read_with_user(
    _STATUS,
    sa.select(AgentPresence.status).where(AgentPresence.user_id == User.id).scalar_subquery(),
)
sessions.read_with_user(
    _SINCE,
    sa.select(AgentPresence.since).where(AgentPresence.user_id == User.id).scalar_subquery(),
)


def header_status() -> HeaderStatus | None:
    """The signed-in user's status for the header: as read with the user, else read now."""
    if not current_user.is_authenticated:
        return None
    read, status = sessions.read_with_user_value(current_user.id, _STATUS)
    if read:
        if status is None:  # no row: never set a status
            return HeaderStatus(AgentStatus.SIGNED_OUT, None)
        return HeaderStatus(status, sessions.read_with_user_value(current_user.id, _SINCE)[1])
    try:
        row = db.session.get(AgentPresence, current_user.id)
    except SQLAlchemyError:  # an error page while the database is away: no status
        db.session.rollback()
        return None
    if row is None:
        return HeaderStatus(AgentStatus.SIGNED_OUT, None)
    return HeaderStatus(row.status, row.since)


def header_status_html() -> Markup:
    """The status form in the header (``distribution/_status.html``), kept per process for
    each status (issue #16): the same HTML on every page but for the time it was set, the CSRF
    token and the page to return to, which are put in."""
    mine = header_status()
    if mine is None:
        return Markup("")
    since = mine.since
    return rendered.once_filled(
        ("agent-status", request.script_root, mine.status, since is not None),
        lambda: render_template(
            "distribution/_status.html",
            status=mine.status,
            since=rendered.slot("since") if since is not None else None,
            csrf=rendered.slot("csrf"),
            back=rendered.slot("back"),
        ),
        {
            "csrf": generate_csrf(),
            "back": mine.back,
            "since": format_datetime(since) if since is not None else "",
        },
    )


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
