"""The audit trail: who viewed personal data (GDPR art. 5.2, accountability)."""

from __future__ import annotations

from typing import Any

from kontaktcenter.extensions import db
from kontaktcenter.models import AuditEvent, Case, User


def record(user: User, action: str, case: Case | None = None, **detail: Any) -> None:
    db.session.add(
        AuditEvent(
            user_id=user.id,
            action=action,
            case_id=case.id if case else None,
            contact_id=case.contact_id if case else None,
            detail=detail,
        )
    )
    db.session.commit()
