"""What people do with an existing case. Each function checks permission, checks that the
caller acted on the current version (optimistic locking), records the timeline, commits once."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.orm.exc import StaleDataError

from kontaktcenter.cases import access, events
from kontaktcenter.cases.enums import (
    ActivityKind,
    CallbackResult,
    CaseStatus,
    Outcome,
    TransferKind,
)
from kontaktcenter.cases.models import Case
from kontaktcenter.cases.services import add_activity, validate_summary
from kontaktcenter.core.errors import STALE_MESSAGE, Conflict, ValidationError
from kontaktcenter.core.extensions import db, utcnow
from kontaktcenter.core.roles import Role
from kontaktcenter.organisation.models import CaseType, Department, User

TEXT_MAX = 4000
# What may be done with a closed case; a merged one takes nothing but notes.
ON_CLOSED = frozenset({"note", "reopen", "merge", "link", "unlink"})
ON_MERGED = frozenset({"note"})


@contextmanager
def acting(case: Case, by: User, action: str, expected_version: int | None) -> Iterator[None]:
    access.ensure(by, action, case)
    if expected_version is not None and expected_version != case.version:
        raise Conflict(STALE_MESSAGE)
    if case.merged_into is not None and action not in ON_MERGED:
        raise ValidationError(
            f"Ärendet är sammanslaget med {case.merged_into.reference}. Arbeta i det ärendet."
        )
    if action not in ON_CLOSED and not case.is_open:
        raise ValidationError("Ärendet är avslutat. Återöppna det först.")
    try:
        yield
        db.session.commit()
    except StaleDataError:
        db.session.rollback()
        raise Conflict(STALE_MESSAGE) from None
    except Exception:
        db.session.rollback()
        raise


def _text(
    value: str | None, field: str, required: bool = False, label: str = "Texten"
) -> str | None:
    value = (value or "").strip()
    if required and not value:
        raise ValidationError(f"{label} får inte vara tom.", field)
    if len(value) > TEXT_MAX:
        raise ValidationError(f"{label} får vara högst {TEXT_MAX} tecken.", field)
    return value or None


def add_note(case: Case, by: User, text: str, expected_version: int | None = None) -> Case:
    body = _text(text, "text", required=True, label="Anteckningen")
    with acting(case, by, "note", expected_version):
        add_activity(case, ActivityKind.NOTE, by, body)
        case.updated_at = utcnow()  # bumps the version: others see that something happened
    return case


def assignable_users(case: Case) -> list[User]:
    """Agents can take first-line cases; a department's cases go to its handlers."""
    query = sa.select(User).where(User.active.is_(True)).order_by(User.name)
    if case.department_id is None:
        query = query.where(User.role.in_([Role.AGENT, Role.ADMIN]))
    else:
        query = query.where(
            sa.or_(
                User.role == Role.AGENT,
                User.departments.any(Department.id == case.department_id)
                & (User.role == Role.HANDLER),
            )
        )
    return list(db.session.scalars(query))


def assign(
    case: Case, by: User, assignee: User | None, expected_version: int | None = None
) -> Case:
    if assignee is not None and assignee.id != by.id:
        if assignee not in assignable_users(case):
            raise ValidationError("Personen kan inte ta det här ärendet.", "assignee")
    elif assignee is not None and not access.can_view(assignee, case):
        raise ValidationError("Du kan inte ta det här ärendet.", "assignee")
    action = "take" if assignee is not None and assignee.id == by.id else "assign"
    with acting(case, by, action, expected_version):
        case.assignee = assignee
        if assignee is not None and case.status == CaseStatus.NEW:
            case.status = CaseStatus.OPEN
        add_activity(case, ActivityKind.ASSIGNED, by, assignee=assignee.name if assignee else None)
        _department_acted(case, by)
    return case


def take_next(by: User) -> Case | None:
    """Assign the most urgent unassigned case to `by`. Two people pressing at the same moment
    never get the same case: candidates are locked with SKIP LOCKED (PostgreSQL) and the
    assignment is a conditional UPDATE that only succeeds while the case is still unassigned."""
    scope = (
        Case.department_id.in_(sorted(by.department_ids))
        if by.role == Role.HANDLER
        else Case.department_id.is_(None)
    )
    for _attempt in range(10):
        candidate = db.session.scalars(
            sa.select(Case.id)
            .where(
                Case.status.in_([CaseStatus.NEW, CaseStatus.OPEN]),
                Case.assignee_id.is_(None),
                scope,
            )
            .order_by(Case.due_at, Case.received_at, Case.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        ).first()
        if candidate is None:
            db.session.rollback()
            return None
        # An UPDATE without RETURNING gives a CursorResult; Session.execute is typed as Result.
        claimed = cast(
            "sa.CursorResult[Any]",
            db.session.execute(
                sa.update(Case)
                .where(Case.id == candidate, Case.assignee_id.is_(None))
                .values(
                    assignee_id=by.id,
                    status=CaseStatus.OPEN,
                    version=Case.version + 1,
                    updated_at=utcnow(),
                )
                .execution_options(synchronize_session=False)
            ),
        )
        if claimed.rowcount == 1:
            case = db.session.scalars(
                sa.select(Case)
                .where(Case.id == candidate)
                .execution_options(populate_existing=True)
            ).one()
            add_activity(case, ActivityKind.ASSIGNED, by, assignee=by.name, via="take_next")
            _department_acted(case, by)
            db.session.commit()
            return case
        db.session.rollback()
    return None


def _department_acted(case: Case, by: User) -> None:
    """A handler of the department picked the case up: the second-line goal is met."""
    if case.department_id is not None and case.department_id in by.department_ids:
        events.department_acted.send(case, at=utcnow())


def classify(
    case: Case, by: User, case_type: CaseType, expected_version: int | None = None
) -> Case:
    """Set or change the case type; its service goals are recomputed from the new rules."""
    if not case_type.active:
        raise ValidationError("Ärendetypen används inte längre.", "case_type")
    with acting(case, by, "classify", expected_version):
        old = case.case_type
        case.case_type = case_type
        add_activity(
            case, ActivityKind.CLASSIFIED, by, old=old.name if old else None, new=case_type.name
        )
        events.classified.send(case, at=utcnow())
    return case


def route(
    case: Case,
    by: User,
    department: Department,
    note: str | None = None,
    expected_version: int | None = None,
) -> Case:
    if not department.active:
        raise ValidationError("Förvaltningen är inte aktiv.", "department")
    body = _text(note, "note", label="Meddelandet")
    with acting(case, by, "route", expected_version):
        now = utcnow()
        case.department = department
        case.assignee = None
        case.status = CaseStatus.NEW
        case.outcome = Outcome.ROUTED
        add_activity(case, ActivityKind.ROUTED, by, body, department=department.name)
        events.routed.send(case, at=now)
        events.department_assigned.send(case, at=now)
    return case


def hand_off(
    case: Case,
    by: User,
    case_type: CaseType,
    transfer: TransferKind,
    to: str | None = None,
    note: str | None = None,
    expected_version: int | None = None,
) -> Case:
    if not case_type.direct_number:
        raise ValidationError("Ärendetypen har inget direktnummer att koppla till.", "case_type")
    body = _text(note, "note", label="Anteckningen")
    with acting(case, by, "hand_off", expected_version):
        now = utcnow()
        case.case_type = case_type
        moved = case.department is not case_type.department
        case.department = case_type.department
        case.outcome = Outcome.HANDED_OFF
        add_activity(
            case,
            ActivityKind.HANDED_OFF,
            by,
            body,
            number=case_type.direct_number,
            to=(to or "").strip() or case_type.direct_number_answered_by,
            transfer=transfer.value,
            department=case_type.department.name,
        )
        _close(case, by, now, case.resolution or f"Kopplad till {case_type.direct_number}")
        if moved:
            events.department_assigned.send(case, at=now)
    return case


def refer(
    case: Case,
    by: User,
    authority: str,
    note: str | None = None,
    expected_version: int | None = None,
) -> Case:
    name = _text(authority, "authority", required=True, label="Myndighetens namn")
    body = _text(note, "note", label="Anteckningen")
    with acting(case, by, "refer", expected_version):
        case.outcome = Outcome.REFERRED
        case.referred_to = name
        add_activity(case, ActivityKind.REFERRED, by, body, authority=name)
        _close(case, by, utcnow(), f"Hänvisad till {name}")
    return case


def book_callback(
    case: Case,
    by: User,
    due_at: datetime | None = None,
    note: str | None = None,
    expected_version: int | None = None,
) -> Case:
    body = _text(note, "note", label="Anteckningen")
    now = utcnow()
    if due_at is not None and due_at < now - timedelta(minutes=1):
        raise ValidationError("Tiden för återuppringning har redan passerat.", "due_at")
    with acting(case, by, "book_callback", expected_version):
        promised = events.book_callback(case, now, due_at)
        case.callback_done_at = None
        if case.department_id is None and by.role == Role.AGENT:
            case.outcome = Outcome.CALLBACK
        add_activity(case, ActivityKind.CALLBACK_BOOKED, by, body, due_at=promised.isoformat())
    return case


def record_callback_attempt(
    case: Case,
    by: User,
    result: CallbackResult,
    note: str | None = None,
    expected_version: int | None = None,
) -> Case:
    body = _text(note, "note", label="Anteckningen")
    with acting(case, by, "callback_attempt", expected_version):
        callback_attempt_on_timeline(case, by, result, body, utcnow())
    return case


def callback_attempt_on_timeline(
    case: Case, by: User, result: CallbackResult, body: str | None, now: datetime, **data: Any
) -> None:
    """What one attempt to call back does to the case, without the commit (inside `acting`):
    the timeline entry, the case picked up, and a reached person meets the callback promise.
    `data` is kept on the timeline entry (the callbacks area adds the attempt's number)."""
    add_activity(case, ActivityKind.CALLBACK_ATTEMPT, by, body, result=result.value, **data)
    if case.assignee is None:
        case.assignee = by
    if case.status == CaseStatus.NEW:
        case.status = CaseStatus.OPEN
    _department_acted(case, by)
    if result == CallbackResult.REACHED:
        case.callback_done_at = now
        if case.first_response_at is None:
            case.first_response_at = now
        add_activity(case, ActivityKind.CALLBACK_DONE, by)
        events.callback_done.send(case, at=now)


def return_to_contact_center(
    case: Case, by: User, note: str, expected_version: int | None = None
) -> Case:
    body = _text(note, "note", required=True, label="Meddelandet till kontaktcenter")
    with acting(case, by, "return", expected_version):
        _department_acted(case, by)
        department = case.department
        case.department = None
        case.assignee = None
        case.status = CaseStatus.NEW
        add_activity(
            case,
            ActivityKind.RETURNED,
            by,
            body,
            department=department.name if department else None,
        )
    return case


def set_waiting(
    case: Case,
    by: User,
    waiting: bool,
    note: str | None = None,
    expected_version: int | None = None,
) -> Case:
    body = _text(note, "note", label="Anteckningen")
    with acting(case, by, "wait" if waiting else "resume", expected_version):
        old = case.status
        case.status = CaseStatus.WAITING if waiting else CaseStatus.OPEN
        if old != case.status:
            add_activity(
                case, ActivityKind.STATUS_CHANGED, by, body, old=old.value, new=case.status.value
            )
            events.changed.send(case, at=utcnow())  # the pause is read back from the status history
    return case


def close(case: Case, by: User, resolution: str, expected_version: int | None = None) -> Case:
    text = validate_summary(resolution) if resolution and resolution.strip() else None
    if text is None:
        raise ValidationError("Skriv hur ärendet löstes.", "resolution")
    with acting(case, by, "close", expected_version):
        if case.outcome is None and case.department_id is None:
            case.outcome = Outcome.ANSWERED
        _close(case, by, utcnow(), text)
    return case


def close_in_transaction(case: Case, by: User | None, now: datetime, resolution: str) -> None:
    """Close without a permission check or commit, for a receiver of another area's event
    (the callbacks close the case of an abandoned call that was answered after all)."""
    _close(case, by, now, resolution)


def _close(case: Case, by: User | None, now: datetime, resolution: str) -> None:
    case.status = CaseStatus.CLOSED
    case.closed_at = now
    case.resolution = resolution
    add_activity(case, ActivityKind.CLOSED, by, resolution)
    events.closed.send(case, at=now)


def reopen(case: Case, by: User, note: str, expected_version: int | None = None) -> Case:
    body = _text(note, "note", required=True, label="Anledningen")
    if case.is_open:
        raise ValidationError("Ärendet är redan öppet.")
    with acting(case, by, "reopen", expected_version):
        case.status = CaseStatus.OPEN
        case.closed_at = None
        add_activity(case, ActivityKind.REOPENED, by, body)
        events.reopened.send(case, at=utcnow())
    return case
