"""Contacts: finding, matching and creating the people and businesses who contact us."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from kontaktcenter.cases import access
from kontaktcenter.cases.enums import OPEN_STATUSES, ContactKind
from kontaktcenter.cases.models import Case, Contact
from kontaktcenter.core.errors import NotFound, ValidationError
from kontaktcenter.core.extensions import db
from kontaktcenter.core.identifiers import (
    is_email,
    looks_like_phone,
    normalise_email,
    normalise_organisation_number,
    normalise_personnummer,
    normalise_phone,
)
from kontaktcenter.organisation.models import User


@dataclass
class ContactData:
    name: str | None = None
    phone: str | None = None
    email: str | None = None
    kind: ContactKind = ContactKind.CITIZEN
    organisation_number: str | None = None
    personnummer: str | None = None
    # True only when a person identified the caller (an agent on the phone). Unverified input
    # (the API, e-mail) may reuse a contact only if every identifier it gives agrees, and never
    # adds anything to it: else anyone could attach their e-mail to someone else's contact.
    verified: bool = False

    def is_empty(self) -> bool:
        return not any(
            (self.name, self.phone, self.email, self.organisation_number, self.personnummer)
        )


class EmailIndex:
    """Contacts by e-mail address for a batch of work (e-mail intake): read in one query, and
    contacts made during the batch are added as they come, so two messages from a new sender in
    one transaction make one contact, without a flush in between."""

    def __init__(self, emails: set[str]) -> None:
        self._known = {email.lower() for email in emails if email}
        self._by_email: dict[str, Contact] = {}
        if self._known:
            for contact in db.session.scalars(
                sa.select(Contact).where(Contact.email.in_(self._known)).order_by(Contact.id)
            ):
                assert contact.email is not None  # found by it
                self._by_email.setdefault(contact.email, contact)  # the oldest, as _match

    def covers(self, email: str) -> bool:
        return email in self._known

    def get(self, email: str) -> Contact | None:
        return self._by_email.get(email)

    def add(self, contact: Contact) -> None:
        if contact.email:
            self._known.add(contact.email)
            self._by_email.setdefault(contact.email, contact)


def _clean(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


def resolve_contact(
    data: ContactData | None, contact_id: int | None = None, *, index: EmailIndex | None = None
) -> Contact | None:
    """The contact a new case belongs to: the one picked, an existing match, or a new one.

    Matching by normalised phone, then e-mail, avoids a duplicate contact for every call. Blank
    fields of an existing contact are filled in; values already stored are never overwritten.
    Does not commit. `index` answers e-mail look-ups for a batch (see EmailIndex).
    """
    if contact_id is not None:
        contact = db.session.get(Contact, contact_id)
        if contact is None:
            raise NotFound("Kontakten finns inte.", "contact")
    else:
        contact = None
    if data is None or data.is_empty():
        return contact
    name = _clean(data.name)
    phone = _clean(data.phone)
    phone_e164 = normalise_phone(phone)
    email = normalise_email(data.email)
    personnummer = normalise_personnummer(data.personnummer)
    org = normalise_organisation_number(data.organisation_number)
    if name is not None and len(name) > 200:
        raise ValidationError("Namnet är för långt (högst 200 tecken).", "name")

    new = False
    if contact is None:
        contact = _match(phone_e164, email, personnummer, org, verified=data.verified, index=index)
    if contact is None:
        contact, new = Contact(kind=data.kind), True
        db.session.add(contact)
    elif not data.verified and contact_id is None:
        return contact  # matched on everything given: nothing new to add
    if contact.name is None and name:
        contact.name, contact.name_lower = name, name.lower()
    if contact.phone_e164 is None and phone_e164:
        contact.phone, contact.phone_e164 = phone, phone_e164
    if contact.email is None and email:
        contact.email = email
    if contact.personnummer is None and personnummer:
        contact.personnummer = personnummer
    if contact.organisation_number is None and org:
        contact.organisation_number = org
        contact.kind = ContactKind.BUSINESS
    if new and index is not None:
        index.add(contact)
    return contact


def _match(
    phone_e164: str | None,
    email: str | None,
    personnummer: str | None,
    org: str | None,
    *,
    verified: bool,
    index: EmailIndex | None = None,
) -> Contact | None:
    """The existing contact for these identifiers. Verified input matches on phone, then e-mail;
    unverified input only where every identifier given is the same as the one stored."""
    for column, value in ((Contact.phone_e164, phone_e164), (Contact.email, email)):
        if value is None:
            continue
        if index is not None and column is Contact.email and index.covers(value):
            candidate = index.get(value)
        else:
            candidate = db.session.scalars(
                sa.select(Contact).where(column == value).order_by(Contact.id).limit(1)
            ).first()
        if candidate is None:
            continue
        if verified:
            return candidate
        given = {
            "phone_e164": phone_e164,
            "email": email,
            "personnummer": personnummer,
            "organisation_number": org,
        }
        if all(getattr(candidate, key) == value for key, value in given.items() if value):
            return candidate
    return None


def search_contacts(query: str, limit: int = 10) -> list[Contact]:
    """Find callers by phone number (any format), e-mail or the start of the name."""
    query = query.strip()
    if not query:
        return []
    if looks_like_phone(query):
        try:
            e164 = normalise_phone(query)
        except ValidationError:
            return []
        condition = Contact.phone_e164 == e164
    elif "@" in query:
        condition = Contact.email == (normalise_email(query) if is_email(query) else query.lower())
    else:
        escaped = query.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        condition = Contact.name_lower.like(escaped + "%", escape="\\")
    return list(
        db.session.scalars(
            sa.select(Contact).where(condition).order_by(Contact.name_lower).limit(limit)
        )
    )


def open_cases_for(contact_ids: list[int], visible_clause: sa.ColumnElement[bool]) -> list[Case]:
    if not contact_ids:
        return []
    return list(
        db.session.scalars(
            sa.select(Case)
            .where(Case.contact_id.in_(contact_ids), Case.status.in_(OPEN_STATUSES), visible_clause)
            .order_by(Case.received_at.desc())
            .limit(20)
        )
    )


def visible_contacts_clause(user: User) -> sa.ColumnElement[bool]:
    """The people a user may see: everyone for the contact center, for a handler only those
    with a case in the handler's departments (a person is never shown to reveal that they
    contacted another department). The one rule for the contact page and search."""
    if access.sees_all_cases(user):
        return sa.true()
    return sa.exists().where(Case.contact_id == Contact.id, access.visible_clause(user))


def visible_contact(user: User, contact_id: int) -> Contact:
    """A contact the user may see, else 404 (as for a case)."""
    contact = db.session.scalars(
        sa.select(Contact).where(Contact.id == contact_id, visible_contacts_clause(user))
    ).first()
    if contact is None:
        raise NotFound("Kontakten finns inte, eller så har du inte tillgång till den.")
    return contact


def cases_of(user: User, contact: Contact, limit: int = 200) -> list[Case]:
    """The contact's cases this user may see, newest first. Another department's secret cases
    are left out: listing them would tell that the person is a party to one."""
    return list(
        db.session.scalars(
            sa.select(Case)
            .options(joinedload(Case.case_type), joinedload(Case.department))
            .where(
                Case.contact_id == contact.id,
                access.visible_clause(user),
                access.content_visible_clause(user),
            )
            .order_by(Case.received_at.desc(), Case.id.desc())
            .limit(limit)
        )
    )
