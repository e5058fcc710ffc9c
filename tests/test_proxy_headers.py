"""Behind a TLS-terminating proxy: with KONTAKTCENTER_TRUSTED_PROXIES the client address, HTTPS
and the host come from the proxy's X-Forwarded-* headers (and only the hops trusted); HSTS on
secure responses; no page, download or API answer with personal data is kept in a cache."""

from __future__ import annotations

import io

import pytest
import sqlalchemy as sa
from flask import jsonify, request, url_for
from PIL import Image

from kontaktcenter import create_app
from kontaktcenter.core.config import TestConfig
from kontaktcenter.core.extensions import db
from kontaktcenter.organisation import branding
from kontaktcenter.organisation.models import LoginFailure
from tests.api_client import api_as
from tests.factories import PASSWORD, csrf_token, make_case

HSTS = "Strict-Transport-Security"
FORWARDED = {
    "X-Forwarded-For": "198.51.100.66, 203.0.113.9",  # what the client claimed, then the proxy
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": "kontaktcenter.exempelby.se",
    "X-Forwarded-Port": "443",
}


def _fail_login(browser, email: str, **kwargs):
    data = {"email": email, "password": "fel-losenord", "csrf_token": csrf_token(browser)}
    return browser.post("/login", data=data, **kwargs)


def _failure_addresses(email: str) -> list[str]:
    return db.session.scalars(
        sa.select(LoginFailure.address).where(LoginFailure.account == email)
    ).all()


def test_without_trusted_proxies_forwarded_headers_are_ignored(app, client, org):
    assert app.config["TRUSTED_PROXIES"] == 0
    response = _fail_login(client, org.agent.email, headers=FORWARDED)
    assert response.status_code == 422
    assert _failure_addresses(org.agent.email) == ["127.0.0.1"]
    assert HSTS not in response.headers
    assert all("Secure" not in c for c in response.headers.getlist("Set-Cookie"))


@pytest.fixture
def proxied(app, client, database_url, monkeypatch):
    """The app as production runs it behind one proxy (set the way an operator does)."""
    monkeypatch.setenv("KONTAKTCENTER_TRUSTED_PROXIES", "1")
    behind = create_app(TestConfig, {"SQLALCHEMY_DATABASE_URI": database_url})

    @behind.get("/_test/where")
    def where():
        return jsonify(
            remote_addr=request.remote_addr,
            secure=request.is_secure,
            queue=url_for("queue.index", _external=True),
        )

    yield behind
    with behind.app_context():
        db.engine.dispose()


def test_one_trusted_proxy_gives_the_client_address_https_and_host(proxied, org):
    assert proxied.config["TRUSTED_PROXIES"] == 1
    browser = proxied.test_client()
    browser.environ_base["REMOTE_ADDR"] = "10.0.0.2"  # the proxy
    # Over HTTPS Flask-WTF checks that the Referer is this host, which the app only knows
    # from X-Forwarded-Host: without it no form could be sent through the proxy.
    page = "https://kontaktcenter.exempelby.se/login"
    failed = _fail_login(browser, org.agent.email, headers={**FORWARDED, "Referer": page})
    assert failed.status_code == 422
    # Only the hop the proxy added is believed, not what the client put before it.
    assert _failure_addresses(org.agent.email) == ["203.0.113.9"]
    assert failed.headers[HSTS] == "max-age=31536000; includeSubDomains"
    cookies = failed.headers.getlist("Set-Cookie")
    assert cookies and all("; Secure" in c for c in cookies)

    data = {"email": org.agent.email, "password": PASSWORD, "csrf_token": csrf_token(browser)}
    signed_in = browser.post("/login", data=data, headers={**FORWARDED, "Referer": page})
    assert signed_in.status_code == 302, signed_in.get_data(as_text=True)
    where = browser.get("/_test/where", headers=FORWARDED).get_json()
    assert where == {
        "remote_addr": "203.0.113.9",
        "secure": True,
        "queue": "https://kontaktcenter.exempelby.se/ko/",
    }


@pytest.mark.parametrize("value", ["abc", "-1", "true", "1.5"])
def test_a_wrong_number_of_proxies_refuses_to_start(database_url, monkeypatch, value):
    monkeypatch.setenv("KONTAKTCENTER_TRUSTED_PROXIES", value)
    with pytest.raises(RuntimeError, match="KONTAKTCENTER_TRUSTED_PROXIES"):
        create_app(TestConfig, {"SQLALCHEMY_DATABASE_URI": database_url})


def test_hsts_only_over_https(app, client):
    assert HSTS not in client.get("/login").headers
    secure = client.get("/login", base_url="https://localhost")
    assert secure.headers[HSTS] == "max-age=31536000; includeSubDomains"
    app.config["HSTS_SECONDS"] = 0
    try:
        assert HSTS not in client.get("/login", base_url="https://localhost").headers
    finally:
        app.config["HSTS_SECONDS"] = TestConfig.HSTS_SECONDS


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 20), (0, 90, 160)).save(out, format="PNG")
    return out.getvalue()


def test_nothing_with_personal_data_is_cached(app, client, org, login):
    case = make_case(org.agent, org.bygglov)
    branding.save("Exempelby kommun", _png(), remove_logo=False)
    logo = f"/kommun/logotyp.png?v={branding.current().logo_etag}"

    login(org.manager)
    private = [
        "/ko/",
        f"/arenden/{case.id}",
        "/rapporter/?format=csv",  # a download
        "/rapporter/",
        "/sok/?q=bygglov",
        "/arenden/999999",  # a 404 for a signed-in user, too
    ]
    for path in private:
        response = client.get(path)
        assert response.status_code in (200, 404), (path, response.status_code)
        assert response.headers["Cache-Control"] == "no-store", path
    api = api_as(client, org.manager).get("/cases")
    assert api.status_code == 200 and api.headers["Cache-Control"] == "no-store"

    # Public and the same for everyone: cacheable.
    for path in ("/static/app.css", logo):
        with client.get(path) as response:
            assert response.status_code == 200, path
            assert "no-store" not in response.headers.get("Cache-Control", ""), path
    assert client.get(logo).headers["Cache-Control"] == "public, max-age=86400"
