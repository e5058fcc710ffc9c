"""Administration use-cases for e-mail: mailboxes, routing rules, templates, messages that could
not be filed, and the outbox of the embedded (no SMTP) setup.

A mailbox stores the *name* of the environment variable that holds its password, never the
password. Because the poller sends that variable's value to whatever IMAP host is configured, the
name must contain ``IMAP``: an admin cannot point a mailbox at ``SECRET_KEY`` or ``DATABASE_URL``
and have the server log in with it somewhere else.
"""

from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from kontaktcenter.channels.email import intake as mail_intake
from kontaktcenter.channels.email import outbound
from kontaktcenter.channels.email.mime.authentication import server_ids
from kontaktcenter.channels.email.models import (
    Direction,
    Mailbox,
    MailMessage,
    MailStatus,
    MailTemplate,
    RoutingRule,
    RuleKind,
    SenderTrust,
)
from kontaktcenter.core import sent_mail as outbox
from kontaktcenter.core.errors import ValidationError
from kontaktcenter.core.extensions import db
from kontaktcenter.core.identifiers import is_email
from kontaktcenter.organisation.models import CaseType
from kontaktcenter.organisation.services import slugify

SECURITY_LABELS = {
    "ssl": "TLS från start (port 993)",
    "starttls": "STARTTLS (port 143)",
    "none": "Okrypterad (bara mot den egna datorn)",
}
PLACEHOLDERS = {
    "referens": "ärendenumret, till exempel KC-2026-000123",
    "servicelöfte": "servicelöftet, till exempel ”Vi svarar inom två arbetsdagar.”",
    "ämne": "ämnesraden i medborgarens meddelande (eller ärendets sammanfattning)",
    "namn": "medborgarens namn, om det är känt (annars tomt)",
}
# The receipt goes out unasked, to whatever address wrote to us: it may quote nothing the
# sender wrote (a subject such as "Logga in på https://evil.example/bankid" would make it a
# relay), so only these.
ACK_PLACEHOLDERS = {
    name: text for name, text in PLACEHOLDERS.items() if name not in outbound.SENDER_PLACEHOLDERS
}
ACK_KEY = "acknowledgement"
ACK_NAME = "Kvittens (automatiskt svar)"
ANSWER_PREFIX = "answer-"
# PENDING: a large message stored first, not filed yet (shown while it waits or is retried).
UNFILED_STATUSES = (MailStatus.REJECTED, MailStatus.UNREADABLE, MailStatus.PENDING)
PAGE_SIZE = 50

_DOMAIN = re.compile(r"^[a-z0-9-]+(\.[a-z0-9-]+)+$")
_HOST = re.compile(r"^[A-Za-z0-9.-]+$|^\[[0-9A-Fa-f:.]+\]$")
_ENV_NAME = re.compile(r"^[A-Z][A-Z0-9_]{0,99}$")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


@dataclass
class MailboxData:
    address: str
    name: str
    imap_host: str
    imap_user: str
    password_env: str
    imap_port: int | None = 993
    imap_security: str = "ssl"
    folder: str = "INBOX"
    processed_folder: str | None = None
    active: bool = True
    # Authserv-ids whose Authentication-Results are believed (separated by spaces, commas or
    # new lines), and what to do when the server writes none.
    trusted_servers: str = ""
    sender_trust: str = SenderTrust.VERIFIED.value


@dataclass
class RuleData:
    kind: RuleKind | None
    pattern: str
    case_type: CaseType | None
    to_department: bool = True
    active: bool = True


@dataclass
class TemplateData:
    name: str
    body: str
    subject: str = ""
    slug: str = ""  # answer templates: the key is "answer-<slug>"
    active: bool = True


def _text(value: str | None, field: str, label: str, limit: int, required: bool = True) -> str:
    text = " ".join((value or "").split())
    if required and not text:
        raise ValidationError(f"Fyll i {label.lower()}.", field)
    if len(text) > limit:
        raise ValidationError(f"{label} får vara högst {limit} tecken.", field)
    return text


def _commit(message: str, field: str) -> None:
    try:
        db.session.commit()
    except IntegrityError:  # someone saved the same value a moment ago
        db.session.rollback()
        raise ValidationError(message, field) from None


# --- mailboxes -----------------------------------------------------------------------------------


def list_mailboxes() -> list[Mailbox]:
    return list(db.session.scalars(sa.select(Mailbox).order_by(Mailbox.address)))


def password_is_set(env_name: str) -> bool:
    """Whether this process has the variable (its value is never read out to the page)."""
    return bool(_ENV_NAME.match(env_name)) and env_name in os.environ


def save_mailbox(mailbox: Mailbox | None, data: MailboxData) -> Mailbox:
    mailbox = mailbox or Mailbox()
    address = _text(data.address, "address", "E-postadressen", 254).lower()
    if not is_email(address):
        raise ValidationError("Ange en giltig e-postadress.", "address")
    same = sa.select(Mailbox.id).where(sa.func.lower(Mailbox.address) == address)
    if db.session.scalars(same.where(Mailbox.id != (mailbox.id or -1))).first() is not None:
        raise ValidationError("Det finns redan en brevlåda med den adressen.", "address")
    host = _text(data.imap_host, "imap_host", "Servernamnet", 200)
    if not _HOST.match(host):
        raise ValidationError("Ange serverns namn, till exempel imap.kommun.se.", "imap_host")
    if data.imap_port is None or not 1 <= data.imap_port <= 65535:
        raise ValidationError("Ange port som ett heltal mellan 1 och 65535.", "imap_port")
    if data.imap_security not in SECURITY_LABELS:
        raise ValidationError("Välj kryptering.", "imap_security")
    if data.imap_security == "none" and not _is_loopback(host):
        raise ValidationError(
            "Okrypterad IMAP är bara tillåten mot den egna datorn (localhost). "
            "Välj TLS eller STARTTLS.",
            "imap_security",
        )
    env = (data.password_env or "").strip()
    if not _ENV_NAME.match(env) or "IMAP" not in env:
        raise ValidationError(
            "Ange namnet på en miljövariabel med versaler, siffror och understreck som "
            "innehåller IMAP, till exempel IMAP_LOSENORD_KONTAKT. Lösenordet sparas aldrig här.",
            "password_env",
        )
    folder = _text(data.folder, "folder", "Mappen", 200)
    processed = _text(data.processed_folder, "processed_folder", "Mappen", 200, required=False)
    if processed and processed == folder:
        raise ValidationError("Välj en annan mapp än den som läses.", "processed_folder")
    name = _text(data.name, "name", "Namnet", 120)
    user = _text(data.imap_user, "imap_user", "Användarnamnet", 200)
    servers = _servers(data.trusted_servers)
    try:
        trust = SenderTrust(data.sender_trust)
    except ValueError:
        raise ValidationError("Välj när avsändaradressen ska godtas.", "sender_trust") from None
    mailbox.address = address
    mailbox.name = name
    mailbox.imap_host = host
    mailbox.imap_port = data.imap_port
    mailbox.imap_security = data.imap_security
    mailbox.imap_user = user
    mailbox.password_env = env
    mailbox.folder = folder
    mailbox.processed_folder = processed or None
    mailbox.active = data.active
    mailbox.trusted_servers = servers
    mailbox.sender_trust = trust
    db.session.add(mailbox)
    _commit("Det finns redan en brevlåda med den adressen.", "address")
    return mailbox


def _servers(text: str | None) -> list[str]:
    try:
        servers = server_ids(text or "")
    except ValueError as error:
        raise ValidationError(
            f"”{error}” är inget servernamn. Ange servrarnas namn som de står först i "
            "Authentication-Results, till exempel mx.kommun.se, med mellanslag eller komma "
            "mellan.",
            "trusted_servers",
        ) from None
    if len(servers) > 20 or len(", ".join(servers)) > 2000:
        raise ValidationError("Ange högst 20 servrar.", "trusted_servers")
    return servers


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host == "localhost"


# --- routing rules -------------------------------------------------------------------------------


def list_rules() -> list[RoutingRule]:
    return list(
        db.session.scalars(
            sa.select(RoutingRule)
            .options(sa.orm.selectinload(RoutingRule.case_type))
            .order_by(RoutingRule.position, RoutingRule.id)
        )
    )


def save_rule(rule: RoutingRule | None, data: RuleData) -> RoutingRule:
    """Create (last in the order) or change a rule."""
    if data.kind is None:
        raise ValidationError("Välj vad regeln ska titta på.", "kind")
    pattern = _pattern(data.kind, data.pattern)
    if data.case_type is None:
        raise ValidationError("Välj ärendetyp.", "case_type")
    changed_type = rule is None or rule.case_type_id != data.case_type.id
    if data.active and not data.case_type.active and changed_type:
        raise ValidationError("Ärendetypen är inte aktiv. Välj en aktiv ärendetyp.", "case_type")
    same = sa.select(RoutingRule.id).where(
        RoutingRule.kind == data.kind, sa.func.lower(RoutingRule.pattern) == pattern.lower()
    )
    if rule is not None:
        same = same.where(RoutingRule.id != rule.id)
    if db.session.scalars(same).first() is not None:
        raise ValidationError(
            f"Det finns redan en regel för {data.kind.label.lower()} ”{pattern}”. "
            "Den första regeln som passar gäller, så en till gör ingen skillnad.",
            "pattern",
        )
    if rule is None:
        last = db.session.scalar(sa.select(sa.func.max(RoutingRule.position)))
        rule = RoutingRule(position=(last or 0) + 10)
        db.session.add(rule)
    rule.kind = data.kind
    rule.pattern = pattern
    rule.case_type = data.case_type
    rule.to_department = data.to_department
    rule.active = data.active
    db.session.commit()
    return rule


def _pattern(kind: RuleKind, value: str | None) -> str:
    text = _text(value, "pattern", "Mönstret", 200)
    if kind == RuleKind.RECIPIENT:
        text = text.lower()
        if not is_email(text):
            message = "Ange en e-postadress, till exempel bygglov@kommun.se."
            raise ValidationError(message, "pattern")
    elif kind == RuleKind.SENDER_DOMAIN:
        text = text.lower().lstrip("@")
        if not _DOMAIN.match(text):
            raise ValidationError("Ange en domän utan @, till exempel lansstyrelsen.se.", "pattern")
    return text


def delete_rule(rule: RoutingRule) -> None:
    db.session.delete(rule)
    db.session.commit()


def move_rule(rule: RoutingRule, step: int) -> bool:
    """Move one place up (-1) or down (+1); the order is renumbered 10, 20, 30 …"""
    rules = list_rules()
    index = rules.index(rule)
    target = index + step
    if not 0 <= target < len(rules):
        return False
    rules[index], rules[target] = rules[target], rules[index]
    for number, item in enumerate(rules, start=1):
        item.position = number * 10
    db.session.commit()
    return True


# --- templates -----------------------------------------------------------------------------------


def acknowledgement_template() -> MailTemplate | None:
    return db.session.scalars(sa.select(MailTemplate).where(MailTemplate.key == ACK_KEY)).first()


def answer_templates() -> list[MailTemplate]:
    return list(
        db.session.scalars(
            sa.select(MailTemplate)
            .where(MailTemplate.key.like(ANSWER_PREFIX + "%"))
            .order_by(MailTemplate.name)
        )
    )


def acknowledgement_data() -> TemplateData:
    """The acknowledgement as it is sent today: the saved template, or the built-in text."""
    template = acknowledgement_template()
    if template is None:
        return TemplateData(ACK_NAME, outbound.DEFAULT_ACK_BODY, outbound.DEFAULT_ACK_SUBJECT)
    return TemplateData(template.name, template.body, template.subject, active=template.active)


def save_acknowledgement(data: TemplateData) -> MailTemplate:
    template = acknowledgement_template() or MailTemplate(key=ACK_KEY)
    subject = _text(data.subject, "subject", "Ämnesraden", 300)
    _apply_template(template, data, subject, ACK_PLACEHOLDERS)
    db.session.add(template)
    _commit("Kvittensen sparades samtidigt av någon annan. Försök igen.", "name")
    return template


def save_answer_template(template: MailTemplate | None, data: TemplateData) -> MailTemplate:
    if template is None:
        slug = (data.slug or "").strip().lower() or slugify(data.name or "")
        if not re.fullmatch(r"[a-z0-9]+(?:-[a-z0-9]+)*", slug) or len(slug) > 50:
            raise ValidationError(
                "Kortnamnet får bara innehålla a–z, 0–9 och bindestreck (högst 50 tecken).",
                "slug",
            )
        template = MailTemplate(key=ANSWER_PREFIX + slug)
        taken = sa.select(MailTemplate.id).where(MailTemplate.key == template.key)
        if db.session.scalars(taken).first() is not None:
            raise ValidationError("Det finns redan en mall med det kortnamnet.", "slug")
    _apply_template(template, data, "")
    db.session.add(template)
    _commit("Det finns redan en mall med det kortnamnet.", "slug")
    return template


def _apply_template(
    template: MailTemplate,
    data: TemplateData,
    subject: str,
    placeholders: dict[str, str] = PLACEHOLDERS,
) -> None:
    name = _text(data.name, "name", "Namnet", 120)
    body = (data.body or "").strip().replace("\r\n", "\n")
    if not body:
        raise ValidationError("Skriv mallens text.", "body")
    if len(body) > outbound.BODY_MAX:
        raise ValidationError(f"Texten får vara högst {outbound.BODY_MAX} tecken.", "body")
    for field, text in (("subject", subject), ("body", body)):
        unknown = [p for p in _PLACEHOLDER.findall(text) if p not in placeholders]
        known = ", ".join("{" + p + "}" for p in placeholders)
        if unknown and unknown[0] in outbound.SENDER_PLACEHOLDERS:
            raise ValidationError(
                f"Kvittensen kan inte citera {{{unknown[0]}}}: den skickas till vem som helst som "
                "skriver till oss och får bara innehålla ärendenumret och er egen text. Du kan "
                f"använda {known}.",
                field,
            )
        if unknown:
            raise ValidationError(
                f"Okänd platshållare {{{unknown[0]}}}. Du kan använda {known}.", field
            )
    template.name = name
    template.subject = subject
    template.body = body
    template.active = data.active


# --- messages that were not filed ----------------------------------------------------------------


@dataclass
class UnfiledPage:
    items: list[MailMessage]
    page: int
    pages: int
    total: int


def _unfiled() -> sa.ColumnElement[bool]:
    return sa.and_(
        MailMessage.direction == Direction.INBOUND,
        MailMessage.case_id.is_(None),
        MailMessage.status.in_(UNFILED_STATUSES),
    )


def unfiled_page(page: int) -> UnfiledPage:
    total = db.session.scalar(sa.select(sa.func.count()).select_from(MailMessage).where(_unfiled()))
    pages = max(1, -(-(total or 0) // PAGE_SIZE))
    page = min(max(page, 1), pages)
    items = db.session.scalars(
        sa.select(MailMessage)
        .where(_unfiled())
        .order_by(MailMessage.created_at.desc(), MailMessage.id.desc())
        .offset((page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE)
    ).all()
    return UnfiledPage(list(items), page, pages, total or 0)


def get_unfiled(message_pk: int) -> MailMessage | None:
    return db.session.scalars(
        sa.select(MailMessage).where(MailMessage.id == message_pk, _unfiled())
    ).first()


def reprocess(message: MailMessage) -> mail_intake.IngestResult:
    """Read a message that could not be read again (after a parser fix): it may become a case."""
    if message.status != MailStatus.UNREADABLE:
        raise ValidationError("Bara meddelanden som inte kunde läsas kan behandlas igen.")
    result = mail_intake.reprocess(message.id)
    if result.result == "duplicate":
        # Filed already under the same Message-ID: keep this copy (its bytes may differ).
        db.session.rollback()
    return result


# --- the admin index -----------------------------------------------------------------------------


@dataclass
class MailCounts:
    mailboxes: int
    active_mailboxes: int
    active_rules: int
    templates: int
    unfiled: int
    outbox: int | None  # None: mail goes out over SMTP


def counts() -> MailCounts:
    def total(model: type, *where: sa.ColumnElement[bool]) -> int:
        return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where)) or 0

    return MailCounts(
        mailboxes=total(Mailbox),
        active_mailboxes=total(Mailbox, Mailbox.active.is_(True)),
        active_rules=total(RoutingRule, RoutingRule.active.is_(True)),
        templates=total(MailTemplate),
        unfiled=total(MailMessage, _unfiled()),
        outbox=outbox.count() if outbox.enabled() else None,
    )
