"""Outbox tasks of the phone channel: the dial-out webhook (click-to-call)."""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta

from flask import current_app

from kontaktcenter.channels.phone import dial_out
from kontaktcenter.core import outbox
from kontaktcenter.core.extensions import db, utcnow
from kontaktcenter.organisation.models import User

log = logging.getLogger(__name__)


# The citizen's number is erased from the row once the job is done or failed for good (the
# rows are kept for the health page; the number is not needed after the call was set up).
@outbox.task(dial_out.TASK, private=("number",))
def send_dial_out(
    user_id: int, number: str | None, reference: str | None, requested_at: str, request_id: str
) -> None:
    """POST the signed dial-out. A request older than DIAL_OUT_MAX_AGE_SECONDS is dropped
    (logged, not raised): a call set up minutes after the click would ring an agent who has
    moved on. Anything else that fails is raised, for the outbox to retry with its backoff
    (10 s, then 60 s: within the default two minutes). The number is never logged."""
    max_age = current_app.config.get("DIAL_OUT_MAX_AGE_SECONDS", dial_out.MAX_AGE_SECONDS)
    age = utcnow() - datetime.fromisoformat(requested_at)
    if age > timedelta(seconds=max_age):
        log.warning(
            "Dial-out %s for user %s (%s) dropped: not delivered within %s s",
            request_id,
            user_id,
            reference or "no reference",
            max_age,
        )
        return
    if number is None:  # a row failed for good and retried by an admin: the number is erased
        log.warning("Dial-out %s dropped: its number was erased", request_id)
        return
    if not dial_out.configured():
        log.warning("Dial-out %s dropped: DIAL_OUT_URL is no longer set", request_id)
        return
    user = db.session.get(User, user_id)
    if user is None or not user.active:
        log.warning("Dial-out %s dropped: user %s is gone or inactive", request_id, user_id)
        return
    payload = dial_out.body(user, number, reference, requested_at)
    dial_out.post(payload, request_id, int(time.time()))
    log.info("Dial-out %s for user %s (%s) delivered", request_id, user_id, reference or "-")
