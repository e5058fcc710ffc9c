"""`Api`, the API test client: it sends requests with a bearer token and checks every response
against the OpenAPI document (the status code must be documented for that operation, the body
must validate against the documented schema, documented required headers must be present). So
each API test is also a contract test."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from flask.testing import FlaskClient
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from werkzeug.exceptions import HTTPException
from werkzeug.test import TestResponse

from kontaktcenter.api.openapi import document
from kontaktcenter.organisation import users
from kontaktcenter.organisation.models import User

PREFIX = "/api/v1"
URN = "urn:kontaktcenter:openapi"
DOC = document()
REGISTRY: Registry = Registry().with_resource(
    URN, Resource.from_contents(DOC, default_specification=DRAFT202012)
)
FORMATS = FormatChecker(formats=())


@FORMATS.checks("date-time", raises=ValueError)
def _is_datetime(value: object) -> bool:
    if not isinstance(value, str):
        return True
    return "T" in value and datetime.fromisoformat(value).tzinfo is not None


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def validator(pointer: str) -> Draft202012Validator:
    """A validator for the schema at `pointer` in the document (refs resolve in the document)."""
    return Draft202012Validator(
        {"$ref": f"{URN}#{pointer}"}, registry=REGISTRY, format_checker=FORMATS
    )


def schema_validator(name: str) -> Draft202012Validator:
    return validator(f"/components/schemas/{name}")


def openapi_path(rule: str) -> str:
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.removeprefix(PREFIX))


def check_response(client: FlaskClient, method: str, url: str, response: TestResponse) -> None:
    assert response.status_code < 500, response.get_data(as_text=True)
    adapter = client.application.url_map.bind("localhost")
    try:
        rule, _args = adapter.match(url.split("?")[0], method=method, return_rule=True)
    except HTTPException:
        assert response.mimetype == "application/json", response.get_data(as_text=True)[:300]
        return  # not a route: the app's JSON 404/405
    path = openapi_path(rule.rule)
    operation = DOC["paths"][path][method.lower()]
    status = str(response.status_code)
    assert status in operation["responses"], f"{method} {path} {status} is not documented"
    pointer = f"/paths/{_escape(path)}/{method.lower()}/responses/{status}"
    documented = operation["responses"][status]
    if "$ref" in documented:
        pointer = documented["$ref"].removeprefix("#")
        documented = DOC["components"]["responses"][pointer.rsplit("/", 1)[1]]
    if response.mimetype != "application/json":  # a file (CSV, XLSX): its type is documented
        assert response.mimetype in documented.get("content", {}), (
            f"{method} {path} {status}: {response.mimetype} is not documented"
        )
        return
    for header, described in documented.get("headers", {}).items():
        if described.get("required"):  # OpenAPI: a header is optional unless it says so
            assert header in response.headers, f"{method} {path} {status}: no {header} header"
    schema_pointer = pointer + "/content/application~1json/schema"
    errors = sorted(validator(schema_pointer).iter_errors(response.get_json()), key=str)
    assert not errors, f"{method} {path} {status}: " + "; ".join(e.message for e in errors[:5])


class Api:
    """The test client, speaking to /api/v1 with a bearer token (or none)."""

    def __init__(self, client: FlaskClient, secret: str | None = None) -> None:
        self.client = client
        self.secret = secret

    def open(self, method: str, path: str, **kwargs: Any) -> TestResponse:
        headers = dict(kwargs.pop("headers", {}))
        if self.secret is not None:
            headers.setdefault("Authorization", f"Bearer {self.secret}")
        url = path if path.startswith(PREFIX) else PREFIX + path
        response = self.client.open(url, method=method, headers=headers, **kwargs)
        check_response(self.client, method, url, response)
        return response

    def get(self, path: str, **kwargs: Any) -> TestResponse:
        return self.open("GET", path, **kwargs)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> TestResponse:
        if body is not None:
            kwargs["json"] = body
        return self.open("POST", path, **kwargs)


def token_for(user: User) -> str:
    return users.create_token(user, "test")[1]


def api_as(client: FlaskClient, user: User | None) -> Api:
    return Api(client, token_for(user) if user is not None else None)


def error_of(response: TestResponse) -> dict[str, Any]:
    body = response.get_json()
    assert set(body) == {"error"}
    return body["error"]


# -- The document against the routes -----------------------------------------------------------
