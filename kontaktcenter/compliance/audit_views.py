"""Pages of the compliance area: the audit log (Administration → Granskningslogg), its CSV
file, the chain check, the case page's "who has looked at this case", and the jobs that seal
and purge the log.

The log page is for admins: it shows every department's events and who searched for whom.
A manager of the department that owns a case sees that case's readers in the panel; the link
to the full log is shown to those who may open it. A personnummer is searched for with a POST
(it never appears in a URL or an access log); the other filters also work as a link (GET).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from flask import Flask, Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.datastructures import MultiDict

from kontaktcenter.compliance import audit_cli, audit_hooks, audit_labels, audit_queries
from kontaktcenter.compliance.audit_queries import AuditFilters, AuditPage
from kontaktcenter.core import admin, audit, audit_chain, case_panels, navigation, periodic
from kontaktcenter.core.auth import role_required
from kontaktcenter.core.errors import DomainError
from kontaktcenter.core.extensions import db
from kontaktcenter.core.forms import ConfirmForm
from kontaktcenter.core.identifiers import mask_personnummer
from kontaktcenter.core.roles import Role
from kontaktcenter.organisation.models import User

PAGE_SIZE = 50
FIELDS = ("case", "person", "user", "action", "from", "to")
VIEWERS_SHOWN = 20


def filters_from(values: MultiDict[str, str], allow_person: bool) -> AuditFilters:
    """The search's filters from a form or query string (a DomainError says what is wrong)."""

    def text(name: str, length: int = 100) -> str | None:
        value = (values.get(name) or "").strip()
        return value[:length] or None

    filters = AuditFilters(
        case=text("case", 30),
        person=text("person", 254) if allow_person else None,
        user=text("user", 254),
        action=text("action", 40),
    )
    if filters.action and filters.action not in audit_labels.ACTION_LABELS:
        raise DomainError("Välj en händelse i listan.", "action")
    for name in ("from", "to"):
        raw = text(name, 20)
        if raw:
            day = audit_queries.parse_day(raw, name)
            if name == "from":
                filters.day_from = day
            else:
                filters.day_to = day
    return filters


@admin.bp.route("/granskningslogg", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def audit_log():
    if request.method == "POST" and not ConfirmForm().validate_on_submit():
        abort(400)
    values = request.form if request.method == "POST" else request.args
    errors: list[str] = []
    page = AuditPage([], None)
    filters = AuditFilters()
    try:
        filters = filters_from(values, allow_person=request.method == "POST")
        if request.method == "POST" and values.get("export"):
            return _csv(filters)
        page = audit_queries.search(filters, values.get("cursor") or None, PAGE_SIZE)
        if filters.person:  # a search for a person is itself a lookup of personal data
            audit.record(current_user, "search_audit_log", filters=filters.described())
    except DomainError as error:
        errors.append(error.message)
    return render_template(
        "compliance/audit/log.html",
        page=page,
        values=values,
        errors=errors,
        actions=audit_labels.choices(),
        users=_users(),
        chain=audit_chain.status(),
        form=ConfirmForm(),
    ), (422 if errors else 200)


def _users() -> list[User]:
    return list(db.session.scalars(sa.select(User).order_by(User.name)))


def _cell(value: object) -> str:
    """A CSV cell a spreadsheet will not run: text that starts like a formula gets a quote
    (names and search terms are typed by anyone)."""
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _csv(filters: AuditFilters) -> Response:
    """The whole search as CSV (semicolons, for Excel in Swedish), itself logged."""
    rows = list(audit_queries.export_rows(filters))
    audit.record(current_user, "export_audit_log", rows=len(rows), filters=filters.described())

    def lines() -> Iterator[str]:
        out = io.StringIO()
        writer = csv.writer(out, delimiter=";")
        writer.writerow(
            ["Tid (UTC)", "Löpnummer", "Användare", "Händelse", "Ärende", "Person", "Detaljer"]
        )
        for row in rows:
            cells = [
                row.created_at.isoformat(),
                row.seq or "",
                row.user_name or "",
                row.action_label,
                row.case_reference or "",
                " ".join(p for p in (row.contact_name, row.personnummer) if p),
                mask_personnummer(json.dumps(row.detail, ensure_ascii=False, sort_keys=True)),
            ]
            writer.writerow([_cell(cell) for cell in cells])
            yield out.getvalue()
            out.seek(0)
            out.truncate()

    return Response(
        "\ufeff" + "".join(lines()),
        mimetype="text/csv",
        headers={"Content-Disposition": "attachment; filename=granskningslogg.csv"},
    )


@admin.bp.post("/granskningslogg/kontrollera")
@role_required(Role.ADMIN)
def audit_verify():
    if not ConfirmForm().validate_on_submit():
        abort(400)
    result = audit_chain.verify()
    audit.record(current_user, "verify_audit_log", intact=result.intact, checked=result.checked)
    if result.intact:
        flash(f"Granskningsloggen är obruten: {result.checked} händelser kontrollerade.", "success")
    else:
        flash(f"Granskningsloggen är inte obruten. {result.problem}", "error")
    return redirect(url_for("admin.audit_log"))


def _chain_panel() -> dict[str, Any]:
    return {"chain": audit_chain.status()}


def _case_panel(user: Any, case: Any) -> dict[str, Any] | None:
    """Who has looked at the case: for admins and the managers of the owning department."""
    if user.role is Role.ADMIN:
        pass
    elif user.role is not Role.MANAGER or case.department_id not in user.department_ids:
        return None
    viewers = audit_queries.viewers(case.id)
    return {
        "viewers": viewers[:VIEWERS_SHOWN],
        "more": max(0, len(viewers) - VIEWERS_SHOWN),
        "log_url": url_for("admin.audit_log", case=case.reference)
        if navigation.allowed("admin.audit_log")
        else None,
    }


def init_app(app: Flask) -> None:
    """Register this module's blueprint, menu entries, panels and jobs."""
    audit_hooks.connect()
    app.cli.add_command(audit_cli.audit_group)
    admin.add_panel("compliance/audit/_admin_panel.html", _chain_panel, order=80)
    case_panels.add_panel(
        case_panels.CasePanel("audit_viewers", "compliance/audit/_case_panel.html", _case_panel, 80)
    )
    periodic.register(audit_chain.seal_job, seconds=60)
    periodic.register(audit_chain.purge_job, seconds=24 * 3600)
    periodic.register(audit_chain.verify_job, seconds=24 * 3600)
