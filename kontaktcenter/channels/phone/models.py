"""Calls reported by the telephony platform (issue #14): each event as it came, and the call
as the set of its events describes it.

A platform posts `ringing`, `answered`, `transferred`, `ended` and `abandoned` for its call id.
Events may arrive twice or out of order: ``call_events`` keeps one row per (call, kind) and
``calls`` is recomputed from all of a call's rows after each new one (calls.derive), so the
order of arrival never matters.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kontaktcenter.cases.models import Case
from kontaktcenter.core.extensions import Model, UTCDateTime, str_enum, utcnow
from kontaktcenter.core.identifiers import format_phone
from kontaktcenter.organisation.models import CaseType, User

HIDDEN_NUMBER = "Dolt nummer"


class CallEventKind(StrEnum):
    RINGING = "ringing"
    ANSWERED = "answered"
    TRANSFERRED = "transferred"
    ENDED = "ended"
    ABANDONED = "abandoned"


class CallState(StrEnum):
    """Where a call is, from the set of its events: the furthest step wins."""

    RINGING = "ringing"
    ANSWERED = "answered"
    ENDED = "ended"  # answered, then ended
    ABANDONED = "abandoned"  # the caller hung up before anyone answered

    @property
    def label(self) -> str:
        return {
            CallState.RINGING: "Ringer",
            CallState.ANSWERED: "Pågår",
            CallState.ENDED: "Avslutat",
            CallState.ABANDONED: "Avbrutet i kö",
        }[self]


class CallIntegrationUser(Model):
    """A user account that stands for a telephony platform: only its tokens may post call
    events (an agent's or an admin's token may not)."""

    __tablename__ = "call_integration_users"

    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    user: Mapped[User] = relationship()


class CallAgent(Model):
    """The platform's id of an agent (when its events name agents by id, not by e-mail)."""

    __tablename__ = "call_agents"

    platform_agent_id: Mapped[str] = mapped_column(sa.String(100), primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)

    user: Mapped[User] = relationship()


class Call(Model):
    __tablename__ = "calls"

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_call_id: Mapped[str] = mapped_column(sa.String(100), unique=True)
    state: Mapped[CallState] = mapped_column(str_enum(CallState), default=CallState.RINGING)
    caller_e164: Mapped[str | None] = mapped_column(sa.String(20), index=True)
    caller_raw: Mapped[str | None] = mapped_column(sa.String(64))  # as sent, if not a number
    caller_hidden: Mapped[bool] = mapped_column(default=False)
    called_number: Mapped[str | None] = mapped_column(sa.String(64))  # ours: E.164 if a number
    queue: Mapped[str | None] = mapped_column(sa.String(100))
    agent_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    transferred_to_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    ringing_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    transferred_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    abandoned_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    queue_wait_seconds: Mapped[int | None] = mapped_column()
    case_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("cases.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    agent: Mapped[User | None] = relationship(foreign_keys=[agent_id])
    transferred_to: Mapped[User | None] = relationship(foreign_keys=[transferred_to_id])
    case: Mapped[Case | None] = relationship()

    @property
    def talk_seconds(self) -> int | None:
        if self.answered_at is None or self.ended_at is None:
            return None
        return max(0, int((self.ended_at - self.answered_at).total_seconds()))

    @property
    def caller_label(self) -> str:
        if self.caller_hidden:
            return HIDDEN_NUMBER
        return format_phone(self.caller_e164) if self.caller_e164 else (self.caller_raw or "")

    @property
    def handled_by_id(self) -> int | None:
        """The agent who has the call last: the one it was transferred to, else who answered."""
        return self.transferred_to_id or self.agent_id


class CallEvent(Model):
    __tablename__ = "call_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(sa.ForeignKey("calls.id", ondelete="CASCADE"))
    kind: Mapped[CallEventKind] = mapped_column(str_enum(CallEventKind))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    agent_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    caller_e164: Mapped[str | None] = mapped_column(sa.String(20))
    caller_raw: Mapped[str | None] = mapped_column(sa.String(64))
    caller_hidden: Mapped[bool] = mapped_column(default=False)
    called_number: Mapped[str | None] = mapped_column(sa.String(64))
    queue: Mapped[str | None] = mapped_column(sa.String(100))
    queue_wait_seconds: Mapped[int | None] = mapped_column()

    call: Mapped[Call] = relationship()

    __table_args__ = (
        sa.UniqueConstraint("call_id", "kind"),
        # The screen pop's replay: an agent's answered/transferred events after an id.
        sa.Index("ix_call_events_agent_id_id", "agent_id", "id"),
    )


class PhoneQueue(Model):
    """A queue (or number) of ours on the phone platform, as its events name it (``queue``):
    what an abandoned call in it leads to, and its answer goal for the phone statistics."""

    __tablename__ = "phone_queues"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(100), unique=True)  # as in the events
    label: Mapped[str] = mapped_column(sa.String(120))  # as people know it
    # The case type a callback from this queue gets (None: unclassified, first line).
    case_type_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("case_types.id", ondelete="SET NULL")
    )
    # An abandoned call with a known number becomes a callback (after a wait this long: a
    # caller who hung up at once has probably misdialled).
    abandoned_callback: Mapped[bool] = mapped_column(default=False)
    abandoned_min_wait_seconds: Mapped[int] = mapped_column(default=10)
    answer_goal_seconds: Mapped[int] = mapped_column(default=60)  # "besvarat inom 60 s"
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    case_type: Mapped[CaseType | None] = relationship()
