"""Every API request authenticates itself with a bearer token; no token, no data."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from kontaktcenter.core.extensions import db
from kontaktcenter.organisation import users
from kontaktcenter.organisation.models import ApiToken
from tests.api_client import DOC, Api, api_as, error_of, token_for
from tests.factories import make_case

PROTECTED = sorted(
    (method.upper(), re.sub(r"\{\w+_id\}", "1", path.replace("{reference}", "KC-2024-000001")))
    for path, item in DOC["paths"].items()
    for method, op in item.items()
    if method in {"get", "post", "put", "patch", "delete"} and op.get("security") != []
)


def _assert_challenge(response, invalid: bool) -> None:
    assert response.status_code == 401
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith("Bearer ")
    assert ('error="invalid_token"' in challenge) is invalid
    assert error_of(response)["code"] == "unauthorized"
    assert "Set-Cookie" not in response.headers


@pytest.mark.parametrize(("method", "path"), PROTECTED)
def test_every_endpoint_needs_a_token(client, method, path):
    _assert_challenge(Api(client).open(method, path, json={}), invalid=False)


@pytest.mark.parametrize(
    "header",
    ["Bearer kc_not-a-real-token", "Bearer ", "Basic dXNlcjpwYXNz", "kc_token-without-scheme"],
)
def test_a_bad_token_is_refused(client, org, header):
    response = Api(client).get("/cases", headers={"Authorization": header})
    _assert_challenge(response, invalid=True)


def test_a_revoked_token_is_refused(client, org):
    secret = token_for(org.agent)
    api = Api(client, secret)
    assert api.get("/cases").status_code == 200
    token = db.session.scalars(sa.select(ApiToken).where(ApiToken.user_id == org.agent.id)).one()
    users.revoke_token(token.id)
    _assert_challenge(api.get("/cases"), invalid=True)


def test_the_token_of_a_deactivated_user_is_refused(client, org):
    api = api_as(client, org.agent)
    org.agent.active = False
    db.session.commit()
    _assert_challenge(api.get("/cases"), invalid=True)


def test_a_valid_token_works_sets_no_cookie_and_forbids_caching(client, org):
    response = api_as(client, org.agent).get("/cases")
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers
    assert response.headers["Cache-Control"] == "no-store"
    token = db.session.scalars(sa.select(ApiToken).where(ApiToken.user_id == org.agent.id)).one()
    assert token.last_used_at is not None


def test_the_scheme_is_case_insensitive(client, org):
    secret = token_for(org.agent)
    response = Api(client).get("/cases", headers={"Authorization": f"bearer {secret}"})
    assert response.status_code == 200


def test_a_browser_session_is_not_a_token(client, org, login):
    make_case(org.agent, org.bygglov)
    login(org.agent)
    _assert_challenge(Api(client).get("/cases"), invalid=False)


def test_the_token_acts_as_its_user(client, org):
    case = make_case(org.agent, org.miljotillsyn)
    assert api_as(client, org.handler_miljo).get(f"/cases/{case.reference}").status_code == 200
    assert api_as(client, org.handler_bygg).get(f"/cases/{case.reference}").status_code == 404


def test_unknown_api_paths_and_methods_answer_json(client, org):
    api = api_as(client, org.agent)
    assert api.get("/nothing-here").status_code == 404
    response = api.open("DELETE", "/cases")
    assert response.status_code == 405 and "error" in response.get_json()
