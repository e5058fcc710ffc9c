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
from kontaktcenter.callbacks.models import Callback, CallbackSource, CallbackStatus
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
    created: bool  # False: the same (source, platform_ref) was requested before


def request(data: CallbackRequest, by: User) -> Requested:
    """A callback requested from outside a case: makes the phone case (the contact center's first
    line) and its callback. Idempotent per (source, platform_ref), also when two identical
    requests arrive at once; a person (number) with a pending callback gets no second one."""
    try:
        result = request_in_transaction(data, by)
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        existing = _by_reference(data.source, _reference(data.platform_ref))
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
    transaction). Flushes the new rows."""
    now = utcnow()
    number = _number(data.number)
    note = _note(data.note)
    ref = _reference(data.platform_ref)
    validate_slot(data.slot_start, data.slot_end, now)
    if data.case_type is not None and not data.case_type.active:
        raise ValidationError("Ärendetypen används inte längre.", "case_type")
    if ref is not None and (existing := _by_reference(data.source, ref)) is not None:
        return Requested(existing, created=False)
    same_person = db.session.scalars(
        sa.select(Callback)
        .where(Callback.number_e164 == number, Callback.status == CallbackStatus.PENDING)
        .order_by(Callback.id)
        .limit(1)
    ).first()
    if same_person is not None:
        add_activity(
            same_person.case,
            ActivityKind.CALLBACK_REQUESTED,
            by,
            note,
            source=data.source.value,
            **({"reference": ref} if ref else {}),
        )
        db.session.flush()
        return Requested(same_person, created=False)

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
        token = booking.current.set(
            booking.Booking(
                source=data.source,
                slot_start=data.slot_start,
                slot_end=data.slot_end,
                note=note,
                platform_ref=ref,
                number_e164=number,
                call_id=call_id,
            )
        )
        try:
            promised = events.book_callback(case, now, data.slot_end)
        finally:
            booking.current.reset(token)
        add_activity(
            case,
            ActivityKind.CALLBACK_BOOKED,
            by,
            note,
            due_at=promised.isoformat(),
            source=data.source.value,
        )
        case.reference = next_reference(now)
    db.session.flush()
    callback = booking.pending_of(case)
    assert callback is not None
    return Requested(callback, created=True)


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


def _by_reference(source: CallbackSource, ref: str | None) -> Callback | None:
    if ref is None:
        return None
    return db.session.scalars(
        sa.select(Callback).where(Callback.source == source, Callback.platform_ref == ref)
    ).first()
