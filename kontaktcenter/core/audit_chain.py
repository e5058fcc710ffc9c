"""The audit log's hash chain: seal, verify, purge.

Events are inserted freely by every request (a page view must not wait for a lock). A periodic
**seal** takes the chain's one row (``audit_chain``) with an UPDATE, which locks it, and gives the
events not sealed yet, in id order, the next sequence numbers and
``hash = sha256(previous hash + canonical JSON of the event)``. An event committed late (its id
lower than one sealed already) simply gets a later place in the chain: the chain's order is
``seq``, not ``id``. Only the seal waits for the lock, and only for another seal.

**Verify** seals first, then recomputes every hash from the anchor: a changed field, a removed
or inserted event, or a cut-off tail (the head row says how far the chain reached) breaks it.

**Purge** removes the events past the retention period (``AUDIT_RETENTION_MONTHS``) as a prefix
of the chain: it moves the anchor (``purged_seq``, ``purged_hash``: the last removed event and
its hash) forward first, then deletes the events up to it. PostgreSQL's trigger (migration 0017)
allows exactly that DELETE and no other; the rest of the chain still verifies from the anchor.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import sqlalchemy as sa
from flask import current_app

from kontaktcenter.core.audit import CHAIN_ID, GENESIS, AuditChain, AuditEvent
from kontaktcenter.core.extensions import db, utcnow
from kontaktcenter.core.jobs import app_job

SEAL_BATCH = 2000
VERIFY_BATCH = 2000
PURGE_BATCH = 10000
_events = cast(sa.Table, AuditEvent.__table__)
_chain = cast(sa.Table, AuditChain.__table__)


def canonical(row: Any) -> bytes:
    """An event's fields as canonical JSON (sorted keys, no spaces, UTC time to the
    microsecond): what its hash covers. `row` has the columns of ``audit_events``."""
    created: datetime = row.created_at
    if created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    fields = {
        "id": row.id,
        "seq": row.seq,
        "user_id": row.user_id,
        "action": row.action,
        "case_id": row.case_id,
        "contact_id": row.contact_id,
        "created_at": created.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "detail": row.detail if row.detail is not None else {},
    }
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def chained_hash(previous: str, row: Any) -> str:
    return hashlib.sha256(previous.encode("ascii") + canonical(row)).hexdigest()


class ChainMissing(RuntimeError):
    """The chain's row is gone while sealed events remain: the chain cannot go on."""


def _lock_chain() -> AuditChain:
    """The chain's row, locked for this transaction (the UPDATE takes PostgreSQL's row lock and
    SQLite's write lock). A database with no sealed events and no row (emptied) gets a new
    row; one whose row was deleted under sealed events does not (ChainMissing)."""
    locked = db.session.execute(
        sa.update(_chain).where(_chain.c.id == CHAIN_ID).values(last_seq=_chain.c.last_seq)
    )
    if getattr(locked, "rowcount", 1) == 0:
        if db.session.scalar(sa.select(_events.c.id).where(_events.c.seq.is_not(None)).limit(1)):
            db.session.rollback()
            raise ChainMissing("Kedjans huvudrad saknas.")
        db.session.add(
            AuditChain(
                id=CHAIN_ID, last_seq=0, last_hash=GENESIS, purged_seq=0, purged_hash=GENESIS
            )
        )
        db.session.flush()
    chain = db.session.get(AuditChain, CHAIN_ID, populate_existing=True)
    assert chain is not None
    return chain


def seal() -> int:
    """Chain every event not sealed yet; returns how many were sealed. Commits per batch."""
    sealed = 0
    while True:
        chain = _lock_chain()
        rows = db.session.execute(
            sa.select(_events)
            .where(_events.c.seq.is_(None))
            .order_by(_events.c.id)
            .limit(SEAL_BATCH)
        ).all()
        if not rows:
            db.session.commit()
            return sealed
        seq, previous = chain.last_seq, chain.last_hash
        updates = []
        for row in rows:
            seq += 1
            previous = chained_hash(previous, _Sealed(row, seq))
            updates.append({"b_id": row.id, "b_seq": seq, "b_hash": previous})
        db.session.execute(
            sa.update(_events)
            .where(_events.c.id == sa.bindparam("b_id"))
            .values(seq=sa.bindparam("b_seq"), hash=sa.bindparam("b_hash")),
            updates,
        )
        chain.last_seq, chain.last_hash = seq, previous
        db.session.commit()
        sealed += len(rows)
        if len(rows) < SEAL_BATCH:
            return sealed


class _Sealed:
    """A row as it will read once sealed (its seq is part of what the hash covers)."""

    def __init__(self, row: Any, seq: int) -> None:
        self._row, self.seq = row, seq

    def __getattr__(self, name: str) -> Any:
        return getattr(self._row, name)


@dataclass(frozen=True)
class Verification:
    intact: bool
    checked: int  # events whose hash was recomputed
    first_seq: int | None  # the first event still kept (after the anchor)
    last_seq: int  # the chain's head
    problem: str | None = None  # what broke it, in Swedish
    broken_seq: int | None = None  # where


def verify(store: bool = True) -> Verification:
    """Seal, then recompute the chain from the anchor. With `store`, remember the outcome for
    the admin page (``audit_chain.verified_*``)."""
    try:
        seal()
    except ChainMissing as missing:
        return Verification(False, 0, None, 0, str(missing))
    chain = db.session.get(AuditChain, CHAIN_ID, populate_existing=True)
    assert chain is not None  # the seal made or found it
    result = _walk(chain)
    if store:
        db.session.execute(
            sa.update(_chain)
            .where(_chain.c.id == CHAIN_ID)
            .values(
                verified_at=utcnow(),
                verified_intact=result.intact,
                verified_checked=result.checked,
                verified_problem=result.problem,
            )
        )
        db.session.commit()
    return result


def _walk(chain: AuditChain) -> Verification:
    previous, expected = chain.purged_hash, chain.purged_seq + 1
    first: int | None = None
    checked = 0

    def broken(problem: str, seq: int) -> Verification:
        return Verification(False, checked, first, chain.last_seq, problem, seq)

    # An event at or below the anchor (the purge removed those; seq <= 0 was never a place in
    # the chain) was not sealed by the seal: it may be hidden there to be deleted unnoticed.
    below = db.session.scalar(
        sa.select(sa.func.min(_events.c.seq)).where(_events.c.seq <= chain.purged_seq)
    )
    if below is not None:
        return broken(f"Händelse {below} ligger vid eller före kedjans ankare.", below)
    for row in _sealed_rows(chain.purged_seq):
        if first is None:
            first = row.seq
        if row.seq != expected:
            return broken(f"Händelse {expected} saknas i kedjan.", expected)
        if chained_hash(previous, row) != row.hash:
            return broken(f"Händelse {row.seq} har ändrats efter att den förseglades.", row.seq)
        previous, expected, checked = row.hash, expected + 1, checked + 1
    if expected - 1 != chain.last_seq or previous != chain.last_hash:
        return broken(f"Kedjan slutar vid {expected - 1}, men nådde {chain.last_seq}.", expected)
    return Verification(True, checked, first, chain.last_seq)


def _sealed_rows(after: int) -> Iterator[Any]:
    """The sealed events after seq `after` (the anchor), in chain order, a batch at a time."""
    last = after
    while True:
        rows = db.session.execute(
            sa.select(_events)
            .where(_events.c.seq > last)
            .order_by(_events.c.seq)
            .limit(VERIFY_BATCH)
        ).all()
        yield from rows
        if len(rows) < VERIFY_BATCH:
            return
        last = rows[-1].seq


def months_before(moment: datetime, months: int) -> datetime:
    """`moment` minus `months` calendar months (the day clamped to the month's length)."""
    index = moment.year * 12 + moment.month - 1 - months
    year, month = divmod(index, 12)
    month += 1
    days = [31, 29 if year % 4 == 0 and (year % 100 or year % 400 == 0) else 28, 31, 30, 31, 30]
    days += [31, 31, 30, 31, 30, 31]
    return moment.replace(year=year, month=month, day=min(moment.day, days[month - 1]))


MINIMUM_RETENTION_MONTHS = 12


def purge(now: datetime | None = None, months: int | None = None) -> int:
    """Remove the events older than the retention period, as a prefix of the chain (an event
    that is younger stops it, even if later events are older). Returns how many went."""
    months = months if months is not None else current_app.config["AUDIT_RETENTION_MONTHS"]
    # Never less than the floor the PostgreSQL trigger enforces (migration 0017).
    horizon = months_before(now or utcnow(), max(months, MINIMUM_RETENTION_MONTHS))
    seal()
    removed = 0
    while True:
        chain = _lock_chain()
        first_young = db.session.scalar(
            sa.select(sa.func.min(_events.c.seq)).where(
                _events.c.seq > chain.purged_seq, _events.c.created_at >= horizon
            )
        )
        upto = chain.last_seq if first_young is None else first_young - 1
        upto = min(upto, chain.purged_seq + PURGE_BATCH)
        if upto <= chain.purged_seq:
            db.session.commit()
            return removed
        last_hash = db.session.scalar(sa.select(_events.c.hash).where(_events.c.seq == upto))
        if last_hash is None:  # a gap: verification reports it; never purge across one
            db.session.commit()
            return removed
        db.session.execute(
            sa.update(_chain)
            .where(_chain.c.id == CHAIN_ID)
            .values(purged_seq=upto, purged_hash=last_hash, purged_at=utcnow())
        )
        gone = db.session.execute(
            sa.delete(_events).where(_events.c.seq <= upto, _events.c.seq > chain.purged_seq)
        )
        db.session.commit()
        removed += getattr(gone, "rowcount", 0)


def status() -> AuditChain | None:
    """The chain's row as stored: head, anchor and the last verification."""
    return db.session.get(AuditChain, CHAIN_ID)


@app_job
def seal_job() -> None:
    seal()


@app_job
def purge_job() -> None:
    purge()


@app_job
def verify_job() -> None:
    verify()
