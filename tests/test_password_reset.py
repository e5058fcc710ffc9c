"""Forgotten passwords: a one-time link by e-mail, built from PUBLIC_URL, never revealing
whether an address has an account."""

from __future__ import annotations

import email
import re
from pathlib import Path

import pytest
import sqlalchemy as sa

from kontaktcenter.core.audit import AuditEvent
from kontaktcenter.core.extensions import db
from kontaktcenter.organisation import password_reset
from tests.factories import csrf_token

PUBLIC = "https://kontaktcenter.exempelby.se"
NEW = "ett-nytt-langt-losenord"


@pytest.fixture
def public_url(app):
    app.config["PUBLIC_URL"] = PUBLIC
    yield
    app.config["PUBLIC_URL"] = None


def _ask(client, address: str, **kwargs):
    token = csrf_token(client)  # the session's token (the login page always has a form)
    return client.post("/glomt-losenord", data={"email": address, "csrf_token": token}, **kwargs)


def _mails(outbox: Path) -> list[email.message.Message]:
    return [email.message_from_bytes(p.read_bytes()) for p in sorted(outbox.glob("*.eml"))]


def _link(message: email.message.Message) -> str:
    body = message.get_payload(decode=True).decode()
    match = re.search(r"https://\S+", body)
    assert match, body
    return match.group()


def test_a_link_is_mailed_and_sets_a_new_password_once(org, client, outbox, public_url):
    user = org.handler_bygg
    response = _ask(client, user.email.upper())
    assert response.status_code == 200
    assert "Om adressen hör till ett konto" in response.get_data(as_text=True)
    [mail] = _mails(outbox)
    assert mail["To"] == user.email
    link = _link(mail)
    # Built from PUBLIC_URL, not from the request (the test client's host is localhost).
    assert link.startswith(f"{PUBLIC}/aterstall-losenord/")
    path = link.removeprefix(PUBLIC)

    form = client.get(path)
    assert form.status_code == 200 and "Välj nytt lösenord" in form.get_data(as_text=True)
    token = csrf_token(client, path)
    mismatch = client.post(path, data={"password": NEW, "repeat": "annat", "csrf_token": token})
    assert mismatch.status_code == 422 and "Lösenorden är inte lika." in mismatch.get_data(
        as_text=True
    )
    short = client.post(path, data={"password": "kort", "repeat": "kort", "csrf_token": token})
    assert short.status_code == 422 and "minst 10 tecken" in short.get_data(as_text=True)
    done = client.post(path, data={"password": NEW, "repeat": NEW, "csrf_token": token})
    assert done.status_code == 302 and done.headers["Location"].endswith("/login")

    login = client.post(
        "/login", data={"email": user.email, "password": NEW, "csrf_token": csrf_token(client)}
    )
    assert login.status_code == 302
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    again = client.get(path)
    assert again.status_code == 410 and "redan använts" in again.get_data(as_text=True)
    actions = db.session.scalars(
        sa.select(AuditEvent.action).where(AuditEvent.user_id == user.id).order_by(AuditEvent.id)
    ).all()
    assert actions == ["password_reset_requested", "password_reset"]


def test_unknown_and_inactive_addresses_get_the_same_answer_and_no_mail(
    org, client, outbox, public_url
):
    known = _ask(client, org.agent.email).get_data(as_text=True)
    org.manager.active = False
    db.session.commit()
    for address in ("ingen@kommun.example", org.manager.email):
        answer = _ask(client, address).get_data(as_text=True)
        assert "Om adressen hör till ett konto" in answer
        assert answer.count("<p") == known.count("<p")
    assert [m["To"] for m in _mails(outbox)] == [org.agent.email]


def test_one_mail_per_account_per_interval(org, client, outbox, public_url):
    for _ in range(3):
        assert _ask(client, org.agent.email).status_code == 200
    assert len(_mails(outbox)) == 1


def test_an_old_or_forged_link_is_refused(org, client, outbox, public_url, monkeypatch):
    _ask(client, org.agent.email)
    path = _link(_mails(outbox)[0]).removeprefix(PUBLIC)
    monkeypatch.setattr(password_reset, "MAX_AGE", -1)
    assert client.get(path).status_code == 410
    monkeypatch.undo()
    assert client.get(path + "x").status_code == 410
    assert client.get("/aterstall-losenord/inte-en-token").status_code == 410


def test_without_a_public_url_people_are_sent_to_an_administrator(org, client, outbox):
    page = client.get("/glomt-losenord").get_data(as_text=True)
    assert "Kontakta en administratör" in page
    _ask(client, org.agent.email)
    assert _mails(outbox) == []


def test_the_login_page_links_to_it(client):
    html = client.get("/login").get_data(as_text=True)
    assert 'href="/glomt-losenord"' in html


def test_opening_a_link_logs_nobody_out(org, client, login, public_url):
    login(org.agent)
    assert client.get("/aterstall-losenord/inte-en-token").status_code == 410
    assert client.get("/ko/").status_code == 200  # still logged in
