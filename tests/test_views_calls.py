"""Logging a call through the browser form, as an agent does it all day."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from kontaktcenter.cases.enums import ActivityKind, CaseStatus, Outcome
from kontaktcenter.cases.models import Case, Contact
from kontaktcenter.core.extensions import db
from tests.factories import post


def _log(client, **fields):
    data = {
        "phone": "070-123 45 67",
        "name": "Sven Svensson",
        "case_type": "bygglov",
        "summary": "Undrar om bygglov för altan",
        "outcome": "answered",
        "transfer": "warm",
    }
    data.update(fields)
    return post(client, "/samtal/ny", data)


@pytest.fixture
def lines_open(monkeypatch):
    """A Monday 10:30, when the factories' direct numbers (Mån–tor 10–12) answer."""
    monday = datetime(2026, 11, 16, 10, 30, tzinfo=ZoneInfo("Europe/Stockholm"))
    monkeypatch.setattr("kontaktcenter.channels.phone.lines.utcnow", lambda: monday)


def _latest_case() -> Case:
    return db.session.scalars(sa.select(Case).order_by(Case.id.desc())).first()


def test_form_shows_case_types_and_direct_numbers(client, org, login):
    login(org.agent)
    html = client.get("/samtal/ny").get_data(as_text=True)
    assert "Bygglov (Stadsbyggnadskontoret)" in html
    assert "08-555 000 11" in html  # miljötillsyn's direct number, for the info panel
    assert 'name="csrf_token"' in html


def test_answered_directly_closes_the_case(client, org, login):
    login(org.agent)
    response = _log(client)
    assert response.status_code == 302
    case = _latest_case()
    assert case.outcome == Outcome.ANSWERED and case.status == CaseStatus.CLOSED
    assert case.department is None
    assert case.first_response_at == case.received_at
    assert case.contact.phone_e164 == "+46701234567"
    assert [a.kind for a in case.activities] == [
        ActivityKind.CALL_LOGGED,
        ActivityKind.ANSWERED,
        ActivityKind.CLOSED,
    ]
    follow = client.get(response.headers["Location"]).get_data(as_text=True)
    assert f"Samtalet är registrerat som {case.reference}" in follow


def test_handoff_records_number_and_transfer(client, org, login, lines_open):
    login(org.agent)
    response = _log(client, outcome="handed_off", transfer="cold", handed_to="Bygglovsjouren")
    assert response.status_code == 302
    case = _latest_case()
    assert case.department_id == org.bygg.id and case.status == CaseStatus.CLOSED
    handoff = next(a for a in case.activities if a.kind == ActivityKind.HANDED_OFF)
    assert handoff.data == {
        "number": "08-123 456 78",
        "to": "Bygglovsjouren",
        "transfer": "cold",
        "department": "Stadsbyggnadskontoret",
    }
    follow = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Kopplat till 08-123 456 78" in follow


def test_callback_goes_to_department_inbox(client, org, login):
    login(org.agent)
    _log(client, outcome="callback", case_type="miljotillsyn", callback_note="Efter kl 15")
    case = _latest_case()
    assert case.department_id == org.miljo.id and case.status == CaseStatus.NEW
    assert case.callback_pending and case.due_at == case.callback_due_at
    login(org.handler_miljo)
    inbox = client.get("/inkorg/").get_data(as_text=True)
    assert case.reference in inbox and "Ring upp" in inbox


def test_existing_contact_is_reused_whatever_the_phone_format(client, org, login):
    login(org.agent)
    _log(client, phone="070-123 45 67")
    _log(client, phone="+46 70 123 45 67", name="")
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Contact)) == 1


def test_search_finds_caller_and_open_cases(client, org, login):
    login(org.agent)
    _log(client, outcome="routed")
    case = _latest_case()
    html = client.get("/samtal/ny?q=0701234567").get_data(as_text=True)
    assert "Sven Svensson" in html
    contact_id = case.contact_id
    html = client.get(f"/samtal/ny?contact_id={contact_id}").get_data(as_text=True)
    assert case.reference in html  # the caller's open case is shown


def test_validation_errors_are_swedish_and_nothing_is_saved(client, org, login):
    login(org.agent)
    response = _log(client, summary="", outcome="")
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Skriv en kort sammanfattning." in html and "Välj hur samtalet avslutades." in html
    response = _log(client, outcome="routed", case_type="")
    assert response.status_code == 422
    assert "Välj ärendetyp" in response.get_data(as_text=True)
    response = _log(client, phone="12")
    assert response.status_code == 422
    assert "Telefonnumret" in response.get_data(as_text=True)
    response = _log(client, personnummer="19121212-1213")
    assert "Personnumret är inte giltigt." in response.get_data(as_text=True)
    response = _log(client, outcome="handed_off", case_type="strandskydd")
    assert "inget direktnummer" in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Case)) == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Contact)) == 0


def test_post_without_csrf_is_refused(client, org, login):
    login(org.agent)
    response = client.post("/samtal/ny", data={"summary": "x", "outcome": "answered"})
    assert response.status_code == 400
    assert "säkerhetstoken" in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Case)) == 0


def test_nul_characters_are_refused_not_a_500(client, org, login):
    login(org.agent)
    response = _log(client, summary="Hej\x00då")
    assert response.status_code == 400
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Case)) == 0
