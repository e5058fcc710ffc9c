"""Signing in is throttled, not locked: per account and client address (15-minute window), per
account from strangers' addresses, per address across accounts; unknown and known accounts are
answered alike; guesses from elsewhere never keep the right password out where the user works;
failed sign-ins are shown to admins. These tests run with the production limits."""

from __future__ import annotations

import logging
import re
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa
from werkzeug.security import generate_password_hash

from kontaktcenter import create_app
from kontaktcenter.core.config import Config, TestConfig
from kontaktcenter.core.extensions import db, limiter, utcnow
from kontaktcenter.organisation import login_throttle, users
from kontaktcenter.organisation.models import LoginAddress, LoginFailure
from tests.conftest import RUN_ID, redis_url
from tests.factories import PASSWORD, csrf_token

SETTINGS = (
    "LOGIN_LIMIT_ACCOUNT_ADDRESS",
    "LOGIN_LIMIT_ACCOUNT",
    "LOGIN_LIMIT_ADDRESS",
    "LOGIN_LIMIT_ACCOUNT_ADDRESS_STRICT",
)
WRONG = "fel-losenord-1"
ERROR = re.compile(r'<p class="error"[^>]*>([^<]+)</p>')


@pytest.fixture
def real_limits(app, client):
    """The production limits (the test config keeps them out of other tests' way), counted
    from zero."""
    saved = {name: app.config[name] for name in SETTINGS}
    app.config.update({name: getattr(Config, name) for name in SETTINGS})
    limiter().reset()
    yield
    app.config.update(saved)
    limiter().reset()


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def _browser(app, address: str):
    browser = app.test_client()
    browser.environ_base["REMOTE_ADDR"] = address
    return browser


def _attempt(app, address: str, email: str, password: str):
    browser = _browser(app, address)
    data = {"email": email, "password": password, "csrf_token": csrf_token(browser)}
    return browser.post("/login", data=data)


def _error(response) -> str:
    return ERROR.search(response.get_data(as_text=True)).group(1)


def test_the_production_limits():
    assert Config.LOGIN_LIMIT_ACCOUNT_ADDRESS == "10 per 15 minutes"
    assert Config.LOGIN_LIMIT_ACCOUNT == "30 per hour"
    assert Config.LOGIN_LIMIT_ADDRESS == "100 per hour"
    assert Config.LOGIN_LIMIT_ACCOUNT_ADDRESS_STRICT == "3 per 15 minutes"


def test_known_unknown_and_deactivated_accounts_get_the_same_answers(app, org, real_limits):
    org.manager.active = False
    db.session.commit()
    cases = [  # (address, account, the password tried)
        ("10.20.0.1", org.agent.email, WRONG),
        ("10.20.0.2", "ingen.alls@kommun.example", WRONG),
        ("10.20.0.3", org.manager.email, PASSWORD),  # the right one, but deactivated
    ]
    answers = []
    for address, email, password in cases:
        wrong = [_attempt(app, address, email, password) for _ in range(10)]
        assert {r.status_code for r in wrong} == {422}
        assert {_error(r) for r in wrong} == {"Fel e-postadress eller lösenord."}
        refused = _attempt(app, address, email, password)
        answers.append((refused.status_code, _error(refused), refused.headers["Retry-After"]))
    # The same status and words; the wait differs by the seconds the test took.
    assert {answer[:2] for answer in answers} == {answers[0][:2]}
    status, message, _ = answers[0]
    assert (
        status == 429
        and message == "För många inloggningsförsök. Vänta 15 minuter och försök igen."
    )
    assert all(880 <= int(retry_after) <= 900 for *_, retry_after in answers)


def test_unknown_accounts_cost_a_password_hash_too(app, org, real_limits, monkeypatch):
    checked: list[str] = []
    real = users.check_password_hash

    def spy(stored: str, password: str) -> bool:
        checked.append(stored)
        return real(stored, password)

    monkeypatch.setattr(users, "check_password_hash", spy)
    assert _attempt(app, "10.21.0.1", "ingen.alls@kommun.example", WRONG).status_code == 422
    assert checked == [users._DUMMY_HASH]
    # The same kind of hash as a real account's: the same work, so the same time.
    method = generate_password_hash("x").split("$", 1)[0]
    assert users._DUMMY_HASH.split("$", 1)[0] == method


def test_the_account_and_address_limit_is_a_15_minute_window(app, org, real_limits, monkeypatch):
    clock = Clock()
    monkeypatch.setattr(time, "time", clock)
    office = "10.22.0.1"
    for _ in range(10):
        assert _attempt(app, office, org.agent.email, WRONG).status_code == 422
        clock.now += 10
    refused = _attempt(app, office, org.agent.email, PASSWORD)  # even the right password
    assert refused.status_code == 429
    assert 800 <= int(refused.headers["Retry-After"]) <= 810
    clock.now += 14 * 60 - 100 + 5  # 14 minutes after the first failure
    still = _attempt(app, office, org.agent.email, PASSWORD)
    assert still.status_code == 429
    assert _error(still) == "För många inloggningsförsök. Vänta 1 minut och försök igen."
    clock.now += 60  # the first failure has left the window: one attempt is free again
    assert _attempt(app, office, org.agent.email, PASSWORD).status_code == 302
    # ...and a success clears the count for its address: no waiting for the others to expire.
    assert _attempt(app, office, org.agent.email, WRONG).status_code == 422
    assert _attempt(app, office, org.agent.email, PASSWORD).status_code == 302


def test_guesses_from_elsewhere_never_lock_out_the_usual_address(app, org, real_limits):
    office = "10.23.0.1"
    assert _attempt(app, office, org.agent.email, PASSWORD).status_code == 302
    # A botnet fills the per-account limit (30 per hour from addresses the account never used;
    # the first sign-in at the office was one of them) from 10 addresses, 3 each at most.
    for n in range(29):
        response = _attempt(app, f"10.66.{n % 10}.1", org.agent.email, WRONG)
        assert response.status_code == 422
    # A new address is not refused (or anyone could keep the agent off a new computer by
    # guessing wrong 30 times): it gets 3 tries per 15 minutes of its own, then waits.
    assert _attempt(app, "10.66.99.1", org.agent.email, PASSWORD).status_code == 302
    for _ in range(2):
        assert _attempt(app, "10.66.98.1", org.agent.email, WRONG).status_code == 422
    assert _attempt(app, "10.66.98.1", org.agent.email, PASSWORD).status_code == 302
    for _ in range(3):
        assert _attempt(app, "10.66.97.1", org.agent.email, WRONG).status_code == 422
    assert _attempt(app, "10.66.97.1", org.agent.email, PASSWORD).status_code == 429
    # ... while the office, where the agent signed in before, only counts its own attempts.
    assert _attempt(app, office, org.agent.email, PASSWORD).status_code == 302
    assert _attempt(app, office, org.agent.email, WRONG).status_code == 422
    assert _attempt(app, office, org.agent.email, PASSWORD).status_code == 302


def test_one_address_trying_many_accounts_is_slowed(app, org, real_limits):
    app.config["LOGIN_LIMIT_ADDRESS"] = "5 per hour"  # as 100, with fewer password hashes
    cafe = "10.24.0.1"
    assert _attempt(app, cafe, org.manager.email, PASSWORD).status_code == 302
    for n in range(4):  # the manager's first sign-in here was one of the 5
        assert _attempt(app, cafe, f"gissning{n}@kommun.example", WRONG).status_code == 422
    assert _attempt(app, cafe, org.agent.email, PASSWORD).status_code == 429
    assert _attempt(app, cafe, org.manager.email, PASSWORD).status_code == 302  # signed in here
    assert _attempt(app, "10.24.0.2", org.agent.email, PASSWORD).status_code == 302


def test_ipv6_addresses_count_per_network():
    assert login_throttle.address_key("2001:db8:1:2:aaaa::1") == "2001:db8:1:2::/64"
    assert login_throttle.address_key("2001:db8:1:2:bbbb::9") == "2001:db8:1:2::/64"
    assert login_throttle.address_key("::ffff:192.0.2.7") == "192.0.2.7"
    assert login_throttle.address_key("192.0.2.7") == "192.0.2.7"


def _row(html: str, account: str) -> str:
    rows = [r for r in re.findall(r"<tr>.*?</tr>", html, re.S) if account in r]
    assert len(rows) == 1, rows
    return rows[0]


def test_failed_sign_ins_are_shown_to_admins(app, client, org, login, real_limits, caplog):
    for _ in range(3):
        _attempt(app, "10.25.0.1", org.agent.email, WRONG)
    for _ in range(2):
        _attempt(app, "10.25.0.2", "okand@kommun.example", WRONG)
    with caplog.at_level(logging.WARNING, logger=app.logger.name):
        for _ in range(10):
            _attempt(app, "10.25.0.3", org.handler_bygg.email, WRONG)
    assert _attempt(app, "10.25.0.3", org.handler_bygg.email, WRONG).status_code == 429
    [warning] = [r.getMessage() for r in caplog.records if "throttled" in r.getMessage()]
    assert f"user {org.handler_bygg.id}" in warning and "10.25.0.3" in warning
    assert org.handler_bygg.email not in warning  # no e-mail addresses in the log
    _attempt(app, "10.25.0.4", org.manager.email, PASSWORD)  # a success is no failure

    login(org.admin)
    page = client.get("/admin/misslyckade-inloggningar")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    agent = _row(html, org.agent.email)
    assert "10.25.0.1" in agent and "<td>3</td>" in agent and "Nej" in agent
    assert org.agent.name in agent
    stranger = _row(html, "okand@kommun.example")
    assert "10.25.0.2" in stranger and "<td>2</td>" in stranger and "(inget konto)" in stranger
    handler = _row(html, org.handler_bygg.email)
    assert "<td>10</td>" in handler and "<strong>Ja</strong>" in handler
    assert org.manager.email not in html
    index = client.get("/admin/").get_data(as_text=True)
    assert "15 misslyckade försök från 3 adresser senaste dygnet." in index
    assert "1 serie har bromsats." in index


def test_a_new_burst_starts_after_the_window(app, org, real_limits):
    _attempt(app, "10.26.0.1", org.agent.email, WRONG)
    _attempt(app, "10.26.0.1", org.agent.email, WRONG)
    row = db.session.scalars(
        sa.select(LoginFailure).where(LoginFailure.address == "10.26.0.1")
    ).one()
    assert row.failures == 2 and row.user_id == org.agent.id
    row.last_at = utcnow() - timedelta(minutes=16)
    db.session.commit()
    _attempt(app, "10.26.0.1", org.agent.email, WRONG)
    db.session.refresh(row)
    assert row.failures == 1 and row.first_at > utcnow() - timedelta(minutes=1)


def test_the_failures_page_is_for_admins(client, org, login):
    login(org.manager)
    assert client.get("/admin/misslyckade-inloggningar").status_code == 403


def test_old_failures_and_addresses_are_forgotten(org, db_session):
    now = utcnow()
    db.session.add_all(
        [
            LoginFailure(
                account="gammal@x.example", address="10.27.0.1", last_at=now - timedelta(days=31)
            ),
            LoginFailure(
                account="ny@x.example", address="10.27.0.1", last_at=now - timedelta(days=29)
            ),
            LoginAddress(
                user_id=org.agent.id, address="10.27.0.1", last_at=now - timedelta(days=181)
            ),
            LoginAddress(
                user_id=org.agent.id, address="10.27.0.2", last_at=now - timedelta(days=179)
            ),
        ]
    )
    db.session.commit()
    assert login_throttle.prune() == 2
    assert db.session.scalars(sa.select(LoginFailure.account)).all() == ["ny@x.example"]
    assert db.session.scalars(sa.select(LoginAddress.address)).all() == ["10.27.0.2"]


def _app_with(database_url: str, **config):
    settings = {name: getattr(Config, name) for name in SETTINGS}
    return create_app(TestConfig, {"SQLALCHEMY_DATABASE_URI": database_url, **settings, **config})


def test_redis_counts_are_shared_by_every_process(app, client, org, database_url):
    """Production: REDIS_URL is the storage, so two web processes count together."""
    url = redis_url()
    prefix = f"kc_test_{RUN_ID}"
    first = _app_with(
        database_url, REDIS_URL=url, RATELIMIT_STORAGE_URI=None, RATELIMIT_KEY_PREFIX=prefix
    )
    second = _app_with(
        database_url, REDIS_URL=url, RATELIMIT_STORAGE_URI=None, RATELIMIT_KEY_PREFIX=prefix
    )
    try:
        assert first.config["RATELIMIT_STORAGE_URI"] == url
        for _ in range(10):
            assert _attempt(first, "10.28.0.1", org.agent.email, WRONG).status_code == 422
        assert _attempt(second, "10.28.0.1", org.agent.email, PASSWORD).status_code == 429
    finally:
        from redis import Redis

        with Redis.from_url(url) as redis:
            keys = list(redis.scan_iter(match=f"*{prefix}*"))
            assert keys  # the counts were in Redis
            redis.delete(*keys)
        for each in (first, second):
            with each.app_context():
                db.engine.dispose()


def test_without_its_storage_the_throttle_counts_per_process(
    app, client, org, database_url, caplog
):
    """Redis down: signing in still works, and still throttled (in this process)."""
    down = _app_with(database_url, RATELIMIT_STORAGE_URI="redis://127.0.0.1:1/0")
    try:
        with caplog.at_level(logging.ERROR, logger=down.logger.name):
            assert _attempt(down, "10.29.0.1", org.agent.email, PASSWORD).status_code == 302
            for _ in range(10):
                assert _attempt(down, "10.29.0.2", org.agent.email, WRONG).status_code == 422
            assert _attempt(down, "10.29.0.2", org.agent.email, PASSWORD).status_code == 429
        assert "Rate limit storage unreachable" in caplog.text
    finally:
        with down.app_context():
            db.engine.dispose()


def test_a_failure_is_answered_even_if_the_storage_goes_away_after_counting(
    app, org, real_limits, monkeypatch
):
    """The attempt was counted; Redis then fails while the failure is recorded: the person
    still gets the ordinary answer (not a 500) and the admins still see the failure."""
    strategy = limiter().limiter

    def unreachable(*args, **kwargs):
        raise ConnectionError("Redis went away")

    monkeypatch.setattr(strategy, "get_window_stats", unreachable)
    response = _attempt(app, "10.25.0.1", org.agent.email, WRONG)
    assert response.status_code == 422 and "Fel e-postadress eller lösenord." in _error(response)
    failure = db.session.scalars(
        sa.select(LoginFailure).where(LoginFailure.address == "10.25.0.1")
    ).one()
    assert failure.failures == 1
