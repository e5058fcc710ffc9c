"""Concurrency on real PostgreSQL: reference numbers, "ta nästa" and e-mail intake in parallel.

These run against their own PostgreSQL database with real commits from several threads (each
with its own connection), since savepoint isolation cannot show races.
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from flask import Flask

from kontaktcenter.cases import actions as case_actions
from kontaktcenter.cases.enums import ActivityKind, Channel, Outcome
from kontaktcenter.cases.models import Activity, Case
from kontaktcenter.channels.email import filing
from kontaktcenter.channels.email.intake import ingest, ingest_batch
from kontaktcenter.channels.email.models import MailMessage
from kontaktcenter.core.audit import AuditEvent
from kontaktcenter.core.extensions import db
from kontaktcenter.core.roles import Role
from kontaktcenter.organisation.models import User
from tests import factories
from tests.conftest import run_in_threads, threaded_postgres_app
from tests.mailutil import make_mail

pytestmark = pytest.mark.postgres
THREADS = 8


@pytest.fixture(scope="module")
def pg_app() -> Iterator[Flask]:
    with threaded_postgres_app("kontaktcenter_concurrency", THREADS) as app:
        yield app


def _run_in_threads(app: Flask, work, n: int = THREADS) -> list:
    return run_in_threads(app, work, n)


def _agents(app: Flask) -> list[int]:
    with app.app_context():
        ids = [factories.make_user(Role.AGENT).id for _ in range(THREADS)]
        db.session.remove()
        return ids


def test_references_are_unique_and_gapless_under_concurrent_creation(pg_app):
    agent_ids = _agents(pg_app)

    def create(i: int) -> list[str]:
        agent = db.session.get(User, agent_ids[i])
        refs = []
        for _ in range(10):
            case = factories.make_case(agent, None, outcome=Outcome.ANSWERED, summary=f"T{i}")
            refs.append(case.reference)
        return refs

    refs = [r for batch in _run_in_threads(pg_app, create) for r in batch]
    assert len(refs) == THREADS * 10 and len(set(refs)) == len(refs)
    numbers = sorted(int(r[-6:]) for r in refs)
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))


def test_take_next_never_gives_two_agents_the_same_case(pg_app):
    agent_ids = _agents(pg_app)
    with pg_app.app_context():
        creator = db.session.get(User, agent_ids[0])
        created = [
            factories.make_case(
                creator, None, outcome=None, channel=Channel.EMAIL, summary="Mejl"
            ).id
            for _ in range(THREADS * 3)
        ]
        db.session.remove()

    def take(i: int) -> list[int]:
        agent = db.session.get(User, agent_ids[i])
        taken = []
        while (case := case_actions.take_next(agent)) is not None:
            taken.append(case.id)
        return taken

    taken = [c for batch in _run_in_threads(pg_app, take) for c in batch]
    assert Counter(taken).most_common(1)[0][1] == 1
    assert set(created) <= set(taken)
    with pg_app.app_context():
        assigned = db.session.execute(
            sa.select(Activity.case_id, sa.func.count())
            .where(Activity.kind == ActivityKind.ASSIGNED, Activity.case_id.in_(created))
            .group_by(Activity.case_id)
        ).all()
        assert all(n == 1 for _, n in assigned) and len(assigned) == len(created)
        owners = db.session.scalars(sa.select(Case.assignee_id).where(Case.id.in_(created))).all()
        assert None not in owners
        db.session.remove()


def test_workers_filing_the_same_mail_at_once_file_each_message_once(pg_app, tmp_path):
    """A re-delivered mailbox, two pollers, an import running beside them: batches of the same
    messages, some in the opposite order (their inserts cross), filed at the same time."""
    pg_app.config["OUTBOX_DIR"] = str(tmp_path)  # acknowledgements are written here
    run = uuid.uuid4().hex[:8]
    questions = [
        make_mail(
            sender=f"medborgare{i}@example.se",
            message_id=f"<samtidigt-{i}-{run}@example.se>",
            subject=f"Fråga {i}",
        )
        for i in range(20)
    ]
    replies = [
        make_mail(
            sender=f"medborgare{i}@example.se",
            message_id=f"<samtidigt-svar-{i}-{run}@example.se>",
            in_reply_to=f"<samtidigt-{i}-{run}@example.se>",
            subject=f"Re: Fråga {i}",
        )
        for i in range(0, 20, 4)
    ]
    raws = questions + replies

    def file(i: int) -> list[tuple[str, str | None]]:
        if i % 2 == 0:
            return [(r.result, r.reference) for r in ingest_batch(raws)]
        # The questions in the opposite order, the replies still after them.
        results = ingest_batch(questions[::-1] + replies)
        results[: len(questions)] = results[: len(questions)][::-1]
        return [(r.result, r.reference) for r in results]

    pg_app.config["MAIL_SENDER_TRUST"] = "as_before"  # replies to their own mail, unchecked
    try:
        runs = _run_in_threads(pg_app, file, n=4)
    finally:
        pg_app.config["OUTBOX_DIR"] = None
        pg_app.config["MAIL_SENDER_TRUST"] = "verified"
    for position in range(len(raws)):
        outcomes = [run[position] for run in runs]
        references = {reference for _result, reference in outcomes}
        assert len(references) == 1, outcomes  # every worker names the same case
        filed = [result for result, _reference in outcomes if result != "duplicate"]
        assert len(filed) == 1, outcomes  # one worker filed it, the others saw a duplicate
    with pg_app.app_context():
        ids = [f"<samtidigt-{i}-{run}@example.se>" for i in range(20)]
        ids += [f"<samtidigt-svar-{i}-{run}@example.se>" for i in range(0, 20, 4)]
        stored = db.session.execute(
            sa.select(MailMessage.message_id, Case.reference)
            .join(Case, Case.id == MailMessage.case_id)
            .where(MailMessage.message_id.in_(ids))
        ).all()
        assert sorted(m for m, _ref in stored) == sorted(ids)
        by_id = dict(stored)
        for i in range(0, 20, 4):  # each reply joined its question's case, whoever filed it
            assert (
                by_id[f"<samtidigt-svar-{i}-{run}@example.se>"]
                == by_id[f"<samtidigt-{i}-{run}@example.se>"]
            )
        assert len(set(by_id.values())) == 20
        db.session.remove()


def test_a_call_logged_while_a_batch_of_mail_is_written_does_not_wait_for_it(pg_app, tmp_path):
    """The reference counter serialises every case creation: a batch of e-mail takes it only
    after its rows are written, so another process numbering a case meanwhile is not held up."""
    pg_app.config["OUTBOX_DIR"] = str(tmp_path)
    run = uuid.uuid4().hex[:8]
    numbered_meanwhile: list[int] = []

    def while_the_batch_is_written(session, _context) -> None:
        with db.engine.connect() as other:  # another web process logging a call
            other.execute(sa.text("SET lock_timeout = '2s'"))
            numbered_meanwhile.append(
                other.execute(
                    sa.text("UPDATE case_sequences SET last_value = last_value RETURNING year")
                ).scalar_one()
            )
            other.rollback()

    try:
        with pg_app.app_context():
            ingest_batch([make_mail(message_id=f"<forsta-{run}@example.se>")])  # a counter row
            sa.event.listen(sa.orm.Session, "after_flush", while_the_batch_is_written)
            try:
                results = ingest_batch(
                    [
                        make_mail(sender=f"p{i}@example.se", message_id=f"<{i}-{run}@example.se>")
                        for i in range(10)
                    ]
                )
            finally:
                sa.event.remove(sa.orm.Session, "after_flush", while_the_batch_is_written)
            assert [r.result for r in results] == ["created"] * 10
            assert all(r.reference.startswith("KC-") for r in results)
            db.session.remove()
    finally:
        pg_app.config["OUTBOX_DIR"] = None
    # It ran during the batch's flush (and the receipts' jobs after it) without waiting.
    assert numbered_meanwhile


def test_replies_to_one_case_at_once_all_join_it(pg_app, tmp_path):
    """The synchronous door in several web processes: replies to the same case arriving at the
    same moment each change the case (its version). A reply that loses the race is filed again,
    never kept as unreadable beside its case (door_bench found 2 of 4,000 so kept)."""
    pg_app.config["OUTBOX_DIR"] = str(tmp_path)
    run = uuid.uuid4().hex[:8]
    try:
        with pg_app.app_context():
            first = ingest(make_mail(message_id=f"<mangasvar-{run}@example.se>"))
            db.session.remove()

        def reply(i: int) -> list[str]:
            return [
                ingest(
                    make_mail(
                        message_id=f"<mangasvar-{run}-{i}-{n}@example.se>",
                        in_reply_to=f"<mangasvar-{run}@example.se>",
                        subject="Re: Fråga om bygglov",
                    )
                ).result
                for n in range(5)
            ]

        results = _run_in_threads(pg_app, reply)
    finally:
        pg_app.config["OUTBOX_DIR"] = None
    assert {result for outcome in results for result in outcome} == {"joined"}
    with pg_app.app_context():
        statuses = db.session.scalars(
            sa.select(MailMessage.status).where(
                MailMessage.message_id.like(f"<mangasvar-{run}-%"),
                MailMessage.case_id
                == db.session.scalar(sa.select(Case.id).where(Case.reference == first.reference)),
            )
        ).all()
        assert len(statuses) == THREADS * 5
        db.session.remove()


def test_filing_a_reply_does_not_hold_up_what_refers_to_its_case(pg_app, tmp_path, monkeypatch):
    """The lock a batch of mail takes on the cases it joins (decision 136) is the one its UPDATE
    takes anyway: an agent opening the case meanwhile (an audit row that refers to it) does not
    wait for the batch's commit."""
    pg_app.config["OUTBOX_DIR"] = str(tmp_path)
    run = uuid.uuid4().hex[:8]
    locked, go = threading.Event(), threading.Event()
    real = filing.Batch.file

    def paused(self, parsed):
        locked.set()  # the look-ups, with the lock, are done
        go.wait(10)
        return real(self, parsed)

    try:
        with pg_app.app_context():
            first = ingest(make_mail(message_id=f"<las-{run}@example.se>"))
            case_id = db.session.scalar(sa.select(Case.id).where(Case.reference == first.reference))
            db.session.remove()
        monkeypatch.setattr(filing.Batch, "file", paused)
        reply = make_mail(
            message_id=f"<las-svar-{run}@example.se>", in_reply_to=f"<las-{run}@example.se>"
        )
        results: list = []
        filer = threading.Thread(target=lambda: results.append(_ingest_in(pg_app, reply)))
        filer.start()
        assert locked.wait(10)
        with pg_app.app_context(), db.engine.connect() as conn:
            conn.exec_driver_sql("SET lock_timeout = '2s'")
            conn.execute(sa.insert(AuditEvent).values(action="view_case", case_id=case_id))
            conn.rollback()
        go.set()
        filer.join(30)
        assert [result.result for result in results] == ["joined"]
    finally:
        go.set()
        pg_app.config["OUTBOX_DIR"] = None


def _ingest_in(app: Flask, raw: bytes):
    with app.app_context():
        try:
            return ingest(raw)
        finally:
            db.session.remove()
