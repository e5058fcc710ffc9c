"""The flask commands, run through Flask's CLI runner inside the test transaction."""

import pytest
import sqlalchemy as sa

from kontaktcenter.core.extensions import db
from kontaktcenter.core.roles import Role
from kontaktcenter.organisation import users
from kontaktcenter.organisation.models import User


@pytest.fixture
def cli(app, db_session):
    return app.test_cli_runner()


def _user(email: str) -> User | None:
    return db.session.scalars(sa.select(User).where(User.email == email)).first()


def test_commands_are_registered(app):
    assert {"create-user", "create-token", "seed-demo", "worker"} <= set(app.cli.commands)


def test_create_user_reads_the_password_from_stdin(cli, org):
    result = cli.invoke(
        args=[
            "create-user",
            "Ny.Handlaggare@Kommun.example",
            "--role",
            "handler",
            "--name",
            "Nina Nyström",
            "--department",
            "miljo",  # by slug
            "--department",
            "Stadsbyggnadskontoret",  # by name
        ],
        input="ett-langt-losenord\n",
    )
    assert result.exit_code == 0, result.output
    assert "Created ny.handlaggare@kommun.example (handler)." in result.output
    user = _user("ny.handlaggare@kommun.example")
    assert user is not None and user.name == "Nina Nyström" and user.role == Role.HANDLER
    assert user.department_ids == {org.miljo.id, org.bygg.id}
    assert users.authenticate("ny.handlaggare@kommun.example", "ett-langt-losenord") == user


def test_create_user_unknown_department(cli, org):
    result = cli.invoke(
        args=["create-user", "x@kommun.example", "--role", "handler", "--department", "Okänd"],
        input="ett-langt-losenord\n",
    )
    assert result.exit_code == 1
    assert "No department named 'Okänd'." in result.output
    assert _user("x@kommun.example") is None


def test_create_user_reports_service_errors(cli, org):
    result = cli.invoke(args=["create-user", "x@kommun.example", "--role", "agent"], input="kort\n")
    assert result.exit_code == 1
    assert "Lösenordet måste ha minst 10 tecken." in result.output
    result = cli.invoke(
        args=["create-user", org.agent.email, "--role", "agent"], input="ett-langt-losenord\n"
    )
    assert result.exit_code == 1
    assert "Det finns redan en användare med den e-postadressen." in result.output
    result = cli.invoke(args=["create-user", "x@kommun.example", "--role", "boss"], input="x\n")
    assert result.exit_code == 2  # click's usage error for a bad --role


def test_create_token_prints_a_token_that_authenticates(cli, org):
    result = cli.invoke(args=["create-token", org.agent.email.upper(), "--name", "Telefoni"])
    assert result.exit_code == 0, result.output
    secret = result.output.strip()
    assert secret.startswith("kc_")
    assert users.user_for_token(secret) == org.agent
    assert users.user_for_token(secret + "x") is None


def test_create_token_unknown_user(cli, org):
    result = cli.invoke(args=["create-token", "ingen@kommun.example"])
    assert result.exit_code == 1
    assert "No user 'ingen@kommun.example'." in result.output
