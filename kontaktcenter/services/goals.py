"""Due times promised on a case.

The core keeps one rule: a case is due within its case type's callback promise (24 hours by
default). The service-goal engine (working-day calendar, goals per channel and case type)
replaces the body of these functions; callers only ask "when is this due?".
"""

from __future__ import annotations

from datetime import datetime, timedelta

from kontaktcenter.models import CaseType, Channel

DEFAULT_PROMISE_HOURS = 24


def promise_hours(case_type: CaseType | None) -> int:
    return case_type.callback_promise_hours if case_type is not None else DEFAULT_PROMISE_HOURS


def initial_due(received_at: datetime, channel: Channel, case_type: CaseType | None) -> datetime:
    return received_at + timedelta(hours=promise_hours(case_type))


def callback_due(booked_at: datetime, case_type: CaseType | None) -> datetime:
    return booked_at + timedelta(hours=promise_hours(case_type))
