"""Administration of service goals."""

from __future__ import annotations

from flask import render_template

from kontaktcenter.calendar.business_calendar import Unit
from kontaktcenter.cases.enums import Channel
from kontaktcenter.core.admin import bp, form_status, initial, render, submitted
from kontaktcenter.core.auth import role_required
from kontaktcenter.core.extensions import db
from kontaktcenter.core.forms import parse_id
from kontaktcenter.core.roles import Role
from kontaktcenter.goals import settings
from kontaktcenter.goals.forms import ServiceGoalForm
from kontaktcenter.goals.models import GoalTarget, ServiceGoal
from kontaktcenter.goals.settings import GoalData
from kontaktcenter.organisation.forms import case_type_choices
from kontaktcenter.organisation.models import CaseType

# --- service goals -------------------------------------------------------------------------------


@bp.get("/servicemal/")
@role_required(Role.ADMIN)
def goals_list():
    return render_template("admin/settings/goals.html", goals=settings.list_goals())


def _goal_form(goal: ServiceGoal | None) -> ServiceGoalForm:
    stored = {}
    if goal is not None:
        stored = {
            "target": goal.target.value,
            "channel": goal.channel.value if goal.channel else "",
            "case_type": str(goal.case_type_id or ""),
            "amount": goal.amount,
            "unit": goal.unit.value,
            "at_risk_percent": goal.at_risk_percent,
            "active": goal.active,
        }
    form = ServiceGoalForm(data=initial(stored) if goal is not None else None)
    keep = goal.case_type if goal is not None else None
    form.case_type.choices = case_type_choices(keep, "Alla ärendetyper")
    return form


def _goal_data(form: ServiceGoalForm) -> GoalData:
    case_type_id = form.case_type.data or ""
    return GoalData(
        target=GoalTarget(form.target.data),
        channel=Channel(form.channel.data) if form.channel.data else None,
        case_type=db.session.get(CaseType, cid) if (cid := parse_id(case_type_id)) else None,
        amount=form.amount.data,
        unit=Unit(form.unit.data),
        at_risk_percent=form.at_risk_percent.data,
        active=form.active.data,
    )


@bp.route("/servicemal/ny", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def goal_new():
    form = _goal_form(None)
    done = submitted(
        form,
        lambda: settings.create_goal(_goal_data(form)),
        lambda goal: f"Servicemålet {goal.target.label.lower()} {goal.description} är skapat.",
        "admin.goals_list",
    )
    return done or render("admin/settings/goal_form.html", form_status(form), form=form, goal=None)


@bp.route("/servicemal/<id:goal_id>", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def goal_edit(goal_id: int):
    goal = db.get_or_404(ServiceGoal, goal_id)
    form = _goal_form(goal)
    done = submitted(
        form,
        lambda: settings.update_goal(goal, _goal_data(form)),
        lambda _saved: "Ändringarna i servicemålet är sparade.",
        "admin.goals_list",
    )
    return done or render("admin/settings/goal_form.html", form_status(form), form=form, goal=goal)
