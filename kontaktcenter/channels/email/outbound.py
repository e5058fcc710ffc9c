"""Outgoing e-mail on a case: answers written by staff and automatic acknowledgements.

A message is composed, stored (raw bytes, like every message) and queued in the caller's
transaction; a job delivers it after the commit. Our own Message-ID is stored, so a citizen's
reply threads back to the case; the subject carries the reference and In-Reply-To/References
point at the citizen's last message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sqlalchemy as sa

from kontaktcenter.cases import events
from kontaktcenter.cases.enums import ActivityKind
from kontaktcenter.cases.models import Case
from kontaktcenter.cases.services import add_activity
from kontaktcenter.channels.email import store as mail_store
from kontaktcenter.channels.email.mime.classify import is_no_reply_address
from kontaktcenter.channels.email.models import (
    Direction,
    MailAttachment,
    MailKind,
    MailMessage,
    MailStatus,
    MailTemplate,
)
from kontaktcenter.channels.email.routing import own_addresses
from kontaktcenter.core import mailer, outbox
from kontaktcenter.core.errors import ValidationError
from kontaktcenter.core.extensions import db, utcnow
from kontaktcenter.core.identifiers import is_email, normalise_email
from kontaktcenter.goals.models import GoalTarget
from kontaktcenter.organisation.models import User

BODY_MAX = 20000
SUBJECT_MAX = 60
REPLY_PREFIX = "Sv: "
CLOSING = "Vänliga hälsningar"
_REFERENCE_TAG = re.compile(r"\s*\[KC-\d{4}-\d{6}\]\s*")
# Reply and forward prefixes of Swedish, English, German, Danish/Norwegian and Outlook mail.
_PREFIXES = re.compile(r"^(?:re|sv|svar|aw|vs|vb|fw|fwd|ang)\s*(?:\[\d+\])?\s*:\s*", re.IGNORECASE)
_CLOSING_LINE = re.compile(
    r"^(?:med\s+)?(?:vänlig(?:a|en)?\s+hälsning(?:ar)?|hälsningar|mvh)\b", re.IGNORECASE
)
ATTACHMENT_MAX = 10 * 1024 * 1024
NUMBERS = {1: "en", 2: "två", 3: "tre", 4: "fyra", 5: "fem", 10: "tio"}
INVALID_RECIPIENT = (
    "Kontaktens e-postadress är inte en giltig adress, så inget har skickats. "
    "Kontakta personen på annat sätt."
)
DEFAULT_ACK_SUBJECT = "Vi har tagit emot ditt meddelande"
# Placeholders whose text the sender wrote (the subject, the From name): never in a receipt,
# which goes out unasked, so it must carry nothing but the reference and our own words.
SENDER_PLACEHOLDERS = ("ämne", "namn")
_SENDER_PLACEHOLDER = re.compile(r"[ \t]*[:–—-]?[ \t]*\{(?:ämne|namn)\}")
DEFAULT_ACK_BODY = (
    "Hej!\n\nTack för ditt meddelande. Vi har tagit emot det och gett det ärendenummer "
    "{referens}.\n\n{servicelöfte}\n\nSvara på det här mejlet om du vill lägga till något; "
    "behåll ärendenumret i ämnesraden.\n\nVänliga hälsningar\nKontaktcenter\n\n"
    "Det här är ett automatiskt meddelande."
)


@dataclass
class OutgoingFile:
    filename: str
    content_type: str
    data: bytes


def _last_inbound(case: Case) -> MailMessage | None:
    return db.session.scalars(
        sa.select(MailMessage)
        .where(
            MailMessage.case_id == case.id,
            MailMessage.direction == Direction.INBOUND,
            MailMessage.kind == MailKind.MESSAGE,
        )
        .order_by(MailMessage.id.desc())
        .limit(1)
    ).first()


def _subject(case: Case, subject: str) -> str:
    """The reference in brackets, after a reply's "Sv:" (which mail programs expect first)."""
    subject = " ".join(_REFERENCE_TAG.sub(" ", subject).split())
    prefix = ""
    if subject.startswith(REPLY_PREFIX):
        prefix, subject = REPLY_PREFIX, subject[len(REPLY_PREFIX) :]
    return f"{prefix}[{case.reference}] {subject}".strip()


def subject_line(case: Case) -> str:
    """What the case is about, as a subject: for mail, the citizen's subject without "Re:",
    "Sv:", "VB:"… and our reference; otherwise the first line of the summary, shortened."""
    for subject in db.session.scalars(
        sa.select(MailMessage.subject)
        .where(
            MailMessage.case_id == case.id,
            MailMessage.direction == Direction.INBOUND,
            MailMessage.kind == MailKind.MESSAGE,
        )
        .order_by(MailMessage.id.desc())
        .limit(5)
    ):
        text = _bare(subject or "")
        if text:
            return text
    first = " ".join((case.summary or "").strip().split("\n", 1)[0].split())
    if len(first) > SUBJECT_MAX:
        first = first[:SUBJECT_MAX].rsplit(" ", 1)[0].rstrip(",.;:") + "…"
    return first or (case.case_type.name if case.case_type else "Ditt ärende")


def _bare(subject: str) -> str:
    text = " ".join(_REFERENCE_TAG.sub(" ", subject).split())
    while (match := _PREFIXES.match(text)) is not None and match.end() < len(text):
        text = text[match.end() :].lstrip()
    return _REFERENCE_TAG.sub(" ", text).strip()


def reply_subject(case: Case) -> str:
    """A reply's subject as the citizen will see it: ``Sv: [KC-2026-000123] Fråga om bygglov``."""
    return _subject(case, REPLY_PREFIX + subject_line(case))


def signature(user: User) -> str:
    """The sender's own signature, from their profile: name, title, unit, phone."""
    departments = ", ".join(d.name for d in user.departments)
    unit = (user.unit or "").strip() or departments or "Kontaktcenter"
    lines = [CLOSING, user.name, (user.title or "").strip(), unit, (user.phone or "").strip()]
    return "\n".join(line for line in lines if line)


def without_closing(text: str) -> str:
    """A template's text without its own closing paragraph ("Vänliga hälsningar\nKontaktcenter"):
    the reply is signed by the person who sends it."""
    paragraphs = re.split(r"\n[ \t]*\n", text.replace("\r\n", "\n").strip())
    if len(paragraphs) > 1 and _CLOSING_LINE.match(paragraphs[-1].strip()):
        paragraphs = paragraphs[:-1]
    return "\n\n".join(paragraphs)


def template_text(template: MailTemplate, case: Case) -> str:
    """An answer template filled in for `case`, ready to go into the reply box."""
    return without_closing(
        render_template_text(template.body, **template_values(case, subject_line(case)))
    )


def insert_text(body: str, text: str, signature_text: str) -> str:
    """`text` added to what is already written: before the signature if the box still has it,
    else at the end. Nothing typed is lost (the page's script inserts at the cursor instead)."""
    body = (body or "").replace("\r\n", "\n")
    at = body.rfind(signature_text) if signature_text and signature_text in body else len(body)
    before, after = body[:at].rstrip(), body[at:]
    parts = [part for part in (before, text.strip(), after.strip()) if part]
    return "\n\n".join(parts)


def compose(
    case: Case,
    kind: MailKind,
    recipient: str,
    subject: str,
    body: str,
    author: User | None = None,
    files: list[OutgoingFile] | None = None,
) -> MailMessage:
    if not is_email(recipient):  # one valid address, or nothing is sent (no header injection)
        raise ValidationError(INVALID_RECIPIENT)
    parent = _last_inbound(case)
    headers: dict[str, str] = {}
    if parent is not None and parent.message_id:
        headers["In_Reply_To"] = parent.message_id
        chain = (parent.references or "").split() + [parent.message_id]
        headers["References"] = " ".join(chain[-20:])
    if kind == MailKind.REPLY:
        headers["auto_submitted"] = "no"
    email = mailer.build([recipient], _subject(case, subject), body, **headers)
    for file in files or []:
        maintype, _, subtype = file.content_type.partition("/")
        email.add_attachment(
            file.data,
            maintype=maintype or "application",
            subtype=subtype or "octet-stream",
            filename=file.filename,
        )
    raw = email.as_bytes()
    message = MailMessage(
        direction=Direction.OUTBOUND,
        kind=kind,
        status=MailStatus.QUEUED,
        case=case,
        author_id=author.id if author else None,
        message_id=email["Message-ID"],
        in_reply_to=headers.get("In_Reply_To"),
        references=headers.get("References"),
        from_addr=mailer.sender_address(),
        to_addrs=[recipient],
        recipient=recipient,
        subject=str(email["Subject"]),
        created_at=utcnow(),
        raw_sha256=mail_store.store(raw),
        size=len(raw),
        text_body=body,
    )
    db.session.add(message)
    for file in files or []:
        message.attachments.append(
            MailAttachment(
                filename=file.filename,
                content_type=file.content_type,
                size=len(file.data),
                blob_sha256=mail_store.store(file.data),
            )
        )
    db.session.add(message)
    return message


@dataclass(frozen=True)
class ReplyAddresses:
    sender: str | None  # the contact's address: where an answer goes
    reply_to: str | None  # the citizen's last message asked for answers here: only if chosen


def reply_addresses(case: Case) -> ReplyAddresses:
    """Where an answer can go: the contact (from the From address), and a differing Reply-To
    of the last message, which anyone can write and so is used only when the agent says so."""
    sender = case.contact.email if case.contact is not None and case.contact.email else None
    last = _last_inbound(case)
    reply_to = last.reply_to if last is not None else None
    if reply_to is not None and reply_to in (sender, last.from_addr if last else None):
        reply_to = None
    return ReplyAddresses(sender, reply_to)


def _recipient(case: Case, reply_to: str | None) -> str:
    addresses = reply_addresses(case)
    if reply_to:
        if " ".join(reply_to.split()).lower() != addresses.reply_to:
            raise ValidationError(
                "Reply-To-adressen har ändrats sedan sidan visades. Kontrollera den och välj igen.",
                "reply_to",
            )
        return addresses.reply_to
    if addresses.sender is None:
        if addresses.reply_to:
            raise ValidationError(
                "Kontakten har ingen e-postadress. Välj att svara till Reply-To-adressen "
                f"{addresses.reply_to} om du har kontrollerat att den hör till avsändaren.",
                "reply_to",
            )
        raise ValidationError("Kontakten har ingen e-postadress att svara till.", "body")
    return addresses.sender


def reply(
    case: Case,
    by: User,
    body: str,
    files: list[OutgoingFile] | None = None,
    expected_version: int | None = None,
    reply_to: str | None = None,
) -> MailMessage:
    """Answer the citizen by e-mail. The first answer is the case's first response. It goes to
    the contact, or to the Reply-To address `reply_to` when the agent chose it (the address
    they saw, which must still be the one of the last message)."""
    from kontaktcenter.cases.actions import acting

    # Browsers send a textarea's line breaks as CRLF; compare and store them as LF.
    text = (body or "").replace("\r\n", "\n").strip()
    if not text:
        raise ValidationError("Skriv ett svar.", "body")
    if len(text) > BODY_MAX:
        raise ValidationError(f"Svaret får vara högst {BODY_MAX} tecken.", "body")
    for file in files or []:
        if len(file.data) > ATTACHMENT_MAX:
            raise ValidationError("En bilaga får vara högst 10 MB.", "attachments")
    if " ".join(text.split()) == " ".join(signature(by).split()):
        raise ValidationError("Skriv ett svar ovanför signaturen.", "body")
    recipient = _recipient(case, reply_to)
    with acting(case, by, "reply", expected_version):
        now = utcnow()
        subject = REPLY_PREFIX + subject_line(case)
        message = compose(case, MailKind.REPLY, recipient, subject, text, by, files)
        db.session.flush()
        chosen = {"reply_to": True} if reply_to else {}
        add_activity(
            case,
            ActivityKind.EMAIL_QUEUED,
            by,
            text,
            recipient=recipient,
            message=message.id,
            **chosen,
        )
        if case.first_response_at is None:
            case.first_response_at = now
        events.first_response.send(case, at=now)
        if case.assignee is None:
            case.assignee = by
        outbox.add("email.deliver", message_pk=message.id)
    outbox.dispatch()
    return message


def template_values(case: Case, subject: str) -> dict[str, str]:
    """The placeholders admins can use in mail templates."""
    return {
        "referens": case.reference,
        "servicelöfte": promise_text(case),
        "ämne": subject,
        "namn": case.contact.name if case.contact and case.contact.name else "",
    }


def render_template_text(text: str, **values: str) -> str:
    for key, value in values.items():
        text = text.replace("{" + key + "}", value)
    return text


def promise_text(case: Case) -> str:
    goal = next(
        (g for g in case.goals if g.target == GoalTarget.FIRST_RESPONSE and g.cancelled_at is None),
        None,
    )
    if goal is None:
        return "Vi svarar så snart vi kan."
    amount, unit = goal.definition["amount"], goal.definition["unit"]
    word = NUMBERS.get(amount, str(amount))
    if unit == "working_days":
        return f"Vi svarar inom {word} arbetsdag{'ar' if amount != 1 else ''}."
    return f"Vi svarar inom {word} timm{'ar' if amount != 1 else 'e'}."


def acknowledgement_text(text: str, case: Case) -> str:
    """A receipt's subject or body from its template: the reference and the promise filled in;
    the sender's words (an old template's {ämne} or {namn}) left out, with the colon or dash
    that introduced them."""
    text = _SENDER_PLACEHOLDER.sub("", text)
    return render_template_text(
        text, referens=case.reference, servicelöfte=promise_text(case)
    ).strip()


def receipt_address(inbound: MailMessage) -> str | None:
    """Where a receipt goes: the From address (never a Reply-To), if it is one valid address
    and not a no-reply one or one of ours."""
    address = (inbound.from_addr or "").strip().lower()
    if not is_email(address) or is_no_reply_address(address) or address in own_addresses():
        return None
    return normalise_email(address)


def acknowledgement(case: Case, inbound: MailMessage) -> MailMessage | None:
    """Compose the automatic receipt for a new case (once per case), to the address the
    intake counted against the limits (receipts.py): the sender's From."""
    already = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(MailMessage)
        .where(MailMessage.case_id == case.id, MailMessage.kind == MailKind.ACKNOWLEDGEMENT)
    )
    recipient = receipt_address(inbound)
    if already or not recipient:
        return None
    template = db.session.scalars(
        sa.select(MailTemplate).where(
            MailTemplate.key == "acknowledgement", MailTemplate.active.is_(True)
        )
    ).first()
    subject = acknowledgement_text(template.subject if template else DEFAULT_ACK_SUBJECT, case)
    body = acknowledgement_text(template.body if template else DEFAULT_ACK_BODY, case)
    message = compose(
        case, MailKind.ACKNOWLEDGEMENT, recipient, subject or DEFAULT_ACK_SUBJECT, body
    )
    add_activity(case, ActivityKind.ACKNOWLEDGED, None, recipient=recipient)
    return message
