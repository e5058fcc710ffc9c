"""Reports through the API: the service report's numbers as JSON, CSV or XLSX, the same as the
``/rapporter/`` page shows for the same filters. The operation and its schema are described
here (``PATHS``, ``SCHEMAS``, merged by openapi.py)."""

from __future__ import annotations

from flask import Response
from flask.typing import ResponseReturnValue

from kontaktcenter.api.auth import api_user
from kontaktcenter.api.blueprint import bp
from kontaktcenter.api.parsing import Query
from kontaktcenter.api.schemas import (
    COUNT,
    MINUTES,
    PERCENT,
    SLUG_PATTERN,
    Schema,
    enum,
    ref,
    strict,
    values,
)
from kontaktcenter.api.spec import query, std
from kontaktcenter.cases.enums import Channel, Outcome
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


_SLUG: Schema = {"type": "string", "pattern": SLUG_PATTERN}
_DATE: Schema = {"type": "string", "format": "date"}
_UNKNOWN_COUNT: Schema = {"type": ["integer", "null"], "minimum": 0}
_SECONDS: Schema = {"type": ["number", "null"], "description": "Seconds; null without calls."}

PATHS: dict[str, Schema] = {
    "/reports/service": {
        "get": {
            "operationId": "getServiceReport",
            "summary": "The service report: KKiK e-mail and phone measures, lösningsgrad",
            "description": "Cases received from `from` to `to` (local dates, Europe/Stockholm), "
            "the same numbers as the /rapporter/ page. E-mail is answered within N working days "
            "when the first answer was sent by the closing time of the N-th working day after "
            "the day it arrived. Managers and admins see every department; a handler only "
            "their own departments' cases. `calls` counts the phone platform's calls that "
            "came in from `from` to `to` (events and imported statistics). Calls reach a "
            "department or case type only through the case logged from them and an abandoned "
            "call has none: with a department or case type filter, and for a handler, `calls` "
            "counts only answered calls logged as such a case, and `offered`, `abandoned`, "
            "`abandoned_share` and `answered_within_goal_share` are null (not known). "
            "`format=csv` or `format=xlsx` "
            "gives the same numbers as a file, with the calls per queue and per day too.",
            "parameters": [
                query("from", _DATE, "First day (inclusive).") | {"required": True},
                query("to", _DATE, "Last day (inclusive).") | {"required": True},
                query("department", _SLUG, "Only cases with this department (slug)."),
                query("case_type", _SLUG, "Only cases of this case type (slug)."),
                query("channel", enum(Channel), "Only this channel."),
                query(
                    "format", {"type": "string", "enum": ["json", "csv", "xlsx"]}, "json (default)"
                ),
            ],
            "responses": {
                "200": {
                    "description": "The report.",
                    "content": {
                        "application/json": {"schema": ref("ServiceReport")},
                        "text/csv": {"schema": {"type": "string"}},
                        export.XLSX_TYPE: {"schema": {"type": "string", "format": "binary"}},
                    },
                }
            }
            | std("Unauthorized", "Forbidden", "Invalid"),
        },
    },
}

SCHEMAS: dict[str, Schema] = {
    "ServiceReport": strict(
        {
            "from": _DATE,
            "to": _DATE,
            "email": strict(
                {
                    "received": COUNT,
                    "answered_within_1_working_day": COUNT,
                    "answered_within_2_working_days": COUNT,
                    "answered_within_1_working_day_share": PERCENT,
                    "answered_within_2_working_days_share": PERCENT,
                    "not_yet_due_1_working_day": COUNT
                    | {"description": "Unanswered, deadline not passed: not in the shares."},
                    "not_yet_due_2_working_days": COUNT,
                    "mean_first_response_business_minutes": MINUTES,
                    "median_first_response_business_minutes": MINUTES,
                    "mean_first_response_calendar_minutes": MINUTES,
                    "median_first_response_calendar_minutes": MINUTES,
                }
            ),
            "phone": strict(
                {
                    "contacts": COUNT,
                    "outcomes": strict({value: COUNT for value in values(Outcome)}),
                    "without_outcome": COUNT,
                    "direct_answer_share": PERCENT,
                }
            ),
            "callbacks": strict(
                {
                    "booked": COUNT,
                    "done_within_goal": COUNT,
                    "done_late": COUNT,
                    "overdue": COUNT,
                    "waiting": COUNT,
                    "done_within_goal_share": PERCENT,
                    "reached": COUNT
                    | {"description": "Done: the person was reached (the callbacks worklist)."},
                    "exhausted": COUNT
                    | {"description": "Done: the attempts ran out (a letter or e-mail follows)."},
                    "cancelled": COUNT,
                    "mean_attempts": {
                        "type": ["number", "null"],
                        "description": "Attempts per done (reached or exhausted) callback.",
                    },
                }
            ),
            "resolution": strict({"contacts": COUNT, "resolved": COUNT, "rate": PERCENT}),
            "calls": strict(
                {
                    "offered": _UNKNOWN_COUNT
                    | {
                        "description": "Answered + abandoned calls; null: not known (a "
                        "department, case type or handler's scope applies)."
                    },
                    "answered": COUNT,
                    "answered_within_goal": COUNT
                    | {"description": "Waited at most the queue's answer goal (60 s)."},
                    "abandoned": _UNKNOWN_COUNT
                    | {"description": "Abandoned in the queue; null: not known (as `offered`)."},
                    "answered_within_goal_share": PERCENT
                    | {"description": "Of the calls offered; null: none, or not known."},
                    "abandoned_share": PERCENT
                    | {"description": "Of the calls offered; null: none, or not known."},
                    "mean_wait_seconds": _SECONDS,
                    "median_wait_seconds": _SECONDS,
                    "mean_talk_seconds": _SECONDS,
                }
            ),
        }
    ),
}
