"""Marking a case for the diarium, handing it to its nämnd's diarium, storing the diarienummer.

Who may mark: whoever handles the case (DOMAIN req. 3): the first line while it holds the case
(agents), the owning department's handlers and managers once it is routed, and admins; always
only a user who may see the case's content. The marking and the diarienummer are recorded on
the case's timeline. A case marked "ska diarieföras" whose department is served by an active
diarium gets an outbox row (``diarium.deliver``) in the marking's own transaction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from kontaktcenter.cases import access, events
from kontaktcenter.cases.enums import ActivityKind
from kontaktcenter.cases.models import Case
from kontaktcenter.cases.services import add_activity
from kontaktcenter.compliance.diarium_models import (
    CaseDiarium,
    Diarium,
    HandoffState,
    Marking,
    diarium_departments,
)
from kontaktcenter.core import outbox
from kontaktcenter.core.errors import Forbidden, NotFound, ValidationError
from kontaktcenter.core.extensions import db, utcnow
from kontaktcenter.core.roles import Role
from kontaktcenter.organisation.models import User

DIARIENUMMER_MAX = 60
# Printable, no control characters: "BN 2024/123", "KS-2024-00017", "Dnr 2024.345".
DIARIENUMMER = re.compile(r"[\w][\w ./:\-–]{0,59}")
FORBIDDEN = "Bara den som handlägger ärendet kan markera det för diariet."
TASK = "diarium.deliver"


@dataclass(frozen=True)
class DiariumStatus:
    """What the case page and the API show about a case and the diarium."""

    case: Case
    entry: CaseDiarium | None
    may_mark: bool

    @property
    def marking(self) -> Marking | None:
        return self.entry.marking if self.entry else None

    @property
    def diarienummer(self) -> str | None:
        return self.entry.diarienummer if self.entry else None

    @property
    def state(self) -> HandoffState:
        return self.entry.state if self.entry else HandoffState.NONE


def may_mark(user: User, case: Case) -> bool:
    """The first line while it holds the case, the owning department once routed; admins."""
    if not access.can_view(user, case) or not access.sees_content(user, case):
        return False
    if user.role is Role.ADMIN:
        return True
    if case.department_id is None:
        return user.role is Role.AGENT
    return user.role in (Role.HANDLER, Role.MANAGER) and case.department_id in user.department_ids


def case_has_entry() -> sa.ColumnElement[bool]:
    """SQL: the case (``cases``) has a diarium entry (marked, or handed over): the case page's
    probe for its diarium panel (core.case_panels)."""
    return sa.exists().where(CaseDiarium.case_id == Case.id)


def entry_for(case: Case) -> CaseDiarium | None:
    return db.session.get(CaseDiarium, case.id)


def status(user: User, case: Case, *, has_entry: bool = True) -> DiariumStatus:
    """`has_entry`: False when the caller knows the case has none (``case_has_entry``)."""
    return DiariumStatus(case, entry_for(case) if has_entry else None, may_mark(user, case))


def diarium_for(case: Case) -> Diarium | None:
    """The active diarium serving the case's department (None at the first line)."""
    # The relationship, not the column: a case routed in this transaction is not flushed yet.
    department = case.department
    if department is None:
        return None
    return db.session.scalars(
        sa.select(Diarium)
        .join(diarium_departments, diarium_departments.c.diarium_id == Diarium.id)
        .where(diarium_departments.c.department_id == department.id, Diarium.active)
    ).first()


def validate_diarienummer(raw: str | None) -> str:
    value = (raw or "").strip()
    if not value:
        raise ValidationError("Ange diarienumret.", "diarienummer")
    if len(value) > DIARIENUMMER_MAX or not DIARIENUMMER.fullmatch(value):
        raise ValidationError(
            f"Diarienumret får vara högst {DIARIENUMMER_MAX} tecken: bokstäver, siffror, "
            "mellanslag och . / : -",
            "diarienummer",
        )
    return value


def update(
    case: Case,
    by: User,
    *,
    marking: Marking | None = None,
    diarienummer: str | None = None,
) -> CaseDiarium:
    """Mark the case and/or store its diarienummer (which implies "ska diarieföras"), in one
    transaction with its timeline entries and, for a new registration, the hand-off row."""
    if not access.can_view(by, case):
        raise NotFound(access.NOT_FOUND)
    if not may_mark(by, case):
        raise Forbidden(FORBIDDEN)
    number = validate_diarienummer(diarienummer) if diarienummer is not None else None
    if marking is None and number is None:
        raise ValidationError("Välj hur ärendet ska hanteras.", "marking")
    if number is not None and marking not in (None, Marking.REGISTER):
        raise ValidationError("Ett ärende med diarienummer är diariefört.", "marking")
    entry = entry_for(case)
    if marking not in (None, Marking.REGISTER) and entry is not None:
        if entry.diarienummer:
            raise ValidationError(
                f"Ärendet är redan diariefört med nummer {entry.diarienummer}.", "marking"
            )
        if entry.state is HandoffState.SENT:
            raise ValidationError("Ärendet är redan lämnat till diariet.", "marking")
    now = utcnow()
    wanted = Marking.REGISTER if number is not None else marking
    assert wanted is not None
    if entry is None:
        entry = CaseDiarium(case_id=case.id, marking=wanted, state=HandoffState.NONE)
        db.session.add(entry)
        changed = True
    else:
        changed = entry.marking is not wanted
    if changed:
        entry.marking = wanted
        entry.marked_by_id = by.id
        entry.marked_at = now
        _timeline(
            case,
            by,
            ActivityKind.DIARIUM_MARKED,
            f"Diariemarkering: {wanted.label}",
            diarium_marking=wanted.value,
        )
    if number is not None and number != entry.diarienummer:
        _store_number(case, entry, number, by)
    elif wanted is Marking.REGISTER:
        _hand_off(case, entry)
    else:
        entry.state = HandoffState.NONE
    outbox.commit()
    return entry


def record_diarienummer(entry: CaseDiarium, number: str) -> None:
    """The registrar's system answered the webhook with a diarienummer (no user acted)."""
    case = db.session.get(Case, entry.case_id)
    assert case is not None
    if entry.diarienummer is None:
        _store_number(case, entry, number, None)


def _store_number(case: Case, entry: CaseDiarium, number: str, by: User | None) -> None:
    entry.diarienummer = number
    entry.registered_at = utcnow()
    entry.state = HandoffState.REGISTERED
    entry.last_error = None
    _timeline(
        case, by, ActivityKind.DIARIUM_REGISTERED, f"Diariefört: {number}", diarienummer=number
    )


def _hand_off(case: Case, entry: CaseDiarium) -> None:
    """Queue the webhook unless it is under way or done. Without a diarium for the department
    (the first line holds the case, or none is configured) it waits: handed off when the case
    is routed, or marked again; the diarium's page lists it among the waiting cases."""
    if entry.state in (HandoffState.PENDING, HandoffState.SENT, HandoffState.REGISTERED):
        return
    diarium = diarium_for(case)
    if diarium is None:
        entry.state = HandoffState.NO_DIARIUM
        entry.diarium_id = None
        return
    entry.state = HandoffState.PENDING
    entry.diarium_id = diarium.id
    entry.last_error = None
    outbox.add(TASK, case_id=case.id, diarium_id=diarium.id)


def hand_off_again(case: Case, entry: CaseDiarium) -> None:
    """Queue the hand-off of an entry waiting for a diarium (NO_DIARIUM) to the case's one."""
    if entry.state is HandoffState.NO_DIARIUM:
        _hand_off(case, entry)


@events.department_assigned.connect
def _department_assigned(case: Case, at: datetime) -> None:
    """A case the first line marked "ska diarieföras" goes to its department's diarium when
    it is routed or handed off there, in that transaction. A hand-off still pending for the
    case's former department is queued again, for the new department's diarium (the old row
    finds the entry no longer its own and does nothing)."""
    entry = entry_for(case) if case.id is not None else None
    if entry is None:
        return
    if entry.state is HandoffState.PENDING:
        current = diarium_for(case)
        if current is not None and current.id == entry.diarium_id:
            return
        entry.state = HandoffState.NO_DIARIUM
        entry.diarium_id = None
    if entry.state is HandoffState.NO_DIARIUM:
        _hand_off(case, entry)


def _timeline(case: Case, by: User | None, kind: ActivityKind, text: str, **data: str) -> None:
    add_activity(case, kind, by, text, **data)
