"""The API's case list: cases newest first by arrival, as rows (split from cases/queries.py).

Keyset on (received_at, id), served by ``ix_cases_received`` scanned backwards; a page is one
select of columns (no ORM objects), its goals and pause history loaded for the page at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa

from kontaktcenter.cases import access
from kontaktcenter.cases.enums import ActivityKind, CaseStatus, Channel
from kontaktcenter.cases.models import Activity, Case, Contact
from kontaktcenter.cases.queries import decode_keyset, encode_cursor
from kontaktcenter.core.extensions import db
from kontaktcenter.organisation import queries as organisation
from kontaktcenter.organisation.models import CaseType, Department, User

# --- by arrival (the API's list) -------------------------------------------------------------


@dataclass
class CaseFilters:
    channel: Channel | None = None
    status: CaseStatus | None = None
    department: str | None = None  # slug
    case_type: str | None = None  # slug
    received_from: datetime | None = None  # inclusive
    received_to: datetime | None = None  # exclusive


def _arrival_conditions(user: User, filters: CaseFilters) -> list[sa.ColumnElement[bool]]:
    conds: list[sa.ColumnElement[bool]] = [access.visible_clause(user)]
    if filters.channel is not None:
        conds.append(Case.channel == filters.channel)
    if filters.status is not None:
        conds.append(Case.status == filters.status)
    if filters.department is not None:
        conds.append(
            Case.department_id
            == organisation.id_for_slug(Department, filters.department, "department")
        )
    if filters.case_type is not None:
        conds.append(
            Case.case_type_id == organisation.id_for_slug(CaseType, filters.case_type, "case_type")
        )
    if filters.received_from is not None:
        conds.append(Case.received_at >= filters.received_from)
    if filters.received_to is not None:
        conds.append(Case.received_at < filters.received_to)
    return conds


# --- by arrival, as rows (the API's list without ORM objects) --------------------------------

# The columns of a listed case: the case's own, and the names of its type, department, assignee
# and contact by outer joins (one statement). Rows, not ORM objects: a page of 50 cases built
# ~300 ORM objects (identity map, instrumented attributes), about half the list's CPU (#16).
_LISTED_COLUMNS = (
    Case.id,
    Case.reference,
    Case.channel,
    Case.status,
    Case.outcome,
    Case.department_id,
    Case.contact_id,
    Case.summary,
    Case.resolution,
    Case.referred_to,
    Case.secrecy_ground,
    Case.received_at,
    Case.created_at,
    Case.updated_at,
    Case.first_response_at,
    Case.due_at,
    Case.callback_due_at,
    Case.callback_done_at,
    Case.closed_at,
    Case.version,
    CaseType.slug.label("type_slug"),
    CaseType.name.label("type_name"),
    CaseType.secrecy_ground.label("type_secrecy_ground"),
    Department.slug.label("department_slug"),
    Department.name.label("department_name"),
    User.name.label("assignee_name"),
    User.email.label("assignee_email"),
    Contact.id.label("contact_pk"),
    Contact.kind.label("contact_kind"),
    Contact.name.label("contact_name"),
    Contact.phone.label("contact_phone"),
    Contact.phone_e164.label("contact_phone_e164"),
    Contact.email.label("contact_email"),
    Contact.organisation_number.label("contact_organisation_number"),
    Contact.personnummer.label("contact_personnummer"),
)


class ListedCase:
    """One case of the API's list: its row (the columns above) and, filled by the caller, its
    visible goals and (for a running goal's pauses) its status history. It offers what
    access.sees_content and the goal engine's durations() and state() read of a Case:
    department_id, is_secret, status, activities."""

    __slots__ = ("row", "goals", "activities")

    def __init__(self, row: Any) -> None:  # a Row of _LISTED_COLUMNS
        self.row = row
        self.goals: list[Any] = []
        self.activities: list[Any] = []

    @property
    def id(self) -> int:
        return int(self.row.id)

    @property
    def reference(self) -> str:
        return str(self.row.reference)

    @property
    def contact_id(self) -> int | None:
        return self.row.contact_id

    @property
    def department_id(self) -> int | None:
        return self.row.department_id

    @property
    def status(self) -> CaseStatus:
        return self.row.status

    @property
    def effective_secrecy_ground(self) -> str | None:
        """As Case.effective_secrecy_ground: the case's own ground, else its type's, else None
        (the outer join gives None for a case without a type)."""
        return self.row.secrecy_ground or self.row.type_secrecy_ground or None

    @property
    def is_secret(self) -> bool:
        return self.effective_secrecy_ground is not None


@dataclass
class ListedPage:
    items: list[ListedCase]
    next_cursor: str | None


# The list's statement without its conditions: built once (a select of 35 columns costs more
# to build than to add a WHERE to).
_LISTED = (
    sa.select(*_LISTED_COLUMNS)
    .select_from(Case)
    .outerjoin(CaseType, CaseType.id == Case.case_type_id)
    .outerjoin(Department, Department.id == Case.department_id)
    .outerjoin(User, User.id == Case.assignee_id)
    .outerjoin(Contact, Contact.id == Case.contact_id)
    .order_by(Case.received_at.desc(), Case.id.desc())
)


def arrival_rows(user: User, filters: CaseFilters, cursor: str | None, limit: int) -> ListedPage:
    """Cases newest first by arrival, ordered by (received_at DESC, id DESC): the
    ``ix_cases_received`` index scanned backwards; the cursor is the last row's (received_at, id),
    so rows inserted meanwhile never shift later pages. The API's case list, as rows."""
    query = _LISTED.where(*_arrival_conditions(user, filters)).limit(limit + 1)
    if cursor:
        (received,), case_id = decode_keyset(cursor, 1)
        query = query.where(
            sa.tuple_(Case.received_at, Case.id)
            < sa.tuple_(
                sa.literal(received, Case.received_at.type),
                sa.literal(case_id),
            )
        )
    rows = db.session.execute(query).all()
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = encode_cursor([last.received_at.isoformat(), last.id])
    return ListedPage([ListedCase(row) for row in rows[:limit]], next_cursor)


def listed_by_ids(ids: list[int]) -> dict[int, ListedCase]:
    """The cases of `ids` as the list's rows, by id (for another list of cases: search's
    hits), without checking who may see them: the caller has."""
    if not ids:
        return {}
    rows = db.session.execute(for_dialect(_LISTED_BY_IDS), {"ids": list(ids)})
    return {row.id: ListedCase(row) for row in rows}


def ids_statement(statement: sa.Select[Any], column: Any) -> tuple[sa.Select[Any], ...]:
    """`statement` limited to the ids bound as ``ids``, two ways: on PostgreSQL
    ``column = ANY(:ids)``, one array parameter, elsewhere an expanding IN (which renders one
    parameter per id on every execution). Pick with :func:`for_dialect`."""
    ids = sa.bindparam("ids", type_=sa.ARRAY(sa.Integer()))
    return (
        statement.where(column == sa.any_(ids)),
        statement.where(column.in_(sa.bindparam("ids", expanding=True))),
    )


def for_dialect(statements: tuple[sa.Select[Any], ...]) -> sa.Select[Any]:
    on_postgresql = db.session.get_bind().dialect.name == "postgresql"
    return statements[0] if on_postgresql else statements[1]


#: The list's select of cases without conditions or order, for another list of cases to narrow
#: (search's hits, read once per page as the API summarises them).
LISTED_SELECT = cast(sa.Select[Any], _LISTED.order_by(None))

_LISTED_BY_IDS = ids_statement(LISTED_SELECT, Case.id)


# The status history's entries that make or end a pause (goals.engine.pause_intervals reads
# only these kinds; the others it skips).
PAUSE_KINDS = (
    ActivityKind.STATUS_CHANGED,
    ActivityKind.CLOSED,
    ActivityKind.ROUTED,
    ActivityKind.RETURNED,
)


_PAUSE_HISTORY = ids_statement(
    sa.select(Activity.case_id, Activity.id, Activity.kind, Activity.created_at, Activity.data)
    .where(Activity.kind.in_(PAUSE_KINDS))
    .order_by(Activity.case_id, Activity.id),
    Activity.case_id,
)


def load_pause_history(cases: list[ListedCase]) -> None:
    """Fill `activities` of `cases` (id, kind, created_at, data of the entries that can start
    or end a pause) with one query: what a running goal's durations need."""
    if not cases:
        return
    by_case: dict[int, list[Any]] = {case.id: case.activities for case in cases}
    for row in db.session.execute(for_dialect(_PAUSE_HISTORY), {"ids": list(by_case)}):
        by_case[row.case_id].append(row)
