from __future__ import annotations

from flask import Blueprint, render_template

from kontaktcenter.calendar.services import upcoming_closures
from kontaktcenter.core.auth import role_required
from kontaktcenter.core.roles import Role
from kontaktcenter.goals.sweep import recent_breaches
from kontaktcenter.reports.overview import department_load

bp = Blueprint("overview", __name__, url_prefix="/oversikt")


@bp.get("/")
@role_required(Role.MANAGER)
def index():
    return render_template(
        "overview/index.html",
        rows=department_load(),
        breaches=recent_breaches(),
        closures=upcoming_closures(),
    )
