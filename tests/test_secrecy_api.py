"""Secrecy on case types through the API (issue #15): read by anyone with a token, set by
admins, the cases of the type secret at once."""

from __future__ import annotations

import sqlalchemy as sa

from kontaktcenter.core.audit import AuditEvent
from kontaktcenter.core.extensions import db
from tests.api_client import api_as, error_of
from tests.factories import make_case


def test_an_admin_makes_a_case_type_secret_and_its_cases_show_it(client, org):
    case = make_case(org.agent, org.bygglov, summary="Fråga om familjehem")
    admin = api_as(client, org.admin)
    url = "/case-types/bygglov/secrecy"
    assert admin.get(url).get_json() == {"slug": "bygglov", "secrecy_ground": None}
    answer = admin.open("PUT", url, json={"ground": "OSL 26:1"})
    assert answer.get_json() == {"slug": "bygglov", "secrecy_ground": "OSL 26:1"}
    logged = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "case_type_secrecy_changed")
    ).one()
    assert logged.user_id == org.admin.id
    # Its cases are secret now: the first line sees the register fields only.
    seen = api_as(client, org.agent).get(f"/cases/{case.reference}").get_json()
    assert seen["secret"] is True and seen["secrecy_ground"] == "OSL 26:1"
    assert seen["summary"] == "Uppgiften omfattas av sekretess (OSL 26:1)"
    assert admin.open("PUT", url, json={"ground": None}).get_json()["secrecy_ground"] is None


def test_only_admins_set_a_case_types_secrecy_and_bad_input_is_a_4xx(client, org):
    url = "/case-types/bygglov/secrecy"
    handler = api_as(client, org.handler_bygg)
    assert handler.get(url).status_code == 200
    refused = handler.open("PUT", url, json={"ground": "OSL 26:1"})
    assert refused.status_code == 403
    db.session.expire_all()
    assert org.bygglov.secrecy_ground is None
    admin = api_as(client, org.admin)
    for bad, field in (({"ground": "OSL 0:0"}, "ground"), ({}, "ground"), ({"g": 1}, "ground")):
        response = admin.open("PUT", url, json=bad)
        assert response.status_code == 422 and error_of(response)["field"] == field, bad
    assert admin.get("/case-types/finns-inte/secrecy").status_code == 404
    assert admin.get("/case-types/INTE%20SLUG/secrecy").status_code == 404
