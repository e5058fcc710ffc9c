"""Filing a batch of parsed messages in one transaction: look-ups, threading, new cases,
bounces, duplicates. :mod:`kontaktcenter.channels.email.intake` is the entry point."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar, cast

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm.attributes import set_committed_value

from kontaktcenter.cases import events
from kontaktcenter.cases.contacts import ContactData, EmailIndex
from kontaktcenter.cases.enums import ActivityKind, CaseStatus, Channel
from kontaktcenter.cases.models import Case
from kontaktcenter.cases.references import next_references, year_of
from kontaktcenter.cases.services import NewCase, add_activity, build_case
from kontaktcenter.channels.email import store as mail_store
from kontaktcenter.channels.email.lookups import (
    DUPLICATE_REASON,
    IngestResult,
    Lookups,
    chunks,
    cited_ids,
    contact_email,
    dedupe_key,
    recent_acknowledgements,
)
from kontaktcenter.channels.email.mime.parsing import ParsedMessage
from kontaktcenter.channels.email.models import (
    Direction,
    MailAttachment,
    MailKind,
    MailMessage,
    MailStatus,
    RuleKind,
)
from kontaktcenter.channels.email.routing import own_addresses, route, routing_rules
from kontaktcenter.core.extensions import db, utcnow

T = TypeVar("T")

SUMMARY_MAX = 300
MESSAGE_ID_MAX = 998
# A received time further back than this is not believed (forged or broken headers); the
# message counts as received when it reached us. Archives imported later keep their dates.
OLDEST_BELIEVABLE = timedelta(days=5 * 366)
log = logging.getLogger(__name__)


# --- one batch -------------------------------------------------------------------------------


PLACEHOLDER = "~"  # + 18 hex digits: a case reference until the batch is numbered


@dataclass
class Filed:
    """One message's outcome, completed after the flush (ids, references)."""

    result: str
    case: Case | None = None
    message: MailMessage | None = None
    reason: str | None = None
    acknowledge: bool = False
    stored: IngestResult | None = None  # a duplicate of a message filed before this batch

    def outcome(self) -> IngestResult:
        if self.stored is not None:
            return self.stored
        return IngestResult(
            self.result,
            self.case.reference if self.case is not None else None,
            self.reason,
            self.message.id if self.message is not None else None,
        )


class Batch:
    """Files messages one after the other in Python, as `ingest` did one per transaction, with
    what the database holds read up front and what the batch adds kept in memory."""

    def __init__(self, messages: list[ParsedMessage], mailbox_id: int | None) -> None:
        self.mailbox_id = mailbox_id
        self.now = utcnow()
        self.own = own_addresses()
        self.seen: dict[tuple[str, str], Filed] = {}
        self.blobs: dict[str, bytes] = {}
        self.new_cases: list[Case] = []
        self.threaded: dict[str, tuple[int, Case]] = {}  # this batch's, with their position
        # Parties added in this batch to cases cited by reference (see is_party).
        self.parties: dict[int, set[str]] = {}
        self._look_up(messages)

    def _look_up(self, messages: list[ParsedMessage]) -> None:
        """What the database holds about the batch: one query per kind of look-up."""
        self.rules = routing_rules()  # the rules in force now, with their case types
        self.lookups = Lookups(messages)
        # Threading: Message-IDs we hold, and the messages of this batch by Message-ID.
        cited = [i for parsed in messages for i in cited_ids(parsed)]
        self.threads: dict[str, tuple[int, int]] = {}  # Message-ID -> (message pk, case id)
        for chunk in chunks(cited):
            for row in db.session.execute(
                sa.select(MailMessage.message_id, MailMessage.id, MailMessage.case_id).where(
                    MailMessage.message_id.in_(chunk), MailMessage.case_id.is_not(None)
                )
            ):
                self.threads[row.message_id] = (row.id, row.case_id)
        # Held here: the session's identity map only keeps objects something refers to.
        self.cases: dict[int, Case] = {}
        for case_ids in chunks(sorted({case_id for _pk, case_id in self.threads.values()})):
            self.cases.update(
                (case.id, case)
                for case in db.session.scalars(sa.select(Case).where(Case.id.in_(case_ids)))
            )
        references = {r for parsed in messages for r in parsed.case_references}
        self.cited_cases: dict[str, Case] = {}
        for chunk in chunks(references):
            for case in db.session.scalars(sa.select(Case).where(Case.reference.in_(chunk))):
                self.cited_cases[case.reference] = case
        self.merged_cited: dict[str, Case] = {}  # a cited reference of a case merged away
        self._follow_merges()
        self.contacts = EmailIndex({e for parsed in messages if (e := contact_email(parsed))})
        self.acknowledged = recent_acknowledgements(
            {a for parsed in messages if (a := parsed.response_address)}, self.now
        )

    def _follow_merges(self) -> None:
        """Mail for a case that was merged into another goes to the case that took it over (a
        merge repoints earlier merges, so one step is enough)."""
        targets = {
            c.merged_into_id
            for c in [*self.cases.values(), *self.cited_cases.values()]
            if c.merged_into_id is not None
        }
        survivors: dict[int, Case] = {}
        for chunk in chunks(sorted(targets)):
            survivors.update(
                (case.id, case)
                for case in db.session.scalars(sa.select(Case).where(Case.id.in_(chunk)))
            )
        for case_id, case in list(self.cases.items()):
            if case.merged_into_id in survivors:
                self.cases[case_id] = survivors[case.merged_into_id]
        for reference, case in list(self.cited_cases.items()):
            if case.merged_into_id in survivors:
                self.merged_cited[reference] = case
                self.cited_cases[reference] = survivors[case.merged_into_id]

    # --- filing

    def file(self, parsed: ParsedMessage) -> Filed:
        key = dedupe_key(parsed)
        stored = self.lookups.known.get(key)
        if stored is not None:
            return Filed("duplicate", stored=stored)
        earlier = self.seen.get(key)
        if earlier is not None:  # twice in this batch
            return Filed("duplicate", earlier.case, earlier.message, DUPLICATE_REASON)
        filed = file_message(parsed, self)
        self.seen[key] = filed
        if filed.case is not None and parsed.message_id:
            self.threaded.setdefault(parsed.message_id, (len(self.seen), filed.case))
        if filed.case is not None and filed.case.id is not None and parsed.from_addr:
            self.parties.setdefault(filed.case.id, set()).add(parsed.from_addr.lower())
        if filed.result == "created" and filed.case is not None:
            filed.acknowledge = self.may_acknowledge(parsed)
        return filed

    def blob(self, data: bytes) -> str:
        digest = mail_store.digest(data)
        self.blobs[digest] = data
        return digest

    def write_blobs(self) -> None:
        mail_store.store_many(self.blobs)

    def new_case(self, case: Case) -> None:
        """A case made by this batch: written with a placeholder reference (unique, never shown)
        and numbered after the flush, so the counter row is locked only for the commit."""
        case.reference = PLACEHOLDER + secrets.token_hex(9)
        self.new_cases.append(case)

    def number_cases(self) -> None:
        by_year: dict[int, list[Case]] = {}
        for case in self.new_cases:
            by_year.setdefault(year_of(case.created_at), []).append(case)
        table = cast(sa.Table, Case.__table__)  # a mapped class's own table (typed FromClause)
        for cases in by_year.values():
            references = next_references(cases[0].created_at, len(cases))
            db.session.execute(
                sa.update(table)
                .where(table.c.id == sa.bindparam("case_pk"))
                .values(reference=sa.bindparam("number")),
                [{"case_pk": c.id, "number": r} for c, r in zip(cases, references, strict=True)],
            )
            for case, reference in zip(cases, references, strict=True):
                set_committed_value(case, "reference", reference)

    # --- look-ups

    def case_for(self, ids: list[str]) -> Case | None:
        """The case of the earliest filed message among `ids`: one we held before this batch,
        else the first of this batch's."""
        stored = [self.threads[i] for i in ids if i in self.threads]
        if stored:
            return self.cases[min(stored)[1]]
        pending = [self.threaded[i] for i in ids if i in self.threaded]
        return min(pending, key=lambda item: item[0])[1] if pending else None

    def cites_unknown_case(self, parsed: ParsedMessage) -> bool:
        return any(r not in self.cited_cases for r in parsed.case_references)

    def is_party(self, case: Case, address: str) -> bool:
        address = address.lower()
        return address in self.parties.get(case.id, ()) or is_party(case, address)

    def may_acknowledge(self, parsed: ParsedMessage) -> bool:
        """Loop protection: never to machines, lists, no-reply or our own addresses; at most
        ACK_LIMIT_PER_HOUR per address, counting the ones this batch will send."""
        address = parsed.response_address
        if not parsed.may_acknowledge or address is None or address in self.own:
            return False
        if self.acknowledged[address] >= current_app.config.get("ACK_LIMIT_PER_HOUR", 3):
            return False
        self.acknowledged[address] += 1
        return True


def file_message(parsed: ParsedMessage, batch: Batch) -> Filed:
    now = batch.now
    message = _message_row(parsed, batch, now)
    db.session.add(message)
    if parsed.parse_error:
        message.status = MailStatus.UNREADABLE
        message.reason = f"Kunde inte läsas: {parsed.parse_error}"
        return Filed("rejected", None, message, message.reason)
    if parsed.is_bounce:
        return _file_bounce(parsed, message, now)
    if parsed.from_addr and parsed.from_addr in batch.own:
        return _reject(message, "Avsändaren är en av våra egna adresser (slinga).")
    case = _thread(parsed, batch)
    if case is not None:
        _join(case, parsed, message, now)
        return Filed("joined", case, message)
    if parsed.is_auto_reply or parsed.is_mailing_list:
        reasons = ", ".join(parsed.auto_reply_reasons) or "massutskick"
        message.kind = MailKind.AUTO_REPLY if parsed.is_auto_reply else MailKind.MESSAGE
        return _reject(
            message, f"Automatiskt meddelande som inte hör till något ärende ({reasons})."
        )
    case = _new_case(parsed, message, now, batch)
    return Filed("created", case, message)


def _message_row(parsed: ParsedMessage, batch: Batch, now: datetime) -> MailMessage:
    max_bytes = current_app.config.get("MAIL_MAX_BYTES", 25 * 1024 * 1024)
    message = MailMessage(
        direction=Direction.INBOUND,
        kind=MailKind.AUTO_REPLY if parsed.is_auto_reply else MailKind.MESSAGE,
        status=MailStatus.RECEIVED,
        mailbox_id=batch.mailbox_id,
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
        raw_sha256=batch.blob(parsed.raw),
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
                    blob_sha256=batch.blob(attachment.payload),
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


def _reject(message: MailMessage, reason: str) -> Filed:
    message.status = MailStatus.REJECTED
    message.reason = reason
    return Filed("rejected", None, message, reason)


def _file_bounce(parsed: ParsedMessage, message: MailMessage, now: datetime) -> Filed:
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
    return Filed("joined", case, message)


def _thread(parsed: ParsedMessage, batch: Batch) -> Case | None:
    ids = cited_ids(parsed)
    if ids:
        case = batch.case_for(ids)
        if case is not None:
            return case
    for reference in parsed.case_references:
        case = batch.cited_cases.get(reference)
        if case is None or not parsed.from_addr:
            continue
        cited = batch.merged_cited.get(reference)  # the case merged into `case`
        if batch.is_party(case, parsed.from_addr) or (
            cited is not None and batch.is_party(cited, parsed.from_addr)
        ):
            return case
    return None


def is_party(case: Case, address: str) -> bool:
    """The case's contact, or someone who already wrote to or was written to on the case."""
    address = address.lower()
    if case.contact is not None and case.contact.email == address:
        return True
    return (
        db.session.execute(
            sa.select(sa.func.count())
            .select_from(MailMessage)
            .where(
                MailMessage.case_id == case.id,
                sa.or_(MailMessage.from_addr == address, MailMessage.recipient == address),
            )
        ).scalar_one()
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
        events.changed.send(case, at=now)
    elif case.status == CaseStatus.CLOSED:
        case.status = CaseStatus.OPEN
        case.closed_at = None
        add_activity(case, ActivityKind.REOPENED, None, "Nytt e-postmeddelande i ärendet")
        events.reopened.send(case, at=now)
    case.updated_at = now


def _new_case(parsed: ParsedMessage, message: MailMessage, now: datetime, batch: Batch) -> Case:
    summary = (parsed.subject or parsed.text.strip().split("\n", 1)[0] or "(inget ämne)").strip()
    rule = route(parsed, batch.rules)
    address = contact_email(parsed)
    case = build_case(
        NewCase(
            channel=Channel.EMAIL,
            summary=summary[:SUMMARY_MAX],
            case_type=rule.case_type if rule else None,
            contact=ContactData(
                name=(parsed.from_name or "")[:200] or None
                if address == parsed.from_addr
                else None,
                email=address,
            ),
            received_at=message.received_at,
        ),
        by=None,
        contacts=batch.contacts,
        numbered=False,  # the batch numbers its new cases at once, last
    )
    batch.new_case(case)
    if parsed.case_references:  # cited, but not by the case's party: linked, not joined
        case.linked_case = batch.cited_cases.get(parsed.case_references[0])
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
        events.routed.send(case, at=message.received_at or now)
    return case
