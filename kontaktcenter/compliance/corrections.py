"""Correction of a contact's data (rättelse, GDPR art. 16).

The old and the new value of each changed field go to the audit log (a personnummer masked, as
everywhere in the log), and every case of the contact gets a note on its timeline saying which
fields were corrected (not the values: the timeline is read by many). One transaction.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from kontaktcenter.cases.enums import ActivityKind
from kontaktcenter.cases.models import Activity, Case, Contact
from kontaktcenter.core import audit
from kontaktcenter.core.errors import NotFound, ValidationError
from kontaktcenter.core.extensions import db
from kontaktcenter.core.identifiers import (
    normalise_email,
    normalise_organisation_number,
    normalise_personnummer,
    normalise_phone,
)
from kontaktcenter.organisation.models import User

FIELDS = ("name", "phone", "email", "personnummer", "organisation_number")
LABELS = {
    "name": "namn",
    "phone": "telefonnummer",
    "email": "e-postadress",
    "personnummer": "personnummer",
    "organisation_number": "organisationsnummer",
}
REASON_MAX = 1000
NOTHING_CHANGED = "Inga uppgifter ändrades."
NOT_FOUND = "Kontakten finns inte."


def _clean(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


def _normalised(field: str, value: str | None) -> Any:
    """The stored form of a new value (the rules of cases/contacts)."""
    value = _clean(value)
    if field == "name":
        if value is not None and len(value) > 200:
            raise ValidationError("Namnet är för långt (högst 200 tecken).", "name")
        return value
    if field == "phone":
        return value, normalise_phone(value)
    if field == "email":
        return normalise_email(value)
    if field == "personnummer":
        return normalise_personnummer(value)
    return normalise_organisation_number(value)


def _current(contact: Contact, field: str) -> Any:
    if field == "phone":
        return contact.phone_e164
    return getattr(contact, field)


def _shown(field: str, value: Any) -> Any:
    if field == "personnummer" and value:
        return value[:8] + "-****"
    if field == "phone" and isinstance(value, tuple):
        return value[1]
    return value


def correct_contact(
    by: User, contact_id: int, changes: dict[str, str | None], reason: str
) -> Contact:
    """Apply `changes` (field → new value; blank or None removes it) to the contact. Only the
    fields given are touched. Raises ValidationError naming the field at fault."""
    contact = db.session.get(Contact, contact_id)
    if contact is None:
        raise NotFound(NOT_FOUND)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError("Ange varför uppgifterna rättas.", "reason")
    if len(reason) > REASON_MAX:
        raise ValidationError(f"Motiveringen får vara högst {REASON_MAX} tecken.", "reason")
    unknown = set(changes) - set(FIELDS)
    if unknown:
        raise ValidationError("Okänt fält.", sorted(unknown)[0])
    recorded: dict[str, dict[str, Any]] = {}
    for field in FIELDS:
        if field not in changes:
            continue
        new = _normalised(field, changes[field])
        stored = new[1] if field == "phone" else new
        if stored == _current(contact, field):
            continue
        recorded[field] = {
            "old": _shown(field, _current(contact, field)),
            "new": _shown(field, new),
        }
        if field == "name":
            contact.name, contact.name_lower = new, new.lower() if new else None
        elif field == "phone":
            contact.phone, contact.phone_e164 = new
        else:
            setattr(contact, field, new)
    if not recorded:
        raise ValidationError(NOTHING_CHANGED)
    fields = [LABELS[field] for field in recorded]
    text = (
        "Kontaktuppgifterna rättades (art. 16 dataskyddsförordningen): " + ", ".join(fields) + "."
    )
    for case in db.session.scalars(sa.select(Case).where(Case.contact_id == contact.id)):
        db.session.add(
            Activity(
                case=case,
                kind=ActivityKind.NOTE,
                actor_id=by.id,
                text=text,
                data={"gdpr": "correction", "fields": list(recorded)},
            )
        )
    audit.add(by, "contact_corrected", contact_id=contact.id, changes=recorded, reason=reason)
    db.session.commit()
    return contact
