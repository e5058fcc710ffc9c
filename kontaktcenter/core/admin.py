"""The administration section: one blueprint that every area adds its pages to.

``/admin`` is admins only, checked once for the whole blueprint (``before_request``) and again
by each route's ``@role_required``, so a new page cannot forget its gate. Areas add their routes
to :data:`bp` and a summary panel to the index page with :func:`add_panel`; the index renders
the panels in order without knowing the areas.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, render_template, request
from flask_wtf import FlaskForm

from kontaktcenter.core.auth import role_required
from kontaktcenter.core.errors import DomainError
from kontaktcenter.core.roles import Role

bp = Blueprint("admin", __name__, url_prefix="/admin")


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
def index():  # type: ignore[no-untyped-def]
    panels = [(panel.template, panel.context()) for panel in _panels]
    return render_template("admin/index.html", panels=panels)


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
