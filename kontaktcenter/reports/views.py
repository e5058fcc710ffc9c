"""The manager's overview (``/oversikt/``): the live board of open work."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from kontaktcenter.calendar.services import upcoming_closures
from kontaktcenter.cases.enums import Channel
from kontaktcenter.core.auth import role_required
from kontaktcenter.core.forms import parse_id
from kontaktcenter.core.roles import Role
from kontaktcenter.goals.sweep import recent_breaches
from kontaktcenter.organisation import queries as organisation
from kontaktcenter.reports.overview import board, cached, department_load

bp = Blueprint("overview", __name__, url_prefix="/oversikt")
REFRESH_SECONDS = 60


@bp.get("/")
@role_required(Role.MANAGER)
def index():
    departments = organisation.departments()
    department_id = parse_id(request.args.get("department"))
    department = next((d for d in departments if d.id == department_id), None)
    live = request.args.get("live") != "0"
    scope_id = department.id if department else None
    return render_template(
        "overview/index.html",
        board=cached("board", scope_id, lambda: board(scope_id)),
        department=department,
        departments=departments,
        channels=list(Channel),
        rows=cached("load", None, department_load),
        breaches=recent_breaches(),
        closures=upcoming_closures(),
        refresh=REFRESH_SECONDS if live else None,
        live=live,
    )
