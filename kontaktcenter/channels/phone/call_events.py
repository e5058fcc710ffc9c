"""Record a call event from the telephony platform, idempotently and in any order.

One row per (platform call id, event kind): a repeat is a duplicate and changes nothing (the
first one wins). After each new event the call is recomputed from all of its events
(:func:`derive`), so `ended` before `answered`, or `answered` twice, gives the same call as the
events in their proper order; then the areas above hear of it (:mod:`.signals`: `call_updated`
after every new event, `call_changed` when the call's state changed). Concurrent events of one
call are serialised by a lock on the call's row (PostgreSQL; SQLite has one writer anyway); a
call's first events racing each other meet at the unique platform call id (INSERT … ON
CONFLICT DO NOTHING).

Numbers are normalised with phonenumbers (default region SE). A hidden number ("anonymous",
"private", none at all) is kept as hidden: no contact is looked up and it shows as
"Dolt nummer".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from kontaktcenter.channels.phone import screen_pop, signals
from kontaktcenter.channels.phone.models import Call, CallEvent, CallEventKind, CallState
from kontaktcenter.core.errors import ValidationError
from kontaktcenter.core.extensions import db, upsert, utcnow
from kontaktcenter.core.identifiers import normalise_phone
from kontaktcenter.organisation.models import User

HIDDEN_WORDS = frozenset(
    {
        "anonymous",
        "anonym",
        "private",
        "privat",
        "restricted",
        "withheld",
        "hidden",
        "dolt",
        "dolt nummer",
        "unknown",
        "okänt",
        "unavailable",
        "blocked",
    }
)
_URI = re.compile(r"^(?:sips?|tel):([^@;]*)", re.IGNORECASE)
# The order events happen in: which event's caller, called number and queue to believe first.
ORDER = (
    CallEventKind.RINGING,
    CallEventKind.ANSWERED,
    CallEventKind.TRANSFERRED,
    CallEventKind.ABANDONED,
    CallEventKind.ENDED,
)


@dataclass(frozen=True)
class Number:
    e164: str | None = None
    raw: str | None = None  # as sent, when it is not a phone number (a SIP user, a queue name)
    hidden: bool = False


def parse_number(value: str | None) -> Number:
    """A caller or called number as the platform sent it: E.164 when it is a phone number
    (``sip:+46701234567@pbx`` and ``tel:070-123 45 67`` too), hidden when withheld or empty."""
    text = (value or "").strip()
    if not text or text.lower() in HIDDEN_WORDS:
        return Number(hidden=True)
    match = _URI.match(text)
    candidate = match.group(1) if match else text
    if candidate.lower() in HIDDEN_WORDS or not candidate.strip():
        return Number(hidden=True)
    if any(ch.isdigit() for ch in candidate):
        try:
            e164 = normalise_phone(candidate)
        except ValidationError:
            e164 = None
        if e164:
            return Number(e164=e164)
    return Number(raw=text[:64])


@dataclass
class EventData:
    platform_call_id: str
    kind: CallEventKind
    at: datetime | None = None  # default: when it arrived
    caller: str | None = None
    caller_given: bool = False  # the event said something about the caller (even null)
    called: str | None = None
    queue: str | None = None
    agent: User | None = None
    queue_wait_seconds: int | None = None


@dataclass(frozen=True)
class Recorded:
    call: Call
    event: CallEvent
    duplicate: bool
    popped: int | None  # the user whose browser gets a screen pop


def record(data: EventData) -> Recorded:
    """Store the event (unless it is a duplicate), recompute its call and commit; then wake the
    agent's screen pop if the call was just answered by or transferred to them."""
    if not data.platform_call_id.strip():
        raise ValidationError("Ange plattformens samtals-id.", "call_id")
    now = utcnow()
    try:
        db.session.execute(
            upsert(Call)
            .values(
                platform_call_id=data.platform_call_id,
                state=CallState.RINGING,
                caller_hidden=False,
                created_at=now,
            )
            .on_conflict_do_nothing(index_elements=["platform_call_id"])
        )
        call = db.session.scalars(
            sa.select(Call)
            .where(Call.platform_call_id == data.platform_call_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).one()
        event = db.session.scalars(
            sa.select(CallEvent).where(CallEvent.call_id == call.id, CallEvent.kind == data.kind)
        ).first()
        duplicate = event is not None
        if event is None:
            if data.kind in screen_pop.POP_KINDS and data.agent is not None:
                screen_pop.serialise_pops_of(data.agent.id)
            event = _event(call, data, now)
            db.session.add(event)
            db.session.flush()
            before = call.state
            derive(call, _events_of(call))
            if call.state != before:
                signals.call_changed.send(call, before=before, event=event)
            signals.call_updated.send(call, before=before, event=event)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    popped = None if duplicate else _pop_for(call, event)
    if popped is not None:
        screen_pop.publish(popped, event.id)
    return Recorded(call, event, duplicate, popped)


def _event(call: Call, data: EventData, now: datetime) -> CallEvent:
    caller = parse_number(data.caller) if data.caller_given else Number()
    called = parse_number(data.called) if data.called else Number()
    return CallEvent(
        call_id=call.id,
        kind=data.kind,
        occurred_at=data.at or now,
        received_at=now,
        agent_id=data.agent.id if data.agent else None,
        caller_e164=caller.e164,
        caller_raw=caller.raw,
        caller_hidden=caller.hidden,
        called_number=called.e164 or called.raw,
        queue=(data.queue or "").strip()[:100] or None,
        queue_wait_seconds=data.queue_wait_seconds,
    )


def _events_of(call: Call) -> dict[CallEventKind, CallEvent]:
    rows = db.session.scalars(sa.select(CallEvent).where(CallEvent.call_id == call.id))
    return {row.kind: row for row in rows}


def derive(call: Call, events: dict[CallEventKind, CallEvent]) -> None:
    """Set the call's fields from the set of its events (never from their arrival order)."""
    ordered = [events[kind] for kind in ORDER if kind in events]
    ringing = events.get(CallEventKind.RINGING)
    answered = events.get(CallEventKind.ANSWERED)
    transferred = events.get(CallEventKind.TRANSFERRED)
    ended = events.get(CallEventKind.ENDED)
    abandoned = events.get(CallEventKind.ABANDONED)
    call.ringing_at = ringing.occurred_at if ringing else None
    call.answered_at = answered.occurred_at if answered else None
    call.agent_id = answered.agent_id if answered else None
    call.transferred_at = transferred.occurred_at if transferred else None
    call.transferred_to_id = transferred.agent_id if transferred else None
    call.ended_at = ended.occurred_at if ended else None
    if answered is not None:
        call.state = CallState.ENDED if ended else CallState.ANSWERED
        call.abandoned_at = None
    elif abandoned is not None or ended is not None:
        # Hung up before anyone answered (some platforms send only `ended` for that).
        call.state = CallState.ABANDONED
        call.abandoned_at = (abandoned or ended).occurred_at  # type: ignore[union-attr]
    else:
        call.state = CallState.RINGING
        call.abandoned_at = None
    known = next((e for e in ordered if e.caller_e164 or e.caller_raw), None)
    call.caller_e164 = known.caller_e164 if known else None
    call.caller_raw = known.caller_raw if known else None
    call.caller_hidden = known is None and any(e.caller_hidden for e in ordered)
    call.called_number = next((e.called_number for e in ordered if e.called_number), None)
    call.queue = next((e.queue for e in ordered if e.queue), None)
    waits = [e.queue_wait_seconds for e in ordered if e.queue_wait_seconds is not None]
    call.queue_wait_seconds = max(waits) if waits else None


def _pop_for(call: Call, event: CallEvent) -> int | None:
    """Whose browser pops: the agent an `answered` or `transferred` event names, while the
    call is going on (an `answered` that arrives after `ended` pops nobody)."""
    if event.kind not in screen_pop.POP_KINDS or event.agent_id is None:
        return None
    if call.state != CallState.ANSWERED or call.handled_by_id != event.agent_id:
        return None
    return event.agent_id
