"""A word the planner's statistics do not know (rare, misspelt) is ranked, not listed newest
first (PostgreSQL; bench/README.md, Search): PostgreSQL estimates every such word at the same
share of the table (1,200 rows of a million, above SEARCH_RANK_LIMIT), and listing a rare word
newest first reads every document backwards looking for it (0.4-2 s at 1M cases)."""

from __future__ import annotations

import pytest
from flask import current_app

from kontaktcenter.cases.enums import Outcome
from kontaktcenter.core.extensions import db
from kontaktcenter.search import queries as queries_module
from kontaktcenter.search import words
from kontaktcenter.search.parsing import parse
from kontaktcenter.search.queries import search
from tests import factories


@pytest.fixture
def estimates(org, monkeypatch):
    """The planner's estimates, in the order search asks for them."""
    if db.session.get_bind().dialect.name != "postgresql":
        # CI runs the suite on PostgreSQL (and so does KONTAKTCENTER_TEST_DB=postgres)
        pytest.skip("the planner's estimate is PostgreSQL's; SQLite's FTS5 asks none")
    given: list[float] = []
    asked: list[str] = []

    def estimated_rows(explained, params) -> float:
        asked.append(str(params))
        return given.pop(0)

    monkeypatch.setattr(words, "_estimated_rows", estimated_rows)
    return given, asked


def _case(org, summary: str):
    return factories.make_case(org.agent, summary=summary, outcome=Outcome.ANSWERED)


def test_a_word_unknown_to_the_statistics_is_ranked(org, estimates):
    given, asked = estimates
    case = _case(org, "Fråga om Strömsholmsgatan")
    given.extend([1200, 1200])  # the word's estimate is that of a word nobody wrote
    result = search(org.agent, parse("strömsholmsgatan"), shape="rows")
    assert not result.newest_first
    assert [hit.case.reference for hit in result.rows] == [case.reference]
    assert all(hit.score is not None for hit in result.rows)
    assert len(asked) == 2 and words._NO_SUCH_WORD in asked[1]


def test_a_word_the_statistics_know_as_broad_is_listed_newest_first(org, estimates):
    given, asked = estimates
    cases = [_case(org, f"Fråga om sophämtning {n}") for n in range(3)]
    given.extend([5000, 1200])  # known, and more common than the limit
    result = search(org.agent, parse("sophämtning"), shape="rows")
    assert result.newest_first
    assert [hit.case.reference for hit in result.rows] == [c.reference for c in reversed(cases)]
    given.extend([50_000])  # far above the limit: no second estimate needed
    assert search(org.agent, parse("sophämtning"), shape="rows").newest_first
    assert len(asked) == 3


def test_several_words_keep_the_planners_estimate(org, estimates):
    """Words combined are estimated as independent: below the unknown word's estimate does
    not mean unknown there (two common words that go together)."""
    given, asked = estimates
    _case(org, "Fråga om öppettider på biblioteket")
    given.extend([1150])
    assert search(org.agent, parse("öppettider biblioteket"), shape="rows").newest_first
    assert len(asked) == 1


def _ranking_statements(monkeypatch) -> list[str]:
    """The ranking statement's runs (ts_rank over the matches), counted."""
    ran: list[str] = []
    read = words.read_word_scores

    def spy(*args):
        ran.append("rank")
        return read(*args)

    monkeypatch.setattr(words, "read_word_scores", spy)
    monkeypatch.setattr(queries_module, "read_word_scores", spy)
    return ran


def test_words_each_too_common_are_tried_on_the_newest_documents_first(org, estimates, monkeypatch):
    """Two words that each match more than SEARCH_RANK_LIMIT but look rare together (the
    planner multiplies their shares) are not ranked when the newest documents hold a page:
    ranking would gather every match through the index (~30-50 ms at 1M cases)."""
    given, asked = estimates
    made = [_case(org, f"Nybyggnadskarta beställning {n}") for n in range(25)]
    each: list[list[float]] = []
    monkeypatch.setattr(words, "_estimated_rows_each", lambda *asked: each.pop(0))
    ran = _ranking_statements(monkeypatch)
    given.append(600)  # together: "rare"
    each.append([33_000, 17_000])  # alone: each far above the limit
    result = search(org.agent, parse("nybyggnadskarta beställning"), shape="rows")
    assert result.newest_first and ran == []
    assert [h.case.reference for h in result.rows] == [c.reference for c in reversed(made)][:20]
    assert result.next_cursor is not None
    # One word rare alone: the two together are at most that many, so they are ranked.
    given.append(600)
    each.append([33_000, 400])
    ranked = search(org.agent, parse("nybyggnadskarta beställning"), shape="rows")
    assert not ranked.newest_first and ran == ["rank"]
    assert all(hit.score is not None for hit in ranked.rows)


def test_words_not_among_the_newest_documents_are_ranked_after_all(org, estimates, monkeypatch):
    from kontaktcenter.search import newest

    given, asked = estimates
    case = _case(org, "Strandskyddsdispens för en brygga")
    for n in range(5):
        _case(org, f"Annat ärende {n}")
    each: list[list[float]] = [[20_000, 30_000]]
    monkeypatch.setattr(words, "_estimated_rows_each", lambda *asked: each.pop(0))
    monkeypatch.setattr(newest, "WINDOW", 3)  # the match is older than the newest 3
    ran = _ranking_statements(monkeypatch)
    given.append(50)
    result = search(org.agent, parse("strandskyddsdispens brygga"), shape="rows")
    assert not result.newest_first and ran == ["rank"]
    assert [h.case.reference for h in result.rows] == [case.reference]


def test_the_planner_estimates_several_queries_in_one_statement(org):
    """estimated_rows_each reads each branch of one EXPLAIN: the same numbers as one EXPLAIN
    per query (PostgreSQL only: the suite's CI database)."""
    if db.session.get_bind().dialect.name != "postgresql":
        pytest.skip("the planner's estimate is PostgreSQL's; SQLite's FTS5 asks none")
    import sqlalchemy as sa

    from kontaktcenter.search.explain import Explain, estimated_rows, estimated_rows_each
    from kontaktcenter.search.models import SearchDocument

    for n in range(30):
        _case(org, f"Fråga om bygglov {n}" if n % 3 else f"Fråga om parkering {n}")
    db.session.execute(sa.text("ANALYZE search_documents"))
    tsv = sa.literal_column("search_documents.tsv")
    selects = [
        sa.select(SearchDocument.case_id).where(tsv.op("@@")(sa.func.to_tsquery("simple", w)))
        for w in ("bygglov", "parkering", "fråg")
    ]
    each = estimated_rows_each(Explain(sa.union_all(*selects)), len(selects))
    assert each == [estimated_rows(Explain(s)) for s in selects]
    assert each[0] > each[1]  # two in three say bygglov


def test_the_newest_documents_are_walked_once_per_page(org, estimates, monkeypatch):
    """Words tried on the newest documents without a page there, then too many to rank, go
    to the index: the same window is not walked a second time."""
    from kontaktcenter.search import newest

    given, asked = estimates
    for n in range(6):
        _case(org, f"Gatan är inte plogad {n}")
        _case(org, f"Annat ärende {n}")
    monkeypatch.setattr(words, "_estimated_rows_each", lambda *asked: [9_000, 9_000])
    monkeypatch.setattr(newest, "WINDOW", 2)  # one match among the newest two
    walks: list[int] = []
    in_window = newest._in_window
    monkeypatch.setattr(newest, "_in_window", lambda *a: walks.append(1) or in_window(*a))
    monkeypatch.setitem(current_app.config, "SEARCH_RANK_LIMIT", 3)
    given.append(2)  # together: rankable, by the statistics
    result = search(org.agent, parse("gatan plogad"), shape="rows", limit=4)
    assert result.newest_first and len(result.rows) == 4
    assert walks == [1]
