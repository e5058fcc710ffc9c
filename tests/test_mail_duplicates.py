"""A duplicate is the same message (issue #13, item 4): the same Message-ID and the same content
fingerprint. The same mail delivered twice is one case, whatever the servers on the way added;
a different message that reuses a Message-ID is filed and flagged, never dropped. The database
enforces it, also between concurrent workers (PostgreSQL)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask_migrate import upgrade

from kontaktcenter import create_app
from kontaktcenter.cases.models import Case
from kontaktcenter.channels.email import store as mail_store
from kontaktcenter.channels.email.intake import ingest, ingest_batch
from kontaktcenter.channels.email.lookups import reused_message_ids
from kontaktcenter.channels.email.mime.fingerprint import fingerprint
from kontaktcenter.channels.email.mime.parsing import parse_message
from kontaktcenter.channels.email.models import Direction, MailKind, MailMessage, MailStatus
from kontaktcenter.core.config import TestConfig
from kontaktcenter.core.extensions import db, utcnow
from tests.conftest import postgres_url
from tests.mailutil import corpus_messages, make_mail

# As it came over SMTP (CRLF line endings).
QUESTION = make_mail(message_id="<fraga-1@example.se>", subject="Fråga om bygglov").replace(
    b"\n", b"\r\n"
)
# The same message as delivered to another of our mailboxes, one hop later, in an mbox file.
DELIVERED_AGAIN = (
    b"Return-Path: <anna@example.se>\n"
    b"Delivered-To: avfall@kommun.example\n"
    b"X-Original-To: avfall@kommun.example\n"
    b"X-Forwarded-To: kontakt@kommun.example\n"
    b"Received: from mx2.kommun.example by mx1.kommun.example with ESMTPS id 4ZP0aA;\n"
    b"\tMon, 16 Nov 2026 09:00:07 +0100\n"
    b"X-Spam-Status: No, score=-0.1 required=5.0\n"
    b"X-MS-Exchange-Organization-SCL: 1\n"
    b"Authentication-Results: mx1.kommun.example; spf=pass smtp.mailfrom=example.se\n"
    + QUESTION.replace(b"\r\n", b"\n")
)
OTHER_MESSAGE_SAME_ID = make_mail(
    message_id="<fraga-1@example.se>", subject="Något helt annat", body="Ett annat brev."
)


@pytest.fixture
def trusting(app, monkeypatch):
    """Mail from no mailbox believed as before, so replies join by Message-ID (trust.py)."""
    monkeypatch.setitem(app.config, "MAIL_SENDER_TRUST", "as_before")


def _inbound() -> list[MailMessage]:
    return list(
        db.session.scalars(
            sa.select(MailMessage)
            .where(MailMessage.direction == Direction.INBOUND)
            .order_by(MailMessage.id)
        )
    )


def _case_page(client, case_id: int) -> str:
    return client.get(f"/arenden/{case_id}").get_data(as_text=True)


def test_the_fingerprint_ignores_what_each_delivery_adds_and_nothing_the_author_wrote():
    assert fingerprint(DELIVERED_AGAIN) == fingerprint(QUESTION)
    assert fingerprint(QUESTION.replace(b"\r\n", b"\r")) == fingerprint(QUESTION)
    assert fingerprint(OTHER_MESSAGE_SAME_ID) != fingerprint(QUESTION)
    for changed in (
        QUESTION.replace(b"bygglov", b"bygglof"),  # the subject
        QUESTION.replace(b"Hej!", b"Hej;"),  # the text
        QUESTION.replace(b"Mon, 16 Nov 2026 09:00:00", b"Mon, 16 Nov 2026 09:00:01"),  # Date
        QUESTION.replace(b"To: kontakt@", b"To: bygglov@"),
    ):
        assert changed != QUESTION and fingerprint(changed) != fingerprint(QUESTION)


def test_the_same_message_delivered_to_two_mailboxes_is_one_case(db_session, outbox):
    first = ingest(QUESTION)
    again = ingest(DELIVERED_AGAIN)
    assert first.result == "created"
    assert (again.result, again.reference) == ("duplicate", first.reference)
    assert len(_inbound()) == 1


def test_a_different_message_reusing_a_message_id_is_filed_and_flagged(
    db_session, outbox, client, org, login
):
    first = ingest(QUESTION)
    other = ingest(OTHER_MESSAGE_SAME_ID)
    assert other.result == "created" and other.reference != first.reference
    original, reused = _inbound()
    assert original.message_id == reused.message_id == "<fraga-1@example.se>"
    assert reused.subject == "Något helt annat" and "Ett annat brev." in reused.text_body
    assert reused_message_ids([original, reused]) == {reused.id}
    assert ingest(OTHER_MESSAGE_SAME_ID).result == "duplicate"  # it, delivered again
    login(org.agent)
    assert "Meddelande-ID återanvänt" in _case_page(client, reused.case_id)
    assert "Meddelande-ID återanvänt" not in _case_page(client, original.case_id)


def test_in_one_batch_too(db_session, outbox):
    results = ingest_batch([QUESTION, DELIVERED_AGAIN, OTHER_MESSAGE_SAME_ID])
    assert [r.result for r in results] == ["created", "duplicate", "created"]
    assert results[1].reference == results[0].reference != results[2].reference
    first, other = _inbound()
    assert reused_message_ids([first, other]) == {other.id}


def test_a_reply_to_a_reused_message_id_joins_the_oldest_message_s_case(
    db_session, outbox, trusting
):
    first = ingest(QUESTION)
    ingest(OTHER_MESSAGE_SAME_ID)
    reply = ingest(make_mail(message_id="<svar-1@example.se>", in_reply_to="<fraga-1@example.se>"))
    assert (reply.result, reply.reference) == ("joined", first.reference)


def test_the_database_refuses_the_same_message_twice_but_keeps_a_different_one(db_session):
    digest = mail_store.store(QUESTION)

    def row(fp: str) -> MailMessage:
        return MailMessage(
            direction=Direction.INBOUND,
            kind=MailKind.MESSAGE,
            status=MailStatus.REJECTED,
            message_id="<fraga-1@example.se>",
            fingerprint=fp,
            raw_sha256=digest,
            size=len(QUESTION),
        )

    db.session.add_all([row("a" * 64), row("b" * 64)])
    db.session.commit()
    db.session.add(row("a" * 64))
    with pytest.raises(sa.exc.IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_messages_filed_before_fingerprints_are_compared_by_their_stored_bytes(db_session, outbox):
    first = ingest(QUESTION)
    db.session.execute(sa.update(MailMessage).values(fingerprint=None))  # as migrated
    db.session.commit()
    assert ingest(DELIVERED_AGAIN).result == "duplicate"
    assert ingest(OTHER_MESSAGE_SAME_ID).result == "created"
    assert first.result == "created"


def test_our_own_message_coming_back_is_a_duplicate_but_a_forgery_of_its_id_is_kept(
    db_session, outbox
):
    ingest(make_mail(sender="bo@example.se", message_id="<bo-1@example.se>"))
    (receipt,) = db.session.scalars(
        sa.select(MailMessage).where(MailMessage.kind == MailKind.ACKNOWLEDGEMENT)
    ).all()
    ours = mail_store.load(receipt.raw_sha256)
    assert ingest(b"Received: from mx1.kommun.example; Mon, 16 Nov 2026\r\n" + ours).result == (
        "duplicate"
    )
    forged = make_mail(
        sender="mallory@evil.example", message_id=receipt.message_id, subject="Logga in här"
    )
    kept = ingest(forged)
    assert kept.result == "created"
    assert reused_message_ids([db.session.get(MailMessage, kept.message_pk)]) == {kept.message_pk}


def test_every_real_world_message_that_reuses_an_id_with_other_content_is_kept(db_session, outbox):
    """The corpus holds 70 messages whose Message-ID an earlier one has (test suites reuse
    them). A message whose subject, date, text or attachments differ from every earlier one with
    its Message-ID is filed; only one that reads the same as an earlier one (the same file with
    other line endings) may be a duplicate."""
    seen: dict[str, list[tuple]] = {}
    reused = kept = different = 0
    for path in corpus_messages():
        raw = path.read_bytes()
        parsed = parse_message(raw)
        content = (
            parsed.subject,
            parsed.date,
            parsed.text,
            parsed.html,
            [(a.filename, _lf(a.payload)) for a in parsed.attachments],
        )
        earlier = seen.setdefault(parsed.message_id, []) if parsed.message_id else []
        result = ingest(raw)
        if earlier:
            reused += 1
            same = content in earlier
            assert result.result != "duplicate" or same, (path.name, result)
            kept += result.result != "duplicate"
            different += not same
        earlier.append(content)
    assert reused == 70 and kept >= different > 40


def _lf(data: bytes) -> bytes:
    return data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")


# --- concurrent workers on PostgreSQL ------------------------------------------------------------


@pytest.fixture(scope="module")
def pg_app() -> Iterator[Flask]:
    url = postgres_url("kontaktcenter_duplicates")
    app = create_app(
        TestConfig, {"SQLALCHEMY_DATABASE_URI": url, "SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": 10}}
    )
    with app.app_context():
        upgrade(directory=str(Path(__file__).resolve().parent.parent / "migrations"))
        db.session.remove()
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.mark.postgres
def test_concurrent_workers_file_one_message_once_and_each_reuse_once(pg_app, tmp_path):
    pg_app.config["OUTBOX_DIR"] = str(tmp_path)
    run = uuid.uuid4().hex[:8]
    same_id = f"<samtidigt-{run}@example.se>"
    original = make_mail(message_id=same_id, subject="Första", sender="a@example.se")
    delivered_again = b"Delivered-To: avfall@kommun.example\r\n" + original
    other = make_mail(message_id=same_id, subject="Ett annat brev", sender="b@example.se")
    workers = 8
    barrier = threading.Barrier(workers)
    outcomes: list[list[str]] = [[] for _ in range(workers)]
    errors: list[BaseException] = []

    def work(i: int) -> None:
        raws = [original, delivered_again, other] if i % 2 else [other, original, delivered_again]
        with pg_app.app_context():
            try:
                barrier.wait()
                # Half file them one per transaction, half as one batch: the inserts cross.
                if i % 4 < 2:
                    outcomes[i] = [ingest(raw).result for raw in raws]
                else:
                    outcomes[i] = [r.result for r in ingest_batch(raws)]
            except BaseException as error:  # noqa: BLE001 - reported below
                errors.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(workers)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    finally:
        pg_app.config["OUTBOX_DIR"] = None
    assert not errors, errors
    assert sum(o.count("created") for o in outcomes) == 2  # the two different messages
    with pg_app.app_context():
        rows = db.session.scalars(
            sa.select(MailMessage).where(MailMessage.message_id == same_id)
        ).all()
        assert sorted(m.subject for m in rows) == ["Ett annat brev", "Första"]
        assert len({m.case_id for m in rows}) == 2
        assert reused_message_ids(rows) == {max(m.id for m in rows)}  # the later one is flagged
        cases = db.session.scalar(
            sa.select(sa.func.count()).select_from(Case).where(Case.received_at <= utcnow())
        )
        assert cases == 2
        db.session.remove()
