"""The cases of a search, for ``/sok/export.zip``: the same query string as ``/sok``, the same
search (and so the same access and secrecy rules), up to ``case_export.MAX_CASES`` cases.

A personnummer never travels in a URL (the search page posts it), so a query holding one is
refused here too: export such a person's cases one by one, or through a register extract.
"""

from __future__ import annotations

from collections.abc import Mapping

from kontaktcenter.cases.enums import Channel
from kontaktcenter.cases.models import Case
from kontaktcenter.compliance.case_export import MAX_CASES
from kontaktcenter.core.errors import ValidationError
from kontaktcenter.core.forms import parse_id
from kontaktcenter.organisation.models import User
from kontaktcenter.search.parsing import Kind, parse
from kontaktcenter.search.queries import SearchFilters, parse_day, record_lookup, search

STATUSES = ("open", "closed")


def filters_from(args: Mapping[str, str]) -> SearchFilters:
    """The search page's filters; a malformed date is an error (not guessed, not dropped)."""
    filters = SearchFilters()
    if args.get("channel") in Channel._value2member_map_:
        filters.channel = Channel(args["channel"])
    if args.get("status") in STATUSES:
        filters.status = args["status"]
    filters.department_id = parse_id(args.get("department"))
    filters.case_type_id = parse_id(args.get("case_type"))
    for key in ("from", "to"):
        raw = (args.get(key) or "").strip()
        if raw:
            value = parse_day(raw, key)
            if key == "from":
                filters.received_from = value
            else:
                filters.received_to = value
    return filters


def cases_of_search(user: User, args: Mapping[str, str]) -> list[Case]:
    query = parse(args.get("q"))
    if query.sensitive:
        raise ValidationError(
            "En sökning på personnummer kan inte exporteras som sökresultat. "
            "Exportera ärendena ett i taget."
        )
    filters = filters_from(args)
    if query.kind is Kind.EMPTY and not filters.any():
        raise ValidationError("Sök eller välj ett filter först: då exporteras träffarna.")
    record_lookup(user, query)
    result = search(user, query, filters, None, MAX_CASES)
    return [hit.case for hit in result.cases]
