"""The sign-in throttle's parts, one by one (the cases the mutation run of login_throttle.py found
untested): the message and field of a refusal, the storage keys, a refused attempt counts
nothing, the race where a count fills between test and hit, what a failure row records, the log
lines, the admins' list and counts, and what the app registers at start."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from kontaktcenter import create_app
from kontaktcenter.core import admin, periodic
from kontaktcenter.core.config import TestConfig
from kontaktcenter.core.extensions import db
from kontaktcenter.organisation import login_throttle
from kontaktcenter.organisation.login_throttle import FailureSummary, Throttled, _Limit
from kontaktcenter.organisation.models import LoginFailure

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


# --- the refusal ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "retry_after, words",
    [(1, "1 minut"), (60, "1 minut"), (61, "2 minuter"), (900, "15 minuter"), (3600, "60 minuter")],
)
def test_a_refusal_says_whole_minutes_on_the_password_field(retry_after, words):
    refused = Throttled(retry_after)
    assert refused.message == f"För många inloggningsförsök. Vänta {words} och försök igen."
    assert refused.field == "password" and refused.retry_after == retry_after
    assert refused.status == 429


# --- keys -------------------------------------------------------------------------------------


def test_an_address_that_is_no_ip_is_cut_to_64_characters():
    assert login_throttle.address_key("x" * 100) == "x" * 64
    assert login_throttle.address_key("okänd") == "okänd"


def test_the_account_key_is_32_hex_digits_of_its_sha256():
    key = login_throttle._account_key("anna@example.se")
    assert key == hashlib.sha256(b"anna@example.se").hexdigest()[:32]


def test_the_storage_keys(app, db_session, monkeypatch):
    monkeypatch.setitem(app.config, "RATELIMIT_KEY_PREFIX", None)
    account = login_throttle._account_key("a@x.se")
    known = login_throttle._limits("a@x.se", "10.0.0.1", True)
    assert [limit.identifiers for limit in known] == [
        ("kontaktcenter", "login", "login_limit_account_address", account, "10.0.0.1")
    ]
    monkeypatch.setitem(app.config, "RATELIMIT_KEY_PREFIX", "kc_prod")
    stranger = login_throttle._limits("a@x.se", "10.0.0.1", False)
    assert [limit.identifiers for limit in stranger] == [
        ("kc_prod", "login", "login_limit_account_address", account, "10.0.0.1"),
        ("kc_prod", "login", "login_limit_account", account),
        ("kc_prod", "login", "login_limit_address", "10.0.0.1"),
    ]


# --- counting ---------------------------------------------------------------------------------


def _limit(name: str, rate: str = "2 per hour") -> _Limit:
    return _Limit(name.upper(), parse(rate), ("t", name))


def test_a_refused_attempt_counts_against_no_limit():
    strategy = MovingWindowRateLimiter(MemoryStorage())
    full, free = _limit("full", "1 per hour"), _limit("free")
    assert login_throttle._take_with(strategy, [full]) is strategy
    with pytest.raises(Throttled) as refused:
        login_throttle._take_with(strategy, [free, full])
    assert 3590 <= refused.value.retry_after <= 3600
    stats = strategy.get_window_stats(free.item, *free.identifiers)
    assert stats.remaining == 2  # untouched


@dataclass
class _Stats:
    reset_time: float
    remaining: int = 0


class _Racing:
    """A strategy whose counts fill between test() and hit(): another process got there."""

    def __init__(self, full: set[str], now: float, waits: dict[str, float]) -> None:
        self.full, self.now, self.waits = full, now, waits

    def test(self, item, *identifiers) -> bool:
        return True

    def hit(self, item, *identifiers) -> bool:
        return identifiers[-1] not in self.full

    def get_window_stats(self, item, *identifiers) -> _Stats:
        return _Stats(self.now + self.waits[identifiers[-1]])


def test_a_count_that_filled_meanwhile_refuses_with_its_own_wait(monkeypatch):
    monkeypatch.setattr(login_throttle.time, "time", lambda: 1_000.0)
    limits = [_limit("a"), _limit("b"), _limit("c")]
    racing = _Racing({"b"}, 1_000.0, {"a": 50.0, "b": 700.0, "c": 3000.0})
    with pytest.raises(Throttled) as refused:
        login_throttle._take_with(racing, limits)
    assert refused.value.retry_after == 700
    racing = _Racing({"a", "c"}, 1_000.0, {"a": 50.0, "b": 700.0, "c": 3000.0})
    with pytest.raises(Throttled) as refused:
        login_throttle._take_with(racing, limits)
    assert refused.value.retry_after == 3000


def test_a_wait_under_a_second_is_one_second(monkeypatch):
    monkeypatch.setattr(login_throttle.time, "time", lambda: 1_000.0)
    racing = _Racing({"a"}, 1_000.0, {"a": 0.2})
    with pytest.raises(Throttled) as refused:
        login_throttle._take_with(racing, [_limit("a")])
    assert refused.value.retry_after == 1


class _Broken:
    def test(self, *args):
        raise ConnectionError("redis down")

    def clear(self, *args):
        raise ConnectionError("redis down")


def test_storage_trouble_is_logged_in_words(app, monkeypatch, caplog):
    monkeypatch.setattr(login_throttle, "_strategy", lambda: _Broken())
    with caplog.at_level(logging.ERROR, logger=app.logger.name), app.app_context():
        counted = login_throttle._take([_limit("fallback-logging", "5 per hour")])
    assert isinstance(counted, MovingWindowRateLimiter)
    assert [r.getMessage() for r in caplog.records] == [
        "Rate limit storage unreachable: sign-in throttled per process"
    ]


def test_a_count_that_cannot_be_cleared_is_logged_in_words(app, org, caplog):
    with caplog.at_level(logging.ERROR, logger=app.logger.name):
        login_throttle._record_success(org.agent, "10.40.0.1", _Broken(), _limit("x"))
    assert [r.getMessage() for r in caplog.records] == ["Could not clear the sign-in count"]


# --- what a failure records -------------------------------------------------------------------


def _failure(address: str) -> LoginFailure:
    return db.session.scalars(sa.select(LoginFailure).where(LoginFailure.address == address)).one()


@pytest.fixture
def limits_of(app, client):
    """Generous limits, or the ones a test sets, counted from zero."""
    from kontaktcenter.core.extensions import limiter

    names = ("LOGIN_LIMIT_ACCOUNT_ADDRESS", "LOGIN_LIMIT_ACCOUNT", "LOGIN_LIMIT_ADDRESS")
    saved = {name: app.config[name] for name in names}
    limiter().reset()

    def set_limits(**limits: str) -> None:
        app.config.update(limits)

    yield set_limits
    app.config.update(saved)
    limiter().reset()


def test_the_first_failure_of_an_account_names_its_user(org, limits_of):
    assert login_throttle.sign_in(org.agent.email, "fel", "10.41.0.1") is None
    row = _failure("10.41.0.1")
    assert row.user_id == org.agent.id and row.failures == 1 and row.throttled_at is None


def test_a_first_failure_that_uses_up_a_limit_is_marked_throttled(org, limits_of):
    limits_of(LOGIN_LIMIT_ACCOUNT_ADDRESS="1 per 15 minutes")
    assert login_throttle.sign_in(org.agent.email, "fel", "10.42.0.1") is None
    assert _failure("10.42.0.1").throttled_at is not None


def test_a_throttled_burst_stays_marked_while_it_goes_on(org, limits_of):
    db.session.add(
        LoginFailure(
            account=org.agent.email,
            address="10.43.0.1",
            failures=10,
            first_at=login_throttle.utcnow() - timedelta(minutes=5),
            last_at=login_throttle.utcnow() - timedelta(minutes=1),
            throttled_at=login_throttle.utcnow() - timedelta(minutes=1),
        )
    )
    db.session.commit()
    assert login_throttle.sign_in(org.agent.email, "fel", "10.43.0.1") is None
    row = _failure("10.43.0.1")
    db.session.refresh(row)
    assert row.failures == 11 and row.throttled_at is not None


def test_a_failure_exactly_one_window_after_the_last_continues_the_burst(
    org, limits_of, monkeypatch
):
    limits_of(LOGIN_LIMIT_ACCOUNT_ADDRESS="10 per 15 minutes")
    monkeypatch.setattr(login_throttle, "utcnow", lambda: NOW)
    db.session.add(
        LoginFailure(
            account=org.agent.email,
            address="10.44.0.1",
            failures=3,
            first_at=NOW - timedelta(minutes=20),
            last_at=NOW - timedelta(minutes=15),
        )
    )
    db.session.commit()
    assert login_throttle.sign_in(org.agent.email, "fel", "10.44.0.1") is None
    row = _failure("10.44.0.1")
    db.session.refresh(row)
    assert row.failures == 4 and row.first_at == NOW - timedelta(minutes=20)


def test_no_name_and_long_input_are_recorded_as_cut(org, limits_of):
    assert login_throttle.sign_in(None, "fel", "10.45.0.1") is None
    assert _failure("10.45.0.1").account == ""
    long_name = "a" * 300 + "@x.se"
    assert login_throttle.sign_in(long_name, "fel", "10.45.0.2") is None
    assert _failure("10.45.0.2").account == "a" * 254
    address = "proxy-" + "z" * 100  # no IP: kept as typed, cut to the column's 64
    assert login_throttle.sign_in("b@x.se", "fel", address) is None
    stored = db.session.scalars(
        sa.select(LoginFailure.address).where(LoginFailure.account == "b@x.se")
    ).one()
    assert stored == address[:64]


def test_the_log_line_of_a_throttled_burst(app, org, limits_of, caplog):
    limits_of(LOGIN_LIMIT_ACCOUNT_ADDRESS="1 per 15 minutes", LOGIN_LIMIT_ACCOUNT="1 per hour")
    with caplog.at_level(logging.WARNING, logger=app.logger.name):
        login_throttle.sign_in("ingen@x.se", "fel", "10.46.0.1")
        login_throttle.sign_in(org.agent.email, "fel", "10.46.0.2")
    key = login_throttle._account_key("ingen@x.se")[:12]
    both = "LOGIN_LIMIT_ACCOUNT_ADDRESS, LOGIN_LIMIT_ACCOUNT"
    assert [r.getMessage() for r in caplog.records] == [
        f"Sign-in attempts throttled ({both}) for unknown account {key} from 10.46.0.1",
        f"Sign-in attempts throttled ({both}) for user {org.agent.id} from 10.46.0.2",
    ]


# --- the admins' view ---------------------------------------------------------------------------


def _rows(*rows: tuple[str, datetime]) -> None:
    db.session.add_all(
        [LoginFailure(account=account, address="10.47.0.1", last_at=at) for account, at in rows]
    )
    db.session.commit()


def test_recent_failures_are_the_latest_first_and_at_most_200(org, db_session):
    _rows(("mitten@x.se", NOW - timedelta(hours=1)), ("sist@x.se", NOW - timedelta(hours=2)))
    _rows(("forst@x.se", NOW), ("samtidigt@x.se", NOW))  # the same time: the later row first
    got = [f.account for f in login_throttle.recent_failures(3)]
    assert got == ["samtidigt@x.se", "forst@x.se", "mitten@x.se"]
    _rows(*[(f"n{n}@x.se", NOW - timedelta(days=2)) for n in range(200)])
    assert len(login_throttle.recent_failures()) == 200


def test_summary_counts(org, db_session, monkeypatch):
    monkeypatch.setattr(login_throttle, "utcnow", lambda: NOW)
    assert login_throttle.summary() == FailureSummary(0, 0, 0)
    db.session.add_all(
        [
            LoginFailure(account="a@x.se", address="10.48.0.1", failures=3, last_at=NOW),
            LoginFailure(account="b@x.se", address="10.48.0.1", failures=2, last_at=NOW),
            LoginFailure(
                account="c@x.se", address="10.48.0.2", failures=7, last_at=NOW - timedelta(days=1)
            ),
        ]
    )
    db.session.commit()
    # A burst whose last failure is exactly a day old is no longer counted.
    assert login_throttle.summary() == FailureSummary(5, 1, 0)


# --- at start -----------------------------------------------------------------------------------


def test_an_unreadable_limit_stops_the_app(database_url):
    with pytest.raises(RuntimeError) as refused:
        create_app(
            TestConfig, {"SQLALCHEMY_DATABASE_URI": database_url, "LOGIN_LIMIT_ACCOUNT": "många"}
        )
    assert str(refused.value) == (
        "KONTAKTCENTER_LOGIN_LIMIT_ACCOUNT must read like '10 per 15 minutes', not 'många'."
    )


def test_the_app_prunes_hourly_and_shows_its_panel(database_url, org, monkeypatch):
    # Registered once per process: start from empty lists to see what this start registers.
    monkeypatch.setattr(periodic, "PERIODIC", [])
    monkeypatch.setattr(admin, "_panels", [])
    fresh = create_app(TestConfig, {"SQLALCHEMY_DATABASE_URI": database_url})
    try:
        assert [s for f, s in periodic.PERIODIC if f is login_throttle.prune] == [3600]
        assert all(f is not None for f, _ in periodic.PERIODIC)
        [panel] = [p for p in admin._panels if p.order == 15]
        assert panel.template == "admin/_panel_logins.html"
        assert panel.context() == {"counts": login_throttle.summary()}
    finally:
        with fresh.app_context():
            db.engine.dispose()
