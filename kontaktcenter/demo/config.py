"""The demo municipality's configuration and its e-mail, for :mod:`kontaktcenter.demo.seed`.

Opening hours, service goals, a closure or shortened day, mail templates, routing rules and an
(inactive) mailbox are made through the same admin services an administrator uses, so they are
validated the same way; each is skipped when something like it is already there, so an admin's
later changes survive another run. The demo e-mails go through the real intake
(:func:`mail_intake.ingest`): they become cases, join the case they answer, or are kept unfiled,
exactly like mail from a mailbox. Their Message-IDs are fixed, so a second run files nothing.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime

import sqlalchemy as sa
from flask import current_app

from kontaktcenter.calendar import services as calendar_settings
from kontaktcenter.calendar.business_calendar import Unit, swedish_holidays
from kontaktcenter.calendar.models import CalendarException, OpeningWindow
from kontaktcenter.calendar.services import DayExceptionData, load_calendar
from kontaktcenter.cases.enums import Channel
from kontaktcenter.cases.models import Case
from kontaktcenter.channels.email import intake as mail_intake
from kontaktcenter.channels.email import settings as mail_settings
from kontaktcenter.channels.email.models import (
    Mailbox,
    MailMessage,
    MailTemplate,
    RoutingRule,
    RuleKind,
)
from kontaktcenter.channels.email.settings import MailboxData, RuleData, TemplateData
from kontaktcenter.core.extensions import db
from kontaktcenter.demo.data import (
    ACK_BODY,
    ACK_NAME,
    ACK_SUBJECT,
    ANSWER_TEMPLATES,
    DEMO_MAILBOX,
    DEMO_MAILS,
    DEMO_RECEIVING_SERVER,
    GOALS,
    OPENING_HOURS,
    ROUTING_RULES,
    DemoMail,
)
from kontaktcenter.goals import settings
from kontaktcenter.goals.models import GoalTarget, ServiceGoal
from kontaktcenter.goals.settings import GoalData
from kontaktcenter.organisation import branding
from kontaktcenter.organisation.models import CaseType

# The e-mails that become cases of their own (a reply joins its case, an auto-reply is unfiled).
MAIL_CASES = sum(1 for m in DEMO_MAILS if m.reply_to is None and not m.auto_reply)
SHORTENED = "08:00-12:00"


def configure(now: datetime) -> None:
    """Everything the cases depend on: call before creating demo cases, so they carry goals."""
    if db.session.scalars(sa.select(OpeningWindow.id).limit(1)).first() is None:
        calendar_settings.save_opening_hours(OPENING_HOURS)
    if branding.current().name is None:
        branding.set_name("Exempelby kommun")
    _goals()
    _special_day(now.astimezone(load_calendar().tz).date())
    _templates()
    _routing_rules()
    if db.session.scalars(sa.select(Mailbox.id).limit(1)).first() is None:
        mail_settings.save_mailbox(None, MailboxData(**DEMO_MAILBOX))


def _case_type(slug: str | None) -> CaseType | None:
    if slug is None:
        return None
    return db.session.scalars(sa.select(CaseType).where(CaseType.slug == slug)).first()


def _goals() -> None:
    for demo in GOALS:
        case_type = _case_type(demo.case_type)
        if demo.case_type is not None and (case_type is None or not case_type.active):
            continue
        channel = Channel(demo.channel) if demo.channel else None
        target = GoalTarget(demo.target)
        exists = sa.select(ServiceGoal.id).where(
            ServiceGoal.target == target,
            ServiceGoal.channel.is_(None) if channel is None else ServiceGoal.channel == channel,
            ServiceGoal.case_type_id.is_(None)
            if case_type is None
            else ServiceGoal.case_type_id == case_type.id,
        )
        if db.session.scalars(exists).first() is None:  # kept even if an admin deactivated it
            settings.create_goal(
                GoalData(target, demo.amount, Unit(demo.unit), channel, case_type, active=True)
            )


def _special_day(today: date) -> None:
    """A shortened "dag före röd dag" in the coming weeks if there is one, else a closure day."""
    upcoming = sa.select(CalendarException.id).where(CalendarException.day >= today)
    if db.session.scalars(upcoming).first() is not None:
        return
    calendar = load_calendar()
    data = None
    for offset in range(7, 36):
        day = today + timedelta(days=offset)
        red = swedish_holidays((day + timedelta(days=1)).year).get(day + timedelta(days=1))
        if red is not None and day.weekday() < 5 and calendar.is_working_day(day):
            data = DayExceptionData(day, False, SHORTENED, f"Dag före röd dag ({red.lower()})")
            break
    if data is None:
        friday = today + timedelta(days=14 + (4 - today.weekday()) % 7)
        while not calendar.is_working_day(friday):
            friday += timedelta(days=7)
        data = DayExceptionData(friday, True, "", "Kompetensdag")
    calendar_settings.add_exception(data, today)


def _templates() -> None:
    if mail_settings.acknowledgement_template() is None:
        mail_settings.save_acknowledgement(TemplateData(ACK_NAME, ACK_BODY, ACK_SUBJECT))
    for slug, name, body in ANSWER_TEMPLATES:
        key = mail_settings.ANSWER_PREFIX + slug
        if db.session.scalars(sa.select(MailTemplate.id).where(MailTemplate.key == key)).first():
            continue
        mail_settings.save_answer_template(None, TemplateData(name, body, slug=slug))


def _routing_rules() -> None:
    for kind, pattern, slug, to_department in ROUTING_RULES:
        case_type = _case_type(slug)
        same = sa.select(RoutingRule.id).where(
            RoutingRule.kind == RuleKind(kind), RoutingRule.pattern == pattern
        )
        if case_type is None or db.session.scalars(same).first() is not None:
            continue
        mail_settings.save_rule(None, RuleData(RuleKind(kind), pattern, case_type, to_department))


# --- e-mail --------------------------------------------------------------------------------------


def _message_id(key: str) -> str:
    return f"<demo-{key}@example.se>"


def existing_mail_cases() -> int:
    """Cases the demo e-mails became on an earlier run."""
    ids = [_message_id(m.key) for m in DEMO_MAILS]
    query = sa.select(sa.func.count(sa.distinct(MailMessage.case_id))).where(
        MailMessage.message_id.in_(ids), MailMessage.case_id.is_not(None)
    )
    return db.session.scalar(query) or 0


def build_mail(mail: DemoMail, now: datetime) -> bytes:
    message = EmailMessage()
    # What the municipality's receiving server (trusted by the demo mailbox) found.
    domain = mail.sender.rsplit("@", 1)[-1].rstrip(">")
    message["Authentication-Results"] = (
        f"{DEMO_RECEIVING_SERVER}; spf=pass smtp.mailfrom={domain}; "
        f"dkim=pass header.d={domain}; dmarc=pass header.from={domain}"
    )
    message["From"] = mail.sender
    message["To"] = mail.to
    message["Subject"] = mail.subject
    message["Date"] = format_datetime(now - timedelta(minutes=mail.minutes_ago))
    message["Message-ID"] = _message_id(mail.key)
    if mail.reply_to:
        message["In-Reply-To"] = _message_id(mail.reply_to)
        message["References"] = _message_id(mail.reply_to)
    if mail.auto_reply:
        message["Auto-Submitted"] = "auto-replied"
    message.set_content(mail.text)
    if mail.html:
        message.add_alternative(f"<html><body>{mail.html}</body></html>", subtype="html")
    if mail.attachment:
        filename, content_type, data = mail.attachment
        maintype, subtype = content_type.split("/")
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return message.as_bytes()


def ingest_mails(now: datetime) -> int:
    """File the demo e-mails (received minutes before `now`); returns the cases they made.

    Each new case gets its acknowledgement in the outbox, composed here rather than by a
    background job: on SQLite a job thread writing while the seed goes on would find the
    database locked. Over SMTP none is sent at all: the senders are fictional.
    """
    from kontaktcenter.channels.email.tasks import send_acknowledgement

    config = current_app.config
    limit = config.get("ACK_LIMIT_PER_HOUR", 3)
    mailbox_id = db.session.scalar(
        sa.select(Mailbox.id).where(Mailbox.address == DEMO_MAILBOX["address"])
    )
    created = 0
    for mail in DEMO_MAILS:
        config["ACK_LIMIT_PER_HOUR"] = 0  # the intake's rate limit: it enqueues no job
        try:
            result = mail_intake.ingest(build_mail(mail, now), mailbox_id=mailbox_id)
        finally:
            config["ACK_LIMIT_PER_HOUR"] = limit
        if result.result != "created":
            continue
        created += 1
        case_id = db.session.scalar(sa.select(Case.id).where(Case.reference == result.reference))
        if case_id is not None and result.message_pk and not config.get("SMTP_URL"):
            send_acknowledgement(case_id, result.message_pk)
    return created
