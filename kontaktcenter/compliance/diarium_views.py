"""Pages of the compliance area: the diarium marking on the case page, and /admin/diarier."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Flask,
    abort,
    flash,
    redirect,
    render_template,
    send_file,
    url_for,
)
from flask_login import current_user
from markupsafe import Markup, escape

from kontaktcenter.cases import access
from kontaktcenter.compliance import diarium, diarium_export, diarium_settings
from kontaktcenter.compliance.diarium_forms import DiariumForm, MarkingForm
from kontaktcenter.compliance.diarium_models import Diarium, Marking
from kontaktcenter.compliance.diarium_settings import DiariumData
from kontaktcenter.core import admin, case_panels, rendered
from kontaktcenter.core.admin import form_status, initial, render, show_error
from kontaktcenter.core.auth import role_required
from kontaktcenter.core.errors import DomainError
from kontaktcenter.core.extensions import db
from kontaktcenter.core.forms import ConfirmForm, choices
from kontaktcenter.core.roles import Role
from kontaktcenter.organisation import services as organisation

bp = Blueprint("compliance_diarium", __name__)
ALL_ROLES = (Role.AGENT, Role.HANDLER, Role.MANAGER, Role.ADMIN)


# --- the case page ---------------------------------------------------------------------------


def _panel(user: Any, case: Any, *, has_entry: bool = True) -> dict[str, Any] | None:
    """`has_entry`: False when the case's probe said it has no diarium entry (nothing read)."""
    if not access.can_view(user, case):
        return None
    found = diarium.status(user, case, has_entry=has_entry)
    options = None
    if found.may_mark:
        options = _marking_options(found.marking.value if found.marking else "")
    return {"status": found, "options": options, "case": case}


def _marking_options(marking: str) -> Markup:
    """The marking's radio buttons with the case's chosen: the same HTML for the same marking,
    so it is rendered once per process for each."""

    def render() -> str:
        field = MarkingForm(formdata=None, data={"marking": marking or None}).marking
        items = [
            f"<li>{option(id=f'diarium-{option.data}')} "
            f'<label for="diarium-{escape(option.data)}">{escape(option.label.text)}</label></li>'
            for option in field
        ]
        return (
            f"<legend>{escape(field.label.text)}</legend>\n"
            f'      <ul class="radio-list">\n      {"".join(items)}\n      </ul>'
        )

    return rendered.once(("diarium-marking", marking), render)


@bp.post("/arenden/<id:case_id>/diarium")
@role_required(*ALL_ROLES)
def mark(case_id: int):
    try:
        case = access.get_visible_case(current_user, case_id=case_id)
    except DomainError:
        abort(404)
    if not diarium.may_mark(current_user, case):
        abort(403)
    form = MarkingForm()
    if not form.validate_on_submit():
        flash(" ".join(form.marking.errors) or "Välj hur ärendet ska hanteras.", "error")
        return redirect(url_for("cases.show", case_id=case_id))
    marking = Marking(form.marking.data)
    try:
        diarium.update(case, current_user, marking=marking)
    except DomainError as error:
        flash(error.message, "error")
    else:
        flash(f"Ärendet är markerat: {marking.label.lower()}.", "success")
    return redirect(url_for("cases.show", case_id=case_id))


# --- administration --------------------------------------------------------------------------


def _form(found: Diarium | None) -> DiariumForm:
    stored: dict[str, Any] = {}
    if found is not None:
        stored = {
            "name": found.name,
            "endpoint_url": found.endpoint_url,
            "departments": [d.id for d in found.departments],
            "active": found.active,
        }
    form = DiariumForm(data=initial(stored) if found is not None else None)
    keep = found.departments if found is not None else []
    form.departments.choices = choices(
        (str(d.id), d.name + ("" if d.active else " (inaktiv)"))
        for d in organisation.department_choices(keep)
    )
    return form


def _data(form: DiariumForm) -> DiariumData:
    wanted = set(form.departments.data or [])
    departments = [d for d in organisation.list_departments() if d.id in wanted]
    return DiariumData(form.name.data, form.endpoint_url.data, departments, form.active.data)


@admin.bp.get("/diarier/")
@role_required(Role.ADMIN)
def diaries_list():
    return render_template("compliance/diarium/list.html", diaries=diarium_settings.list_diaries())


@admin.bp.route("/diarier/ny", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def diarium_new():
    form = _form(None)
    if form.validate_on_submit():
        try:
            created, secret = diarium_settings.create(_data(form))
        except DomainError as error:
            show_error(form, error)
        else:  # the secret is shown in this answer only: never in a flash (the session cookie)
            return render_template("compliance/diarium/secret.html", diarium=created, secret=secret)
    return render("compliance/diarium/form.html", form_status(form), form=form, diarium=None)


@admin.bp.route("/diarier/<id:diarium_id>", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def diarium_edit(diarium_id: int):
    found = db.get_or_404(Diarium, diarium_id)
    form = _form(found)
    if form.validate_on_submit():
        try:
            diarium_settings.update(found, _data(form))
        except DomainError as error:
            show_error(form, error)
        else:
            flash(f"Ändringarna i {found.name} är sparade.", "success")
            return redirect(url_for("admin.diaries_list"))
    return render(
        "compliance/diarium/form.html",
        form_status(form),
        form=form,
        diarium=found,
        rotate_form=ConfirmForm(),
    )


@admin.bp.get("/diarier/<id:diarium_id>/export.zip")
@role_required(Role.ADMIN)
def diarium_zip(diarium_id: int):
    found = db.get_or_404(Diarium, diarium_id)
    try:
        export = diarium_export.export(current_user, found)
    except DomainError as error:
        flash(error.message, "info")
        return redirect(url_for("admin.diarium_edit", diarium_id=diarium_id))
    return send_file(
        export.file, mimetype="application/zip", as_attachment=True, download_name=export.filename
    )


@admin.bp.post("/diarier/<id:diarium_id>/ny-nyckel")
@role_required(Role.ADMIN)
def diarium_rotate(diarium_id: int):
    found = db.get_or_404(Diarium, diarium_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    secret = diarium_settings.rotate_secret(found)
    return render_template("compliance/diarium/secret.html", diarium=found, secret=secret)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    case_panels.add_panel(
        case_panels.CasePanel(
            "diarium",
            "compliance/diarium/_panel.html",
            _panel,
            order=70,
            probe=diarium.case_has_entry,
            absent=lambda user, case: _panel(user, case, has_entry=False),
        )
    )
    admin.add_panel(
        "compliance/diarium/_admin_panel.html",
        lambda: {"counts": diarium_settings.counts()},
        order=60,
    )
