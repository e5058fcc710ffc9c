"""An API request's token is checked in one statement (#16): the token, its user and whether the
user is a telephony integration account, read together on every request, so a revocation, a
deactivation or a change of account kind holds from the very next request in every process."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from kontaktcenter.channels.phone import integration
from kontaktcenter.core.extensions import db, utcnow
from kontaktcenter.core.roles import Role
from kontaktcenter.organisation import users
from kontaktcenter.organisation.models import ApiToken
from tests import factories
from tests.api_client import Api, api_as, error_of, token_for
from tests.factories import make_case
from tests.statements import statements


def _token(user_id: int) -> ApiToken:
    return db.session.scalars(sa.select(ApiToken).where(ApiToken.user_id == user_id)).one()


def test_a_request_is_authenticated_in_one_statement(client, org):
    api = api_as(client, org.agent)
    api.get("/cases/nonsense")  # the token's last use is written once: not counted below
    with statements(ours_only=True) as sent:
        # Not a reference: the view answers 404 without a query, so all that is left is the token.
        assert api.get("/cases/nonsense").status_code == 404
    assert len(sent) == 1, sent
    assert "api_tokens" in sent[0] and "users" in sent[0] and "call_integration_users" in sent[0]


def test_an_integration_token_is_refused_elsewhere_in_the_same_statement(client, org):
    user = factories.make_user(Role.AGENT, name="Telefoniplattformen")
    integration.mark_integration(user)
    api = api_as(client, user)
    api.get("/cases")  # the token's last use is written once
    with statements(ours_only=True) as sent:
        answer = api.get("/cases")
    assert answer.status_code == 403 and error_of(answer)["code"] == "forbidden"
    assert len(sent) == 1, sent


def test_becoming_an_integration_account_applies_to_the_next_request(client, org):
    api = api_as(client, org.agent)
    assert api.get("/cases").status_code == 200
    integration.mark_integration(org.agent)
    assert api.get("/cases").status_code == 403


def test_a_handler_still_sees_exactly_their_departments(client, org):
    own = make_case(org.agent, org.bygglov)
    other = make_case(org.agent, org.miljotillsyn)
    own.department, other.department = org.bygg, org.miljo
    db.session.commit()
    api = api_as(client, org.handler_bygg)
    assert api.get(f"/cases/{own.reference}").status_code == 200
    assert api.get(f"/cases/{other.reference}").status_code == 404
    listed = {c["reference"] for c in api.get("/cases").get_json()["items"]}
    assert own.reference in listed and other.reference not in listed


def test_the_last_use_is_written_at_most_every_five_minutes(client, org):
    api = api_as(client, org.agent)
    with statements(ours_only=True) as sent:
        api.get("/cases/nonsense")
    assert [s for s in sent if s.startswith("UPDATE api_tokens")]
    first = _token(org.agent.id).last_used_at
    assert first is not None

    with statements(ours_only=True) as sent:
        api.get("/cases/nonsense")
    assert not [s for s in sent if s.startswith("UPDATE")]
    db.session.expire_all()
    assert _token(org.agent.id).last_used_at == first

    old = utcnow() - users.LAST_USED_EVERY - timedelta(seconds=1)
    db.session.execute(sa.update(ApiToken).values(last_used_at=old))
    db.session.commit()
    api.get("/cases/nonsense")
    db.session.expire_all()
    written = _token(org.agent.id).last_used_at
    assert written is not None and written > old + timedelta(seconds=1)


def test_a_token_revoked_meanwhile_fails_at_once(client, org):
    secret = token_for(org.agent)
    api = Api(client, secret)
    assert api.get("/cases").status_code == 200
    # As another process would: a plain UPDATE, nothing this process could have been told.
    db.session.execute(sa.update(ApiToken).values(revoked_at=utcnow()))
    db.session.commit()
    assert api.get("/cases").status_code == 401
    assert users.user_for_token(secret) is None


def test_user_for_token_keeps_its_rules(org):
    secret = token_for(org.agent)
    assert users.user_for_token(secret) == org.agent
    assert users.user_for_token(secret + "x") is None
    org.agent.active = False
    db.session.commit()
    assert users.user_for_token(secret) is None
