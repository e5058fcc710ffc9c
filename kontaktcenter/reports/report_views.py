"""The reports pages: ``/rapporter/`` (the service report with its filters) and its files."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user

from kontaktcenter.cases.enums import Channel, Outcome
from kontaktcenter.core.auth import role_required
from kontaktcenter.core.errors import DomainError, ValidationError
from kontaktcenter.core.extensions import utcnow
from kontaktcenter.core.forms import ConfirmForm
from kontaktcenter.core.roles import Role
from kontaktcenter.organisation import queries as organisation_queries
from kontaktcenter.organisation.models import User
from kontaktcenter.reports import export, subscriptions
from kontaktcenter.reports import phone as phone_stats
from kontaktcenter.reports.charts import bar_chart
from kontaktcenter.reports.contact_list import export as contact_list_export
from kontaktcenter.reports.periods import (
    PRESETS,
    ReportFilters,
    filters_from_args,
    local_date,
    parse_date,
    scope_of,
)
from kontaktcenter.reports.report import full_report, service_report
from kontaktcenter.reports.service import DEFINITIONS
from kontaktcenter.reports.volumes import per_agent

bp = Blueprint("reports", __name__, url_prefix="/rapporter")
FILTER_FIELDS = ("department", "case_type", "channel")
REPORT_KEYS = ("period", "from", "to", *FILTER_FIELDS, "format")


def filters_for(user: User, args: dict[str, str]) -> ReportFilters:
    today = local_date(utcnow())
    return filters_from_args(args, today, scope_of(user))


@bp.get("/")
@role_required(Role.MANAGER, Role.HANDLER)
def index():
    # Only the report's own keys: the page's links pass them to url_for, where a key such as
    # "endpoint" or "_external" would mean something else.
    args = {k: v for k, v in request.args.items() if k in REPORT_KEYS}
    try:
        filters = filters_for(current_user, args)
    except ValidationError as error:
        fallback = filters_for(current_user, {})
        return _page(fallback, args, error), 400
    fmt = args.get("format")
    if fmt in ("csv", "xlsx"):
        report = service_report(filters)
        body = export.as_csv(report) if fmt == "csv" else export.as_xlsx(report)
        mimetype = export.CSV_TYPE if fmt == "csv" else export.XLSX_TYPE
        name = export.filename(report, fmt)
        return Response(
            body,
            mimetype=mimetype,
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    return _page(filters, args, None)


def _shows_agents(user: User) -> bool:
    """Per-agent figures: only where switched on, and only for managers and admins."""
    return bool(current_app.config["REPORTS_PER_AGENT"]) and user.role in (Role.MANAGER, Role.ADMIN)


def _page(filters: ReportFilters, args: dict[str, str], error: ValidationError | None) -> str:
    departments = [
        d
        for d in organisation_queries.departments(include_inactive=True)
        if filters.scope is None or d.id in filters.scope
    ]
    return render_template(
        "reports/index.html",
        report=full_report(filters),
        agents=per_agent(filters) if _shows_agents(current_user) else None,
        filters=filters,
        args=args,
        error=error,
        presets=PRESETS,
        departments=departments,
        case_types=organisation_queries.case_types(),
        channels=list(Channel),
        outcomes=list(Outcome),
        definitions={**DEFINITIONS, **phone_stats.DEFINITIONS},
        bar_chart=bar_chart,
        subscriptions=subscriptions.subscriptions_of(current_user),
        frequencies=subscriptions.FREQUENCIES,
        confirm=ConfirmForm(),
        weekdays=["Måndag", "Tisdag", "Onsdag", "Torsdag", "Fredag", "Lördag", "Söndag"],
    )


@bp.get("/kontaktlista")
@role_required(Role.MANAGER)
def contact_list():
    """The day's contacts for SKR's survey provider (personal data: managers and admins only,
    every export audit-logged)."""
    try:
        day = parse_date(request.args.get("datum"), "datum") or local_date(utcnow()) - timedelta(
            days=1
        )
    except ValidationError as error:
        return render_template("reports/contact_list_error.html", error=error), 400
    body = contact_list_export(day, current_user)
    return Response(
        body,
        mimetype=export.CSV_TYPE,
        headers={"Content-Disposition": f'attachment; filename="kontaktlista-{day}.csv"'},
    )


@bp.post("/prenumerationer")
@role_required(Role.MANAGER, Role.HANDLER)
def subscribe():
    """Subscribe to the report with the filters on screen (not the period), weekly or monthly."""
    if not ConfirmForm().validate_on_submit():
        abort(400)
    form = request.form
    try:
        filters = filters_for(current_user, {k: form.get(k, "") for k in FILTER_FIELDS})
        subscriptions.subscribe(
            current_user,
            subscriptions.SubscriptionData(
                frequency=form.get("frequency", ""),
                department_id=filters.department_id,
                case_type_id=filters.case_type_id,
                channel=filters.channel,
            ),
        )
    except ValidationError as error:
        flash(error.message, "error")
    else:
        flash("Du får rapporten med e-post när nästa period är slut.", "success")
    kept: dict[str, Any] = {k: form[k] for k in FILTER_FIELDS if form.get(k)}
    return redirect(url_for("reports.index", **kept))


@bp.post("/prenumerationer/<id:subscription_id>/avsluta")
@role_required(Role.MANAGER, Role.HANDLER)
def unsubscribe(subscription_id: int):
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        subscriptions.unsubscribe(current_user, subscription_id)
    except DomainError as error:
        abort(error.status)
    flash("Prenumerationen är avslutad.", "success")
    return redirect(url_for("reports.index"))
