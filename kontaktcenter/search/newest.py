"""Newest first: the page of a query too broad to rank (more than SEARCH_RANK_LIMIT matches).

PostgreSQL estimates several words as if they were independent, so words that mostly occur
together ("gatan plogad", "bygglov altan") look rare: it gathers every match through the GIN
index and sorts them (13,500 documents, ~31 ms at 1M cases) where walking the documents
newest first would find a page in a few hundred. The words are first tried on the newest
WINDOW documents (the walk stops as soon as the page is full); only a query whose page is not
among them goes to the index. The search already knows such a query matches more than
SEARCH_RANK_LIMIT documents, so the window usually holds a page.

The statements are built once per shape (search/bound.py).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from kontaktcenter.cases.models import Case
from kontaktcenter.core.extensions import db
from kontaktcenter.search.bound import Conditions, merged, once, tsquery
from kontaktcenter.search.models import SearchDocument

WINDOW = 20_000  # documents read at most before the index decides (~15 ms when it must)

#: The documents' conditions without the words, carrying the words' query (parameter ``tsq``).
WordConditions = Conditions

_AFTER = "newest_before_id"
_LIMIT = "newest_limit"


def newest_ids(
    words: WordConditions | None,
    word_conds: Conditions | None,
    person_conds: Conditions | None,
    after: int | None,
    limit: int,
) -> list[tuple[int, float | None]]:
    """The page's case ids newest first (the primary key backwards, stopping at the page's
    end): the documents matching `word_conds` (when there are words) and the cases of the
    people found (`person_conds`, when there are any). `words` (PostgreSQL, words and no
    people): try the newest documents first."""
    if words is not None and person_conds is None:
        page = window_page(words, after, limit)
        if page is not None:
            return page
    has_after = after is not None
    key = (
        "newest",
        has_after,
        None if word_conds is None else word_conds.key,
        None if person_conds is None else person_conds.key,
    )
    statement = once(key, lambda: _newest(word_conds, person_conds, has_after))
    params = merged(
        *(conds.params for conds in (word_conds, person_conds) if conds is not None),
        {_AFTER: after, _LIMIT: limit + 1},  # the statement's own, never a condition's
    )
    return [(case_id, None) for case_id in db.session.scalars(statement, params)]


def _newest(
    word_conds: Conditions | None, person_conds: Conditions | None, has_after: bool
) -> sa.Select[Any]:
    after = sa.bindparam(_AFTER, type_=sa.Integer)
    limit = sa.bindparam(_LIMIT, type_=sa.Integer)
    parts: list[sa.Select[Any]] = []
    if word_conds is not None:
        query = sa.select(SearchDocument.case_id.label("case_id")).where(*word_conds.clauses)
        if has_after:
            query = query.where(SearchDocument.case_id < after)
        parts.append(query.order_by(SearchDocument.case_id.desc()).limit(limit))
    if person_conds is not None:
        query = sa.select(Case.id.label("case_id")).where(*person_conds.clauses)
        if has_after:
            query = query.where(Case.id < after)
        parts.append(query.order_by(Case.id.desc()).limit(limit))
    hits = sa.union(*(p.subquery().select() for p in parts)).subquery("hits")
    return sa.select(hits.c.case_id).order_by(hits.c.case_id.desc()).limit(limit)


def window_page(
    words: WordConditions, after: int | None, limit: int
) -> list[tuple[int, float | None]] | None:
    """The page (and one more, so the page knows it has a next) from the newest WINDOW
    documents, or None when fewer match there."""
    ids = _in_window(words, after, limit)
    return [(case_id, None) for case_id in ids] if len(ids) > limit else None


def _in_window(words: WordConditions, after: int | None, limit: int) -> list[int]:
    """The page among the newest WINDOW documents that pass the conditions: the words are
    matched outside the limited walk, so the planner cannot turn it into an index gather."""
    has_after = after is not None
    statement = once(("window", has_after, *words.key), lambda: _window(words, has_after))
    params = merged(words.params, {_AFTER: after, _LIMIT: limit + 1, "window": WINDOW})
    return list(db.session.scalars(statement, params))


def _window(words: WordConditions, has_after: bool) -> sa.Select[Any]:
    tsv = sa.literal_column("search_documents.tsv", sa.Text)  # not mapped: the index's column
    newest = sa.select(SearchDocument.case_id, tsv.label("tsv")).where(*words.clauses)
    if has_after:
        newest = newest.where(SearchDocument.case_id < sa.bindparam(_AFTER, type_=sa.Integer))
    walk = (
        newest.order_by(SearchDocument.case_id.desc())
        .limit(sa.bindparam("window", type_=sa.Integer))
        .subquery("newest")
    )
    return (
        sa.select(walk.c.case_id)
        .where(walk.c.tsv.op("@@")(tsquery()))
        .order_by(walk.c.case_id.desc())
        .limit(sa.bindparam(_LIMIT, type_=sa.Integer))
    )
