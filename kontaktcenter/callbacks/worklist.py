"""The callbacks worklist, read for the pages and the API: pending callbacks of a scope by
promise then slot, the counts above the list, the letters to send and today's closed ones.

A scope is the contact center (cases in the first line), one department, or None: everything
the user may see. Every query is narrowed by :func:`kontaktcenter.cases.access.visible_clause`;
a row shows the number only to someone who may read the case's content (else masked).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import joinedload

from kontaktcenter.callbacks import rules
from kontaktcenter.callbacks.models import Callback, CallbackStatus, Fallback
from kontaktcenter.cases import access
from kontaktcenter.cases.models import Case
from kontaktcenter.core.extensions import db, utcnow
from kontaktcenter.core.identifiers import format_phone
from kontaktcenter.organisation.models import User

CONTACT_CENTER: Literal["contact_center"] = "contact_center"
Scope = Literal["contact_center"] | int | None  # int: a department's id
DUE_SOON = timedelta(hours=2)
LIMIT = 200


@dataclass(frozen=True)
class Row:
    callback: Callback
    case_id: int
    reference: str
    case_type: str | None
    number: str  # formatted, or masked when the user may not read the case's content
    number_e164: str | None  # None when masked (no tel: link)
    note: str | None  # None when masked
    source: str
    due_at: datetime
    slot_start: datetime | None
    slot_end: datetime | None
    attempts: int
    max_attempts: int
    next_attempt_at: datetime | None
    assigned_to: str | None
    status: CallbackStatus
    overdue: bool
    callable: bool  # its next allowed attempt has come


@dataclass(frozen=True)
class Counts:
    waiting: int
    overdue: int
    due_soon: int  # not overdue, due within DUE_SOON
    letters: int


def mask_number(e164: str | None) -> str:
    """``070-*** ** 67``: enough to tell two callbacks apart, not to call."""
    shown = format_phone(e164)
    if not shown:
        return ""
    digits = [i for i, ch in enumerate(shown) if ch.isdigit()]
    hidden = set(digits[3:-2])
    return "".join("*" if i in hidden else ch for i, ch in enumerate(shown))


def scope_clause(user: User, scope: Scope) -> sa.ColumnElement[bool]:
    clause = access.visible_clause(user)
    if scope == CONTACT_CENTER:
        return sa.and_(clause, Case.department_id.is_(None))
    if isinstance(scope, int):
        return sa.and_(clause, Case.department_id == scope)
    return clause


def _rows(user: User, query: sa.Select, now: datetime) -> list[Row]:
    callbacks = db.session.scalars(
        query.options(
            joinedload(Callback.case).joinedload(Case.case_type),
            joinedload(Callback.assigned_to),
        ).limit(LIMIT)
    ).unique()
    rule_cache: dict[int | None, int] = {}
    rows = []
    for cb in callbacks:
        case = cb.case
        if case.case_type_id not in rule_cache:
            rule_cache[case.case_type_id] = rules.effective_rule(case.case_type).max_attempts
        plain = access.sees_content(user, case)
        rows.append(
            Row(
                callback=cb,
                case_id=case.id,
                reference=case.reference,
                case_type=case.case_type.name if case.case_type else None,
                number=format_phone(cb.number_e164) if plain else mask_number(cb.number_e164),
                number_e164=cb.number_e164 if plain else None,
                note=cb.note if plain else None,
                source=cb.source.label,
                due_at=cb.due_at,
                slot_start=cb.slot_start,
                slot_end=cb.slot_end,
                attempts=cb.attempts,
                max_attempts=rule_cache[case.case_type_id],
                next_attempt_at=cb.next_attempt_at,
                assigned_to=cb.assigned_to.name if cb.assigned_to else None,
                status=cb.status,
                overdue=cb.status == CallbackStatus.PENDING and cb.due_at < now,
                callable=cb.next_attempt_at is None or cb.next_attempt_at <= now,
            )
        )
    return rows


def _joined(user: User, scope: Scope) -> sa.Select:
    return (
        sa.select(Callback).join(Case, Case.id == Callback.case_id).where(scope_clause(user, scope))
    )


def pending(user: User, scope: Scope = None, now: datetime | None = None) -> list[Row]:
    """Pending callbacks by promise, then slot (the partial index on pending by due time)."""
    now = now or utcnow()
    query = (
        _joined(user, scope)
        .where(Callback.status == CallbackStatus.PENDING)
        .order_by(Callback.due_at, Callback.slot_start.asc().nulls_last(), Callback.id)
    )
    return _rows(user, query, now)


def letters(user: User, scope: Scope = None) -> list[Row]:
    """Exhausted callbacks whose letter is still to be sent ("Brev att skicka"), oldest first."""
    query = (
        _joined(user, scope)
        .where(
            Callback.status == CallbackStatus.EXHAUSTED,
            Callback.fallback == Fallback.LETTER,
            Callback.fallback_done_at.is_(None),
        )
        .order_by(Callback.closed_at, Callback.id)
    )
    return _rows(user, query, utcnow())


def start_of_today(now: datetime) -> datetime:
    tz = ZoneInfo(current_app.config["TIMEZONE"])
    local = now.astimezone(tz)
    return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(now.tzinfo)


def closed_today(user: User, scope: Scope = None, now: datetime | None = None) -> list[Row]:
    """Callbacks closed since midnight (local time), newest first."""
    now = now or utcnow()
    query = (
        _joined(user, scope)
        .where(
            Callback.status != CallbackStatus.PENDING,
            Callback.closed_at >= start_of_today(now),
        )
        .order_by(Callback.closed_at.desc(), Callback.id.desc())
    )
    return _rows(user, query, now)


def counts(user: User, scope: Scope = None, now: datetime | None = None) -> Counts:
    now = now or utcnow()
    pending_q = sa.and_(Callback.status == CallbackStatus.PENDING, scope_clause(user, scope))
    row = db.session.execute(
        sa.select(
            sa.func.count(),
            sa.func.count().filter(Callback.due_at < now),
            sa.func.count().filter(Callback.due_at >= now, Callback.due_at < now + DUE_SOON),
        )
        .select_from(Callback)
        .join(Case, Case.id == Callback.case_id)
        .where(pending_q)
    ).one()
    letters_count = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(Callback)
        .join(Case, Case.id == Callback.case_id)
        .where(
            scope_clause(user, scope),
            Callback.status == CallbackStatus.EXHAUSTED,
            Callback.fallback == Fallback.LETTER,
            Callback.fallback_done_at.is_(None),
        )
    )
    return Counts(waiting=row[0], overdue=row[1], due_soon=row[2], letters=int(letters_count or 0))
