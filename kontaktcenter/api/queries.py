"""Read-side queries of the API: cases by arrival (keyset pages), the catalog.

Cases are listed newest first, ordered by (received_at DESC, id DESC): the ``ix_cases_received``
index, scanned backwards. The cursor is the last row's (received_at, id), so a page costs the
same wherever it is, and rows inserted meanwhile never shift later pages (no duplicates, no gaps).
Every case query carries access.visible_clause(user).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import joinedload, selectinload

from kontaktcenter.cases import access
from kontaktcenter.cases.enums import CaseStatus, Channel
from kontaktcenter.cases.models import Case
from kontaktcenter.cases.queries import decode_keyset, encode_cursor
from kontaktcenter.core.errors import ValidationError
from kontaktcenter.core.extensions import db
from kontaktcenter.organisation import queries as organisation
from kontaktcenter.organisation.models import CaseType, Department, User


@dataclass
class CaseFilters:
    channel: Channel | None = None
    status: CaseStatus | None = None
    department: str | None = None  # slug
    case_type: str | None = None  # slug
    received_from: datetime | None = None  # inclusive
    received_to: datetime | None = None  # exclusive


@dataclass
class CasePage:
    items: list[Case]
    next_cursor: str | None


def id_for_slug(model: type[Department] | type[CaseType], slug: str, field: str) -> int:
    found = db.session.scalars(sa.select(model.id).where(model.slug == slug)).first()
    if found is None:
        raise ValidationError("Det finns ingen med den kortkoden.", field)
    return found


def _conditions(user: User, filters: CaseFilters) -> list[sa.ColumnElement[bool]]:
    conds: list[sa.ColumnElement[bool]] = [access.visible_clause(user)]
    if filters.channel is not None:
        conds.append(Case.channel == filters.channel)
    if filters.status is not None:
        conds.append(Case.status == filters.status)
    if filters.department is not None:
        conds.append(
            Case.department_id == id_for_slug(Department, filters.department, "department")
        )
    if filters.case_type is not None:
        conds.append(Case.case_type_id == id_for_slug(CaseType, filters.case_type, "case_type"))
    if filters.received_from is not None:
        conds.append(Case.received_at >= filters.received_from)
    if filters.received_to is not None:
        conds.append(Case.received_at < filters.received_to)
    return conds


def encode(case: Case) -> str:
    return encode_cursor([case.received_at.isoformat(), case.id])


def case_page(user: User, filters: CaseFilters, cursor: str | None, limit: int) -> CasePage:
    query = (
        sa.select(Case)
        .where(*_conditions(user, filters))
        .options(
            joinedload(Case.case_type),
            joinedload(Case.department),
            joinedload(Case.assignee),
            joinedload(Case.contact),
            selectinload(Case.goals),  # goals are part of every case in the API
            selectinload(Case.activities),  # their pauses come from the timeline
        )
        .order_by(Case.received_at.desc(), Case.id.desc())
        .limit(limit + 1)
    )
    if cursor:
        (received,), case_id = decode_keyset(cursor, 1)
        query = query.where(
            sa.tuple_(Case.received_at, Case.id)
            < sa.tuple_(
                sa.literal(received, Case.received_at.type),
                sa.literal(case_id),
            )
        )
    rows = list(db.session.scalars(query).unique())
    next_cursor = encode(rows[limit - 1]) if len(rows) > limit else None
    return CasePage(rows[:limit], next_cursor)


def case_types(include_inactive: bool) -> list[CaseType]:
    return organisation.case_types(include_inactive=include_inactive)


def departments(include_inactive: bool) -> list[Department]:
    return organisation.departments(include_inactive=include_inactive)
