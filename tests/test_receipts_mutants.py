"""Receipt limits (channels/email/receipts.py), where mutation testing (scripts/mutation) found
the tests silent: the default limits, the exact edges of the hour counted and of the grants
kept, addresses not foreseen, the lock row and what is written and logged."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
import sqlalchemy as sa

from kontaktcenter.channels.email import receipts
from kontaktcenter.channels.email.models import ReceiptGrant, ReceiptLock
from kontaktcenter.channels.email.receipts import ReceiptLimits
from kontaktcenter.core.extensions import db, utcnow

ANNA = "anna@example.se"


@pytest.fixture
def now(db_session, monkeypatch):
    """The clock the limits read, stopped (it is read when the lock is taken)."""
    stopped = utcnow().replace(microsecond=0)
    monkeypatch.setattr(receipts, "utcnow", lambda: stopped)
    return stopped


def _granted(address: str, *ago: timedelta, now) -> None:
    db.session.add_all(ReceiptGrant(address=address, granted_at=now - a) for a in ago)
    db.session.flush()


def _grants() -> list[tuple[str, object]]:
    db.session.flush()
    rows = db.session.execute(
        sa.select(ReceiptGrant.address, ReceiptGrant.granted_at).order_by(ReceiptGrant.id)
    )
    return [(address, at) for address, at in rows]


def test_the_default_limits_are_three_an_address_and_two_hundred_in_all(now, app, monkeypatch):
    monkeypatch.delitem(app.config, "ACK_LIMIT_PER_HOUR")
    monkeypatch.delitem(app.config, "ACK_LIMIT_GLOBAL_PER_HOUR")
    limits = ReceiptLimits({ANNA})
    assert [limits.grant(ANNA) for _ in range(4)] == [True, True, True, False]
    # 196 more to others reach 199 in all: one more may go, then none.
    _granted("other@example.se", *[timedelta(minutes=1)] * 196, now=now)
    limits = ReceiptLimits({"per@example.se", "eva@example.se"})
    assert limits.grant("per@example.se") is True
    assert limits.grant("eva@example.se") is False


def test_the_hour_counted_ends_exactly_an_hour_ago(now):
    _granted(
        ANNA, timedelta(hours=1), timedelta(hours=1), timedelta(minutes=59, seconds=59), now=now
    )
    limits = ReceiptLimits({ANNA})
    assert limits.grant(ANNA) is True  # one within the hour: two more may go
    assert limits.grant(ANNA) is True
    assert limits.grant(ANNA) is False


def test_the_hour_counted_for_all_addresses_ends_exactly_an_hour_ago(now, app, monkeypatch):
    monkeypatch.setitem(app.config, "ACK_LIMIT_GLOBAL_PER_HOUR", 2)
    _granted("a@example.se", timedelta(hours=1), now=now)
    _granted("b@example.se", timedelta(minutes=59), now=now)
    limits = ReceiptLimits({ANNA, "per@example.se"})
    assert limits.grant(ANNA) is True
    assert limits.grant("per@example.se") is False


def test_grants_older_than_two_hours_are_deleted_as_new_ones_are_made(now):
    _granted("old@example.se", timedelta(hours=2, seconds=1), now=now)
    _granted("kept@example.se", timedelta(hours=2), now=now)
    assert ReceiptLimits({ANNA}).grant(ANNA) is True
    assert _grants() == [("kept@example.se", now - timedelta(hours=2)), (ANNA, now)]


def test_an_address_not_foreseen_is_counted_before_it_is_granted(now):
    _granted(ANNA, timedelta(minutes=5), timedelta(minutes=6), now=now)
    limits = ReceiptLimits({"per@example.se"})
    assert limits.grant("per@example.se") is True  # the lock is taken: ANNA is not counted yet
    assert limits.grant(ANNA) is True
    assert limits.grant(ANNA) is False
    assert limits.grant("per@example.se") is True


def test_a_grant_takes_the_lock_row_and_is_written(now):
    assert db.session.scalars(sa.select(ReceiptLock)).all() == []
    limits = ReceiptLimits({ANNA})
    assert limits.grant(ANNA) is True
    (lock,) = db.session.scalars(sa.select(ReceiptLock)).all()
    assert (lock.name, lock.taken_at) == ("receipts", now)
    assert _grants() == [(ANNA, now)]
    assert (limits.total, limits.per_address[ANNA]) == (1, 1)


def test_no_limit_left_takes_no_lock_and_writes_nothing(now, app, monkeypatch):
    for setting in ("ACK_LIMIT_PER_HOUR", "ACK_LIMIT_GLOBAL_PER_HOUR"):
        with monkeypatch.context() as m:
            m.setitem(app.config, setting, 0)
            assert ReceiptLimits({ANNA}).grant(ANNA) is False
    assert db.session.scalars(sa.select(ReceiptLock)).all() == []
    assert _grants() == []


def test_reaching_the_global_limit_is_logged(now, app, monkeypatch, caplog):
    monkeypatch.setitem(app.config, "ACK_LIMIT_GLOBAL_PER_HOUR", 1)
    limits = ReceiptLimits({ANNA, "per@example.se"})
    with caplog.at_level(logging.WARNING, logger="kontaktcenter.channels.email.receipts"):
        assert limits.grant(ANNA) is True
        assert limits.grant("per@example.se") is False
    assert [r.getMessage() for r in caplog.records if r.name == receipts.__name__] == [
        "The limit of 1 receipts an hour is reached: one not sent"
    ]
    assert _grants() == [(ANNA, now)]


def test_a_limit_of_one_allows_one(now, app, monkeypatch):
    monkeypatch.setitem(app.config, "ACK_LIMIT_PER_HOUR", 1)
    monkeypatch.setitem(app.config, "ACK_LIMIT_GLOBAL_PER_HOUR", 2)
    limits = ReceiptLimits({ANNA, "per@example.se", "eva@example.se"})
    assert [limits.grant(ANNA), limits.grant(ANNA)] == [True, False]
    assert limits.grant("per@example.se") is True  # the second of two in all
    assert limits.grant("eva@example.se") is False
    assert [address for address, _at in _grants()] == [ANNA, "per@example.se"]


def test_an_address_not_foreseen_is_counted_once(now):
    limits = ReceiptLimits(set())
    assert [limits.grant(ANNA) for _ in range(4)] == [True, True, True, False]
    assert [address for address, _at in _grants()] == [ANNA] * 3
