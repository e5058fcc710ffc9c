"""The direct-number directory: who answers what, and when."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, render_template, request

from kontaktcenter.core.extensions import db
from kontaktcenter.organisation.models import CaseType, Department

bp = Blueprint("directory", __name__, url_prefix="/direktnummer")


@bp.get("/")
def index():
    query = request.args.get("q", "").strip()
    stmt = (
        sa.select(CaseType)
        .join(CaseType.department)
        .where(CaseType.active.is_(True), Department.active.is_(True))
        .order_by(Department.name, CaseType.name)
    )
    if query:
        like = (
            "%" + query.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        )
        stmt = stmt.where(
            sa.or_(
                sa.func.lower(CaseType.name).like(like, escape="\\"),
                sa.func.lower(Department.name).like(like, escape="\\"),
                sa.func.lower(sa.func.coalesce(CaseType.guidance, "")).like(like, escape="\\"),
                sa.func.lower(sa.func.coalesce(CaseType.direct_number_answered_by, "")).like(
                    like, escape="\\"
                ),
            )
        )
    case_types = db.session.scalars(stmt).all()
    return render_template("directory/index.html", case_types=case_types, query=query)
