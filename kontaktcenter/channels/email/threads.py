"""Which case an incoming message belongs to, and whether its sender may join or reopen it.

A reply joins through a Message-ID we hold (In-Reply-To, References) or a cited ``[KC-…]``
reference from the case's own party, but only if its From address is believed (trust.py: a
trusted server vouched for it, or the mailbox checks nothing and nothing said it was forged).
An unbelieved sender still reaches the case through a Message-ID *exchanged with that very
address* (one we sent to it, or one it sent us: only that mailbox and whoever it copied have
seen it; ours are random), but cannot reopen it: a forged From would need the Message-ID too,
and reopening a closed case is what an attacker wants. A subject reference alone is never
enough: anyone can read a reference off a letter or guess the next one. No mail reopens a
case closed more than MAIL_REOPEN_DAYS ago. Anything that does not join opens a new case
linked to the one it cites, as a stranger's mail does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

import sqlalchemy as sa
from flask import current_app

from kontaktcenter.cases.enums import CaseStatus
from kontaktcenter.cases.models import Case
from kontaktcenter.channels.email.lookups import cited_ids
from kontaktcenter.channels.email.mime.authentication import SenderCheck, Verdict
from kontaktcenter.channels.email.mime.parsing import ParsedMessage
from kontaktcenter.channels.email.models import MailMessage
from kontaktcenter.channels.email.trust import CLOSED_LONG_AGO, FORGED, NOT_VERIFIED
from kontaktcenter.core.extensions import db

if TYPE_CHECKING:
    from kontaktcenter.channels.email.filing import Batch


@dataclass
class Thread:
    check: SenderCheck  # what the receiving servers said about the From address
    case: Case | None = None  # the case the message joins
    cited: Case | None = None  # else the case it cites: the new case is linked to it
    reason: str | None = None  # why it does not join the case it cites (kept on the message)


def find(parsed: ParsedMessage, batch: Batch) -> Thread:
    check = batch.sender_check(parsed)
    # An archive (import-mail --keep-received-time) keeps its threads: it reopens nothing and
    # sends nothing, so a From address there gains nobody anything.
    believed = batch.trust.believes(check) or batch.archive
    ids = cited_ids(parsed)
    if ids:
        case = batch.case_for(ids)
        if case is not None:
            if believed:
                return _joining(check, case, parsed, batch, believed)
            ours = batch.case_for(batch.exchanged_with_sender(ids, parsed))
            if ours is not None:
                return _joining(check, ours, parsed, batch, believed)
            return Thread(check, cited=case, reason=_not_believed(check))
    for reference in parsed.case_references:
        case = batch.cited_cases.get(reference)
        if case is None or not parsed.from_addr:
            continue
        cited = batch.merged_cited.get(reference)  # the case merged into `case`
        if batch.is_party(case, parsed.from_addr) or (
            cited is not None and batch.is_party(cited, parsed.from_addr)
        ):
            if believed:
                return _joining(check, case, parsed, batch, believed)
            return Thread(check, cited=case, reason=_not_believed(check))
    return Thread(check)


def _joining(
    check: SenderCheck, case: Case, parsed: ParsedMessage, batch: Batch, believed: bool
) -> Thread:
    """Join `case`, unless that would reopen it and may not."""
    if case.status != CaseStatus.CLOSED or parsed.is_auto_reply or batch.archive:
        return Thread(check, case=case)  # an auto-reply or an archive never reopens
    days = int(current_app.config.get("MAIL_REOPEN_DAYS", 30))
    if case.closed_at is None or case.closed_at < batch.now - timedelta(days=days):
        return Thread(check, cited=case, reason=CLOSED_LONG_AGO.format(days=days))
    if not believed:
        return Thread(check, cited=case, reason=NOT_VERIFIED)
    return Thread(check, case=case)


def _not_believed(check: SenderCheck) -> str:
    return FORGED.format(detail=check.detail) if check.verdict == Verdict.FAIL else NOT_VERIFIED


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
