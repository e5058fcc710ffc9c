"""Attempts and the ways a callback ends: reached, exhausted (then an e-mail or a letter),
cancelled. Each public function owns its transaction.

The promise: reached meets the case's callback goal (``case.callback_done_at``, as the case's
timeline has always done); exhausted also counts as done for the goal, at the time the rules
ran out (the callbacks table tells the two apart for the reports); cancelled is neither met nor
breached: the goal is cancelled, as the goals do for a case closed with a callback pending.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from kontaktcenter.callbacks import events, rules
from kontaktcenter.callbacks.models import (
    Callback,
    CallbackAttempt,
    CallbackStatus,
    Fallback,
)
from kontaktcenter.cases import access, actions
from kontaktcenter.cases.enums import ActivityKind, CallbackResult
from kontaktcenter.cases.models import Case
from kontaktcenter.cases.services import add_activity
from kontaktcenter.channels.email import outbound
from kontaktcenter.channels.email.models import MailKind, MailTemplate
from kontaktcenter.core import outbox
from kontaktcenter.core.errors import ValidationError
from kontaktcenter.core.extensions import db, utcnow
from kontaktcenter.core.identifiers import is_email
from kontaktcenter.goals import engine
from kontaktcenter.goals.models import GoalTarget
from kontaktcenter.organisation.models import User

NOTE_MAX = 500
NOT_PENDING = "Återuppringningen är redan avslutad."
DEFAULT_SUBJECT = "Vi har försökt ringa dig"
DEFAULT_BODY = (
    "Hej{namn_med_mellanslag},\n\n"
    "Du bad oss ringa upp dig om ditt ärende {referens}. Vi har försökt flera gånger men inte "
    "nått dig. Ring oss gärna, eller svara på det här meddelandet, så hjälper vi dig.\n\n"
    "Med vänliga hälsningar\nKontaktcenter"
)


def _locked(callback: Callback) -> Callback:
    """The row again, locked for this transaction (two people recording at once queue up)."""
    return db.session.scalars(
        sa.select(Callback)
        .where(Callback.id == callback.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()


def _text(
    value: str | None, field: str, required: bool = False, label: str = "Anteckningen"
) -> str | None:
    text = (value or "").strip()
    if required and not text:
        raise ValidationError(f"{label} får inte vara tom.", field)
    if len(text) > NOTE_MAX:
        raise ValidationError(f"{label} får vara högst {NOTE_MAX} tecken.", field)
    return text or None


def record_attempt(
    callback: Callback, by: User, result: CallbackResult, note: str | None = None
) -> Callback:
    """One attempt; closes the callback (reached, or exhausted by the case type's retry
    rules, then the fallback) or sets its next allowed attempt and puts it back in the pool."""
    body = _text(note, "note")
    case = callback.case
    with actions.acting(case, by, "callback_attempt", None):
        callback = _locked(callback)
        if callback.status != CallbackStatus.PENDING:
            raise ValidationError(NOT_PENDING)
        now = utcnow()
        if (
            result != CallbackResult.REACHED
            and callback.next_attempt_at is not None
            and callback.next_attempt_at > now
        ):
            raise ValidationError(
                "Nästa försök får göras först vid den tid som visas i listan.", "result"
            )
        callback.attempts += 1
        db.session.add(CallbackAttempt(callback=callback, at=now, by=by, result=result, note=body))
        rule = rules.effective_rule(case.case_type)
        if result == CallbackResult.REACHED:
            # Closed before the case's timeline says so: the receivers of callback_done
            # (and of a case closed next) must not see it pending.
            callback.status, callback.closed_at = CallbackStatus.REACHED, now
        actions.callback_attempt_on_timeline(case, by, result, body, now, attempt=callback.attempts)
        if result == CallbackResult.REACHED:
            events.closed.send(callback, at=now)
        elif result == CallbackResult.WRONG_NUMBER or callback.attempts >= rule.max_attempts:
            _exhaust(callback, by, rule, now)
        else:
            callback.next_attempt_at = now + timedelta(minutes=rule.min_gap_minutes)
            callback.assigned_to_id, callback.assigned_at = None, None
    outbox.dispatch()
    return callback


def _exhaust(callback: Callback, by: User, rule: rules.EffectiveRule, now: datetime) -> None:
    case = callback.case
    callback.status, callback.closed_at = CallbackStatus.EXHAUSTED, now
    case.callback_done_at = now
    engine.meet(case, GoalTarget.CALLBACK, now)
    engine.refresh(case, now)
    address = case.contact.email if case.contact is not None else None
    if rule.fallback == Fallback.EMAIL and address and is_email(address):
        callback.fallback, callback.fallback_done_at = Fallback.EMAIL, now
    elif rule.fallback == Fallback.NONE:
        callback.fallback = Fallback.NONE
    else:
        callback.fallback = Fallback.LETTER  # a letter, or an e-mail to nobody: a letter
    add_activity(
        case,
        ActivityKind.CALLBACK_EXHAUSTED,
        by,
        attempts=callback.attempts,
        fallback=callback.fallback.value,
    )
    if callback.fallback == Fallback.EMAIL:
        assert address is not None
        _send_email(case, by, address, rule.fallback_template_id, now)
    events.closed.send(callback, at=now)


def _send_email(case: Case, by: User, address: str, template_id: int | None, now: datetime) -> None:
    """The e-mail after the last attempt, through the e-mail channel's outgoing path: composed
    and stored now, delivered by the outbox after the commit, on the case's timeline."""
    template = db.session.get(MailTemplate, template_id) if template_id is not None else None
    if template is not None and not template.active:
        template = None
    values = outbound.template_values(case, outbound.subject_line(case))
    name = values.get("namn", "")
    values["namn_med_mellanslag"] = f" {name}" if name else ""
    subject = (template.subject if template is not None else "") or DEFAULT_SUBJECT
    body = outbound.render_template_text(
        template.body if template is not None else DEFAULT_BODY, **values
    )
    message = outbound.compose(case, MailKind.REPLY, address, subject, body, by)
    db.session.flush()
    add_activity(case, ActivityKind.EMAIL_QUEUED, by, body, recipient=address, message=message.id)
    outbox.add("email.deliver", message_pk=message.id)


def mark_letter_sent(callback: Callback, by: User) -> Callback:
    """The letter after the last attempt was sent: it leaves the "Brev att skicka" list."""
    case = callback.case
    access.ensure(by, "callback_attempt", case)
    try:
        callback = _locked(callback)
        if callback.fallback != Fallback.LETTER or callback.fallback_done_at is not None:
            raise ValidationError("Det finns inget brev att skicka för återuppringningen.")
        now = utcnow()
        callback.fallback_done_at = now
        add_activity(case, ActivityKind.CALLBACK_LETTER_SENT, by)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return callback


def cancel(callback: Callback, by: User, reason: str) -> Callback:
    """Withdraw a pending callback (the person called in, asked not to be called): the reason
    goes on the timeline; the promise is neither met nor breached."""
    text = _text(reason, "reason", required=True, label="Anledningen")
    case = callback.case
    with actions.acting(case, by, "book_callback", None):
        callback = _locked(callback)
        if callback.status != CallbackStatus.PENDING:
            raise ValidationError(NOT_PENDING)
        now = utcnow()
        _cancel(callback, by, text, now)
        engine.cancel(case, GoalTarget.CALLBACK, now)
        engine.refresh(case, now)
    return callback


def _cancel(callback: Callback, by: User | None, reason: str | None, now: datetime) -> None:
    callback.status, callback.closed_at = CallbackStatus.CANCELLED, now
    callback.assigned_to_id, callback.assigned_at = None, None
    # No promise left on the case: the queue, the overview and the reports (which read the
    # case's columns) neither wait for it nor count it as late.
    callback.case.callback_due_at = None
    add_activity(callback.case, ActivityKind.CALLBACK_CANCELLED, by, reason)
    events.closed.send(callback, at=now)


def cancel_in_transaction(callback: Callback, reason: str, now: datetime) -> None:
    """For the hooks (the case was closed another way; an abandoned call was answered after
    all): no commit, no permission check (the change that causes it had its own)."""
    _cancel(callback, None, reason, now)


def reached_elsewhere(callback: Callback, now: datetime) -> None:
    """The case's timeline recorded a reached callback without this area (the older case page
    action, the demo): the row follows, so it is never left pending."""
    callback.status, callback.closed_at = CallbackStatus.REACHED, now
    callback.attempts += 1
    db.session.add(CallbackAttempt(callback=callback, at=now, result=CallbackResult.REACHED))
    events.closed.send(callback, at=now)
