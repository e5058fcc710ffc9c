"""What a batch of incoming mail reads from the database, one query per kind of look-up:
duplicates, recent acknowledgements, cited messages."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import TypeVar

import sqlalchemy as sa

from kontaktcenter.cases.models import Case
from kontaktcenter.channels.email import store as mail_store
from kontaktcenter.channels.email.mime.classify import is_no_reply_address
from kontaktcenter.channels.email.mime.fingerprint import fingerprint as content_fingerprint
from kontaktcenter.channels.email.mime.parsing import ParsedMessage
from kontaktcenter.channels.email.models import (
    Direction,
    MailMessage,
    MailStatus,
    ReceiptGrant,
)
from kontaktcenter.core.extensions import db
from kontaktcenter.core.identifiers import is_email, normalise_email

V = TypeVar("V", str, int)

# Rows per IN (...) look-up: well under PostgreSQL's 65,535 parameters.
LOOKUP_CHUNK = 1000


@dataclass
class IngestResult:
    result: str  # created | joined | duplicate | rejected | accepted (stored, filed by a job)
    reference: str | None = None
    reason: str | None = None
    message_pk: int | None = None


DUPLICATE_REASON = "Meddelandet är redan mottaget."


def chunks(values: Iterable[V]) -> Iterator[list[V]]:
    values = list(dict.fromkeys(values))
    for start in range(0, len(values), LOOKUP_CHUNK):
        yield values[start : start + LOOKUP_CHUNK]


def contact_email(parsed: ParsedMessage) -> str | None:
    """The sender's address, from From only: a Reply-To is anyone's to write, so it never picks
    or makes a contact (it is kept on the message for the agent to choose). A no-reply or
    mailer-daemon From (a web form's, a robot's) is nobody's address: no contact."""
    return _contact_address(parsed.from_addr) if parsed.from_addr else None


@lru_cache(maxsize=4096)
def _contact_address(email: str) -> str | None:
    """contact_email for one From address: it is asked several times per message (look-ups,
    threading, the new case, the receipt), and validating an address is not cheap."""
    if not is_email(email) or is_no_reply_address(email):
        return None  # not one valid address: the message is filed without a contact e-mail
    return normalise_email(email)


def reply_to_address(parsed: ParsedMessage) -> str | None:
    """A Reply-To that differs from the sender's address (kept on the message), if valid."""
    address = parsed.reply_to
    if not address or address == parsed.from_addr or not is_email(address):
        return None
    return normalise_email(address)


def dedupe_key(parsed: ParsedMessage) -> tuple[str, str]:
    """The same message: the same Message-ID and the same content fingerprint (the bytes
    without what each delivery adds, mime/fingerprint.py), so one mail delivered to two of our
    mailboxes is one case while a different message reusing a Message-ID is kept. Without a
    Message-ID, identical bytes mean the same delivery (e.g. fetched again after a crash
    between filing and marking it on the server)."""
    if parsed.message_id:
        return ("id", _id_key(parsed.message_id, parsed.fingerprint))
    return ("sha", mail_store.digest(parsed.raw))


def _id_key(message_id: str, fingerprint: str) -> str:
    return f"{message_id}\n{fingerprint}"  # a header value is unfolded: never holds "\n"


class Lookups:
    """What the database already holds about a batch's messages, read with one query each."""

    def __init__(self, messages: list[ParsedMessage], *, besides: int | None = None) -> None:
        """`besides`: a stored message that does not count (the one being processed again)."""
        self.known: dict[tuple[str, str], IngestResult] = {}
        self.besides = besides
        for chunk in chunks(parsed.message_id for parsed in messages if parsed.message_id):
            self._read_known(MailMessage.message_id.in_(chunk))
        for chunk in chunks(value for kind, value in map(dedupe_key, messages) if kind == "sha"):
            self._read_known(
                MailMessage.raw_sha256.in_(chunk) & (MailMessage.direction == Direction.INBOUND),
                by_bytes=True,
            )

    def _read_known(self, condition: sa.ColumnElement[bool], *, by_bytes: bool = False) -> None:
        condition = condition & (MailMessage.status != MailStatus.PENDING)  # not filed yet
        if self.besides is not None:
            condition = condition & (MailMessage.id != self.besides)
        rows = db.session.execute(
            sa.select(
                MailMessage.message_id,
                MailMessage.fingerprint,
                MailMessage.raw_sha256,
                MailMessage.id,
                Case.reference,
            )
            .outerjoin(Case, Case.id == MailMessage.case_id)
            .where(condition)
            .order_by(MailMessage.id)
        )
        legacy: dict[str, str] = {}  # raw sha256 -> fingerprint, for rows stored without one
        for row in rows:
            if by_bytes:
                key = ("sha", row.raw_sha256)
            else:
                fingerprint = row.fingerprint
                if fingerprint is None:  # filed before fingerprints, or sent by us
                    if row.raw_sha256 not in legacy:
                        legacy[row.raw_sha256] = content_fingerprint(
                            mail_store.load(row.raw_sha256)
                        )
                    fingerprint = legacy[row.raw_sha256]
                key = ("id", _id_key(row.message_id, fingerprint))
            self.known.setdefault(
                key, IngestResult("duplicate", row.reference, DUPLICATE_REASON, row.id)
            )

    def duplicate_of(self, parsed: ParsedMessage) -> IngestResult | None:
        return self.known.get(dedupe_key(parsed))

    @staticmethod
    def annotate(message: MailMessage, parsed: ParsedMessage) -> None:
        """On a message about to be filed: its fingerprint (what the unique index compares),
        and a flag when its body was cut to be shown (mime/parsing.BODY_*_LIMIT). Whether
        another message holds its Message-ID is read when it is shown (reused_message_ids):
        workers filing two such messages at once cannot see each other."""
        message.fingerprint = parsed.fingerprint
        if parsed.truncated:
            message.flags["truncated"] = True


def reused_message_ids(messages: Iterable[MailMessage]) -> set[int]:
    """Of `messages`, the ids of those whose Message-ID an older message (a different one:
    duplicates are not kept) holds too, in one query."""
    ids = {m.message_id for m in messages if m.message_id and m.direction == Direction.INBOUND}
    oldest: dict[str, int] = {}
    for chunk in chunks(ids):
        rows = db.session.execute(
            sa.select(MailMessage.message_id, sa.func.min(MailMessage.id))
            .where(MailMessage.message_id.in_(chunk), MailMessage.status != MailStatus.PENDING)
            .group_by(MailMessage.message_id)
        )
        oldest.update((message_id, first) for message_id, first in rows if message_id)
    return {
        m.id
        for m in messages
        if m.message_id in oldest
        and m.direction == Direction.INBOUND
        and oldest[m.message_id] < m.id
    }


def cited_ids(parsed: ParsedMessage) -> list[str]:
    """The Message-IDs a message answers, at most the last 200 (a References list can be long)."""
    return list(dict.fromkeys(parsed.in_reply_to + parsed.references))[-200:]


def granted_receipts(addresses: set[str], since: datetime) -> Counter[str]:
    """Receipts granted to each of `addresses` after `since` (receipts.ReceiptLimits reads it
    under its lock)."""
    counts: Counter[str] = Counter()
    for chunk in chunks(addresses):
        rows = db.session.execute(
            sa.select(ReceiptGrant.address, sa.func.count())
            .where(ReceiptGrant.address.in_(chunk), ReceiptGrant.granted_at > since)
            .group_by(ReceiptGrant.address)
        ).all()
        counts.update({address: n for address, n in rows})
    return counts


def cases_by_id(ids: Iterable[int | None]) -> dict[int, Case]:
    """The cases with these ids, read in chunks (a batch's threads, merge survivors)."""
    found: dict[int, Case] = {}
    for chunk in chunks(sorted({case_id for case_id in ids if case_id is not None})):
        found.update(
            (case.id, case)
            for case in db.session.scalars(sa.select(Case).where(Case.id.in_(chunk)))
        )
    return found


def lock_for_filing(cases: Iterable[Case]) -> None:
    """Lock the cases a batch of mail may join (not those merged away) until its commit, in one
    id order: two workers filing replies to one case take turns instead of the later one
    failing on the case's version (decision 136). A case changed since it was read is read
    again. FOR NO KEY UPDATE, the lock an UPDATE takes anyway: rows that refer to the case (an
    audit event of an agent opening it) are not held up."""
    by_id = {case.id: case for case in cases if case.merged_into_id is None}
    for chunk in chunks(sorted(by_id)):
        current = db.session.execute(
            sa.select(Case.id, Case.version)
            .where(Case.id.in_(chunk))
            .order_by(Case.id)
            .with_for_update(of=Case, key_share=True)
        )
        for case_id, version in current:
            if by_id[case_id].version != version:
                db.session.refresh(by_id[case_id])
