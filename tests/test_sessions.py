"""Sessions end when they should: a copied session or remember cookie, replayed by another
browser (a second test client), is worth nothing after logout, a new password (own, an admin's,
a reset link), a deactivation or an admin's "Logga ut överallt"; a sign-in lasts at most
REMEMBER_COOKIE_DURATION; every sign-in gets a new remember cookie and a new CSRF token."""

from __future__ import annotations

import email
import re
import time
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from kontaktcenter.core.audit import AuditEvent
from kontaktcenter.core.extensions import db
from tests.factories import PASSWORD, csrf_token, post

SESSION, REMEMBER = "session", "remember_token"
NEW = "ett-nytt-langt-losenord"


def _sign_in(app, user, *, remember: bool = True, password: str = PASSWORD, **kwargs):
    """A browser of its own that signs `user` in."""
    browser = app.test_client(**kwargs)
    data = {"email": user.email, "password": password, "csrf_token": csrf_token(browser)}
    if remember:
        data["remember"] = "y"
    response = browser.post("/login", data=data)
    assert response.status_code == 302, response.get_data(as_text=True)
    return browser


def _cookies(browser) -> dict[str, str]:
    found = {name: browser.get_cookie(name) for name in (SESSION, REMEMBER)}
    return {name: cookie.value for name, cookie in found.items() if cookie is not None}


def _replay(app, cookies: dict[str, str], page: str):
    """Another browser sending copied cookies: the status of `page` (200 signed in, 302 to the
    login page when the cookies are worth nothing)."""
    thief = app.test_client()
    for name, value in cookies.items():
        thief.set_cookie(name, value)
    return thief.get(page)


def _signed_in(app, cookies: dict[str, str], page: str = "/ko/") -> bool:
    response = _replay(app, cookies, page)
    if response.status_code == 302:
        assert response.headers["Location"].startswith("/login"), response.headers["Location"]
        return False
    assert response.status_code == 200, response.status_code
    return True


def _each_alone(cookies: dict[str, str]) -> list[dict[str, str]]:
    """The session cookie alone and the remember cookie alone: each must be checked."""
    assert set(cookies) == {SESSION, REMEMBER}
    return [{SESSION: cookies[SESSION]}, {REMEMBER: cookies[REMEMBER]}]


def _all_valid(app, cookies: dict[str, str], page: str = "/ko/") -> bool:
    return all(_signed_in(app, one, page) for one in _each_alone(cookies))


def _none_valid(app, cookies: dict[str, str], page: str = "/ko/") -> bool:
    return not any(_signed_in(app, one, page) for one in _each_alone(cookies))


def test_logout_ends_every_session_and_remember_cookie_of_the_user(app, client, org):
    laptop = _sign_in(app, org.agent)
    stolen = _cookies(laptop)
    phone = _sign_in(app, org.agent)
    on_phone = _cookies(phone)
    assert _all_valid(app, stolen) and _all_valid(app, on_phone)  # copies work until logout

    out = laptop.post("/logout", data={"csrf_token": csrf_token(laptop, "/")})
    assert out.status_code == 302
    assert _none_valid(app, stolen)
    assert _none_valid(app, on_phone)  # logging out ends the user's other sessions too
    assert laptop.get("/ko/").status_code == 302
    # The browser is told to forget the remember cookie.
    assert any(header.startswith(f"{REMEMBER}=;") for header in out.headers.getlist("Set-Cookie"))
    assert _sign_in(app, org.agent).get("/ko/").status_code == 200  # and signing in works


def test_logging_out_one_user_leaves_the_others_signed_in(app, client, org):
    agent = _cookies(_sign_in(app, org.agent))
    other = _sign_in(app, org.manager)
    other.post("/logout", data={"csrf_token": csrf_token(other, "/")})
    assert _all_valid(app, agent)


def test_an_admins_new_password_ends_the_users_sessions(app, client, org, login):
    stolen = _cookies(_sign_in(app, org.agent))
    login(org.admin)
    response = post(
        client,
        f"/admin/anvandare/{org.agent.id}",
        {"name": org.agent.name, "role": "agent", "active": "y", "password": NEW},
    )
    assert response.status_code == 302
    assert _none_valid(app, stolen)
    assert _sign_in(app, org.agent, password=NEW).get("/ko/").status_code == 200


def test_saving_a_user_without_a_new_password_keeps_their_sessions(app, client, org, login):
    kept = _cookies(_sign_in(app, org.agent))
    login(org.admin)
    response = post(
        client,
        f"/admin/anvandare/{org.agent.id}",
        {"name": "Agnes Omdöpt", "role": "agent", "active": "y", "password": ""},
    )
    assert response.status_code == 302
    assert _all_valid(app, kept)


def test_a_deactivated_user_stays_signed_out_when_reactivated(app, client, org, login):
    stolen = _cookies(_sign_in(app, org.agent))
    login(org.admin)
    url = f"/admin/anvandare/{org.agent.id}"
    assert post(client, url, {"name": org.agent.name, "role": "agent"}).status_code == 302
    assert _none_valid(app, stolen)
    back = post(client, url, {"name": org.agent.name, "role": "agent", "active": "y"})
    assert back.status_code == 302
    assert _none_valid(app, stolen)  # the old cookies did not come back to life


def test_an_admins_own_new_password_keeps_this_browser_and_ends_the_others(app, client, org):
    here = _sign_in(app, org.admin)
    elsewhere = _cookies(_sign_in(app, org.admin))
    response = post(
        here,
        f"/admin/anvandare/{org.admin.id}",
        {"name": org.admin.name, "role": "admin", "active": "y", "password": NEW},
    )
    assert response.status_code == 302
    assert here.get("/admin/").status_code == 200
    assert _all_valid(app, _cookies(here), "/admin/")  # still remembered here
    assert _none_valid(app, elsewhere, "/admin/")


def test_log_out_everywhere(app, client, org, login):
    stolen = _cookies(_sign_in(app, org.handler_bygg))
    assert _all_valid(app, stolen, "/inkorg/")
    login(org.admin)
    page = client.get(f"/admin/anvandare/{org.handler_bygg.id}").get_data(as_text=True)
    assert "Logga ut överallt" in page
    url = f"/admin/anvandare/{org.handler_bygg.id}/logga-ut"
    assert client.post(url).status_code == 400  # a form of ours (CSRF), never a link
    assert _all_valid(app, stolen, "/inkorg/")
    response = post(client, url)
    assert response.status_code == 302
    assert f"{org.handler_bygg.name} är utloggad överallt." in client.get(
        response.headers["Location"]
    ).get_data(as_text=True)
    assert _none_valid(app, stolen, "/inkorg/")
    assert client.get("/admin/").status_code == 200  # the admin is still signed in
    audit = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "sessions_ended")
    ).one()
    assert audit.user_id == org.admin.id and audit.detail == {"user_id": org.handler_bygg.id}


def test_only_admins_can_log_others_out(app, client, org, login):
    kept = _cookies(_sign_in(app, org.agent))
    login(org.manager)
    response = post(client, f"/admin/anvandare/{org.agent.id}/logga-ut")
    assert response.status_code == 403
    assert _all_valid(app, kept)


@pytest.fixture
def public_url(app):
    app.config["PUBLIC_URL"] = "https://kontaktcenter.exempelby.se"
    yield app.config["PUBLIC_URL"]
    app.config["PUBLIC_URL"] = None


def test_a_password_reset_by_mail_ends_every_session(app, client, org, outbox: Path, public_url):
    stolen = _cookies(_sign_in(app, org.agent))
    asked = client.post(
        "/glomt-losenord", data={"email": org.agent.email, "csrf_token": csrf_token(client)}
    )
    assert asked.status_code == 200
    [mail] = [email.message_from_bytes(p.read_bytes()) for p in outbox.glob("*.eml")]
    link = re.search(r"https://\S+", mail.get_payload(decode=True).decode()).group()
    path = link.removeprefix(public_url)
    token = csrf_token(client, path)
    done = client.post(path, data={"password": NEW, "repeat": NEW, "csrf_token": token})
    assert done.status_code == 302
    assert _none_valid(app, stolen)


class _Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def test_a_sign_in_lasts_at_most_the_remember_duration(app, client, org, monkeypatch):
    assert app.config["REMEMBER_COOKIE_DURATION"] == timedelta(days=14)
    cookies = _cookies(_sign_in(app, org.agent))
    clock = _Clock()
    monkeypatch.setattr(time, "time", clock)
    clock.now += timedelta(days=14).total_seconds() - 60
    assert _all_valid(app, cookies)
    clock.now += 120  # whatever expiry a copied cookie claims, the server says no
    assert _none_valid(app, cookies)


def test_the_duration_can_be_set_in_seconds(app, client, org, monkeypatch):
    """KONTAKTCENTER_REMEMBER_COOKIE_DURATION=3600 (the environment gives an int)."""
    monkeypatch.setitem(app.config, "REMEMBER_COOKIE_DURATION", 3600)
    cookies = _cookies(_sign_in(app, org.agent))
    clock = _Clock()
    monkeypatch.setattr(time, "time", clock)
    clock.now += 3500
    assert _all_valid(app, cookies)
    clock.now += 200
    assert _none_valid(app, cookies)


def test_every_sign_in_gets_a_new_remember_cookie(app, client, org):
    first = _cookies(_sign_in(app, org.agent))
    second = _cookies(_sign_in(app, org.agent))
    assert first[REMEMBER] != second[REMEMBER]
    assert first[SESSION] != second[SESSION]
    assert _all_valid(app, first) and _all_valid(app, second)  # one browser does not end another


def test_cookies_are_httponly_samesite_lax_and_secure_over_https(app, client, org):
    def set_cookies(base_url: str) -> dict[str, str]:
        browser = app.test_client()
        page = browser.get("/login", base_url=base_url).get_data(as_text=True)
        data = {
            "email": org.agent.email,
            "password": PASSWORD,
            "remember": "y",
            "csrf_token": re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1),
        }
        referer = {"Referer": f"{base_url}/login"}  # Flask-WTF checks it over HTTPS
        response = browser.post("/login", data=data, base_url=base_url, headers=referer)
        assert response.status_code == 302
        return {h.split("=", 1)[0]: h for h in response.headers.getlist("Set-Cookie")}

    plain = set_cookies("http://localhost")
    assert set(plain) == {SESSION, REMEMBER}
    for header in plain.values():
        assert "; HttpOnly" in header and "; SameSite=Lax" in header
        assert "; Secure" not in header  # tests run over http with SESSION_COOKIE_SECURE off
    expires = re.search(r"Expires=([^;]+)", plain[REMEMBER]).group(1)
    left = email.utils.parsedate_to_datetime(expires).timestamp() - time.time()
    assert timedelta(days=13, hours=23).total_seconds() < left <= timedelta(days=14).total_seconds()

    secure = set_cookies("https://localhost")
    assert set(secure) == {SESSION, REMEMBER}
    for header in secure.values():
        assert "; Secure" in header and "; SameSite=Lax" in header and "; HttpOnly" in header


def test_the_csrf_token_is_new_after_signing_in(app, client, org):
    before = csrf_token(client)
    data = {"email": org.agent.email, "password": PASSWORD, "csrf_token": before}
    assert client.post("/login", data=data).status_code == 302
    after = csrf_token(client, "/ko/")
    assert after != before
    # A token seen (or planted) before the sign-in is refused afterwards.
    refused = client.post("/logout", data={"csrf_token": before})
    assert refused.status_code == 400
    assert client.get("/ko/").status_code == 200  # not logged out by it
    assert client.post("/logout", data={"csrf_token": after}).status_code == 302


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/ko/",
        "//evil.example/ko/",
        "http:/evil.example",
        "javascript:alert(1)",
        "ko/",
    ],
)
def test_login_never_redirects_elsewhere(app, client, org, target):
    data = {"email": org.agent.email, "password": PASSWORD, "csrf_token": csrf_token(client)}
    response = client.post("/login", query_string={"next": target}, data=data)
    assert response.status_code == 302
    assert response.headers["Location"] == "/ko/"


def test_login_returns_to_the_page_asked_for(app, client, org):
    asked = client.get("/sok/?q=bygglov")
    assert asked.status_code == 302
    login_page = asked.headers["Location"]
    assert login_page.startswith("/login?next=")
    data = {"email": org.agent.email, "password": PASSWORD, "csrf_token": csrf_token(client)}
    response = client.post(login_page, data=data)
    assert response.headers["Location"] == "/sok/?q=bygglov"
