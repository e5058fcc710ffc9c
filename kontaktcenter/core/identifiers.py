"""Identifiers, normalised and validated by well-kept libraries: phone numbers (phonenumbers),
personnummer / samordningsnummer and organisationsnummer (python-stdnum), e-mail addresses
(email-validator). Also the one rule for hiding personnummer in free text."""

from __future__ import annotations

import re
from datetime import date
from typing import overload

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from stdnum import luhn
from stdnum.exceptions import InvalidFormat
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.se import orgnr
from stdnum.se import personnummer as pnr

from kontaktcenter.core.errors import ValidationError

INVALID_EMAIL = "E-postadressen är inte giltig. Ange en enda adress, till exempel namn@exempel.se."


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


# Dashes people (and word processors) type for the hyphen of a personnummer: the Unicode
# hyphens U+2010/U+2011, figure dash, en dash, minus sign.
DASHES = str.maketrans(dict.fromkeys("\u2010\u2011\u2012\u2013\u2212", "-"))


def _birth_date(raw: str) -> tuple[str, date]:
    """The number in python-stdnum's compact form (``[YY]YYMMDD-NNNN``) and the birth date, for a
    valid personnummer or samordningsnummer; a StdnumError otherwise.

    python-stdnum knows the personnummer only. A samordningsnummer is the same number with 60
    added to the day: the check digit covers the digits as they are (python-stdnum's Luhn),
    the birth date is the one with the 60 taken off."""
    compact = pnr.compact(raw.translate(DASHES))
    try:
        return pnr.validate(compact), pnr.get_birth_date(compact)
    except StdnumError:
        day = compact[-7:-5]
        if len(compact) not in (11, 13) or not day.isdigit() or not 61 <= int(day) <= 91:
            raise
    born = pnr.get_birth_date(f"{compact[:-7]}{int(day) - 60:02d}{compact[-5:]}")
    digits = compact[:-5] + compact[-4:]
    if compact[-5] not in "-+" or not digits.isdigit():
        raise InvalidFormat()
    luhn.validate(digits[-10:])
    return compact, born


def is_personnummer(raw: str) -> bool:
    """A valid personnummer or samordningsnummer, in any of its usual forms."""
    try:
        _birth_date(raw)
    except (StdnumError, ValueError):
        return False
    return True


def normalise_personnummer(raw: str | None) -> str | None:
    """Validated personnummer (or samordningsnummer) as ``YYYYMMDD-NNNN``."""
    if raw is None or not raw.strip():
        return None
    try:
        compact, born = _birth_date(raw.strip())
    except (StdnumError, ValueError):
        raise ValidationError("Personnumret är inte giltigt.", "personnummer") from None
    digits = compact.replace("-", "").replace("+", "")
    # A samordningsnummer adds 60 to the day; keep the number's own digits, with the century.
    return f"{born.year // 100:02d}{digits[-10:-4]}-{digits[-4:]}"


# A personnummer or samordningsnummer inside text, in the forms people write: 12 or 10 digits,
# with "-", "+" (100 years or older), an en dash or a Unicode hyphen (U+2010, U+2011, as word
# processors write it), or without; a space may stand beside or instead of the separator. Not
# part of a longer number ("…-9876-12" is an order number).
_PNR_IN_TEXT = re.compile(
    r"(?<!\d)(?<!\d[-+–\u2010\u2011])(\d{8}|\d{6})"
    r"([ \t\u00a0]?[-+–\u2010\u2011][ \t\u00a0]?|[ \t\u00a0]?)(\d{4})"
    r"(?!\d)(?![-+–\u2010\u2011]\d)"
)


@overload
def mask_personnummer(text: str) -> str: ...
@overload
def mask_personnummer(text: None) -> None: ...
@overload
def mask_personnummer(text: str | None) -> str | None: ...
def mask_personnummer(text: str | None) -> str | None:
    """The text with each valid personnummer and samordningsnummer masked: its birth date is
    kept and its last four digits become ``****`` (``19811218-9876`` → ``19811218-****``), as a
    contact's own number is shown. Digits that are not a valid number (an order number, a
    mistyped check digit) are left as they are. Lists, search hits, the API's lists and mail to
    staff show free text through this; only the case itself shows it whole."""
    if not text or _SIX_DIGITS.search(text) is None:  # most texts: no number to look at
        return text
    return _PNR_IN_TEXT.sub(_mask_match, text)


# Every match of _PNR_IN_TEXT has six digits in a row; this finds them five times as fast
# (a pattern that begins with a lookbehind is tried at every position of the text).
_SIX_DIGITS = re.compile(r"\d{6}")


def _mask_match(match: re.Match[str]) -> str:
    born, separator, serial = match.groups()
    sign = "+" if separator.strip() == "+" else "-"
    if not is_personnummer(born + sign + serial):
        return match.group(0)
    return f"{born}{sign}****"


# An e-mail address inside text (an SMTP server's refusal, say): its part before the @.
_EMAIL_LOCAL_PART = re.compile(r"[A-Za-z0-9._%+-]+@(?=[A-Za-z0-9-]+\.)")


def mask_personal_data(text: str) -> str:
    """Text for a log line: personnummer masked, e-mail addresses reduced to their domain
    (``…@example.se``). Logs are kept and read outside the audit trail; they need the domain
    (which server refused) but not whose address it was."""
    return _EMAIL_LOCAL_PART.sub("…@", mask_personnummer(text))


def normalise_email(raw: str | None, field: str = "email") -> str | None:
    """One valid e-mail address, or None for a blank value; a ValidationError otherwise.

    email-validator decides (no DNS look-up): a line break, a second address, a display name
    or anything a mail header could misread is refused. Stored lower-cased in its ASCII form
    (an internationalised domain as punycode), the form a mail header can carry; an address
    whose part before the @ is not ASCII needs SMTPUTF8, which our mail cannot rely on."""
    if raw is None or not raw.strip():
        return None
    try:
        result = validate_email(raw.strip(), check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError:
        raise ValidationError(INVALID_EMAIL, field) from None
    address = result.ascii_email or result.normalized
    if len(address) > 254:
        raise ValidationError(INVALID_EMAIL, field)
    return address.lower()


def is_email(raw: str | None) -> bool:
    """Exactly one valid address (see normalise_email)."""
    try:
        return normalise_email(raw) is not None
    except ValidationError:
        return False


def normalise_organisation_number(raw: str | None) -> str | None:
    if raw is None or not raw.strip():
        return None
    try:
        return orgnr.format(orgnr.validate(raw.strip()))
    except StdnumError:
        raise ValidationError(
            "Organisationsnumret är inte giltigt.", "organisation_number"
        ) from None
