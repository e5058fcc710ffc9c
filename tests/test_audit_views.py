"""Views that show personal data write an audit event (issue #13, item 14), as the case page
and the contact page do: the whole message with its images, and a contact opened in the call
form by its id (the first line may open anyone in the register, so every such view is logged);
a handler cannot reach contacts outside their departments' cases at all."""

from __future__ import annotations

from email.message import EmailMessage

import sqlalchemy as sa

from kontaktcenter.cases.contacts import ContactData
from kontaktcenter.cases.models import Case, Contact
from kontaktcenter.channels.email.intake import ingest
from kontaktcenter.core.audit import AuditEvent
from kontaktcenter.core.extensions import db
from tests.factories import make_case


def _events(action: str) -> list[AuditEvent]:
    return list(
        db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        )
    )


def test_the_message_with_its_images_is_audited(org, client, login, outbox):
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "a@example.se", "k@kommun.example", "Bild"
    message["Message-ID"] = "<bild-1@example.se>"
    message.set_content("Se bild")
    message.add_alternative('<p>Se bild</p><img src="https://example.se/a.png">', subtype="html")
    reference = ingest(message.as_bytes()).reference
    case = db.session.scalars(sa.select(Case).where(Case.reference == reference)).one()
    message_id = case.messages[0].id
    login(org.agent)
    response = client.get(f"/arenden/{case.id}/meddelanden/{message_id}/med-bilder")
    assert response.status_code == 200 and "Se bild" in response.get_data(as_text=True)
    (event,) = _events("view_message")
    assert (event.user_id, event.case_id, event.contact_id) == (
        org.agent.id,
        case.id,
        case.contact_id,
    )
    assert event.detail == {"message": message_id, "remote_images": True}
    # Another department's handler: a 404, and nothing to log.
    login(org.handler_miljo)
    response = client.get(f"/arenden/{case.id}/meddelanden/{message_id}/med-bilder")
    assert response.status_code == 404 and len(_events("view_message")) == 1


def test_a_contact_opened_in_the_call_form_is_audited_every_time(org, client, login):
    case = make_case(
        org.agent, org.bygglov, contact=ContactData(name="Sara Lind", phone="070-765 43 21")
    )
    login(org.agent)
    for _ in range(2):
        html = client.get("/samtal/ny", query_string={"contact_id": case.contact_id}).get_data(
            as_text=True
        )
        assert "Sara Lind" in html
    events = _events("view_contact")
    assert [(e.user_id, e.contact_id, e.detail) for e in events] == [
        (org.agent.id, case.contact_id, {"via": "call_form"})
    ] * 2


def test_an_unknown_contact_id_shows_nobody_and_logs_nothing(org, client, login):
    login(org.agent)
    response = client.get("/samtal/ny", query_string={"contact_id": 999999})
    assert response.status_code == 200
    assert "byt uppringare" not in response.get_data(as_text=True)
    assert _events("view_contact") == []


def test_a_caller_looked_up_by_number_is_audited_like_search(org, client, login):
    case = make_case(
        org.agent, org.bygglov, contact=ContactData(name="Sara Lind", phone="070-765 43 21")
    )
    login(org.agent)
    html = client.get("/samtal/ny", query_string={"q": "0707654321"}).get_data(as_text=True)
    assert "Sara Lind" in html
    (event,) = _events("search")
    assert event.user_id == org.agent.id
    assert event.detail == {
        "kind": "phone",
        "query": "0707654321",
        "via": "call_form",
        "contacts": [case.contact_id],
    }
    # A name search shows names only, like the search page's, and is not an identifier look-up.
    client.get("/samtal/ny", query_string={"q": "Sara"})
    assert len(_events("search")) == 1


def test_contacts_stay_out_of_reach_of_handlers(org, client, login):
    """A handler sees only people with a case in their departments (the contact page and
    search), and never gets the call form, where the whole register is open."""
    theirs = make_case(
        org.agent, org.bygglov, contact=ContactData(name="Bo Bygg", phone="070-111 11 11")
    )
    other = make_case(
        org.agent, org.miljotillsyn, contact=ContactData(name="Mia Miljö", phone="070-222 22 22")
    )
    login(org.handler_bygg)
    assert client.get(f"/kontakter/{theirs.contact_id}").status_code == 200
    assert client.get(f"/kontakter/{other.contact_id}").status_code == 404
    response = client.get("/samtal/ny", query_string={"contact_id": other.contact_id})
    assert response.status_code == 403
    assert [e.contact_id for e in _events("view_contact")] == [theirs.contact_id]
    assert db.session.get(Contact, other.contact_id) is not None
