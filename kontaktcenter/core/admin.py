"""The administration section: one blueprint that every area adds its pages to.

``/admin`` is admins only, checked once for the whole blueprint (``before_request``) and again
by each route's ``@role_required``, so a new page cannot forget its gate. Areas add their routes
to :data:`bp` and a summary panel to the index page with :func:`add_panel`; the index renders
the panels in order without knowing the areas.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm

from kontaktcenter.core import outbox, outbox_admin
from kontaktcenter.core.auth import role_required
from kontaktcenter.core.errors import DomainError
from kontaktcenter.core.forms import ConfirmForm
from kontaktcenter.core.roles import Role

bp = Blueprint("admin", __name__, url_prefix="/admin")
T = TypeVar("T")


@dataclass(frozen=True)
class Panel:
    template: str  # a partial under templates/<area>/, rendered with the context below
    context: Callable[[], dict[str, Any]]
    order: int


_panels: list[Panel] = []


def add_panel(template: str, context: Callable[[], dict[str, Any]], order: int) -> None:
    """Show `template` on the admin index, rendered with `context()` (counts, links)."""
    if all(panel.template != template for panel in _panels):
        _panels.append(Panel(template, context, order))
        _panels.sort(key=lambda panel: panel.order)


@bp.before_request
@role_required(Role.ADMIN)
def _admins_only() -> None:
    """A second gate for the whole blueprint, so a new route cannot forget its decorator."""
    return None


@bp.get("/")
@role_required(Role.ADMIN)
def index():
    panels = [(panel.template, panel.context()) for panel in _panels]
    return render_template("admin/index.html", panels=panels)


# Background work (the outbox) ---------------------------------------------------------------

TASK_LABELS = {
    "email.send_acknowledgement": "Kvittens på e-post",
    "email.deliver": "Skicka e-post",
    "goals.send_alert": "Larm om servicemål",
    "goals.refresh_open_cases": "Räkna om förfallotider efter ändrad kalender",
    "diarium.deliver": "Skicka ärende till diariet",
    "retention.run": "Gallring",
    "phone.dial_out": "Ring upp via växeln",
    "distribution.assign": "Fördela nytt ärende",
    "distribution.sweep": "Dela ut väntande ärenden",
}
STATE_LABELS = {
    outbox.PENDING: "Väntar",
    outbox.RUNNING: "Pågår",
    outbox.FAILED: "Misslyckades",
    outbox.DONE: "Klart",
}


@bp.get("/driftstatus")
@role_required(Role.ADMIN)
def health():
    """Work that is stuck, being retried or given up: what an admin must look at."""
    return render_template(
        "admin/health.html",
        health=outbox_admin.health(),
        task_labels=TASK_LABELS,
        state_labels=STATE_LABELS,
        retry_form=ConfirmForm(),
    )


@bp.post("/driftstatus/<id:job_id>/forsok-igen")
@role_required(Role.ADMIN)
def health_retry(job_id: int):
    if not ConfirmForm().validate_on_submit():
        abort(400)
    if outbox_admin.retry(job_id):
        flash("Jobbet körs igen.", "success")
    else:
        flash("Jobbet har inte misslyckats och körs inte om.", "info")
    return redirect(url_for("admin.health"))


def _health_panel() -> dict[str, Any]:
    return {"counts": outbox_admin.health(limit=0)["counts"]}


add_panel("admin/_panel_health.html", _health_panel, order=90)


def submitted(
    form: FlaskForm,
    save: Callable[[], T],
    message: Callable[[T], str],
    next_endpoint: str,
) -> ResponseReturnValue | None:
    """The shape of every admin form: on a valid POST run `save` (one service call); a
    DomainError is shown next to its field; success flashes `message(result)` and redirects to
    `next_endpoint`. None: show the form (again), with :func:`form_status`."""
    if form.validate_on_submit():
        try:
            saved = save()
        except DomainError as error:
            show_error(form, error)
        else:
            flash(message(saved), "success")
            return redirect(url_for(next_endpoint))
    return None


def form_status(form: FlaskForm) -> int:
    """422 for a form shown again after a POST (it had errors), else 200."""
    return 422 if form.is_submitted() else 200


def show_error(form: FlaskForm, error: DomainError) -> None:
    """A service's error next to the field it concerns, or above the form."""
    if error.field and error.field in form:
        form[error.field].errors.append(error.message)
    else:
        form.form_errors.append(error.message)


def initial(values: dict[str, Any]) -> dict[str, Any] | None:
    """Stored values fill the form on GET; a POST shows exactly what was submitted."""
    return values if request.method == "GET" else None


def render(template: str, status: int = 200, **context: Any) -> tuple[str, int]:
    return render_template(template, **context), status
