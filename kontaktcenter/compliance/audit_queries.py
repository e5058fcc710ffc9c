"""Reading the audit log: its search (the admin page, the CSV file and the API share it) and
"who has looked at this case" (the case page's panel).

A search names a case by reference, a person by personnummer, e-mail or phone (every contact
with that identifier), a user by id or e-mail, an action, and a range of days (local time). It
answers newest first, a page at a time, continuing from a keyset cursor on (created_at, id),
which the indexes of migration 0017 serve for each filter.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app

from kontaktcenter.cases.models import Case, Contact
from kontaktcenter.compliance.audit_labels import ACTION_LABELS, VIEW_ACTIONS
from kontaktcenter.core.audit import AuditEvent
from kontaktcenter.core.errors import ValidationError
from kontaktcenter.core.extensions import UTCDateTime, db
from kontaktcenter.core.identifiers import (
    is_personnummer,
    mask_personnummer,
    normalise_email,
    normalise_personnummer,
    normalise_phone,
)
from kontaktcenter.organisation.models import User

MAX_PAGE = 200
MAX_EXPORT = 50_000
BAD_CURSOR = "Ogiltig fortsättningsmarkör."
BAD_PERSON = "Ange ett giltigt personnummer, e-post eller telefon."
YEARS = (2000, 2999)


@dataclass
class AuditFilters:
    case: str | None = None  # a case reference
    person: str | None = None  # personnummer, e-mail or phone
    user: str | None = None  # a user's id or e-mail
    action: str | None = None
    day_from: date | None = None
    day_to: date | None = None

    def described(self) -> dict[str, str]:
        """The filters for the log of this search itself: a personnummer masked."""
        values = {
            "case": self.case,
            "person": mask_personnummer(self.person) if self.person else None,
            "user": self.user,
            "action": self.action,
            "from": self.day_from.isoformat() if self.day_from else None,
            "to": self.day_to.isoformat() if self.day_to else None,
        }
        return {name: value for name, value in values.items() if value}


@dataclass(frozen=True)
class AuditRow:
    id: int
    created_at: datetime
    seq: int | None
    action: str
    action_label: str
    user_id: int | None
    user_name: str | None
    case_id: int | None
    case_reference: str | None
    contact_id: int | None
    contact_name: str | None
    personnummer: str | None  # masked
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AuditPage:
    rows: list[AuditRow]
    next_cursor: str | None


def parse_day(raw: str, name: str) -> date:
    try:
        day = date.fromisoformat(raw.strip())
    except ValueError:
        raise ValidationError("Ange datumet som ÅÅÅÅ-MM-DD.", name) from None
    if not YEARS[0] <= day.year <= YEARS[1]:
        raise ValidationError(f"Ange ett datum mellan år {YEARS[0]} och {YEARS[1]}.", name)
    return day


def person_contact_ids(person: str) -> list[int]:
    """The contacts a personnummer, an e-mail address or a phone number names."""
    text = person.strip()
    pnr = normalise_personnummer(text) if is_personnummer(text) else None
    if pnr:
        column, value = Contact.personnummer, pnr
    elif "@" in text:
        try:
            email = normalise_email(text, "person")
        except ValidationError:
            email = None
        if not email:
            raise ValidationError(BAD_PERSON, "person")
        column, value = Contact.email, email
    else:
        try:
            phone = normalise_phone(text)
        except ValidationError:
            phone = None
        if not phone:
            raise ValidationError(BAD_PERSON, "person")
        column, value = Contact.phone_e164, phone
    return list(db.session.scalars(sa.select(Contact.id).where(column == value).limit(1000)))


def user_id_for(raw: str) -> int | None:
    text = raw.strip()
    if text.isascii() and text.isdecimal():  # not "²": isdigit() is True for it, int() fails
        return int(text) if len(text) < 12 else None
    return db.session.scalar(sa.select(User.id).where(sa.func.lower(User.email) == text.lower()))


def _bounds(filters: AuditFilters) -> tuple[datetime | None, datetime | None]:
    tz = ZoneInfo(current_app.config["TIMEZONE"])
    start = datetime.combine(filters.day_from, time(), tz) if filters.day_from else None
    end = (
        datetime.combine(filters.day_to + timedelta(days=1), time(), tz) if filters.day_to else None
    )
    if start and end and start >= end:
        raise ValidationError("Slutdatumet kan inte vara före startdatumet.", "to")
    return start, end


def _conditions(filters: AuditFilters) -> list[sa.ColumnElement[bool]] | None:
    """The WHERE clause of a search, or None when a filter names nothing (no such case)."""
    conds: list[sa.ColumnElement[bool]] = []
    if filters.case:
        case_id = db.session.scalar(
            sa.select(Case.id).where(Case.reference == filters.case.strip().upper())
        )
        if case_id is None:
            return None
        conds.append(AuditEvent.case_id == case_id)
    if filters.person:
        contact_ids = person_contact_ids(filters.person)
        if not contact_ids:
            return None
        conds.append(AuditEvent.contact_id.in_(contact_ids))
    if filters.user:
        user_id = user_id_for(filters.user)
        if user_id is None:
            return None
        conds.append(AuditEvent.user_id == user_id)
    if filters.action:
        conds.append(AuditEvent.action == filters.action)
    start, end = _bounds(filters)
    if start:
        conds.append(AuditEvent.created_at >= start)
    if end:
        conds.append(AuditEvent.created_at < end)
    return conds


def _select(
    conds: list[sa.ColumnElement[bool]],
) -> sa.Select[AuditEvent, str, str, str | None, str | None]:
    return (
        sa.select(AuditEvent, User.name, Case.reference, Contact.name, Contact.personnummer)
        .outerjoin(User, User.id == AuditEvent.user_id)
        .outerjoin(Case, Case.id == AuditEvent.case_id)
        .outerjoin(Contact, Contact.id == AuditEvent.contact_id)
        .where(*conds)
        .order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
    )


def _row(found: Any) -> AuditRow:
    event, user_name, reference, contact_name, personnummer = found
    return AuditRow(
        id=event.id,
        created_at=event.created_at,
        seq=event.seq,
        action=event.action,
        action_label=ACTION_LABELS.get(event.action, event.action),
        user_id=event.user_id,
        user_name=user_name,
        case_id=event.case_id,
        case_reference=reference,
        contact_id=event.contact_id,
        contact_name=contact_name,
        personnummer=mask_personnummer(personnummer),
        detail=dict(event.detail or {}),
    )


def encode_cursor(row: AuditRow) -> str:
    raw = f"{row.created_at.isoformat()}|{row.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, _, ident = raw.partition("|")
        moment, event_id = datetime.fromisoformat(stamp), int(ident)
        if moment.tzinfo is None or not 0 < event_id < 2**63:
            raise ValueError(cursor)
        # In UTC inside the try: an offset near year 9999 overflows (OverflowError), and the
        # year is bounded like a day filter's, so the database never sees an extreme moment.
        if not YEARS[0] <= moment.astimezone(UTC).year <= YEARS[1]:
            raise ValueError(cursor)
    except (ValueError, OverflowError, binascii.Error, UnicodeDecodeError):
        raise ValidationError(BAD_CURSOR, "cursor") from None
    return moment, event_id


def search(filters: AuditFilters, cursor: str | None = None, limit: int = 50) -> AuditPage:
    """One page of the log, newest first."""
    conds = _conditions(filters)
    if conds is None:
        return AuditPage([], None)
    if cursor:
        moment, event_id = decode_cursor(cursor)
        at = sa.literal(moment, UTCDateTime())
        conds.append(
            sa.or_(
                AuditEvent.created_at < at,
                sa.and_(AuditEvent.created_at == at, AuditEvent.id < event_id),
            )
        )
    found = db.session.execute(_select(conds).limit(limit + 1)).all()
    rows = [_row(hit) for hit in found[:limit]]
    return AuditPage(rows, encode_cursor(rows[-1]) if len(found) > limit else None)


def export_rows(filters: AuditFilters) -> Iterator[AuditRow]:
    """Every event of a search (at most MAX_EXPORT), newest first, read in batches."""
    conds = _conditions(filters)
    if conds is None:
        return
    query = _select(conds).limit(MAX_EXPORT).execution_options(yield_per=1000)
    for hit in db.session.execute(query):
        yield _row(hit)


@dataclass(frozen=True)
class Viewer:
    user_id: int | None
    name: str | None
    count: int
    last_at: datetime


def viewers(case_id: int) -> list[Viewer]:
    """The people who viewed, revealed from or exported the case: how often, and when last."""
    found = db.session.execute(
        sa.select(
            AuditEvent.user_id,
            User.name,
            sa.func.count(),
            sa.func.max(AuditEvent.created_at),
        )
        .outerjoin(User, User.id == AuditEvent.user_id)
        .where(AuditEvent.case_id == case_id, AuditEvent.action.in_(VIEW_ACTIONS))
        .group_by(AuditEvent.user_id, User.name)
        .order_by(sa.func.max(AuditEvent.created_at).desc())
    ).all()
    return [Viewer(user_id, name, count, _aware(last)) for user_id, name, count, last in found]


def _aware(value: Any) -> datetime:
    """max() over a UTCDateTime column comes back raw on SQLite (a string or naive value)."""
    result = UTCDateTime().process_result_value(
        datetime.fromisoformat(value) if isinstance(value, str) else value, db.engine.dialect
    )
    assert result is not None
    return result
