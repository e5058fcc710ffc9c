"""The callbacks follow what happens to cases and calls, in the same transaction (no commit
here): a booked callback is the case's one pending row (:mod:`.booking`), and a merge moves the
absorbed case's row to the survivor; a reached callback recorded on the case alone closes the
row; a case closed another way cancels it; a call abandoned in a queue that calls back becomes a
callback (or joins the one its caller already waits for), and is withdrawn again if a late
``answered`` shows the call was not abandoned after all, unless someone else's request or work
now depends on it. The promise follows the case's callback goal (:mod:`.promise`)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask import current_app

from kontaktcenter.callbacks import booking, closing, promise
from kontaktcenter.callbacks.models import Callback, CallbackSource, CallbackStatus
from kontaktcenter.callbacks.services import CallbackRequest, request_in_transaction
from kontaktcenter.cases import actions as case_actions
from kontaktcenter.cases import events as case_events
from kontaktcenter.cases.enums import ActivityKind
from kontaktcenter.cases.models import Activity, Case
from kontaktcenter.cases.services import add_activity
from kontaktcenter.channels.phone.models import Call, CallState, PhoneQueue
from kontaktcenter.channels.phone.signals import call_updated
from kontaktcenter.core.errors import ValidationError
from kontaktcenter.core.extensions import db, utcnow
from kontaktcenter.goals import engine
from kontaktcenter.goals.models import GoalTarget

assert promise  # its flush listener keeps every pending callback's promise on its goal


@case_events.callback_booked.connect
def _callback_booked(case: Case, at: datetime, requested: datetime | None) -> None:
    moved = _absorbed_pending(case)
    if moved is None:
        booking.booked(case, at, requested)
        return
    # A merge keeps the absorbed case's promise on the survivor: the same row moves, with the
    # number to call, the slot, the attempts so far and the next allowed attempt.
    next_attempt_at = moved.next_attempt_at
    moved.case = case
    token = booking.current.set(
        booking.Booking(
            source=moved.source,
            slot_start=moved.slot_start,
            slot_end=moved.slot_end,
            note=moved.note,
            platform_ref=moved.platform_ref,
            number_e164=moved.number_e164,
            call_id=moved.call_id,
        )
    )
    try:
        callback = booking.booked(case, at, requested)
    finally:
        booking.current.reset(token)
    callback.next_attempt_at = next_attempt_at


def _absorbed_pending(case: Case) -> Callback | None:
    """The pending callback of a case being merged into `case` right now. A merged-away case
    keeps no pending callback (the merge closes it), so any such row is this merge's."""
    if case.id is None:
        return None
    return db.session.scalars(
        sa.select(Callback)
        .join(Case, Case.id == Callback.case_id)
        .where(Case.merged_into_id == case.id, Callback.status == CallbackStatus.PENDING)
        .order_by(Callback.id)
        .limit(1)
    ).first()


@case_events.callback_done.connect
def _callback_done(case: Case, at: datetime) -> None:
    callback = booking.pending_of(case)
    if callback is not None and callback.case is case:
        closing.reached_elsewhere(callback, at)


@case_events.closed.connect
def _case_closed(case: Case, at: datetime) -> None:
    """Closed another way (answered, referred, merged…): nobody will call. A callback that
    reached the person is closed already, so it is left as it is; one a merge moved to the
    survivor is the survivor's now."""
    callback = booking.pending_of(case)
    if callback is not None and callback.case is case:
        closing.cancel_in_transaction(callback, "Ärendet avslutades.", at)


@call_updated.connect
def _call_updated(call: Call, before: object, **_kwargs: object) -> None:
    """After every new event of a call, not only when its state changes: events arrive in any
    order, and the caller, the queue or the wait can come with a later one (an `abandoned`
    after an `ended`, a `ringing` after the `abandoned`)."""
    if call.state == CallState.ABANDONED:
        _abandoned(call)
    elif before == CallState.ABANDONED:
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
    """Idempotent: a call that made a callback (whatever became of it) or joined one (it is on
    that case) is done with."""
    if call.case_id is not None:
        return
    made = db.session.scalars(sa.select(Callback.id).where(Callback.call_id == call.id).limit(1))
    if made.first() is not None:
        return
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
        result = request_in_transaction(data, None, call_id=call.id)
    except ValidationError:
        # The event itself is fine; a callback that cannot be made must not refuse it.
        current_app.logger.warning("abandoned call %s: no callback", call.id, exc_info=True)
        return
    if result.callback.call_id != call.id:
        # Joined the callback the caller already waits for: the call belongs to that case
        # now, so the case's gallring clears its number too.
        call.case = result.callback.case


def _not_abandoned(call: Call) -> None:
    if call.case_id is not None and _joined(call.case_id, call):
        # It joined another callback, which stays; the call is the answering agent's to log.
        assert call.case is not None
        add_activity(
            call.case,
            ActivityKind.NOTE,
            None,
            "Det avbrutna samtalet besvarades ändå. Återuppringningen står kvar.",
        )
        call.case = None
        return
    callback = db.session.scalars(
        sa.select(Callback).where(
            Callback.source == CallbackSource.ABANDONED,
            Callback.call_id == call.id,
            Callback.status == CallbackStatus.PENDING,
        )
    ).first()
    if callback is None:
        return
    now = utcnow()
    case = callback.case
    if callback.attempts or _others_depend_on(case):
        add_activity(
            case,
            ActivityKind.NOTE,
            None,
            "Samtalet besvarades ändå. Återuppringningen står kvar: den har begärts igen "
            "eller någon har arbetat med ärendet.",
        )
        return
    closing.cancel_in_transaction(callback, "Samtalet besvarades ändå.", now)
    engine.cancel(case, GoalTarget.CALLBACK, now)
    if case.is_open:  # made for this callback alone: nothing is left to do on it
        case_actions.close_in_transaction(
            case, None, now, "Samtalet besvarades ändå: ingen återuppringning behövs."
        )


def _joined(case_id: int, call: Call) -> bool:
    """Whether the call joined the case's callback (its request is on the case's timeline)."""
    return any(
        data.get("source") == CallbackSource.ABANDONED.value
        and data.get("reference") == call.platform_call_id[:100]
        for data in db.session.scalars(
            sa.select(Activity.data).where(
                Activity.case_id == case_id, Activity.kind == ActivityKind.CALLBACK_REQUESTED
            )
        )
    )


def _others_depend_on(case: Case) -> bool:
    """Another request joined the case's callback, or a person did anything on the case (the
    call's own case and callback were written by nobody: the platform)."""
    return (
        db.session.scalars(
            sa.select(Activity.id)
            .where(
                Activity.case_id == case.id,
                sa.or_(
                    Activity.kind == ActivityKind.CALLBACK_REQUESTED,
                    Activity.actor_id.is_not(None),
                ),
            )
            .limit(1)
        ).first()
        is not None
    )
