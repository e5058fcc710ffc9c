"""The department inbox: cases routed to my departments, most urgent (callbacks) first."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from kontaktcenter.auth import role_required
from kontaktcenter.models import Role
from kontaktcenter.queue.views import filter_choices, filters_from_args
from kontaktcenter.services import case_actions
from kontaktcenter.services.errors import DomainError
from kontaktcenter.services.queue import queue_page

bp = Blueprint("inbox", __name__, url_prefix="/inkorg")


@bp.get("/")
@role_required(Role.HANDLER)
def index():
    filters = filters_from_args(request.args, current_user)
    filters.first_line_only = False
    mine = sorted(current_user.department_ids)
    filters.department_ids = mine
    if filters.department_id not in mine:
        filters.department_id = None
    try:
        page = queue_page(
            current_user,
            filters,
            request.args.get("cursor") or None,
            limit=current_app.config["QUEUE_PAGE_SIZE"],
        )
    except DomainError as error:
        flash(error.message, "error")
        return redirect(url_for("inbox.index"))
    return render_template(
        "inbox/index.html",
        page=page,
        args=request.args,
        **filter_choices(set(mine) if current_user.role == Role.HANDLER else None),
    )


@bp.post("/ta-nasta")
@role_required(Role.HANDLER)
def take_next():
    case = case_actions.take_next(current_user)
    if case is None:
        flash("Det finns inga otilldelade ärenden i din inkorg.", "info")
        return redirect(url_for("inbox.index"))
    flash(f"Du har tagit {case.reference}.", "success")
    return redirect(url_for("cases.show", case_id=case.id))
