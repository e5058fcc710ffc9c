"""Large messages (issue #13, item 3): stored first and fast on every door, filed by a job,
retried when a worker dies, kept as "kunde inte behandlas" after three tries, and shown
bounded ("för stort att visa – ladda ner originalet")."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from kontaktcenter.cases.models import Case
from kontaktcenter.channels.email import intake, parse_ahead
from kontaktcenter.channels.email import store as mail_store
from kontaktcenter.channels.email import stored as stored_mail
from kontaktcenter.channels.email.imap import poll_all
from kontaktcenter.channels.email.mime.parsing import (
    BODY_HTML_LIMIT,
    BODY_TEXT_LIMIT,
    parse_message,
)
from kontaktcenter.channels.email.models import Blob, Mailbox, MailMessage, MailStatus
from kontaktcenter.core import outbox
from kontaktcenter.core.extensions import db, utcnow
from kontaktcenter.core.outbox import OutboxJob
from tests import mailservers
from tests.api_client import api_as
from tests.factories import post
from tests.mailutil import make_mail

ROOT = Path(__file__).resolve().parent.parent
dovecot = mailservers.dovecot
imap_account = mailservers.imap_account
tls_cert = mailservers.tls_cert

FIRST_WORDS = "Början på tabellen: bygglov för altanen på Storgatan 1"
LAST_WORDS = "Slutet som ligger efter fyrtio megabyte"


def html_only_mail(size: int, message_id: str = "<stor-tabell@example.se>") -> bytes:
    """A real HTML-only message of at least `size` bytes: one table row repeated."""
    head = (
        "From: Anna Andersson <anna@example.se>\r\nTo: kontakt@kommun.example\r\n"
        "Subject: Stor tabell\r\nDate: Mon, 16 Nov 2026 09:00:00 +0100\r\n"
        f"Message-ID: {message_id}\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        f"<html><body><p>{FIRST_WORDS}</p><table>\r\n"
    ).encode()
    row = (
        '<tr><td>Rad</td><td><b>grannens</b> &amp; <a href="https://example.se/a">länk</a>'
        "</td><td>ärende</td></tr>\r\n"
    ).encode()
    tail = f"</table><p>{LAST_WORDS}</p></body></html>\r\n".encode()
    return head + row * ((size - len(head) - len(tail)) // len(row) + 1) + tail


class WorkerKilled(BaseException):
    """Stands for the process dying (OOM, a timeout's SIGKILL, a deploy): nothing catches it."""


def _message(pk: int) -> MailMessage:
    db.session.expire_all()
    message = db.session.get(MailMessage, pk)
    assert message is not None
    return message


def _file_stored_jobs() -> list[OutboxJob]:
    return list(
        db.session.scalars(sa.select(OutboxJob).where(OutboxJob.task == "email.file_stored"))
    )


def _stored_before_parsing(monkeypatch) -> list[bool]:
    """Record, each time intake starts parsing a message, whether its bytes, its pending row
    and the job that files it were committed already."""
    seen: list[bool] = []
    real = parse_message

    def spy(raw: bytes):
        digest = hashlib.sha256(raw).hexdigest()
        pending = db.session.scalars(
            sa.select(MailMessage).where(
                MailMessage.raw_sha256 == digest, MailMessage.status == MailStatus.PENDING
            )
        ).all()
        seen.append(
            db.session.get(Blob, digest) is not None
            and len(pending) == 1
            and any(job.args == {"message_pk": pending[0].id} for job in _file_stored_jobs())
        )
        return real(raw)

    for module in (intake, parse_ahead):  # (a drain parses in parse_ahead's parse_all)
        monkeypatch.setattr(module, "parse_message", spy)
    return seen


# --- the HTTP door with a real 40 MB HTML-only message -----------------------------------------


def test_a_40_mb_html_only_message_is_stored_first_filed_by_a_job_and_shown_bounded(
    client, org, login, outbox_dir, monkeypatch
):
    raw = html_only_mail(40 * 1024 * 1024)
    stored_first = _stored_before_parsing(monkeypatch)

    response = api_as(client, org.agent).open(
        "POST", "/inbound/email", data=raw, content_type="message/rfc822"
    )

    assert response.status_code == 202
    body = response.get_json()
    assert body["result"] == "accepted" and body["reference"] is None
    assert stored_first == [True]  # parsed only after the bytes and the job were committed
    message = _message(body["id"])  # the job (run eagerly here) filed it under the same id
    assert message.status == MailStatus.RECEIVED and message.case is not None
    assert mail_store.load(message.raw_sha256) == raw and message.size == len(raw)
    # What is extracted and rendered is capped, whatever the size: the start, not the end.
    assert FIRST_WORDS in message.text_body and len(message.text_body) <= BODY_TEXT_LIMIT
    assert message.html_body is not None and FIRST_WORDS in message.html_body
    assert len(message.html_body) < 2 * BODY_HTML_LIMIT
    assert LAST_WORDS not in message.text_body + message.html_body
    assert message.flags["truncated"] is True

    login(org.agent)
    page = client.get(f"/arenden/{message.case_id}").get_data(as_text=True)
    original = f"/arenden/{message.case_id}/meddelanden/{message.id}/original"
    assert re.search(
        r"för stort att visa – <a href=\"" + re.escape(original) + r"\">ladda ner originalet</a>",
        page,
    )
    assert len(page) < 4 * BODY_HTML_LIMIT and LAST_WORDS not in page
    assert client.get(original).data == raw  # the whole message, byte for byte
    with_images = client.get(f"/arenden/{message.case_id}/meddelanden/{message.id}/med-bilder")
    shown = with_images.get_data(as_text=True)
    assert with_images.status_code == 200 and FIRST_WORDS in shown
    assert "för stort att visa" in shown and LAST_WORDS not in shown
    assert len(shown) < 4 * BODY_HTML_LIMIT


def test_an_ordinary_message_keeps_the_synchronous_contract(client, org, outbox_dir):
    response = api_as(client, org.agent).open(
        "POST", "/inbound/email", data=make_mail(), content_type="message/rfc822"
    )
    assert response.status_code == 201 and set(response.get_json()) == {
        "reference",
        "result",
        "reason",
    }
    assert _file_stored_jobs() == []


# --- the job: retried when the worker dies, kept after three tries -----------------------------


@pytest.fixture
def small_threshold(app, monkeypatch):
    """Messages over 2 kB count as large (the same code path as 5 MB, without the bytes)."""
    monkeypatch.setitem(app.config, "MAIL_ASYNC_BYTES", 2048)
    return 2048


def _large(message_id: str = "<stor@example.se>", subject: str = "Stor bilaga") -> bytes:
    return make_mail(message_id=message_id, subject=subject, body="Rad med text.\n" * 400)


def test_a_worker_dying_mid_message_leaves_it_to_be_retried_and_after_three_it_is_kept(
    app, db_session, outbox_dir, small_threshold, monkeypatch, login, client, org
):
    def dies(message_pk: int):
        raise WorkerKilled

    monkeypatch.setattr(stored_mail, "_file_stored", dies)
    raw = _large()
    with pytest.raises(WorkerKilled):  # the job runs at once here, and its process "dies"
        intake.ingest(raw)
    (stored,) = db.session.scalars(
        sa.select(MailMessage).where(MailMessage.status == MailStatus.PENDING)
    ).all()
    assert mail_store.load(stored.raw_sha256) == raw and stored.subject == "Stor bilaga"
    (job,) = _file_stored_jobs()
    later = utcnow()
    for tries in (1, 2):
        assert _message(stored.id).attempts == tries
        later += timedelta(seconds=app.config["OUTBOX_STUCK_SECONDS"] + 1)
        with pytest.raises(WorkerKilled):  # recovery runs it again: it dies again
            outbox.recover(later)
    assert _message(stored.id).status == MailStatus.PENDING
    later += timedelta(seconds=app.config["OUTBOX_STUCK_SECONDS"] + 1)
    outbox.recover(later)  # three tries began and none finished: kept, not tried forever

    kept = _message(stored.id)
    assert kept.status == MailStatus.UNREADABLE and kept.case_id is None
    assert kept.reason.startswith("Kunde inte behandlas (3 försök)")
    assert mail_store.load(kept.raw_sha256) == raw
    db.session.expire_all()
    assert db.session.get(OutboxJob, job.id).state == "done"
    login(org.admin)
    listed = client.get("/admin/ej-kopplade/").get_data(as_text=True)
    assert "Stor bilaga" in listed and "Kunde inte behandlas (3 försök)" in listed

    # Fixed meanwhile: the admin processes it again, and the job files it.
    monkeypatch.undo()
    monkeypatch.setitem(app.config, "MAIL_ASYNC_BYTES", small_threshold)
    response = post(client, f"/admin/ej-kopplade/{stored.id}/behandla-igen", follow_redirects=True)
    assert "behandlas igen i bakgrunden" in response.get_data(as_text=True)
    filed = _message(stored.id)
    assert filed.status == MailStatus.RECEIVED and filed.case is not None


def test_a_failing_filing_is_retried_with_backoff_then_kept_with_its_reason(
    app, db_session, outbox_dir, small_threshold, monkeypatch
):
    calls: list[int] = []

    def fails(message_pk: int):
        calls.append(message_pk)
        raise RuntimeError("databasen svarar inte")

    monkeypatch.setattr(stored_mail, "_file_stored", fails)
    # The message's own count decides, also when the outbox would give up on the job as soon.
    monkeypatch.setitem(app.config, "OUTBOX_MAX_ATTEMPTS", 3)
    result = intake.ingest(_large())
    assert result.result == "accepted"
    later = utcnow()
    for _ in range(4):  # past each backoff
        later += timedelta(hours=1)
        outbox.recover(later)
    kept = _message(result.message_pk)
    assert len(calls) == stored_mail.MAX_ATTEMPTS == 3
    assert kept.status == MailStatus.UNREADABLE
    assert kept.reason == "Kunde inte behandlas (3 försök): RuntimeError: databasen svarar inte"


def test_a_transient_failure_files_the_message_once_on_the_next_try(
    app, db_session, outbox_dir, small_threshold, monkeypatch
):
    real = stored_mail._file_stored
    failures = [RuntimeError("tillfälligt fel")]

    def flaky(message_pk: int):
        if failures:
            raise failures.pop()
        return real(message_pk)

    monkeypatch.setattr(stored_mail, "_file_stored", flaky)
    result = intake.ingest(_large())
    arrived = _message(result.message_pk).created_at
    assert _message(result.message_pk).status == MailStatus.PENDING
    outbox.recover(utcnow() + timedelta(minutes=5))
    filed = _message(result.message_pk)
    assert filed.status == MailStatus.RECEIVED and filed.reason is None
    assert filed.created_at == arrived  # filed as it would have been when it arrived
    assert stored_mail.file_stored(result.message_pk) is None  # a second run does nothing
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Case)) == 1
    # The same large message again: stored first, then recognised as a duplicate and dropped.
    again = intake.ingest(_large())
    assert again.result == "accepted" and db.session.get(MailMessage, again.message_pk) is None
    assert db.session.scalar(sa.select(sa.func.count()).select_from(MailMessage)) == 2  # + receipt


# --- the other doors ---------------------------------------------------------------------------


def test_import_mail_stores_a_large_message_first(app, db_session, outbox_dir, small_threshold):
    folder = outbox_dir / "import"
    folder.mkdir()
    (folder / "1.eml").write_bytes(_large())
    (folder / "2.eml").write_bytes(make_mail(message_id="<liten@example.se>"))
    result = app.test_cli_runner().invoke(args=["import-mail", str(folder)])
    assert result.exit_code == 0, result.output
    assert "Nya ärenden: 1," in result.stdout
    assert "Stora meddelanden som sparats och behandlas i bakgrunden: 1" in result.stdout
    statuses = db.session.scalars(
        sa.select(MailMessage.status).where(MailMessage.message_id.like("<%@example.se>"))
    ).all()
    assert sorted(statuses) == [MailStatus.RECEIVED, MailStatus.RECEIVED]  # the job filed it


def test_several_large_messages_stored_at_once_each_get_their_own_row_and_job(
    app, db_session, small_threshold, monkeypatch
):
    """A batch with several large messages (an archive import's, here) stores them together:
    each caller's result names its own row, which shows its own sender and subject while it
    waits and keeps what the filing must know (an archive's received times), and each row has
    the outbox row that files it."""
    monkeypatch.setitem(app.config, "JOBS_MODE", "thread")  # stored, not yet filed
    monkeypatch.setattr(outbox, "_hand_over_all", lambda rows, force=False: None)
    senders = [f"avsandare{n}@example.se" for n in range(4)]
    raws = [
        make_mail(
            sender=f"Avsändare {n} <{sender}>",
            message_id=f"<stor{n}@example.se>",
            subject=f"Bilaga {n}",
            body="Rad med text.\n" * 400,
        )
        for n, sender in enumerate(senders)
    ]
    raws.insert(2, make_mail(message_id="<liten-mitt@example.se>"))  # filed now, between them
    results = intake.ingest_batch(raws, keep_received_time=True)
    assert [r.result for r in results] == [
        "accepted",
        "accepted",
        "created",
        "accepted",
        "accepted",
    ]
    stored = [r for r in results if r.result == "accepted"]
    rows = [db.session.get(MailMessage, r.message_pk) for r in stored]
    assert [(m.status, m.from_addr, m.from_name, m.subject, m.flags) for m in rows] == [
        (MailStatus.PENDING, sender, f"Avsändare {n}", f"Bilaga {n}", {"keep_received_time": True})
        for n, sender in enumerate(senders)
    ]
    assert [mail_store.load(m.raw_sha256) for m in rows] == [raws[i] for i in (0, 1, 3, 4)]
    jobs = db.session.scalars(
        sa.select(OutboxJob).where(OutboxJob.task == "email.file_stored").order_by(OutboxJob.id)
    ).all()
    assert [job.args for job in jobs] == [{"message_pk": m.id} for m in rows]


def test_imap_poll_stores_a_large_message_marks_it_and_a_job_files_it(
    app, db_session, outbox_dir, small_threshold, imap_account, monkeypatch
):
    env = "KC_TEST_IMAP_PASSWORD_LARGE"
    monkeypatch.setenv(env, imap_account.password)
    mailbox = Mailbox(
        address=f"{imap_account.user}@kommun.example",
        name="Stora",
        imap_host="127.0.0.1",
        imap_port=imap_account.server.port,
        imap_security="none",
        imap_user=imap_account.user,
        password_env=env,
    )
    db.session.add(mailbox)
    db.session.commit()
    imap_account.append(_large())
    jobs_run: list[int] = []
    monkeypatch.setattr(outbox, "dispatch", lambda: jobs_run.append(1))  # the job: later

    ((_address, outcome),) = poll_all()

    assert outcome == "created 0, joined 0, duplicate 0, rejected 0, accepted 1"
    assert [m.flags for m in imap_account.messages()] == [{"\\Seen", "$Kontaktcenter"}]
    (stored,) = db.session.scalars(sa.select(MailMessage)).all()
    assert stored.status == MailStatus.PENDING and stored.mailbox_id == mailbox.id
    monkeypatch.undo()
    monkeypatch.setitem(app.config, "MAIL_ASYNC_BYTES", small_threshold)
    outbox.recover(utcnow() + timedelta(minutes=1))
    filed = _message(stored.id)
    assert filed.status == MailStatus.RECEIVED and filed.mailbox_id == mailbox.id


# --- deployment --------------------------------------------------------------------------------


def test_procfile_sets_worker_timeouts_that_fit_the_jobs(app):
    procfile = dict(
        line.split(": ", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line
    )
    web = procfile["web"]
    timeout = re.search(r"--timeout \$\{WEB_TIMEOUT:-(\d+)\}", web)
    assert timeout and "--graceful-timeout" in web
    # A web worker stores any message the door accepts well within its timeout, and a job
    # (the RQ timeout) ends before the outbox takes it for dead and runs it again.
    assert int(timeout.group(1)) >= 60
    assert app.config["OUTBOX_JOB_TIMEOUT"] < app.config["OUTBOX_STUCK_SECONDS"]


@pytest.fixture
def outbox_dir(app, tmp_path):
    app.config["OUTBOX_DIR"] = str(tmp_path)
    yield tmp_path
    app.config["OUTBOX_DIR"] = None
