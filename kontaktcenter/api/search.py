"""Search through the API: the same rules as the search page (``/sok``).

``GET /api/v1/search?q=`` for references, phone numbers, e-mail addresses, organisation
numbers, names and words. A personnummer belongs in the body of ``POST /api/v1/search``, so it
stays out of URLs and access logs; it is accepted in the query string too, for clients that
cannot send a body, but the documentation says why not to.
"""

from __future__ import annotations

from typing import Any, cast

from flask import current_app
from flask.typing import ResponseReturnValue

from kontaktcenter.api.auth import api_user
from kontaktcenter.api.blueprint import bp
from kontaktcenter.api.cases import has_running_goal, load_goals
from kontaktcenter.api.parsing import Fields, Query, json_object
from kontaktcenter.api.serializers import case_json, contact_json, listed_case_json
from kontaktcenter.cases import access, arrivals
from kontaktcenter.cases.enums import Channel
from kontaktcenter.cases.models import Case, Contact
from kontaktcenter.core.errors import ValidationError
from kontaktcenter.organisation import queries as organisation
from kontaktcenter.organisation.models import CaseType, Department, User
from kontaktcenter.search.parsing import MAX_QUERY, Kind, parse
from kontaktcenter.search.queries import (
    ListedHit,
    SearchFilters,
    SearchResult,
    parse_day,
    record_lookup,
    record_people_shown,
    search,
)

MAX_LIMIT = 100
STATUSES = ("open", "closed")
PARAMETERS = ("q", "channel", "status", "department", "case_type", "from", "to", "limit", "cursor")


@bp.get("/search")
def search_get() -> ResponseReturnValue:
    query = Query(set(PARAMETERS))
    values: dict[str, Any] = {
        name: query.text(name, MAX_QUERY if name == "q" else 200)
        for name in PARAMETERS
        if name != "limit"
    }
    limit = query.integer("limit", current_app.config["API_PAGE_SIZE"], 1, MAX_LIMIT)
    return _search(values, limit)


@bp.post("/search")
def search_post() -> ResponseReturnValue:
    fields = Fields(json_object())
    values: dict[str, Any] = {"q": fields.text("q", MAX_QUERY)}
    for name in PARAMETERS[1:]:
        if name != "limit":
            values[name] = fields.text(name, 200)
    limit = fields.integer("limit", 1, MAX_LIMIT) or current_app.config["API_PAGE_SIZE"]
    fields.finish()
    return _search(values, limit)


def _search(values: dict[str, Any], limit: int) -> ResponseReturnValue:
    user = api_user()
    filters = SearchFilters()
    if values.get("channel"):
        if values["channel"] not in Channel._value2member_map_:
            raise ValidationError("Okänd kanal.", "channel")
        filters.channel = Channel(values["channel"])
    if values.get("status"):
        if values["status"] not in STATUSES:
            raise ValidationError("Ange open eller closed.", "status")
        filters.status = values["status"]
    if values.get("department"):
        filters.department_id = organisation.id_for_slug(
            Department, values["department"], "department"
        )
    if values.get("case_type"):
        filters.case_type_id = organisation.id_for_slug(CaseType, values["case_type"], "case_type")
    for name in ("from", "to"):
        if values.get(name):
            day = parse_day(values[name], name)
            if name == "from":
                filters.received_from = day
            else:
                filters.received_to = day
    query = parse(values.get("q"))
    cursor = values.get("cursor") or None
    result = search(user, query, filters, cursor, limit=limit, shape="listed")
    answer = _json(result, user)
    # After the answer is built: the commit would expire its ORM objects.
    record_lookup(user, query, result)
    record_people_shown(user, result)
    return answer


def _json(result: SearchResult, user: User) -> dict[str, Any]:
    """The hits' summaries as the case list makes them: the hits read as the list's rows
    (search's shape "listed"), their goals and (for a running goal's pauses) their status
    history each loaded for all hits at once (#16: ORM cases with every timeline entry cost two
    thirds of a search by name)."""
    query = result.query
    hits: list[ListedHit] = result.listed
    if result.case is not None:  # a reference: the one case it opens, as the list shows it
        listed = arrivals.listed_by_ids([result.case.id])
        hits = [ListedHit(listed[case_id], None) for case_id in listed]
    cases = [hit.case for hit in hits]
    load_goals(cases)
    arrivals.load_pause_history([case for case in cases if has_running_goal(case)])
    return {
        "query": {"kind": query.kind.value, "text": query.masked},
        "order": "relevance" if query.kind is Kind.TEXT and not result.newest_first else "newest",
        "case": case_json(result.case, timeline=False, viewer=user) if result.case else None,
        "contacts": [
            # A ContactRow has every attribute contact_json reads of a Contact.
            {"contact": contact_json(cast(Contact, hit.contact)), "similarity": hit.similarity}
            for hit in result.contacts
        ],
        "items": [
            {
                "case": listed_case_json(hit.case, user),
                "score": hit.score,
                "snippet": [{"text": f.text, "match": f.match} for f in hit.fragments]
                # A listed case offers what sees_content reads (department_id, is_secret).
                if access.sees_content(user, cast(Case, hit.case))
                else [],
            }
            for hit in hits
        ],
        "next": result.next_cursor,
    }
