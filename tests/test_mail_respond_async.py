"""The HTTP door with `Prefer: respond-async` (RFC 7240, issue #16): a gateway's message is
stored and answered at once, and the `email.file_stored` batch task files what was stored
meanwhile in arrival order, runs of them together, a batch per transaction, each message as of
when it arrived and under the id its sender was given. One bad message uses up its own tries
only; a worker dying mid-batch leaves each message to be filed alone; two runners of the same
message file it once."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from kontaktcenter.cases.models import Case
from kontaktcenter.channels.email import filing, intake, parse_ahead
from kontaktcenter.channels.email import store as mail_store
from kontaktcenter.channels.email import stored as stored_mail
from kontaktcenter.channels.email.models import Direction, MailKind, MailMessage, MailStatus
from kontaktcenter.core import jobs, outbox
from kontaktcenter.core.extensions import db, utcnow
from kontaktcenter.core.outbox import OutboxJob
from tests.api_client import api_as
from tests.conftest import run_in_threads, threaded_postgres_app
from tests.mailutil import make_mail, record_parse_aheads
from tests.test_mail_large import WorkerKilled, _message, _stored_before_parsing

TASK = "email.file_stored"
# Acknowledgements are written as files (conftest's `outbox` fixture), not sent.
pytestmark = pytest.mark.usefixtures("outbox")


def _door(client, user, raw: bytes, prefer: str | None):
    headers = {"Prefer": prefer} if prefer is not None else {}
    return api_as(client, user).open(
        "POST", "/inbound/email", data=raw, content_type="message/rfc822", headers=headers
    )


@pytest.mark.parametrize(
    "prefer", ["respond-async", "return=minimal, RESPOND-ASYNC; wait=10", "respond-async=1"]
)
def test_a_gateway_preferring_async_gets_202_at_once_and_the_message_is_filed(
    client, org, monkeypatch, prefer
):
    stored_first = _stored_before_parsing(monkeypatch)
    response = _door(client, org.agent, make_mail(message_id="<async@example.se>"), prefer)

    assert response.status_code == 202
    assert response.headers["Preference-Applied"] == "respond-async"
    body = response.get_json()
    assert body["result"] == "accepted" and body["reference"] is None
    assert stored_first == [True]  # parsed only after its bytes, row and job were committed
    filed = _message(body["id"])  # the job (run at once here) filed it under the same id
    assert filed.status == MailStatus.RECEIVED and filed.case is not None
    assert filed.case.summary.startswith("Fråga om bygglov")


@pytest.mark.parametrize("prefer", [None, "return=minimal", "respond-asynchronously"])
def test_without_the_preference_the_door_answers_with_the_case(client, org, prefer):
    response = _door(client, org.agent, make_mail(message_id="<sync@example.se>"), prefer)
    assert response.status_code == 201 and "Preference-Applied" not in response.headers
    assert response.get_json()["reference"].startswith("KC-")


def _stored(*raws: bytes, minutes_ago: int = 60) -> list[int]:
    """Store messages first, as the door does, arriving a minute apart from `minutes_ago`;
    their filing is left to a drain."""
    results = intake.store_first(list(raws), None)
    db.session.info.pop("outbox_ready", None)  # not run here
    pks = [result.message_pk for result in results]
    for n, pk in enumerate(pks):
        arrived = utcnow() - timedelta(minutes=minutes_ago - n)
        db.session.execute(
            sa.update(MailMessage)
            .where(MailMessage.id == pk)
            .values(created_at=arrived, received_at=arrived)
        )
    db.session.commit()
    return pks


def _together_calls(monkeypatch) -> list[int]:
    sizes: list[int] = []
    real = intake.file_together

    def spy(messages, *args, **kwargs):
        sizes.append(len(messages))
        return real(messages, *args, **kwargs)

    monkeypatch.setattr(intake, "file_together", spy)
    return sizes


def test_messages_stored_meanwhile_are_filed_together_as_of_their_arrival(
    db_session, org, monkeypatch
):
    earlier = intake.ingest(make_mail(message_id="<tidigare@example.se>", subject="Tidigare"))
    first = make_mail(  # dated now, which is after it arrived: not believed
        message_id="<ny@example.se>", subject="Ny fråga", sender="bo@example.se", when=utcnow()
    )
    pks = _stored(
        first,
        make_mail(
            message_id="<svar@example.se>",
            in_reply_to="<ny@example.se>",
            subject="Re: Ny fråga",
            sender="bo@example.se",
        ),
        first,  # delivered twice
        make_mail(message_id="<tidigare@example.se>", subject="Tidigare"),  # filed before
    )
    arrived = [_message(pk).created_at for pk in pks]
    sizes = _together_calls(monkeypatch)

    assert outbox.drain(TASK) == 4

    assert sizes == [4]  # one batch
    new, reply = _message(pks[0]), _message(pks[1])  # filed under the ids given at the door
    assert new.status == reply.status == MailStatus.RECEIVED
    assert reply.case_id == new.case_id  # threaded to a case made in the same batch
    case = db.session.get(Case, new.case_id)
    assert case.received_at == arrived[0]  # its goals run from when it arrived, not from now
    assert (new.created_at, reply.created_at) == (arrived[0], arrived[1])
    pending = sa.select(MailMessage).where(MailMessage.status == MailStatus.PENDING)
    assert db.session.scalars(pending).all() == []  # the duplicates' stored copies dropped
    assert db.session.get(MailMessage, earlier.message_pk).status == MailStatus.RECEIVED
    inbound = sa.select(sa.func.count()).where(MailMessage.direction == Direction.INBOUND)
    assert db.session.scalar(inbound) == 3
    assert {
        row.state for row in db.session.scalars(sa.select(OutboxJob).where(OutboxJob.task == TASK))
    } == {"done"}
    acknowledged = sa.select(MailMessage.case_id).where(
        MailMessage.kind == MailKind.ACKNOWLEDGEMENT
    )
    assert set(db.session.scalars(acknowledged)) == {
        new.case_id,
        _message(earlier.message_pk).case_id,
    }


def test_a_bad_message_uses_its_own_tries_and_the_others_are_filed(
    app, db_session, org, monkeypatch
):
    real = intake.file_together

    def poisoned(messages, *args, **kwargs):
        if any(parsed.subject == "Gift" for parsed in messages):
            raise RuntimeError("kan inte arkiveras")
        return real(messages, *args, **kwargs)

    monkeypatch.setattr(intake, "file_together", poisoned)
    good, bad, other = _stored(
        make_mail(message_id="<a@example.se>", subject="Första"),
        make_mail(message_id="<b@example.se>", subject="Gift"),
        make_mail(message_id="<c@example.se>", subject="Tredje"),
    )
    outbox.drain(TASK)
    for pk in (good, other):  # filed alone after the batch failed
        assert _message(pk).status == MailStatus.RECEIVED
    kept = _message(bad)
    assert (kept.status, kept.attempts) == (MailStatus.PENDING, 1)  # the failed batch's try
    assert kept.reason == "RuntimeError: kan inte arkiveras"  # was given back: its own only
    later = utcnow()
    for tries, status in ((2, MailStatus.PENDING), (3, MailStatus.UNREADABLE)):
        later += timedelta(minutes=5)  # past the outbox's backoff
        outbox.recover(later)  # (runs the row here: eager jobs)
        kept = _message(bad)
        assert (kept.status, kept.attempts) == (status, tries)
    assert kept.reason == "Kunde inte behandlas (3 försök): RuntimeError: kan inte arkiveras"
    assert mail_store.load(kept.raw_sha256)  # kept for the admin, never lost


def test_a_worker_dying_mid_batch_leaves_each_message_to_be_filed_alone(
    app, db_session, org, monkeypatch
):
    real = intake.file_together
    deaths = [WorkerKilled()]

    def dies_once(messages, *args, **kwargs):
        if deaths:
            raise deaths.pop()
        return real(messages, *args, **kwargs)

    monkeypatch.setattr(intake, "file_together", dies_once)
    pks = _stored(
        *(make_mail(message_id=f"<d{n}@example.se>", subject=f"Fråga {n}") for n in range(3))
    )
    with pytest.raises(WorkerKilled):
        outbox.drain(TASK)
    assert {(_message(pk).status, _message(pk).attempts) for pk in pks} == {(MailStatus.PENDING, 1)}
    sizes = _together_calls(monkeypatch)
    stuck = utcnow() + timedelta(seconds=app.config["OUTBOX_STUCK_SECONDS"] + 1)
    monkeypatch.setitem(app.config, "JOBS_MODE", "thread")  # recover() hands over a drain
    monkeypatch.setattr(outbox, "_draining", set())
    handed = []
    monkeypatch.setattr(jobs, "enqueue", lambda func, *args, **_: handed.append(func.__name__))
    outbox.recover(stuck)
    assert handed == ["drain"]
    assert outbox.drain(TASK, stuck) == 3
    assert sizes == [1, 1, 1]  # run before: each row claimed alone, each message filed alone
    assert {_message(pk).status for pk in pks} == {MailStatus.RECEIVED}
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Case)) == 3


def test_batches_respect_the_byte_limit_and_large_messages_go_alone(
    app, db_session, org, monkeypatch
):
    monkeypatch.setitem(app.config, "MAIL_ASYNC_BYTES", 2048)
    small = [make_mail(message_id=f"<s{n}@example.se>", subject=f"Liten {n}") for n in range(4)]
    monkeypatch.setitem(app.config, "MAIL_BATCH_BYTES", len(small[0]) * 2 + 10)
    large = make_mail(message_id="<stor@example.se>", body="Rad med text.\n" * 400)
    pks = _stored(small[0], large, *small[1:])
    sizes = _together_calls(monkeypatch)
    outbox.drain(TASK)
    # In the order they came: a small one, the large one alone, then two small ones per batch
    # (the byte limit) and the last.
    assert sizes == [1, 1, 2, 1]
    assert {_message(pk).status for pk in pks} == {MailStatus.RECEIVED}


def test_a_backlog_is_filed_batch_by_batch_with_the_next_batch_parsed_ahead(
    app, db_session, org, monkeypatch
):
    """A drain with a backlog files it as a poll does (#16): a batch per transaction, in the
    order the messages came (a reply two batches after the message it answers joins its
    case; a message delivered again is a duplicate, its overlong Message-ID compared in the
    one form it is stored in), the batches after the first parsed in a helper process
    meanwhile."""
    made = record_parse_aheads(monkeypatch)
    monkeypatch.setitem(app.config, "MAIL_BATCH_MESSAGES", 2)
    first = make_mail(message_id="<forsta@example.se>", subject="Fråga", sender="bo@example.se")
    others = [make_mail(message_id=f"<m{n}@example.se>", subject=f"Ärende {n}") for n in range(2)]
    overlong = make_mail(message_id="<" + "x" * 1200 + "@example.se>", subject="Lång")
    reply = make_mail(
        message_id="<svaret@example.se>",
        in_reply_to="<forsta@example.se>",
        subject="Re: Fråga",
        sender="bo@example.se",
    )
    pks = _stored(first, *others, overlong, reply, overlong)
    sizes = _together_calls(monkeypatch)
    parsed_here = _parses_in_this_process(monkeypatch)

    assert outbox.drain(TASK) == 6

    assert sizes == [2, 2, 2]
    [ahead] = made
    assert ahead.parsed_by_helper == 4  # the second and third batch
    assert len(parsed_here) == 2  # the first; the helper's results were filed, not redone
    filed = [_message(pk) for pk in pks[:-1]]
    assert {message.status for message in filed} == {MailStatus.RECEIVED}
    assert filed[-1].case_id == filed[0].case_id
    left = sa.select(sa.func.count()).where(MailMessage.status == MailStatus.PENDING)
    assert db.session.scalar(left) == 0  # the duplicate's stored copy dropped
    inbound = sa.select(sa.func.count()).where(MailMessage.direction == Direction.INBOUND)
    assert db.session.scalar(inbound) == 5
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Case)) == 4


def _parses_in_this_process(monkeypatch) -> list[bytes]:
    """Messages parsed in this process (a forked helper's parsing is not seen here)."""
    seen: list[bytes] = []
    real = parse_ahead.parse_message

    def spy(raw: bytes):
        seen.append(raw)
        return real(raw)

    for module in (intake, parse_ahead):
        monkeypatch.setattr(module, "parse_message", spy)
    return seen


def _kills_its_parser(monkeypatch) -> None:
    def killer(raw: bytes):
        raise WorkerKilled()

    for module in (intake, parse_ahead):
        monkeypatch.setattr(module, "parse_message", killer)


def test_a_message_that_kills_its_worker_while_parsed_has_used_a_try(
    app, db_session, org, monkeypatch
):
    """A try is counted and committed before anything parses the message (the review of
    decision 147 found the drain parsing first)."""
    _kills_its_parser(monkeypatch)
    (pk,) = _stored(make_mail(message_id="<dies@example.se>", subject="Dör"))
    with pytest.raises(WorkerKilled):
        outbox.drain(TASK)
    assert _message(pk).attempts == 1


def test_a_message_that_kills_every_worker_is_given_up_after_its_tries(
    app, db_session, org, monkeypatch
):
    _kills_its_parser(monkeypatch)
    (pk,) = _stored(make_mail(message_id="<gift@example.se>", subject="Gift"))
    monkeypatch.setitem(app.config, "JOBS_MODE", "thread")  # recover() hands over, not runs
    monkeypatch.setattr(jobs, "enqueue", lambda *args, **kwargs: None)
    now = utcnow()
    killed = 0
    for _ in range(6):
        monkeypatch.setattr(outbox, "_draining", set())
        try:
            outbox.drain(TASK, now)
        except WorkerKilled:
            killed += 1
        now += timedelta(seconds=app.config["OUTBOX_STUCK_SECONDS"] + 1)
        outbox.recover(now)  # the row its dead worker held is free again
    assert killed == 3  # then it is not parsed again
    kept = _message(pk)
    assert (kept.status, kept.attempts) == (MailStatus.UNREADABLE, 3)


def test_a_batch_whose_stored_bytes_cannot_be_read_does_not_hold_up_the_others(
    app, db_session, org, monkeypatch
):
    """The next batch's bytes are read before the current one is filed; if they cannot be,
    its messages are read again when filed, under their own tries, alone."""
    monkeypatch.setitem(app.config, "MAIL_BATCH_MESSAGES", 2)
    pks = _stored(
        *(make_mail(message_id=f"<b{n}@example.se>", subject=f"Fråga {n}") for n in range(4))
    )
    real = mail_store.load_many
    lost = _message(pks[2]).raw_sha256

    def load_many(digests):
        if lost in digests:
            raise LookupError(lost)
        return real(digests)

    monkeypatch.setattr(mail_store, "load_many", load_many)
    monkeypatch.setattr(mail_store, "load", lambda digest: load_many([digest])[digest])
    outbox.drain(TASK)
    statuses = [_message(pk).status for pk in pks]
    # The first batch, and the last message (alone, after its batch failed), are filed.
    assert statuses == [MailStatus.RECEIVED] * 2 + [MailStatus.PENDING, MailStatus.RECEIVED]
    lost_one = _message(pks[2])
    assert lost_one.attempts == 1 and lost_one.reason == f"LookupError: {lost}"  # its own try


def test_a_reply_is_not_filed_before_the_large_message_it_answers(
    app, db_session, org, monkeypatch
):
    monkeypatch.setitem(app.config, "MAIL_ASYNC_BYTES", 2048)
    original = make_mail(
        message_id="<original@example.se>", subject="Bygglov", body="Rad med text.\n" * 400
    )
    reply = make_mail(
        message_id="<svar@example.se>",
        in_reply_to="<original@example.se>",
        subject="Re: Bygglov",
    )
    first, second = _stored(original, reply)
    outbox.drain(TASK)
    assert _message(second).case_id == _message(first).case_id  # filed in the order they came
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Case)) == 1


def test_a_second_runner_of_a_stored_message_never_removes_the_filed_one(
    db_session, org, monkeypatch
):
    """Two runners of one message (a worker presumed dead that was not): the one that loses the
    race must leave the message the other filed under the same id."""
    (pk,) = _stored(make_mail(message_id="<tva@example.se>"))
    stored_mail.file_stored(pk)  # the first runner files it under its id
    real = filing.Batch._look_up

    def read_before_the_first_committed(self, messages):
        real(self, messages)
        self.lookups.known.clear()

    monkeypatch.setattr(filing.Batch, "_look_up", read_before_the_first_committed)
    with pytest.raises(IntegrityError):  # raised for the outbox, whose retry finds it filed
        stored_mail._file_stored(pk)
    db.session.rollback()
    monkeypatch.undo()
    assert _message(pk).status == MailStatus.RECEIVED
    assert stored_mail.file_stored(pk) is None


@pytest.mark.postgres
def test_two_drains_and_two_runners_file_every_message_once(tmp_path):
    """Real threads on PostgreSQL: two drains of the same backlog, and two runners of the same
    messages one by one, each message is filed exactly once and none is lost."""
    with threaded_postgres_app("kontaktcenter_respond_async", threads=4) as app:
        app.config.update(JOBS_MODE="eager", OUTBOX_DIR=str(tmp_path))
        with app.app_context():
            raws = [
                make_mail(message_id=f"<t{n}@example.se>", subject=f"Fråga {n}") for n in range(40)
            ]
            pks = [result.message_pk for result in intake.store_first(raws, None)]
            db.session.info.pop("outbox_ready", None)
            db.session.remove()

        def work(i: int) -> int:
            if i < 2:
                return outbox.drain(TASK)
            filed = 0
            for pk in pks:
                try:
                    filed += stored_mail.file_stored(pk) is not None
                except Exception:  # noqa: BLE001 - the outbox would retry; the end state counts
                    db.session.rollback()
            return filed

        run_in_threads(app, work, n=4)
        with app.app_context():
            rows = db.session.scalars(sa.select(MailMessage).where(MailMessage.id.in_(pks))).all()
            assert sorted(row.id for row in rows) == sorted(pks)
            assert {row.status for row in rows} == {MailStatus.RECEIVED}
            assert db.session.scalar(sa.select(sa.func.count()).select_from(Case)) == 40
            states = db.session.scalars(sa.select(OutboxJob.state).where(OutboxJob.task == TASK))
            assert set(states) == {"done"}


def test_a_message_whose_case_changed_meanwhile_is_filed_again(db_session, org, monkeypatch):
    """The case a reply joins is changed by another worker between the reply's reading it and
    its commit (its version moves on): the reply is filed again, not kept as unreadable."""
    first = intake.ingest(make_mail(message_id="<fraga@example.se>"))
    real = filing._join
    changes = [1]

    def changed_meanwhile(case, *args, **kwargs):
        if changes:
            changes.pop()
            db.session.execute(  # another worker's commit, as this session would meet it
                sa.update(Case)
                .where(Case.id == case.id)
                .values(version=Case.version + 1)
                .execution_options(synchronize_session=False)
            )
        return real(case, *args, **kwargs)

    monkeypatch.setattr(filing, "_join", changed_meanwhile)
    result = intake.ingest(
        make_mail(message_id="<svar2@example.se>", in_reply_to="<fraga@example.se>")
    )
    assert changes == [] and result.result == "joined" and result.reference == first.reference
