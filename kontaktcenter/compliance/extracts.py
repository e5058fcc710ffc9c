"""Register extracts (registerutdrag, GDPR art. 15): find a person, log the request, deliver it.

A person is found by the identifiers the registrator has checked: personnummer, e-mail and phone
(any of them, together). Every contact that matches one of them is included, since one person
is often several contacts (a phone call and an e-mail); a contact whose stored personnummer
differs from the one given is someone else and left out. The request is logged (audit) and
blocks gallring of those contacts' cases until it is marked delivered (extract_models).
The document itself is built by :mod:`kontaktcenter.compliance.extracts_document`.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import selectinload

from kontaktcenter.cases.models import Case, Contact
from kontaktcenter.compliance.extract_models import (
    ExtractStatus,
    RegisterExtractContact,
    RegisterExtractRequest,
)
from kontaktcenter.core import audit
from kontaktcenter.core.errors import Conflict, NotFound, ValidationError
from kontaktcenter.core.extensions import db, utcnow
from kontaktcenter.core.identifiers import (
    normalise_email,
    normalise_personnummer,
    normalise_phone,
)
from kontaktcenter.organisation.models import User

NOTE_MAX = 1000
NO_IDENTIFIER = "Ange personnummer, e-postadress eller telefonnummer."
NOT_FOUND = "Begäran om registerutdrag finns inte."
ALREADY = {
    ExtractStatus.DELIVERED: "Registerutdraget är redan levererat.",
    ExtractStatus.WITHDRAWN: "Begäran är redan återkallad.",
    ExtractStatus.PENDING: "Begäran pågår.",
}


SEVERAL_PEOPLE = (
    "Uppgifterna hör till flera personer med olika personnummer. Ange den sökandes "
    "personnummer, så tas bara den personens uppgifter med."
)


@dataclass(frozen=True)
class PersonQuery:
    """The identifiers a person was found by, normalised (core.identifiers)."""

    personnummer: str | None = None
    email: str | None = None
    phone: str | None = None  # E.164

    @classmethod
    def parse(
        cls, personnummer: str | None = None, email: str | None = None, phone: str | None = None
    ) -> PersonQuery:
        """Validated identifiers; a ValidationError names the field at fault."""
        query = cls(
            personnummer=normalise_personnummer(personnummer),
            email=normalise_email(email),
            phone=normalise_phone(phone),
        )
        if query.is_empty():
            raise ValidationError(NO_IDENTIFIER, "personnummer")
        return query

    def is_empty(self) -> bool:
        return not (self.personnummer or self.email or self.phone)

    @property
    def shown(self) -> dict[str, str]:
        """As it may be stored and shown: the personnummer's last four digits masked."""
        shown: dict[str, str] = {}
        if self.personnummer:
            shown["personnummer"] = self.personnummer[:8] + "-****"
        if self.email:
            shown["email"] = self.email
        if self.phone:
            shown["phone"] = self.phone
        return shown


def find_contacts(query: PersonQuery) -> list[Contact]:
    """Every contact matching one of the identifiers, oldest first; a contact with another
    personnummer than the one given is another person, even if the e-mail or phone matches."""
    conditions = []
    if query.personnummer:
        conditions.append(Contact.personnummer == query.personnummer)
    if query.email:
        conditions.append(Contact.email == query.email)
    if query.phone:
        conditions.append(Contact.phone_e164 == query.phone)
    if not conditions:
        return []
    statement = sa.select(Contact).where(sa.or_(*conditions))
    if query.personnummer:
        statement = statement.where(
            sa.or_(Contact.personnummer.is_(None), Contact.personnummer == query.personnummer)
        )
    return list(db.session.scalars(statement.order_by(Contact.id)))


def case_counts(contact_ids: list[int]) -> dict[int, int]:
    """How many cases each contact has (for the search result)."""
    if not contact_ids:
        return {}
    rows = db.session.execute(
        sa.select(Case.contact_id, sa.func.count())
        .where(Case.contact_id.in_(contact_ids))
        .group_by(Case.contact_id)
    )
    return {contact_id: count for contact_id, count in rows if contact_id is not None}


def record_search(by: User, query: PersonQuery, found: list[Contact]) -> None:
    """A search for a person is itself logged (who looked for whom), one event per contact."""
    targets: list[Contact | None] = list(found) or [None]
    for contact in targets:
        audit.add(
            by,
            "search_person",
            contact_id=contact.id if contact else None,
            via="registerutdrag",
            query=query.shown,
        )
    db.session.commit()


def due_date(requested: datetime) -> date:
    """One month after the request (art. 12.3), in Swedish time: 31 January → 28/29 February."""
    day = _local(requested).date()
    year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def create_request(by: User, query: PersonQuery, note: str = "") -> RegisterExtractRequest:
    """Log a request for a register extract: it covers every contact found now, is due in a
    month and blocks gallring of their cases until delivered. Audited, one event per contact."""
    note = (note or "").strip()
    if len(note) > NOTE_MAX:
        raise ValidationError(f"Anteckningen får vara högst {NOTE_MAX} tecken.", "note")
    contacts = _lock_cases(query)
    if len({c.personnummer for c in contacts if c.personnummer}) > 1:
        # A shared address or number (a family's, a workplace's): the extract would hand one
        # person another's cases and personnummer.
        raise ValidationError(SEVERAL_PEOPLE, "personnummer")
    now = utcnow()
    request = RegisterExtractRequest(
        contact_id=contacts[0].id if contacts else None,
        status=ExtractStatus.PENDING,
        requested_at=now,
        requested_by_id=by.id,
        due_on=due_date(now),
        identifiers=query.shown,
        note=note,
        contacts=[RegisterExtractContact(contact_id=contact.id) for contact in contacts],
    )
    db.session.add(request)
    db.session.flush()
    _audit(by, "register_extract_requested", request)
    db.session.commit()
    return request


def _lock_cases(query: PersonQuery) -> list[Contact]:
    """The contacts found, with their cases' rows locked for this transaction: a gallring batch
    that holds one of those cases has committed by now, and one that starts later skips them
    until the request (which blocks their gallring) is committed. The contacts are looked up
    again once locked: a contact the batch emptied no longer matches."""
    found = find_contacts(query)
    if not found:
        return found
    db.session.execute(
        sa.select(Case.id)
        .where(Case.contact_id.in_([contact.id for contact in found]))
        .order_by(Case.id)
        .with_for_update()
    ).all()
    return find_contacts(query)


def mark_delivered(by: User, request_id: int) -> RegisterExtractRequest:
    """The extract was handed over: gallring may go on. Audited."""
    request = _pending(request_id)
    request.status = ExtractStatus.DELIVERED
    request.delivered_at = utcnow()
    request.delivered_by_id = by.id
    _audit(by, "register_extract_delivered", request)
    db.session.commit()
    return request


def withdraw(by: User, request_id: int) -> RegisterExtractRequest:
    """The person withdrew the request: nothing is handed over, gallring may go on. Audited
    (the audit event holds who and when)."""
    request = _pending(request_id)
    request.status = ExtractStatus.WITHDRAWN
    _audit(by, "register_extract_withdrawn", request)
    db.session.commit()
    return request


def _pending(request_id: int) -> RegisterExtractRequest:
    request = get_request(request_id)
    if not request.is_pending:
        raise Conflict(ALREADY[request.status], "status")
    return request


def record_export(by: User, request: RegisterExtractRequest, form: str) -> None:
    """Reading an extract is a disclosure of personal data: logged like a view."""
    _audit(by, "register_extract_exported", request, form=form)
    db.session.commit()


def _audit(by: User, action: str, request: RegisterExtractRequest, **detail: Any) -> None:
    contact_ids: list[int | None] = list(request.contact_ids) or [None]
    for contact_id in contact_ids:
        audit.add(by, action, contact_id=contact_id, request=request.reference, **detail)


def get_request(request_id: int) -> RegisterExtractRequest:
    request = db.session.get(
        RegisterExtractRequest, request_id, options=[selectinload(RegisterExtractRequest.contacts)]
    )
    if request is None:
        raise NotFound(NOT_FOUND)
    return request


def list_requests(
    status: ExtractStatus | None = None, limit: int = 500
) -> list[RegisterExtractRequest]:
    """Pending first, the most urgent first; then the rest, newest first."""
    statement = sa.select(RegisterExtractRequest).options(
        selectinload(RegisterExtractRequest.contacts),
        selectinload(RegisterExtractRequest.requested_by),
    )
    if status is not None:
        statement = statement.where(RegisterExtractRequest.status == status)
    pending_first = sa.case((RegisterExtractRequest.status == ExtractStatus.PENDING, 0), else_=1)
    return list(
        db.session.scalars(
            statement.order_by(
                pending_first,
                sa.case(
                    (
                        RegisterExtractRequest.status == ExtractStatus.PENDING,
                        RegisterExtractRequest.due_on,
                    ),
                    else_=None,
                ),
                RegisterExtractRequest.requested_at.desc(),
                RegisterExtractRequest.id.desc(),
            ).limit(limit)
        )
    )


def pending_counts() -> dict[str, int]:
    """How many requests are pending, and how many of them are past their due date."""
    pending = RegisterExtractRequest.status == ExtractStatus.PENDING
    late = sa.and_(pending, RegisterExtractRequest.due_on < _local(utcnow()).date())
    row = db.session.execute(
        sa.select(sa.func.count().filter(pending), sa.func.count().filter(late)).select_from(
            RegisterExtractRequest
        )
    ).one()
    return {"pending": row[0], "overdue": row[1]}


def overdue(request: RegisterExtractRequest, today: date | None = None) -> bool:
    today = today or _local(utcnow()).date()
    return request.is_pending and request.due_on < today


def _local(moment: datetime) -> datetime:
    return moment.astimezone(ZoneInfo(current_app.config["TIMEZONE"]))
