"""Register extracts (GDPR art. 15): the document holds everything about the person and nothing
about anyone else; the request is logged and blocks gallring until delivered."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa

from kontaktcenter.cases import actions
from kontaktcenter.cases.contacts import ContactData
from kontaktcenter.cases.enums import Channel
from kontaktcenter.cases.models import Case
from kontaktcenter.cases.secrecy import masked_text
from kontaktcenter.channels.email import store
from kontaktcenter.channels.email.models import Direction, MailKind, MailMessage, MailStatus
from kontaktcenter.compliance import extracts, extracts_document
from kontaktcenter.compliance.extract_models import (
    ExtractStatus,
    RegisterExtractRequest,
    pending_extract_clause,
)
from kontaktcenter.core import audit
from kontaktcenter.core.audit import AuditEvent
from kontaktcenter.core.errors import Conflict, ValidationError
from kontaktcenter.core.extensions import db
from tests.factories import make_case

ANNA_PNR = "19121212-1212"


def _mail(case: Case | None, sender: str, to: list[str], cc: list[str], subject: str, text: str):
    raw = f"From: {sender}\r\nSubject: {subject}\r\n\r\n{text}".encode()
    message = MailMessage(
        direction=Direction.INBOUND,
        kind=MailKind.MESSAGE,
        status=MailStatus.RECEIVED,
        case_id=case.id if case else None,
        from_addr=sender,
        from_name=sender.split("@")[0].title(),
        to_addrs=to,
        cc_addrs=cc,
        subject=subject,
        text_body=text,
        raw_sha256=store.store(raw),
        size=len(raw),
        received_at=datetime(2026, 3, 2, 9, 0, tzinfo=UTC),
    )
    db.session.add(message)
    db.session.commit()
    return message


@pytest.fixture
def people(org):
    anna = ContactData(name="Anna Andersson", email="anna@example.se", personnummer=ANNA_PNR)
    a1 = make_case(
        org.agent,
        org.bygglov,
        channel=Channel.EMAIL,
        summary=f"Anna frågar om altanen, personnummer {ANNA_PNR}",
        contact=anna,
    )
    # The same person as a phone contact (another contact row).
    a2 = make_case(
        org.agent,
        org.miljotillsyn,
        summary="Anna ringde om buller",
        contact=ContactData(name="Anna A", phone="070-111 22 33"),
    )
    # A secret case of Anna's, routed to its department.
    a3 = make_case(org.agent, org.miljotillsyn, summary="Hemlig uppgift om Anna", contact=anna)
    a3.secrecy_ground = "OSL 26:1"
    db.session.commit()
    b1 = make_case(
        org.agent,
        org.bygglov,
        summary="Bertils egen fråga om bygglov",
        contact=ContactData(name="Bertil Berg", email="bertil@example.se"),
    )
    # Someone else with Anna's e-mail address but another personnummer: not Anna.
    other = make_case(
        org.agent,
        org.bygglov,
        summary="Annans ärende",
        contact=ContactData(
            name="Annan Person", email="delad@example.se", personnummer="19800101-0001"
        ),
    )
    # Anna's thread: Bertil answers in it, Cecilia is copied.
    _mail(
        a1,
        "anna@example.se",
        ["stadsbyggnad@kommun.example"],
        ["cecilia@example.se"],
        "Altanen",
        "Hej! Cecilia (cecilia@example.se) vet mer.",
    )
    _mail(a1, "bertil@example.se", ["anna@example.se"], [], "Sv: Altanen", "Bertil tycker till")
    # Bertil's own case, where Anna is copied: on someone else's case.
    _mail(
        b1,
        "bertil@example.se",
        ["stadsbyggnad@kommun.example"],
        ["anna@example.se"],
        "Bertils hemlighet",
        "Bertils text om sitt bygge",
    )
    # A message from Anna filed on no case.
    _mail(None, "anna@example.se", ["info@kommun.example"], [], "Ofiled", "Annas lösa fråga")
    actions.add_note(a1, org.handler_bygg, "Anteckning: Anna ska få svar i veckan")
    actions.add_note(b1, org.handler_bygg, "Anteckning om Bertil")
    audit.record(org.manager, "view_case", a1)
    audit.record(org.manager, "view_case", b1)
    return {"a1": a1, "a2": a2, "a3": a3, "b1": b1, "other": other}


def _request(org, **identifiers) -> RegisterExtractRequest:
    return extracts.create_request(org.admin, extracts.PersonQuery.parse(**identifiers))


def test_the_extract_holds_everything_about_the_person_and_nothing_of_others(org, people):
    request = _request(
        org, personnummer="191212121212", email="ANNA@example.se", phone="0701112233"
    )
    doc = extracts_document.build(request)
    text = json.dumps(doc, ensure_ascii=False)

    assert {c["name"] for c in doc["contacts"]} == {"Anna Andersson", "Anna A"}
    assert [c["reference"] for c in doc["cases"]] == [
        people[k].reference for k in ("a1", "a2", "a3")
    ]
    a1 = doc["cases"][0]
    assert "Anteckning: Anna ska få svar i veckan" in [e["text"] for e in a1["timeline"]]
    assert [m["subject"] for m in a1["messages"]] == ["Altanen", "Sv: Altanen"]
    first, reply = a1["messages"]
    assert first["cc"] == [extracts_document.OTHER_PERSON]
    assert first["to"] == ["stadsbyggnad@kommun.example"]  # ours
    assert "(" + extracts_document.OTHER_PERSON + ")" in first["text"]
    assert reply["from"] == extracts_document.OTHER_PERSON
    assert reply["from_name"] == extracts_document.OTHER_PERSON
    # Personnummer in free text masked; the person's own shown on the contact.
    assert a1["summary"].endswith("19121212-****")
    assert doc["contacts"][0]["personnummer"] == ANNA_PNR
    # The secret case: register fields, and the content replaced.
    a3 = doc["cases"][2]
    assert a3["secret"] is True and a3["case_type"] == "Miljötillsyn"
    assert a3["summary"] == masked_text("OSL 26:1")
    assert "OSL 12" not in a3["secrecy_note"] and "12 kap. 1 § OSL" in a3["secrecy_note"]
    # Other mail: the loose one whole, Bertil's case's one withheld.
    other = {m["case_reference"]: m for m in doc["other_messages"]}
    assert len(doc["other_messages"]) == 2 and set(other) == {None, people["b1"].reference}
    assert other[None]["text"] == "Annas lösa fråga"
    assert other[people["b1"].reference]["roles"] == ["cc"]
    assert "withheld" in other[people["b1"].reference]
    # The audit log: Anna's case, not Bertil's.
    viewed = [e["case_reference"] for e in doc["audit"] if e["action"] == "view_case"]
    assert viewed == [people["a1"].reference]
    for foreign in (
        "bertil@example.se",
        "cecilia@example.se",
        "Bertil Berg",
        "Bertils",
        "Hemlig uppgift",
        "Anteckning om Bertil",
        "Annan Person",
        "delad@example.se",
        "19800101",
        people["other"].reference,
    ):
        assert foreign not in text, foreign


def test_contacts_are_found_by_each_identifier(org, people):
    by_phone = extracts.find_contacts(extracts.PersonQuery.parse(phone="+46701112233"))
    assert [c.name for c in by_phone] == ["Anna A"]
    by_email = extracts.find_contacts(extracts.PersonQuery.parse(email="anna@example.se"))
    assert [c.name for c in by_email] == ["Anna Andersson"]
    # An e-mail shared with a contact of another personnummer: that contact is left out.
    shared = extracts.PersonQuery.parse(personnummer=ANNA_PNR, email="delad@example.se")
    assert [c.name for c in extracts.find_contacts(shared)] == ["Anna Andersson"]


def test_identifiers_are_validated():
    with pytest.raises(ValidationError) as error:
        extracts.PersonQuery.parse(personnummer="19121212-1213")
    assert error.value.field == "personnummer"
    with pytest.raises(ValidationError) as error:
        extracts.PersonQuery.parse()
    assert error.value.message == extracts.NO_IDENTIFIER


def test_the_request_is_audited_blocks_gallring_and_is_delivered(org, people):
    request = _request(org, personnummer=ANNA_PNR, phone="070-111 22 33")
    assert request.status is ExtractStatus.PENDING
    assert request.identifiers == {"personnummer": "19121212-****", "phone": "+46701112233"}
    contact_ids = {people["a1"].contact_id, people["a2"].contact_id}
    assert set(request.contact_ids) == contact_ids
    events = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "register_extract_requested")
    ).all()
    assert {e.contact_id for e in events} == contact_ids
    assert all(e.user_id == org.admin.id for e in events)

    def blocked() -> set[int]:
        return set(
            db.session.scalars(
                sa.select(Case.contact_id).where(pending_extract_clause(Case.contact_id))
            )
        )

    assert blocked() == contact_ids
    extracts.mark_delivered(org.admin, request.id)
    assert blocked() == set()
    assert request.status is ExtractStatus.DELIVERED and request.delivered_by_id == org.admin.id
    with pytest.raises(Conflict):
        extracts.mark_delivered(org.admin, request.id)


def test_gallring_skips_the_primary_contact_of_a_pending_request(org, people):
    """The gallring's own selection (retention_selection) sees the request."""
    from kontaktcenter.compliance import retention_selection

    _request(org, personnummer=ANNA_PNR)
    flagged = set(
        db.session.scalars(sa.select(Case.id).where(retention_selection.pending_extract()))
    )
    assert people["a1"].id in flagged and people["b1"].id not in flagged


def test_a_person_we_hold_nothing_about_is_still_a_logged_request(org):
    request = _request(org, email="okand@example.se")
    assert request.contact_id is None and request.contact_ids == []
    doc = extracts_document.build(request)
    assert doc["contacts"] == [] and doc["cases"] == [] and doc["audit"] == []
    assert db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "register_extract_requested")
    ).one()


@pytest.mark.parametrize(
    ("asked", "due"),
    [
        (datetime(2026, 1, 31, 12, tzinfo=UTC), date(2026, 2, 28)),
        (datetime(2026, 3, 15, 12, tzinfo=UTC), date(2026, 4, 15)),
        (datetime(2026, 12, 31, 23, 30, tzinfo=UTC), date(2027, 2, 1)),  # 1 Jan in Sweden
    ],
)
def test_the_answer_is_due_a_month_after_the_request(app, asked, due):
    with app.app_context():
        assert extracts.due_date(asked) == due


def test_the_list_puts_pending_requests_first_and_counts_the_late_ones(org, people):
    late = _request(org, personnummer=ANNA_PNR)
    late.requested_at = datetime(2026, 1, 5, 9, tzinfo=UTC)
    late.due_on = date(2026, 2, 5)
    done = _request(org, email="bertil@example.se")
    extracts.mark_delivered(org.admin, done.id)
    fresh = _request(org, phone="070-111 22 33")
    assert extracts.list_requests() == [late, fresh, done]
    assert extracts.list_requests(ExtractStatus.DELIVERED) == [done]
    assert extracts.pending_counts() == {"pending": 2, "overdue": 1}
    assert extracts.overdue(late) and not extracts.overdue(fresh) and not extracts.overdue(done)


def test_the_printed_page_shows_the_same_and_masks_the_same(org, people, login):
    request = _request(org, personnummer=ANNA_PNR, phone="070-111 22 33")
    html = login(org.admin).get(f"/admin/registerutdrag/{request.id}").get_data(as_text=True)
    assert html.count('<section class="case"') == 3
    assert masked_text("OSL 26:1") in html and "12 kap. 1 § OSL" in html
    assert "Anteckning: Anna ska få svar i veckan" in html and "Annas lösa fråga" in html
    assert extracts_document.OTHER_CASE_TEXT in html and "kopia" in html
    assert "Begärde registerutdrag" in html  # the audit log, in Swedish
    for foreign in ("bertil@example.se", "cecilia@example.se", "Hemlig uppgift", "Bertils text"):
        assert foreign not in html, foreign
