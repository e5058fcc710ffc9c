"""One valid e-mail address wherever an address enters (issue #13, item 12): the call form, the
API, mail headers, the admin's users, departments and mailboxes; and the composer refuses to
send to anything else, so an old bad row gives a clear message instead of a 500."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from kontaktcenter.cases.contacts import ContactData
from kontaktcenter.cases.enums import Channel, Outcome
from kontaktcenter.cases.models import Case, Contact
from kontaktcenter.channels.email import outbound
from kontaktcenter.channels.email import settings as mail_settings
from kontaktcenter.channels.email.intake import ingest
from kontaktcenter.channels.email.models import MailKind, MailMessage
from kontaktcenter.core.errors import ValidationError
from kontaktcenter.core.extensions import db
from kontaktcenter.core.identifiers import is_email, normalise_email
from kontaktcenter.core.outbox import OutboxJob
from kontaktcenter.core.roles import Role
from kontaktcenter.organisation import services as organisation
from kontaktcenter.organisation.users import create_user
from tests.api_client import api_as, error_of
from tests.factories import make_case, post
from tests.mailutil import make_mail

INJECTED = "a@example.org\r\nBcc: everyone@evil.example"
TWO = "a@x.org, b@evil.example"
BAD = [
    INJECTED,
    TWO,
    "a@x.org;b@evil.example",
    "Anna <a@x.org>",
    "a b@x.org",
    "anna@exempel",  # no top-level domain
    "åsa@exempel.se",  # needs SMTPUTF8, which our mail cannot count on
    "a@" + "x" * 250 + ".se",
]


def _count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model)) or 0


# --- the rule ---------------------------------------------------------------------------------


@pytest.mark.parametrize("address", BAD)
def test_anything_but_one_address_is_refused(address):
    assert not is_email(address)
    with pytest.raises(ValidationError) as refused:
        normalise_email(address)
    assert refused.value.field == "email" and "E-postadressen är inte giltig" in str(refused.value)


@pytest.mark.parametrize(
    "typed, stored",
    [
        ("Anna.Berg@Example.SE", "anna.berg@example.se"),
        ("  anna@example.se ", "anna@example.se"),
        ("anna@åre.se", "anna@xn--re-xia.se"),  # the form a mail header can carry
    ],
)
def test_a_valid_address_is_stored_in_one_form(typed, stored):
    assert normalise_email(typed) == stored
    assert normalise_email("") is None and normalise_email(None) is None


# --- where addresses enter ---------------------------------------------------------------------


@pytest.mark.parametrize("address", [INJECTED, TWO])
def test_the_call_form_refuses_a_bad_address_and_saves_nothing(org, client, login, address):
    login(org.agent)
    before = (_count(Case), _count(Contact))
    response = post(
        client,
        "/samtal/ny",
        {
            "phone": "070-123 45 67",
            "email": address,
            "summary": "Fråga om bygglov",
            "outcome": "answered",
        },
    )
    assert response.status_code == 422
    assert "E-postadressen är inte giltig" in response.get_data(as_text=True)
    assert (_count(Case), _count(Contact)) == before


@pytest.mark.parametrize("address", [INJECTED, TWO])
def test_the_api_refuses_a_bad_contact_address(org, client, address):
    before = (_count(Case), _count(Contact))
    response = api_as(client, org.agent).post(
        "/cases",
        {
            "channel": "phone",
            "summary": "Fråga om bygglov",
            "outcome": "answered",
            "contact": {"name": "Anna", "email": address},
        },
    )
    assert response.status_code == 422
    assert error_of(response)["field"] == "contact.email"
    assert (_count(Case), _count(Contact)) == before


def test_the_contact_service_refuses_it_for_every_caller(org):
    with pytest.raises(ValidationError):
        make_case(org.agent, contact=ContactData(name="Anna", email=TWO))
    assert _count(Contact) == 0 and _count(Case) == 0


@pytest.mark.parametrize("sender", ["anna@exempel", "Åsa <åsa@exempel.se>"])
def test_mail_from_a_bad_address_is_filed_without_a_contact_address(org, sender):
    result = ingest(make_mail(sender=sender, subject="Fråga om parkering"))
    assert result.result == "created"  # never lost
    case = db.session.scalars(sa.select(Case).where(Case.reference == result.reference)).one()
    assert case.contact is None or case.contact.email is None
    (message,) = case.messages
    assert message.subject == "Fråga om parkering"
    assert not db.session.scalars(
        sa.select(MailMessage).where(MailMessage.kind == MailKind.ACKNOWLEDGEMENT)
    ).all()


def test_mail_from_a_good_address_still_makes_its_contact(org):
    result = ingest(make_mail(sender="Anna Berg <Anna.Berg@Example.SE>"))
    case = db.session.scalars(sa.select(Case).where(Case.reference == result.reference)).one()
    assert case.contact.email == "anna.berg@example.se"


# --- the admin's addresses ---------------------------------------------------------------------


def test_a_user_needs_one_valid_address(org):
    for address in (INJECTED, TWO, "a,b@kommun.example"):
        with pytest.raises(ValidationError) as refused:
            create_user(address, "Ny Person", Role.AGENT, "ett-langt-losenord")
        assert refused.value.field == "email"
    user = create_user("Ny.Person@Kommun.example", "Ny Person", Role.AGENT, "ett-langt-losenord")
    assert user.email == "ny.person@kommun.example"


def test_a_department_address_gets_alerts_so_it_must_be_one_address(org):
    for address in ("a,b@kommun.example", TWO):
        with pytest.raises(ValidationError) as refused:
            organisation.create_department(
                organisation.DepartmentData(name="Ny", contact_email=address)
            )
        assert refused.value.field == "contact_email"


def _mailbox(address: str) -> mail_settings.MailboxData:
    return mail_settings.MailboxData(
        address=address,
        name="Bygglov",
        imap_host="imap.kommun.example",
        imap_user="bygglov",
        password_env="IMAP_PASSWORD_BYGGLOV",
    )


def test_a_mailbox_and_a_routing_rule_need_one_valid_address(org):
    with pytest.raises(ValidationError) as refused:
        mail_settings.save_mailbox(None, _mailbox("a,b@kommun.example"))
    assert refused.value.field == "address"
    with pytest.raises(ValidationError) as refused:
        mail_settings.save_rule(
            None,
            mail_settings.RuleData(
                kind=mail_settings.RuleKind.RECIPIENT,
                pattern="a,b@kommun.example",
                case_type=org.bygglov,
            ),
        )
    assert refused.value.field == "pattern"


def test_the_admin_forms_refuse_it_too(org, client, login):
    login(org.admin)
    response = post(
        client,
        "/admin/anvandare/ny",
        {"email": TWO, "name": "Ny", "role": "agent", "password": "ett-langt-losenord"},
    )
    assert response.status_code == 422 and "Ange en giltig e-postadress." in response.text
    response = post(client, "/admin/forvaltningar/ny", {"name": "Ny", "contact_email": TWO})
    assert response.status_code == 422 and "Ange en giltig e-postadress." in response.text


# --- an old row with a bad address -----------------------------------------------------------


def _case_with_stored_address(org, address: str) -> Case:
    """A case whose contact got a bad address before this validation existed."""
    case = make_case(
        org.agent, org.bygglov, outcome=Outcome.ROUTED, channel=Channel.PHONE, summary="Fråga"
    )
    case.contact.email = address
    db.session.commit()
    return case


@pytest.mark.parametrize("address", [INJECTED, TWO])
def test_replying_to_an_old_bad_address_explains_and_sends_nothing(org, client, login, address):
    case = _case_with_stored_address(org, address)
    login(org.handler_bygg)
    response = post(
        client,
        f"/arenden/{case.id}/reply",
        {"version": case.version, "body": "Hej! Här är svaret."},
        follow_redirects=True,
    )
    assert response.status_code == 422
    assert "Kontaktens e-postadress är inte en giltig adress" in response.get_data(as_text=True)
    assert _count(MailMessage) == 0 and _count(OutboxJob) == 0


def test_the_api_reply_to_an_old_bad_address_is_a_clear_json_error(org, client):
    case = _case_with_stored_address(org, INJECTED)
    response = api_as(client, org.handler_bygg).post(
        f"/cases/{case.reference}/replies", {"body": "Hej! Här är svaret."}
    )
    assert response.status_code == 422
    assert error_of(response)["message"].startswith("Kontaktens e-postadress är inte en giltig")
    assert _count(MailMessage) == 0


def test_the_composer_itself_refuses_more_than_one_recipient(org):
    case = _case_with_stored_address(org, "anna@example.se")
    with pytest.raises(ValidationError):
        outbound.compose(case, MailKind.REPLY, TWO, "Sv: Fråga", "Hej!")
    assert _count(MailMessage) == 0


def test_the_call_form_marks_the_field_before_anything_else_is_checked(org, client, login):
    """The form's own check: the address is marked even while the rest of the form is wrong
    (the service, which checks it again, is not reached then)."""
    login(org.agent)
    response = post(client, "/samtal/ny", {"email": TWO, "summary": "", "outcome": "answered"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Skriv en kort sammanfattning." in html and "E-postadressen är inte giltig" in html


def test_people_are_found_by_the_address_in_the_form_it_was_stored(org, client, login):
    """An internationalised domain is stored as punycode: typed either way, it finds them."""
    make_case(org.agent, org.bygglov, contact=ContactData(name="Anna Åre", email="anna@åre.se"))
    assert db.session.scalars(sa.select(Contact.email)).all() == ["anna@xn--re-xia.se"]
    login(org.agent)
    for typed in ("anna@åre.se", "Anna@xn--re-xia.se"):
        html = client.get("/samtal/ny", query_string={"q": typed}).get_data(as_text=True)
        assert "Anna Åre" in html, typed
        html = client.get("/sok/", query_string={"q": typed}).get_data(as_text=True)
        assert "Anna Åre" in html, typed
