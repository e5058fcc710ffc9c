"""Cases' goals as pages and the API show them: rows, not ORM objects (#16).

The case page and the API's case list show the goals that are not superseded
(``engine.visible_goals``) and their state (``engine.state`` reads a :class:`ShownGoal` as a
``CaseGoal``); neither changes them, so they are read as rows: no lazy load of ``Case.goals``,
no objects to build and track.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from kontaktcenter.calendar.business_calendar import Unit
from kontaktcenter.core.extensions import read_rows
from kontaktcenter.goals.models import CaseGoal

# What a shown goal is read with, the case's id first.
COLUMNS = (
    CaseGoal.case_id,
    CaseGoal.target,
    CaseGoal.definition,
    CaseGoal.started_at,
    CaseGoal.due_at,
    CaseGoal.at_risk_at,
    CaseGoal.met_at,
    CaseGoal.cancelled_at,
    CaseGoal.breached_at,
    CaseGoal.business_minutes,
    CaseGoal.calendar_minutes,
)


class ShownGoal:
    """A goal as goal_json, the case page and the goal engine read it (the columns above, and
    `unit` from the definition as CaseGoal.unit)."""

    __slots__ = (
        "target",
        "definition",
        "started_at",
        "due_at",
        "at_risk_at",
        "met_at",
        "cancelled_at",
        "breached_at",
        "business_minutes",
        "calendar_minutes",
    )

    def __init__(self, row: Any) -> None:  # a row of COLUMNS
        (
            _case_id,
            self.target,
            self.definition,
            self.started_at,
            self.due_at,
            self.at_risk_at,
            self.met_at,
            self.cancelled_at,
            self.breached_at,
            self.business_minutes,
            self.calendar_minutes,
        ) = row

    @property
    def unit(self) -> Unit:
        return Unit(self.definition["unit"])


# In the order of Case.goals (by id), without the superseded ones (engine.visible_goals).
_VISIBLE = (
    sa.select(*COLUMNS)
    .where(CaseGoal.case_id == sa.bindparam("case_id"), CaseGoal.cancelled_at.is_(None))
    .order_by(CaseGoal.id)
)


def visible_goals(case_id: int) -> list[ShownGoal]:
    """The goals of the case `case_id` worth showing (as ``engine.visible_goals``)."""
    return [ShownGoal(row) for row in read_rows(_VISIBLE, {"case_id": case_id})]
