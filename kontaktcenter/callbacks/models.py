"""Callbacks (återuppringningar) as a worklist (issue #14): each request to call someone back,
its attempts, and the retry rules per case type.

A callback always belongs to a case: the case carries the promise on its timeline and in the
service goals (``cases.callback_due_at`` / ``callback_done_at`` stay the case's summary of its
open callback, kept in step by :mod:`kontaktcenter.callbacks.services`). The worklist reads
``callbacks``, never the cases table's callback columns.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kontaktcenter.cases.enums import CallbackResult
from kontaktcenter.cases.models import Case
from kontaktcenter.channels.email.models import MailTemplate
from kontaktcenter.core.extensions import Model, UTCDateTime, str_enum, utcnow
from kontaktcenter.organisation.models import CaseType, User

_PENDING = sa.text("status = 'pending'")
_LETTER_TO_SEND = sa.text("fallback = 'letter' AND fallback_done_at IS NULL")
_ABANDONED = sa.text("source = 'abandoned'")


class CallbackStatus(StrEnum):
    PENDING = "pending"  # to be called
    REACHED = "reached"  # done: the person was reached
    EXHAUSTED = "exhausted"  # done: the retry rules were used up (then a letter or an e-mail)
    CANCELLED = "cancelled"  # withdrawn, or the case was closed another way

    @property
    def label(self) -> str:
        return {
            "pending": "Väntar",
            "reached": "Klar – nådde personen",
            "exhausted": "Klar – försöken slut",
            "cancelled": "Återkallad",
        }[self.value]

    @property
    def done(self) -> bool:
        return self in (CallbackStatus.REACHED, CallbackStatus.EXHAUSTED)


class CallbackSource(StrEnum):
    PLATFORM = "platform"  # the phone platform's queue callback (POST /api/v1/callbacks)
    E_SERVICE = "e_service"  # an e-service (POST /api/v1/callbacks)
    CALL_FORM = "call_form"  # an agent logged a call with the outcome "callback"
    AGENT = "agent"  # booked on a case's page
    ABANDONED = "abandoned"  # a call abandoned in a queue that calls back

    @property
    def label(self) -> str:
        return {
            "platform": "Telefonkö",
            "e_service": "E-tjänst",
            "call_form": "Samtal",
            "agent": "Bokad i ärendet",
            "abandoned": "Avbrutet samtal",
        }[self.value]


class Fallback(StrEnum):
    """What happens when the attempts are used up without reaching the person."""

    NONE = "none"
    EMAIL = "email"  # an e-mail from a template, when the person has an address (else a letter)
    LETTER = "letter"  # a letter: the worklist lists it until someone marks it sent

    @property
    def label(self) -> str:
        return {"none": "Ingenting", "email": "E-post (annars brev)", "letter": "Brev"}[self.value]


class CallbackRule(Model):
    """Retry rules for a case type's callbacks; the row with no case type is the default."""

    __tablename__ = "callback_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_type_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("case_types.id", ondelete="CASCADE"), unique=True
    )
    max_attempts: Mapped[int] = mapped_column(default=3)
    min_gap_minutes: Mapped[int] = mapped_column(default=120)  # between two attempts
    fallback: Mapped[Fallback] = mapped_column(str_enum(Fallback), default=Fallback.EMAIL)
    fallback_template_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("mail_templates.id", ondelete="SET NULL")
    )
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    case_type: Mapped[CaseType | None] = relationship()
    fallback_template: Mapped[MailTemplate | None] = relationship()


class Callback(Model):
    __tablename__ = "callbacks"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    status: Mapped[CallbackStatus] = mapped_column(
        str_enum(CallbackStatus), default=CallbackStatus.PENDING
    )
    source: Mapped[CallbackSource] = mapped_column(str_enum(CallbackSource))
    # The reference of the request that made it (the platform's callback id, the e-service's
    # errand id, the abandoned call's id). Idempotency is kept per requester in
    # callback_requests, which also holds the requests that joined this callback.
    platform_ref: Mapped[str | None] = mapped_column(sa.String(100))
    number_e164: Mapped[str | None] = mapped_column(sa.String(20))  # whom to call
    note: Mapped[str | None] = mapped_column(sa.String(500))  # what to call about
    # The requested slot; both None: as soon as possible.
    slot_start: Mapped[datetime | None] = mapped_column(UTCDateTime())
    slot_end: Mapped[datetime | None] = mapped_column(UTCDateTime())
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())  # the promise (service goals)
    # Not before this time: the slot's start, then the retry rule's gap after an attempt.
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(default=0)
    # Who has it: taken with "ta nästa återuppringning", or given by distribution.
    assigned_to_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    call_id: Mapped[int | None] = mapped_column(  # the abandoned call it came from
        sa.ForeignKey("calls.id", ondelete="SET NULL"), index=True
    )
    # Exhausted: the fallback that applied ("email" sent, "letter" to send) and when it was done.
    fallback: Mapped[Fallback | None] = mapped_column(str_enum(Fallback))
    fallback_done_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)  # today's list

    case: Mapped[Case] = relationship()
    assigned_to: Mapped[User | None] = relationship()
    attempt_rows: Mapped[list[CallbackAttempt]] = relationship(
        back_populates="callback", order_by="CallbackAttempt.at", cascade="all, delete-orphan"
    )

    __table_args__ = (
        # The worklist and "ta nästa": pending callbacks by due time.
        sa.Index(
            "ix_callbacks_pending_due",
            "due_at",
            "id",
            postgresql_where=_PENDING,
            sqlite_where=_PENDING,
        ),
        # A request from a number with a pending callback joins it (no second callback).
        sa.Index(
            "ix_callbacks_pending_number",
            "number_e164",
            postgresql_where=_PENDING,
            sqlite_where=_PENDING,
        ),
        # "Brev att skicka": exhausted callbacks whose letter is not sent yet.
        sa.Index(
            "ix_callbacks_letters",
            "closed_at",
            postgresql_where=_LETTER_TO_SEND,
            sqlite_where=_LETTER_TO_SEND,
        ),
    )


class CallbackRequestRecord(Model):
    """One request from outside a case (the phone platform, an e-service, an abandoned call)
    and the callback it made or joined. The requester's reference is unique per source and
    requester (the token's user; None for an abandoned call): the same request again answers
    with the same callback, never a second one or a second note on the case."""

    __tablename__ = "callback_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    callback_id: Mapped[int] = mapped_column(
        sa.ForeignKey("callbacks.id", ondelete="CASCADE"), index=True
    )
    source: Mapped[CallbackSource] = mapped_column(str_enum(CallbackSource))
    requested_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    reference: Mapped[str | None] = mapped_column(sa.String(100))
    joined: Mapped[bool] = mapped_column(default=False)  # False: it made the callback
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    callback: Mapped[Callback] = relationship()

    __table_args__ = (
        sa.UniqueConstraint("source", "requested_by_id", "reference"),
        # An abandoned call has no requester, and NULLs are distinct in the above.
        sa.Index(
            "uq_callback_requests_abandoned",
            "reference",
            unique=True,
            postgresql_where=_ABANDONED,
            sqlite_where=_ABANDONED,
        ),
    )


class CallbackAttempt(Model):
    __tablename__ = "callback_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    callback_id: Mapped[int] = mapped_column(
        sa.ForeignKey("callbacks.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    result: Mapped[CallbackResult] = mapped_column(str_enum(CallbackResult))
    note: Mapped[str | None] = mapped_column(sa.String(500))

    callback: Mapped[Callback] = relationship(back_populates="attempt_rows")
    by: Mapped[User | None] = relationship()
