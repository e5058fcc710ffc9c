"""Filing e-mail a batch per transaction (ingest_batch): the same outcome as one message at a
time, whatever the batch holds, and nothing lost when one message in it fails."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pytest
import sqlalchemy as sa
from flask import g

from kontaktcenter.cases.models import Case, Contact
from kontaktcenter.channels.email import filing
from kontaktcenter.channels.email import intake as mail_intake
from kontaktcenter.channels.email.intake import IngestResult, ingest, ingest_batch
from kontaktcenter.channels.email.models import (
    Direction,
    MailKind,
    MailMessage,
    MailStatus,
    RoutingRule,
    RuleKind,
)
from kontaktcenter.core.extensions import db, utcnow
from kontaktcenter.organisation.models import CaseType
from tests import factories
from tests.mailutil import corpus_messages, make_mail


@pytest.fixture(autouse=True)
def _senders_believed(app, monkeypatch):
    """These tests are about batches, not about checking senders (test_mail_trust.py): their
    mail carries no Authentication-Results, so From addresses are believed as before."""
    monkeypatch.setitem(app.config, "MAIL_SENDER_TRUST", "as_before")


def _acks() -> list[str]:
    return sorted(
        db.session.scalars(
            sa.select(MailMessage.recipient).where(MailMessage.kind == MailKind.ACKNOWLEDGEMENT)
        )
    )


def _case(reference: str | None) -> Case:
    return db.session.scalars(sa.select(Case).where(Case.reference == reference)).one()


# --- the same as one at a time -----------------------------------------------------------


def _empty_tables() -> None:
    db.session.remove()
    with db.engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # The audit log's triggers refuse deletes (migration 0017): off for this transaction.
            connection.exec_driver_sql("SET LOCAL session_replication_role = replica")
        for table in reversed(db.metadata.sorted_tables):
            connection.execute(table.delete())
    for name in list(vars(g)):  # per-job caches (own addresses, rules, goal definitions)
        delattr(g, name)


def _with_rules() -> None:
    org = factories.make_org()
    db.session.add_all(
        [
            RoutingRule(
                position=1,
                kind=RuleKind.RECIPIENT,
                pattern="bygglov@kommun.example",
                case_type=org.bygglov,
                to_department=True,
            ),
            RoutingRule(
                position=2, kind=RuleKind.SUBJECT, pattern="bygglov", case_type=org.bygglov
            ),
        ]
    )
    db.session.commit()


def _snapshot(results: list[IngestResult], started: datetime) -> dict:
    """Everything a user could see of the intake, without ids and times of the run itself."""
    cases = db.session.scalars(sa.select(Case).order_by(Case.reference)).all()
    return {
        "results": [(r.result, r.reference, r.reason) for r in results],
        "cases": [
            (
                case.reference,
                case.status.value,
                case.summary,
                case.case_type.name if case.case_type else None,
                case.department.name if case.department else None,
                case.contact.email if case.contact else None,
                case.linked_case.reference if case.linked_case else None,
                case.received_at if case.received_at < started else "on arrival",
                sorted(a.kind.value for a in case.activities),
                sorted(
                    (goal.target.value, goal.met_at is not None, goal.cancelled_at is not None)
                    for goal in case.goals
                ),
            )
            for case in cases
        ],
        "messages": [
            (
                m.message_id,
                m.raw_sha256,
                m.status.value,
                m.kind.value,
                m.case.reference if m.case else None,
                m.reason,
                sorted(a.blob_sha256 for a in m.attachments),
            )
            for m in db.session.scalars(
                sa.select(MailMessage)
                .where(MailMessage.direction == Direction.INBOUND)
                .order_by(MailMessage.id)
            )
        ],
        "contacts": sorted(
            (c.email or "", c.name or "") for c in db.session.scalars(sa.select(Contact))
        ),
        "acknowledged": _acks(),
    }


def _run(raws: list[bytes], file: Callable[[list[bytes]], list[IngestResult]]) -> dict:
    _empty_tables()
    _with_rules()
    started = utcnow()
    results = file(raws)
    db.session.expire_all()
    return _snapshot(results, started)


@pytest.mark.parametrize("batch_size", [25, 400])
def test_the_corpus_files_in_batches_exactly_as_one_at_a_time(
    app, committed_db, outbox, monkeypatch, batch_size
):
    """Every real-world and Swedish message of the corpus, twice over (so the second half is
    duplicates, replies and subject references to cases made earlier, in the same batch or an
    earlier one), filed one per transaction and then in batches: the same cases, the same
    references, messages, contacts, timelines, goals and acknowledgements."""
    corpus = [path.read_bytes() for path in corpus_messages()]
    raws = corpus + corpus[::3]
    one_at_a_time = _run(raws, lambda raws: [ingest(raw) for raw in raws])

    monkeypatch.setitem(app.config, "MAIL_BATCH_MESSAGES", batch_size)
    batched = _run(
        raws,
        lambda raws: [
            result
            for group in mail_intake.batches(enumerate(raws))
            for result in ingest_batch([raw for _i, raw in group])
        ],
    )

    assert len(one_at_a_time["results"]) == len(raws) == len(batched["results"])
    assert {r[0] for r in one_at_a_time["results"]} >= {"created", "joined", "duplicate"}
    for key in one_at_a_time:
        assert batched[key] == one_at_a_time[key], key


# --- what a batch holds ------------------------------------------------------------------


def test_a_reply_to_a_message_earlier_in_the_batch_joins_its_case(db_session, outbox):
    first, reply = ingest_batch(
        [
            make_mail(message_id="<q@example.se>", subject="Fråga om bygglov"),
            make_mail(message_id="<r@example.se>", in_reply_to="<q@example.se>", subject="Re: x"),
        ]
    )
    assert (first.result, reply.result) == ("created", "joined")
    assert reply.reference == first.reference
    case = _case(first.reference)
    assert [m.message_id for m in case.messages if m.direction == Direction.INBOUND] == [
        "<q@example.se>",
        "<r@example.se>",
    ]


def test_a_subject_reference_to_a_case_made_earlier_in_the_batch_joins_it(db_session, outbox):
    """The new case's number is only taken at the commit: the citing message waits for it."""
    (first,) = ingest_batch([make_mail(subject="Första frågan")])  # the next number is known
    number = int(first.reference.rsplit("-", 1)[1]) + 1
    coming = f"{first.reference.rsplit('-', 1)[0]}-{number:06d}"
    new, cited, other = ingest_batch(
        [
            make_mail(sender="bo@example.se", subject="Bygglov för garage"),
            make_mail(sender="bo@example.se", subject=f"Komplettering [{coming}]"),
            make_mail(sender="eva@example.se", subject=f"Om [{coming}]"),
        ]
    )
    assert new.reference == coming
    assert cited.result == "joined" and cited.reference == coming
    # Someone who is not a party gets a case of their own, linked to the cited one.
    assert other.result == "created" and _case(other.reference).linked_case == _case(coming)


def test_the_same_message_twice_in_a_batch_is_one_case(db_session, outbox):
    raw = make_mail(message_id="<twice@example.se>")
    without_id = make_mail(subject="Utan id").replace(b"Message-ID:", b"X-Old-Message-ID:")
    first, again, bare, bare_again = ingest_batch([raw, raw, without_id, without_id])
    assert first.result == "created" and bare.result == "created"
    assert (again.result, again.reference, again.message_pk) == (
        "duplicate",
        first.reference,
        first.message_pk,
    )
    assert (bare_again.result, bare_again.reference) == ("duplicate", bare.reference)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Case)) == 2
    # ... and again in a later batch: the database holds them now.
    assert [r.result for r in ingest_batch([raw, without_id])] == ["duplicate", "duplicate"]


def test_a_new_sender_writing_twice_in_a_batch_is_one_contact(db_session, outbox, app):
    results = ingest_batch(
        [make_mail(sender="Nya Nilsson <ny@example.se>", subject=f"Fråga {i}") for i in range(5)]
    )
    assert [r.result for r in results] == ["created"] * 5
    contacts = db.session.scalars(sa.select(Contact).where(Contact.email == "ny@example.se"))
    (contact,) = contacts.all()
    assert contact.name == "Nya Nilsson"
    assert {_case(r.reference).contact for r in results} == {contact}
    # The acknowledgement limit counts the ones this batch sends.
    assert _acks() == ["ny@example.se"] * app.config["ACK_LIMIT_PER_HOUR"]


def test_one_message_that_fails_does_not_hold_back_the_others(db_session, outbox, monkeypatch):
    real = filing._thread

    def broken_for_one(parsed, batch):
        if parsed.message_id == "<boom@example.se>":
            raise RuntimeError("boom")
        return real(parsed, batch)

    monkeypatch.setattr(filing, "_thread", broken_for_one)
    results = ingest_batch(
        [
            make_mail(message_id="<a@example.se>", subject="A"),
            make_mail(message_id="<boom@example.se>", subject="B"),
            make_mail(message_id="<c@example.se>", in_reply_to="<a@example.se>", subject="C"),
        ]
    )
    assert [r.result for r in results] == ["created", "rejected", "joined"]
    assert results[2].reference == results[0].reference
    kept = db.session.get(MailMessage, results[1].message_pk)
    assert kept.status == MailStatus.UNREADABLE and "RuntimeError" in kept.reason
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Case)) == 1


def test_batches_respect_the_message_and_byte_limits(app, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_BATCH_MESSAGES", 3)
    monkeypatch.setitem(app.config, "MAIL_BATCH_BYTES", 100)
    items = [(i, b"x" * size) for i, size in enumerate([10, 10, 10, 10, 60, 50, 500, 1])]
    with app.app_context():
        groups = [[i for i, _raw in group] for group in mail_intake.batches(items)]
    # Three at most; no more than 100 bytes unless one message alone is larger.
    assert groups == [[0, 1, 2], [3, 4], [5], [6], [7]]


def test_a_reply_citing_two_messages_of_the_batch_joins_the_earlier_ones_case(db_session, outbox):
    first, second, reply = ingest_batch(
        [
            make_mail(sender="a@example.se", message_id="<a1@example.se>", subject="Första"),
            make_mail(sender="b@example.se", message_id="<b1@example.se>", subject="Andra"),
            make_mail(
                sender="b@example.se",
                message_id="<c1@example.se>",
                in_reply_to="<b1@example.se>",
                headers={"References": "<a1@example.se> <b1@example.se>"},
                subject="Re: båda",
            ),
        ]
    )
    # As one at a time: the earliest filed message the reply cites decides.
    assert reply.result == "joined" and reply.reference == first.reference != second.reference


def test_reprocessing_a_kept_copy_of_a_message_filed_since_keeps_it(
    db_session, outbox, monkeypatch
):
    raw = make_mail(message_id="<igen@example.se>")
    real = filing._thread
    monkeypatch.setattr(filing, "_thread", lambda *args: 1 / 0)
    kept = ingest(raw)
    monkeypatch.setattr(filing, "_thread", real)
    filed = ingest(raw)  # delivered again: the kept copy has no Message-ID of its own
    assert (kept.result, filed.result) == ("rejected", "created")

    again = mail_intake.reprocess(kept.message_pk)

    assert (again.result, again.reference) == ("duplicate", filed.reference)
    assert db.session.get(MailMessage, kept.message_pk) is not None


def test_a_queue_that_is_down_loses_receipts_not_mail(db_session, outbox, monkeypatch):
    def down(*args, **kwargs):
        raise ConnectionError("Redis is down")

    monkeypatch.setattr("kontaktcenter.core.jobs.enqueue", down)
    one = ingest(make_mail(sender="a@example.se"))
    two, three = ingest_batch([make_mail(sender="b@example.se"), make_mail(sender="c@example.se")])
    assert [r.result for r in (one, two, three)] == ["created"] * 3
    inbound = db.session.scalars(
        sa.select(MailMessage).where(MailMessage.direction == Direction.INBOUND)
    ).all()
    assert len(inbound) == 3 and all(m.status == MailStatus.RECEIVED for m in inbound)


def test_a_case_type_switched_off_elsewhere_no_longer_routes_the_next_batch(
    db_session, org, outbox
):
    db.session.add(
        RoutingRule(position=1, kind=RuleKind.SUBJECT, pattern="buller", case_type=org.miljotillsyn)
    )
    db.session.commit()
    (before,) = ingest_batch([make_mail(subject="Buller 1")])
    assert _case(before.reference).case_type == org.miljotillsyn
    # An admin in another process (no flush in this session) switches the case type off.
    db.session.execute(
        sa.update(CaseType).where(CaseType.id == org.miljotillsyn.id).values(active=False)
    )
    db.session.commit()

    (after,) = ingest_batch([make_mail(subject="Buller 2")])

    assert after.result == "created" and _case(after.reference).case_type is None
