"""Newest first: the page of a query too broad to rank (more than SEARCH_RANK_LIMIT matches).

PostgreSQL estimates several words as if they were independent, so words that mostly occur
together ("gatan plogad", "bygglov altan") look rare: it gathers every match through the GIN
index and sorts them (13,500 documents, ~31 ms at 1M cases) where walking the documents
newest first would find a page in a few hundred. The words are first tried on the newest
WINDOW documents (the walk stops as soon as the page is full); only a query whose page is not
among them goes to the index. The search already knows such a query matches more than
SEARCH_RANK_LIMIT documents, so the window usually holds a page.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from kontaktcenter.cases.models import Case
from kontaktcenter.core.extensions import db
from kontaktcenter.search.models import SearchDocument

WINDOW = 20_000  # documents read at most before the index decides (~15 ms when it must)

# (document conditions without the words, the words' match on a tsvector column)
WordConditions = tuple[list[sa.ColumnElement[bool]], Callable[[Any], sa.ColumnElement[bool]]]


def newest_ids(
    words: WordConditions | None,
    word_conds: list[sa.ColumnElement[bool]],
    person_conds: list[sa.ColumnElement[bool]],
    has_people: bool,
    after: int | None,
    limit: int,
) -> list[tuple[int, float | None]]:
    """The page's case ids newest first (the primary key backwards, stopping at the page's
    end): the documents matching `word_conds` (when there are words) and the cases of the
    people found (`person_conds`). `words` (PostgreSQL, words and no people): try the newest
    documents first."""
    if words is not None and not has_people:
        page = window_page(words, after, limit)
        if page is not None:
            return page
    parts: list[sa.Select[Any]] = []
    if word_conds:
        query = sa.select(SearchDocument.case_id.label("case_id")).where(*word_conds)
        if after is not None:
            query = query.where(SearchDocument.case_id < after)
        parts.append(query.order_by(SearchDocument.case_id.desc()).limit(limit + 1))
    if has_people:
        query = sa.select(Case.id.label("case_id")).where(*person_conds)
        if after is not None:
            query = query.where(Case.id < after)
        parts.append(query.order_by(Case.id.desc()).limit(limit + 1))
    hits = sa.union(*(p.subquery().select() for p in parts)).subquery("hits")
    rows = db.session.scalars(
        sa.select(hits.c.case_id).order_by(hits.c.case_id.desc()).limit(limit + 1)
    )
    return [(case_id, None) for case_id in rows]


def window_page(
    words: WordConditions, after: int | None, limit: int
) -> list[tuple[int, float | None]] | None:
    """The page (and one more, so the page knows it has a next) from the newest WINDOW
    documents, or None when fewer match there."""
    ids = _in_window(*words, after, limit)
    return [(case_id, None) for case_id in ids] if len(ids) > limit else None


def _in_window(
    conds: list[sa.ColumnElement[bool]],
    match: Callable[[Any], sa.ColumnElement[bool]],
    after: int | None,
    limit: int,
) -> list[int]:
    """The page among the newest WINDOW documents that pass `conds`: the words are matched
    outside the limited walk, so the planner cannot turn it into an index gather."""
    tsv = sa.literal_column("search_documents.tsv", sa.Text)  # not mapped: the index's column
    newest = sa.select(SearchDocument.case_id, tsv.label("tsv")).where(*conds)
    if after is not None:
        newest = newest.where(SearchDocument.case_id < after)
    walk = newest.order_by(SearchDocument.case_id.desc()).limit(WINDOW).subquery("newest")
    return list(
        db.session.scalars(
            sa.select(walk.c.case_id)
            .where(match(walk.c.tsv))
            .order_by(walk.c.case_id.desc())
            .limit(limit + 1)
        )
    )
