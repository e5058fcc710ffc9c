"""Register extracts, correction and erasure through /api/v1 (every response is validated
against the OpenAPI document by tests/api_client.py)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from kontaktcenter.cases.contacts import ContactData
from kontaktcenter.cases.models import Contact
from kontaktcenter.compliance.extract_models import ErasureDecision, RegisterExtractRequest
from kontaktcenter.core.audit import AuditEvent
from kontaktcenter.core.extensions import db
from tests.api_client import api_as, error_of
from tests.factories import make_case

PNR = "19121212-1212"


@pytest.fixture
def anna_case(org):
    return make_case(
        org.agent,
        org.bygglov,
        summary="Anna frågar om altanen",
        contact=ContactData(name="Anna Andersson", email="anna@example.se", personnummer=PNR),
    )


def test_create_read_list_and_deliver(client, org, anna_case):
    api = api_as(client, org.admin)
    created = api.post("/register-extracts", {"personnummer": "191212121212", "note": "BankID"})
    assert created.status_code == 201
    request = created.get_json()
    assert request["status"] == "pending" and request["identifiers"] == {
        "personnummer": "19121212-****"
    }
    assert request["contact_ids"] == [anna_case.contact_id]
    assert created.headers["Location"].endswith(f"/register-extracts/{request['id']}")

    extract = api.get(f"/register-extracts/{request['id']}")
    assert extract.status_code == 200
    doc = extract.get_json()
    assert doc["cases"][0]["reference"] == anna_case.reference
    assert doc["contacts"][0]["personnummer"] == PNR
    assert db.session.scalars(
        sa.select(AuditEvent).where(
            AuditEvent.action == "register_extract_exported",
            AuditEvent.detail["form"].as_string() == "api",
        )
    ).one()

    listed = api.get("/register-extracts?status=pending").get_json()["items"]
    assert [r["id"] for r in listed] == [request["id"]]

    delivered = api.post(f"/register-extracts/{request['id']}/delivered")
    assert delivered.status_code == 200 and delivered.get_json()["status"] == "delivered"
    again = api.post(f"/register-extracts/{request['id']}/delivered")
    assert again.status_code == 409
    assert api.get("/register-extracts?status=pending").get_json()["items"] == []
    assert api.post(f"/register-extracts/{request['id']}/withdrawn").status_code == 409


def test_a_withdrawn_request_no_longer_blocks(client, org, anna_case):
    api = api_as(client, org.admin)
    request = api.post("/register-extracts", {"email": "anna@example.se"}).get_json()
    withdrawn = api.post(f"/register-extracts/{request['id']}/withdrawn")
    assert withdrawn.status_code == 200 and withdrawn.get_json()["status"] == "withdrawn"
    assert error_of(api.post(f"/register-extracts/{request['id']}/delivered"))["message"] == (
        "Begäran är redan återkallad."
    )
    assert api.get("/register-extracts?status=pending").get_json()["items"] == []
    assert db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "register_extract_withdrawn")
    ).one()


@pytest.mark.parametrize("who", ["agent", "handler_bygg", "manager"])
def test_only_admin_tokens(client, org, anna_case, who):
    api = api_as(client, getattr(org, who))
    response = api.post("/register-extracts", {"personnummer": PNR})
    assert response.status_code == 403
    assert api.get("/register-extracts").status_code == 403
    patch = api.open(
        "PATCH", f"/contacts/{anna_case.contact_id}", json={"name": "X", "reason": "y"}
    )
    assert patch.status_code == 403
    assert db.session.scalars(sa.select(RegisterExtractRequest)).all() == []


def test_bad_bodies_are_422_with_the_field(client, org):
    api = api_as(client, org.admin)
    assert error_of(api.post("/register-extracts", {}))["field"] == "personnummer"
    assert error_of(api.post("/register-extracts", {"email": "nej"}))["field"] == "email"
    assert error_of(api.post("/register-extracts", {"pnr": PNR}))["field"] == "pnr"
    assert api.get("/register-extracts/424242").status_code == 404


def test_patch_contact_corrects_and_logs(client, org, anna_case):
    api = api_as(client, org.admin)
    response = api.open(
        "PATCH",
        f"/contacts/{anna_case.contact_id}",
        json={"name": "Anna Ek", "email": None, "reason": "Namnbyte"},
    )
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["name"] == "Anna Ek" and response.get_json()["email"] is None
    event = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "contact_corrected")
    ).one()
    assert event.detail["changes"]["email"] == {"old": "anna@example.se", "new": None}
    same = api.open(
        "PATCH", f"/contacts/{anna_case.contact_id}", json={"name": "Anna Ek", "reason": "x"}
    )
    assert same.status_code == 422
    missing = api.open("PATCH", f"/contacts/{anna_case.contact_id}", json={"name": "A"})
    assert error_of(missing)["field"] == "reason"
    assert api.open("PATCH", "/contacts/424242", json={"reason": "x"}).status_code == 404


def test_erasure_decisions(client, org, anna_case):
    api = api_as(client, org.admin)
    url = f"/contacts/{anna_case.contact_id}/erasure-decisions"
    refused = api.post(
        url,
        {
            "outcome": "refused",
            "legal_ground": "allman-handling",
            "reason": "Allmän handling, inget gallringsbeslut.",
            "cases": [anna_case.reference.lower()],
        },
    )
    assert refused.status_code == 201
    assert refused.get_json()["cases"] == [anna_case.reference]
    assert refused.get_json()["carried_out_at"] is None
    wrong = api.post(url, {"outcome": "granted", "legal_ground": "allman-handling", "reason": "x"})
    assert error_of(wrong)["field"] == "legal_ground"
    foreign = api.post(
        url,
        {
            "outcome": "refused",
            "legal_ground": "allman-handling",
            "reason": "x",
            "cases": ["KC-1999-000001"],
        },
    )
    assert error_of(foreign)["field"] == "cases"
    listed = api.get(url).get_json()["items"]
    assert [d["outcome"] for d in listed] == ["refused"]
    assert len(db.session.scalars(sa.select(ErasureDecision)).all()) == 1
    assert db.session.get(Contact, anna_case.contact_id).name == "Anna Andersson"
