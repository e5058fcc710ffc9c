"""Case references ``KC-YYYY-NNNNNN``: sequential per year, unique under concurrent creation.

The counter row is incremented with ``UPDATE … RETURNING`` inside the creating transaction: the
row lock serialises concurrent creators, and a rolled-back case gives its number back, so the
series has no gaps and no duplicates (the unique index on cases.reference is the last guard).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, cast
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from kontaktcenter.cases.models import CaseSequence
from kontaktcenter.core.extensions import db

TZ = ZoneInfo("Europe/Stockholm")


def year_of(at: datetime) -> int:
    """The year a case created at `at` is numbered in (Swedish time)."""
    return at.astimezone(TZ).year


def next_reference(at: datetime) -> str:
    return next_references(at, 1)[0]


def _counter_upsert(dialect: str) -> Any:
    """The counter's ``INSERT … ON CONFLICT DO UPDATE … RETURNING`` for `dialect`, built once:
    only the year and the count change, so it is not composed (and its cache key computed)
    again for every case."""
    statement = _COUNTER_UPSERTS.get(dialect)
    if statement is None:
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        table = cast(sa.Table, CaseSequence.__table__)  # Core: not the ORM's bulk DML path
        count = sa.bindparam("count", type_=sa.Integer)
        statement = (
            insert(table)
            .values(year=sa.bindparam("year", type_=sa.Integer), last_value=count)
            .on_conflict_do_update(
                index_elements=["year"], set_={"last_value": table.c.last_value + count}
            )
            .returning(table.c.last_value)
        )
        _COUNTER_UPSERTS[dialect] = statement
    return statement


_COUNTER_UPSERTS: dict[str, Any] = {}


def next_references(at: datetime, count: int) -> list[str]:
    """`count` consecutive references of the year of `at`, in one statement (a batch of
    e-mail takes its numbers at once, so the counter row is locked once per batch)."""
    if count < 1:
        return []
    year = year_of(at)
    statement = _counter_upsert(db.session.get_bind().dialect.name)
    last = db.session.execute(statement, {"year": year, "count": count}).scalar_one()
    return [f"KC-{year}-{value:06d}" for value in range(last - count + 1, last + 1)]


_TYPED = re.compile(r"^(?:kc)?[\s-]*(20\d\d)(?:[\s-]+(\d{1,6})|(\d{6}))$", re.IGNORECASE)


def parse_reference(text: str | None) -> str | None:
    """``KC-2026-000303`` from what people type: ``kc 2026 303``, ``2026-303`` or in full."""
    match = _TYPED.match((text or "").strip()[:40])
    if match is None:
        return None
    year, short, full = match.groups()
    number = int(short or full)
    return f"KC-{year}-{number:06d}" if number > 0 else None
