"""The header's status control: a small form on every page (no JavaScript needed)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, url_for
from flask_login import current_user

from kontaktcenter.core.auth import role_required
from kontaktcenter.core.errors import ValidationError
from kontaktcenter.core.roles import Role
from kontaktcenter.distribution import presence
from kontaktcenter.distribution.forms import StatusForm
from kontaktcenter.distribution.models import AgentStatus

bp = Blueprint("distribution", __name__)


def _back(target: str | None) -> str:
    """Back to the page the form was on: a path of ours only (never another site)."""
    if (
        target
        and target.startswith("/")
        and not target.startswith("//")
        and all(ch.isprintable() and ch != "\\" for ch in target)
    ):
        return target
    return url_for("auth.home")


@bp.post("/status")
@role_required(Role.AGENT)
def set_status():
    form = StatusForm()
    if not form.validate_on_submit():
        errors = [e for errs in form.errors.values() for e in errs]
        flash(" ".join(str(e) for e in errors) or "Välj en status.", "error")
        return redirect(_back(form.next.data))
    try:
        changed = presence.set_status(current_user._get_current_object(), form.status.data)
    except ValidationError as error:
        flash(error.message, "error")
        return redirect(_back(form.next.data))
    status = AgentStatus(form.status.data)
    message = f"Din status är nu {status.label.lower()}."
    if changed is not None and changed.given_back:
        count = changed.given_back
        items = "ärende" if count == 1 else "ärenden"
        message += (
            f" {count} {items} som du fått av fördelningen och inte börjat på"
            " gick tillbaka till kön."
        )
    flash(message, "success")
    return redirect(_back(form.next.data))
