"""Pages of the compliance area: export of a case, or of a search result, as allmän handling.

``GET /arenden/<id>/export.zip`` (a button in the case page's export panel) and
``GET /sok/export.zip?<the search's own query>`` (the cases of that search, up to
``case_export.MAX_CASES``). Each request builds its ZIP in a temporary file and streams it.
"""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Blueprint, Flask, abort, flash, redirect, request, send_file, url_for
from flask_login import current_user

from kontaktcenter.cases import access
from kontaktcenter.compliance import case_export, case_export_search
from kontaktcenter.core import case_panels
from kontaktcenter.core.auth import role_required
from kontaktcenter.core.errors import DomainError
from kontaktcenter.core.roles import Role
from kontaktcenter.search.parsing import parse

bp = Blueprint("compliance_export", __name__)
ALL_ROLES = (Role.AGENT, Role.HANDLER, Role.MANAGER, Role.ADMIN)


def _send(export: case_export.Export):
    return send_file(
        export.file,
        mimetype="application/zip",
        as_attachment=True,
        download_name=export.filename,
    )


@bp.get("/arenden/<id:case_id>/export.zip")
@role_required(*ALL_ROLES)
def case_zip(case_id: int):
    try:
        case = access.get_visible_case(current_user, case_id=case_id)
    except DomainError:
        abort(404)
    try:
        export = case_export.export_cases(current_user, [case], via="web")
    except DomainError as error:
        flash(error.message, "error")
        return redirect(url_for("cases.show", case_id=case_id))
    return _send(export)


@bp.get("/sok/export.zip")
@role_required(*ALL_ROLES)
def search_zip():
    try:
        cases = case_export_search.cases_of_search(current_user, request.args)
        export = case_export.export_cases(current_user, cases, via="search")
    except DomainError as error:
        flash(error.message, "error")
        return redirect(_back_to_search())
    return _send(export)


def _back_to_search() -> str:
    """The search page with the export's query, but never a personnummer in the URL: a
    sensitive search term is left out (the page asks for it again)."""
    args = request.args
    if parse(args.get("q")).sensitive:
        kept = [(k, v) for k, v in args.items(multi=True) if k != "q"]
        query = urlencode(kept)
    else:
        query = request.query_string.decode()
    return url_for("search.index") + (f"?{query}" if query else "")


def _panel(user, case) -> dict[str, object] | None:
    if not access.can_view(user, case):
        return None
    return {"case": case, "content": access.sees_content(user, case)}


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    case_panels.add_panel(
        case_panels.CasePanel("export", "compliance/export/_panel.html", _panel, order=80)
    )
