"""The department inbox: cases routed to my departments, most urgent (callbacks) first."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, request, url_for
from flask_login import current_user

from kontaktcenter.cases import actions as case_actions
from kontaktcenter.core.auth import role_required
from kontaktcenter.core.roles import Role
from kontaktcenter.workspace.listing import (
    filter_choices,
    filters_from_args,
    newer_json,
    render_queue,
)

bp = Blueprint("inbox", __name__, url_prefix="/inkorg")


def _inbox_filters():
    filters = filters_from_args(request.args, current_user)
    filters.first_line_only = False
    mine = sorted(current_user.department_ids)
    filters.department_ids = mine
    if filters.department_id not in mine:
        filters.department_id = None
    return filters, mine


@bp.get("/")
@role_required(Role.HANDLER)
def index():
    filters, mine = _inbox_filters()
    return render_queue(
        "inbox/index.html",
        filters,
        filter_choices(set(mine) if current_user.role == Role.HANDLER else None),
    )


@bp.get("/nya")
@role_required(Role.HANDLER)
def newer():
    return newer_json(_inbox_filters()[0])


@bp.post("/ta-nasta")
@role_required(Role.HANDLER)
def take_next():
    case = case_actions.take_next(current_user)
    if case is None:
        flash("Det finns inga otilldelade ärenden i din inkorg.", "info")
        return redirect(url_for("inbox.index"))
    flash(f"Du har tagit {case.reference}.", "success")
    return redirect(url_for("cases.show", case_id=case.id))
