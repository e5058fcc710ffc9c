"""Sign-in sessions: what makes a session or remember cookie stop working.

Every sign-in stores ``<user id>:<session token>:<signed in at>:<nonce>`` (``User.get_login_id``)
in the session and, with "Kom ihåg mig", in the remember cookie. Flask signs both, so only the
server can make one; :func:`load_user` accepts it only while the token is still the user's and the
sign-in is younger than REMEMBER_COOKIE_DURATION. A new session token (:func:`renew`) therefore
ends every session and remember cookie of the user at once: logging out, a new password (own,
by an admin, or by a reset link), deactivation and an admin's "Logga ut överallt" all renew it.
Each sign-in gets its own cookie value (the time and the nonce), and none outlives the duration,
whatever expiry a copied cookie claims.

The loader reads the user, their departments and what the areas above registered with
:func:`read_with_user` (the agent's status in the header) in one statement: every page needs
them (issue #16). What was read with the user counts only until the request writes anything.
"""

from __future__ import annotations

import hmac
import time
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from flask import Flask, current_app, g, has_app_context, request, session
from flask_login import login_user
from sqlalchemy.orm import Session, joinedload

from kontaktcenter.core.audit import AuditEvent
from kontaktcenter.core.extensions import db, login_manager
from kontaktcenter.core.forms import parse_id
from kontaktcenter.organisation.models import User, new_session_token


def init_app(app: Flask) -> None:
    login_manager.user_loader(load_user)
    login_manager.id_attribute = "get_login_id"  # what login_user() stores: see the docstring


def max_age() -> timedelta:
    """How long a sign-in lasts at most (REMEMBER_COOKIE_DURATION, a timedelta or seconds)."""
    duration = current_app.config["REMEMBER_COOKIE_DURATION"]
    return duration if isinstance(duration, timedelta) else timedelta(seconds=int(duration))


def load_user(login_id: str) -> User | None:
    """Flask-Login's user loader: the user a session or remember cookie stands for, or None
    when the id is malformed, older than :func:`max_age`, or its session token was renewed."""
    parts = login_id.split(":") if isinstance(login_id, str) else []
    if len(parts) != 4 or not (parts[2].isascii() and parts[2].isdigit()):
        return None
    user_id, token, signed_in_at, _nonce = parts
    if time.time() - int(signed_in_at) > max_age().total_seconds():
        return None
    uid = parse_id(user_id)
    if uid is None:
        return None
    row = db.session.execute(_user_statement(), {"user_id": uid}).unique().one_or_none()
    if row is None:
        return None
    user: User = row[0]
    if not user.active or not hmac.compare_digest(user.session_token.encode(), token.encode()):
        return None
    # Read with the user, for this request (see read_with_user_value).
    setattr(g, _WITH_USER_KEY, (user.id, dict(zip(_with_user, row[1:], strict=True))))
    return user


# --- what is read with the user ---------------------------------------------------------------

_with_user: dict[str, sa.ScalarSelect[Any]] = {}  # name → a scalar subquery on users.id
_statement: sa.Select[Any] | None = None  # built once, so its cache key is computed once
_WITH_USER_KEY = "kontaktcenter.read_with_user"


def read_with_user(name: str, column: sa.ScalarSelect[Any]) -> None:
    """Read `column` (a scalar subquery correlated to ``users.id``) in the user loader's
    statement; :func:`read_with_user_value` gives it to the request. Registered at start."""
    global _statement
    _with_user[name] = column
    _statement = None


def _user_statement() -> sa.Select[Any]:
    global _statement
    if _statement is None:
        _statement = (
            sa.select(User, *_with_user.values())
            .where(User.id == sa.bindparam("user_id"))
            .options(joinedload(User.departments))
        )
    return _statement


def read_with_user_value(user_id: int, name: str) -> tuple[bool, Any]:
    """(True, the value) read with `user_id` by the loader in this request, unless the request
    has flushed, committed or rolled back since; else (False, None): read it yourself."""
    found = g.get(_WITH_USER_KEY) if has_app_context() else None
    if found is None or found[0] != user_id or name not in found[1]:
        return False, None
    return True, found[1][name]


@sa.event.listens_for(Session, "after_flush")
@sa.event.listens_for(Session, "after_commit")
@sa.event.listens_for(Session, "after_soft_rollback")
def _forget_with_user(_session: Session, *_args: object) -> None:
    """A write in the request (a new status, a lapsed one) may change what was read."""
    if has_app_context():
        g.pop(_WITH_USER_KEY, None)


def start(user: User, remember: bool) -> None:
    """Sign `user` in on a fresh session: nothing from before the sign-in is carried over, so
    the CSRF token is new too (one planted or seen before cannot be used after)."""
    session.clear()
    login_user(user, remember=remember)


def restart(user: User) -> None:
    """Sign the current user in again after their own token was renewed (they set a new
    password): this browser stays signed in, every other session and cookie has ended."""
    cookie = current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token")
    start(user, remember=cookie in request.cookies)


def renew(user: User) -> None:
    """End every session and remember cookie of `user` when the caller's transaction commits."""
    user.session_token = new_session_token()


def end_sessions(user: User, *, by: User | None = None) -> None:
    """Sign `user` out everywhere (their own logout, or an admin's "Logga ut överallt")."""
    renew(user)
    if by is not None and by.id != user.id:
        db.session.add(
            AuditEvent(user_id=by.id, action="sessions_ended", detail={"user_id": user.id})
        )
    db.session.commit()
