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
    pg_words,
    read_word_scores,
    word_match,
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
        case = db.session.scalars(sa.select(Case).where(Case.reference == query.value)).first()
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


def _dialect() -> str:
    return db.session.get_bind().dialect.name


def _among(column: Any, ids: list[int]) -> sa.ColumnElement[bool]:
    """`column` is one of `ids`. On PostgreSQL ``= ANY(:ids)``: one array parameter, so the
    statement's text is the same for any number of ids and psycopg can keep it parsed and
    prepared (an expanding IN renders one parameter per id: a new statement for each count).
    """
    if _dialect() == "postgresql":
        return column == sa.any_(sa.literal(list(ids), _INT_ARRAY))
    return column.in_(ids)


_INT_ARRAY = sa.ARRAY(sa.Integer())


def _filters(
    user: User, filters: SearchFilters, table: type[Case] | type[SearchDocument] = Case
) -> list[sa.ColumnElement[bool]]:
    """Who may see it and the filters, on the cases or on the search index's copy of them."""
    conds: list[sa.ColumnElement[bool]] = [access.visible_clause(user, table.department_id)]
    if filters.status == "open":
        conds.append(table.status != CaseStatus.CLOSED)
    elif filters.status == "closed":
        conds.append(table.status == CaseStatus.CLOSED)
    if filters.channel is not None:
        conds.append(table.channel == filters.channel)
    if filters.department_id is not None:
        conds.append(table.department_id == filters.department_id)
    if filters.case_type_id is not None:
        conds.append(table.case_type_id == filters.case_type_id)
    tz = ZoneInfo(current_app.config["TIMEZONE"])
    if filters.received_from is not None:
        conds.append(table.received_at >= datetime.combine(filters.received_from, time(), tz))
    if filters.received_to is not None:
        end = filters.received_to + timedelta(days=1)
        conds.append(table.received_at < datetime.combine(end, time(), tz))
    return conds


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
        conds.append(access.content_visible_clause(user))
        conds.append(_among(Case.contact_id, contact_ids))
    if cursor:
        (received,), case_id = decode_keyset(cursor, 1)
        conds.append(sa.tuple_(Case.received_at, Case.id) < sa.tuple_(received, case_id))
    page = load(
        result,
        lambda query: (
            query.where(*conds).order_by(Case.received_at.desc(), Case.id.desc()).limit(limit + 1)
        ),
        None,
        limit,
    )
    if page is not None:
        received_at, case_id = page
        result.next_cursor = encode_cursor([received_at.isoformat(), case_id])


_Query = Any  # a select of cases, with or without more columns
#: Loads the hits of a page into the result: (result, narrow the select of cases, the scores
#: of a ranked page in its order or None for a newest-first keyset page, limit); returns the
#: last hit's (received_at, id) when a keyset page has more.
_Loader = Callable[
    [SearchResult, Callable[[_Query], _Query], dict[int, float | None] | None, int],
    tuple[datetime, int] | None,
]


def _cases(
    result: SearchResult,
    narrow: Callable[[_Query], _Query],
    ranked: dict[int, float | None] | None,
    limit: int,
) -> tuple[datetime, int] | None:
    """The hits as ORM cases with what a hit shows (and the API's case summary)."""
    if ranked is None:
        cases = db.session.scalars(narrow(_load(sa.select(Case)))).all()
        result.cases = [CaseHit(case, None) for case in cases[:limit]]
        if len(cases) > limit:
            return cases[limit - 1].received_at, cases[limit - 1].id
        return None
    loaded = {
        case.id: (case, body)
        for case, body in db.session.execute(
            narrow(
                _load(sa.select(Case, SearchDocument.body)).outerjoin(
                    SearchDocument, SearchDocument.case_id == Case.id
                )
            )
        )
    }
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
    narrow: Callable[[_Query], _Query],
    ranked: dict[int, float | None] | None,
    limit: int,
) -> tuple[datetime, int] | None:
    """The hits as plain rows: one select of columns, the names from the process's cache."""
    names = organisation.names()
    found = db.session.execute(narrow(_ROWS if ranked is None else _ROWS_WITH_BODY)).all()

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
    word_conds = _filters(user, filters, SearchDocument)
    # Words never find a secret case outside its department, nor a person their secret case.
    word_conds.append(document_content_visible(user))
    if result.stems:
        word_conds.append(word_match(result.stems))
    person_conds = _filters(user, filters)
    person_conds.append(access.content_visible_clause(user))
    person_conds.append(_among(Case.contact_id, [c.id for c, _ in people]))
    marked = decode_scored(cursor) if cursor else None
    words = pg_words(result.stems, word_conds)
    rows: list[tuple[int, float | None]] | None = None
    scores: dict[int, float] | None = {}
    if marked is not None and marked[0] < 0:
        scores = None  # a newest-first page's mark: go on newest first
    elif result.stems:
        answer = word_scores(result.stems, word_conds, may_try_newest=not people)
        if answer == TRY_NEWEST:
            assert words is not None  # only PostgreSQL answers so
            rows = window_page(words, None, limit)
            if rows is None:  # not among the newest: rank them after all
                cap = current_app.config["SEARCH_RANK_LIMIT"]
                answer = read_word_scores(result.stems, word_conds, cap)
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
        rows = newest_ids(
            words, word_conds if result.stems else [], person_conds, bool(people), after, limit
        )
    else:
        rows = _best_ids(scores, person_conds, people, marked, limit)
    result.newest_first = broad
    ids = [case_id for case_id, _score in rows[:limit]]
    load(result, lambda query: query.where(_among(Case.id, ids)), dict(rows[:limit]), limit)
    if len(rows) > limit:
        case_id, score = rows[limit - 1]
        result.next_cursor = encode_cursor([-1.0 if score is None else score, case_id])


def _best_ids(
    scores: dict[int, float],
    person_conds: list[sa.ColumnElement[bool]],
    people: list[tuple[ContactRow, float]],
    marked: tuple[float, int] | None,
    limit: int,
) -> list[tuple[int, float | None]]:
    """Best first: the word scores and the cases of the people found (by how well their name
    matched), at most SEARCH_RANK_LIMIT and a few hundred, ordered and paged here."""
    merged = dict(scores)
    if people:
        similarity_of = {c.id: s for c, s in people}
        for case_id, contact_id in db.session.execute(
            sa.select(Case.id, Case.contact_id).where(*person_conds)
        ):
            score = similarity_of.get(contact_id, 0.0) if contact_id is not None else 0.0
            merged[case_id] = max(merged.get(case_id, 0.0), score)
    ordered = sorted(merged.items(), key=lambda item: (-item[1], -item[0]))
    if marked is not None:
        after, after_id = marked
        ordered = [(i, s) for i, s in ordered if s < after or (s == after and i < after_id)]
    return [(case_id, score) for case_id, score in ordered[: limit + 1]]
