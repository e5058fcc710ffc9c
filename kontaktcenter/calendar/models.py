"""The contact center's calendar configuration: weekly opening hours and exception days."""

from __future__ import annotations

from datetime import date, time

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from kontaktcenter.core.extensions import Model


class OpeningWindow(Model):
    """The contact center's weekly opening hours; several windows a day (lunch closure)."""

    __tablename__ = "opening_windows"

    id: Mapped[int] = mapped_column(primary_key=True)
    weekday: Mapped[int] = mapped_column(sa.SmallInteger)  # 0 = Monday
    start: Mapped[time] = mapped_column(sa.Time)
    end: Mapped[time] = mapped_column(sa.Time)


class CalendarException(Model):
    """A closure day (no windows) or a shortened day (other windows), e.g. a klämdag."""

    __tablename__ = "calendar_exceptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(sa.Date, unique=True)
    windows: Mapped[list[str]] = mapped_column(sa.JSON, default=list)  # ["08:00-12:00"]
    reason: Mapped[str] = mapped_column(sa.String(200), default="")
