"""Personnummer, samordningsnummer and e-mail addresses at their edges (the cases the mutation
run of core/identifiers.py found untested): the first and last day a samordningsnummer can
have, days that are no date, a separator that is no separator, the refusal's words and field,
the longest address, and the log line's masking; and the same module's phone and organisation
numbers: why one is refused, where their lengths end, how they are shown."""

from __future__ import annotations

import pytest
from stdnum import luhn

from kontaktcenter.core.errors import ValidationError
from kontaktcenter.core.identifiers import (
    INVALID_EMAIL,
    format_phone,
    is_email,
    is_personnummer,
    looks_like_phone,
    mask_personal_data,
    mask_personnummer,
    normalise_email,
    normalise_organisation_number,
    normalise_personnummer,
    normalise_phone,
)


def _number(yymmdd: str, serial: str = "987", separator: str = "-") -> str:
    """``YYMMDD-NNNN`` with a valid check digit (Luhn over the ten digits)."""
    digits = yymmdd + serial
    return f"{yymmdd}{separator}{serial}{luhn.calc_check_digit(digits)}"


@pytest.mark.parametrize(
    "yymmdd, born",
    [("811261", "19811201"), ("811291", "19811231"), ("800289", "19800229")],
)
def test_the_first_and_last_day_of_a_samordningsnummer(yymmdd, born):
    number = _number(yymmdd)
    assert is_personnummer(number) and is_personnummer("19" + number)
    assert normalise_personnummer(number) == "19" + number
    assert mask_personnummer(f"Samordningsnr {number}.") == f"Samordningsnr {yymmdd}-****."
    assert normalise_personnummer(_number(born[2:])) == f"{born}-{_number(born[2:])[-4:]}"


@pytest.mark.parametrize(
    "yymmdd",
    [
        "811260",  # day 0 + 60
        "811292",  # day 32 + 60
        "811245",  # no date, and no samordningsnummer either
        "811232",
        "811200",
        "811131",  # 31 November
        "811191",  # 31 November + 60
        "810289",  # 29 February 1981 + 60
    ],
)
def test_days_that_are_no_date_are_refused(yymmdd):
    number = _number(yymmdd)
    assert not is_personnummer(number)
    assert not is_personnummer("19" + number)
    assert mask_personnummer(number) == number
    with pytest.raises(ValidationError):
        normalise_personnummer(number)


@pytest.mark.parametrize("separator", ["x", "X", "/", "."])
def test_a_samordningsnummer_needs_a_real_separator(separator):
    number = _number("811261", separator=separator)
    assert is_personnummer(_number("811261"))
    assert not is_personnummer(number)
    assert not is_personnummer("19" + number)


def test_a_samordningsnummer_with_a_digit_too_many_is_refused():
    number = _number("811261").replace("-", "")
    assert is_personnummer(number)
    assert not is_personnummer(number + "1")
    assert not is_personnummer(number[:6] + "1" + number[6:])


def test_a_refused_personnummer_says_so_on_its_field():
    with pytest.raises(ValidationError) as refused:
        normalise_personnummer("19811218-9875")
    assert refused.value.message == "Personnumret är inte giltigt."
    assert refused.value.field == "personnummer"


def test_the_longest_address_is_254_characters():
    longest = "a" * 64 + "@" + "b" * 63 + "." + "c" * 63 + "." + "d" * 58 + ".se"
    assert len(longest) == 254
    assert normalise_email(longest) == longest and is_email(longest)
    with pytest.raises(ValidationError) as refused:
        normalise_email("a" + longest, field="reply_to")
    assert refused.value.message == INVALID_EMAIL and refused.value.field == "reply_to"
    assert not is_email("a" + longest)


def test_a_log_line_keeps_the_domain_and_the_birth_date_only():
    line = "550 <anna.berg+kc@example.se> refused; case for 19811218-9876 (order 19811218-9875)"
    assert mask_personal_data(line) == (
        "550 <…@example.se> refused; case for 19811218-**** (order 19811218-9875)"
    )
    assert mask_personal_data("no personal data") == "no personal data"


# --- phone numbers and organisation numbers (in the same module) --------------------------------


@pytest.mark.parametrize(
    "raw, message",
    [
        ("0" * 41, "Telefonnumret är för långt."),
        ("070-123 45 67" + " " * 28, "Telefonnumret är för långt."),  # 41 characters
        ("abc", "Telefonnumret kunde inte tolkas."),
        ("12", "Telefonnumret har fel antal siffror."),
    ],
)
def test_a_refused_phone_number_says_why_on_its_field(raw, message):
    with pytest.raises(ValidationError) as refused:
        normalise_phone(raw)
    assert refused.value.message == message and refused.value.field == "phone"


def test_a_phone_number_of_40_characters_is_read():
    assert normalise_phone("070-123 45 67" + " " * 27) == "+46701234567"


@pytest.mark.parametrize(
    "text, phone",
    [("12345", True), ("1234", False), ("12345abc", True), ("12345abcd", False), ("070 12", True)],
)
def test_what_looks_like_a_phone_number(text, phone):
    assert looks_like_phone(text) is phone


def test_phone_numbers_are_shown_nationally_when_swedish():
    assert format_phone(None) == "" and format_phone("") == ""
    assert format_phone("0812345678") == "08-123 456 78"  # stored before normalising
    assert format_phone("+4722123456") == "+47 22 12 34 56"
    assert format_phone("inte ett nummer") == "inte ett nummer"


def test_a_refused_organisation_number_says_so_on_its_field():
    with pytest.raises(ValidationError) as refused:
        normalise_organisation_number("212000-0143")
    assert refused.value.message == "Organisationsnumret är inte giltigt."
    assert refused.value.field == "organisation_number"
