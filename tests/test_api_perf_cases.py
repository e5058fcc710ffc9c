"""Logging a call and reading a case through the API with fewer statements (#16), and the same
answers and audit rows: the case type comes with its department (a hand-off, a routing and a
callback read it), and a case's read is audited with the row audit.record writes."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from kontaktcenter.cases.contacts import ContactData
from kontaktcenter.core.audit import AuditEvent
from kontaktcenter.core.extensions import db, utcnow
from tests.api_client import Api, api_as
from tests.factories import make_case
from tests.statements import statements


@pytest.fixture
def agent(client, org) -> Api:
    api = api_as(client, org.agent)
    api.get("/cases/nonsense")  # the token's last use is written once: not counted below
    return api


@pytest.mark.parametrize("outcome", ["answered", "handed_off", "routed", "callback", "referred"])
def test_the_case_type_is_read_with_its_department(agent, org, outcome):
    body = {
        "channel": "phone",
        "case_type": "bygglov",
        "summary": "Fråga om bygglov",
        "outcome": outcome,
        "contact": {"phone": "070-123 45 67"},
    }
    if outcome == "referred":
        body["referred_to"] = "Skatteverket"
    with statements(ours_only=True) as sent:
        response = agent.post("/cases", body)
    assert response.status_code == 201
    assert [s for s in sent if s.startswith("SELECT case_types.")]
    assert not [s for s in sent if s.startswith("SELECT departments.")], outcome
    created = response.get_json()
    if outcome in ("handed_off", "routed", "callback"):
        assert created["department"] == {"slug": "stadsbyggnad", "name": org.bygg.name}
    assert agent.get(response.headers["Location"]).get_json() == created


def test_an_unknown_case_type_is_still_refused(agent):
    body = {"channel": "phone", "case_type": "finns-inte", "summary": "Fråga"}
    response = agent.post("/cases", body)
    assert response.status_code == 422
    assert response.get_json()["error"]["field"] == "case_type"


@pytest.mark.parametrize("known", [True, False])
def test_reading_a_case_writes_the_audit_row_audit_record_writes(agent, org, known):
    contact = None if known else ContactData()
    case = make_case(org.agent, org.bygglov, contact=contact)
    before = utcnow()
    with statements(ours_only=True) as sent:
        assert agent.get(f"/cases/{case.reference}").status_code == 200
    assert len([s for s in sent if s.startswith("INSERT INTO audit_events")]) == 1
    row = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.case_id == case.id, AuditEvent.action == "view_case")
    ).one()
    assert (row.user_id, row.contact_id, row.detail) == (
        org.agent.id,
        case.contact_id,
        {"via": "api"},
    )
    assert (case.contact_id is not None) is known
    assert before - timedelta(seconds=1) <= row.created_at <= utcnow()
    assert row.seq is None and row.hash is None  # sealed later, as every row
