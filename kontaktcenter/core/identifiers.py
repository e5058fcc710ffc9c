"""Swedish identifiers, normalised and validated by well-kept libraries: phone numbers
(phonenumbers), personnummer / samordningsnummer and organisationsnummer (python-stdnum)."""

from __future__ import annotations

import phonenumbers
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.se import orgnr
from stdnum.se import personnummer as pnr

from kontaktcenter.core.errors import ValidationError


def normalise_phone(raw: str | None) -> str | None:
    """``070-123 45 67``, ``+46 70 123 45 67`` and ``0046701234567`` all become ``+46701234567``."""
    if raw is None or not raw.strip():
        return None
    if len(raw) > 40:
        raise ValidationError("Telefonnumret är för långt.", "phone")
    try:
        number = phonenumbers.parse(raw, "SE")
    except phonenumbers.NumberParseException:
        raise ValidationError("Telefonnumret kunde inte tolkas.", "phone") from None
    if not phonenumbers.is_possible_number(number):
        raise ValidationError("Telefonnumret har fel antal siffror.", "phone")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def looks_like_phone(text: str) -> bool:
    digits = sum(ch.isdigit() for ch in text)
    return digits >= 5 and digits >= len(text.replace(" ", "")) - 3


def format_phone(e164: str | None) -> str:
    """Swedish national format for display: ``070-123 45 67``."""
    if not e164:
        return ""
    try:
        number = phonenumbers.parse(e164, "SE")
    except phonenumbers.NumberParseException:
        return e164
    fmt = (
        phonenumbers.PhoneNumberFormat.NATIONAL
        if number.country_code == 46
        else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    )
    return phonenumbers.format_number(number, fmt)


def normalise_personnummer(raw: str | None) -> str | None:
    """Validated personnummer (or samordningsnummer) as ``YYYYMMDD-NNNN``."""
    if raw is None or not raw.strip():
        return None
    try:
        compact = pnr.validate(raw.strip())
        born = pnr.get_birth_date(compact)
    except StdnumError:
        raise ValidationError("Personnumret är inte giltigt.", "personnummer") from None
    digits = compact.replace("-", "").replace("+", "")
    # A samordningsnummer adds 60 to the day; keep the number's own digits, with the century.
    return f"{born.year // 100:02d}{digits[-10:-4]}-{digits[-4:]}"


def normalise_organisation_number(raw: str | None) -> str | None:
    if raw is None or not raw.strip():
        return None
    try:
        return orgnr.format(orgnr.validate(raw.strip()))
    except StdnumError:
        raise ValidationError(
            "Organisationsnumret är inte giltigt.", "organisation_number"
        ) from None
