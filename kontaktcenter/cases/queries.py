"""The unified queue and the department inbox: open cases, most urgent first.

Pagination is keyset on (due_at, received_at, id), served by the partial indexes on open cases,
so page 1 and page 1000 cost the same at a million cases.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.orm import joinedload, lazyload, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from kontaktcenter.cases import access
from kontaktcenter.cases.enums import OPEN_STATUSES, CaseStatus, Channel
from kontaktcenter.cases.models import Activity, Case
from kontaktcenter.core.errors import ValidationError
from kontaktcenter.core.extensions import db, utcnow
from kontaktcenter.organisation import queries as organisation
from kontaktcenter.organisation.models import CaseType, Department, User


@dataclass
class QueueFilters:
    channel: Channel | None = None
    status: CaseStatus | None = None
    department_id: int | None = None
    first_line_only: bool = False  # cases still with the contact center
    case_type_id: int | None = None
    assignee_id: int | None = None
    unassigned: bool = False
    department_ids: list[int] | None = None  # the inbox: any of these departments
    callbacks_only: bool = False
    # "overdue": a promise has passed; "at_risk": in its last part, not passed;
    # "callback_overdue": a callback not made by its promised time.
    urgency: str | None = None


URGENCIES = {
    "overdue": "Försenade",
    "at_risk": "Snart försenade",
    "callback_overdue": "Försenade återuppringningar",
}


@dataclass
class QueuePage:
    items: list[Case]
    next_cursor: str | None
    total: int
    counts: dict[str, int] = field(default_factory=dict)


def encode_cursor(values: list[object]) -> str:
    raw = json.dumps(values, separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, arity: int) -> list[object]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ValidationError(BAD_CURSOR, "cursor") from None
    if not isinstance(values, list) or len(values) != arity:
        raise ValidationError(BAD_CURSOR, "cursor")
    return values


BAD_CURSOR = "Ogiltig sidmarkör."
ID_MAX = 2**31 - 1  # the integer primary key


def decode_keyset(cursor: str, times: int) -> tuple[list[datetime], int]:
    """A keyset cursor of `times` aware datetimes followed by a case id, each checked: a tampered
    cursor is a ValidationError, never an overflow or a database error."""
    if len(cursor) > 200:
        raise ValidationError(BAD_CURSOR, "cursor")
    *values, case_id = decode_cursor(cursor, times + 1)
    if isinstance(case_id, bool) or not isinstance(case_id, int) or not 0 < case_id <= ID_MAX:
        raise ValidationError(BAD_CURSOR, "cursor")
    return [_parse_time(value) for value in values], case_id


def _parse_time(value: object) -> datetime:
    if not isinstance(value, str):
        raise ValidationError(BAD_CURSOR, "cursor")
    try:
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            raise ValueError("naive")
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        raise ValidationError(BAD_CURSOR, "cursor") from None


def _conditions(user: User, filters: QueueFilters) -> list[sa.ColumnElement[bool]]:
    conds: list[sa.ColumnElement[bool]] = [access.visible_clause(user)]
    if filters.status is not None:
        conds.append(Case.status == filters.status)
    else:
        conds.append(Case.status != CaseStatus.CLOSED)  # matches the partial indexes
    if filters.channel is not None:
        conds.append(Case.channel == filters.channel)
    if filters.first_line_only:
        conds.append(Case.department_id.is_(None))
    elif filters.department_id is not None:
        conds.append(Case.department_id == filters.department_id)
    if filters.department_ids is not None:
        conds.append(Case.department_id.in_(filters.department_ids or [-1]))
    if filters.case_type_id is not None:
        conds.append(Case.case_type_id == filters.case_type_id)
    if filters.unassigned:
        conds.append(Case.assignee_id.is_(None))
    elif filters.assignee_id is not None:
        conds.append(Case.assignee_id == filters.assignee_id)
    if filters.callbacks_only:
        conds.append(Case.callback_due_at.is_not(None) & Case.callback_done_at.is_(None))
    if filters.urgency is not None:
        conds.append(urgency_clause(filters.urgency, utcnow()))
    return conds


def urgency_clause(urgency: str, now: datetime) -> sa.ColumnElement[bool]:
    """The open cases that are overdue, at risk, or whose callback is overdue, at `now`: the
    same conditions as the manager's overview counts, so each number opens exactly its cases."""
    if urgency == "overdue":
        return Case.due_at < now
    if urgency == "at_risk":
        return (Case.at_risk_at <= now) & (Case.due_at >= now)
    if urgency == "callback_overdue":
        return (
            Case.callback_due_at.is_not(None)
            & Case.callback_done_at.is_(None)
            & (Case.callback_due_at < now)
        )
    raise ValidationError("Okänt urval.", "urgency")


def queue_page(
    user: User,
    filters: QueueFilters,
    cursor: str | None = None,
    limit: int = 50,
    with_counts: bool = True,
) -> QueuePage:
    conds = _conditions(user, filters)
    if filters.status is not None and filters.status not in OPEN_STATUSES:
        raise ValidationError("Kön visar bara öppna ärenden.", "status")
    query = (
        sa.select(Case)
        .where(*conds)
        .options(
            joinedload(Case.case_type),
            joinedload(Case.department),
            joinedload(Case.assignee),
            joinedload(Case.contact),
        )
        .order_by(Case.due_at, Case.received_at, Case.id)
        .limit(limit + 1)
    )
    if cursor:
        (due, received), case_id = decode_keyset(cursor, 2)
        query = query.where(
            sa.tuple_(Case.due_at, Case.received_at, Case.id)
            > sa.tuple_(
                sa.literal(due, Case.due_at.type),
                sa.literal(received, Case.received_at.type),
                sa.literal(case_id),
            )
        )
    rows = list(db.session.scalars(query).unique())
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = encode_cursor(
            [last.due_at.isoformat(), last.received_at.isoformat(), last.id]
        )
    total = 0
    counts: dict[str, int] = {}
    if with_counts:
        by_channel = db.session.execute(
            sa.select(Case.channel, sa.func.count()).where(*conds).group_by(Case.channel)
        ).all()
        counts = {channel.value: n for channel, n in by_channel}
        total = sum(counts.values())
    return QueuePage(rows, next_cursor, total, counts)


# --- by arrival (the API's list) -------------------------------------------------------------


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


def arrival_cursor(case: Case) -> str:
    return encode_cursor([case.received_at.isoformat(), case.id])


def arrivals_page(user: User, filters: CaseFilters, cursor: str | None, limit: int) -> CasePage:
    """Cases newest first by arrival, ordered by (received_at DESC, id DESC): the
    ``ix_cases_received`` index scanned backwards; the cursor is the last row's (received_at, id),
    so rows inserted meanwhile never shift later pages. The API's case list."""
    query = (
        sa.select(Case)
        .where(*_arrival_conditions(user, filters))
        .options(
            joinedload(Case.case_type),
            joinedload(Case.department),
            joinedload(Case.assignee),
            joinedload(Case.contact),
            selectinload(Case.goals),  # goals are part of every case in the API
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
    next_cursor = arrival_cursor(rows[limit - 1]) if len(rows) > limit else None
    page = rows[:limit]
    load_timelines([case for case in page if needs_timeline(case)])
    return CasePage(page, next_cursor)


def needs_timeline(case: Case) -> bool:
    """Does serialising `case`'s goals read its timeline? A running goal's durations so far
    leave out the pauses, which come from the status history (goals.engine.durations); a met
    goal carries its final durations. Most cases of a page have none running."""
    return any(
        goal.cancelled_at is None and (goal.met_at is None or goal.business_minutes is None)
        for goal in case.goals
    )


def load_timelines(cases: list[Case]) -> None:
    """Fill the (whole) timelines of `cases` with one query, as selectinload would, but only
    for these cases and without each entry's actor (loaded on first use if ever needed)."""
    if not cases:
        return
    by_case: dict[int, list[Activity]] = {case.id: [] for case in cases}
    activities = db.session.scalars(
        sa.select(Activity)
        .where(Activity.case_id.in_(list(by_case)))
        .options(lazyload(Activity.actor))
        .order_by(Activity.case_id, Activity.id)
    )
    for activity in activities:
        by_case[activity.case_id].append(activity)
    for case in cases:
        if "activities" not in sa.inspect(case).unloaded:
            continue  # already loaded (and maybe changed) in this session: keep it
        set_committed_value(case, "activities", by_case[case.id])


# --- what arrived since a list was shown (the queue's and the inbox's refresh) --------------


def last_case_id() -> int:
    """The newest case's id: ids only grow, so "newer than this" needs the primary key only."""
    return db.session.scalar(sa.select(sa.func.coalesce(sa.func.max(Case.id), 0))) or 0


def count_newer(user: User, filters: QueueFilters, after_id: int) -> int:
    """Open cases in the list's filter that were made after `after_id`."""
    return (
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(Case)
            .where(Case.id > after_id, *_conditions(user, filters))
        )
        or 0
    )
