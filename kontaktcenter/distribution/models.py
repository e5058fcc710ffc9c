"""Agent status (presence), the distribution settings, and which items distribution handed out.

``agent_presence`` is one row per agent who ever set a status: the status, since when, whether
the system set it (a call made the agent "i samtal"), when the agent was last seen (signed in =
seen within ``DISTRIBUTION_PRESENCE_MINUTES``) and when distribution last gave them an item
(round-robin order). Distribution locks these rows while it picks an agent, so two jobs never
both see room under the cap.

``distributed_items`` remembers what distribution handed to whom, so that an agent going on a
break gives back only what distribution gave them and they have not started.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kontaktcenter.core.extensions import Model, UTCDateTime, str_enum, utcnow
from kontaktcenter.organisation.models import User

_AVAILABLE = sa.text("status = 'available'")


class AgentStatus(StrEnum):
    AVAILABLE = "available"
    IN_CALL = "in_call"
    BREAK = "break"
    TRAINING = "training"
    SIGNED_OUT = "signed_out"

    @property
    def label(self) -> str:
        return {
            "available": "Tillgänglig",
            "in_call": "I samtal",
            "break": "Rast",
            "training": "Utbildning",
            "signed_out": "Utloggad",
        }[self.value]

    @property
    def gives_back(self) -> bool:
        """Away for a while: untouched distributed items go back to the queue."""
        return self in (AgentStatus.BREAK, AgentStatus.TRAINING, AgentStatus.SIGNED_OUT)


# What an agent may choose in the header (i samtal is set by the phone platform's events, and
# utloggad by signing out, but an agent may also pick them).
CHOOSABLE = (AgentStatus.AVAILABLE, AgentStatus.IN_CALL, AgentStatus.BREAK, AgentStatus.TRAINING)


class DistributionMode(StrEnum):
    OFF = "off"
    ROUND_ROBIN = "round_robin"
    LEAST_LOADED = "least_loaded"

    @property
    def label(self) -> str:
        return {
            "off": "Av (bara ”ta nästa”)",
            "round_robin": "Turordning (den som fick senast får sist)",
            "least_loaded": "Minst belastad (färst öppna tilldelade)",
        }[self.value]


class AgentPresence(Model):
    __tablename__ = "agent_presence"

    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    status: Mapped[AgentStatus] = mapped_column(
        str_enum(AgentStatus), default=AgentStatus.SIGNED_OUT
    )
    since: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The system set the status (an answered call): the call's end may set it back.
    set_by_system: Mapped[bool] = mapped_column(default=False)
    seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship()

    __table_args__ = (
        # Distribution's candidates: the available agents.
        sa.Index(
            "ix_agent_presence_available",
            "seen_at",
            postgresql_where=_AVAILABLE,
            sqlite_where=_AVAILABLE,
        ),
    )


class DistributionSettings(Model):
    """One row (id 1); no row: distribution is off."""

    __tablename__ = "distribution_settings"

    id: Mapped[int] = mapped_column(primary_key=True)
    mode: Mapped[DistributionMode] = mapped_column(
        str_enum(DistributionMode), default=DistributionMode.OFF
    )
    emails: Mapped[bool] = mapped_column(default=True)  # new e-mails in the first line's queue
    callbacks: Mapped[bool] = mapped_column(default=True)  # new callbacks of the first line
    cap: Mapped[int] = mapped_column(default=5)  # open items assigned per agent, at most
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class DistributedItem(Model):
    """A case or a callback that distribution gave to an agent (one of the two ids is set)."""

    __tablename__ = "distributed_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    case_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("cases.id", ondelete="CASCADE"), unique=True
    )
    callback_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("callbacks.id", ondelete="CASCADE"), unique=True
    )
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (
        sa.CheckConstraint("(case_id IS NULL) <> (callback_id IS NULL)", name="one_item"),
    )
