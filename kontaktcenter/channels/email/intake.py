"""E-mail intake: one ingestion service behind all three doors (IMAP polling, import-mail,
the inbound HTTP endpoint).

Every message is kept byte for byte and either becomes a case, joins the case it belongs to, or is
recorded as rejected with a reason. A reply joins through In-Reply-To/References (a Message-ID we
sent or received) or through ``[KC-YYYY-NNNNNN]`` in the subject, but the subject is trusted only
from the case's own party; anyone else gets a new case linked to the cited one. The same message
(the same Message-ID and content fingerprint) never files twice: the unique index decides, also
between concurrent workers; a different message reusing a Message-ID is filed and flagged.

A message larger than MAIL_ASYNC_BYTES (or any, with `file_later`: the HTTP door's
``Prefer: respond-async``) is stored first, before it is parsed, with status 'pending' and an
outbox row in the same commit, and filed by the ``email.file_stored`` batch task (stored.py): a
door answers at once, and a message whose filing kills its worker is tried again by the outbox
and kept as "kunde inte behandlas" after stored.MAX_ATTEMPTS.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar, cast

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.orm.util import identity_key

from kontaktcenter.channels.email import store as mail_store
from kontaktcenter.channels.email.filing import Batch, Filed
from kontaktcenter.channels.email.lookups import IngestResult, Lookups
from kontaktcenter.channels.email.mime.parsing import ParsedMessage, parse_message, peek
from kontaktcenter.channels.email.models import (
    Direction,
    MailKind,
    MailMessage,
    MailStatus,
)
from kontaktcenter.core import outbox
from kontaktcenter.core.extensions import db, utcnow

T = TypeVar("T")
U = TypeVar("U")
R = TypeVar("R")
V = TypeVar("V", str, int)

SUMMARY_MAX = 300
MESSAGE_ID_MAX = 998
# A received time further back than this is not believed (forged or broken headers); the
# message counts as received when it reached us. Archives imported later keep their dates.
OLDEST_BELIEVABLE = timedelta(days=5 * 366)
# Rows per IN (...) look-up: well under PostgreSQL's 65,535 parameters.
LOOKUP_CHUNK = 1000
log = logging.getLogger(__name__)


def ingest(
    raw: bytes,
    *,
    mailbox_id: int | None = None,
    keep_received_time: bool = False,
    file_later: bool = False,
) -> IngestResult:
    """File one raw message. Commits; never raises for bad input: a message that cannot be
    filed is kept as unreadable with the reason, so a poller can mark it and go on. A large
    one, or any with `file_later`, is stored and "accepted": filed by a job, with the others
    stored first, a batch per transaction."""
    if file_later:
        (result,) = store_first([raw], mailbox_id, keep_received_time)
        outbox.dispatch()
        return result
    return ingest_batch([raw], mailbox_id=mailbox_id, keep_received_time=keep_received_time)[0]


def ingest_batch(
    raws: Sequence[bytes],
    *,
    mailbox_id: int | None = None,
    keep_received_time: bool = False,
    parsed: Sequence[ParsedMessage | None] | None = None,
) -> list[IngestResult]:
    """File several messages, a batch per transaction; the results are in the order of `raws`,
    each what `ingest` would have given for the messages one after the other.

    Messages above MAIL_ASYNC_BYTES are stored first, committed before anything is parsed, and
    come back "accepted" (a job files them). The others: the look-ups for a batch (duplicates,
    threads, contacts, cited cases, routing rules, the acknowledgement limit) are one query
    each, and everything is written in one flush and one commit. If anything fails (another
    worker filed one of the messages first, a message trips a bug), the batch is rolled back
    and its messages are filed one transaction each, so one bad message never holds back or
    loses the others. `keep_received_time`: history from an old system (archive.py). `parsed`:
    the messages already parsed, by position (parse_ahead.py; None where not parsed)."""
    limit = current_app.config["MAIL_ASYNC_BYTES"]
    large = [i for i, raw in enumerate(raws) if len(raw) > limit]
    stored = store_first([raws[i] for i in large], mailbox_id, keep_received_time)
    accepted = dict(zip(large, stored, strict=True))
    given = parsed if parsed is not None and len(parsed) == len(raws) else [None] * len(raws)
    messages: list[ParsedMessage] = []
    for i, raw in enumerate(raws):
        if i not in accepted:
            ready = given[i]
            messages.append(normalised(ready) if ready is not None else parsed_message(raw))
    results: list[IngestResult] = []
    while len(results) < len(messages):
        rest = messages[len(results) :]
        if len(rest) > 1:
            try:
                results += file_together(rest, mailbox_id, archive=keep_received_time)
                continue
            except Exception:  # noqa: BLE001 - each message is filed again on its own below
                db.session.rollback()
                log.info("A batch of %d messages failed; filing them one by one", len(rest))
        results += [_file_alone(parsed, mailbox_id, keep_received_time) for parsed in rest]
    outbox.dispatch()
    filed = iter(results)
    return [accepted[i] if i in accepted else next(filed) for i in range(len(raws))]


def store_first(
    raws: Sequence[bytes], mailbox_id: int | None, keep_received_time: bool = False
) -> list[IngestResult]:
    """Store messages unparsed (their bytes, and a 'pending' row with what the first 64 kB of
    headers say for the admin's list), each with the outbox row that files it, in one commit;
    nothing expensive happens before it. Returns "accepted" results with the rows' ids."""
    if not raws:
        return []
    now = utcnow()
    flags = {"keep_received_time": True} if keep_received_time else {}
    rows: list[dict[str, Any]] = []
    digests: list[str] = []
    for raw in raws:
        head = peek(raw)
        digests.append(mail_store.digest(raw))
        rows.append(  # (a Core INSERT stores a None as NULL: the columns' defaults need no key)
            {
                "direction": Direction.INBOUND,
                "kind": MailKind.MESSAGE,
                "status": MailStatus.PENDING,
                "mailbox_id": mailbox_id,
                "from_addr": (head.from_addr or "")[:254] or None,
                "from_name": (head.from_name or "")[:200] or None,
                "subject": head.subject[:1000],
                "received_at": now,
                "created_at": now,
                "raw_sha256": digests[-1],
                "size": len(raw),
                "flags": flags,
            }
        )
    mail_store.store_many(dict(zip(digests, raws, strict=True)))
    # Core INSERTs with RETURNING, no ORM objects: the HTTP door's request is little more than
    # this (and every large message of the other doors is stored this way too).
    table = cast(sa.Table, MailMessage.__table__)
    statement = sa.insert(table).returning(table.c.id, sort_by_parameter_order=True)
    ids = list(db.session.execute(statement, rows).scalars())
    outbox.add_many("email.file_stored", [{"message_pk": pk} for pk in ids])
    db.session.commit()
    return [IngestResult("accepted", reason=STORED_REASON, message_pk=pk) for pk in ids]


STORED_REASON = "Meddelandet är sparat och behandlas i bakgrunden."


def batches(raws: Iterable[tuple[T, bytes]]) -> Iterator[list[tuple[T, bytes]]]:
    """Group (label, raw) pairs into batches for ingest_batch: at most MAIL_BATCH_MESSAGES
    messages and MAIL_BATCH_BYTES bytes (a single larger message is a batch of its own)."""
    return grouped(raws, lambda item: len(item[1]))


def grouped(items: Iterable[U], size: Callable[[U], int]) -> Iterator[list[U]]:
    limit = max(1, current_app.config["MAIL_BATCH_MESSAGES"])
    max_bytes = current_app.config["MAIL_BATCH_BYTES"]
    batch: list[U] = []
    total = 0
    for item in items:
        if batch and (len(batch) >= limit or total + size(item) > max_bytes):
            yield batch
            batch, total = [], 0
        batch.append(item)
        total += size(item)
    if batch:
        yield batch


def parsed_message(raw: bytes) -> ParsedMessage:
    return normalised(parse_message(raw))


def normalised(parsed: ParsedMessage) -> ParsedMessage:
    if parsed.message_id:
        parsed.message_id = parsed.message_id[:MESSAGE_ID_MAX]  # one form everywhere
    return parsed


def _file_alone(
    parsed: ParsedMessage,
    mailbox_id: int | None,
    archive: bool = False,
    before: Callable[[], None] | None = None,
) -> IngestResult:
    """File one message in its own transaction; tried again when another worker changed its
    case at the same moment, kept unfiled (never lost) when it cannot be filed. `before`: done
    in the same transaction first, on every try (reprocess: remove the record it replaces)."""

    def attempt() -> IngestResult:
        if before is not None:
            before()
        return file_together([parsed], mailbox_id, archive=archive)[0]

    try:
        return retry_conflicts(attempt)
    except Exception as error:  # noqa: BLE001 - kept and reported, never lost
        db.session.rollback()
        return _kept_after(error, parsed, mailbox_id)


def retry_conflicts(attempt: Callable[[], R]) -> R:
    """`attempt()`, tried again (rolled back, a moment later) while it fails on a concurrent
    change (is_conflict), at most CONFLICT_TRIES times; any other failure is raised at once."""
    for tries_left in reversed(range(CONFLICT_TRIES)):
        try:
            return attempt()
        except Exception as error:
            if not (tries_left and is_conflict(error)):
                raise
            db.session.rollback()
            log.info("The case changed meanwhile (%s); filing again", type(error).__name__)
            # A moment apart, so that the writers to one case do not meet again at once.
            time.sleep(random.uniform(0, 0.005 * (CONFLICT_TRIES - tries_left)))
    raise AssertionError("unreachable: the last try returns or raises")


# Tries to file a message whose case another worker changed at the same moment: the cases mail
# joins are locked as they are read (filing.Batch), so what is left is a deadlock between two
# batches, or a case changed between a look-up and its lock (its version, optimistic locking).
CONFLICT_TRIES = 5


def is_conflict(error: BaseException) -> bool:
    """A concurrent change another try can get past: the case's version moved on (optimistic
    locking), a deadlock or a serialisation failure."""
    if isinstance(error, StaleDataError):
        return True
    code = getattr(getattr(error, "orig", None), "sqlstate", None)
    return isinstance(error, DBAPIError) and code in ("40P01", "40001")


def _kept_after(error: Exception, parsed: ParsedMessage, mailbox_id: int | None) -> IngestResult:
    """The message kept unfiled after `error` (rolled back), or the duplicate it proved to be."""
    if isinstance(error, IntegrityError):
        # another worker filed the same Message-ID first
        existing = Lookups([parsed]).duplicate_of(parsed) if parsed.message_id else None
        if existing is not None:
            return existing
        return _keep_unfiled(parsed, mailbox_id, "Kunde inte sparas (dubblettkontroll).")
    log.error("Could not file a message; kept as unreadable", exc_info=error)
    return _keep_unfiled(parsed, mailbox_id, f"Kunde inte behandlas: {type(error).__name__}")


def file_together(
    messages: list[ParsedMessage],
    mailbox_id: int | None,
    *,
    archive: bool = False,
    replacing: Sequence[tuple[int, datetime]] | None = None,
) -> list[IngestResult]:
    """File `messages` from the first on, in one transaction; returns the results of those it
    filed (at least one), with the acknowledgements to send in the same transaction.

    It stops before a message that cites a case reference not yet in the database while this
    batch has made new cases: the reference may be one of theirs, which are numbered at the
    commit, so that message begins the next batch. `replacing`, by position: the stored
    (pending) row each message replaces, deleted in this transaction, whose id its row takes,
    and when it arrived: it is filed as it would have been then."""
    batch = Batch(messages, mailbox_id, archive=archive)
    started = batch.now
    filed: list[Filed] = []
    # Nothing is written until everything is decided: one flush for the whole batch.
    with db.session.no_autoflush:
        for i, parsed in enumerate(messages):
            if batch.new_cases and batch.cites_unknown_case(parsed):
                break
            if replacing is not None:
                batch.now = min(started, replacing[i][1])
            filed.append(batch.file(parsed))
        if replacing is not None:
            replace_stored(filed, [pk for pk, _ in replacing[: len(filed)]])
        if all(item.stored is not None for item in filed):
            db.session.commit()  # the stored rows of duplicates removed, if any
            return [item.outcome() for item in filed]  # all filed before: nothing to write
        batch.write_blobs()
    db.session.flush()
    for item in filed:
        if item.acknowledge:  # sent after the commit, and never lost (the outbox)
            assert item.case is not None and item.message is not None  # a created case's
            outbox.add(
                "email.send_acknowledgement", case_id=item.case.id, inbound_pk=item.message.id
            )
    db.session.flush()
    batch.number_cases()  # last: the counter row stays locked until the commit
    results = [item.outcome() for item in filed]
    db.session.commit()
    return results


def replace_stored(filed: list[Filed], pks: list[int]) -> None:
    """Delete the stored rows of messages now filed (before the flush writes their new rows
    under the same ids); a duplicate's stored row only goes."""
    db.session.execute(
        sa.delete(MailMessage)
        .where(MailMessage.id.in_(pks), MailMessage.status == MailStatus.PENDING)
        .execution_options(synchronize_session=False)
    )
    for pk in pks:  # the stored rows' objects, if loaded, must not meet the new rows' ids
        stale = db.session.identity_map.get(identity_key(MailMessage, pk))
        if stale is not None:
            db.session.expunge(stale)
    for item, pk in zip(filed, pks, strict=True):
        if item.result != "duplicate" and item.message is not None:  # (a duplicate in this
            item.message.id = pk  # batch shares the row of the message it repeats)


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
    """Parse a kept message again (after a parser fix) and file it; the old record is replaced.
    A large one is filed by a job again, with stored.MAX_ATTEMPTS fresh tries ("accepted")."""
    message = db.session.get(MailMessage, message_pk)
    if message is None or message.direction != Direction.INBOUND or message.case_id is not None:
        return IngestResult("rejected", reason="Meddelandet kan inte behandlas igen.")
    if message.size > current_app.config["MAIL_ASYNC_BYTES"]:
        message.status, message.attempts, message.reason = MailStatus.PENDING, 0, None
        outbox.add("email.file_stored", message_pk=message.id)
        outbox.commit()
        return IngestResult("accepted", reason=STORED_REASON, message_pk=message_pk)
    parsed = parsed_message(mail_store.load(message.raw_sha256))
    duplicate = Lookups([parsed], besides=message_pk).duplicate_of(parsed)
    if duplicate is not None:  # filed since under the same Message-ID: keep this copy too
        return duplicate
    mailbox_id = message.mailbox_id
    db.session.expunge(message)

    def remove_the_kept_record() -> None:  # in the filing's transaction, on every try
        db.session.execute(
            sa.delete(MailMessage)
            .where(MailMessage.id == message_pk)
            .execution_options(synchronize_session=False)
        )

    result = _file_alone(parsed, mailbox_id, before=remove_the_kept_record)
    outbox.dispatch()
    return result


__all__ = [
    "IngestResult",
    "batches",
    "file_together",
    "grouped",
    "ingest",
    "ingest_batch",
    "reprocess",
]
