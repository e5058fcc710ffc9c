"""What a batch of incoming mail reads from the database, one query per kind of look-up:
duplicates, recent acknowledgements, cited messages."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

import sqlalchemy as sa

from kontaktcenter.cases.models import Case
from kontaktcenter.channels.email import store as mail_store
from kontaktcenter.channels.email.mime.parsing import ParsedMessage
from kontaktcenter.channels.email.models import (
    Direction,
    MailKind,
    MailMessage,
)
from kontaktcenter.core.extensions import db
from kontaktcenter.core.identifiers import is_email, normalise_email

V = TypeVar("V", str, int)

# Rows per IN (...) look-up: well under PostgreSQL's 65,535 parameters.
LOOKUP_CHUNK = 1000


@dataclass
class IngestResult:
    result: str  # created | joined | duplicate | rejected
    reference: str | None = None
    reason: str | None = None
    message_pk: int | None = None


DUPLICATE_REASON = "Meddelandet är redan mottaget."


def chunks(values: Iterable[V]) -> Iterator[list[V]]:
    values = list(dict.fromkeys(values))
    for start in range(0, len(values), LOOKUP_CHUNK):
        yield values[start : start + LOOKUP_CHUNK]


def contact_email(parsed: ParsedMessage) -> str | None:
    email = parsed.response_address or parsed.from_addr
    if email and not is_email(email):
        return None  # not one valid address: the message is filed without a contact e-mail
    return normalise_email(email) if email else None


def dedupe_key(parsed: ParsedMessage) -> tuple[str, str]:
    """Same Message-ID; without one, identical bytes mean the same delivery (e.g. fetched again
    after a crash between filing and marking it on the server)."""
    if parsed.message_id:
        return ("id", parsed.message_id)
    return ("sha", mail_store.digest(parsed.raw))


class Lookups:
    """What the database already holds about a batch's messages, read with one query each."""

    def __init__(self, messages: list[ParsedMessage], *, besides: int | None = None) -> None:
        """`besides`: a stored message that does not count (the one being processed again)."""
        self.known: dict[tuple[str, str], IngestResult] = {}
        self.besides = besides
        keys = [dedupe_key(parsed) for parsed in messages]
        for chunk in chunks(value for kind, value in keys if kind == "id"):
            self._read_known("id", MailMessage.message_id, MailMessage.message_id.in_(chunk))
        for chunk in chunks(value for kind, value in keys if kind == "sha"):
            self._read_known(
                "sha",
                MailMessage.raw_sha256,
                MailMessage.raw_sha256.in_(chunk) & (MailMessage.direction == Direction.INBOUND),
            )

    def _read_known(
        self,
        kind: str,
        column: sa.orm.QueryableAttribute[str | None],
        condition: sa.ColumnElement[bool],
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
        return self.known.get(dedupe_key(parsed))


def cited_ids(parsed: ParsedMessage) -> list[str]:
    """The Message-IDs a message answers, at most the last 200 (a References list can be long)."""
    return list(dict.fromkeys(parsed.in_reply_to + parsed.references))[-200:]


def recent_acknowledgements(addresses: set[str], now: datetime) -> Counter[str]:
    counts: Counter[str] = Counter()
    for chunk in chunks(addresses):
        rows = db.session.execute(
            sa.select(MailMessage.recipient, sa.func.count())
            .where(
                MailMessage.recipient.in_(chunk),
                MailMessage.kind == MailKind.ACKNOWLEDGEMENT,
                MailMessage.created_at > now - timedelta(hours=1),
            )
            .group_by(MailMessage.recipient)
        ).all()
        # Found by recipient IN (...): never NULL.
        counts.update({recipient: n for recipient, n in rows if recipient is not None})
    return counts
