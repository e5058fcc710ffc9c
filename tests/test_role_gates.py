"""core/auth.py and core/roles.py: the login gate in front of every page, the role gate at each
route, and the menu's reading of it. The page matrix is in test_authorization.py; these pin
the gate's own rules (written against the mutants scripts/mutation found alive)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask, get_flashed_messages
from flask_login import login_user
from werkzeug.exceptions import Forbidden

from kontaktcenter import create_app
from kontaktcenter.core.auth import ROLES_ATTRIBUTE, role_required, roles_for
from kontaktcenter.core.config import TestConfig
from kontaktcenter.core.extensions import login_manager
from kontaktcenter.core.roles import Role


def _next_of(location: str) -> str:
    url = urlsplit(location)
    assert url.path == "/login", location
    return parse_qs(url.query)["next"][0]


@pytest.fixture
def fresh_app(tmp_path) -> Flask:
    """An app made by this test (so scripts/mutation sees init_app run inside it): what an
    anonymous visitor meets needs no tables."""
    return create_app(
        TestConfig,
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'gate.db'}",
            "INSTANCE_DIR": str(tmp_path),
        },
    )


@pytest.mark.parametrize(
    ("path", "expected_next"),
    [("/ko/", "/ko/"), ("/ko/?channel=email&department=kc", "/ko/?channel=email&department=kc")],
)
def test_anonymous_visitors_go_to_login_and_come_back_where_they_were(
    fresh_app, path, expected_next
):
    response = fresh_app.test_client().get(path)
    assert response.status_code == 302
    assert _next_of(response.headers["Location"]) == expected_next  # no stray "?"


def test_what_anonymous_visitors_may_reach(fresh_app, client):
    anonymous = fresh_app.test_client()
    favicon = anonymous.get("/favicon.ico")
    assert favicon.status_code == 301 and favicon.headers["Location"] == "/static/favicon.svg"
    with anonymous.get("/static/favicon.svg") as static:
        assert static.status_code == 200
    # The API answers for itself (a token, never a login page).
    api = anonymous.get("/api/v1/cases")
    assert api.status_code == 401 and api.is_json
    assert anonymous.get("/api/v1/openapi.json").status_code == 200
    # An address that is no page is a 404 for anyone, not a login form.
    missing = anonymous.get("/ingen-sida-har")
    assert missing.status_code == 404 and "Sidan finns inte" in missing.get_data(as_text=True)
    # The login pages themselves (they read the database: the suite's app has the tables).
    assert client.get("/login").status_code == 200
    assert client.get("/glomt-losenord").status_code == 200


def test_the_login_manager_is_configured_for_swedish_users(fresh_app):
    assert login_manager.login_view == "auth.login"
    assert login_manager.login_message == "Logga in för att fortsätta."
    assert login_manager.login_message_category == "info"
    assert login_manager.session_protection == "strong"


@pytest.mark.usefixtures("db_session")
def test_a_role_gate_alone_still_asks_for_a_login(app: Flask):
    """Defence in depth: a view reached without the login check (a public endpoint by mistake)
    is still refused to an anonymous visitor, with the Swedish message."""

    @role_required(Role.MANAGER)
    def board() -> str:
        return "tavlan"

    with app.test_request_context("/tavla"):
        response = board()
        assert response.status_code == 302
        assert urlsplit(response.headers["Location"]).path == "/login"
        assert get_flashed_messages(with_categories=True) == [
            ("info", "Logga in för att fortsätta.")
        ]


def test_a_role_gate_lets_in_its_roles_and_admins_and_says_so(app, org):
    @role_required(Role.MANAGER)
    def board() -> str:
        """The board."""
        return "tavlan"

    assert getattr(board, ROLES_ATTRIBUTE) == {Role.MANAGER, Role.ADMIN}  # what the menu reads
    assert board.__name__ == "board" and board.__doc__ == "The board."
    for user in (org.manager, org.admin, org.agent, org.handler_bygg):
        with app.test_request_context("/tavla"):
            login_user(user)
            if user.role in (Role.MANAGER, Role.ADMIN):
                assert board() == "tavlan"
            else:
                with pytest.raises(Forbidden):
                    board()


def test_roles_for_reads_the_gate_of_each_view(app):
    with app.app_context():
        assert roles_for("queue.index") == {Role.AGENT, Role.MANAGER, Role.ADMIN}
        assert roles_for("admin.index") == {Role.ADMIN}
        assert roles_for("auth.home") == frozenset(Role)  # a login is all it needs
        with pytest.raises(LookupError, match="no_such"):
            roles_for("no_such.view")


def test_each_role_has_its_swedish_name():
    assert {role: role.label for role in Role} == {
        Role.AGENT: "Kommunvägledare",
        Role.HANDLER: "Handläggare",
        Role.MANAGER: "Chef",
        Role.ADMIN: "Administratör",
    }
    assert [role.value for role in Role] == ["agent", "handler", "manager", "admin"]
