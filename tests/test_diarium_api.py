"""The diarium through /api/v1: marking, the registrar's diarienummer, the list of diarier."""

from __future__ import annotations

import pytest

from kontaktcenter.compliance import diarium_settings
from kontaktcenter.compliance.diarium_models import CaseDiarium
from kontaktcenter.compliance.diarium_settings import DiariumData
from kontaktcenter.core.extensions import db
from tests.api_client import api_as, error_of
from tests.diarium_server import registrar
from tests.factories import make_case


@pytest.fixture
def server(org):
    with registrar() as running:
        diarium_settings.create(DiariumData("BN", running.url, [org.bygg]))
        yield running


def test_the_registrar_stores_the_diarienummer(client, org, server):
    case = make_case(org.agent, org.bygglov)
    api = api_as(client, org.handler_bygg)
    response = api.open("PUT", f"/cases/{case.reference}/diarium", json={"marking": "register"})
    assert response.status_code == 200
    assert response.get_json()["state"] == "sent"
    response = api.open(
        "PUT", f"/cases/{case.reference}/diarium", json={"diarienummer": "BN 2026/99"}
    )
    body = response.get_json()
    assert (body["marking"], body["diarienummer"], body["state"]) == (
        "register",
        "BN 2026/99",
        "registered",
    )
    assert db.session.get(CaseDiarium, case.id).diarienummer == "BN 2026/99"
    assert api.get(f"/cases/{case.reference}/diarium").get_json()["diarienummer"] == "BN 2026/99"
    assert len(server.received) == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"marking": "archive"}, "marking"),
        ({"diarienummer": "x" * 61}, "diarienummer"),
        ({"diarienummer": "<script>"}, "diarienummer"),
        ({"marking": "minor", "diarienummer": "BN 1"}, "marking"),
        ({"marking": "minor", "note": "x"}, "note"),
        ({}, "marking"),
    ],
)
def test_bad_bodies_are_a_422(client, org, server, body, field):
    case = make_case(org.agent, org.bygglov)
    response = api_as(client, org.handler_bygg).open(
        "PUT", f"/cases/{case.reference}/diarium", json=body
    )
    assert response.status_code == 422
    assert error_of(response)["field"] == field


def test_the_role_rules_hold_in_the_api(client, org, server):
    case = make_case(org.agent, org.bygglov)
    url = f"/cases/{case.reference}/diarium"
    assert api_as(client, org.agent).open("PUT", url, json={"marking": "minor"}).status_code == 403
    other = api_as(client, org.handler_miljo).open("PUT", url, json={"marking": "minor"})
    assert other.status_code == 404
    assert db.session.get(CaseDiarium, case.id) is None


def test_the_diaries_are_listed_without_their_secrets(client, org, server):
    body = api_as(client, org.handler_bygg).get("/diaries").get_json()
    assert body["items"][0]["name"] == "BN"
    assert body["items"][0]["departments"] == [{"slug": org.bygg.slug, "name": org.bygg.name}]
    assert "secret" not in str(body) and server.url not in str(body)
