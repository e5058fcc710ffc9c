"""What the queue and the inbox share: filters from the query string, their choices, the page."""

from __future__ import annotations

from typing import cast

from flask import current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user

from kontaktcenter.calendar.services import upcoming_closures
from kontaktcenter.cases import access
from kontaktcenter.cases.enums import CaseStatus, Channel
from kontaktcenter.cases.models import Case
from kontaktcenter.cases.queries import (
    URGENCIES,
    QueueFilters,
    count_newer,
    last_case_id,
    queue_page,
)
from kontaktcenter.core.errors import DomainError
from kontaktcenter.core.forms import parse_id
from kontaktcenter.organisation import queries as organisation
from kontaktcenter.organisation.models import User
from kontaktcenter.workspace.queue_rows import queue_rows


def _int(value: str | None) -> int | None:
    return parse_id(value)


FILTER_KEYS = ("channel", "status", "department", "case_type", "assignee", "callbacks", "urgency")


def filters_from_args(args, user: User) -> QueueFilters:
    """Unknown or malformed filter values are ignored, never an error page."""
    filters = QueueFilters()
    if args.get("channel") in Channel._value2member_map_:
        filters.channel = Channel(args["channel"])
    if args.get("status") in {s.value for s in CaseStatus if s != CaseStatus.CLOSED}:
        filters.status = CaseStatus(args["status"])
    department = args.get("department", "")
    if department == "kc":
        filters.first_line_only = True
    else:
        filters.department_id = _int(department)
    filters.case_type_id = _int(args.get("case_type"))
    assignee = args.get("assignee", "")
    if assignee == "me":
        filters.assignee_id = user.id
    elif assignee == "none":
        filters.unassigned = True
    else:
        filters.assignee_id = _int(assignee)
    filters.callbacks_only = args.get("callbacks") == "1"
    if args.get("urgency") in URGENCIES:
        filters.urgency = args["urgency"]
    return filters


def filter_choices(department_ids: set[int] | None = None) -> dict:
    # Names only, from the per-process cache the search's filters read too (decision 109).
    names = organisation.names()
    departments = list(names.departments)
    case_types = list(names.case_types)
    if department_ids is not None:
        departments = [d for d in departments if d.id in department_ids]
        case_types = [c for c in case_types if c.department_id in department_ids]
    return {
        "channels": list(Channel),
        "urgencies": URGENCIES,
        "statuses": [s for s in CaseStatus if s != CaseStatus.CLOSED],
        "departments": departments,
        "case_types": case_types,
    }


def render_queue(template: str, filters: QueueFilters, choices: dict):
    """One page of a case list (the queue or an inbox); a bad cursor starts over at page 1."""
    try:
        page = queue_page(
            current_user,
            filters,
            request.args.get("cursor") or None,
            limit=current_app.config["QUEUE_PAGE_SIZE"],
        )
    except DomainError as error:
        flash(error.message, "error")
        return redirect(url_for(request.endpoint or "auth.home"))
    user = current_user._get_current_object()  # once, not through the proxy for every row
    # The rows whose content (summary, contact) the user may see; the others show that they
    # are secret (access.sees_content, decided here once per row).
    content_ids = {case.id for case in page.items if access.sees_content(user, cast(Case, case))}
    return render_template(
        template,
        page=page,
        rows=queue_rows(page.items, content_ids),
        args=request.args,
        # The filters, and only them, for the list's own links (a query string's other keys
        # must not reach url_for, where "endpoint" or "_external" mean something else).
        list_args={k: v for k, v in request.args.items() if k in FILTER_KEYS and v},
        closures=upcoming_closures(),
        high_water=last_case_id() if page.high_water is None else page.high_water,
        **choices,
    )


def newer_json(filters: QueueFilters):
    """How many cases arrived in the list's filter since it was shown (``?efter=<id>``): the
    list's script polls it to say so, and to refresh the list while nobody is reading it."""
    raw = request.args.get("efter")
    after = 0 if raw == "0" else parse_id(raw)  # 0: the list was shown before any case
    if after is None:
        return jsonify({"error": {"code": "invalid", "message": "efter saknas."}}), 422
    return jsonify({"new": count_newer(current_user, filters, after), "after": after})
