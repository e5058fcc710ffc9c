"""Search: a case by reference, people by identifier or name, cases by their words.

Every query is narrowed by :func:`kontaktcenter.cases.access.visible_clause` in SQL, and people
are shown to a handler only when they have a case the handler may see, so a search never
reveals another department's case, not even as a count (no totals are computed at all: the
hit list pages by keyset on (score, id), or (received, id) when there are no words).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import joinedload

from kontaktcenter.cases import access
from kontaktcenter.cases.enums import CaseStatus
from kontaktcenter.cases.models import Case, Contact, display_name
from kontaktcenter.cases.queries import decode_keyset, encode_cursor
from kontaktcenter.core.extensions import db
from kontaktcenter.core.identifiers import mask_personnummer
from kontaktcenter.organisation import queries as organisation
from kontaktcenter.organisation.models import CaseType, User
from kontaktcenter.search.bound import Conditions, among, once
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
    RowHit,
    SearchFilters,
    SearchResult,
    decode_scored,
    parse_day,
)
from kontaktcenter.search.text import (
    Fragment,
    query_stems,
    snippet,
)
from kontaktcenter.search.words import (
    TRY_NEWEST,
    document_content_visible,
    matching,
    pg_words,
    read_word_scores,
    word_scores,
)

S = TypeVar("S", bound=sa.Select)  # any select of cases

PAGE = 20


def search(
    user: User,
    query: Query,
    filters: SearchFilters | None = None,
    cursor: str | None = None,
    limit: int = PAGE,
    *,
    rows: bool = False,
) -> SearchResult:
    """The hits as ORM cases (`result.cases`) or, with `rows`, as plain rows (`result.rows`):
    a page that only shows them needs no ORM objects (issue #16)."""
    filters = filters or SearchFilters()
    result = SearchResult(query)
    load = _rows if rows else _cases
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


def _load(query: S) -> S:
    """What a hit shows (and the API's case summary): loaded with the page, not per case."""
    return query.options(
        joinedload(Case.contact),
        joinedload(Case.case_type),
        joinedload(Case.department),
        joinedload(Case.assignee),
    )


def _recent(
    result: SearchResult,
    user: User,
    filters: SearchFilters,
    contact_ids: list[int] | None,
    cursor: str | None,
    limit: int,
    load: _Loader,
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


_Query = Any  # a select of cases, with or without more columns
#: Loads the hits of a page into the result: (result, the key of the narrowing's shape, narrow
#: the select of cases (once per shape), its parameters, the scores of a ranked page in its
#: order or None for a newest-first keyset page, limit); returns the last hit's
#: (received_at, id) when a keyset page has more.
_Loader = Callable[
    [
        SearchResult,
        tuple[object, ...],
        Callable[[_Query], _Query],
        dict[str, Any],
        dict[int, float | None] | None,
        int,
    ],
    tuple[datetime, int] | None,
]


def _cases(
    result: SearchResult,
    key: tuple[object, ...],
    narrow: Callable[[_Query], _Query],
    params: dict[str, Any],
    ranked: dict[int, float | None] | None,
    limit: int,
) -> tuple[datetime, int] | None:
    """The hits as ORM cases with what a hit shows (and the API's case summary)."""
    if ranked is None:
        statement = once(("cases", *key), lambda: narrow(_load(sa.select(Case))))
        cases = db.session.scalars(statement, params).all()
        result.cases = [CaseHit(case, None) for case in cases[:limit]]
        if len(cases) > limit:
            return cases[limit - 1].received_at, cases[limit - 1].id
        return None
    statement = once(
        ("cases with body", *key),
        lambda: narrow(
            _load(sa.select(Case, SearchDocument.body)).outerjoin(
                SearchDocument, SearchDocument.case_id == Case.id
            )
        ),
    )
    loaded = {case.id: (case, body) for case, body in db.session.execute(statement, params)}
    for case_id, score in ranked.items():
        if case_id in loaded:  # else deleted since the first step
            case, body = loaded[case_id]
            result.cases.append(CaseHit(case, score, _fragments(result, body or case.summary)))
    return None


_ROW_COLUMNS = (
    Case.id,
    Case.reference,
    Case.channel,
    Case.status,
    Case.received_at,
    Case.summary,
    Case.department_id,
    Case.case_type_id,
    Case.secrecy_ground,
    # Read live, never from the names cache: a case type made secret applies at once everywhere.
    CaseType.secrecy_ground.label("type_secrecy_ground"),
    Contact.id.label("contact_id"),
    Contact.name.label("contact_name"),
    Contact.phone.label("contact_phone"),
    Contact.email.label("contact_email"),
)


# Built once; each page adds its WHERE, ORDER BY and LIMIT (issue #16).
_ROWS = (
    sa.select(*_ROW_COLUMNS)
    .outerjoin(Contact, Contact.id == Case.contact_id)
    .outerjoin(CaseType, CaseType.id == Case.case_type_id)
)
_ROWS_WITH_BODY = _ROWS.add_columns(SearchDocument.body).outerjoin(
    SearchDocument, SearchDocument.case_id == Case.id
)


def _rows(
    result: SearchResult,
    key: tuple[object, ...],
    narrow: Callable[[_Query], _Query],
    params: dict[str, Any],
    ranked: dict[int, float | None] | None,
    limit: int,
) -> tuple[datetime, int] | None:
    """The hits as plain rows: one select of columns, the names from the process's cache."""
    names = organisation.names()
    if ranked is None:
        statement = once(("rows", *key), lambda: narrow(_ROWS))
    else:
        statement = once(("rows with body", *key), lambda: narrow(_ROWS_WITH_BODY))
    found = db.session.execute(statement, params).all()

    def row_of(r: sa.Row[Any]) -> CaseRow:
        return CaseRow(
            id=r.id,
            reference=r.reference,
            channel=r.channel,
            status=r.status,
            received_at=r.received_at,
            summary=r.summary,
            department_id=r.department_id,
            secrecy_ground=r.secrecy_ground,
            type_secrecy_ground=r.type_secrecy_ground,
            case_type=names.case_type(r.case_type_id),
            department=names.department(r.department_id),
            contact_name=display_name(r.contact_name, r.contact_phone, r.contact_email)
            if r.contact_id is not None
            else None,
        )

    if ranked is None:
        result.rows = [RowHit(row_of(r), None) for r in found[:limit]]
        if len(found) > limit:
            return found[limit - 1].received_at, found[limit - 1].id
        return None
    by_id = {r.id: r for r in found}
    for case_id, score in ranked.items():
        if case_id in by_id:  # else deleted since the first step
            r = by_id[case_id]
            fragments = _fragments(result, r.body or r.summary)
            result.rows.append(RowHit(row_of(r), score, fragments))
    return None


def _fragments(result: SearchResult, text: str) -> list[Fragment]:
    # A hit list: a personnummer in the text is masked before the snippet is cut.
    return snippet(mask_personnummer(text), result.stems)


def _ranked(
    result: SearchResult,
    user: User,
    filters: SearchFilters,
    people: list[tuple[ContactRow, float]],
    cursor: str | None,
    limit: int,
    load: _Loader,
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
