"""Outbox tasks of the e-mail channel: send a new case's acknowledgement, deliver a message."""

from __future__ import annotations

import logging

from sqlalchemy.exc import IntegrityError

from kontaktcenter.cases.enums import ActivityKind
from kontaktcenter.cases.models import Case
from kontaktcenter.cases.services import add_activity
from kontaktcenter.channels.email import outbound, stored
from kontaktcenter.channels.email import store as mail_store
from kontaktcenter.channels.email.models import MailKind, MailMessage, MailStatus
from kontaktcenter.core import mailer, outbox
from kontaktcenter.core.extensions import db, utcnow
from kontaktcenter.core.identifiers import mask_personal_data

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 3
# Stored messages a drain claims at a time: several of the intake's batches (100), so that the
# next batch is parsed in a helper process while one is filed (stored._file_run).
FILE_STORED_BATCH = 400


@outbox.task("email.send_acknowledgement", drain=True)
def send_acknowledgement(case_id: int, inbound_pk: int) -> None:
    """Idempotent: composes the receipt only if the case has none yet."""
    case = db.session.get(Case, case_id)
    inbound = db.session.get(MailMessage, inbound_pk)
    if case is None or inbound is None:
        return
    message = outbound.acknowledgement(case, inbound)
    if message is None:
        return
    try:
        db.session.flush()
    except IntegrityError:  # another runner composed it a moment ago: that one stands
        db.session.rollback()
        return
    outbox.add("email.deliver", message_pk=message.id)
    outbox.commit()


@outbox.task("email.deliver", drain=True)
def deliver(message_pk: int) -> None:
    """Send a queued message. A transient failure is raised for the outbox to retry (with
    backoff, in every job mode); a permanent one, or the MAX_ATTEMPTS-th, is final and shown on
    the case."""
    message = db.session.get(MailMessage, message_pk)
    if message is None or message.status != MailStatus.QUEUED:
        return  # gone, or a retry after success
    try:
        mailer.send_raw(
            message.from_addr or mailer.sender_address(),
            [message.recipient] if message.recipient else message.to_addrs,
            mail_store.load(message.raw_sha256),
            message.message_id,
        )
    except Exception as error:  # noqa: BLE001 - any delivery failure is recorded on the case
        message.attempts += 1
        message.reason = f"{type(error).__name__}: {error}"[:1000]
        final = message.attempts >= MAX_ATTEMPTS or mailer.is_permanent(error)
        if final:
            message.status = MailStatus.FAILED
            if message.case is not None:
                add_activity(
                    message.case,
                    ActivityKind.DELIVERY_FAILED,
                    None,
                    message.reason,
                    recipient=message.recipient,
                    subject=message.subject,
                )
        db.session.commit()
        if not final:
            raise
        log.warning("Giving up on message %s: %s", message_pk, mask_personal_data(message.reason))
        return
    message.status = MailStatus.SENT
    message.sent_at = utcnow()
    message.attempts += 1
    if message.case is not None and message.kind == MailKind.REPLY:
        add_activity(message.case, ActivityKind.EMAIL_SENT, None, recipient=message.recipient)
    db.session.commit()


@outbox.task("email.file_stored", batch=FILE_STORED_BATCH)
def file_stored(items: list[dict[str, int]]) -> list[str | None]:
    """File messages that were stored before they were parsed (large ones, and any a gateway
    handed in with ``Prefer: respond-async``), a batch at a time: idempotent; a failure is
    retried by the outbox, and after stored.MAX_ATTEMPTS tries a message is kept unfiled with
    the reason (see stored.file_stored_many)."""
    return stored.file_stored_many([item["message_pk"] for item in items])
