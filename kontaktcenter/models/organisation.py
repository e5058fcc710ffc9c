"""Departments (förvaltningar) and case types (ärendetyper) with their direct numbers."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kontaktcenter.extensions import UTCDateTime, db, utcnow

user_departments = sa.Table(
    "user_departments",
    db.metadata,
    sa.Column("user_id", sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    sa.Column(
        "department_id", sa.ForeignKey("departments.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Index("ix_user_departments_department_id", "department_id"),
)


class Department(db.Model):
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


class CaseType(db.Model):
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
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    department: Mapped[Department] = relationship(back_populates="case_types")

    def __repr__(self) -> str:
        return f"<CaseType {self.slug}>"
