import pytest

from kontaktcenter.cases.contacts import ContactData, resolve_contact, search_contacts
from kontaktcenter.core.errors import ValidationError
from kontaktcenter.core.identifiers import (
    format_phone,
    normalise_organisation_number,
    normalise_personnummer,
    normalise_phone,
)


@pytest.mark.parametrize(
    "raw", ["070-123 45 67", "+46 70 123 45 67", "0046701234567", "0701234567"]
)
def test_mobile_formats_are_one_number(raw):
    assert normalise_phone(raw) == "+46701234567"


def test_landline_with_area_code():
    assert normalise_phone("08-123 456 78") == normalise_phone("+46 8 123 456 78") == "+46812345678"
    assert format_phone("+46812345678") == "08-123 456 78"


@pytest.mark.parametrize("raw", ["12", "abc", "070-123 45 67 89 12 34"])
def test_bad_phone_numbers_are_refused(raw):
    with pytest.raises(ValidationError):
        normalise_phone(raw)


def test_personnummer_forms_and_luhn():
    assert normalise_personnummer("191212121212") == "19121212-1212"
    assert normalise_personnummer("19121212-1212") == "19121212-1212"
    assert normalise_personnummer("121212+1212") == "19121212-1212"  # + means 100 years or older
    with pytest.raises(ValidationError):
        normalise_personnummer("19121212-1213")


def test_organisation_number():
    assert normalise_organisation_number("2120000142") == "212000-0142"
    with pytest.raises(ValidationError):
        normalise_organisation_number("212000-0143")


def test_resolve_contact_matches_and_never_overwrites(db_session):
    first = resolve_contact(ContactData(name="Anna", phone="070-111 22 33", verified=True))
    db_session.commit()
    again = resolve_contact(
        ContactData(name="Annika", phone="+46701112233", email="A@Example.se", verified=True)
    )
    db_session.commit()
    assert again.id == first.id and again.name == "Anna" and again.email == "a@example.se"
    assert search_contacts("0701112233")[0].id == first.id
    assert search_contacts("ann")[0].id == first.id
    assert search_contacts("a@example.se")[0].id == first.id
    assert search_contacts("100%_") == []


def test_unverified_input_never_adds_to_someone_elses_contact(db_session):
    victim = resolve_contact(ContactData(name="Vera", phone="070-222 33 44", verified=True))
    db_session.commit()
    other = resolve_contact(ContactData(phone="070-222 33 44", email="attacker@evil.example"))
    db_session.commit()
    assert other.id != victim.id and victim.email is None
    same = resolve_contact(ContactData(name="Vera V", phone="+46702223344"))
    assert same.id == victim.id and victim.name == "Vera"  # all given agrees: reused, unchanged
