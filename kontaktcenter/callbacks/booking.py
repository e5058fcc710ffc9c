"""One pending callback row per case, whichever path books it.

Every booking goes through ``cases.events.callback_booked`` (the call form's outcome, the case
page, merging, the API, :func:`kontaktcenter.callbacks.services.request`); :func:`booked`, its
receiver, makes the case's pending :class:`Callback` or gives the one it has the new promise.
The callbacks services say where a booking came from (source, slot, reference) through
:data:`current`; a booking from the cases area alone is the call form's (a new case) or the
case page's.

The promise is the service goals' ``case.callback_due_at``. Signal receivers run in no set
order, so the goals' receiver may set it after this one: an attribute listener copies every
later value to the case's pending row. New rows are announced (``callbacks.events.created``)
just before the transaction commits, after a flush: the call form numbers its case last and
must not be flushed earlier.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kontaktcenter.callbacks import events, rules
from kontaktcenter.callbacks.models import Callback, CallbackAttempt, CallbackSource, CallbackStatus
from kontaktcenter.cases.enums import ActivityKind
from kontaktcenter.cases.models import Activity, Case
from kontaktcenter.core.extensions import db

_PENDING_KEY = "callbacks.pending"  # on the case's InstanceState.info
_NEW_KEY = "callbacks.new"  # on the Session.info: rows to announce before the commit


@dataclass
class Booking:
    source: CallbackSource
    slot_start: datetime | None = None
    slot_end: datetime | None = None
    note: str | None = None
    platform_ref: str | None = None
    number_e164: str | None = None
    call_id: int | None = None


current: ContextVar[Booking | None] = ContextVar("callback_booking", default=None)


def pending_of(case: Case) -> Callback | None:
    """The case's pending callback (also one made in this transaction and not yet flushed)."""
    known = sa.inspect(case).info.get(_PENDING_KEY)
    if (
        isinstance(known, Callback)
        and known in db.session  # not one of a rolled-back transaction
        and known.status == CallbackStatus.PENDING
    ):
        return known
    if case.id is None:
        return None
    found = db.session.scalars(
        sa.select(Callback)
        .where(Callback.case_id == case.id, Callback.status == CallbackStatus.PENDING)
        .order_by(Callback.id)
        .limit(1)
    ).first()
    if found is not None:
        sa.inspect(case).info[_PENDING_KEY] = found
    return found


def booked(case: Case, at: datetime, requested: datetime | None) -> Callback:
    """The receiver of ``cases.events.callback_booked``: the case's one pending callback."""
    booking = current.get() or Booking(
        CallbackSource.CALL_FORM if case.id is None else CallbackSource.AGENT
    )
    callback = pending_of(case)
    with db.session.no_autoflush:  # the row is complete before anything flushes it
        return _book(case, at, requested, booking, callback)


def _book(
    case: Case,
    at: datetime,
    requested: datetime | None,
    booking: Booking,
    callback: Callback | None,
) -> Callback:
    if callback is None:
        callback = Callback(
            case=case,
            status=CallbackStatus.PENDING,
            source=booking.source,
            platform_ref=booking.platform_ref,
            call_id=booking.call_id,
            attempts=0,
            created_at=at,
        )
        db.session.add(callback)
        db.session.info.setdefault(_NEW_KEY, []).append(callback)
    callback.number_e164 = booking.number_e164 or (
        case.contact.phone_e164 if case.contact is not None else None
    )
    if booking.note:
        callback.note = booking.note
    callback.slot_start, callback.slot_end = booking.slot_start, booking.slot_end
    callback.next_attempt_at = _not_before(callback, booking.slot_start)
    # Provisional when the goals' receiver has not run yet; _promise_changed corrects it.
    callback.due_at = case.callback_due_at or requested or at
    sa.inspect(case).info[_PENDING_KEY] = callback
    return callback


def _not_before(callback: Callback, slot_start: datetime | None) -> datetime | None:
    """The next allowed attempt after a (re)booking: the slot's start, but never before the
    retry rule's gap after the last attempt (booking again after "Inget svar" must not make
    the callback callable at once)."""
    if not callback.attempts or callback.id is None:
        return slot_start
    last = db.session.scalar(
        sa.select(sa.func.max(CallbackAttempt.at)).where(CallbackAttempt.callback_id == callback.id)
    )
    if last is None:
        return slot_start
    gap = rules.effective_rule(callback.case.case_type).min_gap_minutes
    retry_at = last + timedelta(minutes=gap)
    return retry_at if slot_start is None or slot_start < retry_at else slot_start


@sa.event.listens_for(Case.callback_due_at, "set")
def _promise_changed(case: Case, value: datetime | None, _old: object, _initiator: object) -> None:
    callback = sa.inspect(case).info.get(_PENDING_KEY)
    if (
        value is not None
        and isinstance(callback, Callback)
        and callback in db.session
        and callback.status == CallbackStatus.PENDING
    ):
        callback.due_at = value


def _note_from_timeline(session: Session, callback: Callback) -> None:
    """The call form writes what to call about on the booking's timeline entry only."""
    if callback.note:
        return
    for obj in session.new:
        if (
            isinstance(obj, Activity)
            and obj.case is callback.case
            and obj.kind == ActivityKind.CALLBACK_BOOKED
            and obj.text
        ):
            callback.note = obj.text[:500]


# First of the before_commit listeners: receivers of `created` (distribution) note the new rows
# for their own before_commit listener, which must run after this one.
@sa.event.listens_for(Session, "before_commit", insert=True)
def _announce(session: Session) -> None:
    new = session.info.pop(_NEW_KEY, None)
    if not new:
        return
    for callback in new:
        _note_from_timeline(session, callback)
    session.flush()
    for callback in new:
        if callback.id is not None and callback in session:
            events.created.send(callback)


@sa.event.listens_for(Session, "after_soft_rollback")
def _forget(session: Session, previous: sa.orm.SessionTransaction) -> None:
    if not previous.nested:
        session.info.pop(_NEW_KEY, None)
