"""Outgoing e-mail over SMTP, against a real SMTP server (aiosmtpd) on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
import sqlalchemy as sa

from kontaktcenter.cases.enums import ActivityKind
from kontaktcenter.cases.models import Case
from kontaktcenter.channels.email import outbound
from kontaktcenter.channels.email import store as mail_store
from kontaktcenter.channels.email.intake import ingest
from kontaktcenter.channels.email.models import MailKind, MailMessage, MailStatus
from kontaktcenter.channels.email.tasks import MAX_ATTEMPTS
from kontaktcenter.core import outbox
from kontaktcenter.core.extensions import db, utcnow
from kontaktcenter.core.outbox import OutboxJob
from tests import mailservers
from tests.mailservers import Received, TlsCert, smtp_server
from tests.mailutil import make_mail

# Fixtures (a throwaway certificate, trusted by the app's default SSL context or not).
tls_cert = mailservers.tls_cert
trust_test_cert = mailservers.trust_test_cert

CITIZEN = "anna@example.se"
CITIZEN_MESSAGE_ID = "<fraga-1@example.se>"


@pytest.fixture
def use_smtp(app, outbox) -> Iterator[Callable[[str], None]]:
    """Point the app at an SMTP server for this test; afterwards back to the outbox."""
    previous = app.config.get("SMTP_URL")

    def use(url: str) -> None:
        app.config["SMTP_URL"] = url

    yield use
    app.config["SMTP_URL"] = previous


def citizen_case() -> Case:
    result = ingest(make_mail(sender=CITIZEN, message_id=CITIZEN_MESSAGE_ID))
    assert result.result == "created"
    return db.session.scalars(sa.select(Case).where(Case.reference == result.reference)).one()


def as_transmitted(raw: bytes) -> bytes:
    """What an SMTP server stores for these bytes: smtplib ends the data with CRLF if needed
    (its dot-stuffing is undone by the server)."""
    return raw if raw.endswith(b"\r\n") else raw + b"\r\n"


def delivered(message: MailMessage, received: Received) -> None:
    """The server got exactly the stored bytes, from our address to the recipient.

    (Holds for messages without a line starting with "." even while the stored bytes have bare
    LF line endings; test_reply_survives_a_strict_rfc5321_server_byte_for_byte covers those.)"""
    assert received.data == as_transmitted(mail_store.load(message.raw_sha256))
    assert received.mail_from == message.from_addr
    assert received.rcpt_tos == [message.recipient]


def test_reply_is_delivered_as_stored_and_threads_to_the_citizen(db_session, org, use_smtp):
    with smtp_server() as server:
        use_smtp(server.url())
        case = citizen_case()
        reply = outbound.reply(case, org.agent, "Hej Anna!\n\nBygglov tar oftast fyra veckor.")
    ack, answer = server.received  # the automatic receipt, then the agent's answer
    acknowledgement = db.session.scalars(
        sa.select(MailMessage).where(MailMessage.kind == MailKind.ACKNOWLEDGEMENT)
    ).one()
    delivered(acknowledgement, ack)
    assert acknowledgement.status == MailStatus.SENT
    delivered(reply, answer)
    assert answer.rcpt_tos == [CITIZEN] and answer.mail_from == "kontaktcenter@localhost"
    assert not answer.tls and answer.login is None

    email = answer.parsed()
    assert email["Message-ID"] == reply.message_id
    assert email["In-Reply-To"] == CITIZEN_MESSAGE_ID
    assert CITIZEN_MESSAGE_ID in email["References"]
    assert f"[{case.reference}]" in email["Subject"]
    assert email["Auto-Submitted"] == "no"
    body = email.get_body(("plain",))
    assert body is not None and "fyra veckor" in body.get_content()

    assert reply.status == MailStatus.SENT and reply.sent_at is not None and reply.attempts == 1
    assert reply.reason is None
    assert case.first_response_at is not None
    kinds = [a.kind for a in case.activities]
    assert ActivityKind.EMAIL_QUEUED in kinds and ActivityKind.EMAIL_SENT in kinds


def test_reply_with_attachment_is_delivered_as_stored(db_session, org, use_smtp):
    with smtp_server() as server:
        case = citizen_case()
        use_smtp(server.url())
        reply = outbound.reply(
            case,
            org.agent,
            "Se bifogad blankett.",
            [outbound.OutgoingFile("ansökan-bygglov.pdf", "application/pdf", b"%PDF-1.4\n" * 500)],
        )
    (answer,) = server.received
    delivered(reply, answer)
    (attachment,) = answer.parsed().iter_attachments()
    assert attachment.get_filename() == "ansökan-bygglov.pdf"
    assert attachment.get_content() == b"%PDF-1.4\n" * 500
    assert reply.status == MailStatus.SENT


def test_reply_survives_a_strict_rfc5321_server_byte_for_byte(db_session, org, use_smtp):
    with smtp_server(strict=True) as server:
        case = citizen_case()
        use_smtp(server.url())
        body = "Hej!\n" + "Så här gör du för att söka bygglov. " * 40 + "\n.punkt först\nHälsningar"
        reply = outbound.reply(case, org.agent, body)
    assert reply.status == MailStatus.SENT, reply.reason
    (answer,) = server.received
    stored = mail_store.load(reply.raw_sha256)
    assert b"\n" not in stored.replace(b"\r\n", b"")  # CRLF throughout, as SMTP requires
    assert answer.data == stored  # exactly, after SMTP transparency


def test_starttls_is_used_when_offered_with_auth_from_the_url(
    db_session, org, use_smtp, trust_test_cert: TlsCert
):
    with smtp_server(tls=trust_test_cert, starttls=True, users={"kc@kommun": "hemligt:ord"}) as (
        server
    ):
        case = citizen_case()
        use_smtp(server.url("kc%40kommun", "hemligt%3Aord"))  # percent-encoded in the URL
        reply = outbound.reply(case, org.agent, "Svar över TLS.")
    (answer,) = server.received
    assert answer.tls and answer.login == "kc@kommun"
    delivered(reply, answer)
    assert reply.status == MailStatus.SENT


def test_smtps_speaks_tls_from_the_start(db_session, org, use_smtp, trust_test_cert: TlsCert):
    with smtp_server(tls=trust_test_cert, implicit_tls=True) as server:
        case = citizen_case()
        use_smtp(server.url())
        reply = outbound.reply(case, org.agent, "Svar över smtps.")
    (answer,) = server.received
    assert answer.tls
    delivered(reply, answer)
    assert reply.status == MailStatus.SENT


def test_untrusted_certificate_is_a_visible_delivery_failure(
    db_session, org, use_smtp, tls_cert: TlsCert
):
    with smtp_server(tls=tls_cert, starttls=True) as server:
        case = citizen_case()
        use_smtp(server.url())
        reply = outbound.reply(case, org.agent, "Får inte gå ut okrypterat.")
    assert server.received == []
    assert reply.status == MailStatus.FAILED and "CERTIFICATE_VERIFY_FAILED" in reply.reason
    assert reply.sent_at is None


def test_credentials_are_never_sent_without_tls(db_session, org, use_smtp):
    with smtp_server(users={"kc": "hemligt"}, auth_require_tls=False) as server:
        case = citizen_case()
        use_smtp(server.url("kc", "hemligt"))
        reply = outbound.reply(case, org.agent, "Svar.")
    assert server.received == []
    assert reply.status == MailStatus.FAILED


def test_refused_recipient_fails_visibly_on_the_case(db_session, org, use_smtp):
    with smtp_server() as server:
        case = citizen_case()
        server.recorder.refuse[CITIZEN] = "550 5.1.1 Mottagaren finns inte"
        use_smtp(server.url())
        reply = outbound.reply(case, org.agent, "Svaret som inte kommer fram.")
    assert server.received == []
    # A 5xx refusal is permanent: final at the first try, no retries.
    assert reply.status == MailStatus.FAILED and reply.sent_at is None and reply.attempts == 1
    assert "550" in reply.reason and "Mottagaren finns inte" in reply.reason
    (failure,) = [a for a in case.activities if a.kind == ActivityKind.DELIVERY_FAILED]
    assert failure.text == reply.reason
    assert failure.data["recipient"] == CITIZEN and failure.data["subject"] == reply.subject
    assert ActivityKind.EMAIL_SENT not in [a.kind for a in case.activities]


def test_unreachable_server_fails_visibly(db_session, org, use_smtp):
    with smtp_server() as server:
        url = server.url()
    case = citizen_case()
    use_smtp(url)  # the server is gone: connection refused
    reply = outbound.reply(case, org.agent, "Ingen lyssnar.")
    # A refused connection may pass: the outbox tries again later, in every job mode.
    assert reply.status == MailStatus.QUEUED and reply.attempts == 1
    assert "ConnectionRefusedError" in reply.reason
    (job,) = [
        job
        for job in db.session.scalars(sa.select(OutboxJob).where(OutboxJob.task == "email.deliver"))
        if job.args == {"message_pk": reply.id}
    ]
    assert (
        job.state == "pending"
        and job.run_after > utcnow()
        and "ConnectionRefused" in job.last_error
    )
    assert not any(a.kind == ActivityKind.DELIVERY_FAILED for a in case.activities)
    for hours in (1, 2):  # the retries, when they are due
        outbox.recover(now=utcnow() + timedelta(hours=hours))
    db.session.refresh(reply)
    assert reply.status == MailStatus.FAILED and reply.attempts == MAX_ATTEMPTS
    assert "ConnectionRefusedError" in reply.reason
    db.session.refresh(job)
    assert job.state == "done"  # the task finished: it gave up, visibly on the case
    assert any(a.kind == ActivityKind.DELIVERY_FAILED for a in case.activities)
