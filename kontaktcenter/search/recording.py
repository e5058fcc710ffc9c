"""Searches that look people up are recorded in the audit log (GDPR art. 5.2): by identifier,
or by name when people were shown (split from search/queries.py)."""

from __future__ import annotations

from typing import cast

import sqlalchemy as sa

from kontaktcenter.core import audit
from kontaktcenter.core.extensions import db, utcnow
from kontaktcenter.organisation.models import User
from kontaktcenter.search.parsing import Kind, Query
from kontaktcenter.search.people import by_identifier
from kontaktcenter.search.results import SearchResult


def record_lookup(user: User, query: Query, result: SearchResult | None = None) -> None:
    """Looking a person up by an identifier is recorded (GDPR art. 5.2), a personnummer masked:
    one row per contact found, with its contact_id, so the audit log's search for that person
    finds who looked them up; one row without a contact when none was found. With the
    `result` of the search, its people are recorded without looking them up again (call it
    after the answer is built: the commit would expire ORM hits)."""
    if query.kind in (Kind.PHONE, Kind.EMAIL, Kind.PERSONNUMMER, Kind.ORGANISATION_NUMBER):
        found = result.looked_up if result is not None else None
        if found is None:
            found = [contact.id for contact in by_identifier(user, query)]
        _record(user, query.kind.value, query.masked, [*found] or [None])


def record_people_shown(user: User, result: SearchResult) -> None:
    """A search by name shows people (their names, numbers, addresses): recorded as a lookup
    of each person shown, as :func:`record_lookup` records a lookup by identifier, so the audit
    log's search for a person also finds who found them by name. Called after the answer is
    built (the commit would expire its hits); nothing is written when no person was shown."""
    if result.query.kind is not Kind.TEXT or not result.contacts:
        return
    _record(user, "name", result.query.masked, [hit.contact.id for hit in result.contacts])


_EVENTS = cast(sa.Table, audit.AuditEvent.__table__)
_INSERT = sa.insert(_EVENTS).returning(_EVENTS.c.id)
_COLUMNS = ("user_id", "action", "case_id", "contact_id", "created_at", "detail")


def _insert_unnested() -> sa.Insert:
    """PostgreSQL: the rows of one search by one INSERT … SELECT over the contacts as an array.
    Its text and its 4 parameters are the same for any number of rows, so psycopg keeps it
    parsed and prepared (a multi-row VALUES of 10 people has 60 parameters, past psycopg's
    cache of 50: parsed again on every search)."""
    contact = sa.func.unnest(
        sa.bindparam("contact_ids", type_=sa.ARRAY(sa.Integer()))
    ).column_valued("contact_id")
    return sa.insert(_EVENTS).from_select(
        _COLUMNS,
        sa.select(
            sa.bindparam("user_id", type_=_EVENTS.c.user_id.type),
            sa.literal("search", _EVENTS.c.action.type),
            sa.null(),
            contact,
            sa.bindparam("created_at", type_=_EVENTS.c.created_at.type),
            sa.bindparam("detail", type_=_EVENTS.c.detail.type),
        ),
    )


_INSERT_UNNESTED = _insert_unnested()


def _record(user: User, kind: str, masked: str, contact_ids: list[int | None]) -> None:
    """The audit rows of one search (as audit.add would write them): one INSERT of them all,
    one commit. Elsewhere than on PostgreSQL with RETURNING, so that SQLAlchemy sends the
    executemany as one multi-row INSERT ("insertmanyvalues")."""
    now = utcnow()
    detail = {"kind": kind, "query": masked}
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(
            _INSERT_UNNESTED,
            {"user_id": user.id, "contact_ids": contact_ids, "created_at": now, "detail": detail},
        )
    else:
        db.session.execute(  # the table's INSERT: the ORM's bulk insert only costs more here
            _INSERT,
            [
                {
                    "user_id": user.id,
                    "action": "search",
                    "case_id": None,
                    "contact_id": contact_id,
                    "created_at": now,
                    "detail": detail,
                }
                for contact_id in contact_ids
            ],
        )
    db.session.commit()
