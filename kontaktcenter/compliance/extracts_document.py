"""The register extract itself: one JSON document, the download, the API answer and the printed
page alike. Its format is described in docs/register-extract.md (``FORMAT`` names the version).

What it holds about the person (their contacts): every case where they are the contact, with
the timeline (notes included) and the e-mail of those cases; the e-mail sent from or to their
addresses that is filed on no case; and the audit log's entries about those contacts or cases.

What it leaves out or masks, and why (docs/decisions.md):
- Other people: an address in From/To/Cc that is neither the person's nor ours becomes
  ``OTHER_PERSON`` (in the headers and where it is written in the text), and so does such a
  sender's name. Staff names and our own mailboxes stay: officials act for the authority, and
  who handled the matter is part of what the person is entitled to know.
- Every personnummer in free text is masked (its last four digits); the person's own is shown
  once, whole, on their contact.
- E-mail on another person's case that the person only sent or received a copy of: when, and
  in what role, but not its content, which belongs to that case (a request for allmän handling
  with a secrecy review is the way to it).
- Secret cases (sekretess): the register fields and the fact that it is secret are shown; the
  content (summary, texts, e-mail) is replaced by ``masked_text(ground)``. Secrecy that protects
  the person does not apply against them (OSL 12:1), but a secret case may hold others' data
  too (26:1, 26:5): the owning department reviews those parts and hands them over itself.
- HTML bodies (the text body says the same), attachments' content (listed by name, type and
  size; handed over after review), and the timeline's internal data fields.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import joinedload, selectinload

from kontaktcenter.cases import secrecy
from kontaktcenter.cases.models import Activity, Case, Contact
from kontaktcenter.channels.email.models import Direction, Mailbox, MailMessage
from kontaktcenter.compliance.audit_labels import ACTION_LABELS
from kontaktcenter.compliance.extract_models import RegisterExtractRequest
from kontaktcenter.core.audit import AuditEvent
from kontaktcenter.core.extensions import db, utcnow
from kontaktcenter.core.identifiers import mask_personnummer
from kontaktcenter.organisation.models import Department, User

FORMAT = "kontaktcenter.register-extract/1"
OTHER_PERSON = "[annan person]"
OTHER_CASE_TEXT = (
    "Meddelandet hör till en annan persons ärende. Innehållet lämnas inte ut i registerutdraget; "
    "det kan begäras ut som allmän handling efter sekretessprövning."
)
NOT_THEIRS_TEXT = (
    "Meddelandet finns i ditt ärende men skickades inte av eller till dig (till exempel från "
    "ett ärende som slogs ihop med ditt). Innehållet lämnas inte ut i registerutdraget; det "
    "kan begäras ut som allmän handling efter sekretessprövning."
)
SECRET_NOTE = (
    "Ärendet omfattas av sekretess ({ground}). Sekretess till skydd för dig gäller inte mot dig "
    "själv (12 kap. 1 § OSL), men ärendet kan innehålla uppgifter om andra. {department} "
    "prövar innehållet och lämnar ut det som får lämnas ut."
)
NOTES = [
    "Registerutdraget visar de personuppgifter om dig som kontaktcentret behandlar "
    "(artikel 15 i dataskyddsförordningen).",
    "Uppgifter om andra personer är maskerade: deras e-postadresser och namn visas som "
    f"{OTHER_PERSON}, och personnummer i fritext visas utan de fyra sista siffrorna.",
    "Namn på kommunens medarbetare och kommunens egna adresser visas, eftersom de handlar "
    "i tjänsten.",
    "Bifogade filer räknas upp; innehållet lämnas ut efter granskning.",
]


def build(request: RegisterExtractRequest) -> dict[str, Any]:
    """The extract for `request`: what we hold now about the contacts it covers."""
    contacts = list(
        db.session.scalars(
            sa.select(Contact).where(Contact.id.in_(request.contact_ids)).order_by(Contact.id)
        )
    )
    own = {contact.email for contact in contacts if contact.email}
    ours = _our_addresses()
    cases = _cases([contact.id for contact in contacts])
    case_ids = [case.id for case in cases]
    messages = _messages_by_case(case_ids)
    return {
        "format": FORMAT,
        "generated_at": _iso(utcnow()),
        "request": request_json(request),
        "notes": NOTES,
        "contacts": [_contact(contact) for contact in contacts],
        "cases": [_case(case, messages.get(case.id, []), own, ours) for case in cases],
        "other_messages": _other_messages(own, ours, set(case_ids)),
        "audit": _audit([contact.id for contact in contacts], cases),
    }


def request_json(request: RegisterExtractRequest) -> dict[str, Any]:
    return {
        "id": request.id,
        "reference": request.reference,
        "status": request.status.value,
        "requested_at": _iso(request.requested_at),
        "due_on": request.due_on.isoformat(),
        "delivered_at": _iso(request.delivered_at),
        "identifiers": dict(request.identifiers or {}),
        "contact_ids": request.contact_ids,
        "note": request.note,
    }


# --- contacts and cases ------------------------------------------------------------------------


def _contact(contact: Contact) -> dict[str, Any]:
    return {
        "id": contact.id,
        "kind": contact.kind.value,
        "name": contact.name,
        "phone": contact.phone,
        "email": contact.email,
        "personnummer": contact.personnummer,
        "organisation_number": contact.organisation_number,
        "created_at": _iso(contact.created_at),
    }


def _cases(contact_ids: list[int]) -> list[Case]:
    if not contact_ids:
        return []
    return list(
        db.session.scalars(
            sa.select(Case)
            .options(
                joinedload(Case.case_type),
                joinedload(Case.department),
                selectinload(Case.activities).joinedload(Activity.actor),
            )
            .where(Case.contact_id.in_(contact_ids))
            .order_by(Case.received_at, Case.id)
        ).unique()
    )


def _case(case: Case, messages: list[MailMessage], own: set[str], ours: set[str]) -> dict[str, Any]:
    ground = case.effective_secrecy_ground
    department = case.department.name if case.department else None
    hide = secrecy.masked_text(ground) if ground else None

    def content(text: str | None) -> str | None:
        if text is None or hide is None:
            return _free_text(text, own, ours, [])
        return hide

    return {
        "reference": case.reference,
        "channel": case.channel.value,
        "status": case.status.value,
        "outcome": case.outcome.value if case.outcome else None,
        "received_at": _iso(case.received_at),
        "closed_at": _iso(case.closed_at),
        "case_type": case.case_type.name if case.case_type else None,
        "department": department,
        "secret": ground is not None,
        "secrecy_ground": ground,
        "secrecy_note": (
            SECRET_NOTE.format(
                ground=ground, department=department or "Den ansvariga förvaltningen"
            )
            if ground
            else None
        ),
        "summary": content(case.summary) or "",
        "resolution": content(case.resolution),
        "referred_to": content(case.referred_to),
        "timeline": [
            {
                "at": _iso(activity.created_at),
                "kind": activity.kind.value,
                "label": activity.kind.label,
                "by": activity.actor.name if activity.actor else None,
                "text": content(activity.text),
            }
            for activity in case.activities
        ],
        "messages": [_message(message, own, ours, hide) for message in messages],
    }


# --- e-mail ------------------------------------------------------------------------------------


def _our_addresses() -> set[str]:
    """Addresses of the authority itself: mailboxes, departments, staff."""
    rows: Iterable[str | None] = [
        *db.session.scalars(sa.select(Mailbox.address)),
        *db.session.scalars(sa.select(Department.contact_email)),
        *db.session.scalars(sa.select(User.email)),
    ]
    return {address.lower() for address in rows if address}


def _messages_by_case(case_ids: list[int]) -> dict[int, list[MailMessage]]:
    grouped: dict[int, list[MailMessage]] = defaultdict(list)
    if not case_ids:
        return grouped
    for message in db.session.scalars(
        sa.select(MailMessage)
        .options(selectinload(MailMessage.attachments))
        .where(MailMessage.case_id.in_(case_ids))
        .order_by(MailMessage.created_at, MailMessage.id)
    ):
        assert message.case_id is not None
        grouped[message.case_id].append(message)
    return grouped


def _addresses(message: MailMessage) -> list[str]:
    return [
        address.lower()
        for address in (
            message.from_addr,
            message.recipient,
            message.reply_to,
            *(message.to_addrs or []),
            *(message.cc_addrs or []),
        )
        if address
    ]


def _shown(address: str | None, own: set[str], ours: set[str]) -> str | None:
    if address is None:
        return None
    return address if address.lower() in own | ours else OTHER_PERSON


def _message(
    message: MailMessage, own: set[str], ours: set[str], hide: str | None
) -> dict[str, Any]:
    addresses = _addresses(message)
    others = [a for a in addresses if a not in own and a not in ours]
    sender_known = (message.from_addr or "").lower() in own | ours
    if hide is None and not any(a in own for a in addresses):
        # On the person's case, but someone else's mail (merged in, or a Cc'd party's).
        hide = NOT_THEIRS_TEXT
    return {
        "id": message.id,
        "direction": message.direction.value,
        "kind": message.kind.value,
        "at": _iso(_message_time(message)),
        "from": _shown(message.from_addr, own, ours),
        "from_name": (message.from_name if sender_known else OTHER_PERSON)
        if message.from_name
        else None,
        "to": [_shown(a, own, ours) for a in (message.to_addrs or [])],
        "cc": [_shown(a, own, ours) for a in (message.cc_addrs or [])],
        "subject": hide if hide else _free_text(message.subject, own, ours, others),
        "text": hide if hide else _free_text(message.text_body, own, ours, others),
        "attachments": []
        if hide
        else [
            {"filename": a.filename, "content_type": a.content_type, "size": a.size}
            for a in message.attachments
        ],
    }


def _other_messages(own: set[str], ours: set[str], case_ids: set[int]) -> list[dict[str, Any]]:
    """Mail from or to the person's addresses that is not on their cases: filed on no case
    (shown whole, masked as above) or on someone else's case (when and how only)."""
    if not own:
        return []
    conditions: list[sa.ColumnElement[bool]] = [
        MailMessage.from_addr.in_(own),
        MailMessage.recipient.in_(own),
    ]
    for address in sorted(own):
        pattern = '%"' + _escape_like(address) + '"%'
        conditions.append(sa.cast(MailMessage.to_addrs, sa.Text).like(pattern, escape="\\"))
        conditions.append(sa.cast(MailMessage.cc_addrs, sa.Text).like(pattern, escape="\\"))
    result = []
    for message in db.session.scalars(
        sa.select(MailMessage)
        .options(selectinload(MailMessage.attachments), selectinload(MailMessage.case))
        .where(sa.or_(*conditions))
        .order_by(MailMessage.created_at, MailMessage.id)
    ):
        if message.case_id in case_ids:
            continue
        roles = _roles(message, own)
        if not roles:  # the LIKE matched a longer address
            continue
        if message.case_id is None:
            item = _message(message, own, ours, None)
            item["case_reference"] = None
        else:
            item = {
                "id": message.id,
                "direction": message.direction.value,
                "kind": message.kind.value,
                "at": _iso(_message_time(message)),
                "case_reference": message.case.reference if message.case else None,
                "withheld": OTHER_CASE_TEXT,
            }
        item["roles"] = roles
        result.append(item)
    return result


def _roles(message: MailMessage, own: set[str]) -> list[str]:
    roles = []
    if (message.from_addr or "").lower() in own:
        roles.append("from")
    to = {a.lower() for a in message.to_addrs or []} | {(message.recipient or "").lower()}
    if to & own:
        roles.append("to")
    if {a.lower() for a in message.cc_addrs or []} & own:
        roles.append("cc")
    return roles


def _message_time(message: MailMessage) -> datetime:
    if message.direction == Direction.OUTBOUND:
        return message.sent_at or message.created_at
    return message.received_at or message.created_at


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# --- audit -------------------------------------------------------------------------------------


def _audit(contact_ids: list[int], cases: list[Case]) -> list[dict[str, Any]]:
    references = {case.id: case.reference for case in cases}
    conditions = []
    if contact_ids:
        conditions.append(AuditEvent.contact_id.in_(contact_ids))
    if references:
        conditions.append(AuditEvent.case_id.in_(list(references)))
    if not conditions:
        return []
    rows = db.session.execute(
        sa.select(AuditEvent, User.name)
        .outerjoin(User, User.id == AuditEvent.user_id)
        .where(sa.or_(*conditions))
        .order_by(AuditEvent.created_at, AuditEvent.id)
    )
    return [
        {
            "at": _iso(event.created_at),
            "action": event.action,
            "label": ACTION_LABELS.get(event.action, event.action),
            "by": name,
            "case_reference": references.get(event.case_id) if event.case_id else None,
        }
        for event, name in rows
    ]


# --- text ------------------------------------------------------------------------------------


def _free_text(text: str | None, own: set[str], ours: set[str], others: list[str]) -> str | None:
    """Free text with every personnummer masked and other participants' addresses replaced."""
    if text is None:
        return None
    for address in sorted(set(others), key=len, reverse=True):
        if address not in own and address not in ours:
            text = _replace_casefold(text, address, OTHER_PERSON)
    return mask_personnummer(text)


def _replace_casefold(text: str, needle: str, replacement: str) -> str:
    return re.sub(re.escape(needle), lambda _match: replacement, text, flags=re.IGNORECASE)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None
