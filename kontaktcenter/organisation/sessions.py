"""Sign-in sessions: what makes a session or remember cookie stop working.

Every sign-in stores ``<user id>:<session token>:<signed in at>:<nonce>`` (``User.get_login_id``)
in the session and, with "Kom ihåg mig", in the remember cookie. Flask signs both, so only the
server can make one; :func:`load_user` accepts it only while the token is still the user's and the
sign-in is younger than REMEMBER_COOKIE_DURATION. A new session token (:func:`renew`) therefore
ends every session and remember cookie of the user at once: logging out, a new password (own,
by an admin, or by a reset link), deactivation and an admin's "Logga ut överallt" all renew it.
Each sign-in gets its own cookie value (the time and the nonce), and none outlives the duration,
whatever expiry a copied cookie claims.
"""

from __future__ import annotations

import hmac
import time
from datetime import timedelta

from flask import Flask, current_app, request, session
from flask_login import login_user

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
    user = db.session.get(User, uid) if (uid := parse_id(user_id)) else None
    if user is None or not user.active:
        return None
    if not hmac.compare_digest(user.session_token.encode(), token.encode()):
        return None
    return user


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
