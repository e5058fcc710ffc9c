"""The gallring API: rules, dry run and runs for admin tokens; legal holds as on the case page.
Every response is checked against the OpenAPI document (tests/api_client.py)."""

from __future__ import annotations

import sqlalchemy as sa

from kontaktcenter.cases.models import Case
from kontaktcenter.compliance.retention_models import CaseRetention, RetentionRule
from kontaktcenter.core.extensions import db
from tests import factories
from tests.api_client import api_as, error_of
from tests.test_retention_runs import closed

RULE = {
    "case_type": "bygglov",
    "mode": "months",
    "months": 12,
    "decision_name": "Dokumenthanteringsplan",
    "decision_date": "2025-01-15",
    "decision_reference": "KS 2025/12",
}


def test_rules_crud_for_admins(client, org):
    api = api_as(client, org.admin)
    created = api.post("/retention-rules", RULE)
    assert created.status_code == 201, created.get_json()
    rule = created.get_json()
    assert rule["case_type"]["slug"] == "bygglov" and rule["months"] == 12
    again = api.post("/retention-rules", RULE)
    assert again.status_code == 422 and error_of(again)["field"] == "case_type"
    changed = api.open("PUT", f"/retention-rules/{rule['id']}", json={**RULE, "months": 24})
    assert changed.status_code == 200 and changed.get_json()["months"] == 24
    listed = api.get("/retention-rules").get_json()["items"]
    assert [r["id"] for r in listed] == [rule["id"]]
    gone = api.open("DELETE", f"/retention-rules/{rule['id']}")
    assert gone.status_code == 200 and gone.get_json()["active"] is False
    assert api.open("DELETE", "/retention-rules/999999").status_code == 404


def test_rules_refuse_bad_input_and_other_roles(client, org):
    api = api_as(client, org.admin)
    assert api.post("/retention-rules", {**RULE, "extra": 1}).status_code == 422
    assert api.post("/retention-rules", {**RULE, "mode": "inactual"}).status_code == 422
    assert api.post("/retention-rules", {**RULE, "decision_date": "igår"}).status_code == 422
    assert api.post("/retention-rules", {**RULE, "case_type": "finns-inte"}).status_code == 422
    for user in (org.agent, org.handler_bygg, org.manager):
        assert api_as(client, user).get("/retention-rules").status_code == 403
        assert api_as(client, user).post("/retention/runs").status_code == 403
    assert db.session.scalar(sa.select(sa.func.count()).select_from(RetentionRule)) == 0


def test_dry_run_then_run(client, org):
    case = closed(org, 400)
    api = api_as(client, org.admin)
    api.post("/retention-rules", RULE)
    dry = api.post("/retention-rules/dry-run")
    assert dry.status_code == 202, dry.get_json()
    body = dry.get_json()
    assert body["state"] == "finished" and body["total"] == 1
    assert body["per_rule"][0]["case_types"] == [{"case_type": "Bygglov", "count": 1}]
    assert body["sample"][0]["reference"] == case.reference
    assert db.session.get(CaseRetention, case.id) is None
    real = api.post("/retention/runs", {})
    assert real.status_code == 202 and real.get_json()["total"] == 1
    assert api.get(real.headers["Location"]).get_json()["state"] == "finished"
    runs = api.get("/retention/runs?limit=5").get_json()["items"]
    assert [r["dry_run"] for r in runs] == [False, True]
    assert db.session.get(CaseRetention, case.id).gallrad_at is not None


def test_legal_hold_through_the_api(client, org):
    case = closed(org, 400)
    db.session.get(Case, case.id).department_id = org.bygg.id
    db.session.commit()
    path = f"/cases/{case.reference}/legal-hold"
    agent = api_as(client, org.agent)
    assert agent.open("PUT", path, json={"reason": "Tvist"}).status_code == 403
    other = api_as(client, org.handler_miljo)
    assert other.open("PUT", path, json={"reason": "Tvist"}).status_code == 404
    handler = api_as(client, org.handler_bygg)
    assert handler.open("PUT", path, json={}).status_code == 422
    held = handler.open("PUT", path, json={"reason": "Tvist"})
    assert held.status_code == 200 and held.get_json()["on_hold"] is True
    admin = api_as(client, org.admin)
    admin.post("/retention-rules", RULE)
    assert admin.post("/retention/runs").get_json()["skipped"] == [
        {"reason": "legal_hold", "count": 1}
    ]
    released = handler.open("DELETE", path, json={"reason": "Avgjort"})
    assert released.status_code == 200 and released.get_json()["on_hold"] is False
    assert handler.open("DELETE", path, json={"reason": "Igen"}).status_code == 422
    assert factories  # the org fixture builds the users
