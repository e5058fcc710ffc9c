"""Register extract requests (GDPR art. 15) and erasure decisions (art. 17).

A request that is not yet delivered blocks gallring of that person's cases (the answer must
describe what we held when they asked). A person may be more than one contact (an e-mail
contact and a phone contact, or the same personnummer twice): every contact the request found
is in ``register_extract_contacts``; ``contact_id`` is the first of them, kept for a quick look.
Use :func:`pending_extract_clause` to ask "is this contact waiting for an extract?".
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kontaktcenter.core.extensions import Model, UTCDateTime, str_enum, utcnow
from kontaktcenter.organisation.models import User


class ExtractStatus(StrEnum):
    PENDING = "pending"  # asked, not yet delivered: blocks gallring
    DELIVERED = "delivered"
    WITHDRAWN = "withdrawn"

    @property
    def label(self) -> str:
        return {"pending": "Pågående", "delivered": "Levererat", "withdrawn": "Återkallat"}[
            self.value
        ]


class RegisterExtractRequest(Model):
    __tablename__ = "register_extract_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The first contact found; None when we hold nothing about the person (the answer is then
    # "no data", and the request is still logged).
    contact_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("contacts.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[ExtractStatus] = mapped_column(
        str_enum(ExtractStatus), default=ExtractStatus.PENDING
    )
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    requested_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    delivered_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    # Art. 12.3: answer without undue delay, at the latest one month after the request.
    due_on: Mapped[date] = mapped_column(sa.Date)
    # What the person was found by, as it may be shown: {"personnummer": "19121212-****",
    # "email": "…", "phone": "+46…"}. A personnummer is never kept whole here.
    identifiers: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    # How the person's identity was checked, or anything else the registrator notes.
    note: Mapped[str] = mapped_column(sa.Text, default="")

    requested_by: Mapped[User | None] = relationship(foreign_keys=[requested_by_id])
    delivered_by: Mapped[User | None] = relationship(foreign_keys=[delivered_by_id])
    contacts: Mapped[list[RegisterExtractContact]] = relationship(
        order_by="RegisterExtractContact.contact_id", cascade="all, delete-orphan"
    )

    __table_args__ = (sa.Index("ix_register_extract_requests_status", "status", "due_on"),)

    @property
    def reference(self) -> str:
        """The request's number, as written in letters: RU-2026-000012."""
        return f"RU-{self.requested_at.year}-{self.id:06d}"

    @property
    def contact_ids(self) -> list[int]:
        return [row.contact_id for row in self.contacts]

    @property
    def is_pending(self) -> bool:
        return self.status == ExtractStatus.PENDING


class RegisterExtractContact(Model):
    """One contact a register extract request covers."""

    __tablename__ = "register_extract_contacts"

    request_id: Mapped[int] = mapped_column(
        sa.ForeignKey("register_extract_requests.id", ondelete="CASCADE"), primary_key=True
    )
    contact_id: Mapped[int] = mapped_column(
        sa.ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True, index=True
    )


def pending_extract_clause(contact_id: Any) -> sa.ColumnElement[bool]:
    """True where the contact (a column or value) has a register extract request not yet
    delivered: gallring must leave that contact's cases alone."""
    return sa.exists().where(
        RegisterExtractContact.contact_id == contact_id,
        RegisterExtractContact.request_id == RegisterExtractRequest.id,
        RegisterExtractRequest.status == ExtractStatus.PENDING,
    )


class ErasureOutcome(StrEnum):
    GRANTED = "granted"
    REFUSED = "refused"

    @property
    def label(self) -> str:
        return {"granted": "Beviljad", "refused": "Avslagen"}[self.value]


class ErasureDecision(Model):
    """A decision on a request for erasure (art. 17), with its reason and legal ground.

    Kept after the contact itself is anonymised (the decision is the authority's own record),
    so it holds the contact's id only, never its data.
    """

    __tablename__ = "erasure_decisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("contacts.id", ondelete="SET NULL"), index=True
    )
    outcome: Mapped[ErasureOutcome] = mapped_column(str_enum(ErasureOutcome))
    legal_ground: Mapped[str] = mapped_column(sa.String(40))
    reason: Mapped[str] = mapped_column(sa.Text)
    # The cases the decision covers (granted: the ones anonymised).
    case_ids: Mapped[list[int]] = mapped_column(sa.JSON, default=list)
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    decided_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    # Set when the granted erasure was carried out (the cases anonymised).
    carried_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    decided_by: Mapped[User | None] = relationship()
