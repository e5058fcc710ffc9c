"""PostgreSQL's triggers on the audit log (migration 0017), on a database of their own so they
run in every test run: no UPDATE of an event's content, no DELETE but the purge's prefix, no
TRUNCATE, and a chain row that only moves forward (its deletion is the verification's to
find). The migration's downgrade removes them. And the seal under concurrent writers."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask_migrate import downgrade, upgrade

from kontaktcenter import create_app
from kontaktcenter.core import audit, audit_chain
from kontaktcenter.core.audit import CHAIN_ID, AuditChain, AuditEvent
from kontaktcenter.core.config import TestConfig
from kontaktcenter.core.extensions import db
from kontaktcenter.core.roles import Role
from tests import factories
from tests.conftest import postgres_url, rolled_back_session

pytestmark = pytest.mark.postgres
MIGRATIONS = str(Path(__file__).resolve().parent.parent / "migrations")
NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def pg_app() -> Iterator[Flask]:
    app = create_app(TestConfig, {"SQLALCHEMY_DATABASE_URI": postgres_url("kontaktcenter_audit")})
    with app.app_context():
        upgrade(directory=MIGRATIONS)
        db.session.remove()
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def pg(pg_app: Flask) -> Iterator[None]:
    """A transaction rolled back after the test; the code's commits become savepoints."""
    with rolled_back_session(pg_app):
        yield


@pytest.fixture
def admin(pg: None):
    return factories.make_user(Role.ADMIN)


def _events(user, count: int, created: datetime | None = None) -> list[int]:
    made = []
    for _ in range(count):
        event = audit.add(user, "view_case")
        if created is not None:
            event.created_at = created
        made.append(event)
    db.session.commit()
    return [event.id for event in made]


def _refused(sql: str, **params) -> bool:
    try:
        with db.session.begin_nested():
            db.session.execute(sa.text(sql), params)
    except sa.exc.DBAPIError as error:
        assert error.orig is not None and error.orig.sqlstate == "42501", error  # type: ignore[attr-defined]
        return True
    return False


def test_the_content_of_an_event_never_changes_sealed_or_not(admin):
    unsealed, other = _events(admin, 2)
    assert _refused("UPDATE audit_events SET action = 'x' WHERE id = :id", id=unsealed)
    assert _refused("UPDATE audit_events SET detail = '{}' WHERE id = :id", id=unsealed)
    sealing_and_changing = (
        "UPDATE audit_events SET seq = 999999, hash = repeat('c', 64), {} WHERE id = :id"
    )
    for change in ("detail = '{\"n\": 1}'", "action = 'x'", "created_at = now()"):
        assert _refused(sealing_and_changing.format(change), id=unsealed), change
    audit_chain.seal()
    for sql in (
        "UPDATE audit_events SET action = 'x' WHERE id = :id",
        "UPDATE audit_events SET created_at = created_at - interval '1 day' WHERE id = :id",
        "UPDATE audit_events SET user_id = NULL WHERE id = :id",
        "UPDATE audit_events SET seq = seq + 1000 WHERE id = :id",
        "UPDATE audit_events SET hash = repeat('a', 64) WHERE id = :id",
    ):
        assert _refused(sql, id=other), sql
    assert audit_chain.verify().intact


def test_only_the_seal_writes_seq_and_hash_once(admin):
    (event,) = _events(admin, 1)
    assert audit_chain.seal() == 1  # the trigger lets the seal through
    sealed = db.session.scalar(sa.select(AuditEvent.seq).where(AuditEvent.id == event))
    assert sealed is not None
    assert _refused("UPDATE audit_events SET seq = NULL, hash = NULL WHERE id = :id", id=event)


def test_no_delete_but_the_purged_prefix(admin):
    old = _events(admin, 2, NOW - timedelta(days=800))
    young = _events(admin, 1)
    unsealed = _events(admin, 1)  # noqa: F841  (never sealed below)
    assert _refused("DELETE FROM audit_events WHERE id = :id", id=old[0])  # not purged yet
    assert audit_chain.seal() == 4
    assert audit_chain.purge(now=NOW, months=24) == 2
    assert _refused("DELETE FROM audit_events WHERE id = :id", id=young[0])
    assert _refused("DELETE FROM audit_events")
    assert audit_chain.verify().intact


def test_no_truncate(admin):
    _events(admin, 1)
    assert _refused("TRUNCATE audit_events CASCADE")


def test_the_chain_row_only_moves_forward_and_its_anchor_is_a_sealed_event(admin):
    _events(admin, 2, NOW - timedelta(days=800))
    fresh = _events(admin, 2)
    audit_chain.seal()
    fresh_seq, fresh_hash = db.session.execute(
        sa.select(AuditEvent.seq, AuditEvent.hash).where(AuditEvent.id == fresh[1])
    ).one()
    # The anchor cannot be moved onto a recent event to delete what came before it.
    assert _refused(
        "UPDATE audit_chain SET purged_seq = :s, purged_hash = :h", s=fresh_seq, h=fresh_hash
    )
    assert _refused("UPDATE audit_chain SET last_seq = last_seq - 1")
    assert _refused("UPDATE audit_chain SET last_hash = repeat('b', 64)")
    assert _refused("UPDATE audit_chain SET purged_seq = 1, purged_hash = repeat('a', 64)")
    assert _refused("UPDATE audit_chain SET purged_seq = last_seq + 1")
    first_hash = db.session.scalar(sa.select(AuditEvent.hash).where(AuditEvent.seq == 1))
    sql = "UPDATE audit_chain SET purged_seq = 1, purged_hash = :h"
    assert not _refused(sql, h=first_hash)  # what the purge does (then it deletes seq 1)
    chain = db.session.get(AuditChain, CHAIN_ID, populate_existing=True)
    assert chain is not None and chain.purged_seq == 1
    assert not _refused("DELETE FROM audit_events WHERE seq = 1")
    assert audit_chain.verify().intact


def test_the_downgrade_removes_the_triggers_and_the_upgrade_puts_them_back(pg_app):
    with pg_app.app_context():
        triggers = "SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'audit_%'"
        downgrade(directory=MIGRATIONS, revision="0016")
        db.session.remove()
        with db.engine.connect() as conn:
            assert conn.scalar(sa.text(triggers)) == 0
            assert not sa.inspect(conn).has_table("audit_chain")
        upgrade(directory=MIGRATIONS)
        db.session.remove()
        with db.engine.connect() as conn:
            assert conn.scalar(sa.text(triggers)) == 3
            assert conn.scalar(sa.text("SELECT last_seq FROM audit_chain WHERE id = 1")) == 0


def test_concurrent_writers_and_sealers_make_one_intact_chain():
    """Requests insert events while two sealers run: every event gets one place in the chain,
    and the chain verifies (real commits, on a database of its own)."""
    app = create_app(
        TestConfig,
        {
            "SQLALCHEMY_DATABASE_URI": postgres_url("kontaktcenter_audit_race"),
            "SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": 8},
        },
    )
    with app.app_context():
        upgrade(directory=MIGRATIONS)
        user_id = factories.make_user(Role.ADMIN).id
        db.session.remove()
    errors: list[BaseException] = []
    barrier = threading.Barrier(6)

    def write(n: int) -> None:
        with app.app_context():
            try:
                barrier.wait()
                for i in range(40):
                    db.session.add(AuditEvent(user_id=user_id, action="view_case", detail={"i": i}))
                    db.session.commit()
            except BaseException as error:  # noqa: BLE001  (reported below)
                errors.append(error)
            finally:
                db.session.remove()

    def seal(n: int) -> None:
        with app.app_context():
            try:
                barrier.wait()
                for _ in range(15):
                    audit_chain.seal()
            except BaseException as error:  # noqa: BLE001
                errors.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    threads += [threading.Thread(target=seal, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with app.app_context():
        result = audit_chain.verify()
        assert result.intact and result.checked == 160 and result.last_seq == 160
        seqs = db.session.scalars(sa.select(AuditEvent.seq).order_by(AuditEvent.seq)).all()
        assert seqs == list(range(1, 161))
        db.session.remove()
        db.engine.dispose()
