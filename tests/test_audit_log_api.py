"""The audit log through the API: GET /api/v1/audit-events and /audit-events/verify (admins)."""

from __future__ import annotations

import sqlalchemy as sa

from kontaktcenter.cases.contacts import ContactData
from kontaktcenter.core import audit
from kontaktcenter.core.audit import AuditEvent
from kontaktcenter.core.extensions import db
from tests.api_client import api_as, error_of
from tests.factories import make_case

PNR = "19811218-9876"


def test_admin_tokens_only(client, org):
    for user in (org.agent, org.handler_bygg, org.manager):
        api = api_as(client, user)
        assert api.get("/audit-events").status_code == 403
        assert api.get("/audit-events/verify").status_code == 403
    assert api_as(client, None).get("/audit-events").status_code == 401


def test_search_by_case_person_user_and_action_with_pages(client, org):
    case = make_case(
        org.agent, org.bygglov, contact=ContactData(name="Sven Svensson", personnummer=PNR)
    )
    for _ in range(3):
        audit.record(org.handler_bygg, "view_case", case)
    audit.record(org.handler_miljo, "view_contact")
    api = api_as(client, org.admin)
    body = api.get(f"/audit-events?case={case.reference}&action=view_case&limit=2").get_json()
    assert [item["action"] for item in body["items"]] == ["view_case", "view_case"]
    item = body["items"][0]
    assert item["case"] == case.reference and item["user"]["name"] == "Hugo Bygg"
    assert item["person"]["personnummer"] == "19811218-****" and item["seq"] is None
    assert item["action_label"] == "Visade ärende"
    rest = api.get(f"/audit-events?case={case.reference}&action=view_case&cursor={body['next']}")
    assert len(rest.get_json()["items"]) == 1 and rest.get_json()["next"] is None
    ids = [i["id"] for i in body["items"]] + [i["id"] for i in rest.get_json()["items"]]
    assert ids == sorted(ids, reverse=True)  # newest first
    by_person = api.get(f"/audit-events?person={PNR}").get_json()["items"]
    assert {i["action"] for i in by_person} >= {"view_case", "create_case", "route_case"}
    logged = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "search_audit_log")
    ).one()
    assert logged.detail == {"via": "api", "filters": {"person": "19811218-****"}}
    by_user = api.get(f"/audit-events?user={org.handler_miljo.email}").get_json()["items"]
    assert [i["action"] for i in by_user] == ["view_contact"]
    assert api.get("/audit-events?case=KC-2099-999").get_json() == {"items": [], "next": None}


def test_bad_parameters_are_422(client, org):
    api = api_as(client, org.admin)
    for query, field in (
        ("from=2024-13-01", "from"),
        ("action=nope", "action"),
        ("cursor=xyz", "cursor"),
        ("limit=0", "limit"),
        ("person=abc", "person"),
        ("unknown=1", "unknown"),
    ):
        response = api.get(f"/audit-events?{query}")
        assert response.status_code == 422, query
        assert error_of(response)["field"] == field, query


def test_verify_says_whether_the_chain_is_intact(client, org):
    audit.record(org.handler_bygg, "view_contact")
    api = api_as(client, org.admin)
    body = api.get("/audit-events/verify").get_json()
    assert body["intact"] is True and body["checked"] >= 1 and body["problem"] is None
    event = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "view_contact")
    ).one()
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(sa.text("ALTER TABLE audit_events DISABLE TRIGGER audit_events_guard"))
    db.session.execute(
        sa.text("UPDATE audit_events SET user_id = NULL WHERE id = :i"), {"i": event.id}
    )
    db.session.commit()
    body = api.get("/audit-events/verify").get_json()
    assert body["intact"] is False and body["broken_seq"] == event.seq
    assert db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "verify_audit_log")
    ).all()
