"""Retention rules: create, change and deactivate (admins), each with its gallringsbeslut."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa

from kontaktcenter.compliance.retention_models import RetentionMode, RetentionRule
from kontaktcenter.core import audit
from kontaktcenter.core.errors import NotFound, ValidationError
from kontaktcenter.core.extensions import db, utcnow
from kontaktcenter.organisation.models import CaseType, User

MAX_MONTHS = 1200  # a hundred years: longer is "bevaras", not a gallring rule


@dataclass
class RuleData:
    case_type_id: int | None
    mode: RetentionMode
    months: int | None
    decision_name: str
    decision_date: date
    decision_reference: str | None = None


def list_rules(include_inactive: bool = True) -> list[RetentionRule]:
    query = sa.select(RetentionRule).order_by(
        RetentionRule.active.desc(), RetentionRule.case_type_id.is_(None), RetentionRule.id
    )
    if not include_inactive:
        query = query.where(RetentionRule.active)
    return list(db.session.scalars(query))


def get_rule(rule_id: int) -> RetentionRule:
    rule = db.session.get(RetentionRule, rule_id)
    if rule is None:
        raise NotFound("Gallringsregeln finns inte.")
    return rule


def _validate(data: RuleData, rule: RetentionRule | None) -> None:
    name = (data.decision_name or "").strip()
    if not name:
        raise ValidationError("Ange gallringsbeslutet (dokumentets namn).", "decision_name")
    if len(name) > 200:
        raise ValidationError("Beslutets namn får vara högst 200 tecken.", "decision_name")
    data.decision_name = name
    data.decision_reference = (data.decision_reference or "").strip() or None
    if data.decision_reference and len(data.decision_reference) > 300:
        raise ValidationError(
            "Diarienummer eller länk får vara högst 300 tecken.", "decision_reference"
        )
    if data.decision_date > utcnow().date():
        raise ValidationError("Beslutsdatumet kan inte vara i framtiden.", "decision_date")
    if data.mode == RetentionMode.MONTHS:
        if data.months is None or not 1 <= data.months <= MAX_MONTHS:
            raise ValidationError(f"Ange antal månader efter avslut (1–{MAX_MONTHS}).", "months")
    else:
        data.months = None
    if data.case_type_id is not None and db.session.get(CaseType, data.case_type_id) is None:
        raise ValidationError("Ärendetypen finns inte.", "case_type")
    other = db.session.scalars(
        sa.select(RetentionRule).where(
            RetentionRule.active,
            RetentionRule.case_type_id.is_(None)
            if data.case_type_id is None
            else RetentionRule.case_type_id == data.case_type_id,
            RetentionRule.id != (rule.id if rule is not None else 0),
        )
    ).first()
    if other is not None:
        raise ValidationError(
            "Det finns redan en aktiv regel för "
            + ("ärenden utan egen regel" if data.case_type_id is None else "den ärendetypen")
            + ". Ändra den, eller avaktivera den först.",
            "case_type",
        )


def create_rule(data: RuleData, by: User | None) -> RetentionRule:
    _validate(data, None)
    rule = RetentionRule(
        case_type_id=data.case_type_id,
        mode=data.mode,
        months=data.months,
        decision_name=data.decision_name,
        decision_date=data.decision_date,
        decision_reference=data.decision_reference,
        active=True,
    )
    db.session.add(rule)
    db.session.flush()
    audit.add(by, "retention_rule_created", rule=rule.id)
    db.session.commit()
    return rule


def update_rule(rule: RetentionRule, data: RuleData, by: User | None) -> RetentionRule:
    if not rule.active:
        raise ValidationError("Regeln är avaktiverad och kan inte ändras.")
    _validate(data, rule)
    rule.case_type_id = data.case_type_id
    rule.mode = data.mode
    rule.months = data.months
    rule.decision_name = data.decision_name
    rule.decision_date = data.decision_date
    rule.decision_reference = data.decision_reference
    audit.add(by, "retention_rule_changed", rule=rule.id)
    db.session.commit()
    return rule


def deactivate_rule(rule: RetentionRule, by: User | None) -> RetentionRule:
    """A rule is never deleted: gallrade cases name the rule they were gallrade by."""
    if rule.active:
        rule.active = False
        audit.add(by, "retention_rule_deactivated", rule=rule.id)
        db.session.commit()
    return rule
