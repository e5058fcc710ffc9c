"""The unified queue: every open case of every channel, most urgent first."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from kontaktcenter.auth import role_required
from kontaktcenter.extensions import db
from kontaktcenter.forms import parse_id
from kontaktcenter.models import CaseStatus, CaseType, Channel, Department, Role, User
from kontaktcenter.services import case_actions
from kontaktcenter.services.errors import DomainError
from kontaktcenter.services.queue import QueueFilters, queue_page

bp = Blueprint("queue", __name__, url_prefix="/ko")


def _int(value: str | None) -> int | None:
    return parse_id(value)


def filters_from_args(args, user: User) -> QueueFilters:
    """Unknown or malformed filter values are ignored, never an error page."""
    filters = QueueFilters()
    if args.get("channel") in Channel._value2member_map_:
        filters.channel = Channel(args["channel"])
    if args.get("status") in {s.value for s in CaseStatus if s != CaseStatus.CLOSED}:
        filters.status = CaseStatus(args["status"])
    department = args.get("department", "")
    if department == "kc":
        filters.first_line_only = True
    else:
        filters.department_id = _int(department)
    filters.case_type_id = _int(args.get("case_type"))
    assignee = args.get("assignee", "")
    if assignee == "me":
        filters.assignee_id = user.id
    elif assignee == "none":
        filters.unassigned = True
    else:
        filters.assignee_id = _int(assignee)
    filters.callbacks_only = args.get("callbacks") == "1"
    return filters


def filter_choices(department_ids: set[int] | None = None) -> dict:
    departments = db.session.scalars(sa.select(Department).order_by(Department.name)).all()
    case_types = db.session.scalars(sa.select(CaseType).order_by(CaseType.name)).all()
    if department_ids is not None:
        departments = [d for d in departments if d.id in department_ids]
        case_types = [c for c in case_types if c.department_id in department_ids]
    return {
        "channels": list(Channel),
        "statuses": [s for s in CaseStatus if s != CaseStatus.CLOSED],
        "departments": departments,
        "case_types": case_types,
    }


def render_queue(template: str, filters: QueueFilters, choices: dict):
    """One page of a case list (the queue or an inbox); a bad cursor starts over at page 1."""
    try:
        page = queue_page(
            current_user,
            filters,
            request.args.get("cursor") or None,
            limit=current_app.config["QUEUE_PAGE_SIZE"],
        )
    except DomainError as error:
        flash(error.message, "error")
        return redirect(url_for(request.endpoint or "auth.home"))
    return render_template(template, page=page, args=request.args, **choices)


@bp.get("/")
@role_required(Role.AGENT, Role.MANAGER)
def index():
    return render_queue(
        "queue/index.html", filters_from_args(request.args, current_user), filter_choices()
    )


@bp.post("/ta-nasta")
@role_required(Role.AGENT)
def take_next():
    case = case_actions.take_next(current_user)
    if case is None:
        flash("Det finns inga otilldelade ärenden att ta just nu.", "info")
        return redirect(url_for("queue.index"))
    flash(f"Du har tagit {case.reference}.", "success")
    return redirect(url_for("cases.show", case_id=case.id))
