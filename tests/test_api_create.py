"""POST /api/v1/cases: registering contacts from telephony platforms and e-services."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from kontaktcenter.cases.models import Case
from kontaktcenter.core.extensions import db
from tests.api_client import Api, api_as, error_of


@pytest.fixture
def agent(client, org) -> Api:
    return api_as(client, org.agent)


def _body(**fields):
    body = {
        "channel": "phone",
        "case_type": "bygglov",
        "summary": "Fråga om bygglov för altan",
        "outcome": "routed",
        "contact": {"name": "Sven Svensson", "phone": "070-123 45 67"},
    }
    body.update(fields)
    return {k: v for k, v in body.items() if v is not None}


def _kinds(case: dict) -> list[str]:
    return [entry["kind"] for entry in case["timeline"]]


def _count() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Case))


def test_routed_goes_to_the_case_types_department(agent):
    response = agent.post("/cases", _body(note="Ringer från jobbet"))
    assert response.status_code == 201
    case = response.get_json()
    assert response.headers["Location"] == f"/api/v1/cases/{case['reference']}"
    assert case["reference"].startswith("KC-")
    assert case["status"] == "new" and case["outcome"] == "routed"
    assert case["department"] == {"slug": "stadsbyggnad", "name": "Stadsbyggnadskontoret"}
    assert case["case_type"] == {"slug": "bygglov", "name": "Bygglov"}
    assert case["first_response_at"] == case["received_at"]  # the caller spoke to us
    assert _kinds(case) == ["call_logged", "note", "routed"]
    assert case["timeline"][1]["text"] == "Ringer från jobbet"
    assert case["timeline"][0]["by"] == {"name": "Agnes Agent"}
    assert agent.get(response.headers["Location"]).get_json() == case


def test_answered_is_closed_at_once(agent):
    case = agent.post("/cases", _body(outcome="answered", case_type=None)).get_json()
    assert case["status"] == "closed" and case["closed_at"] is not None
    assert case["department"] is None and case["resolution"] == case["summary"]
    assert _kinds(case) == ["call_logged", "answered", "closed"]


def test_handed_off_records_the_transfer(agent):
    body = _body(outcome="handed_off", transfer="cold", handed_to="Bygglovsjouren")
    case = agent.post("/cases", body).get_json()
    assert case["status"] == "closed" and case["department"]["slug"] == "stadsbyggnad"
    handed = next(e for e in case["timeline"] if e["kind"] == "handed_off")
    assert handed["data"]["transfer"] == "cold" and handed["data"]["to"] == "Bygglovsjouren"
    assert handed["data"]["number"] == "08-123 456 78"


def test_callback_is_booked_with_the_department(agent):
    case = agent.post("/cases", _body(outcome="callback", callback_note="Efter 15")).get_json()
    assert case["status"] == "new" and case["department"]["slug"] == "stadsbyggnad"
    assert case["callback_due_at"] is not None and case["due_at"] == case["callback_due_at"]
    booked = next(e for e in case["timeline"] if e["kind"] == "callback_booked")
    assert booked["text"] == "Efter 15"


def test_referred_names_the_authority(agent):
    body = _body(outcome="referred", case_type=None, referred_to="Skatteverket")
    case = agent.post("/cases", body).get_json()
    assert case["status"] == "closed" and case["referred_to"] == "Skatteverket"


def test_an_e_service_case_needs_no_outcome_and_keeps_its_received_time(agent):
    body = _body(
        channel="web",
        outcome=None,
        case_type=None,
        received_at="2024-05-02T09:15:00+02:00",
        contact={"email": "Anna@Example.SE", "personnummer": "191212121212"},
    )
    case = agent.post("/cases", body).get_json()
    assert case["outcome"] is None and case["department"] is None
    assert case["received_at"] == "2024-05-02T07:15:00+00:00"
    assert case["first_response_at"] is None
    assert case["contact"]["email"] == "anna@example.se"
    assert case["contact"]["personnummer"] == "19121212-****"
    assert case["contact"]["kind"] == "citizen"


def test_a_business_contact(agent):
    contact = {"name": "Bygg AB", "organisation_number": "5560360793", "kind": "business"}
    case = agent.post("/cases", _body(contact=contact)).get_json()
    assert case["contact"]["kind"] == "business"
    assert case["contact"]["organisation_number"] == "556036-0793"


def test_an_admin_may_register_cases(client, org):
    assert api_as(client, org.admin).post("/cases", _body()).status_code == 201


@pytest.mark.parametrize("role", ["handler_bygg", "manager"])
def test_other_roles_may_not(client, org, role):
    response = api_as(client, getattr(org, role)).post("/cases", _body())
    assert response.status_code == 403
    assert error_of(response)["code"] == "forbidden"


def test_a_body_that_is_not_json_is_415(agent):
    before = _count()
    response = agent.post("/cases", data="channel=phone", content_type="text/plain")
    assert response.status_code == 415
    assert error_of(response)["code"] == "unsupported_media_type"
    assert agent.post("/cases").status_code == 415
    assert _count() == before


@pytest.mark.parametrize(
    "raw", ['{"channel": "phone",', "[1, 2]", '"text"', "null", "[" * 100_000, b"\xff\xfe\x00"]
)
def test_malformed_json_is_400(agent, raw):
    response = agent.post("/cases", data=raw, content_type="application/json")
    assert response.status_code == 400
    assert error_of(response)["code"] == "bad_request"


INVALID = [
    ({"channel": "fax"}, "channel"),
    ({"channel": None}, "channel"),
    ({"channel": 1}, "channel"),
    ({"outcome": "lost"}, "outcome"),
    ({"case_type": "finns-inte"}, "case_type"),
    ({"case_type": "Bygg Lov"}, "case_type"),
    ({"case_type": 7}, "case_type"),
    ({"summary": 42}, "summary"),
    ({"summary": "   "}, "summary"),
    ({"summary": "x" * 4001}, "summary"),
    ({"contact": "Sven"}, "contact"),
    ({"contact": {"phone": "123"}}, "contact.phone"),
    ({"contact": {"phone": 701234567}}, "contact.phone"),
    ({"contact": {"phone": "0" * 41}}, "contact.phone"),
    ({"contact": {"personnummer": "19121212-1213"}}, "contact.personnummer"),
    ({"contact": {"organisation_number": "556036-0794"}}, "contact.organisation_number"),
    ({"contact": {"email": "no-at-sign"}}, "contact.email"),
    ({"contact": {"kind": "robot"}}, "contact.kind"),
    ({"contact": {"name": "Sven", "age": 40}}, "contact.age"),
    ({"received_at": "2024-05-02T09:15:00"}, "received_at"),
    ({"received_at": "igår"}, "received_at"),
    ({"received_at": 1714634100}, "received_at"),
    ({"received_at": "0001-01-01T00:30:00+01:00"}, "received_at"),
    ({"transfer": "lukewarm"}, "transfer"),
    ({"outcome": "referred", "case_type": None}, "referred_to"),
    ({"outcome": "referred", "referred_to": "x" * 201}, "referred_to"),
    ({"outcome": "handed_off", "case_type": "strandskydd"}, "case_type"),
    ({"outcome": "routed", "case_type": None}, "case_type"),
    ({"outcome": None}, "outcome"),
    ({"handed_to": "x" * 121}, "handed_to"),
    ({"callback_note": ["Efter 15"]}, "callback_note"),
    ({"note": True}, "note"),
    ({"priority": "high"}, "priority"),
]


@pytest.mark.parametrize(("fields", "field"), INVALID, ids=[f for _, f in INVALID])
def test_invalid_fields_are_422_with_the_field(agent, fields, field):
    before = _count()
    response = agent.post("/cases", _body(**fields))
    assert response.status_code == 422, response.get_json()
    error = error_of(response)
    assert error["code"] == "invalid" and error["field"] == field and error["message"]
    assert _count() == before


def test_received_at_in_the_future_is_refused(agent):
    future = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    response = agent.post("/cases", _body(received_at=future))
    assert response.status_code == 422 and error_of(response)["field"] == "received_at"


def test_an_inactive_case_type_is_refused(agent, org):
    org.bygglov.active = False
    db.session.commit()
    response = agent.post("/cases", _body())
    assert response.status_code == 422 and error_of(response)["field"] == "case_type"
    assert "används inte" in error_of(response)["message"]  # the service's Swedish message


def test_a_missing_summary_is_explained_by_the_service(agent):
    body = _body()
    del body["summary"]
    response = agent.post("/cases", body)
    assert response.status_code == 422
    assert error_of(response) == {
        "code": "invalid",
        "field": "summary",
        "message": "Skriv en kort sammanfattning av ärendet.",
    }


def test_the_same_caller_is_one_contact(agent):
    first = agent.post("/cases", _body()).get_json()
    second = agent.post("/cases", _body(contact={"phone": "+46701234567"})).get_json()
    assert second["contact"]["name"] == first["contact"]["name"] == "Sven Svensson"
