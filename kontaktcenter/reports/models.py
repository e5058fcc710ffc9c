"""What the reports need that SQL cannot compute from the cases alone."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kontaktcenter.cases.enums import Channel, Outcome
from kontaktcenter.cases.models import Case
from kontaktcenter.core.extensions import Model, UTCDateTime, str_enum, utcnow
from kontaktcenter.goals.models import GoalTarget


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


class ReportDay(Model):
    """A local day whose cases are counted in :class:`ReportDayCases` and
    :class:`ReportDayGoals` (decision 112). The counts are usable while nothing changed since
    (`built_version` = `version`; triggers on ``cases`` and ``case_goals`` bump `version` in the
    transaction that changes a case received that day), the calendar still gives the e-mail
    deadlines `due_1` and `due_2` they were counted with, and nothing counted as pending is due
    any more (`live_until` has passed). Otherwise the reports count that day live."""

    __tablename__ = "report_days"

    day: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    version: Mapped[int] = mapped_column(default=0, server_default="0")
    built_version: Mapped[int | None]
    due_1: Mapped[datetime | None] = mapped_column(UTCDateTime())
    due_2: Mapped[datetime | None] = mapped_column(UTCDateTime())
    live_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # PostgreSQL: the first transaction id not yet begun when the row was created. A case write
    # whose trigger ran before the row existed could not mark it, so the day is counted only
    # once every transaction older than the row has ended.
    created_xmax: Mapped[int | None] = mapped_column(sa.BigInteger)
    built_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ReportDayCases(Model):
    """A day's cases grouped as :func:`period_counts._rows` groups them, with counts that do
    not depend on the time of reading (pending callbacks, unanswered e-mails)."""

    __tablename__ = "report_day_cases"
    __table_args__ = (sa.Index("ix_report_day_cases_day", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(sa.Date, sa.ForeignKey("report_days.day", ondelete="CASCADE"))
    channel: Mapped[Channel] = mapped_column(str_enum(Channel))
    outcome: Mapped[Outcome | None] = mapped_column(str_enum(Outcome))
    case_type_id: Mapped[int | None]
    department_id: Mapped[int | None]
    cases: Mapped[int]
    within_1: Mapped[int]  # e-mails answered by the closing time of the 1st working day after
    within_2: Mapped[int]
    unanswered: Mapped[int]  # e-mails without a first response
    callbacks_booked: Mapped[int]
    callbacks_in_time: Mapped[int]
    callbacks_late: Mapped[int]
    callbacks_pending: Mapped[int]
    min_id: Mapped[int]
    max_id: Mapped[int]


class ReportDayGoals(Model):
    """A day's service goals (of the cases received that day, not cancelled) grouped as
    :func:`compliance.goal_rows` groups them."""

    __tablename__ = "report_day_goals"
    __table_args__ = (sa.Index("ix_report_day_goals_day", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(sa.Date, sa.ForeignKey("report_days.day", ondelete="CASCADE"))
    target: Mapped[GoalTarget] = mapped_column(str_enum(GoalTarget))
    department_id: Mapped[int | None]
    case_type_id: Mapped[int | None]
    channel: Mapped[Channel] = mapped_column(str_enum(Channel))
    in_time: Mapped[int]
    late: Mapped[int]
    pending: Mapped[int]  # not met yet, with a due time (missed or running, by the clock)
    minutes_sum: Mapped[int | None]
    minutes_count: Mapped[int]


class ReportDayHours(Model):
    """A day's cases per channel and local hour, for the volumes (per day, week and month, and
    weekday × hour) of a report without a department or case-type filter."""

    __tablename__ = "report_day_hours"
    __table_args__ = (sa.Index("ix_report_day_hours_day", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(sa.Date, sa.ForeignKey("report_days.day", ondelete="CASCADE"))
    channel: Mapped[Channel] = mapped_column(str_enum(Channel))
    hour: Mapped[int] = mapped_column(sa.SmallInteger)  # local hour 0–23
    cases: Mapped[int]
