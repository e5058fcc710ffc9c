"""What a search box's text is: a case reference, an identifier of a person, or words.

An identifier is recognised only when it is valid (phonenumbers, python-stdnum), so a number
that is not a personnummer is searched as text and never treated as one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from kontaktcenter.core.errors import ValidationError
from kontaktcenter.core.identifiers import (
    DASHES,
    is_email,
    looks_like_phone,
    normalise_email,
    normalise_organisation_number,
    normalise_personnummer,
    normalise_phone,
)

MAX_QUERY = 200

# KC-2026-000303, kc 2026 303, 2026-303, KC2026000303
_REFERENCE = re.compile(r"^(?:kc)?[\s-]*(20\d\d)(?:[\s-]+(\d{1,6})|(\d{6}))$", re.IGNORECASE)
_PNR_SHAPE = re.compile(r"^(\d{2})?\d{6}[-+\s]?\d{4}$")
_ORGNR_SHAPE = re.compile(r"^(16)?\d{6}-?\d{4}$")


class Kind(StrEnum):
    EMPTY = "empty"
    REFERENCE = "reference"
    PHONE = "phone"
    EMAIL = "email"
    PERSONNUMMER = "personnummer"
    ORGANISATION_NUMBER = "organisation_number"
    TEXT = "text"


# Identifiers that are personal data: kept out of URLs, logs and the audit detail in clear.
SENSITIVE = frozenset({Kind.PERSONNUMMER})
# Anything shaped like a personnummer inside other text ("Tolvan 19121212-1212", a mistyped
# check digit) is treated the same way: valid or not, it may be one.
_PNR_TOKEN = re.compile(r"(?<!\d)((?:\d{2})?\d{6})[-+ ]?\d{4}(?!\d)")


@dataclass(frozen=True)
class Query:
    kind: Kind
    text: str  # as typed (stripped)
    value: str = ""  # normalised: the reference, +46…, lower-cased e-mail, YYYYMMDD-NNNN…
    # Ten bare digits can be a valid personnummer and a valid phone number: look up both.
    phone: str | None = None

    @property
    def sensitive(self) -> bool:
        return self.kind in SENSITIVE or (
            self.kind in (Kind.TEXT, Kind.PHONE) and _PNR_TOKEN.search(self.text) is not None
        )

    @property
    def masked(self) -> str:
        """The query as it may be shown in a log, a page title or the audit trail."""
        if self.kind is Kind.PERSONNUMMER:
            return self.value[:8] + "-****"
        if self.kind in (Kind.TEXT, Kind.PHONE):
            return _PNR_TOKEN.sub(lambda m: m.group(1) + "-****", self.text)
        return self.text


def reference_of(text: str) -> str | None:
    match = _REFERENCE.match(text.strip())
    if match is None:
        return None
    year, number = match.group(1), match.group(2) or match.group(3)
    if int(number) == 0:
        return None
    return f"KC-{year}-{int(number):06d}"


def parse(raw: str | None) -> Query:
    # One hyphen for all the dashes (a personnummer copied from a document has U+2011 or an
    # en dash; as anything else it would read as a phone number).
    text = " ".join((raw or "").translate(DASHES).split())[:MAX_QUERY]
    if not text:
        return Query(Kind.EMPTY, "")
    reference = reference_of(text)
    if reference is not None:
        return Query(Kind.REFERENCE, text, reference)
    if "@" in text and " " not in text and is_email(text):
        # The form contacts are stored in (core.identifiers.normalise_email).
        return Query(Kind.EMAIL, text, normalise_email(text) or "")
    compact = text.replace(" ", "")
    if _PNR_SHAPE.match(compact):
        try:
            value = normalise_personnummer(compact)
        except ValidationError:
            value = None
        if value is not None:
            return Query(Kind.PERSONNUMMER, text, value, phone=_phone(text))
    if _ORGNR_SHAPE.match(compact):
        try:
            value = normalise_organisation_number(compact)
        except ValidationError:
            value = None
        if value is not None:
            return Query(Kind.ORGANISATION_NUMBER, text, value)
    # Twelve digits shaped as YYYYMMDD-NNNN are a mistyped personnummer, not a phone number.
    phone = None if _PNR_SHAPE.match(compact) and len(compact) >= 12 else _phone(text)
    if phone is not None:
        return Query(Kind.PHONE, text, phone, phone=phone)
    return Query(Kind.TEXT, text)


def _phone(text: str) -> str | None:
    if not looks_like_phone(text):
        return None
    try:
        return normalise_phone(text)
    except ValidationError:
        return None
