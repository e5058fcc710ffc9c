"""The goal engine listens to what happens to cases (:mod:`kontaktcenter.cases.events`) and to
the calendar, and keeps each case's promises in the same transaction as the change."""

from __future__ import annotations

from datetime import datetime

from kontaktcenter.calendar.services import calendar_changed
from kontaktcenter.cases import events
from kontaktcenter.cases.models import Case
from kontaktcenter.core import outbox
from kontaktcenter.goals import engine


@events.created.connect
def _created(case: Case, at: datetime) -> None:
    engine.on_created(case, at)


@events.routed.connect
def _routed(case: Case, at: datetime) -> None:
    engine.on_routed(case, at)


@events.department_acted.connect
def _department_acted(case: Case, at: datetime) -> None:
    engine.on_department_acted(case, at)


@events.classified.connect
def _classified(case: Case, at: datetime) -> None:
    engine.on_classified(case, at)


@events.callback_booked.connect
def _callback_booked(case: Case, at: datetime, requested: datetime | None) -> None:
    case.callback_due_at = engine.on_callback_booked(case, at, requested)


@events.callback_done.connect
def _callback_done(case: Case, at: datetime) -> None:
    engine.on_callback_done(case, at)


@events.first_response.connect
def _first_response(case: Case, at: datetime) -> None:
    engine.on_first_response(case, at)


@events.closed.connect
def _closed(case: Case, at: datetime) -> None:
    engine.on_closed(case, at)


@events.reopened.connect
def _reopened(case: Case, at: datetime) -> None:
    engine.on_reopened(case, at)


@events.changed.connect
def _changed(case: Case, at: datetime) -> None:
    engine.refresh(case, at)


@calendar_changed.connect
def _calendar_changed(_sender: object) -> None:
    """Open cases were given due times under the old calendar: recompute them in a job."""
    outbox.add("goals.refresh_open_cases")
