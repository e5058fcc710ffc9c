"""Reports through the API: the service report's numbers as JSON, CSV or XLSX, the same as the
``/rapporter/`` page shows for the same filters."""

from __future__ import annotations

from flask import Response
from flask.typing import ResponseReturnValue

from kontaktcenter.api.auth import api_user
from kontaktcenter.api.blueprint import bp
from kontaktcenter.api.parsing import Query
from kontaktcenter.cases.enums import Channel
from kontaktcenter.core.errors import Forbidden, ValidationError
from kontaktcenter.core.extensions import utcnow
from kontaktcenter.core.roles import Role
from kontaktcenter.organisation import queries as organisation
from kontaktcenter.organisation.models import CaseType, Department
from kontaktcenter.reports import export
from kontaktcenter.reports.periods import filters_from_args, local_date, scope_of
from kontaktcenter.reports.report import api_json, service_report

FORMATS = ("json", "csv", "xlsx")


@bp.get("/reports/service")
def report_service() -> ResponseReturnValue:
    user = api_user()
    if user.role not in (Role.MANAGER, Role.ADMIN, Role.HANDLER):
        raise Forbidden("Rapporter är för chefer och förvaltningarnas handläggare.")
    query = Query({"from", "to", "department", "case_type", "channel", "format"})
    fmt = query.text("format", 10) or "json"
    if fmt not in FORMATS:
        raise ValidationError("Ange format json, csv eller xlsx.", "format")
    for name in ("from", "to"):
        if query.text(name, 10) is None:
            raise ValidationError(f"{name} saknas (ÅÅÅÅ-MM-DD).", name)
    args = {"period": "custom", "from": query.text("from", 10), "to": query.text("to", 10)}
    if (department := query.slug("department")) is not None:
        args["department"] = str(organisation.id_for_slug(Department, department, "department"))
    if (case_type := query.slug("case_type")) is not None:
        args["case_type"] = str(organisation.id_for_slug(CaseType, case_type, "case_type"))
    if (channel := query.enum("channel", Channel)) is not None:
        args["channel"] = channel.value
    filters = filters_from_args(
        {k: v for k, v in args.items() if v}, local_date(utcnow()), scope_of(user)
    )
    report = service_report(filters)
    if fmt == "json":
        return api_json(report)
    body = export.as_csv(report) if fmt == "csv" else export.as_xlsx(report)
    return Response(
        body,
        mimetype=export.CSV_TYPE if fmt == "csv" else export.XLSX_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{export.filename(report, fmt)}"'},
    )
