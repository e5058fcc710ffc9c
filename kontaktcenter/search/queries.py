"""Search: a case by reference, people by identifier or name, cases by their words.

Every query is narrowed by :func:`kontaktcenter.cases.access.visible_clause` in SQL, and people
are shown to a handler only when they have a case the handler may see, so a search never
reveals another department's case, not even as a count (no totals are computed at all: the
hit list pages by keyset on (score, id), or (received, id) when there are no words).
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app

from kontaktcenter.cases import access
from kontaktcenter.cases.enums import CaseStatus
from kontaktcenter.cases.models import Case
from kontaktcenter.cases.queries import decode_keyset, encode_cursor
from kontaktcenter.core.extensions import db
from kontaktcenter.organisation.models import User
from kontaktcenter.search.bound import Conditions, among, once
from kontaktcenter.search.hits import Loader, Shape, loader
from kontaktcenter.search.models import SearchDocument
from kontaktcenter.search.newest import newest_ids, window_page
from kontaktcenter.search.parsing import Kind, Query
from kontaktcenter.search.people import (
    CONTACTS,
    NAME_CASES_FROM,
    ContactRow,
    by_identifier,
    by_name,
)
from kontaktcenter.search.recording import record_lookup, record_people_shown  # noqa: F401 (re-exported)
from kontaktcenter.search.results import (  # noqa: F401 (re-exported)
    CaseHit,
    CaseRow,
    ContactHit,
    ListedHit,
    RowHit,
    SearchFilters,
    SearchResult,
    decode_scored,
    parse_day,
)
from kontaktcenter.search.text import (
    query_stems,
)
from kontaktcenter.search.words import (
    TRY_NEWEST,
    document_content_visible,
    matching,
    pg_words,
    read_word_scores,
    word_scores,
)

PAGE = 20


def search(
    user: User,
    query: Query,
    filters: SearchFilters | None = None,
    cursor: str | None = None,
    limit: int = PAGE,
    *,
    shape: Shape = "cases",
) -> SearchResult:
    """The hits as ORM cases (`result.cases`), as plain rows (shape "rows", `result.rows`: a
    page that only shows them needs no ORM objects, issue #16) or as the API's case list reads
    its cases (shape "listed", `result.listed`)."""
    filters = filters or SearchFilters()
    result = SearchResult(query)
    load = loader(shape)
    if query.kind is Kind.REFERENCE:
        case = db.session.scalars(_BY_REFERENCE, {"reference": query.value}).first()
        if case is not None and access.can_view(user, case):
            result.case = case
            result.cases = [CaseHit(case, None)]
        return result
    if query.kind is Kind.EMPTY:
        if filters.any():
            _recent(result, user, filters, None, cursor, limit, load)
        return result
    if query.kind is Kind.TEXT:
        result.stems = query_stems(query.text)
        scored = by_name(user, query.text)
        result.contacts = [ContactHit(c, s) for c, s in scored[:CONTACTS]]
        if result.stems or scored:
            _ranked(result, user, filters, scored[:NAME_CASES_FROM], cursor, limit, load)
        return result
    found = by_identifier(user, query)
    result.looked_up = [c.id for c in found]
    result.contacts = [ContactHit(c) for c in found[:CONTACTS]]
    if found:
        _recent(result, user, filters, result.looked_up, cursor, limit, load)
    return result


# --- cases ------------------------------------------------------------------------------------


_BY_REFERENCE = sa.select(Case).where(Case.reference == sa.bindparam("reference", type_=sa.String))


def _filters(
    user: User, filters: SearchFilters, table: type[Case] | type[SearchDocument] = Case
) -> Conditions:
    """Who may see it and the filters, on the cases or on the search index's copy of them:
    the clauses once per shape (which filters are set, whose access), the values bound."""
    status = filters.status if filters.status in ("open", "closed") else None
    tz = ZoneInfo(current_app.config["TIMEZONE"])
    params: dict[str, Any] = {}
    if filters.channel is not None:
        params["filter_channel"] = filters.channel
    if filters.department_id is not None:
        params["filter_department"] = filters.department_id
    if filters.case_type_id is not None:
        params["filter_case_type"] = filters.case_type_id
    if filters.received_from is not None:
        params["filter_from"] = datetime.combine(filters.received_from, time(), tz)
    if filters.received_to is not None:
        end = filters.received_to + timedelta(days=1)
        params["filter_to"] = datetime.combine(end, time(), tz)
    key = ("filters", table.__name__, status, *sorted(params), *access.access_key(user))

    def build() -> tuple[sa.ColumnElement[bool], ...]:
        conds: list[sa.ColumnElement[bool]] = [access.visible_clause(user, table.department_id)]
        if status == "open":
            conds.append(table.status != CaseStatus.CLOSED)
        elif status == "closed":
            conds.append(table.status == CaseStatus.CLOSED)
        if "filter_channel" in params:
            conds.append(table.channel == sa.bindparam("filter_channel"))
        if "filter_department" in params:
            conds.append(table.department_id == sa.bindparam("filter_department"))
        if "filter_case_type" in params:
            conds.append(table.case_type_id == sa.bindparam("filter_case_type"))
        if "filter_from" in params:
            conds.append(table.received_at >= sa.bindparam("filter_from"))
        if "filter_to" in params:
            conds.append(table.received_at < sa.bindparam("filter_to"))
        return tuple(conds)

    return Conditions(key, once(key, build), params)


def _recent(
    result: SearchResult,
    user: User,
    filters: SearchFilters,
    contact_ids: list[int] | None,
    cursor: str | None,
    limit: int,
    load: Loader,
) -> None:
    """Cases newest first (of these people, or all): keyset on (received_at, id)."""
    conds = _filters(user, filters)
    if contact_ids is not None:
        # A person's cases: never their secret cases outside the user's departments.
        conds = conds.plus(
            ("of people",),
            lambda: [access.content_visible_clause(user), among(Case.contact_id, "contact_ids")],
            contact_ids=contact_ids,
        )
    if cursor:
        (received,), case_id = decode_keyset(cursor, 1)
        conds = conds.plus(
            ("after",),
            lambda: [
                sa.tuple_(Case.received_at, Case.id)
                < sa.tuple_(
                    sa.bindparam("after_received", type_=Case.received_at.type),
                    sa.bindparam("after_id", type_=sa.Integer),
                )
            ],
            after_received=received,
            after_id=case_id,
        )
    page = load(
        result,
        ("recent", *conds.key),
        lambda query: (
            query.where(*conds.clauses)
            .order_by(Case.received_at.desc(), Case.id.desc())
            .limit(sa.bindparam("page_limit", type_=sa.Integer))
        ),
        {**conds.params, "page_limit": limit + 1},
        None,
        limit,
    )
    if page is not None:
        received_at, case_id = page
        result.next_cursor = encode_cursor([received_at.isoformat(), case_id])


def _ranked(
    result: SearchResult,
    user: User,
    filters: SearchFilters,
    people: list[tuple[ContactRow, float]],
    cursor: str | None,
    limit: int,
    load: Loader,
) -> None:
    """Cases matching every word (as a prefix of its stem), and the cases of the people whose
    names match: best first while the words match at most SEARCH_RANK_LIMIT cases, newest
    first beyond that (ranking a tenth of a million cases costs more than an agent waits, and
    for so broad a query the newest are the likely ones; the page says so).

    Both go in two steps: the page's ids from the search index alone (its copy of the columns
    the filters and the access rule need), then the cases of that page only.
    """
    # Words never find a secret case outside its department, nor a person their secret case.
    base = _filters(user, filters, SearchDocument).plus(
        ("content visible",), lambda: [document_content_visible(user)]
    )
    word_conds = matching(base, result.stems) if result.stems else None
    person_conds = None
    if people:
        person_conds = _filters(user, filters).plus(
            ("of people",),
            lambda: [access.content_visible_clause(user), among(Case.contact_id, "contact_ids")],
            contact_ids=[c.id for c, _ in people],
        )
    marked = decode_scored(cursor) if cursor else None
    words = pg_words(result.stems, base)
    rows: list[tuple[int, float | None]] | None = None
    scores: dict[int, float] | None = {}
    if marked is not None and marked[0] < 0:
        scores = None  # a newest-first page's mark: go on newest first
    elif result.stems:
        answer = word_scores(result.stems, base, may_try_newest=not people)
        if answer == TRY_NEWEST:
            assert words is not None  # only PostgreSQL answers so
            rows = window_page(words, None, limit)
            if rows is None:  # not among the newest: rank them after all
                cap = current_app.config["SEARCH_RANK_LIMIT"]
                answer = read_word_scores(result.stems, base, cap)
                words = None  # and if they are too many, the window is not walked again
            else:
                answer = None
        assert not isinstance(answer, str)
        scores = answer
    broad = scores is None
    if rows is not None:
        pass  # the newest window's page
    elif scores is None:
        after = marked[1] if marked is not None else None
        rows = newest_ids(words, word_conds, person_conds, after, limit)
    else:
        rows = _best_ids(scores, person_conds, people, marked, limit)
    result.newest_first = broad
    ids = [case_id for case_id, _score in rows[:limit]]
    load(
        result,
        ("ids",),
        lambda query: query.where(among(Case.id, "ids")),
        {"ids": ids},
        dict(rows[:limit]),
        limit,
    )
    if len(rows) > limit:
        case_id, score = rows[limit - 1]
        result.next_cursor = encode_cursor([-1.0 if score is None else score, case_id])


def _best_ids(
    scores: dict[int, float],
    person_conds: Conditions | None,
    people: list[tuple[ContactRow, float]],
    marked: tuple[float, int] | None,
    limit: int,
) -> list[tuple[int, float | None]]:
    """Best first: the word scores and the cases of the people found (by how well their name
    matched), at most SEARCH_RANK_LIMIT and a few hundred, ordered and paged here."""
    merged = dict(scores)
    if person_conds is not None:
        similarity_of = {c.id: s for c, s in people}
        conds = person_conds
        statement = once(
            ("people's cases", *conds.key),
            lambda: sa.select(Case.id, Case.contact_id).where(*conds.clauses),
        )
        for case_id, contact_id in db.session.execute(statement, conds.params):
            score = similarity_of.get(contact_id, 0.0) if contact_id is not None else 0.0
            merged[case_id] = max(merged.get(case_id, 0.0), score)
    ordered = sorted(merged.items(), key=lambda item: (-item[1], -item[0]))
    if marked is not None:
        after, after_id = marked
        ordered = [(i, s) for i, s in ordered if s < after or (s == after and i < after_id)]
    return [(case_id, score) for case_id, score in ordered[: limit + 1]]
