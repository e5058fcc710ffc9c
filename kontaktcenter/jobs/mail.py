"""Mail jobs: deliver an outgoing message, send a new case's acknowledgement, poll mailboxes."""

from __future__ import annotations

import logging

from flask import current_app

from kontaktcenter.extensions import db, utcnow
from kontaktcenter.jobs import app_job
from kontaktcenter.models import ActivityKind, Case, MailKind, MailMessage, MailStatus
from kontaktcenter.services import mail_store, mailer, outbound
from kontaktcenter.services.cases import add_activity

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 3


@app_job
def send_acknowledgement(case_id: int, inbound_pk: int) -> None:
    """Idempotent: composes the receipt only if the case has none yet."""
    case = db.session.get(Case, case_id)
    inbound = db.session.get(MailMessage, inbound_pk)
    if case is None or inbound is None:
        return
    message = outbound.acknowledgement(case, inbound)
    if message is None:
        return
    db.session.commit()
    deliver(message.id)


@app_job
def deliver(message_pk: int) -> None:
    """Send a queued message. Retried by RQ on failure; gives up visibly after MAX_ATTEMPTS."""
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
        final = message.attempts >= MAX_ATTEMPTS or current_app.config["JOBS_MODE"] != "rq"
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
        log.warning("Giving up on message %s: %s", message_pk, message.reason)
        return
    message.status = MailStatus.SENT
    message.sent_at = utcnow()
    message.attempts += 1
    if message.case is not None and message.kind == MailKind.REPLY:
        add_activity(message.case, ActivityKind.EMAIL_SENT, None, recipient=message.recipient)
    db.session.commit()
