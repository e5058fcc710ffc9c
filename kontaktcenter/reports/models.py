"""What the reports need that SQL cannot compute from the cases alone."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kontaktcenter.cases.models import Case
from kontaktcenter.core.extensions import Model, UTCDateTime, utcnow


class ResponseTime(Model):
    """How long the citizen waited for the first answer, measured once when it was given:
    minutes within the opening hours of the calendar in force then, and calendar minutes.
    (Opening hours cannot be summed in SQL; a mean and a median over these can.)"""

    __tablename__ = "case_response_times"

    case_id: Mapped[int] = mapped_column(
        sa.ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True
    )
    office_minutes: Mapped[int]
    calendar_minutes: Mapped[int]
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    case: Mapped[Case] = relationship()
