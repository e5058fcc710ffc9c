"""Callbacks: request, book, take, attempt, close. Each function owns its transaction (commits) and
raises :class:`kontaktcenter.core.errors.ValidationError` with a Swedish message on bad input.

The closing half (attempts, exhaustion and its fallback, cancelling) is in
:mod:`kontaktcenter.callbacks.closing`; the one-row-per-case rule in
:mod:`kontaktcenter.callbacks.booking`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError

from kontaktcenter.callbacks import booking
from kontaktcenter.callbacks.closing import cancel, mark_letter_sent, record_attempt
from kontaktcenter.callbacks.models import (
    Callback,
    CallbackRequestRecord,
    CallbackSource,
    CallbackStatus,
)
from kontaktcenter.cases import access, actions, events
from kontaktcenter.cases.contacts import ContactData, resolve_contact
from kontaktcenter.cases.enums import OPEN_STATUSES, ActivityKind, CaseStatus, Channel, Outcome
from kontaktcenter.cases.models import Case
from kontaktcenter.cases.references import next_reference
from kontaktcenter.cases.services import add_activity
from kontaktcenter.core.errors import ValidationError
from kontaktcenter.core.extensions import db, utcnow
from kontaktcenter.core.identifiers import normalise_phone
from kontaktcenter.core.roles import Role
from kontaktcenter.organisation.models import CaseType, User

__all__ = [
    "CallbackRequest",
    "Requested",
    "book",
    "cancel",
    "mark_letter_sent",
    "open_callback",
    "record_attempt",
    "request",
    "request_in_transaction",
    "take_next",
]

INVALID_NUMBER = "Ogiltigt telefonnummer"
NOTE_MAX = 500
REF_MAX = 100
SLOT_DAYS_MAX = 30
SUMMARIES = {
    CallbackSource.PLATFORM: "Återuppringning begärd via telefonkön",
    CallbackSource.E_SERVICE: "Återuppringning begärd via e-tjänst",
    CallbackSource.ABANDONED: "Avbrutet samtal i telefonkön: ring upp",
}


@dataclass
class CallbackRequest:
    """A request from outside a case (the phone platform, an e-service) or from a case."""

    source: CallbackSource
    number: str | None = None  # any Swedish form; normalised with phonenumbers
    name: str | None = None  # the caller's name, when the requester knows it
    case_type: CaseType | None = None
    note: str | None = None  # what to call about
    slot_start: datetime | None = None  # None and None: as soon as possible
    slot_end: datetime | None = None
    platform_ref: str | None = None  # idempotency key per source


@dataclass
class Requested:
    callback: Callback
    created: bool  # False: requested before (same reference), or joined a waiting callback


def request(data: CallbackRequest, by: User) -> Requested:
    """A callback requested from outside a case: makes the phone case (the contact center's first
    line) and its callback. Idempotent per (source, requester, platform_ref), also when two
    identical requests arrive at once; a person (number) with a callback waiting in the first
    line gets no second one (see :func:`request_in_transaction`)."""
    try:
        result = request_in_transaction(data, by)
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        existing = _by_reference(data.source, by, _reference(data.platform_ref))
        if existing is None:
            raise
        return Requested(existing, created=False)
    except Exception:
        db.session.rollback()
        raise
    return result


def request_in_transaction(
    data: CallbackRequest, by: User | None, call_id: int | None = None
) -> Requested:
    """:func:`request` without the commit (the abandoned-call hook runs inside the call event's
    transaction). Flushes the new rows.

    The same request again (source, requester `by`, reference) answers with the callback the
    first one made or joined, and changes nothing. A request from a number that has a callback
    waiting in the contact center's first line, on a case that is not secret and of the same or
    no case type, joins it: a note on its case, and a slot that ends before its promise becomes
    its slot and promise. Anything else (another department's callback, a secret case, another
    case type) makes a callback of its own: a joined request must neither show the requester
    another case nor lose its own request."""
    now = utcnow()
    number = _number(data.number)
    note = _note(data.note)
    ref = _reference(data.platform_ref)
    validate_slot(data.slot_start, data.slot_end, now)
    if data.case_type is not None and not data.case_type.active:
        raise ValidationError("Ärendetypen används inte längre.", "case_type")
    _serialise_requests_for(number)
    if ref is not None and (existing := _by_reference(data.source, by, ref)) is not None:
        return Requested(existing, created=False)
    waiting = _waiting_for(number, data.case_type)
    if waiting is not None:
        _join(waiting, data, by, note, ref, now)
        db.session.flush()
        return Requested(waiting, created=False)

    with db.session.no_autoflush:  # the case is numbered last, as cases.services does
        contact = resolve_contact(ContactData(name=data.name, phone=data.number))
        case = Case(
            channel=Channel.PHONE,
            status=CaseStatus.NEW,
            case_type=data.case_type,
            summary=note or SUMMARIES.get(data.source, "Återuppringning begärd"),
            contact=contact,
            created_by=by,
            received_at=now,
            created_at=now,
            due_at=now,  # replaced by the service goals
        )
        db.session.add(case)
        add_activity(case, ActivityKind.CREATED, by, channel=Channel.PHONE.value)
        events.created.send(case, at=now)
        case.outcome = Outcome.CALLBACK
        promised = _promise(
            case,
            booking.Booking(
                source=data.source,
                slot_start=data.slot_start,
                slot_end=data.slot_end,
                note=note,
                platform_ref=ref,
                number_e164=number,
                call_id=call_id,
            ),
            now,
        )
        add_activity(
            case,
            ActivityKind.CALLBACK_BOOKED,
            by,
            note,
            due_at=promised.isoformat(),
            source=data.source.value,
        )
        case.reference = next_reference(now)
        callback = booking.pending_of(case)
        assert callback is not None
        _record(callback, data.source, by, ref, now, joined=False)
    db.session.flush()
    return Requested(callback, created=True)


def _promise(case: Case, book_as: booking.Booking, now: datetime) -> datetime:
    """Book the case's callback as `book_as` says (its pending row made or updated); the
    promise: the slot's end, or the service goals' callback promise."""
    token = booking.current.set(book_as)
    try:
        return events.book_callback(case, now, book_as.slot_end)
    finally:
        booking.current.reset(token)


def _waiting_for(number: str, case_type: CaseType | None) -> Callback | None:
    """The callback that a request from `number` (about `case_type`) joins, if any: pending, on
    an open first-line case that is not secret, of the same or no case type. A request about a
    secret case type joins nothing (its note must not land on a case that is not secret)."""
    if case_type is not None and case_type.secrecy_ground:
        return None
    same_type: sa.ColumnElement[bool] = sa.true()
    if case_type is not None:
        same_type = sa.or_(Case.case_type_id.is_(None), Case.case_type_id == case_type.id)
    return db.session.scalars(
        sa.select(Callback)
        .join(Case, Case.id == Callback.case_id)
        .where(
            Callback.number_e164 == number,
            Callback.status == CallbackStatus.PENDING,
            Case.department_id.is_(None),
            Case.status.in_(OPEN_STATUSES),
            sa.not_(access.secret_clause()),
            same_type,
        )
        .order_by(Callback.id)
        .limit(1)
    ).first()


def _join(
    callback: Callback,
    data: CallbackRequest,
    by: User | None,
    note: str | None,
    ref: str | None,
    now: datetime,
) -> None:
    """The request on the waiting callback's case; a slot ending before the callback's promise
    becomes its slot and promise (the person asked to be called by then)."""
    case = callback.case
    slot = {}
    if data.slot_start is not None and data.slot_end is not None:
        slot = {"slot_from": data.slot_start.isoformat(), "slot_to": data.slot_end.isoformat()}
    add_activity(
        case,
        ActivityKind.CALLBACK_REQUESTED,
        by,
        note,
        source=data.source.value,
        **({"reference": ref} if ref else {}),
        **slot,
    )
    _record(callback, data.source, by, ref, now, joined=True)
    if data.slot_end is None or data.slot_end >= callback.due_at:
        return
    with db.session.no_autoflush:
        promised = _promise(
            case,
            booking.Booking(
                source=callback.source,
                slot_start=data.slot_start,
                slot_end=data.slot_end,
                number_e164=callback.number_e164,
            ),
            now,
        )
    add_activity(
        case,
        ActivityKind.CALLBACK_BOOKED,
        by,
        "Ny önskad tid från en ny begäran om återuppringning.",
        due_at=promised.isoformat(),
        source=data.source.value,
    )


def _record(
    callback: Callback,
    source: CallbackSource,
    by: User | None,
    ref: str | None,
    now: datetime,
    *,
    joined: bool,
) -> None:
    db.session.add(
        CallbackRequestRecord(
            callback=callback,
            source=source,
            requested_by_id=by.id if by is not None else None,
            reference=ref,
            joined=joined,
            received_at=now,
        )
    )


# The namespace of the advisory locks that make requests for one number one at a time.
_NUMBER_LOCK_NAMESPACE = 0x0CB1


def _serialise_requests_for(number: str) -> None:
    """Before looking for the number's waiting callback: wait for any other transaction
    requesting a callback for the same number to end (PostgreSQL; SQLite has one writer at a
    time anyway). Without it, the platform's queue callback and the abandoned call of the same
    caller, arriving together, both find nothing waiting and make two callbacks."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(
            sa.select(
                sa.func.pg_advisory_xact_lock(_NUMBER_LOCK_NAMESPACE, sa.func.hashtext(number))
            )
        )


def book(
    case: Case,
    by: User,
    slot_start: datetime | None = None,
    slot_end: datetime | None = None,
    note: str | None = None,
    expected_version: int | None = None,
) -> Callback:
    """Book a callback on an existing case (the case page's "Boka återuppringning"). A case
    with a pending callback keeps that one, with the new promise and slot."""
    validate_slot(slot_start, slot_end, utcnow())
    text = _note(note)
    token = booking.current.set(
        booking.Booking(CallbackSource.AGENT, slot_start=slot_start, slot_end=slot_end, note=text)
    )
    try:
        actions.book_callback(case, by, slot_end, text, expected_version)
    finally:
        booking.current.reset(token)
    callback = open_callback(case)
    assert callback is not None
    return callback


def open_callback(case: Case) -> Callback | None:
    """The case's pending callback, if any."""
    return booking.pending_of(case)


def take_next(user: User) -> Callback | None:
    """Assign the next callable callback of the user's worklist to them, race-free (SKIP
    LOCKED, then a conditional UPDATE), or None when there is none.

    Agents, managers and admins work the contact center's callbacks; a handler their own
    departments'. Callable: pending, its next allowed attempt reached, and nobody's (or taken
    more than CALLBACK_TAKE_MINUTES ago and not tried since: an attempt frees it)."""
    now = utcnow()
    stale = now - timedelta(minutes=int(current_app.config.get("CALLBACK_TAKE_MINUTES", 15)))
    if user.role == Role.HANDLER:
        if not user.department_ids:
            return None
        scope = Case.department_id.in_(sorted(user.department_ids))
    else:
        scope = Case.department_id.is_(None)
    # One already given to the user (taken, or by distribution) is on their list, not "next".
    free = sa.or_(Callback.assigned_to_id.is_(None), Callback.assigned_at < stale)
    for _attempt in range(10):
        candidate = db.session.scalars(
            sa.select(Callback.id)
            .join(Case, Case.id == Callback.case_id)
            .where(
                Callback.status == CallbackStatus.PENDING,
                sa.or_(Callback.next_attempt_at.is_(None), Callback.next_attempt_at <= now),
                free,
                Case.status.in_(OPEN_STATUSES),
                scope,
                access.visible_clause(user),
                access.content_visible_clause(user),
            )
            .order_by(Callback.due_at, Callback.slot_start.asc().nulls_last(), Callback.id)
            .limit(1)
            .with_for_update(of=Callback, skip_locked=True)
        ).first()
        if candidate is None:
            db.session.rollback()
            return None
        claimed = cast(
            "sa.CursorResult[Any]",
            db.session.execute(
                sa.update(Callback)
                .where(Callback.id == candidate, Callback.status == CallbackStatus.PENDING, free)
                .values(assigned_to_id=user.id, assigned_at=now)
                .execution_options(synchronize_session=False)
            ),
        )
        if claimed.rowcount == 1:
            callback = db.session.scalars(
                sa.select(Callback)
                .where(Callback.id == candidate)
                .execution_options(populate_existing=True)
            ).one()
            db.session.commit()
            return callback
        db.session.rollback()
    return None


# --- validation ----------------------------------------------------------------------------


def validate_slot(start: datetime | None, end: datetime | None, now: datetime) -> None:
    """A requested slot: both ends or none, timezone-aware, end after start, not over, at most
    SLOT_DAYS_MAX days ahead."""
    if start is None and end is None:
        return
    if start is None or end is None:
        raise ValidationError(
            "Ange både början och slut på önskad tid, eller ingen av dem.",
            "slot_start" if start is None else "slot_end",
        )
    if start.tzinfo is None or end.tzinfo is None:
        raise ValidationError("Önskad tid måste ha en tidszon.", "slot_start")
    if end <= start:
        raise ValidationError("Önskad tid måste sluta efter att den börjar.", "slot_end")
    if end <= now:
        raise ValidationError("Önskad tid har redan passerat.", "slot_end")
    if end > now + timedelta(days=SLOT_DAYS_MAX):
        raise ValidationError(f"Önskad tid får ligga högst {SLOT_DAYS_MAX} dagar fram.", "slot_end")


def _number(raw: str | None) -> str:
    try:
        number = normalise_phone(raw)
    except ValidationError:
        number = None
    if number is None:
        raise ValidationError(INVALID_NUMBER, "number")
    return number


def _note(value: str | None) -> str | None:
    text = (value or "").strip()
    if len(text) > NOTE_MAX:
        raise ValidationError(f"Anteckningen får vara högst {NOTE_MAX} tecken.", "note")
    return text or None


def _reference(value: str | None) -> str | None:
    ref = (value or "").strip()
    if len(ref) > REF_MAX:
        raise ValidationError(f"Referensen får vara högst {REF_MAX} tecken.", "platform_ref")
    return ref or None


def _by_reference(source: CallbackSource, by: User | None, ref: str | None) -> Callback | None:
    """The callback that the request (source, requester, reference) made or joined before."""
    if ref is None:
        return None
    requester = (
        CallbackRequestRecord.requested_by_id.is_(None)
        if by is None
        else CallbackRequestRecord.requested_by_id == by.id
    )
    return db.session.scalars(
        sa.select(Callback)
        .join(CallbackRequestRecord, CallbackRequestRecord.callback_id == Callback.id)
        .where(
            CallbackRequestRecord.source == source,
            CallbackRequestRecord.reference == ref,
            requester,
        )
    ).first()
