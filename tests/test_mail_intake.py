"""E-mail intake: threading, duplicates, routing, acknowledgements and loop protection."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from kontaktcenter.cases.enums import Channel
from kontaktcenter.cases.models import Case, CaseSequence
from kontaktcenter.channels.email import store as mail_store
from kontaktcenter.channels.email.intake import ingest
from kontaktcenter.channels.email.models import (
    Direction,
    MailKind,
    MailMessage,
    MailStatus,
    RoutingRule,
    RuleKind,
)
from kontaktcenter.core.extensions import db
from tests.mailutil import SWEDISH, corpus_messages, expectations, make_mail


def _acks() -> list[MailMessage]:
    return list(
        db.session.scalars(
            sa.select(MailMessage).where(MailMessage.kind == MailKind.ACKNOWLEDGEMENT)
        )
    )


@pytest.mark.parametrize(
    "path", corpus_messages(), ids=lambda p: p.relative_to(p.parents[1]).as_posix()
)
def test_every_corpus_message_is_filed_and_kept_byte_for_byte(db_session, outbox, path):
    raw = path.read_bytes()
    result = ingest(raw)
    assert result.result in ("created", "joined", "rejected")
    message = db.session.get(MailMessage, result.message_pk)
    assert mail_store.load(message.raw_sha256) == raw
    if result.result == "rejected":
        assert message.reason and message.case_id is None
    else:
        assert message.case is not None and result.reference == message.case.reference
    cases = db.session.scalar(sa.select(sa.func.count()).select_from(Case))
    again = ingest(raw)  # a re-import of the same bytes is recognised, not filed twice
    assert (again.result, again.reference) == ("duplicate", result.reference)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Case)) == cases


def test_swedish_messages_thread_and_dedupe_as_expected(db_session, outbox, app, monkeypatch):
    # The corpus comes from a server that adds no Authentication-Results: believed as before
    # (test_mail_trust.py has what changes when senders must be verified).
    monkeypatch.setitem(app.config, "MAIL_SENDER_TRUST", "as_before")
    db.session.add(CaseSequence(year=2026, last_value=122))
    db.session.commit()
    expected = expectations()
    case_of: dict[str, str | None] = {}
    root_of_case: dict[str, str] = {}
    for name in sorted(expected):
        result = ingest((SWEDISH / name).read_bytes())
        case_of[name] = result.reference
        want = expected[name]
        if want["duplicate_of"]:
            assert result.result == "duplicate", name
            assert result.reference == case_of[want["duplicate_of"]]
        elif want["thread_with"]:
            assert result.result == "joined", name
            assert result.reference == case_of[want["thread_with"]], name
        else:
            assert result.result in ("created", "rejected"), (name, result)
            if result.result == "created":
                assert result.reference not in root_of_case, name
                root_of_case[result.reference] = name
    assert case_of["01_bygglov_utf8_8bit.eml"] == "KC-2026-000123"
    # 14 cites KC-2026-000123 but comes from someone else: a new case, linked to the cited one.
    other = db.session.scalars(
        sa.select(Case).where(Case.reference == case_of["14_caseref_only_other_sender.eml"])
    ).one()
    assert other.linked_case.reference == "KC-2026-000123"
    # Machines never get an acknowledgement.
    acked = {m.recipient for m in _acks()}
    for name, want in expected.items():
        if want["is_auto_reply"] or want["is_bounce"]:
            assert want["from_addr"] not in acked, name
    assert "anna.andersson@example.com" in acked


def test_new_case_gets_swedish_acknowledgement_that_threads_back(db_session, outbox):
    result = ingest(make_mail(subject="Fråga om sophämtning"))
    case = db.session.scalars(sa.select(Case).where(Case.reference == result.reference)).one()
    assert case.channel == Channel.EMAIL and case.contact.email == "anna@example.se"
    (ack,) = _acks()
    assert ack.status == MailStatus.SENT and ack.recipient == "anna@example.se"
    sent = mail_store.load(ack.raw_sha256).decode()
    assert case.reference in ack.subject and "Vi har tagit emot" in ack.subject
    assert "Auto-Submitted: auto-generated" in sent
    assert list(outbox.glob("*.eml"))
    # The citizen answers the receipt: it joins the case through In-Reply-To.
    again = ingest(make_mail(subject="Re: " + ack.subject, in_reply_to=ack.message_id))
    assert again.result == "joined" and again.reference == case.reference
    assert len(_acks()) == 1


@pytest.mark.parametrize(
    "headers",
    [
        {"Auto-Submitted": "auto-replied"},
        {"Precedence": "bulk"},
        {"X-Autoreply": "yes"},
        {"List-Id": "<nyheter.example.se>"},
    ],
)
def test_no_acknowledgement_to_machines(db_session, outbox, headers):
    ingest(make_mail(headers=headers))
    assert _acks() == []


def test_no_acknowledgement_to_no_reply_and_rate_limited_per_sender(db_session, outbox, app):
    ingest(make_mail(sender="no-reply@tjanst.example"))
    assert _acks() == []
    for i in range(5):
        ingest(make_mail(subject=f"Fråga {i}"))
    assert len(_acks()) == app.config.get("ACK_LIMIT_PER_HOUR", 3)


def test_mail_from_our_own_address_is_rejected_not_looped(db_session, outbox, app):
    result = ingest(make_mail(sender=app.config["MAIL_FROM"]))
    assert result.result == "rejected" and "egna" in result.reason


def test_routing_rules_first_match_wins(db_session, org, outbox):
    db.session.add_all(
        [
            RoutingRule(
                position=2, kind=RuleKind.SUBJECT, pattern="buller", case_type=org.miljotillsyn
            ),
            RoutingRule(
                position=1,
                kind=RuleKind.RECIPIENT,
                pattern="bygglov@kommun.example",
                case_type=org.bygglov,
            ),
            RoutingRule(
                position=3,
                kind=RuleKind.SENDER_DOMAIN,
                pattern="lansstyrelsen.example",
                case_type=org.strandskydd,
            ),
        ]
    )
    db.session.commit()

    def type_of(**kwargs):
        reference = ingest(make_mail(**kwargs)).reference
        case = db.session.scalars(sa.select(Case).where(Case.reference == reference)).one()
        return case.case_type.slug if case.case_type else None

    assert type_of(to="bygglov@kommun.example", subject="Buller från bygge") == "bygglov"
    assert type_of(subject="Buller på natten") == "miljotillsyn"
    assert type_of(sender="handl@lansstyrelsen.example", subject="Strand") == "strandskydd"
    assert type_of(subject="Allmän fråga") is None  # the general queue


def test_reply_to_closed_case_reopens_and_to_waiting_case_resumes(
    db_session, outbox, org, app, monkeypatch
):
    from kontaktcenter.cases import actions as case_actions

    monkeypatch.setitem(app.config, "MAIL_SENDER_TRUST", "as_before")  # replies to their own

    first = ingest(make_mail(message_id="<first@example.se>"))
    case = db.session.scalars(sa.select(Case).where(Case.reference == first.reference)).one()
    case_actions.set_waiting(case, org.agent, True)
    ingest(make_mail(message_id="<second@example.se>", in_reply_to="<first@example.se>"))
    assert case.status.value == "open"
    case_actions.close(case, org.agent, "Besvarat")
    ingest(make_mail(message_id="<third@example.se>", in_reply_to="<second@example.se>"))
    assert case.status.value == "open" and case.closed_at is None


def test_bounce_of_our_reply_marks_it_failed_on_the_case(db_session, outbox, org):
    from kontaktcenter.channels.email import outbound

    first = ingest(make_mail())
    case = db.session.scalars(sa.select(Case).where(Case.reference == first.reference)).one()
    sent = outbound.reply(case, org.agent, "Här är svaret.")
    bounce = (
        "From: MAILER-DAEMON@mx.example.se\r\nTo: kontaktcenter@localhost\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <dsn1@mx.example.se>\r\n"
        "Auto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/plain\r\n\r\nDelivery failed.\r\n"
        "--b\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.se\r\n\r\n"
        "Final-Recipient: rfc822; anna@example.se\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 User unknown\r\n"
        "--b\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"Message-ID: {sent.message_id}\r\nSubject: {sent.subject}\r\n--b--\r\n"
    ).encode()
    result = ingest(bounce)
    assert result.result == "joined" and result.reference == case.reference
    assert sent.status == MailStatus.FAILED and "5.1.1" in sent.reason
    assert any(a.kind.value == "delivery_failed" for a in case.activities)


def test_unreadable_message_is_kept_with_reason(db_session, outbox):
    result = ingest(b"")
    message = db.session.get(MailMessage, result.message_pk)
    assert result.result == "rejected" and message.status == MailStatus.UNREADABLE
    assert message.direction == Direction.INBOUND and message.reason.startswith("Kunde inte läsas")


def test_oversize_message_is_kept_and_flagged_not_dropped(db_session, outbox, app):
    from email.message import EmailMessage

    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "a@example.se", "k@kommun.example", "Stor"
    message["Message-ID"] = "<big@example.se>"
    message.set_content("Ritningar bifogade.")
    message.add_attachment(
        b"\x00" * 200_000, maintype="application", subtype="pdf", filename="ritning.pdf"
    )
    raw = message.as_bytes()
    default, app.config["MAIL_MAX_BYTES"] = app.config["MAIL_MAX_BYTES"], 100_000
    try:
        result = ingest(raw)
    finally:
        app.config["MAIL_MAX_BYTES"] = default
    stored = db.session.get(MailMessage, result.message_pk)
    assert result.result == "created" and stored.oversize and stored.attachments == []
    assert mail_store.load(stored.raw_sha256) == raw


def test_only_the_recipient_address_may_route_to_a_department(db_session, org, outbox):
    db.session.add(
        RoutingRule(
            position=1,
            kind=RuleKind.SUBJECT,
            pattern="buller",
            case_type=org.miljotillsyn,
            to_department=True,
        )
    )
    db.session.commit()
    reference = ingest(make_mail(subject="Buller, skicka direkt till miljö")).reference
    case = db.session.scalars(sa.select(Case).where(Case.reference == reference)).one()
    assert case.case_type == org.miljotillsyn and case.department is None  # classified only


@pytest.mark.parametrize(
    "date", ["Mon, 1 Jan 1900 10:00:00 +0000", "Sun, 1 Jan 1950 10:00:00 +0000"]
)
def test_an_unbelievable_old_date_counts_from_arrival(db_session, outbox, date):
    raw = make_mail().replace(b"Date: ", b"X-Old-Date: ", 1)
    raw = raw.replace(b"From: ", f"Date: {date}\nFrom: ".encode(), 1)
    result = ingest(raw)
    assert result.result == "created"
    message = db.session.get(MailMessage, result.message_pk)
    assert message.received_at.year >= 2026


def test_an_overlong_message_id_is_still_deduplicated(db_session, outbox):
    long_id = "<" + "x" * 1200 + "@example.se>"
    first = ingest(make_mail(message_id=long_id))
    again = ingest(make_mail(message_id=long_id))  # the same message delivered again
    assert first.result == "created" and again.result == "duplicate"


def test_a_message_that_fails_to_file_is_kept_as_unreadable(db_session, outbox, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("kontaktcenter.channels.email.filing._thread", broken)
    raw = make_mail(message_id="<boom@example.se>")
    result = ingest(raw)
    stored = db.session.get(MailMessage, result.message_pk)
    assert result.result == "rejected" and stored.status == MailStatus.UNREADABLE
    assert mail_store.load(stored.raw_sha256) == raw and "RuntimeError" in stored.reason


def test_a_second_runner_of_the_receipt_task_sends_no_second_receipt(
    db_session, outbox, monkeypatch
):
    """A worker presumed dead (its outbox row reset) may still be running: if both runners get
    past the "does the case have a receipt?" check, the database lets only one receipt in."""
    from kontaktcenter.channels.email import outbound, tasks

    result = ingest(make_mail(subject="Fråga om bygglov"))
    case = db.session.scalars(sa.select(Case).where(Case.reference == result.reference)).one()
    (ack,) = _acks()
    inbound = db.session.get(MailMessage, result.message_pk)

    def racing(case, inbound):  # what the other runner does: it did not see the first receipt
        return outbound.compose(case, MailKind.ACKNOWLEDGEMENT, ack.recipient, "Kvittens", "Hej")

    monkeypatch.setattr(outbound, "acknowledgement", racing)
    tasks.send_acknowledgement(case.id, inbound.id)  # no error: the first receipt stands
    assert [a.id for a in _acks()] == [ack.id]
