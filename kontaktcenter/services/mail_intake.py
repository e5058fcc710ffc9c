"""E-mail intake: one ingestion service behind all three doors (IMAP polling, import-mail,
the inbound HTTP endpoint).

Every message is kept byte for byte and either becomes a case, joins the case it belongs to, or is
recorded as rejected with a reason. A reply joins through In-Reply-To/References (a Message-ID we
sent or received) or through ``[KC-YYYY-NNNNNN]`` in the subject, but the subject is trusted only
from the case's own party; anyone else gets a new case linked to the cited one. The same
Message-ID never files twice: the unique index decides, also between concurrent workers.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app, g
from sqlalchemy.exc import IntegrityError

from kontaktcenter import jobs
from kontaktcenter.extensions import db, forget_on_flush, utcnow
from kontaktcenter.mail.parsing import ParsedMessage, parse_message
from kontaktcenter.models import (
    ActivityKind,
    Case,
    CaseStatus,
    CaseType,
    Channel,
    Direction,
    MailAttachment,
    Mailbox,
    MailKind,
    MailMessage,
    MailStatus,
    RoutingRule,
    RuleKind,
)
from kontaktcenter.services import goals, mail_store
from kontaktcenter.services.cases import NewCase, add_activity, build_case
from kontaktcenter.services.contacts import ContactData

SUMMARY_MAX = 300
MESSAGE_ID_MAX = 998
# A received time further back than this is not believed (forged or broken headers); the
# message counts as received when it reached us. Archives imported later keep their dates.
OLDEST_BELIEVABLE = timedelta(days=5 * 366)
log = logging.getLogger(__name__)


@dataclass
class IngestResult:
    result: str  # created | joined | duplicate | rejected
    reference: str | None = None
    reason: str | None = None
    message_pk: int | None = None


def ingest(raw: bytes, *, mailbox_id: int | None = None) -> IngestResult:
    """File one raw message. Commits; never raises for bad input: a message that cannot be
    filed is kept as unreadable with the reason, so a poller can mark it and go on."""
    parsed = parse_message(raw)
    if parsed.message_id:
        parsed.message_id = parsed.message_id[:MESSAGE_ID_MAX]  # one form everywhere
    existing = _existing(parsed.message_id) if parsed.message_id else _same_bytes(raw)
    if existing is not None:
        return existing
    try:
        own = own_addresses()
        result, case, message = _file(parsed, mailbox_id, own)
        acknowledge = None
        if result.result == "created" and case is not None and _may_acknowledge(parsed, own):
            acknowledge = (case.id, message.id)  # known after the flush: no reload after commit
        db.session.commit()
    except IntegrityError:
        db.session.rollback()  # another worker filed the same Message-ID first
        existing = _existing(parsed.message_id) if parsed.message_id else None
        if existing is not None:
            return existing
        return _keep_unfiled(parsed, mailbox_id, "Kunde inte sparas (dubblettkontroll).")
    except Exception as error:  # noqa: BLE001 - kept and reported, never lost or retried forever
        db.session.rollback()
        log.exception("Could not file a message; kept as unreadable")
        return _keep_unfiled(parsed, mailbox_id, f"Kunde inte behandlas: {type(error).__name__}")
    if acknowledge is not None:
        from kontaktcenter.jobs.mail import send_acknowledgement

        jobs.enqueue(send_acknowledgement, *acknowledge)
    return result


def _keep_unfiled(parsed: ParsedMessage, mailbox_id: int | None, reason: str) -> IngestResult:
    """Store the raw bytes alone (no Message-ID: it may be what failed) for an admin to see."""
    now = utcnow()
    message = MailMessage(
        direction=Direction.INBOUND,
        kind=MailKind.MESSAGE,
        status=MailStatus.UNREADABLE,
        mailbox_id=mailbox_id,
        from_addr=(parsed.from_addr or "")[:254] or None,
        subject=parsed.subject[:1000],
        received_at=now,
        created_at=now,
        raw_sha256=mail_store.store(parsed.raw),
        size=len(parsed.raw),
        reason=reason,
    )
    db.session.add(message)
    db.session.commit()
    return IngestResult("rejected", reason=reason, message_pk=message.id)


def reprocess(message_pk: int) -> IngestResult:
    """Parse a kept message again (after a parser fix) and file it; the old record is replaced."""
    message = db.session.get(MailMessage, message_pk)
    if message is None or message.direction != Direction.INBOUND or message.case_id is not None:
        return IngestResult("rejected", reason="Meddelandet kan inte behandlas igen.")
    raw = mail_store.load(message.raw_sha256)
    mailbox_id = message.mailbox_id
    db.session.delete(message)
    db.session.flush()
    return ingest(raw, mailbox_id=mailbox_id)


def _same_bytes(raw: bytes) -> IngestResult | None:
    """Without a Message-ID, identical bytes mean the same delivery (e.g. fetched again after a
    crash between filing and marking it on the server)."""
    digest = hashlib.sha256(raw).hexdigest()
    return _duplicate_of(
        (MailMessage.raw_sha256 == digest) & (MailMessage.direction == Direction.INBOUND)
    )


def _existing(message_id: str) -> IngestResult | None:
    return _duplicate_of(MailMessage.message_id == message_id)


def _duplicate_of(condition: sa.ColumnElement[bool]) -> IngestResult | None:
    row = db.session.execute(
        sa.select(MailMessage.id, Case.reference)
        .outerjoin(Case, Case.id == MailMessage.case_id)
        .where(condition)
        .limit(1)
    ).first()
    if row is None:
        return None
    return IngestResult("duplicate", row.reference, "Meddelandet är redan mottaget.", row.id)


def _file(
    parsed: ParsedMessage, mailbox_id: int | None, own: set[str]
) -> tuple[IngestResult, Case | None, MailMessage]:
    now = utcnow()
    message = _message_row(parsed, mailbox_id, now)
    db.session.add(message)
    if parsed.parse_error:
        message.status = MailStatus.UNREADABLE
        message.reason = f"Kunde inte läsas: {parsed.parse_error}"
        db.session.flush()
        return IngestResult("rejected", reason=message.reason, message_pk=message.id), None, message
    if parsed.is_bounce:
        return _file_bounce(parsed, message, now)
    if parsed.from_addr and parsed.from_addr in own:
        return _reject(message, "Avsändaren är en av våra egna adresser (slinga).")
    with db.session.no_autoflush:  # the lookups need nothing of this message
        case = _thread(parsed)
    if case is not None:
        _join(case, parsed, message, now)
        return IngestResult("joined", case.reference, message_pk=message.id), case, message
    if parsed.is_auto_reply or parsed.is_mailing_list:
        reasons = ", ".join(parsed.auto_reply_reasons) or "massutskick"
        message.kind = MailKind.AUTO_REPLY if parsed.is_auto_reply else MailKind.MESSAGE
        return _reject(
            message, f"Automatiskt meddelande som inte hör till något ärende ({reasons})."
        )
    # Routing, contact, reference and goal definitions read nothing this message adds: without
    # autoflush the message, its case, contact, activities and goals go in one flush at the end.
    with db.session.no_autoflush:
        case = _new_case(parsed, message, now)
    return IngestResult("created", case.reference, message_pk=message.id), case, message


def _message_row(parsed: ParsedMessage, mailbox_id: int | None, now: datetime) -> MailMessage:
    max_bytes = current_app.config.get("MAIL_MAX_BYTES", 25 * 1024 * 1024)
    message = MailMessage(
        direction=Direction.INBOUND,
        kind=MailKind.AUTO_REPLY if parsed.is_auto_reply else MailKind.MESSAGE,
        status=MailStatus.RECEIVED,
        mailbox_id=mailbox_id,
        message_id=parsed.message_id,
        in_reply_to=" ".join(parsed.in_reply_to) or None,
        references=" ".join(parsed.references) or None,
        from_addr=(parsed.from_addr or "")[:254] or None,
        from_name=(parsed.from_name or "")[:200] or None,
        to_addrs=parsed.to_addrs,
        cc_addrs=parsed.cc_addrs,
        subject=parsed.subject,
        received_at=_believable(parsed.received_at, now),
        created_at=now,
        raw_sha256=mail_store.store(parsed.raw),
        size=len(parsed.raw),
        text_body=parsed.text,
        html_body=parsed.html,
        is_auto_reply=parsed.is_auto_reply,
        is_bounce=parsed.is_bounce,
        oversize=len(parsed.raw) > max_bytes,
        flags={
            "auto_reply_reasons": parsed.auto_reply_reasons,
            "defects": parsed.defects[:20],
            "mailing_list": parsed.is_mailing_list,
            "personnummer": parsed.contains_personnummer,
        },
    )
    if not message.oversize:
        for attachment in parsed.attachments:
            message.attachments.append(
                MailAttachment(
                    filename=attachment.filename[:255],
                    content_type=attachment.content_type[:255],
                    size=len(attachment.payload),
                    blob_sha256=mail_store.store(attachment.payload),
                    inline=attachment.inline,
                    content_id=(attachment.content_id or "")[:255] or None,
                )
            )
    else:
        message.flags["oversize_note"] = "Bilagorna är inte uppackade: meddelandet är för stort."
    return message


def _believable(received: datetime | None, now: datetime) -> datetime:
    if received is None or received > now or received < now - OLDEST_BELIEVABLE:
        return now
    return received


def _reject(message: MailMessage, reason: str) -> tuple[IngestResult, None, MailMessage]:
    message.status = MailStatus.REJECTED
    message.reason = reason
    db.session.flush()
    return IngestResult("rejected", reason=reason, message_pk=message.id), None, message


def _file_bounce(
    parsed: ParsedMessage, message: MailMessage, now: datetime
) -> tuple[IngestResult, Case | None, MailMessage]:
    """A delivery failure joins the case of the message that bounced, visibly."""
    message.kind = MailKind.BOUNCE
    ids = [i for i in [parsed.bounce.original_message_id if parsed.bounce else None] if i]
    ids += parsed.in_reply_to + parsed.references
    original = None
    if ids:
        original = db.session.scalars(
            sa.select(MailMessage)
            .where(MailMessage.message_id.in_(ids), MailMessage.direction == Direction.OUTBOUND)
            .limit(1)
        ).first()
    if original is None or original.case is None:
        return _reject(
            message, "Studsmeddelande som inte gäller något av våra skickade meddelanden."
        )
    case = original.case
    original.status = MailStatus.FAILED
    detail = parsed.bounce.diagnostic or parsed.bounce.status if parsed.bounce else None
    original.reason = f"Studsade: {detail}" if detail else "Studsade"
    message.case = case
    add_activity(
        case,
        ActivityKind.DELIVERY_FAILED,
        None,
        original.reason,
        recipient=original.recipient,
        subject=original.subject,
    )
    db.session.flush()
    return IngestResult("joined", case.reference, message_pk=message.id), case, message


def _thread(parsed: ParsedMessage) -> Case | None:
    ids = list(dict.fromkeys(parsed.in_reply_to + parsed.references))
    if ids:
        case_id = db.session.scalar(
            sa.select(MailMessage.case_id)
            .where(MailMessage.message_id.in_(ids[-200:]), MailMessage.case_id.is_not(None))
            .order_by(MailMessage.id)
            .limit(1)
        )
        if case_id is not None:
            return db.session.get(Case, case_id)
    for reference in parsed.case_references:
        case = db.session.scalars(sa.select(Case).where(Case.reference == reference)).first()
        if case is not None and parsed.from_addr and is_party(case, parsed.from_addr):
            return case
    return None


def is_party(case: Case, address: str) -> bool:
    """The case's contact, or someone who already wrote to or was written to on the case."""
    address = address.lower()
    if case.contact is not None and case.contact.email == address:
        return True
    return (
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(MailMessage)
            .where(
                MailMessage.case_id == case.id,
                sa.or_(MailMessage.from_addr == address, MailMessage.recipient == address),
            )
        )
        > 0
    )


def _join(case: Case, parsed: ParsedMessage, message: MailMessage, now: datetime) -> None:
    message.case = case
    add_activity(
        case,
        ActivityKind.EMAIL_RECEIVED,
        None,
        parsed.subject,
        sender=parsed.from_addr,
        auto_reply=parsed.is_auto_reply,
    )
    if parsed.is_auto_reply:
        return  # an out-of-office does not reopen or resume anything
    if case.status == CaseStatus.WAITING:  # the citizen answered: the clock runs again
        old = case.status
        case.status = CaseStatus.OPEN
        add_activity(
            case,
            ActivityKind.STATUS_CHANGED,
            None,
            "Svar från medborgaren",
            old=old.value,
            new=case.status.value,
        )
        goals.refresh(case, now)
    elif case.status == CaseStatus.CLOSED:
        case.status = CaseStatus.OPEN
        case.closed_at = None
        add_activity(case, ActivityKind.REOPENED, None, "Nytt e-postmeddelande i ärendet")
        goals.on_reopened(case, now)
    case.updated_at = now


def _new_case(parsed: ParsedMessage, message: MailMessage, now: datetime) -> Case:
    summary = (parsed.subject or parsed.text.strip().split("\n", 1)[0] or "(inget ämne)").strip()
    rule = route(parsed)
    contact_email = parsed.response_address or parsed.from_addr
    if contact_email and ("@" not in contact_email or len(contact_email) > 254):
        contact_email = None
    case = build_case(
        NewCase(
            channel=Channel.EMAIL,
            summary=summary[:SUMMARY_MAX],
            case_type=rule.case_type if rule else None,
            contact=ContactData(
                name=(parsed.from_name or "")[:200] or None
                if contact_email == parsed.from_addr
                else None,
                email=contact_email,
            ),
            received_at=message.received_at,
        ),
        by=None,
    )
    linked = [r for r in parsed.case_references if r != case.reference]
    if linked:
        case.linked_case = db.session.scalars(
            sa.select(Case).where(Case.reference == linked[0])
        ).first()
    message.case = case
    add_activity(case, ActivityKind.EMAIL_RECEIVED, None, parsed.subject, sender=parsed.from_addr)
    if rule is not None and rule.to_department and rule.kind == RuleKind.RECIPIENT:
        # Only the address the mail was sent to may route it: the subject and the sender's
        # domain are the sender's to choose.
        case.department = rule.case_type.department
        add_activity(
            case,
            ActivityKind.ROUTED,
            None,
            f"Regel: {rule.kind.label} {rule.pattern}",
            department=case.department.name,
        )
        goals.on_routed(case, message.received_at or now)
    db.session.flush()
    return case


def route(parsed: ParsedMessage) -> RoutingRule | None:
    """The first matching routing rule, in the order admins set; else none."""
    rules = db.session.scalars(
        sa.select(RoutingRule)
        .join(RoutingRule.case_type)
        .where(RoutingRule.active.is_(True), CaseType.active.is_(True))
        .order_by(RoutingRule.position, RoutingRule.id)
    ).all()
    recipients = {a.lower() for a in parsed.to_addrs + parsed.cc_addrs}
    domain = (parsed.from_addr or "").rsplit("@", 1)[-1]
    subject = parsed.subject.lower()
    for rule in rules:
        pattern = rule.pattern.strip().lower()
        if (
            (rule.kind == RuleKind.RECIPIENT and pattern in recipients)
            or (
                rule.kind == RuleKind.SENDER_DOMAIN
                and (domain == pattern or domain.endswith("." + pattern))
            )
            or (rule.kind == RuleKind.SUBJECT and pattern and pattern in subject)
        ):
            return rule
    return None


def own_addresses() -> set[str]:
    """Our mailboxes and sender address; read once per request or job (a poll of a whole
    mailbox, an import), again after a mailbox changed."""
    if "own_addresses" not in g:
        addresses = set(db.session.scalars(sa.select(Mailbox.address)))
        addresses.add(current_app.config.get("MAIL_FROM") or "")
        g.own_addresses = frozenset(a.lower() for a in addresses if a)
    return set(g.own_addresses)


forget_on_flush("own_addresses", Mailbox)


def _may_acknowledge(parsed: ParsedMessage, own: set[str]) -> bool:
    """Loop protection: never to machines, lists, no-reply or our own addresses; rate-limited."""
    address = parsed.response_address
    if not parsed.may_acknowledge or address is None or address in own:
        return False
    limit = current_app.config.get("ACK_LIMIT_PER_HOUR", 3)
    recent = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(MailMessage)
        .where(
            MailMessage.recipient == address,
            MailMessage.kind == MailKind.ACKNOWLEDGEMENT,
            MailMessage.created_at > utcnow() - timedelta(hours=1),
        )
    )
    return recent < limit
