"""Administration use-cases for the service goals.

Service goals are never deleted, only deactivated: each case keeps a copy of the definition it
was given, so editing a goal changes what new cases get and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from kontaktcenter.calendar.business_calendar import Unit
from kontaktcenter.cases.enums import Channel
from kontaktcenter.core.errors import ValidationError
from kontaktcenter.core.extensions import db
from kontaktcenter.goals import engine as goals
from kontaktcenter.goals.models import GoalTarget, ServiceGoal
from kontaktcenter.organisation.models import CaseType

DAYS_MAX, HOURS_MAX = 365, 2000
AT_RISK_MIN, AT_RISK_MAX = 1, 90


@dataclass
class GoalData:
    target: GoalTarget | None
    amount: int | None
    unit: Unit | None
    channel: Channel | None = None  # None: every channel
    case_type: CaseType | None = None  # None: every case type
    at_risk_percent: int | None = goals.DEFAULT_AT_RISK_PERCENT
    active: bool = True


# --- service goals -------------------------------------------------------------------------------


def list_goals() -> list[ServiceGoal]:
    return list(
        db.session.scalars(
            sa.select(ServiceGoal)
            .outerjoin(ServiceGoal.case_type)
            .order_by(
                ServiceGoal.active.desc(),
                ServiceGoal.target,
                ServiceGoal.case_type_id.is_not(None),
                CaseType.name,
                ServiceGoal.channel,
                ServiceGoal.id,
            )
        )
    )


def create_goal(data: GoalData) -> ServiceGoal:
    goal = ServiceGoal()
    _apply_goal(goal, data)
    db.session.add(goal)
    db.session.commit()
    return goal


def update_goal(goal: ServiceGoal, data: GoalData) -> ServiceGoal:
    _apply_goal(goal, data)
    db.session.commit()
    return goal


def amount_limits(unit: Unit) -> tuple[int, int]:
    return (1, DAYS_MAX) if unit == Unit.WORKING_DAYS else (1, HOURS_MAX)


def _apply_goal(goal: ServiceGoal, data: GoalData) -> None:
    if data.target is None:
        raise ValidationError("Välj vad målet gäller.", "target")
    if data.unit is None:
        raise ValidationError("Välj hur tiden räknas.", "unit")
    low, high = amount_limits(data.unit)
    if data.amount is None or not low <= data.amount <= high:
        what = "arbetsdagar" if data.unit == Unit.WORKING_DAYS else "timmar"
        message = f"Ange antal {what} som ett heltal mellan {low} och {high}."
        raise ValidationError(message, "amount")
    percent = data.at_risk_percent
    if percent is None or not AT_RISK_MIN <= percent <= AT_RISK_MAX:
        raise ValidationError(
            f"Ange när målet ska varna som ett heltal mellan {AT_RISK_MIN} och {AT_RISK_MAX} %.",
            "at_risk_percent",
        )
    case_type = data.case_type
    if (
        data.active
        and case_type is not None
        and not case_type.active
        and case_type.id != goal.case_type_id
    ):
        raise ValidationError("Ärendetypen är inte aktiv. Välj en aktiv ärendetyp.", "case_type")
    if data.active:
        _ensure_single_active(goal, data)
    goal.target = data.target
    goal.channel = data.channel
    goal.case_type = case_type
    goal.amount = data.amount
    goal.unit = data.unit
    goal.at_risk_percent = percent
    goal.active = data.active


def _ensure_single_active(goal: ServiceGoal, data: GoalData) -> None:
    """One active goal per (target, channel, case type): otherwise which one applies is a guess."""
    query = sa.select(ServiceGoal).where(
        ServiceGoal.active.is_(True),
        ServiceGoal.target == data.target,
        ServiceGoal.channel.is_(None)
        if data.channel is None
        else ServiceGoal.channel == data.channel,
        ServiceGoal.case_type_id.is_(None)
        if data.case_type is None
        else ServiceGoal.case_type_id == data.case_type.id,
    )
    if goal.id is not None:
        query = query.where(ServiceGoal.id != goal.id)
    other = db.session.scalars(query).first()
    if other is not None:
        assert data.target is not None
        channel = data.channel.label.lower() if data.channel else "alla kanaler"
        case_type = data.case_type.name if data.case_type else "alla ärendetyper"
        raise ValidationError(
            f"Det finns redan ett aktivt servicemål för {data.target.label.lower()} "
            f"({channel}, {case_type}): {other.description}. Ändra det målet i stället, "
            "eller inaktivera det först.",
            "target",
        )


@dataclass
class GoalCounts:
    goals: int
    active_goals: int


def counts() -> GoalCounts:
    def total(*where: sa.ColumnElement[bool]) -> int:
        query = sa.select(sa.func.count()).select_from(ServiceGoal).where(*where)
        return db.session.scalar(query) or 0

    return GoalCounts(goals=total(), active_goals=total(ServiceGoal.active.is_(True)))
