"""The register extract pages, correction and erasure (GDPR art. 15–17) through the browser's
way in: admins only, CSRF on every form, identifiers never in a URL."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from kontaktcenter.cases import actions
from kontaktcenter.cases.contacts import ContactData
from kontaktcenter.cases.enums import ActivityKind, CaseStatus
from kontaktcenter.cases.models import Activity, Case, Contact
from kontaktcenter.compliance import erasure, extracts
from kontaktcenter.compliance.anonymise import GALLRAD
from kontaktcenter.compliance.extract_models import (
    ErasureDecision,
    ErasureOutcome,
    ExtractStatus,
    RegisterExtractRequest,
)
from kontaktcenter.core.audit import AuditEvent
from kontaktcenter.core.extensions import db
from tests.factories import make_case, post

PNR = "19121212-1212"


@pytest.fixture
def anna_case(org):
    return make_case(
        org.agent,
        org.bygglov,
        summary="Anna frågar om altanen",
        contact=ContactData(name="Anna Andersson", email="anna@example.se", personnummer=PNR),
    )


@pytest.mark.parametrize("who", ["agent", "handler_bygg", "manager"])
def test_only_admins_reach_the_pages(app, org, anna_case, login, who):
    """Every route of the register extract pages, found in the URL map: 403 for other roles."""
    client = login(getattr(org, who))
    contact_id = anna_case.contact_id
    request = extracts.create_request(org.admin, extracts.PersonQuery.parse(personnummer=PNR))
    values = {"request_id": request.id, "contact_id": contact_id}
    routes = [
        (rule, method)
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("admin.extracts_")
        for method in sorted(rule.methods & {"GET", "POST"})
    ]
    assert len(routes) == 10
    data = {"personnummer": PNR, "name": "Fel", "reason": "x", "outcome": "refused"}
    for rule, method in routes:
        url = rule.build(values)[1]
        response = client.get(url) if method == "GET" else post(client, url, data)
        assert response.status_code == 403, (who, method, url)
    assert db.session.get(Contact, contact_id).name == "Anna Andersson"
    assert request.is_pending
    assert not db.session.scalars(sa.select(ErasureDecision)).all()


def test_search_create_show_download_and_deliver(org, anna_case, login):
    client = login(org.admin)
    page = client.get("/admin/registerutdrag/")
    assert page.status_code == 200 and "Sök fram personen" in page.get_data(as_text=True)

    found = post(client, "/admin/registerutdrag/sok", {"personnummer": "191212121212"})
    html = found.get_data(as_text=True)
    assert found.status_code == 200
    assert "Anna Andersson" in html and "19121212-****" in html
    search = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "search_person")
    ).one()
    assert search.contact_id == anna_case.contact_id and PNR not in str(search.detail)

    created = post(
        client,
        "/admin/registerutdrag/ny",
        {"personnummer": PNR, "email": "", "phone": "", "note": "Legitimation visad"},
    )
    assert created.status_code == 302
    request = db.session.scalars(sa.select(RegisterExtractRequest)).one()
    assert created.headers["Location"].endswith(f"/admin/registerutdrag/{request.id}")
    assert request.note == "Legitimation visad" and request.is_pending

    shown = client.get(f"/admin/registerutdrag/{request.id}")
    html = shown.get_data(as_text=True)
    assert shown.status_code == 200
    assert (
        request.reference in html
        and anna_case.reference in html
        and '<style media="print">' in html
    )
    download = client.get(f"/admin/registerutdrag/{request.id}.json")
    assert download.status_code == 200
    assert "attachment" in download.headers["Content-Disposition"]
    assert download.get_json()["cases"][0]["reference"] == anna_case.reference
    exports = db.session.scalars(
        sa.select(AuditEvent.detail).where(AuditEvent.action == "register_extract_exported")
    ).all()
    assert [d["form"] for d in exports] == ["page", "json"]

    delivered = post(client, f"/admin/registerutdrag/{request.id}/levererat")
    assert delivered.status_code == 302
    db.session.refresh(request)
    assert request.status is ExtractStatus.DELIVERED
    again = post(client, f"/admin/registerutdrag/{request.id}/aterkalla", follow_redirects=True)
    assert "Registerutdraget är redan levererat." in again.get_data(as_text=True)
    db.session.refresh(request)
    assert request.status is ExtractStatus.DELIVERED


def test_a_bad_identifier_is_explained(org, login):
    client = login(org.admin)
    response = post(client, "/admin/registerutdrag/sok", {"personnummer": "19121212-1213"})
    assert response.status_code == 422
    assert "Personnumret är inte giltigt." in response.get_data(as_text=True)
    response = post(client, "/admin/registerutdrag/sok", {})
    assert response.status_code == 422
    assert "Ange personnummer, e-postadress eller telefonnummer." in response.get_data(as_text=True)


def test_an_unknown_request_is_404(org, login):
    client = login(org.admin)
    assert client.get("/admin/registerutdrag/999999").status_code == 404
    assert client.get("/admin/registerutdrag/999999.json").status_code == 404


def test_correction_records_old_and_new_values_and_notes_the_timeline(org, anna_case, login):
    client = login(org.admin)
    contact_id = anna_case.contact_id
    response = post(
        client,
        f"/admin/registerutdrag/kontakter/{contact_id}/rattelse",
        {
            "name": "Anna Ek",
            "phone": "070-999 88 77",
            "email": "anna@example.se",
            "personnummer": PNR,
            "organisation_number": "",
            "reason": "Namnbyte styrkt med ID-kort",
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    contact = db.session.get(Contact, contact_id)
    assert (contact.name, contact.name_lower, contact.phone_e164) == (
        "Anna Ek",
        "anna ek",
        "+46709998877",
    )
    event = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "contact_corrected")
    ).one()
    assert event.contact_id == contact_id and event.user_id == org.admin.id
    assert event.detail["changes"] == {
        "name": {"old": "Anna Andersson", "new": "Anna Ek"},
        "phone": {"old": None, "new": "+46709998877"},
    }
    assert event.detail["reason"] == "Namnbyte styrkt med ID-kort"
    note = db.session.scalars(
        sa.select(Activity).where(
            Activity.case_id == anna_case.id, Activity.kind == ActivityKind.NOTE
        )
    ).one()
    assert note.text == (
        "Kontaktuppgifterna rättades (art. 16 dataskyddsförordningen): namn, telefonnummer."
    )
    assert "Anna Ek" not in note.text


def test_a_correction_with_a_bad_value_changes_nothing(org, anna_case, login):
    client = login(org.admin)
    response = post(
        client,
        f"/admin/registerutdrag/kontakter/{anna_case.contact_id}/rattelse",
        {"name": "Anna Ek", "email": "inte en adress", "reason": "Rättelse"},
    )
    assert response.status_code == 422
    assert "E-postadressen är inte giltig." in response.get_data(as_text=True)
    assert db.session.get(Contact, anna_case.contact_id).name == "Anna Andersson"
    assert not db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "contact_corrected")
    ).all()


def test_a_personnummer_correction_is_logged_masked(org, anna_case):
    from kontaktcenter.compliance.corrections import correct_contact

    correct_contact(org.admin, anna_case.contact_id, {"personnummer": "19800101-0001"}, "Fel nr")
    event = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "contact_corrected")
    ).one()
    assert event.detail["changes"] == {
        "personnummer": {"old": "19121212-****", "new": "19800101-****"}
    }


def test_the_erasure_page_explains_allman_handling(org, anna_case, login):
    client = login(org.admin)
    html = client.get(f"/admin/registerutdrag/kontakter/{anna_case.contact_id}").get_data(
        as_text=True
    )
    assert "allmänna handlingar" in html and "gallringsbeslut" in html
    assert anna_case.reference in html and PNR in html  # the correction form: logged
    viewed = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "view_contact")
    ).one()
    assert viewed.contact_id == anna_case.contact_id and viewed.user_id == org.admin.id


def test_a_refused_erasure_is_recorded_with_its_ground_and_erases_nothing(org, anna_case, login):
    client = login(org.admin)
    response = post(
        client,
        f"/admin/registerutdrag/kontakter/{anna_case.contact_id}/radering",
        {
            "outcome": "refused",
            "legal_ground": "allman-handling",
            "reason": "Ärendet är en allmän handling och inget gallringsbeslut medger gallring.",
            "cases": [str(anna_case.id)],
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    decision = db.session.scalars(sa.select(ErasureDecision)).one()
    assert decision.outcome is ErasureOutcome.REFUSED
    assert decision.carried_out_at is None and decision.case_ids == [anna_case.id]
    db.session.refresh(anna_case)
    assert anna_case.summary == "Anna frågar om altanen"
    event = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "erasure_decided")
    ).one()
    assert event.detail["outcome"] == "refused"
    page = client.get(f"/admin/registerutdrag/kontakter/{anna_case.contact_id}")
    assert erasure.REFUSING_GROUNDS["allman-handling"] in page.get_data(as_text=True)


def test_an_erasure_decision_needs_a_ground_that_fits(org, anna_case, login):
    client = login(org.admin)
    response = post(
        client,
        f"/admin/registerutdrag/kontakter/{anna_case.contact_id}/radering",
        {"outcome": "granted", "legal_ground": "allman-handling", "reason": "Fel grund"},
    )
    assert response.status_code == 422
    assert "passar inte beslutet" in response.get_data(as_text=True)
    response = post(
        client,
        f"/admin/registerutdrag/kontakter/{anna_case.contact_id}/radering",
        {"outcome": "refused", "legal_ground": "allman-handling", "reason": ""},
    )
    assert response.status_code == 422
    assert "Skriv en motivering" in response.get_data(as_text=True)
    assert not db.session.scalars(sa.select(ErasureDecision)).all()


def test_a_granted_erasure_of_an_open_case_is_refused(org, anna_case):
    from kontaktcenter.core.errors import ValidationError

    with pytest.raises(ValidationError, match="öppet ärende"):
        erasure.decide(
            org.admin,
            anna_case.contact_id,
            ErasureOutcome.GRANTED,
            "ej-allman-handling",
            "Arbetsmaterial",
            [anna_case.id],
        )


def test_a_granted_erasure_anonymises_the_closed_cases(org, anna_case, login):
    actions.close(anna_case, org.handler_bygg, "Besvarat")
    assert anna_case.status is CaseStatus.CLOSED
    contact_id = anna_case.contact_id
    client = login(org.admin)
    response = post(
        client,
        f"/admin/registerutdrag/kontakter/{contact_id}/radering",
        {
            "outcome": "granted",
            "legal_ground": "gallringsbeslut",
            "reason": "Gallringsbeslut KS 2025/12 medger gallring efter avslut.",
            "cases": [str(anna_case.id)],
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    decision = db.session.scalars(sa.select(ErasureDecision)).one()
    assert decision.carried_out_at is not None
    summary, case_contact = db.session.execute(
        sa.select(Case.summary, Case.contact_id).where(Case.id == anna_case.id)
    ).one()
    assert summary == GALLRAD and case_contact is None
    contact = db.session.get(Contact, contact_id)
    assert contact is not None and contact.personnummer is None and contact.name is None
    assert re.search(
        "Beviljad",
        client.get(f"/admin/registerutdrag/kontakter/{contact_id}").get_data(as_text=True),
    )


def test_a_granted_erasure_waits_for_a_pending_extract_and_a_legal_hold(org, anna_case):
    from kontaktcenter.compliance.retention_models import LegalHold
    from kontaktcenter.core.errors import ValidationError

    actions.close(anna_case, org.handler_bygg, "Besvarat")

    def grant() -> None:
        erasure.decide(
            org.admin,
            anna_case.contact_id,
            ErasureOutcome.GRANTED,
            "gallringsbeslut",
            "Gallringsbeslut medger",
            [anna_case.id],
        )

    request = extracts.create_request(org.admin, extracts.PersonQuery.parse(personnummer=PNR))
    with pytest.raises(ValidationError, match="registerutdrag"):
        grant()
    extracts.mark_delivered(org.admin, request.id)
    db.session.add(LegalHold(case_id=anna_case.id, reason="Överklagat", set_by_id=org.admin.id))
    db.session.commit()
    with pytest.raises(ValidationError, match="bevarandebeslut"):
        grant()
    assert not db.session.scalars(sa.select(ErasureDecision)).all()
    summary = db.session.scalar(sa.select(Case.summary).where(Case.id == anna_case.id))
    assert summary == "Anna frågar om altanen"


def test_the_admin_index_panel_counts_pending_and_late_requests(app, org, anna_case):
    from datetime import date

    from flask import render_template

    request = extracts.create_request(org.admin, extracts.PersonQuery.parse(personnummer=PNR))
    request.due_on = date(2026, 1, 1)
    db.session.commit()
    extracts.create_request(org.admin, extracts.PersonQuery.parse(email="x@example.se"))
    context = next(p.context() for p in admin_panels() if "extracts" in p.template)
    assert context == {"counts": {"pending": 2, "overdue": 1}}
    with app.test_request_context():
        html = render_template("compliance/extracts/_panel.html", **context)
    assert "2 pågående begäranden" in html and "1 försenade" in html


def admin_panels():
    from kontaktcenter.core import admin

    return admin._panels
