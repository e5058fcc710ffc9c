"""Legal holds and "inaktuell" decisions on a case: who may, and the record they leave.

A hold (bevarandebeslut) keeps a case from gallring whatever its rule says. It is set and
released, each with a reason, by the owning department's handlers and managers, or by an
admin: the department answers for its cases; the contact center's agents do not. The same
people declare a closed case of a "vid inaktualitet" type no longer current, which is what lets
gallring take it. Each step is written on the case's timeline and in the audit log, in the same
transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa

from kontaktcenter.cases import access
from kontaktcenter.cases.enums import ActivityKind
from kontaktcenter.cases.models import Case
from kontaktcenter.cases.services import add_activity
from kontaktcenter.compliance.retention_models import (
    CaseRetention,
    LegalHold,
    RetentionMode,
    RetentionRule,
    period_label,
)
from kontaktcenter.compliance.retention_selection import RuleSet, months_before
from kontaktcenter.core import audit
from kontaktcenter.core.errors import Forbidden, NotFound, ValidationError
from kontaktcenter.core.extensions import db, utcnow
from kontaktcenter.core.process_cache import Kept
from kontaktcenter.core.roles import Role
from kontaktcenter.organisation.models import User

REASON_MAX = 2000


def may_manage(user: User, case: Case) -> bool:
    """Admins, and the handlers and managers of the department that owns the case."""
    if user.role == Role.ADMIN:
        return True
    return (
        user.role in (Role.HANDLER, Role.MANAGER)
        and case.department_id is not None
        and case.department_id in user.department_ids
    )


def _ensure(user: User, case: Case) -> None:
    if not access.can_view(user, case):
        raise NotFound(access.NOT_FOUND)
    if not may_manage(user, case):
        raise Forbidden(
            "Bara ärendets förvaltning (handläggare, chef) eller en administratör får göra det."
        )


def _reason(text: str | None, field: str = "reason") -> str:
    text = (text or "").strip()
    if not text:
        raise ValidationError("Ange ett skäl.", field)
    if len(text) > REASON_MAX:
        raise ValidationError(f"Skälet får vara högst {REASON_MAX} tecken.", field)
    return text


def active_hold(case: Case) -> LegalHold | None:
    return db.session.scalars(
        sa.select(LegalHold).where(LegalHold.case_id == case.id, LegalHold.released_at.is_(None))
    ).first()


def retention_state(case: Case) -> CaseRetention | None:
    return db.session.get(CaseRetention, case.id)


def _gallrad(case: Case) -> bool:
    state = db.session.get(CaseRetention, case.id, populate_existing=True)
    return state is not None and state.gallrad_at is not None


def _locked(case: Case) -> Case:
    """The case's row locked for this transaction, read again: a gallring batch that holds it
    has committed by now (and a batch that starts later skips it), so the gallrad check that
    follows is not stale."""
    # refresh, not get(with_for_update): a locking get compares the version it loaded with the
    # one in memory, and the batch has just moved it on.
    db.session.refresh(case, with_for_update=True)
    return case


def set_hold(case: Case, by: User, reason: str | None) -> LegalHold:
    case = _locked(case)
    _ensure(by, case)
    text = _reason(reason)
    if _gallrad(case):
        raise ValidationError("Ärendet är redan gallrat.")
    if active_hold(case) is not None:
        raise ValidationError("Ärendet har redan ett bevarandebeslut.")
    hold = LegalHold(case_id=case.id, reason=text, set_by_id=by.id, set_at=utcnow())
    db.session.add(hold)
    add_activity(case, ActivityKind.LEGAL_HOLD, by, f"Bevarandebeslut: {text}", legal_hold="set")
    audit.add(by, "legal_hold_set", case)
    db.session.commit()
    return hold


def release_hold(case: Case, by: User, reason: str | None) -> LegalHold:
    _ensure(by, case)
    text = _reason(reason)
    hold = active_hold(case)
    if hold is None:
        raise ValidationError("Ärendet har inget bevarandebeslut att häva.")
    hold.released_at = utcnow()
    hold.released_by_id = by.id
    hold.release_reason = text
    add_activity(
        case, ActivityKind.LEGAL_HOLD, by, f"Bevarandebeslut hävt: {text}", legal_hold="released"
    )
    audit.add(by, "legal_hold_released", case)
    db.session.commit()
    return hold


def declare_inactual(case: Case, by: User) -> CaseRetention:
    """The case is no longer current: gallring takes it (only under a "vid inaktualitet" rule)."""
    case = _locked(case)
    _ensure(by, case)
    rule = RuleSet.load().rule_for(case.case_type_id)
    if rule is None or rule.mode != RetentionMode.INACTUAL:
        raise ValidationError("Ärendets gallringsregel är inte ”vid inaktualitet”.")
    if case.is_open:
        raise ValidationError("Ärendet är inte avslutat.")
    state = db.session.get(CaseRetention, case.id, populate_existing=True) or CaseRetention(
        case_id=case.id
    )
    if state.gallrad_at is not None:
        raise ValidationError("Ärendet är redan gallrat.")
    if state.inactual_at is not None:
        raise ValidationError("Ärendet är redan förklarat inaktuellt.")
    state.inactual_at = utcnow()
    state.inactual_by_id = by.id
    db.session.add(state)
    add_activity(
        case,
        ActivityKind.DECLARED_INACTUAL,
        by,
        "Förklarat inaktuellt: gallras vid nästa gallring",
        inactual=True,
    )
    audit.add(by, "retention_inactual", case)
    db.session.commit()
    return state


@dataclass(frozen=True)
class RuleShown:
    """What the case page says of a retention rule: plain values, kept per process."""

    mode: RetentionMode
    months: int | None
    decision_name: str
    decision_date: date
    decision_reference: str | None

    @property
    def period_label(self) -> str:
        return period_label(self.mode, self.months)


# The active rules as the case page shows them, by case type (None: the default rule). Read on
# every case page, changed a few times a year (#16).
_SHOWN_RULES: Kept[dict[int | None, RuleShown]] = Kept("retention_rules", (RetentionRule,))


def _shown_rules() -> dict[int | None, RuleShown]:
    return {
        rule.case_type_id: RuleShown(
            rule.mode, rule.months, rule.decision_name, rule.decision_date, rule.decision_reference
        )
        for rule in RuleSet.load().rules()
    }


def shown_rule(case_type_id: int | None) -> RuleShown | None:
    """The active rule of a case of `case_type_id` (its type's, else the default), as the case
    page shows it: per process for ORGANISATION_CACHE_SECONDS."""
    rules = _SHOWN_RULES.get(_shown_rules)
    if case_type_id is not None and case_type_id in rules:
        return rules[case_type_id]
    return rules.get(None)


@dataclass
class Outlook:
    """What the case page says about a case's gallring."""

    rule: RuleShown | None
    due_at: datetime | None  # gallras from (N months after closure); None: no date
    hold: LegalHold | None
    state: CaseRetention | None

    @property
    def gallrad(self) -> bool:
        return self.state is not None and self.state.gallrad_at is not None


# The case's active hold and its retention state in one statement (the case page's panel):
# one row from the case's id, whatever of the two exists.
_ANCHOR = sa.select(sa.bindparam("case_id", type_=sa.Integer).label("id")).subquery("anchor")
_HOLD_AND_STATE = (
    sa.select(LegalHold, CaseRetention)
    .select_from(_ANCHOR)
    .outerjoin(
        LegalHold, sa.and_(LegalHold.case_id == _ANCHOR.c.id, LegalHold.released_at.is_(None))
    )
    .outerjoin(CaseRetention, CaseRetention.case_id == _ANCHOR.c.id)
    .limit(1)
)


def case_has_hold_or_state() -> sa.ColumnElement[bool]:
    """SQL: the case (``cases``) has an active hold or a retention state (declared inactual,
    gallrad): the case page's probe for its retention panel (core.case_panels)."""
    return sa.or_(
        sa.exists().where(LegalHold.case_id == Case.id, LegalHold.released_at.is_(None)),
        sa.exists().where(CaseRetention.case_id == Case.id),
    )


def outlook(case: Case, *, has_hold_or_state: bool = True) -> Outlook:
    """`has_hold_or_state`: False when the caller knows the case has neither
    (``case_has_hold_or_state``): they are not read."""
    rule = shown_rule(case.case_type_id)
    due = None
    if rule is not None and rule.mode == RetentionMode.MONTHS and case.closed_at is not None:
        assert rule.months is not None
        due = _months_after(case.closed_at, rule.months)
    hold, state = (
        db.session.execute(_HOLD_AND_STATE, {"case_id": case.id}).one()
        if has_hold_or_state
        else (None, None)
    )
    return Outlook(rule, due, hold, state)


def _months_after(moment: datetime, months: int) -> datetime:
    return months_before(moment, -months)
