"""Departments (förvaltningar), case types (ärendetyper) with their direct numbers, users and
API tokens."""

from __future__ import annotations

import secrets
import time
from datetime import datetime

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kontaktcenter.core.extensions import Model, UTCDateTime, db, str_enum, utcnow
from kontaktcenter.core.roles import Role

user_departments = sa.Table(
    "user_departments",
    db.metadata,
    sa.Column("user_id", sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    sa.Column(
        "department_id", sa.ForeignKey("departments.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Index("ix_user_departments_department_id", "department_id"),
)


class Department(Model):
    __tablename__ = "departments"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(sa.String(60), unique=True)
    name: Mapped[str] = mapped_column(sa.String(120), unique=True)
    contact_email: Mapped[str | None] = mapped_column(sa.String(254))
    phone_hours: Mapped[str | None] = mapped_column(sa.String(200))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    case_types: Mapped[list[CaseType]] = relationship(
        back_populates="department", order_by="CaseType.name"
    )

    def __repr__(self) -> str:
        return f"<Department {self.slug}>"


class CaseType(Model):
    __tablename__ = "case_types"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(sa.String(60), unique=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    department_id: Mapped[int] = mapped_column(sa.ForeignKey("departments.id"), index=True)
    # The number the agent hands the caller over to, and who answers it.
    direct_number: Mapped[str | None] = mapped_column(sa.String(40))
    direct_number_answered_by: Mapped[str | None] = mapped_column(sa.String(120))
    direct_number_hours: Mapped[str | None] = mapped_column(sa.String(200))
    # What to ask and what the first line may answer directly (uppdrag).
    guidance: Mapped[str | None] = mapped_column(sa.Text)
    callback_promise_hours: Mapped[int] = mapped_column(default=24)
    # Secrecy (OSL) for every case of this type: a code of cases.secrecy.GROUNDS, or None.
    secrecy_ground: Mapped[str | None] = mapped_column(sa.String(20))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    department: Mapped[Department] = relationship(back_populates="case_types")

    def __repr__(self) -> str:
        return f"<CaseType {self.slug}>"


def new_session_token() -> str:
    return secrets.token_urlsafe(16)


class User(UserMixin, Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    role: Mapped[Role] = mapped_column(str_enum(Role))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The profile a reply's signature is made of (with the name).
    title: Mapped[str | None] = mapped_column(sa.String(120))  # befattning
    unit: Mapped[str | None] = mapped_column(sa.String(120))  # förvaltning, avdelning, enhet
    phone: Mapped[str | None] = mapped_column(sa.String(40))
    # Part of the id every session and remember cookie of the user carries (get_id): a new
    # value ends them all (logout, a new password, deactivation, "Logga ut överallt").
    session_token: Mapped[str] = mapped_column(sa.String(32), default=new_session_token)

    # Loaded when asked for (the signed-in user's, for access checks), not with every assignee.
    departments: Mapped[list[Department]] = relationship(
        secondary=user_departments, order_by="Department.name"
    )

    @property
    def is_active(self) -> bool:  # Flask-Login: deactivated users cannot log in
        return self.active

    def get_id(self) -> str:
        """Flask-Login's id of the user: ``<id>:<session token>``."""
        return f"{self.id}:{self.session_token}"

    def get_login_id(self) -> str:
        """What a new sign-in stores in its session and remember cookie (Flask-Login's
        ``id_attribute``): get_id() with the time of the sign-in, so the server can refuse it
        once it is too old, and a nonce, so every sign-in gets a new remember cookie."""
        return f"{self.get_id()}:{int(time.time())}:{secrets.token_urlsafe(6)}"

    @property
    def department_ids(self) -> set[int]:
        return {d.id for d in self.departments}

    def __repr__(self) -> str:
        return f"<User {self.email} {self.role}>"


class LoginFailure(Model):
    """Failed sign-ins per typed account name and client address, for the admins' page
    (Misslyckade inloggningar): the latest burst (failures less than the account-and-address
    window apart) and when it began. Unknown account names are kept the same way."""

    __tablename__ = "login_failures"

    id: Mapped[int] = mapped_column(primary_key=True)
    account: Mapped[str] = mapped_column(sa.String(254))  # the e-mail address as typed
    address: Mapped[str] = mapped_column(sa.String(64))  # the client's IP address
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    failures: Mapped[int] = mapped_column(default=1)
    first_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    throttled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # a limit was reached

    user: Mapped[User | None] = relationship()

    __table_args__ = (sa.UniqueConstraint("account", "address"),)


class LoginAddress(Model):
    """A client address (an IPv6 /64) the user has signed in from: the throttle treats it as
    theirs, so attacks from elsewhere never lock the user out from where they work."""

    __tablename__ = "login_addresses"

    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    address: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    last_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


class ApiToken(Model):
    """A bearer token. Only a SHA-256 of the secret is stored; the secret is shown once."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    prefix: Mapped[str] = mapped_column(sa.String(12))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship()


class Branding(Model):
    """The municipality's name and logo, shown on every page (one row, id 1)."""

    __tablename__ = "branding"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    name: Mapped[str | None] = mapped_column(sa.String(100))
    logo: Mapped[bytes | None] = mapped_column(sa.LargeBinary, deferred=True)  # PNG, ours
    logo_etag: Mapped[str | None] = mapped_column(sa.String(16))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
