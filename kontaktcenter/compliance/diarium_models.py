"""The diarium hand-off (DOMAIN req. 3): diarier (one per nämnd) and each case's marking.

A case is marked "ska diarieföras", "av ringa betydelse" or "hålls ordnad". A case marked for
registration is handed to the diarium that serves its department (a signed webhook through the
outbox, compliance/tasks.py); the registrar's diarienummer is stored here, beside the case.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kontaktcenter.core.extensions import Model, UTCDateTime, str_enum, utcnow
from kontaktcenter.organisation.models import Department, User


class Marking(StrEnum):
    REGISTER = "register"  # ska diarieföras
    MINOR = "minor"  # av ringa betydelse (gallras vid inaktualitet)
    KEPT_ORDERED = "kept_ordered"  # hålls ordnad (OSL 5:1 andra stycket)

    @property
    def label(self) -> str:
        return {
            "register": "Ska diarieföras",
            "minor": "Av ringa betydelse",
            "kept_ordered": "Hålls ordnad",
        }[self.value]


class HandoffState(StrEnum):
    NONE = "none"  # not marked for registration
    NO_DIARIUM = "no_diarium"  # marked, but no active diarium serves the case's department
    PENDING = "pending"  # an outbox row is sending it
    SENT = "sent"  # the registrar's system accepted it
    REGISTERED = "registered"  # a diarienummer is known

    @property
    def label(self) -> str:
        return {
            "none": "Inte aktuellt",
            "no_diarium": "Väntar: inget diarium tar emot ärenden från förvaltningen",
            "pending": "Skickas till diariet",
            "sent": "Mottaget av diariet, väntar på diarienummer",
            "registered": "Diariefört",
        }[self.value]


diarium_departments = sa.Table(
    "diarium_departments",
    Model.metadata,
    sa.Column("diarium_id", sa.ForeignKey("diaries.id"), primary_key=True),
    # One diarium per department, so a case's diarium is never ambiguous.
    sa.Column("department_id", sa.ForeignKey("departments.id"), primary_key=True, unique=True),
)


class Diarium(Model):
    """A nämnd's diarium: where its cases marked for registration are sent."""

    __tablename__ = "diaries"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(120), unique=True)
    endpoint_url: Mapped[str] = mapped_column(sa.String(500))
    # The HMAC key the registrar's system verifies our webhooks with. Generated here, shown
    # to the admin once, never logged, never in an outbox row's arguments.
    signing_secret: Mapped[str] = mapped_column(sa.String(100))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    departments: Mapped[list[Department]] = relationship(
        secondary=diarium_departments, order_by="Department.name"
    )

    def __repr__(self) -> str:
        return f"<Diarium {self.name}>"


class CaseDiarium(Model):
    """A case's diarium marking and hand-off, at most one per case."""

    __tablename__ = "case_diarium"

    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id"), primary_key=True)
    marking: Mapped[Marking] = mapped_column(str_enum(Marking))
    marked_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    marked_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    state: Mapped[HandoffState] = mapped_column(str_enum(HandoffState), default=HandoffState.NONE)
    diarium_id: Mapped[int | None] = mapped_column(sa.ForeignKey("diaries.id"), index=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    diarienummer: Mapped[str | None] = mapped_column(sa.String(60))
    registered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(sa.Text)

    marked_by: Mapped[User | None] = relationship()
    diarium: Mapped[Diarium | None] = relationship()
