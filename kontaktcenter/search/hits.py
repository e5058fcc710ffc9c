"""How a page's hits are read, once search has chosen them (split from search/queries.py).

A loader is given the select's narrowing (the page's WHERE, ORDER BY and LIMIT, built once per
shape) and fills the result in one of three forms: ORM cases (``cases``: what a caller that
acts on them needs), plain rows (``rows``: the search page), or the API list's rows
(``listed``: the API's case summaries, so its search reads each hit once, as its case list
does, issue #16).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Literal, TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from kontaktcenter.cases import arrivals
from kontaktcenter.cases.models import Case, Contact, display_name
from kontaktcenter.core.extensions import db
from kontaktcenter.core.identifiers import mask_personnummer
from kontaktcenter.organisation import queries as organisation
from kontaktcenter.organisation.models import CaseType
from kontaktcenter.search.bound import once
from kontaktcenter.search.models import SearchDocument
from kontaktcenter.search.results import CaseHit, CaseRow, ListedHit, RowHit, SearchResult
from kontaktcenter.search.text import Fragment, snippet

S = TypeVar("S", bound=sa.Select)  # any select of cases
Shape = Literal["cases", "rows", "listed"]

Query = Any  # a select of cases, with or without more columns
#: Loads the hits of a page into the result: (result, the key of the narrowing's shape, narrow
#: the select of cases (once per shape), its parameters, the scores of a ranked page in its
#: order or None for a newest-first keyset page, limit); returns the last hit's
#: (received_at, id) when a keyset page has more.
Loader = Callable[
    [
        SearchResult,
        tuple[object, ...],
        Callable[[Query], Query],
        dict[str, Any],
        dict[int, float | None] | None,
        int,
    ],
    tuple[datetime, int] | None,
]


def fragments(result: SearchResult, text: str) -> list[Fragment]:
    # A hit list: a personnummer in the text is masked before the snippet is cut.
    return snippet(mask_personnummer(text), result.stems)


def _load(query: S) -> S:
    """What a hit shows (and the API's case summary): loaded with the page, not per case."""
    return query.options(
        joinedload(Case.contact),
        joinedload(Case.case_type),
        joinedload(Case.department),
        joinedload(Case.assignee),
    )


def _cases(
    result: SearchResult,
    key: tuple[object, ...],
    narrow: Callable[[Query], Query],
    params: dict[str, Any],
    ranked: dict[int, float | None] | None,
    limit: int,
) -> tuple[datetime, int] | None:
    """The hits as ORM cases with what a hit shows."""
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
            result.cases.append(CaseHit(case, score, fragments(result, body or case.summary)))
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
    narrow: Callable[[Query], Query],
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

    result.rows, mark = _page(
        result, found, ranked, limit, lambda r, score, parts: RowHit(row_of(r), score, parts)
    )
    return mark


H = TypeVar("H")


def _page(
    result: SearchResult,
    found: Sequence[Any],
    ranked: dict[int, float | None] | None,
    limit: int,
    hit: Callable[[Any, float | None, list[Fragment]], H],
) -> tuple[list[H], tuple[datetime, int] | None]:
    """The hits of a page from its rows: newest first, with the keyset mark of the last hit
    when there are more (`ranked` None; `found` holds one row more than the page), or in the
    ranked order with their snippets (a case deleted since it was ranked is left out)."""
    if ranked is None:
        hits = [hit(r, None, []) for r in found[:limit]]
        if len(found) > limit:
            return hits, (found[limit - 1].received_at, found[limit - 1].id)
        return hits, None
    by_id = {r.id: r for r in found}
    hits = []
    for case_id, score in ranked.items():
        r = by_id.get(case_id)
        if r is not None:
            hits.append(hit(r, score, fragments(result, r.body or r.summary)))
    return hits, None


_LISTED_WITH_BODY = arrivals.LISTED_SELECT.add_columns(SearchDocument.body).outerjoin(
    SearchDocument, SearchDocument.case_id == Case.id
)


def _listed(
    result: SearchResult,
    key: tuple[object, ...],
    narrow: Callable[[Query], Query],
    params: dict[str, Any],
    ranked: dict[int, float | None] | None,
    limit: int,
) -> tuple[datetime, int] | None:
    """The hits as the API's case list reads its cases (``arrivals.ListedCase``): the caller
    adds their goals as the list does, and no hit is read twice."""
    if ranked is None:
        statement = once(("listed", *key), lambda: narrow(arrivals.LISTED_SELECT))
    else:
        statement = once(("listed with body", *key), lambda: narrow(_LISTED_WITH_BODY))
    found = db.session.execute(statement, params).all()
    result.listed, mark = _page(
        result,
        found,
        ranked,
        limit,
        lambda r, score, parts: ListedHit(arrivals.ListedCase(r), score, parts),
    )
    return mark


LOADERS: dict[Shape, Loader] = {"cases": _cases, "rows": _rows, "listed": _listed}


def loader(shape: Shape) -> Loader:
    return LOADERS[shape]
