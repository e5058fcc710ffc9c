"""Filing mail that was stored first (intake.store_first): large messages, and those a
gateway handed in with ``Prefer: respond-async``. The ``email.file_stored`` batch task
(tasks.py) calls :func:`file_stored_many`; :func:`file_stored` files one message alone.

Each stored message is tried at most MAX_ATTEMPTS times; a try is counted and committed before
it begins, so a message whose filing kills its worker is still counted, and after the last it
is kept as "kunde inte behandlas" with the reason, on the admin's list of unfiled messages. The
filed row takes the stored row's id (the one its sender was given) and is filed as of when the
message arrived.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError

from kontaktcenter.channels.email import intake
from kontaktcenter.channels.email import store as mail_store
from kontaktcenter.channels.email.lookups import IngestResult, Lookups
from kontaktcenter.channels.email.mime.parsing import ParsedMessage
from kontaktcenter.channels.email.models import MailMessage, MailStatus
from kontaktcenter.channels.email.parse_ahead import ParseAhead
from kontaktcenter.core import outbox
from kontaktcenter.core.extensions import db

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3  # tries to file a stored message before it is kept as "kunde inte behandlas"


def file_stored(message_pk: int) -> IngestResult | None:
    """File a message stored first (the ``email.file_stored`` job). Idempotent: a message no
    longer pending was filed. A try is counted (and committed) before it begins, so a worker
    that dies mid-message still used one; a failure is raised for the outbox to retry with
    backoff. After MAX_ATTEMPTS tries the message is kept unfiled, "kunde inte behandlas" with
    the reason, on the admin's list of unfiled messages (where it can be processed again)."""
    stored = db.session.get(MailMessage, message_pk)
    if stored is None or stored.status != MailStatus.PENDING:
        return None
    if stored.attempts >= MAX_ATTEMPTS:  # tries began and never ended: the worker died
        return _give_up(stored, stored.reason or "behandlingen avbröts (tidsgräns eller omstart)")
    counted = db.session.execute(  # the try, counted unless another runner filed it meanwhile
        sa.update(MailMessage)
        .where(MailMessage.id == message_pk, MailMessage.status == MailStatus.PENDING)
        .values(attempts=MailMessage.attempts + 1)
        .returning(MailMessage.id)
        .execution_options(synchronize_session=False)
    ).scalar()
    db.session.commit()
    if counted is None:
        return None
    try:
        result = _file_stored(message_pk)
    except Exception as error:
        db.session.rollback()
        log.exception("Could not file stored message %s", message_pk)
        stored = db.session.get(MailMessage, message_pk)
        if stored is None or stored.status != MailStatus.PENDING:
            return None
        reason = f"{type(error).__name__}: {error}"[:500]
        if stored.attempts >= MAX_ATTEMPTS:
            return _give_up(stored, reason)
        stored.reason = reason
        db.session.commit()
        raise
    outbox.dispatch()
    return result


def _file_stored(message_pk: int) -> IngestResult:
    """File the stored message in one transaction; the filed row takes the stored row's id
    (the one a gateway was given). A duplicate only removes the stored row."""
    stored = db.session.get(MailMessage, message_pk)
    assert stored is not None
    mailbox_id, archive = stored.mailbox_id, bool(stored.flags.get("keep_received_time"))
    arrived = stored.created_at
    parsed = intake.parsed_message(mail_store.load(stored.raw_sha256))
    try:  # (a concurrent change to its case is tried again at once, not after a backoff)
        (result,) = intake.retry_conflicts(
            lambda: intake.file_together(
                [parsed], mailbox_id, archive=archive, replacing=[(message_pk, arrived)]
            )
        )
        return result
    except IntegrityError:  # another worker filed the same message a moment ago
        db.session.rollback()
        # Not the row under this id: another runner of this same message may have filed it
        # (then this one is done, and the retry sees it no longer pending).
        duplicate = Lookups([parsed], besides=message_pk).duplicate_of(parsed)
        if duplicate is None:
            raise
    db.session.execute(  # only the stored row: never a row filed under its id meanwhile
        sa.delete(MailMessage)
        .where(MailMessage.id == message_pk, MailMessage.status == MailStatus.PENDING)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return duplicate


def file_stored_many(message_pks: Sequence[int]) -> list[str | None]:
    """File stored messages (the ``email.file_stored`` batch task), in the order they arrived;
    by position, None for a message filed or given up (or no longer pending), or the error of
    one to try again later.

    Runs of messages not tried before and no larger than MAIL_ASYNC_BYTES (stored first
    because the sender asked for it, not for their size) are filed together, a batch per
    transaction as `ingest_batch` files them, each as of when it arrived and under the id its
    sender was given; the others are filed alone (:func:`file_stored`) at their place in the
    order, so a reply never overtakes the large message it answers. A batch's tries are
    counted and committed before it begins, so a batch that kills its worker leaves each
    message tried once, and tried again alone. A batch that fails gives its tries back and
    each message is tried alone at once: one bad message uses up its own tries only."""
    limit = current_app.config["MAIL_ASYNC_BYTES"]
    # Plain values, read once: the rows themselves change under this loop's commits.
    stored = db.session.execute(
        sa.select(
            MailMessage.id,
            MailMessage.size,
            MailMessage.attempts,
            MailMessage.mailbox_id,
            MailMessage.flags,
        )
        .where(MailMessage.id.in_(message_pks), MailMessage.status == MailStatus.PENDING)
        .order_by(MailMessage.id)
    ).all()
    errors: dict[int, str] = {}
    run: list[sa.Row] = []
    for row in stored:
        if row.attempts == 0 and row.size <= limit:
            if run and _source(run[0]) != _source(row):
                _file_run(run, errors)
                run = []
            run.append(row)
            continue
        if run:
            _file_run(run, errors)
            run = []
        _file_alone_stored(row.id, errors)
    if run:
        _file_run(run, errors)
    outbox.dispatch()
    return [errors.get(pk) for pk in message_pks]


def _source(row: sa.Row) -> tuple[int | None, bool]:
    """What a batch has in common: the mailbox, and whether it is history (archive.py)."""
    return row.mailbox_id, bool(row.flags.get("keep_received_time"))


def _file_run(run: list[sa.Row], errors: dict[int, str]) -> None:
    """File a run in batches; with more than one, the next batch is parsed in a helper
    process while one is filed, as a poll with a backlog does (parse_ahead.py)."""
    mailbox_id, archive = _source(run[0])
    config = current_app.config
    ahead = ParseAhead(config["MAIL_ASYNC_BYTES"], enabled=config["MAIL_PARSE_AHEAD"])
    with ahead:
        for group, parsed in ahead.groups(_claimed(intake.grouped(run, lambda row: row.size))):
            ready = {
                row.id: message
                for ((row, loaded), _raw), message in zip(group, parsed, strict=True)
                if loaded and message is not None
            }
            _file_group([row for (row, _loaded), _raw in group], mailbox_id, archive, ready, errors)


def _claimed(groups: Iterable[list[sa.Row]]) -> Iterator[list[tuple[tuple[sa.Row, bool], bytes]]]:
    """Each group's tries counted and committed before anything parses it (a message that
    kills its worker while it is parsed has used a try; the next group's are counted before
    the current one is filed), then its rows (id, arrival, digest) with their stored bytes,
    ((row, True), raw); a group whose bytes cannot be read is passed on without them,
    ((row, False), b""), to be read again when it is filed. Messages filed or tried by
    another runner since the run was read are left to it."""
    for members in groups:
        rows = db.session.execute(
            sa.update(MailMessage)
            .where(
                MailMessage.id.in_([row.id for row in members]),
                MailMessage.status == MailStatus.PENDING,
                MailMessage.attempts == 0,
            )
            .values(attempts=1)
            .returning(MailMessage.id, MailMessage.created_at, MailMessage.raw_sha256)
            .execution_options(synchronize_session=False)
        ).all()
        db.session.commit()
        if not rows:
            continue
        rows = sorted(rows)
        try:
            raws = mail_store.load_many([row.raw_sha256 for row in rows])
        except Exception:  # noqa: BLE001 - read again (and failed) when it is filed
            db.session.rollback()
            yield [((row, False), b"") for row in rows]
            continue
        yield [((row, True), raws[row.raw_sha256]) for row in rows]


def _file_group(
    rows: list[sa.Row],
    mailbox_id: int | None,
    archive: bool,
    ready: dict[int, ParsedMessage],
    errors: dict[int, str],
) -> None:
    ids = [row.id for row in rows]
    try:
        _file_claimed(rows, mailbox_id, archive, ready)
    except Exception:  # noqa: BLE001 - each is tried alone now, with its own tries
        db.session.rollback()
        log.exception("A batch of %d stored messages failed; filing them alone", len(ids))
        db.session.execute(  # the batch's try, given back: it is not theirs to lose
            sa.update(MailMessage)
            .where(MailMessage.id.in_(ids), MailMessage.status == MailStatus.PENDING)
            .values(attempts=MailMessage.attempts - 1)
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
        for pk in ids:
            _file_alone_stored(pk, errors)


def _file_alone_stored(pk: int, errors: dict[int, str]) -> None:
    try:
        file_stored(pk)
    except Exception as error:  # noqa: BLE001 - recorded on the message, retried later
        db.session.rollback()
        errors[pk] = f"{type(error).__name__}: {error}"


def _file_claimed(
    rows: list[sa.Row], mailbox_id: int | None, archive: bool, ready: dict[int, ParsedMessage]
) -> list[IngestResult]:
    """File stored messages of one mailbox whose tries were counted (_claimed), in as few
    transactions as `file_together` needs. `ready`: those parsed already, by id."""
    replacing = [(row.id, row.created_at) for row in rows]
    raws = mail_store.load_many([row.raw_sha256 for row in rows if row.id not in ready])
    messages = [
        intake.normalised(ready[row.id])
        if row.id in ready
        else intake.parsed_message(raws[row.raw_sha256])
        for row in rows
    ]
    results: list[IngestResult] = []
    while len(results) < len(messages):
        done = len(results)
        results += intake.file_together(
            messages[done:], mailbox_id, archive=archive, replacing=replacing[done:]
        )
    return results


def _give_up(stored: MailMessage, reason: str) -> IngestResult:
    stored.status = MailStatus.UNREADABLE
    stored.reason = f"Kunde inte behandlas ({stored.attempts} försök): {reason}"[:1000]
    db.session.commit()
    log.error("Gave up filing stored message %s: %s", stored.id, stored.reason)
    return IngestResult("rejected", reason=stored.reason, message_pk=stored.id)
