"""The header's status control: a small form on every page (no JavaScript needed)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect
from flask_login import current_user

from kontaktcenter.core.auth import role_required
from kontaktcenter.core.errors import ValidationError
from kontaktcenter.core.roles import Role
from kontaktcenter.core.templating import plural
from kontaktcenter.distribution import presence
from kontaktcenter.distribution.assignment import GivenBack
from kontaktcenter.distribution.forms import StatusForm
from kontaktcenter.distribution.models import AgentStatus

bp = Blueprint("distribution", __name__)


@bp.post("/status")
@role_required(Role.AGENT)
def set_status():
    form = StatusForm()
    if not form.validate_on_submit():
        errors = [e for errs in form.errors.values() for e in errs]
        flash(" ".join(str(e) for e in errors) or "Välj en status.", "error")
        return redirect(presence.back_to(form.next.data))
    try:
        changed = presence.set_status(current_user._get_current_object(), form.status.data)
    except ValidationError as error:
        flash(error.message, "error")
        return redirect(presence.back_to(form.next.data))
    status = AgentStatus(form.status.data)
    message = f"Din status är nu {status.label.lower()}."
    if changed is not None and changed.given_back:
        message += f" {given_back_text(changed.given_back)}"
    flash(message, "success")
    return redirect(presence.back_to(form.next.data))


def given_back_text(given: GivenBack) -> str:
    """``2 ärenden och 1 återuppringning som du fått … gick tillbaka till kön.``"""
    parts = [
        plural(count, one, other)
        for count, one, other in (
            (given.cases, "ärende", "ärenden"),
            (given.callbacks, "återuppringning", "återuppringningar"),
        )
        if count
    ]
    return (
        f"{' och '.join(parts)} som du fått av fördelningen och inte börjat på"
        " gick tillbaka till kön."
    )
