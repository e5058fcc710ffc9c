"""Service goals: the business calendar's configuration, goal definitions, and each case's goals."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kontaktcenter.calendar.business_calendar import Unit
from kontaktcenter.cases.enums import Channel
from kontaktcenter.core.extensions import Model, UTCDateTime, str_enum, utcnow
from kontaktcenter.organisation.models import CaseType


class GoalTarget(StrEnum):
    FIRST_RESPONSE = "first_response"
    CALLBACK = "callback"
    RESOLUTION = "resolution"
    SECOND_LINE = "second_line"  # the department a case is routed to must act

    @property
    def label(self) -> str:
        return {
            "first_response": "Första svar",
            "callback": "Återuppringning",
            "resolution": "Lösning",
            "second_line": "Förvaltningen tar ärendet",
        }[self.value]


class GoalState(StrEnum):
    OK = "ok"
    AT_RISK = "at_risk"
    BREACHED = "breached"
    MET = "met"
    PAUSED = "paused"

    @property
    def label(self) -> str:
        return {
            "ok": "I tid",
            "at_risk": "Snart försenat",
            "breached": "Försenat",
            "met": "Uppfyllt",
            "paused": "Pausat",
        }[self.value]


UNIT_LABELS = {
    Unit.WORKING_DAYS: "arbetsdagar",
    Unit.WORKING_DAY_HOURS: "timmar på vardagar",
    Unit.OPENING_HOURS: "timmar inom öppettid",
    Unit.CALENDAR_HOURS: "timmar (dygnet runt)",
}


class ServiceGoal(Model):
    """A promise: `target` within `amount` `unit`, for a channel and/or case type (None = any)."""

    __tablename__ = "service_goals"

    id: Mapped[int] = mapped_column(primary_key=True)
    target: Mapped[GoalTarget] = mapped_column(str_enum(GoalTarget))
    channel: Mapped[Channel | None] = mapped_column(str_enum(Channel))
    case_type_id: Mapped[int | None] = mapped_column(sa.ForeignKey("case_types.id"), index=True)
    amount: Mapped[int]  # working days, or hours for the hour-based units
    unit: Mapped[Unit] = mapped_column(str_enum(Unit))
    at_risk_percent: Mapped[int] = mapped_column(default=20)  # at risk when this much is left
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    case_type: Mapped[CaseType | None] = relationship()

    @property
    def description(self) -> str:
        return f"inom {self.amount} {UNIT_LABELS[self.unit]}"


_BREACHED = sa.text("breached_at IS NOT NULL AND cancelled_at IS NULL")
_RUNNING = sa.text("met_at IS NULL AND cancelled_at IS NULL")
_UNBREACHED = sa.text("met_at IS NULL AND cancelled_at IS NULL AND breached_at IS NULL")
_UNFLAGGED = sa.text("met_at IS NULL AND cancelled_at IS NULL AND at_risk_flagged_at IS NULL")


class CaseGoal(Model):
    """One goal of one case, with the definition it was computed from kept alongside."""

    __tablename__ = "case_goals"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id"))
    target: Mapped[GoalTarget] = mapped_column(str_enum(GoalTarget))
    definition: Mapped[dict[str, Any]] = mapped_column(sa.JSON)  # amount, unit, at_risk_percent…
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    at_risk_at: Mapped[datetime] = mapped_column(UTCDateTime())
    met_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # superseded
    breached_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # recorded once
    at_risk_flagged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # recorded once
    alerts_sent: Mapped[list[str]] = mapped_column(sa.JSON, default=list)  # job idempotency
    business_minutes: Mapped[int | None]  # when met: time used, pauses excluded
    calendar_minutes: Mapped[int | None]

    case = relationship("Case", back_populates="goals")

    __table_args__ = (
        sa.Index("ix_case_goals_case_id", "case_id", "target"),
        # The sweep: only goals not yet recorded as breached / at risk stay in these indexes.
        sa.Index(
            "ix_case_goals_sweep_due",
            "due_at",
            postgresql_where=_UNBREACHED,
            sqlite_where=_UNBREACHED,
        ),
        sa.Index(
            "ix_case_goals_sweep_at_risk",
            "at_risk_at",
            postgresql_where=_UNFLAGGED,
            sqlite_where=_UNFLAGGED,
        ),
        sa.Index("ix_case_goals_breached", "breached_at"),
        # The managers' list of breached goals still running, newest first.
        sa.Index(
            "ix_case_goals_breached_running",
            "breached_at",
            postgresql_where=_RUNNING,
            sqlite_where=_RUNNING,
        ),
        # The report's breaches of a period, latest due first (read backwards): walked until 100 of
        # the period are found (the period's cases are joined by id).
        sa.Index(
            "ix_case_goals_breaches_due",
            "due_at",
            postgresql_where=_BREACHED,
            sqlite_where=_BREACHED,
        ),
    )

    @property
    def is_active(self) -> bool:
        return self.met_at is None and self.cancelled_at is None

    @property
    def unit(self) -> Unit:
        return Unit(self.definition["unit"])
