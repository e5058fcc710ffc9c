"""Users (staff), their API tokens, and contacts (citizens and businesses)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kontaktcenter.extensions import UTCDateTime, db, utcnow
from kontaktcenter.models.enums import ContactKind, Role, str_enum
from kontaktcenter.models.organisation import user_departments

if TYPE_CHECKING:
    from kontaktcenter.models.organisation import Department


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    role: Mapped[Role] = mapped_column(str_enum(Role))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    # Loaded when asked for (the signed-in user's, for access checks), not with every assignee.
    departments: Mapped[list[Department]] = relationship(
        secondary=user_departments, order_by="Department.name"
    )

    @property
    def is_active(self) -> bool:  # Flask-Login: deactivated users cannot log in
        return self.active

    @property
    def department_ids(self) -> set[int]:
        return {d.id for d in self.departments}

    def __repr__(self) -> str:
        return f"<User {self.email} {self.role}>"


class ApiToken(db.Model):
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


class Contact(db.Model):
    """A citizen or business who contacted us. Minimal personal data (GDPR art. 5.1 c)."""

    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[ContactKind] = mapped_column(str_enum(ContactKind), default=ContactKind.CITIZEN)
    name: Mapped[str | None] = mapped_column(sa.String(200))
    name_lower: Mapped[str | None] = mapped_column(sa.String(200), index=True)
    phone: Mapped[str | None] = mapped_column(sa.String(40))  # as entered, for display
    phone_e164: Mapped[str | None] = mapped_column(sa.String(20), index=True)  # lookup key
    email: Mapped[str | None] = mapped_column(sa.String(254), index=True)  # lower-cased
    organisation_number: Mapped[str | None] = mapped_column(sa.String(11))
    personnummer: Mapped[str | None] = mapped_column(sa.String(13))  # YYYYMMDD-NNNN
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    @property
    def personnummer_masked(self) -> str | None:
        if not self.personnummer:
            return None
        return self.personnummer[:8] + "-****"

    @property
    def display_name(self) -> str:
        return self.name or self.phone or self.email or "Okänd"
