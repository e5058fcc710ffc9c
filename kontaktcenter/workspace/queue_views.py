"""The unified queue: every open case of every channel, most urgent first."""

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

bp = Blueprint("queue", __name__, url_prefix="/ko")


@bp.get("/")
@role_required(Role.AGENT, Role.MANAGER)
def index():
    return render_queue(
        "queue/index.html", filters_from_args(request.args, current_user), filter_choices()
    )


@bp.get("/nya")
@role_required(Role.AGENT, Role.MANAGER)
def newer():
    return newer_json(filters_from_args(request.args, current_user))


@bp.post("/ta-nasta")
@role_required(Role.AGENT)
def take_next():
    case = case_actions.take_next(current_user)
    if case is None:
        flash("Det finns inga otilldelade ärenden att ta just nu.", "info")
        return redirect(url_for("queue.index"))
    flash(f"Du har tagit {case.reference}.", "success")
    return redirect(url_for("cases.show", case_id=case.id))
