"""`flask calls …`: the integration user and its token, allowing a user, mapping agent ids."""

from __future__ import annotations

import pytest

from kontaktcenter.channels.phone import integration
from kontaktcenter.channels.phone.models import CallAgent
from kontaktcenter.core.extensions import db
from kontaktcenter.organisation import users


@pytest.fixture
def cli(app, db_session):
    return app.test_cli_runner()


def test_create_integration_prints_a_token_that_may_post_events(cli, org):
    result = cli.invoke(args=["calls", "create-integration", "vaxel@kommun.example"])
    assert result.exit_code == 0, result.output
    secret = result.output.strip().splitlines()[-1]
    user = users.user_for_token(secret)
    assert user is not None and user.email == "vaxel@kommun.example"
    assert integration.is_integration_user(user)


def test_allow_user_lets_an_existing_users_tokens_post(cli, org):
    assert not integration.is_integration_user(org.manager)
    result = cli.invoke(args=["calls", "allow-user", org.manager.email])
    assert result.exit_code == 0, result.output
    assert integration.is_integration_user(org.manager)


def test_map_agent_names_the_user_and_can_be_changed(cli, org):
    assert cli.invoke(args=["calls", "map-agent", "4711", org.agent.email]).exit_code == 0
    assert integration.agent_for(None, "4711") == org.agent
    assert cli.invoke(args=["calls", "map-agent", "4711", org.admin.email]).exit_code == 0
    assert db.session.get(CallAgent, "4711").user_id == org.admin.id


def test_an_unknown_user_is_an_error(cli, org):
    result = cli.invoke(args=["calls", "map-agent", "4711", "vem@kommun.example"])
    assert result.exit_code != 0 and "No user" in result.output
