"""Words in search: matching them in the index, ranking them, and deciding from PostgreSQL's
statistics whether they are too many to rank (split from search/queries.py)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import current_app

from kontaktcenter.cases import access
from kontaktcenter.core.extensions import db
from kontaktcenter.organisation.models import User
from kontaktcenter.search.bound import Conditions, dialect, once, tsquery
from kontaktcenter.search.explain import Explain as _Explain
from kontaktcenter.search.explain import estimated_rows as _estimated_rows
from kontaktcenter.search.explain import estimated_rows_each as _estimated_rows_each
from kontaktcenter.search.models import SearchDocument
from kontaktcenter.search.newest import WordConditions

#: `word_scores`' answer for words that may go together: try the newest documents first.
TRY_NEWEST = "try newest"


def matching(base: Conditions, stems: list[str]) -> Conditions:
    """`base` and: the document has every stem (as a prefix). Stems are letters and digits
    only (text.words), so they cannot carry query syntax; they are bound, never spliced."""
    return base.plus(("match",), lambda: [_word_match()], **_match_params(stems))


def pg_words(stems: list[str], base: Conditions) -> WordConditions | None:
    """PostgreSQL: the words' conditions for a walk of the newest documents (newest.py):
    `base` (without the match), carrying the words' query as parameter ``tsq``."""
    if not stems or dialect() != "postgresql":
        return None
    return Conditions(base.key, base.clauses, {**base.params, **_match_params(stems)})


def word_scores(
    stems: list[str], base: Conditions, *, may_try_newest: bool = False
) -> dict[int, float] | None | str:
    """Each matching case's relevance, or None when more than SEARCH_RANK_LIMIT match: one
    statement that stops reading the index after the limit. With `may_try_newest`, words that
    each match more than the limit (PostgreSQL) answer TRY_NEWEST instead: the planner takes
    words as independent, so two that mostly occur together look rare, and ranking them
    gathers thousands of matches through the index (~30-50 ms at 1M cases) to learn they are
    too many (bench/README.md, Search). `base`: the conditions without the words."""
    cap = current_app.config["SEARCH_RANK_LIMIT"]
    conds = matching(base, stems)
    if dialect() == "postgresql":
        estimate = _estimated_rows(_explained_hits(conds), conds.params)
        if estimate > cap and not _unknown_word(stems, base, estimate, cap):
            return None  # broad by the planner's statistics: no need to read the rows to know
        if may_try_newest and len(stems) > 1 and _each_word_broad(stems, base, cap):
            return TRY_NEWEST
    return read_word_scores(stems, base, cap)


def read_word_scores(stems: list[str], base: Conditions, cap: int) -> dict[int, float] | None:
    conds = matching(base, stems)
    ranked = once(
        ("ranked", *conds.key),
        lambda: word_hits(conds).limit(sa.bindparam("rank_limit", type_=sa.Integer)),
    )
    rows = db.session.execute(ranked, {**conds.params, "rank_limit": cap + 1}).all()
    if len(rows) > cap:
        return None
    return {case_id: float(score) for case_id, score in rows}


def _explained_hits(conds: Conditions) -> Any:
    return once(("explained", *conds.key), lambda: _Explain(word_hits(conds)))


def _each_word_broad(stems: list[str], base: Conditions, cap: int) -> bool:
    """Does every word alone match more than `cap` documents, by the planner's statistics
    (one EXPLAIN for them all)? Then the words together may well too."""
    terms = _terms(stems)

    def build() -> Any:
        tsv: sa.ColumnClause[Any] = sa.literal_column("search_documents.tsv")
        singles = [
            sa.select(SearchDocument.case_id).where(
                *base.clauses,
                tsv.op("@@")(
                    sa.func.to_tsquery("simple", sa.bindparam(f"term_{i}", type_=sa.String))
                ),
            )
            for i in range(len(terms))
        ]
        return _Explain(sa.union_all(*singles))

    explained = once(("each word", len(terms), *base.key), build)
    params = {f"term_{i}": _tsquery_term(t, prefix) for i, (t, prefix) in enumerate(terms)}
    estimates = _estimated_rows_each(explained, len(terms), {**base.params, **params})
    return estimates is not None and min(estimates) > cap


_NO_SUCH_WORD = "qxzqxzqxzq0"


def _unknown_word(stems: list[str], base: Conditions, estimate: float, cap: int) -> bool:
    """Is `estimate` that of one word the planner's statistics do not know (rare, misspelt)?
    PostgreSQL gives every such word the same share of the table (1,200 of a million rows),
    and listing a rare word newest first reads every document backwards (0.4-2 s at 1M)."""
    if len(stems) != 1 or estimate > cap * 10:
        return False
    conds = matching(base, [_NO_SUCH_WORD])
    return _estimated_rows(_explained_hits(conds), conds.params) >= estimate


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


def _word_match() -> sa.ColumnElement[bool]:
    """The match of :func:`matching`, with its query as a bind parameter."""
    if dialect() == "postgresql":
        tsv: sa.ColumnClause[Any] = sa.literal_column("search_documents.tsv")
        return tsv.op("@@")(tsquery())
    fts: sa.ColumnClause[Any] = sa.literal_column("search_fts")
    matching: sa.Select[Any] = (
        sa.select(sa.literal_column("rowid"))
        .select_from(sa.table("search_fts"))
        .where(fts.op("MATCH")(sa.bindparam("fts", type_=sa.String)))
    )
    return SearchDocument.case_id.in_(matching)


def _match_params(stems: list[str]) -> dict[str, str]:
    if dialect() == "postgresql":
        return {"tsq": " & ".join(_tsquery_term(s, prefix) for s, prefix in _terms(stems))}
    return {"fts": " AND ".join(f'"{s}"*' if prefix else f'"{s}"' for s, prefix in _terms(stems))}


def _terms(stems: list[str]) -> list[tuple[str, bool]]:
    """Each stem, and whether it matches as a prefix: the last one only (the word being typed,
    or a compound's first part: "bygglov" finds "bygglovsansökan"). A prefix on a common word
    makes PostgreSQL's GIN index gather every case with it (half a million for "fråga")
    before it can combine the words; exact stems it can skip through."""
    return [(s, i == len(stems) - 1) for i, s in enumerate(stems)]


def _tsquery_term(stem: str, prefix: bool) -> str:
    return f"{stem}:*" if prefix else stem


def word_hits(conds: Conditions) -> sa.Select[Any]:
    """The matching documents with their relevance (`conds`, from :func:`matching`, include
    the match). Built once per shape of `conds`."""
    return once(("word hits", *conds.key), lambda: _word_hits(conds.clauses))


def _word_hits(clauses: tuple[sa.ColumnElement[bool], ...]) -> sa.Select[Any]:
    if dialect() == "postgresql":
        tsv: sa.ColumnClause[Any] = sa.literal_column("search_documents.tsv")
        return sa.select(
            SearchDocument.case_id.label("case_id"),
            sa.cast(sa.func.ts_rank(tsv, tsquery()), sa.Float).label("score"),
        ).where(*clauses)
    fts: sa.ColumnClause[Any] = sa.literal_column("search_fts")
    # bm25() works only in the FTS query itself: a materialized CTE keeps SQLite from
    # flattening it into the grouping around it.
    ranked = (
        sa.select(
            sa.literal_column("rowid").label("case_id"),
            sa.cast(-sa.func.bm25(fts), sa.Float).label("score"),
        )
        .select_from(sa.table("search_fts"))
        .where(fts.op("MATCH")(sa.bindparam("fts", type_=sa.String)))
        .cte("word_hits")
        .prefix_with("MATERIALIZED")
    )
    return (
        sa.select(ranked.c.case_id, ranked.c.score)
        .join(SearchDocument, SearchDocument.case_id == ranked.c.case_id)
        .where(*clauses)
    )
