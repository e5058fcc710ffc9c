"""The audit trail: who viewed, changed or exported personal data (GDPR art. 5.2, accountability).

Rows are written freely, by any request, in its own transaction (:func:`add`) or committed at
once (:func:`record`). They are append-only: the ORM refuses to change or delete one (below),
PostgreSQL refuses it with a trigger (migration 0017), and a periodic *seal*
(:mod:`kontaktcenter.core.audit_chain`) gives every row a sequence number and a hash that chains
it to the one before, so a verification finds any row changed or removed behind the app's back.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from kontaktcenter.core.extensions import Model, UTCDateTime, db, utcnow

if TYPE_CHECKING:
    from kontaktcenter.cases.models import Case
    from kontaktcenter.organisation.models import User

GENESIS = "0" * 64  # the "previous hash" of the first event ever sealed
CHAIN_ID = 1  # audit_chain holds one row


def add(
    user: User | None,
    action: str,
    case: Case | None = None,
    *,
    contact_id: int | None = None,
    **detail: Any,
) -> AuditEvent:
    """Log `action` in the current transaction, without committing: it is kept if and only if
    the change it describes is."""
    event = AuditEvent(**_values(user, action, case, contact_id, detail))
    db.session.add(event)
    return event


def record(
    user: User,
    action: str,
    case: Case | None = None,
    *,
    contact_id: int | None = None,
    **detail: Any,
) -> None:
    """Log `action` and commit: for reads (a page view, a search), which change nothing else.
    Written with a Core INSERT: no object to track and flush for a row nobody reads back in
    this request (issue #16)."""
    row = _values(user, action, case, contact_id, detail)
    # On the session's connection, in its transaction: no ORM execution path (#16).
    db.session.connection().execute(_INSERT, {**row, "created_at": utcnow()})
    db.session.commit()


def _values(
    user: User | None,
    action: str,
    case: Case | None,
    contact_id: int | None,
    detail: dict[str, Any],
) -> dict[str, Any]:
    """An event's columns: the person is the case's contact unless named."""
    return {
        "user_id": user.id if user is not None else None,
        "action": action,
        "case_id": case.id if case else None,
        "contact_id": contact_id if contact_id is not None else (case.contact_id if case else None),
        "detail": detail,
    }


class AuditEvent(Model):
    """Who looked at, changed or exported personal data (GDPR art. 5.2 accountability)."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(sa.String(40))
    case_id: Mapped[int | None] = mapped_column(sa.ForeignKey("cases.id"))
    contact_id: Mapped[int | None] = mapped_column(sa.ForeignKey("contacts.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    detail: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    # Set once by the seal (audit_chain.seal): the place in the chain and the chained hash.
    seq: Mapped[int | None] = mapped_column(sa.BigInteger, unique=True)
    hash: Mapped[str | None] = mapped_column(sa.String(64))

    __table_args__ = (
        # A place in the chain is positive (migration 0017): none can sit below the genesis.
        sa.CheckConstraint("seq > 0", name="seq_positive"),
        # The log's searches, newest first: everything, per user, per case, per person, per
        # action. Each ends in (created_at, id), the keyset the pages continue from.
        sa.Index("ix_audit_events_user_created", "user_id", "created_at"),
        sa.Index("ix_audit_events_created", "created_at", "id"),
        sa.Index("ix_audit_events_case_created", "case_id", "created_at", "id"),
        sa.Index("ix_audit_events_contact_created", "contact_id", "created_at", "id"),
        sa.Index("ix_audit_events_action_created", "action", "created_at", "id"),
        # What the seal has still to chain.
        sa.Index(
            "ix_audit_events_unsealed",
            "id",
            postgresql_where=sa.text("seq IS NULL"),
            sqlite_where=sa.text("seq IS NULL"),
        ),
    )


_INSERT = sa.insert(cast(sa.Table, AuditEvent.__table__)).inline()  # no RETURNING: id unused


class AuditChain(Model):
    """The chain's one row: its head (the last sealed event) and its anchor (the last event
    purged after the retention period), so the events left still verify from the anchor; and
    the outcome of the last verification, for the admin page."""

    __tablename__ = "audit_chain"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    last_seq: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    last_hash: Mapped[str] = mapped_column(sa.String(64), default=GENESIS)
    purged_seq: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    purged_hash: Mapped[str] = mapped_column(sa.String(64), default=GENESIS)
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    verified_intact: Mapped[bool | None] = mapped_column(sa.Boolean)
    verified_checked: Mapped[int | None] = mapped_column(sa.BigInteger)
    verified_problem: Mapped[str | None] = mapped_column(sa.String(300))


@sa.event.listens_for(AuditEvent, "before_update")
@sa.event.listens_for(AuditEvent, "before_delete")
def _events_are_append_only(mapper: Any, connection: Any, target: AuditEvent) -> None:
    """The ORM never changes or deletes an event: the seal sets seq and hash, and the retention
    purge removes old events, each with its own SQL statement (core/audit_chain.py)."""
    raise RuntimeError("The audit log is append-only")
