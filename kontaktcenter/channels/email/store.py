"""Content-addressed storage of raw messages and attachments (the `blobs` table)."""

from __future__ import annotations

import hashlib
from typing import cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from kontaktcenter.channels.email.models import Blob
from kontaktcenter.core.extensions import db, utcnow


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def store(data: bytes) -> str:
    """Store bytes once; returns their SHA-256. Safe under concurrent identical inserts."""
    return store_many({digest(data): data})[0]


def store_many(blobs: dict[str, bytes]) -> list[str]:
    """Store several blobs (digest -> bytes) in one statement; returns the digests, sorted.

    Sorted so that concurrent transactions storing the same blobs take their index entries in
    the same order (no deadlock); a blob already stored is left as it is."""
    if not blobs:
        return []
    digests = sorted(blobs)
    insert = (
        postgresql.insert if db.session.get_bind().dialect.name == "postgresql" else sqlite.insert
    )
    now = utcnow()
    # The table, not the entity: Core's executemany, without the ORM's bulk-insert bookkeeping.
    table = cast(sa.Table, Blob.__table__)
    db.session.execute(
        insert(table).on_conflict_do_nothing(index_elements=["sha256"]),
        [
            {"sha256": d, "size": len(blobs[d]), "data": blobs[d], "created_at": now}
            for d in digests
        ],
    )
    return digests


def load(digest: str) -> bytes:
    data = db.session.scalar(sa.select(Blob.data).where(Blob.sha256 == digest))
    if data is None:
        raise LookupError(digest)
    return bytes(data)


def load_many(digests: list[str]) -> dict[str, bytes]:
    """Several blobs in one statement, by digest; raises LookupError if one is missing."""
    wanted = set(digests)
    found = {
        row.sha256: bytes(row.data)
        for row in db.session.execute(
            sa.select(Blob.sha256, Blob.data).where(Blob.sha256.in_(wanted))
        )
    }
    if missing := wanted - found.keys():
        raise LookupError(min(missing))
    return found
