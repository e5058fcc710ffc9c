"""Words in search: matching them in the index, ranking them, and deciding from PostgreSQL's
statistics whether they are too many to rank (split from search/queries.py)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import current_app

from kontaktcenter.cases import access
from kontaktcenter.core.extensions import db
from kontaktcenter.organisation.models import User
from kontaktcenter.search.explain import estimated_rows as _estimated_rows
from kontaktcenter.search.explain import estimated_rows_each as _estimated_rows_each
from kontaktcenter.search.models import SearchDocument
from kontaktcenter.search.newest import WordConditions


def _dialect() -> str:
    return db.session.get_bind().dialect.name


#: `word_scores`' answer for words that may go together: try the newest documents first.
TRY_NEWEST = "try newest"


def pg_words(stems: list[str], word_conds: list[sa.ColumnElement[bool]]) -> WordConditions | None:
    """PostgreSQL: the words' conditions for a walk of the newest documents (newest.py)."""
    if not stems or _dialect() != "postgresql":
        return None
    query = tsquery(stems)
    return (word_conds[:-1], lambda tsv: tsv.op("@@")(query))  # word_conds end with the match


def word_scores(
    stems: list[str], word_conds: list[sa.ColumnElement[bool]], *, may_try_newest: bool = False
) -> dict[int, float] | None | str:
    """Each matching case's relevance, or None when more than SEARCH_RANK_LIMIT match: one
    statement that stops reading the index after the limit. With `may_try_newest`, words that
    each match more than the limit (PostgreSQL) answer TRY_NEWEST instead: the planner takes
    words as independent, so two that mostly occur together look rare, and ranking them
    gathers thousands of matches through the index (~30-50 ms at 1M cases) to learn they are
    too many (bench/README.md, Search)."""
    cap = current_app.config["SEARCH_RANK_LIMIT"]
    if _dialect() == "postgresql":
        estimate = _estimated_rows(word_hits(stems, word_conds))
        if estimate > cap and not _unknown_word(stems, word_conds, estimate, cap):
            return None  # broad by the planner's statistics: no need to read the rows to know
        if may_try_newest and len(stems) > 1 and _each_word_broad(stems, word_conds, cap):
            return TRY_NEWEST
    return read_word_scores(stems, word_conds, cap)


def read_word_scores(
    stems: list[str], word_conds: list[sa.ColumnElement[bool]], cap: int
) -> dict[int, float] | None:
    rows = db.session.execute(word_hits(stems, word_conds).limit(cap + 1)).all()
    if len(rows) > cap:
        return None
    return {case_id: float(score) for case_id, score in rows}


def _each_word_broad(stems: list[str], word_conds: list[sa.ColumnElement[bool]], cap: int) -> bool:
    """Does every word alone match more than `cap` documents, by the planner's statistics
    (one EXPLAIN for them all)? Then the words together may well too."""
    conds = word_conds[:-1]  # word_conds end with the match of all the words
    singles = []
    for term, prefix in _terms(stems):
        single = sa.func.to_tsquery("simple", _tsquery_term(term, prefix))
        tsv: sa.ColumnClause[Any] = sa.literal_column("search_documents.tsv")
        singles.append(sa.select(SearchDocument.case_id).where(*conds, tsv.op("@@")(single)))
    estimates = _estimated_rows_each(singles)
    return estimates is not None and min(estimates) > cap


_NO_SUCH_WORD = "qxzqxzqxzq0"


def _unknown_word(
    stems: list[str], word_conds: list[sa.ColumnElement[bool]], estimate: float, cap: int
) -> bool:
    """Is `estimate` that of one word the planner's statistics do not know (rare, misspelt)?
    PostgreSQL gives every such word the same share of the table (1,200 of a million rows),
    and listing a rare word newest first reads every document backwards (0.4-2 s at 1M)."""
    if len(stems) != 1 or estimate > cap * 10:
        return False
    conds = [*word_conds[:-1], word_match([_NO_SUCH_WORD])]  # word_conds end with the match
    return _estimated_rows(word_hits([_NO_SUCH_WORD], conds)) >= estimate


def document_content_visible(user: User) -> sa.ColumnElement[bool]:
    """The search index's copy of access.content_visible_clause (built once per departments)."""
    ids = tuple(sorted(user.department_ids))
    return access.built(
        ("document_content_visible", ids),
        lambda: sa.or_(
            SearchDocument.secret.is_(False),
            SearchDocument.department_id.is_(None),
            SearchDocument.department_id.in_(ids) if ids else sa.false(),
        ),
    )


def word_match(stems: list[str]) -> sa.ColumnElement[bool]:
    """The document has every stem (as a prefix). Stems are letters and digits only
    (text.words), so they cannot carry query syntax."""
    if _dialect() == "postgresql":
        tsv: sa.ColumnClause[Any] = sa.literal_column("search_documents.tsv")
        return tsv.op("@@")(tsquery(stems))
    fts: sa.ColumnClause[Any] = sa.literal_column("search_fts")
    matching: sa.Select[Any] = (
        sa.select(sa.literal_column("rowid"))
        .select_from(sa.table("search_fts"))
        .where(fts.op("MATCH")(_fts_query(stems)))
    )
    return SearchDocument.case_id.in_(matching)


def _terms(stems: list[str]) -> list[tuple[str, bool]]:
    """Each stem, and whether it matches as a prefix: the last one only (the word being typed,
    or a compound's first part: "bygglov" finds "bygglovsansökan"). A prefix on a common word
    makes PostgreSQL's GIN index gather every case with it (half a million for "fråga")
    before it can combine the words; exact stems it can skip through."""
    return [(s, i == len(stems) - 1) for i, s in enumerate(stems)]


def _tsquery_term(stem: str, prefix: bool) -> str:
    return f"{stem}:*" if prefix else stem


def tsquery(stems: list[str]) -> sa.ColumnElement[Any]:
    text = " & ".join(_tsquery_term(s, prefix) for s, prefix in _terms(stems))
    return sa.func.to_tsquery("simple", text)


def _fts_query(stems: list[str]) -> str:
    return " AND ".join(f'"{s}"*' if prefix else f'"{s}"' for s, prefix in _terms(stems))


def word_hits(stems: list[str], conds: list[sa.ColumnElement[bool]]) -> sa.Select[Any]:
    """The matching documents with their relevance (`conds` include the match)."""
    if _dialect() == "postgresql":
        tsv: sa.ColumnClause[Any] = sa.literal_column("search_documents.tsv")
        return sa.select(
            SearchDocument.case_id.label("case_id"),
            sa.cast(sa.func.ts_rank(tsv, tsquery(stems)), sa.Float).label("score"),
        ).where(*conds)
    fts: sa.ColumnClause[Any] = sa.literal_column("search_fts")
    # bm25() works only in the FTS query itself: a materialized CTE keeps SQLite from
    # flattening it into the grouping around it.
    ranked = (
        sa.select(
            sa.literal_column("rowid").label("case_id"),
            sa.cast(-sa.func.bm25(fts), sa.Float).label("score"),
        )
        .select_from(sa.table("search_fts"))
        .where(fts.op("MATCH")(_fts_query(stems)))
        .cte("word_hits")
        .prefix_with("MATERIALIZED")
    )
    return (
        sa.select(ranked.c.case_id, ranked.c.score)
        .join(SearchDocument, SearchDocument.case_id == ranked.c.case_id)
        .where(*conds)
    )
