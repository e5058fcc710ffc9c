"""Forgotten passwords: a link by e-mail that works once, for an hour.

The token is signed with SECRET_KEY by itsdangerous (Flask's own signing library) and carries a
fingerprint of the password hash, so setting a new password spends it, and so does an admin's
reset. The link is built from PUBLIC_URL, never from the request's Host header (which an
attacker could set to send the victim a link to their own site). Without PUBLIC_URL there is no
self-service reset: the page tells the user to ask an administrator, who sets a new password.
Whether an address has an account is never revealed; one mail per account per
RESET_INTERVAL, each request audited.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from werkzeug.security import generate_password_hash

from kontaktcenter.core import mailer, outbox
from kontaktcenter.core.audit import AuditEvent
from kontaktcenter.core.errors import ValidationError
from kontaktcenter.core.extensions import db, utcnow
from kontaktcenter.organisation.models import User
from kontaktcenter.organisation.sessions import renew
from kontaktcenter.organisation.users import validate_password

SALT = "kontaktcenter.password-reset"
MAX_AGE = 3600  # seconds a link works
RESET_INTERVAL = timedelta(minutes=10)
EXPIRED = "Länken har gått ut eller redan använts. Begär en ny."


def available() -> bool:
    return bool(current_app.config.get("PUBLIC_URL"))


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def _fingerprint(user: User) -> str:
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]


def request_reset(email: str) -> None:
    """Queue a reset link for the account with this address, if there is an active one and it
    was not sent one within RESET_INTERVAL. Says nothing either way."""
    if not available():
        return
    user = db.session.scalars(
        sa.select(User).where(sa.func.lower(User.email) == email.strip().lower())
    ).first()
    if user is None or not user.active:
        return
    recent = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(AuditEvent)
        .where(
            AuditEvent.user_id == user.id,
            AuditEvent.action == "password_reset_requested",
            AuditEvent.created_at > utcnow() - RESET_INTERVAL,
        )
    )
    if recent:
        return
    db.session.add(AuditEvent(user_id=user.id, action="password_reset_requested", detail={}))
    outbox.add("auth.send_password_reset", user_id=user.id)
    outbox.commit()


@outbox.task("auth.send_password_reset")
def send_reset_link(user_id: int) -> None:
    user = db.session.get(User, user_id)
    if user is None or not user.active or not available():
        return
    token = _serializer().dumps({"u": user.id, "f": _fingerprint(user)})
    link = f"{current_app.config['PUBLIC_URL'].rstrip('/')}/aterstall-losenord/{token}"
    body = (
        f"Hej {user.name}!\n\n"
        "Någon (förhoppningsvis du) bad om att få byta lösenord till Kontaktcenter.\n"
        f"Öppna länken inom en timme för att välja ett nytt lösenord:\n\n{link}\n\n"
        "Länken fungerar en gång. Bad du inte om det här kan du strunta i meddelandet; "
        "ditt lösenord är oförändrat.\n"
    )
    mailer.send(mailer.build([user.email], "Byt lösenord till Kontaktcenter", body))


def user_for_token(token: str) -> User:
    """The user a valid, unspent link belongs to, or a ValidationError."""
    try:
        data = _serializer().loads(token, max_age=MAX_AGE)
    except (SignatureExpired, BadSignature):
        raise ValidationError(EXPIRED, "token") from None
    user = db.session.get(User, data.get("u")) if isinstance(data, dict) else None
    if user is None or not user.active or data.get("f") != _fingerprint(user):
        raise ValidationError(EXPIRED, "token")
    return user


def reset_password(token: str, password: str) -> User:
    user = user_for_token(token)
    user.password_hash = generate_password_hash(validate_password(password))
    renew(user)  # every session and remember cookie of the account ends (a thief's too)
    db.session.add(AuditEvent(user_id=user.id, action="password_reset", detail={}))
    db.session.commit()
    return user
