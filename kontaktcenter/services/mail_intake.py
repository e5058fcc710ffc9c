"""E-mail intake: one ingestion service behind all three doors (IMAP polling, import-mail,
the inbound HTTP endpoint).

Every message is kept byte for byte and either becomes a case, joins the case it belongs to, or is
recorded as rejected with a reason. A reply joins through In-Reply-To/References (a Message-ID we
sent or received) or through ``[KC-YYYY-NNNNNN]`` in the subject, but the subject is trusted only
from the case's own party; anyone else gets a new case linked to the cited one. The same
Message-ID never files twice: the unique index decides, also between concurrent workers.
"""

from __future__ import annotations

import logging
import secrets
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

import sqlalchemy as sa
from flask import current_app, g
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value

from kontaktcenter import jobs
from kontaktcenter.extensions import db, forget_on_flush, utcnow
from kontaktcenter.mail.parsing import ParsedMessage, parse_message
from kontaktcenter.models import (
    ActivityKind,
    Case,
    CaseStatus,
    CaseType,
    Channel,
    Direction,
    MailAttachment,
    Mailbox,
    MailKind,
    MailMessage,
    MailStatus,
    RoutingRule,
    RuleKind,
)
from kontaktcenter.services import goals, mail_store
from kontaktcenter.services.cases import NewCase, add_activity, build_case
from kontaktcenter.services.contacts import ContactData, EmailIndex
from kontaktcenter.services.references import next_references, year_of

T = TypeVar("T")
V = TypeVar("V", str, int)

SUMMARY_MAX = 300
MESSAGE_ID_MAX = 998
# A received time further back than this is not believed (forged or broken headers); the
# message counts as received when it reached us. Archives imported later keep their dates.
OLDEST_BELIEVABLE = timedelta(days=5 * 366)
# Rows per IN (...) look-up: well under PostgreSQL's 65,535 parameters.
LOOKUP_CHUNK = 1000
log = logging.getLogger(__name__)


@dataclass
class IngestResult:
    result: str  # created | joined | duplicate | rejected
    reference: str | None = None
    reason: str | None = None
    message_pk: int | None = None


def ingest(raw: bytes, *, mailbox_id: int | None = None) -> IngestResult:
    """File one raw message. Commits; never raises for bad input: a message that cannot be
    filed is kept as unreadable with the reason, so a poller can mark it and go on."""
    return ingest_batch([raw], mailbox_id=mailbox_id)[0]


def ingest_batch(raws: Sequence[bytes], *, mailbox_id: int | None = None) -> list[IngestResult]:
    """File several messages, a batch per transaction; the results are in the order of `raws`,
    each what `ingest` would have given for the messages one after the other.

    The look-ups for a batch (duplicates, threads, contacts, cited cases, routing rules, the
    acknowledgement limit) are one query each, and everything is written in one flush and one
    commit. If anything fails (another worker filed one of the messages first, a message trips
    a bug), the batch is rolled back and its messages are filed one transaction each, so one bad
    message never holds back or loses the others."""
    messages = [_parsed(raw) for raw in raws]
    results: list[IngestResult] = []
    acknowledgements: list[tuple[int, int]] = []
    while len(results) < len(messages):
        rest = messages[len(results) :]
        if len(rest) > 1:
            try:
                results += _file_together(rest, mailbox_id, acknowledgements)
                continue
            except Exception:  # noqa: BLE001 - each message is filed again on its own below
                db.session.rollback()
                log.info("A batch of %d messages failed; filing them one by one", len(rest))
        results += [_file_alone(parsed, mailbox_id, acknowledgements) for parsed in rest]
    _enqueue_acknowledgements(acknowledgements)
    return results


def _enqueue_acknowledgements(acknowledgements: list[tuple[int, int]]) -> None:
    """After the commits: a queue that is down must not turn filed mail into failures."""
    from kontaktcenter.jobs.mail import send_acknowledgement

    for case_id, message_pk in acknowledgements:
        try:
            jobs.enqueue(send_acknowledgement, case_id, message_pk)
        except Exception:  # noqa: BLE001 - the case is filed; its receipt is what is lost
            log.exception("Could not enqueue the acknowledgement of case %s", case_id)


def batches(raws: Iterable[tuple[T, bytes]]) -> Iterator[list[tuple[T, bytes]]]:
    """Group (label, raw) pairs into batches for ingest_batch: at most MAIL_BATCH_MESSAGES
    messages and MAIL_BATCH_BYTES bytes (a single larger message is a batch of its own)."""
    limit = max(1, current_app.config["MAIL_BATCH_MESSAGES"])
    max_bytes = current_app.config["MAIL_BATCH_BYTES"]
    batch: list[tuple[T, bytes]] = []
    size = 0
    for item in raws:
        if batch and (len(batch) >= limit or size + len(item[1]) > max_bytes):
            yield batch
            batch, size = [], 0
        batch.append(item)
        size += len(item[1])
    if batch:
        yield batch


def _parsed(raw: bytes) -> ParsedMessage:
    parsed = parse_message(raw)
    if parsed.message_id:
        parsed.message_id = parsed.message_id[:MESSAGE_ID_MAX]  # one form everywhere
    return parsed


def _file_alone(
    parsed: ParsedMessage, mailbox_id: int | None, acknowledgements: list[tuple[int, int]]
) -> IngestResult:
    try:
        return _file_together([parsed], mailbox_id, acknowledgements)[0]
    except IntegrityError:
        db.session.rollback()  # another worker filed the same Message-ID first
        existing = _Lookups([parsed]).duplicate_of(parsed) if parsed.message_id else None
        if existing is not None:
            return existing
        return _keep_unfiled(parsed, mailbox_id, "Kunde inte sparas (dubblettkontroll).")
    except Exception as error:  # noqa: BLE001 - kept and reported, never lost or retried forever
        db.session.rollback()
        log.exception("Could not file a message; kept as unreadable")
        return _keep_unfiled(parsed, mailbox_id, f"Kunde inte behandlas: {type(error).__name__}")


def _file_together(
    messages: list[ParsedMessage], mailbox_id: int | None, acknowledgements: list[tuple[int, int]]
) -> list[IngestResult]:
    """File `messages` from the first on, in one transaction; returns the results of those it
    filed (at least one) and adds the acknowledgements to send once it has committed.

    It stops before a message that cites a case reference not yet in the database while this
    batch has made new cases: the reference may be one of theirs, which are numbered at the
    commit, so that message begins the next batch."""
    batch = _Batch(messages, mailbox_id)
    filed: list[_Filed] = []
    # Nothing is written until everything is decided: one flush for the whole batch.
    with db.session.no_autoflush:
        for parsed in messages:
            if batch.new_cases and batch.cites_unknown_case(parsed):
                break
            filed.append(batch.file(parsed))
        if all(item.stored is not None for item in filed):
            return [item.outcome() for item in filed]  # all filed before: nothing to write
        batch.write_blobs()
    db.session.flush()
    batch.number_cases()  # last: the counter row stays locked until the commit
    results = [item.outcome() for item in filed]
    ready = [(item.case.id, item.message.id) for item in filed if item.acknowledge]
    db.session.commit()
    acknowledgements += ready
    return results


def _keep_unfiled(parsed: ParsedMessage, mailbox_id: int | None, reason: str) -> IngestResult:
    """Store the raw bytes alone (no Message-ID: it may be what failed) for an admin to see."""
    now = utcnow()
    message = MailMessage(
        direction=Direction.INBOUND,
        kind=MailKind.MESSAGE,
        status=MailStatus.UNREADABLE,
        mailbox_id=mailbox_id,
        from_addr=(parsed.from_addr or "")[:254] or None,
        subject=parsed.subject[:1000],
        received_at=now,
        created_at=now,
        raw_sha256=mail_store.store(parsed.raw),
        size=len(parsed.raw),
        reason=reason,
    )
    db.session.add(message)
    db.session.commit()
    return IngestResult("rejected", reason=reason, message_pk=message.id)


def reprocess(message_pk: int) -> IngestResult:
    """Parse a kept message again (after a parser fix) and file it; the old record is replaced."""
    message = db.session.get(MailMessage, message_pk)
    if message is None or message.direction != Direction.INBOUND or message.case_id is not None:
        return IngestResult("rejected", reason="Meddelandet kan inte behandlas igen.")
    parsed = _parsed(mail_store.load(message.raw_sha256))
    duplicate = _Lookups([parsed], besides=message_pk).duplicate_of(parsed)
    if duplicate is not None:  # filed since under the same Message-ID: keep this copy too
        return duplicate
    mailbox_id = message.mailbox_id
    db.session.delete(message)
    db.session.flush()
    acknowledgements: list[tuple[int, int]] = []
    result = _file_alone(parsed, mailbox_id, acknowledgements)
    _enqueue_acknowledgements(acknowledgements)
    return result


# --- one batch -------------------------------------------------------------------------------


def _chunks(values: Iterable[V]) -> Iterator[list[V]]:
    values = list(dict.fromkeys(values))
    for start in range(0, len(values), LOOKUP_CHUNK):
        yield values[start : start + LOOKUP_CHUNK]


def _contact_email(parsed: ParsedMessage) -> str | None:
    email = parsed.response_address or parsed.from_addr
    if email and ("@" not in email or len(email) > 254):
        return None
    return email


def _dedupe_key(parsed: ParsedMessage) -> tuple[str, str]:
    """Same Message-ID; without one, identical bytes mean the same delivery (e.g. fetched again
    after a crash between filing and marking it on the server)."""
    if parsed.message_id:
        return ("id", parsed.message_id)
    return ("sha", mail_store.digest(parsed.raw))


class _Lookups:
    """What the database already holds about a batch's messages, read with one query each."""

    def __init__(self, messages: list[ParsedMessage], *, besides: int | None = None) -> None:
        """`besides`: a stored message that does not count (the one being processed again)."""
        self.known: dict[tuple[str, str], IngestResult] = {}
        self.besides = besides
        keys = [_dedupe_key(parsed) for parsed in messages]
        for chunk in _chunks(value for kind, value in keys if kind == "id"):
            self._read_known("id", MailMessage.message_id, MailMessage.message_id.in_(chunk))
        for chunk in _chunks(value for kind, value in keys if kind == "sha"):
            self._read_known(
                "sha",
                MailMessage.raw_sha256,
                MailMessage.raw_sha256.in_(chunk) & (MailMessage.direction == Direction.INBOUND),
            )

    def _read_known(
        self, kind: str, column: sa.ColumnElement[str], condition: sa.ColumnElement[bool]
    ) -> None:
        if self.besides is not None:
            condition = condition & (MailMessage.id != self.besides)
        rows = db.session.execute(
            sa.select(column.label("key"), MailMessage.id, Case.reference)
            .outerjoin(Case, Case.id == MailMessage.case_id)
            .where(condition)
            .order_by(MailMessage.id)
        )
        for row in rows:
            self.known.setdefault(
                (kind, row.key),
                IngestResult("duplicate", row.reference, DUPLICATE_REASON, row.id),
            )

    def duplicate_of(self, parsed: ParsedMessage) -> IngestResult | None:
        return self.known.get(_dedupe_key(parsed))


DUPLICATE_REASON = "Meddelandet är redan mottaget."
PLACEHOLDER = "~"  # + 18 hex digits: a case reference until the batch is numbered


@dataclass
class _Filed:
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


class _Batch:
    """Files messages one after the other in Python, as `ingest` did one per transaction, with
    what the database holds read up front and what the batch adds kept in memory."""

    def __init__(self, messages: list[ParsedMessage], mailbox_id: int | None) -> None:
        self.mailbox_id = mailbox_id
        self.now = utcnow()
        self.own = own_addresses()
        self.seen: dict[tuple[str, str], _Filed] = {}
        self.blobs: dict[str, bytes] = {}
        self.new_cases: list[Case] = []
        self.threaded: dict[str, tuple[int, Case]] = {}  # this batch's, with their position
        # Parties added in this batch to cases cited by reference (see is_party).
        self.parties: dict[int, set[str]] = {}
        self._look_up(messages)

    def _look_up(self, messages: list[ParsedMessage]) -> None:
        """What the database holds about the batch: one query per kind of look-up."""
        self.rules = routing_rules()  # the rules in force now, with their case types
        self.lookups = _Lookups(messages)
        # Threading: Message-IDs we hold, and the messages of this batch by Message-ID.
        cited = [i for parsed in messages for i in _cited_ids(parsed)]
        self.threads: dict[str, tuple[int, int]] = {}  # Message-ID -> (message pk, case id)
        for chunk in _chunks(cited):
            for row in db.session.execute(
                sa.select(MailMessage.message_id, MailMessage.id, MailMessage.case_id).where(
                    MailMessage.message_id.in_(chunk), MailMessage.case_id.is_not(None)
                )
            ):
                self.threads[row.message_id] = (row.id, row.case_id)
        # Held here: the session's identity map only keeps objects something refers to.
        self.cases: dict[int, Case] = {}
        for chunk in _chunks(sorted({case_id for _pk, case_id in self.threads.values()})):
            self.cases.update(
                (case.id, case)
                for case in db.session.scalars(sa.select(Case).where(Case.id.in_(chunk)))
            )
        references = {r for parsed in messages for r in parsed.case_references}
        self.cited_cases: dict[str, Case] = {}
        for chunk in _chunks(references):
            for case in db.session.scalars(sa.select(Case).where(Case.reference.in_(chunk))):
                self.cited_cases[case.reference] = case
        self.contacts = EmailIndex({e for parsed in messages if (e := _contact_email(parsed))})
        self.acknowledged = _recent_acknowledgements(
            {a for parsed in messages if (a := parsed.response_address)}, self.now
        )

    # --- filing

    def file(self, parsed: ParsedMessage) -> _Filed:
        key = _dedupe_key(parsed)
        stored = self.lookups.known.get(key)
        if stored is not None:
            return _Filed("duplicate", stored=stored)
        earlier = self.seen.get(key)
        if earlier is not None:  # twice in this batch
            return _Filed("duplicate", earlier.case, earlier.message, DUPLICATE_REASON)
        filed = _file(parsed, self)
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
        table = Case.__table__
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


def _cited_ids(parsed: ParsedMessage) -> list[str]:
    """The Message-IDs a message answers, at most the last 200 (a References list can be long)."""
    return list(dict.fromkeys(parsed.in_reply_to + parsed.references))[-200:]


def _recent_acknowledgements(addresses: set[str], now: datetime) -> Counter[str]:
    counts: Counter[str] = Counter()
    for chunk in _chunks(addresses):
        counts.update(
            dict(
                db.session.execute(
                    sa.select(MailMessage.recipient, sa.func.count())
                    .where(
                        MailMessage.recipient.in_(chunk),
                        MailMessage.kind == MailKind.ACKNOWLEDGEMENT,
                        MailMessage.created_at > now - timedelta(hours=1),
                    )
                    .group_by(MailMessage.recipient)
                ).all()
            )
        )
    return counts


def _file(parsed: ParsedMessage, batch: _Batch) -> _Filed:
    now = batch.now
    message = _message_row(parsed, batch, now)
    db.session.add(message)
    if parsed.parse_error:
        message.status = MailStatus.UNREADABLE
        message.reason = f"Kunde inte läsas: {parsed.parse_error}"
        return _Filed("rejected", None, message, message.reason)
    if parsed.is_bounce:
        return _file_bounce(parsed, message, now)
    if parsed.from_addr and parsed.from_addr in batch.own:
        return _reject(message, "Avsändaren är en av våra egna adresser (slinga).")
    case = _thread(parsed, batch)
    if case is not None:
        _join(case, parsed, message, now)
        return _Filed("joined", case, message)
    if parsed.is_auto_reply or parsed.is_mailing_list:
        reasons = ", ".join(parsed.auto_reply_reasons) or "massutskick"
        message.kind = MailKind.AUTO_REPLY if parsed.is_auto_reply else MailKind.MESSAGE
        return _reject(
            message, f"Automatiskt meddelande som inte hör till något ärende ({reasons})."
        )
    case = _new_case(parsed, message, now, batch)
    return _Filed("created", case, message)


def _message_row(parsed: ParsedMessage, batch: _Batch, now: datetime) -> MailMessage:
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


def _reject(message: MailMessage, reason: str) -> _Filed:
    message.status = MailStatus.REJECTED
    message.reason = reason
    return _Filed("rejected", None, message, reason)


def _file_bounce(parsed: ParsedMessage, message: MailMessage, now: datetime) -> _Filed:
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
    return _Filed("joined", case, message)


def _thread(parsed: ParsedMessage, batch: _Batch) -> Case | None:
    ids = _cited_ids(parsed)
    if ids:
        case = batch.case_for(ids)
        if case is not None:
            return case
    for reference in parsed.case_references:
        case = batch.cited_cases.get(reference)
        if case is not None and parsed.from_addr and batch.is_party(case, parsed.from_addr):
            return case
    return None


def is_party(case: Case, address: str) -> bool:
    """The case's contact, or someone who already wrote to or was written to on the case."""
    address = address.lower()
    if case.contact is not None and case.contact.email == address:
        return True
    return (
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(MailMessage)
            .where(
                MailMessage.case_id == case.id,
                sa.or_(MailMessage.from_addr == address, MailMessage.recipient == address),
            )
        )
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
        goals.refresh(case, now)
    elif case.status == CaseStatus.CLOSED:
        case.status = CaseStatus.OPEN
        case.closed_at = None
        add_activity(case, ActivityKind.REOPENED, None, "Nytt e-postmeddelande i ärendet")
        goals.on_reopened(case, now)
    case.updated_at = now


def _new_case(parsed: ParsedMessage, message: MailMessage, now: datetime, batch: _Batch) -> Case:
    summary = (parsed.subject or parsed.text.strip().split("\n", 1)[0] or "(inget ämne)").strip()
    rule = route(parsed, batch.rules)
    contact_email = _contact_email(parsed)
    case = build_case(
        NewCase(
            channel=Channel.EMAIL,
            summary=summary[:SUMMARY_MAX],
            case_type=rule.case_type if rule else None,
            contact=ContactData(
                name=(parsed.from_name or "")[:200] or None
                if contact_email == parsed.from_addr
                else None,
                email=contact_email,
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
        goals.on_routed(case, message.received_at or now)
    return case


def routing_rules() -> list[RoutingRule]:
    """The active rules of active case types, in the order admins set (one query, with the
    case types and their departments): read for every batch, so a change made in another
    process applies to the next one."""
    return list(
        db.session.scalars(
            sa.select(RoutingRule)
            .join(RoutingRule.case_type)
            .options(sa.orm.contains_eager(RoutingRule.case_type).joinedload(CaseType.department))
            .where(RoutingRule.active.is_(True), CaseType.active.is_(True))
            .order_by(RoutingRule.position, RoutingRule.id)
        ).unique()
    )


def route(parsed: ParsedMessage, rules: list[RoutingRule]) -> RoutingRule | None:
    """The first of `rules` (routing_rules()) that matches; else none."""
    recipients = {a.lower() for a in parsed.to_addrs + parsed.cc_addrs}
    domain = (parsed.from_addr or "").rsplit("@", 1)[-1]
    subject = parsed.subject.lower()
    for rule in rules:
        pattern = rule.pattern.strip().lower()
        if (
            (rule.kind == RuleKind.RECIPIENT and pattern in recipients)
            or (
                rule.kind == RuleKind.SENDER_DOMAIN
                and (domain == pattern or domain.endswith("." + pattern))
            )
            or (rule.kind == RuleKind.SUBJECT and pattern and pattern in subject)
        ):
            return rule
    return None


def own_addresses() -> set[str]:
    """Our mailboxes and sender address; read once per request or job (a poll of a whole
    mailbox, an import), again after a mailbox changed."""
    if "own_addresses" not in g:
        addresses = set(db.session.scalars(sa.select(Mailbox.address)))
        addresses.add(current_app.config.get("MAIL_FROM") or "")
        g.own_addresses = frozenset(a.lower() for a in addresses if a)
    return set(g.own_addresses)


forget_on_flush("own_addresses", Mailbox)
