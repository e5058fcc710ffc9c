"""The search page (``/sok``) and the search field in every page's header.

The header field posts (with CSRF) so that a personnummer never appears in a URL, an access
log or the browser's history: a reference opens its case, a personnummer's hits are shown in
the answer to the POST itself, anything else is redirected to the linkable ``GET /sok?q=``.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.datastructures import MultiDict

from kontaktcenter.cases.enums import Channel
from kontaktcenter.core.auth import role_required
from kontaktcenter.core.errors import DomainError, ValidationError
from kontaktcenter.core.forms import parse_id
from kontaktcenter.core.roles import Role
from kontaktcenter.organisation import queries as organisation
from kontaktcenter.search.filter_form import STATUSES, filter_options
from kontaktcenter.search.hit_list import hit_items, person_items
from kontaktcenter.search.parsing import Query, parse
from kontaktcenter.search.queries import (
    SearchFilters,
    SearchResult,
    parse_day,
    record_lookup,
    record_people_shown,
    search,
)

bp = Blueprint("search", __name__, url_prefix="/sok")

ALL_ROLES = (Role.AGENT, Role.HANDLER, Role.MANAGER, Role.ADMIN)
FILTER_KEYS = ("channel", "status", "department", "case_type", "from", "to")


@bp.get("/")
@role_required(*ALL_ROLES)
def index():
    query = parse(request.args.get("q"))
    return _answer(query, request.args)


@bp.post("/")
@role_required(*ALL_ROLES)
def submit():
    query = parse(request.form.get("q"))
    if query.sensitive:
        return _answer(query, request.form)
    args: dict[str, Any] = {k: v for k, v in request.form.items() if k in FILTER_KEYS and v}
    return redirect(url_for("search.index", q=query.text or None, **args), code=303)


def _answer(query: Query, args: MultiDict[str, str]):
    filters, errors = filters_from(args)
    # The user itself, not Flask-Login's proxy: search reads it a few hundred times a page.
    user = current_user._get_current_object()
    try:
        # The hits as plain rows: the page shows them, nothing more (issue #16).
        result = search(user, query, filters, args.get("cursor") or None, shape="rows")
    except DomainError as error:
        errors.append(error.message)
        result = SearchResult(query)
    if result.case is not None:  # a reference the user may see opens its case, filters or not
        return redirect(url_for("cases.show", case_id=result.case.id), code=303)
    # The filters' lists from the process's cache: the active departments, every case type.
    names = organisation.names()
    departments = [d for d in names.departments if d.active]
    case_types = list(names.case_types)
    if user.role is Role.HANDLER:
        mine = user.department_ids
        departments = [d for d in departments if d.id in mine]
        case_types = [c for c in case_types if c.department_id in mine]
    status = 422 if errors else 200
    page = render_template(
        "search/results.html",
        result=result,
        query=query,
        filters=filters,
        errors=errors,
        args=args,
        # The next page's link repeats the query only when it may appear in a URL.
        page_args={
            **{k: args[k] for k in FILTER_KEYS if args.get(k)},
            **({} if query.sensitive else {"q": query.text}),
        },
        filter_options=filter_options(names, departments, case_types, filters),
        hit_items=hit_items(result.rows, user),
        person_items=person_items(result.contacts),
    )
    # Recorded once the page is built (the people shown are ORM objects, which a commit
    # expires): one INSERT and one commit each.
    record_lookup(user, query, result)
    record_people_shown(user, result)
    return page, status


def filters_from(args: MultiDict[str, str]) -> tuple[SearchFilters, list[str]]:
    """Unknown values of the lists are ignored; a malformed date is said, not guessed."""
    filters = SearchFilters()
    errors: list[str] = []
    if args.get("channel") in Channel._value2member_map_:
        filters.channel = Channel(args["channel"])
    if args.get("status") in STATUSES:
        filters.status = args["status"]
    filters.department_id = parse_id(args.get("department"))
    filters.case_type_id = parse_id(args.get("case_type"))
    for key, label in (("from", "Från"), ("to", "Till")):
        raw = (args.get(key) or "").strip()
        if not raw:
            continue
        try:
            value = parse_day(raw, key)
        except ValidationError as error:  # "Till: ange ett datum …", one line per field
            errors.append(f"{label}: {error.message[0].lower()}{error.message[1:]}")
            continue
        if key == "from":
            filters.received_from = value
        else:
            filters.received_to = value
    return filters, errors
