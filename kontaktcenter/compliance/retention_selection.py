"""Which cases are past their time: the rules turned into one WHERE clause, and what blocks.

A case is due when it is closed, not yet gallrad, and its rule says so: the active rule of its
case type, else the active default rule (cases without a type, or whose type has no rule).
"N months" counts from ``closed_at`` to the run's ``as_of`` (calendar months, the last day of a
shorter month when the day does not exist). "Vid inaktualitet" never runs out by itself: such a
case is due only once someone has declared it no longer current (``case_retention.inactual_at``).

Due cases are still skipped, and reported with the reason, while
- a legal hold is set on the case;
- its contact has a register-extract request that is not delivered (the answer must describe
  what we held when they asked);
- it was merged into a case that is still kept (the surviving case carries the matter; the
  absorbed one is gallrad with it or after it, never before);
- a case merged into it has a legal hold or a pending register extract (the merge moved that
  case's messages here, so the hold or the extract covers them where they are now).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from kontaktcenter.cases.enums import CaseStatus
from kontaktcenter.cases.models import Case
from kontaktcenter.compliance.extract_models import pending_extract_clause
from kontaktcenter.compliance.retention_models import (
    CaseRetention,
    LegalHold,
    RetentionMode,
    RetentionRule,
)
from kontaktcenter.core.extensions import db


def months_before(moment: datetime, months: int) -> datetime:
    """`moment` minus calendar months (31 March - 1 month = 28/29 February)."""
    index = moment.year * 12 + moment.month - 1 - months
    year, month = divmod(index, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


_ACTIVE_RULES = sa.select(RetentionRule).where(RetentionRule.active).order_by(RetentionRule.id)


@dataclass(frozen=True)
class RuleSet:
    """The active rules: one per case type, and the default (or none)."""

    by_type: dict[int, RetentionRule]
    default: RetentionRule | None

    @classmethod
    def load(cls) -> RuleSet:
        rules = db.session.scalars(_ACTIVE_RULES).all()
        by_type = {r.case_type_id: r for r in rules if r.case_type_id is not None}
        default = next((r for r in rules if r.case_type_id is None), None)
        return cls(by_type, default)

    def rule_for(self, case_type_id: int | None) -> RetentionRule | None:
        if case_type_id is not None and case_type_id in self.by_type:
            return self.by_type[case_type_id]
        return self.default

    def rules(self) -> list[RetentionRule]:
        return [*self.by_type.values(), *([self.default] if self.default else [])]


def _due(rule: RetentionRule, as_of: datetime) -> sa.ColumnElement[bool]:
    if rule.mode == RetentionMode.INACTUAL:
        return sa.exists().where(
            CaseRetention.case_id == Case.id, CaseRetention.inactual_at.is_not(None)
        )
    assert rule.months is not None  # the check constraint
    return Case.closed_at < months_before(as_of, rule.months)


def due_clause(rules: RuleSet, as_of: datetime) -> sa.ColumnElement[bool]:
    """Cases past their time under `rules` on `as_of`, blocked or not."""
    parts = [
        sa.and_(Case.case_type_id == type_id, _due(rule, as_of))
        for type_id, rule in sorted(rules.by_type.items())
    ]
    if rules.default is not None:
        typed = sorted(rules.by_type)
        others = (
            sa.or_(Case.case_type_id.is_(None), Case.case_type_id.not_in(typed))
            if typed
            else sa.true()
        )
        parts.append(sa.and_(others, _due(rules.default, as_of)))
    if not parts:
        return sa.false()
    return sa.and_(
        Case.status == CaseStatus.CLOSED,
        Case.closed_at.is_not(None),
        ~sa.exists().where(CaseRetention.case_id == Case.id, CaseRetention.gallrad_at.is_not(None)),
        sa.or_(*parts),
    )


def on_hold() -> sa.ColumnElement[bool]:
    return sa.exists().where(LegalHold.case_id == Case.id, LegalHold.released_at.is_(None))


def pending_extract() -> sa.ColumnElement[bool]:
    """The case's contact is covered by a register extract not yet delivered (a request may
    cover several contacts of one person)."""
    return pending_extract_clause(Case.contact_id)


def merged_into_kept() -> sa.ColumnElement[bool]:
    target = aliased(Case)
    return sa.and_(
        Case.merged_into_id.is_not(None),
        sa.exists().where(
            target.id == Case.merged_into_id,
            ~sa.exists().where(
                CaseRetention.case_id == target.id, CaseRetention.gallrad_at.is_not(None)
            ),
        ),
    )


def absorbed_held() -> sa.ColumnElement[bool]:
    """A case merged into this one has a legal hold or a pending register extract: the merge
    moved its messages here, so they are under that hold (or extract) too."""
    absorbed = aliased(Case)
    return sa.exists().where(
        absorbed.merged_into_id == Case.id,
        sa.or_(
            sa.exists().where(LegalHold.case_id == absorbed.id, LegalHold.released_at.is_(None)),
            pending_extract_clause(absorbed.contact_id),
        ),
    )


# In the order a case is reported under when several hold it back.
BLOCKS = (
    ("legal_hold", on_hold),
    ("pending_extract", pending_extract),
    ("merged_into_kept", merged_into_kept),
    ("absorbed_held", absorbed_held),
)


def blocked_clause() -> sa.ColumnElement[bool]:
    return sa.or_(*(block() for _, block in BLOCKS))


def block_reason() -> sa.ColumnElement[str | None]:
    """The first reason a due case is held back, or NULL."""
    return sa.case(*((block(), sa.literal(name)) for name, block in BLOCKS), else_=sa.null())
