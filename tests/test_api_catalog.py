"""The catalog: case types (with direct numbers) and departments."""

from __future__ import annotations

import pytest

from kontaktcenter.core.extensions import db
from tests.api_client import api_as, error_of


def test_case_types_with_their_departments_and_direct_numbers(client, org):
    org.strandskydd.active = False
    db.session.commit()
    body = api_as(client, org.handler_miljo).get("/case-types").get_json()
    assert body["next"] is None
    assert [t["slug"] for t in body["items"]] == ["bygglov", "miljotillsyn"]
    assert body["items"][0] == {
        "slug": "bygglov",
        "name": "Bygglov",
        "department": {"slug": "stadsbyggnad", "name": "Stadsbyggnadskontoret"},
        "direct_number": "08-123 456 78",
        "direct_number_answered_by": "Bygglovshandläggare",
        "direct_number_hours": "Mån–tor 10–12",
        "guidance": "Fråga efter fastighetsbeteckning. (Bygglov)",
        "callback_promise_hours": 24,
        "active": True,
    }
    body = api_as(client, org.agent).get("/case-types?include_inactive=1").get_json()
    assert [t["slug"] for t in body["items"]] == ["bygglov", "miljotillsyn", "strandskydd"]
    assert body["items"][2]["active"] is False and body["items"][2]["direct_number"] is None


def test_departments(client, org):
    org.miljo.active = False
    db.session.commit()
    api = api_as(client, org.agent)
    assert api.get("/departments").get_json() == {
        "items": [
            {
                "slug": "stadsbyggnad",
                "name": "Stadsbyggnadskontoret",
                "contact_email": "stadsbyggnad@kommun.example",
                "phone_hours": "Mån–fre 9–12",
                "active": True,
            }
        ],
        "next": None,
    }
    every = api.get("/departments?include_inactive=true").get_json()["items"]
    assert [d["slug"] for d in every] == ["miljo", "stadsbyggnad"]


@pytest.mark.parametrize("path", ["/case-types", "/departments"])
@pytest.mark.parametrize(
    ("query", "field"), [("include_inactive=kanske", "include_inactive"), ("page=2", "page")]
)
def test_bad_parameters(client, org, path, query, field):
    response = api_as(client, org.agent).get(f"{path}?{query}")
    assert response.status_code == 422 and error_of(response)["field"] == field
