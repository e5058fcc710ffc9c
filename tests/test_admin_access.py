"""Only admins reach the administration, and every form there needs its CSRF token."""

import pytest
import sqlalchemy as sa

from kontaktcenter.core.extensions import db
from kontaktcenter.organisation import users
from kontaktcenter.organisation.models import ApiToken, Department, User
from tests.factories import post

NON_ADMINS = ["agent", "handler_bygg", "manager"]


def _routes(org, token_id: int) -> list[tuple[str, str]]:
    return [
        ("GET", "/admin/"),
        ("GET", "/admin/anvandare/"),
        ("GET", "/admin/anvandare/ny"),
        ("POST", "/admin/anvandare/ny"),
        ("GET", f"/admin/anvandare/{org.agent.id}"),
        ("POST", f"/admin/anvandare/{org.agent.id}"),
        ("POST", f"/admin/anvandare/{org.agent.id}/nycklar"),
        ("POST", f"/admin/anvandare/{org.agent.id}/nycklar/{token_id}/aterkalla"),
        ("POST", f"/admin/anvandare/{org.agent.id}/logga-ut"),
        ("GET", "/admin/misslyckade-inloggningar"),
        ("GET", "/admin/forvaltningar/"),
        ("GET", "/admin/forvaltningar/ny"),
        ("POST", "/admin/forvaltningar/ny"),
        ("GET", f"/admin/forvaltningar/{org.bygg.id}"),
        ("POST", f"/admin/forvaltningar/{org.bygg.id}"),
        ("GET", "/admin/arendetyper/"),
        ("GET", "/admin/arendetyper/ny"),
        ("POST", "/admin/arendetyper/ny"),
        ("GET", f"/admin/arendetyper/{org.bygglov.id}"),
        ("POST", f"/admin/arendetyper/{org.bygglov.id}"),
        ("GET", "/admin/driftstatus"),
        ("POST", "/admin/driftstatus/1/forsok-igen"),
        ("GET", "/admin/kommun"),
        ("POST", "/admin/kommun"),
    ]


def test_every_admin_endpoint_is_covered(app, org):
    """A new admin route must be added to the list above (and so to the 403 test)."""
    # Routes of the other admin modules are covered in test_admin_settings and test_admin_mail.
    admin_rules = [
        rule
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("admin.")
        and app.view_functions[rule.endpoint].__module__
        in ("kontaktcenter.organisation.admin_views", "kontaktcenter.core.admin")
    ]
    listed = {path.split("/")[2] for _method, path in _routes(org, 1)}
    registered = {rule.rule.split("/")[2] for rule in admin_rules}
    assert registered == listed
    assert len(admin_rules) == 17


@pytest.mark.parametrize("role", NON_ADMINS)
def test_non_admins_get_403_everywhere(client, org, login, role):
    token, secret = users.create_token(org.agent, "API")
    login(getattr(org, role))
    data = {
        "name": "Hackad",
        "email": "hack@kommun.example",
        "role": "admin",
        "password": "ett-langt-losenord",
        "active": "y",
        "purpose": "x",
        "department": str(org.bygg.id),
        "callback_promise_hours": "24",
    }
    for method, path in _routes(org, token.id):
        response = client.get(path) if method == "GET" else post(client, path, data)
        assert response.status_code == 403, (role, method, path)
        assert "Åtkomst nekad" in response.get_data(as_text=True)
    # Nothing changed.
    db.session.refresh(org.agent)
    assert org.agent.name == "Agnes Agent"
    assert users.user_for_token(secret) == org.agent
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ApiToken)) == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Department)) == 2


def test_anonymous_is_sent_to_login(client, org):
    for method, path in _routes(org, 1):
        response = client.get(path) if method == "GET" else post(client, path)
        assert response.status_code == 302, (method, path)
        assert "/login" in response.headers["Location"]


def test_post_without_csrf_token_is_refused(client, org, login):
    token, secret = users.create_token(org.agent, "API")
    login(org.admin)
    posts = [path for method, path in _routes(org, token.id) if method == "POST"]
    data = {
        "name": "Utan token",
        "email": "utan@kommun.example",
        "role": "agent",
        "password": "ett-langt-losenord",
        "purpose": "x",
        "department": str(org.bygg.id),
        "callback_promise_hours": "24",
        "active": "y",
    }
    for path in posts:
        response = client.post(path, data=data)
        assert response.status_code == 400, path
        assert "säkerhetstoken" in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(User).where(User.email == "utan@kommun.example")) is None
    assert users.user_for_token(secret) == org.agent
    db.session.refresh(org.bygg)
    assert org.bygg.name == "Stadsbyggnadskontoret"
