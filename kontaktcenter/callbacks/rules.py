"""Retry rules for callbacks: how many attempts, how far apart, and what happens when they run
out. One row per case type may override the default row (case type NULL); with no rows at all
the built-in rule applies (three attempts at least two hours apart, then an e-mail or a letter).
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from kontaktcenter.callbacks.models import CallbackRule, Fallback
from kontaktcenter.channels.email.models import MailTemplate
from kontaktcenter.core.errors import ValidationError
from kontaktcenter.core.extensions import db, utcnow
from kontaktcenter.organisation.models import CaseType

ATTEMPTS_MIN, ATTEMPTS_MAX = 1, 10
GAP_MIN, GAP_MAX = 5, 24 * 60  # minutes


@dataclass(frozen=True)
class EffectiveRule:
    max_attempts: int
    min_gap_minutes: int
    fallback: Fallback
    fallback_template_id: int | None = None
    rule_id: int | None = None  # None: the built-in rule


BUILT_IN = EffectiveRule(max_attempts=3, min_gap_minutes=120, fallback=Fallback.EMAIL)


def _effective(row: CallbackRule) -> EffectiveRule:
    return EffectiveRule(
        max_attempts=row.max_attempts,
        min_gap_minutes=row.min_gap_minutes,
        fallback=row.fallback,
        fallback_template_id=row.fallback_template_id,
        rule_id=row.id,
    )


def effective_rule(case_type: CaseType | None) -> EffectiveRule:
    """The case type's own rule, else the default row, else the built-in rule."""
    ids = [None] if case_type is None else [case_type.id, None]
    rows = db.session.scalars(
        sa.select(CallbackRule).where(
            sa.or_(
                CallbackRule.case_type_id.is_(None),
                CallbackRule.case_type_id.in_([i for i in ids if i is not None]),
            )
        )
    ).all()
    by_type = {row.case_type_id: row for row in rows}
    for key in ids:
        if key in by_type:
            return _effective(by_type[key])
    return BUILT_IN


def rule_row(case_type: CaseType | None) -> CallbackRule | None:
    """The stored row for the case type (None: the default row), for the admin form."""
    condition = (
        CallbackRule.case_type_id.is_(None)
        if case_type is None
        else CallbackRule.case_type_id == case_type.id
    )
    return db.session.scalars(sa.select(CallbackRule).where(condition)).first()


def validate(max_attempts: int | None, min_gap_minutes: int | None) -> None:
    if (
        max_attempts is None
        or isinstance(max_attempts, bool)
        or not ATTEMPTS_MIN <= max_attempts <= ATTEMPTS_MAX
    ):
        raise ValidationError(
            f"Antal försök ska vara ett heltal mellan {ATTEMPTS_MIN} och {ATTEMPTS_MAX}.",
            "max_attempts",
        )
    if (
        min_gap_minutes is None
        or isinstance(min_gap_minutes, bool)
        or not GAP_MIN <= min_gap_minutes <= GAP_MAX
    ):
        raise ValidationError(
            f"Tiden mellan försöken ska vara mellan {GAP_MIN} och {GAP_MAX} minuter.",
            "min_gap_minutes",
        )


def save_rule(
    case_type: CaseType | None,
    *,
    max_attempts: int,
    min_gap_minutes: int,
    fallback: Fallback,
    fallback_template: MailTemplate | None = None,
) -> CallbackRule:
    """Create or change the rule of a case type (None: the default rule). Commits."""
    validate(max_attempts, min_gap_minutes)
    if fallback_template is not None and not fallback_template.active:
        raise ValidationError("Mallen används inte längre.", "fallback_template")
    if fallback_template is not None and fallback != Fallback.EMAIL:
        fallback_template = None  # only an e-mail uses a template
    try:
        row = rule_row(case_type)
        if row is None:
            row = CallbackRule(case_type=case_type)
            db.session.add(row)
        row.max_attempts = max_attempts
        row.min_gap_minutes = min_gap_minutes
        row.fallback = fallback
        row.fallback_template = fallback_template
        row.updated_at = utcnow()
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return row


def delete_rule(case_type: CaseType) -> None:
    """The case type goes back to the default rule. Commits."""
    row = rule_row(case_type)
    if row is not None:
        db.session.delete(row)
        db.session.commit()


def all_rules() -> list[CallbackRule]:
    """The stored rules for the admin page: the default row first, then by case type name."""
    return list(
        db.session.scalars(
            sa.select(CallbackRule)
            .outerjoin(CaseType, CaseType.id == CallbackRule.case_type_id)
            .order_by(CallbackRule.case_type_id.is_not(None), CaseType.name)
        )
    )
