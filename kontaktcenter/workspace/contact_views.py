"""A person's or business's page: who they are and every case of theirs the user may see."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user

from kontaktcenter.cases import access, contacts
from kontaktcenter.core import audit
from kontaktcenter.core.auth import role_required
from kontaktcenter.core.roles import Role

bp = Blueprint("contacts", __name__, url_prefix="/kontakter")


@bp.get("/<id:contact_id>")
@role_required(Role.AGENT, Role.HANDLER, Role.MANAGER, Role.ADMIN)
def show(contact_id: int):
    contact = contacts.visible_contact(current_user, contact_id)
    # Another department's secret cases are left out: listing them here would tell that this
    # person is a party to them, which is what the secrecy protects (the register hides it too).
    cases = [
        c for c in contacts.cases_of(current_user, contact) if access.sees_content(current_user, c)
    ]
    page = render_template(
        "contacts/show.html",
        contact=contact,
        open_cases=[c for c in cases if c.is_open],
        closed_cases=[c for c in cases if not c.is_open],
    )
    # After rendering: its commit expires what the page read.
    audit.record(current_user, "view_contact", contact_id=contact.id)
    return page
