"""How many acknowledgements (receipts) may go out: at most ACK_LIMIT_PER_HOUR to one address
and ACK_LIMIT_GLOBAL_PER_HOUR to all together, in any hour.

Counted in the database, in the transaction that queues the receipts: each one granted is a
`mail_receipt_grants` row, and a transaction first updates the `mail_receipt_lock` row, so
transactions that grant receipts take turns (a row lock in PostgreSQL, the write lock in
SQLite) and each counts what the ones before it committed. Taking the lock is one statement
(an INSERT … ON CONFLICT DO UPDATE of the row) and counting one more (the batch's addresses
and the total in one query); old grants are deleted only when there are some. Neither
several messages in one import nor workers filing at the same moment can exceed a limit. The
lock is taken only by a transaction about to grant one, and held until its commit.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app

from kontaktcenter.channels.email.lookups import LOOKUP_CHUNK, granted_receipts
from kontaktcenter.channels.email.models import ReceiptGrant, ReceiptLock
from kontaktcenter.core.extensions import db, upsert, utcnow

LOCK = "receipts"
WINDOW = timedelta(hours=1)
KEEP = 2 * WINDOW  # older grants are deleted as new ones are made
log = logging.getLogger(__name__)


class ReceiptLimits:
    """The receipts one transaction grants. `addresses`: those it may grant to, read in one
    query once the lock is held."""

    def __init__(self, addresses: set[str]) -> None:
        self.addresses = set(addresses)
        self.per_address: Counter[str] | None = None  # None: the lock is not held yet
        self.total = 0
        self.now: datetime | None = None

    def grant(self, address: str) -> bool:
        """Whether a receipt may go to `address`; if so, it is counted (a row written with the
        transaction's next flush)."""
        limit = int(current_app.config.get("ACK_LIMIT_PER_HOUR", 3))
        overall = int(current_app.config.get("ACK_LIMIT_GLOBAL_PER_HOUR", 200))
        if limit <= 0 or overall <= 0:
            return False
        if self.per_address is None or self.now is None:
            self._lock()
            assert self.per_address is not None and self.now is not None
        if address not in self.addresses:  # not foreseen: count it now (still under the lock)
            self.addresses.add(address)
            self.per_address.update(granted_receipts({address}, self.now - WINDOW))
        if self.per_address[address] >= limit:
            return False
        if self.total >= overall:
            log.warning("The limit of %d receipts an hour is reached: one not sent", overall)
            return False
        self.per_address[address] += 1
        self.total += 1
        db.session.add(ReceiptGrant(address=address, granted_at=self.now))
        return True

    def _lock(self) -> None:
        now = utcnow()
        # One statement creates the row or updates it: either way it is locked (ON CONFLICT DO
        # UPDATE locks the row it updates) until this transaction ends.
        db.session.execute(
            upsert(ReceiptLock)
            .values(name=LOCK, taken_at=now)
            .on_conflict_do_update(index_elements=["name"], set_={"taken_at": now})
        )
        # Taken: from here on nobody else grants until this transaction ends. The time is read
        # after the wait, so the window is the one the counts below see.
        self.now = utcnow()
        since = self.now - WINDOW
        if len(self.addresses) > LOOKUP_CHUNK:  # a huge import: the addresses in chunks
            self.per_address = granted_receipts(self.addresses, since)
            self.total, oldest = _total(since)
        else:
            self.per_address, self.total, oldest = _counts(self.addresses, since)
        if oldest is not None and oldest < self.now - KEEP:
            db.session.execute(
                sa.delete(ReceiptGrant).where(ReceiptGrant.granted_at < self.now - KEEP),
                execution_options={"synchronize_session": False},
            )


def _total_query(since: datetime) -> sa.Select[None, int, datetime]:
    """(None, grants after `since`, the oldest grant kept): one row."""
    return sa.select(
        sa.null().label("address"),
        sa.func.count(sa.case((ReceiptGrant.granted_at > since, 1))).label("n"),
        sa.func.min(ReceiptGrant.granted_at).label("oldest"),
    )


def _total(since: datetime) -> tuple[int, datetime | None]:
    row = db.session.execute(_total_query(since)).one()
    return int(row.n or 0), row.oldest


def _counts(addresses: set[str], since: datetime) -> tuple[Counter[str], int, datetime | None]:
    """In one query: the grants after `since` to each of `addresses`, to all together, and
    the oldest grant kept (to know whether any are old enough to delete)."""
    query: Any = _total_query(since)
    if addresses:
        query = sa.union_all(
            query,
            sa.select(
                ReceiptGrant.address,
                sa.func.count().label("n"),
                sa.null().label("oldest"),
            )
            .where(ReceiptGrant.address.in_(sorted(addresses)), ReceiptGrant.granted_at > since)
            .group_by(ReceiptGrant.address),
        )
    counts: Counter[str] = Counter()
    total, oldest = 0, None
    for row in db.session.execute(query):
        if row.address is None:
            total, oldest = int(row.n or 0), row.oldest
        else:
            counts[row.address] = row.n
    return counts, total, oldest
