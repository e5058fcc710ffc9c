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
from kontaktcenter.channels.email import threads
from kontaktcenter.channels.email.archive import keep_as_history
from kontaktcenter.channels.email.lookups import (
    DUPLICATE_REASON,
    IngestResult,
    Lookups,
    cases_by_id,
    chunks,
    cited_ids,
    contact_email,
    dedupe_key,
    lock_for_filing,
    reply_to_address,
)
from kontaktcenter.channels.email.mime.authentication import SenderCheck, Verdict
from kontaktcenter.channels.email.mime.parsing import ParsedMessage
from kontaktcenter.channels.email.models import (
    Direction,
    MailAttachment,
    MailKind,
    MailMessage,
    MailStatus,
    RuleKind,
)
from kontaktcenter.channels.email.receipts import ReceiptLimits
from kontaktcenter.channels.email.routing import (
    Rule,
    active_case_types,
    own_addresses,
    route,
    routing_rules,
)
from kontaktcenter.channels.email.threads import Thread, is_party
from kontaktcenter.channels.email.trust import mail_trust
from kontaktcenter.core.extensions import db, utcnow
from kontaktcenter.organisation.models import CaseType

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

    def __init__(
        self, messages: list[ParsedMessage], mailbox_id: int | None, *, archive: bool = False
    ) -> None:
        self.mailbox_id = mailbox_id
        self.archive = archive  # history from an old system: see archive.py
        self.now = utcnow()
        self.own = own_addresses()
        self.trust = mail_trust(mailbox_id)  # whose From addresses to believe
        self._checks: dict[int, SenderCheck] = {}  # by id(parsed): asked twice per message
        self.seen: dict[tuple[str, str], Filed] = {}
        self.blobs: dict[str, bytes] = {}
        self.new_cases: list[Case] = []
        self.threaded: dict[str, tuple[int, Case]] = {}  # this batch's, with their position
        # Parties added in this batch to cases cited by reference (see is_party).
        self.parties: dict[int, set[str]] = {}
        self._look_up(messages)

    def _look_up(self, messages: list[ParsedMessage]) -> None:
        """What the database holds about the batch: one query per kind of look-up."""
        self.rules = routing_rules()  # the rules in force (their case types: see route)
        self._case_types: dict[int, CaseType] | None = None  # read when a rule first matches
        self.lookups = Lookups(messages)
        # Threading: Message-IDs we hold, and the messages of this batch by Message-ID.
        cited = [i for parsed in messages for i in cited_ids(parsed)]
        self.threads: dict[str, tuple[int, int]] = {}  # Message-ID -> (message pk, case id)
        # Message-ID -> the address it was exchanged with: the recipient of one we sent, the
        # sender of one we received (this batch's included, as they are filed).
        self.exchanged: dict[str, str] = {}
        for chunk in chunks(cited):
            for row in db.session.execute(
                sa.select(
                    MailMessage.message_id,
                    MailMessage.id,
                    MailMessage.case_id,
                    MailMessage.direction,
                    MailMessage.recipient,
                    MailMessage.from_addr,
                )
                .where(MailMessage.message_id.in_(chunk), MailMessage.case_id.is_not(None))
                .order_by(MailMessage.id.desc())  # a reused Message-ID: the oldest, last, wins
            ):
                self.threads[row.message_id] = (row.id, row.case_id)
                other = row.recipient if row.direction == Direction.OUTBOUND else row.from_addr
                if other:
                    self.exchanged.setdefault(row.message_id, other.lower())
        # Held here: the session's identity map only keeps objects something refers to.
        self.cases = cases_by_id(case_id for _pk, case_id in self.threads.values())
        references = {r for parsed in messages for r in parsed.case_references}
        self.cited_cases: dict[str, Case] = {}
        for chunk in chunks(references):
            for case in db.session.scalars(sa.select(Case).where(Case.reference.in_(chunk))):
                self.cited_cases[case.reference] = case
        self.merged_cited: dict[str, Case] = {}  # a cited reference of a case merged away
        self._follow_merges()
        lock_for_filing([*self.cases.values(), *self.cited_cases.values()])
        senders = {e for parsed in messages if (e := contact_email(parsed))}
        self.contacts = EmailIndex(senders)
        self.receipts = ReceiptLimits(senders)  # counted under a lock, at the first receipt

    def _follow_merges(self) -> None:
        """Mail for a case that was merged into another goes to the case that took it over (a
        merge repoints earlier merges, so one step is enough)."""
        targets = {
            c.merged_into_id
            for c in [*self.cases.values(), *self.cited_cases.values()]
            if c.merged_into_id is not None
        }
        survivors = cases_by_id(targets)
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
        if filed.message is not None:
            self.lookups.annotate(filed.message, parsed)  # its fingerprint, a cut body
            if self.archive:
                new_case = filed.case if filed.result == "created" else None
                keep_as_history(filed.message, new_case, parsed, self.now)
        self.seen[key] = filed
        if filed.case is not None and parsed.message_id:
            self.threaded.setdefault(parsed.message_id, (len(self.seen), filed.case))
            if parsed.from_addr:
                self.exchanged.setdefault(parsed.message_id, parsed.from_addr.lower())
        if filed.case is not None and filed.case.id is not None and parsed.from_addr:
            self.parties.setdefault(filed.case.id, set()).add(parsed.from_addr.lower())
        if filed.result == "created" and filed.case is not None and not self.archive:
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

    def exchanged_with_sender(self, ids: list[str], parsed: ParsedMessage) -> list[str]:
        """Those of `ids` exchanged with the message's From address: ones we sent to it, or it
        sent us. Only that mailbox (and whoever it copied) has seen them, so citing one is
        evidence of its own, short of a checked sender (threads.py)."""
        sender = {a for a in (contact_email(parsed), (parsed.from_addr or "").lower()) if a}
        return [i for i in ids if self.exchanged.get(i) in sender]

    def route(self, parsed: ParsedMessage) -> tuple[Rule, CaseType] | None:
        """The first matching rule whose case type is active now (read in this transaction
        when a rule first matches: one switched off elsewhere a moment ago is passed over)."""
        if route(parsed, self.rules) is None:
            return None  # nothing matches: nothing to read
        if self._case_types is None:
            self._case_types = active_case_types(self.rules)
        types = self._case_types
        rule = route(parsed, [rule for rule in self.rules if rule.case_type_id in types])
        return (rule, types[rule.case_type_id]) if rule is not None else None

    def sender_check(self, parsed: ParsedMessage) -> SenderCheck:
        """self.trust.check(parsed), once per message (it is asked twice)."""
        if id(parsed) not in self._checks:
            self._checks[id(parsed)] = self.trust.check(parsed)
        return self._checks[id(parsed)]

    def cites_unknown_case(self, parsed: ParsedMessage) -> bool:
        return any(r not in self.cited_cases for r in parsed.case_references)

    def is_party(self, case: Case, address: str) -> bool:
        address = address.lower()
        return address in self.parties.get(case.id, ()) or is_party(case, address)

    def may_acknowledge(self, parsed: ParsedMessage) -> bool:
        """Loop protection: never to machines, lists, no-reply or our own addresses, nor to a
        From address a server said was forged. Always to the From address, never a Reply-To
        (that would make our receipts a relay). At most ACK_LIMIT_PER_HOUR per address and
        ACK_LIMIT_GLOBAL_PER_HOUR in all, counted in the database (receipts.py)."""
        address = contact_email(parsed)
        if not parsed.may_acknowledge or address is None or address in self.own:
            return False
        if self.sender_check(parsed).verdict == Verdict.FAIL:
            return False
        return self.receipts.grant(address)


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
    thread = _thread(parsed, batch)
    message.flags["sender_check"] = thread.check.verdict.value
    if thread.check.evidence:
        message.flags["sender_check_detail"] = thread.check.detail[:1000]
    if thread.case is not None:
        _join(thread.case, parsed, message, now, archive=batch.archive)
        return Filed("joined", thread.case, message)
    if thread.reason:
        message.flags["not_joined"] = thread.reason
    if parsed.is_auto_reply or parsed.is_mailing_list:
        reasons = ", ".join(parsed.auto_reply_reasons) or "massutskick"
        message.kind = MailKind.AUTO_REPLY if parsed.is_auto_reply else MailKind.MESSAGE
        return _reject(
            message, f"Automatiskt meddelande som inte hör till något ärende ({reasons})."
        )
    case = _new_case(parsed, message, now, batch, thread.cited)
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
        reply_to=reply_to_address(parsed),
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


def _thread(parsed: ParsedMessage, batch: Batch) -> Thread:
    return threads.find(parsed, batch)


def _join(
    case: Case, parsed: ParsedMessage, message: MailMessage, now: datetime, *, archive: bool = False
) -> None:
    message.case = case
    add_activity(
        case,
        ActivityKind.EMAIL_RECEIVED,
        None,
        parsed.subject,
        sender=parsed.from_addr,
        auto_reply=parsed.is_auto_reply,
    )
    if parsed.is_auto_reply or archive:
        return  # an out-of-office, or history from an archive, reopens or resumes nothing
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


def _new_case(
    parsed: ParsedMessage, message: MailMessage, now: datetime, batch: Batch, cited: Case | None
) -> Case:
    summary = (parsed.subject or parsed.text.strip().split("\n", 1)[0] or "(inget ämne)").strip()
    routed = batch.route(parsed)
    rule, case_type = routed if routed is not None else (None, None)
    address = contact_email(parsed)
    case = build_case(
        NewCase(
            channel=Channel.EMAIL,
            summary=summary[:SUMMARY_MAX],
            case_type=case_type,
            contact=ContactData(
                name=(parsed.from_name or "")[:200] or None if address is not None else None,
                email=address,
            ),
            received_at=message.received_at,
        ),
        by=None,
        contacts=batch.contacts,
        numbered=False,  # the batch numbers its new cases at once, last
    )
    batch.new_case(case)
    if cited is None and parsed.case_references:
        cited = batch.cited_cases.get(parsed.case_references[0])
    if cited is not None:  # cited, but not joined (a stranger, or not believed): linked
        case.linked_case = cited
    message.case = case
    add_activity(case, ActivityKind.EMAIL_RECEIVED, None, parsed.subject, sender=parsed.from_addr)
    if rule is not None and case_type and rule.to_department and rule.kind == RuleKind.RECIPIENT:
        # Only the address the mail was sent to may route it: the subject and the sender's
        # domain are the sender's to choose.
        case.department = case_type.department
        add_activity(
            case,
            ActivityKind.ROUTED,
            None,
            f"Regel: {rule.kind.label} {rule.pattern}",
            department=case.department.name,
        )
        events.routed.send(case, at=message.received_at or now)
    return case
