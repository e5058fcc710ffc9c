"""Where the compliance rules meet the older case rules (issue #15, found in review): secrecy
follows mail into a merged case, links respect the other case's rules, a register extract
blocks gallring of every contact it covers and holds neither another person's mail nor
another person's personnummer."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from kontaktcenter.cases import access, merging
from kontaktcenter.cases.contacts import ContactData
from kontaktcenter.cases.enums import ActivityKind, Channel
from kontaktcenter.cases.models import Case, CaseLink
from kontaktcenter.channels.email.intake import ingest
from kontaktcenter.channels.email.models import RoutingRule, RuleKind
from kontaktcenter.compliance import extracts, extracts_document, retention_selection
from kontaktcenter.core.errors import ValidationError
from kontaktcenter.core.extensions import db
from tests.factories import make_case, post
from tests.mailutil import make_mail


def _by_reference(reference: str) -> Case:
    return db.session.scalars(sa.select(Case).where(Case.reference == reference)).one()


@pytest.fixture
def outbox_dir(app, tmp_path):
    app.config["OUTBOX_DIR"] = str(tmp_path)
    yield
    app.config["OUTBOX_DIR"] = None


def test_a_secret_case_merged_into_an_open_one_makes_it_secret(client, org, login, outbox_dir):
    survivor = make_case(org.agent, org.bygglov, summary="Fråga om altanbygge")
    survivor.received_at = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    db.session.add(
        RoutingRule(
            position=1,
            kind=RuleKind.RECIPIENT,
            pattern="kontakt@kommun.example",
            case_type=org.bygglov,
        )
    )
    db.session.commit()
    absorbed = _by_reference(ingest(make_mail(body="Hemlig uppgift Zebrafink.")).reference)
    absorbed.secrecy_ground = "OSL 21:1"
    db.session.commit()
    assert absorbed.department_id == org.bygg.id and not survivor.is_secret
    merging.merge(survivor, org.handler_bygg, absorbed.reference)
    assert survivor.is_secret and survivor.effective_secrecy_ground == "OSL 21:1"
    assert any(a.kind == ActivityKind.SECRECY_CHANGED for a in survivor.activities)
    login(org.agent)
    page = client.get(f"/arenden/{survivor.id}").get_data(as_text=True)
    hits = client.get("/sok/?q=Zebrafink").get_data(as_text=True)
    assert "Zebrafink" not in page and survivor.reference not in hits
    login(org.handler_bygg)
    assert "Zebrafink" in client.get(f"/arenden/{survivor.id}").get_data(as_text=True)


def test_an_agent_cannot_link_or_unlink_another_departments_secret_case(client, org, login):
    secret = make_case(org.agent, org.bygglov, summary="Skyddad uppgift")
    secret.secrecy_ground = "OSL 26:1"
    db.session.commit()
    assert access.allowed_actions(org.agent, secret) == frozenset()
    mine = make_case(org.agent, None, outcome=None, channel=Channel.EMAIL, summary="Egen fråga")
    login(org.agent)
    post(
        client, f"/arenden/{mine.id}/link", {"reference": secret.reference, "version": mine.version}
    )
    db.session.expire_all()
    assert not merging.are_linked(mine, secret)
    # Linked before (say, by an administrator while it was not secret), the agent cannot
    # take the link away either.
    low, high = sorted((mine.id, secret.id))
    db.session.add(CaseLink(case_id=low, other_case_id=high))
    db.session.commit()
    assert merging.are_linked(mine, secret)
    login(org.agent)
    post(client, f"/arenden/{mine.id}/unlink", {"other": secret.id, "version": mine.version})
    db.session.expire_all()
    assert merging.are_linked(mine, secret)


def test_a_pending_extract_blocks_gallring_of_every_contact_it_covers(db_session, org):
    by_phone = make_case(
        org.agent, org.bygglov, contact=ContactData(name="Sven Svensson", phone="070-123 45 67")
    )
    by_mail = make_case(
        org.agent, org.bygglov, contact=ContactData(name="Sven Svensson", email="sven@example.se")
    )
    assert by_phone.contact_id != by_mail.contact_id
    extracts.create_request(
        org.admin, extracts.PersonQuery.parse(None, "sven@example.se", "070-123 45 67")
    )
    blocked = set(
        db.session.scalars(
            sa.select(Case.id).where(
                Case.id.in_([by_phone.id, by_mail.id]), retention_selection.pending_extract()
            )
        )
    )
    assert blocked == {by_phone.id, by_mail.id}


def test_an_extract_withholds_another_persons_mail_merged_into_the_persons_case(
    db_session, org, outbox_dir
):
    mine = make_case(
        org.agent,
        None,
        outcome=None,
        channel=Channel.EMAIL,
        contact=ContactData(name="Sven Svensson", email="sven@example.se"),
    )
    mine.received_at = datetime(2026, 1, 5, tzinfo=UTC)
    db.session.commit()
    other = _by_reference(
        ingest(
            make_mail(sender="bertil@example.se", body="Bertil har diabetes. Zebrafink")
        ).reference
    )
    merging.merge(mine, org.agent, other.reference)
    request = extracts.create_request(
        org.admin, extracts.PersonQuery.parse(None, "sven@example.se")
    )
    document = extracts_document.build(request)
    messages = [m for c in document["cases"] for m in c["messages"]]
    assert messages and not any("Zebrafink" in (m["text"] or "") for m in messages)
    assert any(m["text"] == extracts_document.NOT_THEIRS_TEXT for m in messages)


def test_an_extract_by_a_shared_address_of_two_people_is_refused(db_session, org):
    for name, number in (("Anna", "19800101-0001"), ("Bo", "19790202-0002")):
        make_case(
            org.agent,
            org.bygglov,
            contact=ContactData(name=name, email="familjen@example.se", personnummer=number),
        )
    with pytest.raises(ValidationError) as refused:
        extracts.create_request(org.admin, extracts.PersonQuery.parse(None, "familjen@example.se"))
    assert refused.value.message == extracts.SEVERAL_PEOPLE
    # With the personnummer, only that person's data.
    request = extracts.create_request(
        org.admin, extracts.PersonQuery.parse("19800101-0001", "familjen@example.se")
    )
    document = extracts_document.build(request)
    assert [c["name"] for c in document["contacts"]] == ["Anna"]


def test_the_call_form_lists_no_secret_case_of_another_department(client, org, login):
    secret = make_case(
        org.agent,
        org.bygglov,
        summary="Skyddad uppgift Zebrafink",
        contact=ContactData(name="Sven Svensson", phone="070-123 45 67"),
    )
    secret.secrecy_ground = "OSL 26:1"
    db.session.commit()
    login(org.agent)
    found = client.get("/samtal/ny?q=070-123 45 67").get_data(as_text=True)
    picked = client.get(f"/samtal/ny?contact_id={secret.contact_id}").get_data(as_text=True)
    assert "Sven Svensson" in found  # the person may be found, to log a new call
    assert "Zebrafink" not in found and "Zebrafink" not in picked
    assert secret.reference not in found and secret.reference not in picked
    login(org.handler_bygg)
    assert "Zebrafink" in client.get(f"/kontakter/{secret.contact_id}").get_data(as_text=True)
