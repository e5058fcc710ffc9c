"""The audit trail: who viewed personal data (GDPR art. 5.2, accountability)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from kontaktcenter.core.extensions import Model, UTCDateTime, db, utcnow

if TYPE_CHECKING:
    from kontaktcenter.cases.models import Case
    from kontaktcenter.organisation.models import User


def record(
    user: User,
    action: str,
    case: Case | None = None,
    *,
    contact_id: int | None = None,
    **detail: Any,
) -> None:
    db.session.add(
        AuditEvent(
            user_id=user.id,
            action=action,
            case_id=case.id if case else None,
            contact_id=contact_id
            if contact_id is not None
            else (case.contact_id if case else None),
            detail=detail,
        )
    )
    db.session.commit()


class AuditEvent(Model):
    """Who looked at or exported personal data (GDPR art. 5.2 accountability)."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(sa.String(40))
    case_id: Mapped[int | None] = mapped_column(sa.ForeignKey("cases.id"), index=True)
    contact_id: Mapped[int | None] = mapped_column(sa.ForeignKey("contacts.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    detail: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)

    __table_args__ = (sa.Index("ix_audit_events_user_created", "user_id", "created_at"),)
