"""Staff accounts and API tokens."""

from __future__ import annotations

import functools
import hashlib
import secrets
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import joinedload
from werkzeug.security import check_password_hash, generate_password_hash

from kontaktcenter.core.errors import NotFound, ValidationError
from kontaktcenter.core.extensions import db, utcnow
from kontaktcenter.core.identifiers import normalise_email
from kontaktcenter.core.roles import Role
from kontaktcenter.organisation.models import ApiToken, Department, User
from kontaktcenter.organisation.sessions import renew

PASSWORD_MIN = 10
TOKEN_PREFIX = "kc_"
# Compared against when the e-mail is unknown, so a login takes as long either way.
_DUMMY_HASH = generate_password_hash("not-a-real-password")


def authenticate(email: str | None, password: str | None) -> User | None:
    """The active user with these credentials, or None. Unknown addresses, wrong passwords and
    deactivated accounts look alike: one password hash is checked every time (the same work,
    so the same time). Writes nothing: throttling and the failure log are login_throttle's."""
    email = (email or "").strip().lower()
    user = db.session.scalars(sa.select(User).where(User.email == email)).first()
    stored = user.password_hash if user is not None else _DUMMY_HASH
    matches = check_password_hash(stored, password or "")
    if user is None or not matches or not user.active:
        return None
    return user


def validate_password(password: str | None) -> str:
    if password is None or len(password) < PASSWORD_MIN:
        raise ValidationError(f"Lösenordet måste ha minst {PASSWORD_MIN} tecken.", "password")
    return password


def _departments_for(role: Role, departments: list[Department]) -> list[Department]:
    if role == Role.HANDLER and not departments:
        raise ValidationError("En handläggare måste höra till minst en förvaltning.", "departments")
    return departments


def _profile(value: str | None, limit: int) -> str | None:
    return (value or "").strip()[:limit] or None


def create_user(
    email: str,
    name: str,
    role: Role,
    password: str,
    departments: list[Department] | None = None,
    *,
    title: str | None = None,
    unit: str | None = None,
    phone: str | None = None,
) -> User:
    try:
        email = normalise_email(email) or ""
    except ValidationError:
        email = ""
    if not email:
        raise ValidationError("Ange en giltig e-postadress.", "email")
    if db.session.scalars(sa.select(User.id).where(User.email == email)).first() is not None:
        raise ValidationError("Det finns redan en användare med den e-postadressen.", "email")
    user = User(
        email=email,
        name=(name or "").strip() or email,
        role=role,
        password_hash=generate_password_hash(validate_password(password)),
        departments=_departments_for(role, list(departments or [])),
        title=_profile(title, 120),
        unit=_profile(unit, 120),
        phone=_profile(phone, 40),
    )
    db.session.add(user)
    db.session.commit()
    return user


def update_user(
    user: User,
    *,
    name: str,
    role: Role,
    departments: list[Department],
    active: bool,
    password: str | None = None,
    by: User | None = None,
    title: str | None = None,
    unit: str | None = None,
    phone: str | None = None,
) -> User:
    if by is not None and by.id == user.id and (not active or role != Role.ADMIN):
        raise ValidationError("Du kan inte ta bort din egen administratörsbehörighet.", "role")
    # Validate everything before changing anything: no half-applied edit in the session.
    departments = _departments_for(role, departments)
    new_hash = generate_password_hash(validate_password(password)) if password else None
    user.name = (name or "").strip() or user.email
    user.role = role
    user.departments = departments
    if new_hash or (user.active and not active):
        renew(user)  # a new password or a deactivation ends every session and remember cookie
    user.active = active
    # None: not part of this change (a caller that does not edit the profile keeps it).
    if title is not None:
        user.title = _profile(title, 120)
    if unit is not None:
        user.unit = _profile(unit, 120)
    if phone is not None:
        user.phone = _profile(phone, 40)
    if new_hash:
        user.password_hash = new_hash
    db.session.commit()
    return user


def _hash_token(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_token(user: User, name: str = "API") -> tuple[ApiToken, str]:
    """Returns the token row and the secret, which is shown once and never stored."""
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user=user,
        name=(name or "API").strip()[:120],
        token_hash=_hash_token(secret),
        prefix=secret[:10],
    )
    db.session.add(token)
    db.session.commit()
    return token, secret


# How often a token's last use is written: API traffic must not write on every call.
LAST_USED_EVERY = timedelta(minutes=5)


@functools.lru_cache(maxsize=8)
def _token_select(*columns: sa.ColumnElement[Any]) -> sa.Select[tuple[Any, ...]]:
    """Built once per set of extra columns (callers pass module-level expressions)."""
    return (
        sa.select(User, *columns, ApiToken.id, ApiToken.last_used_at)
        .join(ApiToken, ApiToken.user_id == User.id)
        .where(
            ApiToken.token_hash == sa.bindparam("token_hash"),
            ApiToken.revoked_at.is_(None),
            User.active.is_(True),
        )
        .options(joinedload(User.departments))
    )


def token_holder(secret: str, *columns: sa.ColumnElement[Any]) -> tuple[Any, ...] | None:
    """The user a usable token belongs to, as ``(user, *columns, …)``, or None: unknown,
    revoked, or its user deactivated. One statement, run on every request, so a revocation or a
    deactivation holds from the next request on in every process: the token and its user with
    its departments (as the session's user loader reads them: every access rule on content
    and every search reads them; lazily they cost a statement of their own), and `columns`
    (expressions on ``users``, e.g. what kind of account it is) for the caller. The token's
    last use is written at most every LAST_USED_EVERY."""
    statement = _token_select(*columns)
    row = db.session.execute(statement, {"token_hash": _hash_token(secret)}).unique().first()
    if row is None:
        return None
    token_id, last_used_at = row[-2], row[-1]
    now = utcnow()
    if last_used_at is None or now - last_used_at > LAST_USED_EVERY:
        db.session.execute(
            sa.update(ApiToken)
            .where(ApiToken.id == token_id)
            .values(last_used_at=now)
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
    return tuple(row)


def user_for_token(secret: str) -> User | None:
    row = token_holder(secret)
    return row[0] if row is not None else None


def revoke_token(token_id: int) -> ApiToken:
    token = db.session.get(ApiToken, token_id)
    if token is None:
        raise NotFound("Nyckeln finns inte.")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        db.session.commit()
    return token
