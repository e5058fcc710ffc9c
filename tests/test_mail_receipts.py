"""Receipt (acknowledgement) limits (issue #13, items 2 and 5): at most ACK_LIMIT_PER_HOUR to
one address and ACK_LIMIT_GLOBAL_PER_HOUR to all in any hour, counted in the database in the
transaction that queues them, so neither one import nor concurrent workers exceed them; never
to our own address."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask_migrate import upgrade

from kontaktcenter import create_app
from kontaktcenter.channels.email.filing import Batch
from kontaktcenter.channels.email.intake import ingest, ingest_batch, parsed_message
from kontaktcenter.channels.email.models import Mailbox, MailKind, MailMessage, ReceiptGrant
from kontaktcenter.core.config import TestConfig
from kontaktcenter.core.extensions import db, utcnow
from tests.conftest import postgres_url
from tests.mailutil import make_mail


def _acks(address: str | None = None) -> list[str]:
    query = sa.select(MailMessage.recipient).where(MailMessage.kind == MailKind.ACKNOWLEDGEMENT)
    if address is not None:
        query = query.where(MailMessage.recipient == address)
    return list(db.session.scalars(query))


def test_one_import_never_sends_an_address_more_than_the_limit(db_session, outbox, app):
    """The second message cites a reference not in the database yet, so the import files it in
    a second transaction: that one must count the receipts the first granted, although none
    has been composed yet (they are composed after the import)."""
    assert app.config["ACK_LIMIT_PER_HOUR"] == 3
    raws = [make_mail(subject="Fråga 1")]
    raws.append(make_mail(subject="Om [KC-2099-000001] och annat"))
    raws += [make_mail(subject=f"Fråga {i}") for i in range(3, 7)]
    results = ingest_batch(raws)
    assert [r.result for r in results] == ["created"] * 6
    assert _acks() == ["anna@example.se"] * 3


def test_the_limit_counts_the_last_hour_only(db_session, outbox, app):
    now = utcnow()
    for minutes in (59, 58, 57):
        db.session.add(
            ReceiptGrant(address="inom@example.se", granted_at=now - timedelta(minutes=minutes))
        )
    for minutes in (61, 62, 63):
        db.session.add(
            ReceiptGrant(address="utanfor@example.se", granted_at=now - timedelta(minutes=minutes))
        )
    db.session.commit()
    ingest(make_mail(sender="inom@example.se"))  # three within the hour: none
    ingest(make_mail(sender="utanfor@example.se"))  # three more than an hour ago: one
    assert _acks() == ["utanfor@example.se"]


def test_a_global_limit_stops_a_spray_over_many_addresses(db_session, outbox, app, monkeypatch):
    monkeypatch.setitem(app.config, "ACK_LIMIT_GLOBAL_PER_HOUR", 3)
    ingest_batch([make_mail(sender=f"offer{i}@example.se") for i in range(2)])
    for i in range(2, 6):  # later transactions count what the earlier ones granted
        ingest(make_mail(sender=f"offer{i}@example.se"))
    assert sorted(_acks()) == ["offer0@example.se", "offer1@example.se", "offer2@example.se"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ReceiptGrant)) == 3


def test_our_own_address_is_never_acknowledged(db_session, app):
    """Mail from our own address is refused before it gets this far (a loop); the receipt
    check refuses it as well, in any letter case."""
    db.session.add(
        Mailbox(
            address="kontakt@kommun.se",
            name="Kontaktcenter",
            imap_host="imap.kommun.se",
            imap_user="kontakt",
            password_env="IMAP_KONTAKT",
        )
    )
    db.session.commit()
    own = make_mail(sender="Kontakt@Kommun.se")
    other = make_mail(sender="anna@example.se")
    messages = [parsed_message(own), parsed_message(other)]
    batch = Batch(messages, None)
    assert batch.may_acknowledge(messages[0]) is False
    assert batch.may_acknowledge(messages[1]) is True


def test_receipts_go_to_the_sender_never_to_a_reply_to(db_session, outbox):
    ingest(make_mail(sender="anna@example.se", headers={"Reply-To": "offer@example.net"}))
    assert _acks() == ["anna@example.se"]


def test_no_receipt_when_no_receipts_are_allowed(db_session, outbox, app, monkeypatch):
    monkeypatch.setitem(app.config, "ACK_LIMIT_PER_HOUR", 0)
    ingest(make_mail())
    assert _acks() == []
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ReceiptGrant)) == 0


# --- concurrent workers on PostgreSQL -------------------------------------------------------

THREADS = 6


@pytest.fixture(scope="module")
def pg_app(tmp_path_factory) -> Iterator[Flask]:
    url = postgres_url("kontaktcenter_receipts")
    app = create_app(
        TestConfig,
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": THREADS + 2},
            "OUTBOX_DIR": str(tmp_path_factory.mktemp("receipts-outbox")),
        },
    )
    with app.app_context():
        upgrade(directory=str(Path(__file__).resolve().parent.parent / "migrations"))
    yield app
    with app.app_context():
        db.engine.dispose()


def _in_threads(app: Flask, work) -> None:
    barrier = threading.Barrier(THREADS)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        with app.app_context():
            try:
                barrier.wait()
                work(i)
            except BaseException as error:  # noqa: BLE001 - reported below
                errors.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors


def _count_acks(app: Flask, address: str | None = None, like: str | None = None) -> int:
    with app.app_context():
        query = (
            sa.select(sa.func.count())
            .select_from(MailMessage)
            .where(MailMessage.kind == MailKind.ACKNOWLEDGEMENT)
        )
        if address is not None:
            query = query.where(MailMessage.recipient == address)
        if like is not None:
            query = query.where(MailMessage.recipient.like(like))
        count = db.session.scalar(query)
        db.session.remove()
        return count or 0


@pytest.mark.postgres
def test_concurrent_workers_never_exceed_the_limit_for_one_address(pg_app):
    """Six workers (pollers, imports, the HTTP door) each file two new messages from one
    address at the same moment: three receipts in all, not three per worker."""
    run = uuid.uuid4().hex[:8]
    address = f"samma-{run}@example.se"

    def work(i: int) -> None:
        results = ingest_batch(
            [make_mail(sender=address, subject=f"Fråga {i}.{n}") for n in range(2)]
        )
        assert [r.result for r in results] == ["created", "created"]

    _in_threads(pg_app, work)
    assert _count_acks(pg_app, address) == pg_app.config["ACK_LIMIT_PER_HOUR"] == 3


@pytest.mark.postgres
def test_concurrent_workers_never_exceed_the_global_limit(pg_app):
    run = uuid.uuid4().hex[:8]
    pg_app.config["ACK_LIMIT_GLOBAL_PER_HOUR"] = 4
    try:
        with pg_app.app_context():  # the window starts empty for this test
            db.session.execute(sa.delete(ReceiptGrant))
            db.session.commit()
            db.session.remove()
        _in_threads(
            pg_app,
            lambda i: ingest_batch(
                [make_mail(sender=f"spray{i}-{n}-{run}@example.se") for n in range(2)]
            ),
        )
    finally:
        pg_app.config["ACK_LIMIT_GLOBAL_PER_HOUR"] = TestConfig.ACK_LIMIT_GLOBAL_PER_HOUR
    assert _count_acks(pg_app, like=f"spray%-{run}@example.se") == 4
