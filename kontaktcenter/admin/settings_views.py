"""Administration of the business calendar and the service goals: opening hours, closure and
shortened days, and the goals new cases get. Registered on the admin blueprint."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from wtforms.fields.choices import SelectChoice

from kontaktcenter.admin.forms import ConfirmForm
from kontaktcenter.admin.settings_forms import DayExceptionForm, OpeningHoursForm, ServiceGoalForm
from kontaktcenter.admin.views import _initial, _render, _show_error, bp
from kontaktcenter.auth import role_required
from kontaktcenter.business_calendar import Unit
from kontaktcenter.extensions import db
from kontaktcenter.forms import choices, parse_id
from kontaktcenter.models import CalendarException, CaseType, Channel, GoalTarget, Role, ServiceGoal
from kontaktcenter.services import settings
from kontaktcenter.services.errors import DomainError
from kontaktcenter.services.settings import DayExceptionData, GoalData


def case_type_choices(keep: CaseType | None, empty: str) -> list[SelectChoice]:
    """Active case types by name with their department, plus `keep` if it is inactive."""
    return choices(
        [("", empty)]
        + [
            (str(t.id), f"{t.name} ({t.department.name})" + ("" if t.active else " – inaktiv"))
            for t in settings.case_type_choices(keep)
        ]
    )


# --- opening hours -------------------------------------------------------------------------------


@bp.route("/oppettider/", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def opening_hours():
    texts, configured = settings.weekly_hours()
    form = OpeningHoursForm(data=_initial({f"day_{wd}": text for wd, text in texts.items()}))
    if form.validate_on_submit():
        try:
            settings.save_opening_hours({wd: form[f"day_{wd}"].data for wd in range(7)})
        except DomainError as error:
            _show_error(form, error)
        else:
            flash("Öppettiderna är sparade.", "success")
            return redirect(url_for("admin.opening_hours"))
    status = 422 if form.is_submitted() else 200
    return _render("admin/settings/opening_hours.html", status, form=form, configured=configured)


# --- closure and shortened days ------------------------------------------------------------------


def _exceptions_page(form: DayExceptionForm, status: int = 200):
    today = settings.today()
    return _render(
        "admin/settings/exceptions.html",
        status,
        form=form,
        delete_form=ConfirmForm(formdata=None),
        exceptions=settings.upcoming_exceptions(today),
        holidays=settings.holidays_ahead(today),
    )


@bp.route("/avvikande-dagar/", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def exceptions():
    form = DayExceptionForm()
    if form.validate_on_submit():
        data = DayExceptionData(
            day=form.day.data,
            closed=form.kind.data == "closed",
            windows=form.windows.data or "",
            reason=form.reason.data or "",
        )
        try:
            row = settings.add_exception(data, settings.today())
        except DomainError as error:
            _show_error(form, error)
        else:
            what = "stängt" if not row.windows else "öppet " + ", ".join(row.windows)
            flash(f"{row.day.isoformat()} är {what} ({row.reason}).", "success")
            return redirect(url_for("admin.exceptions"))
    return _exceptions_page(form, 422 if form.is_submitted() else 200)


@bp.post("/avvikande-dagar/<id:exception_id>/ta-bort")
@role_required(Role.ADMIN)
def exception_delete(exception_id: int):
    row = db.get_or_404(CalendarException, exception_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    day = row.day
    try:
        settings.delete_exception(row, settings.today())
    except DomainError as error:
        flash(error.message, "error")
    else:
        flash(f"Den avvikande dagen {day.isoformat()} är borttagen.", "success")
    return redirect(url_for("admin.exceptions"))


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
    form = ServiceGoalForm(data=_initial(stored) if goal is not None else None)
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
    if form.validate_on_submit():
        try:
            goal = settings.create_goal(_goal_data(form))
        except DomainError as error:
            _show_error(form, error)
        else:
            what = f"{goal.target.label.lower()} {goal.description}"
            flash(f"Servicemålet {what} är skapat.", "success")
            return redirect(url_for("admin.goals_list"))
    status = 422 if form.is_submitted() else 200
    return _render("admin/settings/goal_form.html", status, form=form, goal=None)


@bp.route("/servicemal/<id:goal_id>", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def goal_edit(goal_id: int):
    goal = db.get_or_404(ServiceGoal, goal_id)
    form = _goal_form(goal)
    if form.validate_on_submit():
        try:
            settings.update_goal(goal, _goal_data(form))
        except DomainError as error:
            _show_error(form, error)
        else:
            flash("Ändringarna i servicemålet är sparade.", "success")
            return redirect(url_for("admin.goals_list"))
    status = 422 if form.is_submitted() else 200
    return _render("admin/settings/goal_form.html", status, form=form, goal=goal)
