"""The direct-number directory: who answers what, and when."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from kontaktcenter.organisation import queries

bp = Blueprint("directory", __name__, url_prefix="/direktnummer")


@bp.get("/")
def index():
    query = request.args.get("q", "").strip()
    case_types = queries.directory(query)
    return render_template("directory/index.html", case_types=case_types, query=query)
