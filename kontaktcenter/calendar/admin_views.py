"""Administration of opening hours and closure / shortened days."""

from __future__ import annotations

from flask import abort, flash, redirect, url_for

from kontaktcenter.calendar import services as settings
from kontaktcenter.calendar.forms import DayExceptionForm, OpeningHoursForm
from kontaktcenter.calendar.models import CalendarException
from kontaktcenter.calendar.services import DayExceptionData
from kontaktcenter.core.admin import bp, initial, render, show_error
from kontaktcenter.core.auth import role_required
from kontaktcenter.core.errors import DomainError
from kontaktcenter.core.extensions import db
from kontaktcenter.core.forms import ConfirmForm
from kontaktcenter.core.roles import Role

# --- opening hours -------------------------------------------------------------------------------


@bp.route("/oppettider/", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def opening_hours():
    texts, configured = settings.weekly_hours()
    form = OpeningHoursForm(data=initial({f"day_{wd}": text for wd, text in texts.items()}))
    if form.validate_on_submit():
        try:
            settings.save_opening_hours({wd: form[f"day_{wd}"].data for wd in range(7)})
        except DomainError as error:
            show_error(form, error)
        else:
            flash("Öppettiderna är sparade.", "success")
            return redirect(url_for("admin.opening_hours"))
    status = 422 if form.is_submitted() else 200
    return render("admin/settings/opening_hours.html", status, form=form, configured=configured)


# --- closure and shortened days ------------------------------------------------------------------


def _exceptions_page(form: DayExceptionForm, status: int = 200):
    today = settings.today()
    return render(
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
            show_error(form, error)
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
