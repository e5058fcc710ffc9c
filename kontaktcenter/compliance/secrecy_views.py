"""Pages of the compliance area: secrecy on the case page (a panel and its POST)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, abort, flash, redirect, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from markupsafe import Markup, escape
from wtforms import HiddenField, SelectField

from kontaktcenter.cases import access, secrecy
from kontaktcenter.cases.models import Case
from kontaktcenter.core import case_panels, rendered
from kontaktcenter.core.auth import role_required
from kontaktcenter.core.errors import DomainError
from kontaktcenter.core.forms import choices, parse_id
from kontaktcenter.core.roles import Role

bp = Blueprint("compliance_secrecy", __name__)
ALL_ROLES = (Role.AGENT, Role.HANDLER, Role.MANAGER, Role.ADMIN)


class SecrecyForm(FlaskForm):
    ground = SelectField(
        "Sekretessgrund för ärendet",
        coerce=str,
        invalid_choice_message="Välj en sekretessgrund ur listan.",
    )
    version = HiddenField()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.ground.choices = choices(secrecy.choices("Ingen egen sekretess"))


def _panel(user: Any, case: Case) -> dict[str, Any] | None:
    """Whether the case is secret and why; the form for those who may change it."""
    if not access.sees_content(user, case):
        return None
    select = None
    if "secrecy" in access.allowed_actions(user, case) and not case.is_merged:
        select = _ground_select(case.secrecy_ground or "")
    type_ground = case.case_type.secrecy_ground if case.case_type else None
    return {"case": case, "select": select, "type_ground": type_ground}


def _ground_select(ground: str) -> Markup:
    """The labelled list of grounds with the case's own chosen: the same HTML for the same
    ground, so it is rendered once per process for each."""

    def render() -> str:
        field = SecrecyForm(formdata=None, data={"ground": ground}).ground
        label = escape(field.label.text)
        return f'<label for="secrecy-ground">{label}</label>\n    {field(id="secrecy-ground")}'

    return rendered.once(("secrecy-ground", ground), render)


@bp.post("/arenden/<id:case_id>/sekretess")
@role_required(*ALL_ROLES)
def set_secrecy(case_id: int):
    try:
        case = access.get_visible_case(current_user, case_id=case_id)
    except DomainError:
        abort(404)
    if "secrecy" not in access.allowed_actions(current_user, case):
        abort(403)
    form = SecrecyForm()
    if not form.validate_on_submit():
        flash(" ".join(form.ground.errors) or "Välj en sekretessgrund ur listan.", "error")
        return redirect(url_for("cases.show", case_id=case_id))
    ground = form.ground.data or None
    try:
        secrecy.set_secrecy(case, current_user, ground, parse_id(form.version.data))
    except DomainError as error:
        flash(error.message, "error")
    else:
        if ground:
            flash(f"Ärendet omfattas nu av sekretess ({ground}).", "success")
        else:
            flash("Ärendets egen sekretess är borttagen.", "success")
    return redirect(url_for("cases.show", case_id=case_id))


def init_app(app: Flask) -> None:
    """Register this module's blueprint, menu entries, panels and jobs."""
    app.register_blueprint(bp)
    case_panels.add_panel(
        case_panels.CasePanel("secrecy", "compliance/secrecy/_panel.html", _panel, order=10)
    )
