"""The OpenAPI document is the contract: it must describe exactly what the API does."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator

from kontaktcenter.cases.enums import Outcome
from tests.api_client import (
    DOC,
    REGISTRY,
    URN,
    Api,
    api_as,
    error_of,
    openapi_path,
    schema_validator,
)


def _operations_in_app(client: FlaskClient) -> set[tuple[str, str]]:
    found = set()
    for rule in client.application.url_map.iter_rules():
        if rule.endpoint.startswith("api."):
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                found.add((openapi_path(rule.rule), method.lower()))
    return found


def _operations_in_document() -> set[tuple[str, str]]:
    methods = {"get", "post", "put", "patch", "delete"}
    return {(path, m) for path, item in DOC["paths"].items() for m in item if m in methods}


def test_every_route_is_documented_and_every_documented_operation_exists(client):
    assert _operations_in_app(client) == _operations_in_document()


def test_path_parameters_match_the_routes(client):
    for rule in client.application.url_map.iter_rules():
        if not rule.endpoint.startswith("api."):
            continue
        item = DOC["paths"][openapi_path(rule.rule)]
        declared = {p["name"] for p in item.get("parameters", []) if p["in"] == "path"}
        assert declared == set(rule.arguments), rule.rule


def test_document_is_well_formed():
    assert DOC["openapi"].startswith("3.1.")
    assert DOC["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    for schema in DOC["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)
    ids = [op["operationId"] for item in DOC["paths"].values() for op in _ops(item)]
    assert len(ids) == len(set(ids))
    for path, item in DOC["paths"].items():
        for op in _ops(item):
            public = op.get("security") == []
            assert public or "401" in op["responses"], path
            for status in op["responses"]:
                assert re.fullmatch(r"[1-5][0-9]{2}", status), (path, status)
    for required in ("Case", "CaseSummary", "TimelineEntry", "CaseType", "Department", "Error"):
        assert required in DOC["components"]["schemas"]
    assert "NewCase" in DOC["components"]["schemas"]


def _ops(item: dict[str, Any]) -> list[dict[str, Any]]:
    return [op for method, op in item.items() if method in {"get", "post"}]


def test_every_reference_in_the_document_resolves():
    resolver = REGISTRY.resolver(URN)

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str):
                resolver.lookup(URN + node["$ref"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(DOC)


def test_the_document_is_public_and_served_as_written(client):
    response = Api(client).get("/openapi.json")
    assert response.status_code == 200
    assert response.get_json() == DOC


def test_every_enum_value_of_the_api_is_in_the_document():
    outcomes = DOC["components"]["schemas"]["NewCase"]["properties"]["outcome"]["enum"]
    assert outcomes == [o.value for o in Outcome] + [None]  # optional: null is left out
    params = {p["name"]: p for p in DOC["paths"]["/cases"]["get"]["parameters"]}
    assert params["status"]["schema"]["enum"] == ["new", "open", "waiting", "closed"]
    assert params["channel"]["schema"]["enum"] == ["phone", "email", "visit", "web"]


# -- Request bodies: what the schema refuses, the API refuses --------------------------------

VALID_BODY = {
    "channel": "phone",
    "case_type": "bygglov",
    "summary": "Fråga om bygglov för altan",
    "outcome": "routed",
    "contact": {"name": "Sven Svensson", "phone": "070-123 45 67", "kind": "citizen"},
    "received_at": "2024-05-02T09:15:00+02:00",
    "note": "Ringer från jobbet",
}
INVALID_BODIES = {
    "unknown field": VALID_BODY | {"priority": "high"},
    "unknown channel": VALID_BODY | {"channel": "fax"},
    "unknown outcome": VALID_BODY | {"outcome": "lost"},
    "summary not a string": VALID_BODY | {"summary": 42},
    "contact not an object": VALID_BODY | {"contact": "Sven"},
    "unknown contact field": VALID_BODY | {"contact": {"name": "Sven", "shoe_size": 44}},
    "contact kind": VALID_BODY | {"contact": {"name": "Sven", "kind": "robot"}},
    "missing channel": {k: v for k, v in VALID_BODY.items() if k != "channel"},
    "referred_to too long": VALID_BODY | {"outcome": "referred", "referred_to": "x" * 201},
    "transfer": VALID_BODY | {"transfer": "lukewarm"},
    "case_type not a slug": VALID_BODY | {"case_type": "Bygg lov!"},
}


def test_a_valid_body_is_valid_for_schema_and_api(client, org):
    schema_validator("NewCase").validate(VALID_BODY)
    response = api_as(client, org.agent).post("/cases", VALID_BODY)
    assert response.status_code == 201


@pytest.mark.parametrize("name", sorted(INVALID_BODIES))
def test_what_the_schema_refuses_the_api_refuses(client, org, name):
    body = INVALID_BODIES[name]
    assert list(schema_validator("NewCase").iter_errors(body)), name
    response = api_as(client, org.agent).post("/cases", body)
    assert response.status_code == 422
    assert error_of(response)["code"] == "invalid"


# -- Responses: a case with every field filled validates -------------------------------------


def test_a_case_with_every_field_filled_matches_the_schemas(client, org):
    agent = api_as(client, org.agent)
    body = VALID_BODY | {
        "outcome": "callback",
        "callback_note": "Helst efter lunch",
        "contact": {
            "name": "Tolvan Tolvansson",
            "phone": "+46 70 123 45 67",
            "email": "tolvan@example.se",
            "personnummer": "19121212-1212",
            "organisation_number": "556036-0793",
        },
    }
    reference = agent.post("/cases", body).get_json()["reference"]
    handler = api_as(client, org.handler_bygg)
    handler.post(f"/cases/{reference}/notes", {"text": "Tar det"})
    case = handler.post(f"/cases/{reference}/close", {"resolution": "Klart"}).get_json()
    assert all(case[key] is not None for key in ("department", "contact", "closed_at"))
    assert case["contact"]["personnummer"] == "19121212-****"
    listed = agent.get("/cases").get_json()["items"]
    assert [c["reference"] for c in listed] == [reference]
    schema_validator("CaseSummary").validate(listed[0])
    schema_validator("Case").validate(agent.get(f"/cases/{reference}").get_json())
