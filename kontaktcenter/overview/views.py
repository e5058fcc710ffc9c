from __future__ import annotations

from flask import Blueprint, render_template

from kontaktcenter.auth import role_required
from kontaktcenter.models import Role
from kontaktcenter.services.goal_sweep import recent_breaches
from kontaktcenter.services.overview import department_load

bp = Blueprint("overview", __name__, url_prefix="/oversikt")


@bp.get("/")
@role_required(Role.MANAGER)
def index():
    return render_template(
        "overview/index.html", rows=department_load(), breaches=recent_breaches()
    )
