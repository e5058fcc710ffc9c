"""Administration of staff accounts and API tokens, through the browser forms as an admin."""

import re

import sqlalchemy as sa

from kontaktcenter.core.extensions import db
from kontaktcenter.core.roles import Role
from kontaktcenter.organisation import users
from kontaktcenter.organisation.models import ApiToken, User
from tests.factories import post


def _user(email: str) -> User | None:
    return db.session.scalars(sa.select(User).where(User.email == email)).first()


def test_user_list_shows_role_label_departments_and_status(client, org, login):
    login(org.admin)
    org.handler_miljo.active = False
    db.session.commit()
    html = client.get("/admin/anvandare/").get_data(as_text=True)
    assert "Hugo Bygg" in html and org.handler_bygg.email in html
    assert "Handläggare" in html and "Kommunvägledare" in html
    assert "Stadsbyggnadskontoret" in html
    assert "Inaktiv" in html  # status in words, not only a colour


def test_create_handler_with_departments(client, org, login):
    login(org.admin)
    response = post(
        client,
        "/admin/anvandare/ny",
        {
            "email": " Ny.Handlaggare@Kommun.example ",
            "name": "Nils Nilsson",
            "role": "handler",
            "departments": [str(org.bygg.id), str(org.miljo.id)],
            "password": "ett-langt-losenord",
        },
    )
    assert response.status_code == 302
    user = _user("ny.handlaggare@kommun.example")
    assert user is not None and user.role == Role.HANDLER
    assert user.department_ids == {org.bygg.id, org.miljo.id}
    assert users.authenticate("ny.handlaggare@kommun.example", "ett-langt-losenord") == user
    follow = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Användaren Nils Nilsson (ny.handlaggare@kommun.example) är skapad." in follow


def test_create_user_validation_is_swedish_and_saves_nothing(client, org, login):
    login(org.admin)
    before = db.session.scalar(sa.select(sa.func.count()).select_from(User))
    cases = [
        ({"email": "inte-en-adress"}, "Ange en giltig e-postadress."),
        ({"password": "kort"}, "Lösenordet måste ha minst 10 tecken."),
        ({"role": "handler", "departments": []}, "minst en förvaltning"),
        ({"email": org.agent.email}, "Det finns redan en användare med den e-postadressen."),
        ({"role": "superuser"}, "Välj ett av alternativen i listan."),
        ({"name": ""}, "Fyll i namn."),
    ]
    for change, message in cases:
        data = {
            "email": "ny@kommun.example",
            "name": "Ny Person",
            "role": "agent",
            "password": "ett-langt-losenord",
        }
        data.update(change)
        response = post(client, "/admin/anvandare/ny", data)
        html = response.get_data(as_text=True)
        assert response.status_code == 422, change
        assert message in html, change
        assert "Formuläret innehåller fel" in html
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == before


def test_edit_user_role_departments_active_and_password(client, org, login):
    login(org.admin)
    user = org.agent
    page = client.get(f"/admin/anvandare/{user.id}").get_data(as_text=True)
    assert 'value="Agnes Agent"' in page and user.email in page
    response = post(
        client,
        f"/admin/anvandare/{user.id}",
        {
            "name": "Agnes Handläggare",
            "role": "handler",
            "departments": [str(org.miljo.id)],
            "active": "y",
            "password": "nytt-langt-losenord",
        },
    )
    assert response.status_code == 302
    db.session.refresh(user)
    assert user.name == "Agnes Handläggare" and user.role == Role.HANDLER
    assert user.department_ids == {org.miljo.id}
    assert users.authenticate(user.email, "nytt-langt-losenord") == user

    # Unticking "active" deactivates; a blank password keeps the old one.
    response = post(
        client,
        f"/admin/anvandare/{user.id}",
        {"name": "Agnes Handläggare", "role": "handler", "departments": [str(org.miljo.id)]},
    )
    assert response.status_code == 302
    db.session.refresh(user)
    assert user.active is False
    assert users.authenticate(user.email, "nytt-langt-losenord") is None  # inactive


def test_edit_refusal_changes_nothing(client, org, login):
    login(org.admin)
    user = org.agent
    response = post(
        client,
        f"/admin/anvandare/{user.id}",
        {"name": "Nytt Namn", "role": "handler", "active": "y"},  # handler without department
    )
    assert response.status_code == 422
    assert "En handläggare måste höra till minst en förvaltning." in response.get_data(as_text=True)
    db.session.refresh(user)
    assert user.name == "Agnes Agent" and user.role == Role.AGENT


def test_admin_cannot_remove_own_admin_role_or_deactivate_self(client, org, login):
    login(org.admin)
    url = f"/admin/anvandare/{org.admin.id}"
    for data in (
        {"name": "Adam Admin", "role": "agent", "active": "y"},
        {"name": "Adam Admin", "role": "admin"},  # active unticked
    ):
        response = post(client, url, data)
        assert response.status_code == 422
        assert "Du kan inte ta bort din egen administratörsbehörighet." in response.get_data(
            as_text=True
        )
    db.session.refresh(org.admin)
    assert org.admin.role == Role.ADMIN and org.admin.active


def test_unknown_user_is_404(client, org, login):
    login(org.admin)
    assert client.get("/admin/anvandare/999999").status_code == 404


SECRET = re.compile(r"kc_[A-Za-z0-9_-]{20,}")


def test_token_is_shown_once_and_authenticates(client, org, login):
    login(org.admin)
    response = post(client, f"/admin/anvandare/{org.agent.id}/nycklar", {"purpose": "Telefoni"})
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    html = response.get_data(as_text=True)
    secret = SECRET.search(html).group(0)
    assert "visas bara den här gången" in html

    token = db.session.scalars(sa.select(ApiToken).where(ApiToken.user_id == org.agent.id)).one()
    assert token.name == "Telefoni" and secret.startswith(token.prefix)
    assert secret not in token.token_hash  # only the hash is stored
    assert users.user_for_token(secret) == org.agent

    page = client.get(f"/admin/anvandare/{org.agent.id}").get_data(as_text=True)
    assert token.prefix in page and "Telefoni" in page
    assert secret not in page and not SECRET.search(page)  # never shown again
    assert "Aktiv" in page


def test_token_needs_a_purpose(client, org, login):
    login(org.admin)
    response = post(client, f"/admin/anvandare/{org.agent.id}/nycklar", {"purpose": ""})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Beskriv vad nyckeln ska användas till." in html
    assert 'value="Agnes Agent"' in html  # the user's own form still shows the stored values
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ApiToken)) == 0


def test_revoke_token(client, org, login):
    login(org.admin)
    token, secret = users.create_token(org.agent, "E-postimport")
    response = post(client, f"/admin/anvandare/{org.agent.id}/nycklar/{token.id}/aterkalla")
    assert response.status_code == 302
    db.session.refresh(token)
    assert token.revoked_at is not None
    assert users.user_for_token(secret) is None
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert f"Nyckeln {token.prefix}… (E-postimport) är återkallad." in page
    assert "Återkallad" in page


def test_revoke_checks_that_the_token_belongs_to_the_user(client, org, login):
    login(org.admin)
    token, secret = users.create_token(org.agent, "API")
    response = post(client, f"/admin/anvandare/{org.manager.id}/nycklar/{token.id}/aterkalla")
    assert response.status_code == 404
    assert users.user_for_token(secret) == org.agent
