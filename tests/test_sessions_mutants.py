"""What the user loader accepts, exactly (the cases the mutation run of sessions.py found
untested): only ``<id>:<token>:<ASCII digits>:<nonce>`` of an active user with that token, no
older than REMEMBER_COOKIE_DURATION; and a renamed remember cookie still keeps this browser
signed in after the user's own new password."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from kontaktcenter.core.extensions import db
from kontaktcenter.organisation import sessions
from tests.factories import PASSWORD, csrf_token, post


def _login_id(user, signed_in_at: str | int | None = None, nonce: str = "abc123") -> str:
    at = int(time.time()) if signed_in_at is None else signed_in_at
    return f"{user.id}:{user.session_token}:{at}:{nonce}"


def test_a_well_formed_current_id_loads_its_user(org):
    assert sessions.load_user(_login_id(org.agent)) is org.agent


@pytest.mark.parametrize("login_id", [None, 42, b"1:token:1700000000:nonce"])
def test_an_id_that_is_not_text_is_refused(org, login_id):
    assert sessions.load_user(login_id) is None


def test_an_id_with_too_few_or_too_many_parts_is_refused(org):
    whole = _login_id(org.agent)
    assert sessions.load_user(whole.rsplit(":", 1)[0]) is None  # no nonce
    assert sessions.load_user(f"{whole}:extra") is None
    # Flask-Login's own id (<id>:<token>) is no sign-in either.
    assert sessions.load_user(org.agent.get_id()) is None


@pytest.mark.parametrize("signed_in_at", ["soon", "", "12ab", "-5"])
def test_a_time_that_is_not_digits_is_refused(org, signed_in_at):
    assert sessions.load_user(_login_id(org.agent, signed_in_at)) is None


def test_a_time_in_other_scripts_digits_is_refused(org):
    """int() reads Arabic-Indic digits too; a sign-in time is written in ASCII digits only."""
    now = str(int(time.time()))
    arabic = now.translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))
    assert int(arabic) == int(now)
    assert sessions.load_user(_login_id(org.agent, now)) is org.agent
    assert sessions.load_user(_login_id(org.agent, arabic)) is None
    assert sessions.load_user(_login_id(org.agent, arabic, nonce="ɴᴏɴᴄᴇ")) is None


def test_a_sign_in_exactly_as_old_as_the_duration_still_counts(org, monkeypatch):
    signed_in_at = 1_800_000_000
    duration = timedelta(days=14).total_seconds()
    monkeypatch.setattr(time, "time", lambda: signed_in_at + duration)
    assert sessions.load_user(_login_id(org.agent, signed_in_at)) is org.agent
    monkeypatch.setattr(time, "time", lambda: signed_in_at + duration + 1)
    assert sessions.load_user(_login_id(org.agent, signed_in_at)) is None


@pytest.mark.parametrize("user_id", ["abc", "0", "", "99999999999"])
def test_a_malformed_user_id_is_refused_without_a_lookup(org, user_id):
    # (pytest turns warnings into errors: a query for a NULL id would fail the test)
    token = org.agent.session_token
    assert sessions.load_user(f"{user_id}:{token}:{int(time.time())}:n") is None


def test_an_unknown_user_is_refused(org):
    token = org.agent.session_token
    assert sessions.load_user(f"987654:{token}:{int(time.time())}:n") is None


def test_a_deactivated_user_is_refused_even_with_the_current_token(org):
    login_id = _login_id(org.agent)
    org.agent.active = False  # as if deactivated without a new token
    db.session.commit()
    assert sessions.load_user(login_id) is None


def test_another_users_token_is_refused(org):
    login_id = f"{org.agent.id}:{org.manager.session_token}:{int(time.time())}:n"
    assert sessions.load_user(login_id) is None


def test_a_renamed_remember_cookie_keeps_this_browser_after_a_new_own_password(
    app, client, org, monkeypatch
):
    monkeypatch.setitem(app.config, "REMEMBER_COOKIE_NAME", "kom_ihag")
    here = app.test_client()
    data = {
        "email": org.admin.email,
        "password": PASSWORD,
        "remember": "y",
        "csrf_token": csrf_token(here),
    }
    assert here.post("/login", data=data).status_code == 302
    assert here.get_cookie("kom_ihag") is not None
    old = here.get_cookie("kom_ihag").value
    new = "ett-nytt-langt-losenord"
    response = post(
        here,
        f"/admin/anvandare/{org.admin.id}",
        {"name": org.admin.name, "role": "admin", "active": "y", "password": new},
    )
    assert response.status_code == 302
    renewed = here.get_cookie("kom_ihag")
    assert renewed is not None and renewed.value != old  # remembered again, with the new token
    # The remember cookie alone (a browser restarted) still signs the admin in.
    fresh = app.test_client()
    fresh.set_cookie("kom_ihag", renewed.value)
    assert fresh.get("/admin/").status_code == 200
