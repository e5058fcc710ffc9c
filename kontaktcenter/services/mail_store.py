"""Content-addressed storage of raw messages and attachments (the `blobs` table)."""

from __future__ import annotations

import hashlib

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from kontaktcenter.extensions import db, utcnow
from kontaktcenter.models import Blob


def store(data: bytes) -> str:
    """Store bytes once; returns their SHA-256. Safe under concurrent identical inserts."""
    digest = hashlib.sha256(data).hexdigest()
    insert = (
        postgresql.insert if db.session.get_bind().dialect.name == "postgresql" else sqlite.insert
    )
    db.session.execute(
        insert(Blob)
        .values(sha256=digest, size=len(data), data=data, created_at=utcnow())
        .on_conflict_do_nothing(index_elements=["sha256"])
    )
    return digest


def load(digest: str) -> bytes:
    data = db.session.scalar(sa.select(Blob.data).where(Blob.sha256 == digest))
    if data is None:
        raise LookupError(digest)
    return bytes(data)
