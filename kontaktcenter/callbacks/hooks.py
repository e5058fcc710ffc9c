"""The callbacks follow what happens to cases and calls, in the same transaction (no commit
here): a booked callback is the case's one pending row (:mod:`.booking`); a reached callback
recorded on the case alone closes the row; a case closed another way cancels it; a call
abandoned in a queue that calls back becomes a callback, and is withdrawn again if a late
``answered`` shows the call was not abandoned after all."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask import current_app

from kontaktcenter.callbacks import booking, closing
from kontaktcenter.callbacks.models import Callback, CallbackSource, CallbackStatus
from kontaktcenter.callbacks.services import CallbackRequest, request_in_transaction
from kontaktcenter.cases import actions as case_actions
from kontaktcenter.cases import events as case_events
from kontaktcenter.cases.models import Case
from kontaktcenter.channels.phone.models import Call, CallState, PhoneQueue
from kontaktcenter.channels.phone.signals import call_changed
from kontaktcenter.core.errors import ValidationError
from kontaktcenter.core.extensions import db, utcnow
from kontaktcenter.goals import engine
from kontaktcenter.goals.models import GoalTarget


@case_events.callback_booked.connect
def _callback_booked(case: Case, at: datetime, requested: datetime | None) -> None:
    booking.booked(case, at, requested)


@case_events.callback_done.connect
def _callback_done(case: Case, at: datetime) -> None:
    callback = booking.pending_of(case)
    if callback is not None:
        closing.reached_elsewhere(callback, at)


@case_events.closed.connect
def _case_closed(case: Case, at: datetime) -> None:
    """Closed another way (answered, referred, merged…): nobody will call. A callback that
    reached the person is closed already, so it is left as it is."""
    callback = booking.pending_of(case)
    if callback is not None:
        closing.cancel_in_transaction(callback, "Ärendet avslutades.", at)


@call_changed.connect
def _call_changed(call: Call, before: object, **_kwargs: object) -> None:
    if call.state == CallState.ABANDONED and before != CallState.ABANDONED:
        _abandoned(call)
    elif before == CallState.ABANDONED and call.state != CallState.ABANDONED:
        _not_abandoned(call)


def abandoned_queue(call: Call) -> PhoneQueue | None:
    """The active queue that calls back the call's caller, if the call qualifies."""
    if not call.queue or call.caller_hidden or not call.caller_e164:
        return None
    queue = db.session.scalars(
        sa.select(PhoneQueue).where(PhoneQueue.name == call.queue, PhoneQueue.active.is_(True))
    ).first()
    if queue is None or not queue.abandoned_callback:
        return None
    if (call.queue_wait_seconds or 0) < queue.abandoned_min_wait_seconds:
        return None
    return queue


def _abandoned(call: Call) -> None:
    queue = abandoned_queue(call)
    if queue is None:
        return
    data = CallbackRequest(
        source=CallbackSource.ABANDONED,
        number=call.caller_e164,
        case_type=queue.case_type if queue.case_type and queue.case_type.active else None,
        platform_ref=call.platform_call_id[:100],
    )
    try:
        request_in_transaction(data, None, call_id=call.id)
    except ValidationError:
        # The event itself is fine; a callback that cannot be made must not refuse it.
        current_app.logger.warning("abandoned call %s: no callback", call.id, exc_info=True)


def _not_abandoned(call: Call) -> None:
    callback = db.session.scalars(
        sa.select(Callback).where(
            Callback.source == CallbackSource.ABANDONED,
            Callback.call_id == call.id,
            Callback.status == CallbackStatus.PENDING,
            Callback.attempts == 0,
        )
    ).first()
    if callback is None:
        return
    now = utcnow()
    case = callback.case
    closing.cancel_in_transaction(callback, "Samtalet besvarades ändå.", now)
    engine.cancel(case, GoalTarget.CALLBACK, now)
    if case.is_open:  # made for this callback alone: nothing is left to do on it
        case_actions.close_in_transaction(
            case, None, now, "Samtalet besvarades ändå: ingen återuppringning behövs."
        )
