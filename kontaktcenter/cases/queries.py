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
from typing import Any

import sqlalchemy as sa

from kontaktcenter.cases import access, queue_counts
from kontaktcenter.cases.enums import OPEN_STATUSES, CaseStatus, Channel
from kontaktcenter.cases.models import Case, Contact, display_name
from kontaktcenter.core.errors import ValidationError
from kontaktcenter.core.extensions import db, utcnow
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
    items: list[QueueRow]
    next_cursor: str | None
    total: int
    counts: dict[str, int] = field(default_factory=dict)
    high_water: int | None = None  # last_case_id() when the counts were read, else None


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


class QueueRow:
    """One case of the queue or an inbox, as its row shows it: the case's columns and the names
    of its type, department, contact and assignee (one statement, no ORM objects: the page's
    50 cases built ~150 ORM objects, a quarter of its CPU, #16). It offers what the row
    template, the due_badge macro and access.sees_content read of a Case."""

    __slots__ = (
        "id",
        "reference",
        "channel",
        "status",
        "department_id",
        "summary",
        "secrecy_ground",
        "received_at",
        "due_at",
        "at_risk_at",
        "callback_due_at",
        "callback_done_at",
        "case_type_name",
        "type_secrecy_ground",
        "department_name",
        "assignee_name",
        "contact_name",
        "contact_phone",
        "contact_email",
        "has_contact",
    )

    def __init__(self, row: Any) -> None:  # a Row of _QUEUE_COLUMNS
        (
            self.id,
            self.reference,
            self.channel,
            self.status,
            self.department_id,
            self.summary,
            self.secrecy_ground,
            self.received_at,
            self.due_at,
            self.at_risk_at,
            self.callback_due_at,
            self.callback_done_at,
            self.case_type_name,
            self.type_secrecy_ground,
            self.department_name,
            self.assignee_name,
            contact_id,
            self.contact_name,
            self.contact_phone,
            self.contact_email,
        ) = row
        self.has_contact = contact_id is not None

    @property
    def is_open(self) -> bool:
        return bool(self.status != CaseStatus.CLOSED)

    @property
    def has_promise(self) -> bool:
        """As Case.has_promise: due_at is the far-future sentinel when no goal runs."""
        return bool(self.due_at.year < 9999)

    @property
    def callback_pending(self) -> bool:
        return self.callback_due_at is not None and self.callback_done_at is None

    @property
    def effective_secrecy_ground(self) -> str | None:
        """As Case.effective_secrecy_ground (the outer join gives None without a type)."""
        return self.secrecy_ground or self.type_secrecy_ground or None

    @property
    def is_secret(self) -> bool:
        return self.effective_secrecy_ground is not None

    @property
    def contact_display_name(self) -> str:
        """As Contact.display_name."""
        return display_name(self.contact_name, self.contact_phone, self.contact_email)


_QUEUE = (
    sa.select(
        Case.id,
        Case.reference,
        Case.channel,
        Case.status,
        Case.department_id,
        Case.summary,
        Case.secrecy_ground,
        Case.received_at,
        Case.due_at,
        Case.at_risk_at,
        Case.callback_due_at,
        Case.callback_done_at,
        CaseType.name,
        CaseType.secrecy_ground,
        Department.name,
        User.name,
        Contact.id,
        Contact.name,
        Contact.phone,
        Contact.email,
    )
    .select_from(Case)
    .outerjoin(CaseType, CaseType.id == Case.case_type_id)
    .outerjoin(Department, Department.id == Case.department_id)
    .outerjoin(User, User.id == Case.assignee_id)
    .outerjoin(Contact, Contact.id == Case.contact_id)
    .order_by(Case.due_at, Case.received_at, Case.id)
)


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
    query = _QUEUE.where(*conds).limit(limit + 1)
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
    rows = [QueueRow(row) for row in db.session.execute(query)]
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = encode_cursor(
            [last.due_at.isoformat(), last.received_at.isoformat(), last.id]
        )
    total = 0
    counts: dict[str, int] = {}
    high_water = None
    if with_counts:
        newest: list[int | None] = []

        def count() -> dict[str, int]:
            # The newest case's id (last_case_id) comes along: one statement less per page.
            by_channel = db.session.execute(
                sa.select(Case.channel, sa.func.count(), _NEWEST_ID)
                .where(*conds)
                .group_by(Case.channel)
            ).all()
            newest.append((by_channel[0][2] or 0) if by_channel else None)
            return {channel.value: n for channel, n, _ in by_channel}

        counts = queue_counts.cached_counts(user, filters, count)
        total = sum(counts.values())
        # Counted now: the newest id came along; from the cache: None, read live by the caller.
        high_water = newest[0] if newest else None
    return QueuePage(rows, next_cursor, total, counts, high_water)


# The newest case's id, whatever the filter (not correlated with the query it is part of).
_NEWEST_ID = sa.select(sa.func.max(Case.id)).correlate(None).scalar_subquery()


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
