"""A word the planner's statistics do not know (rare, misspelt) is ranked, not listed newest
first (PostgreSQL; bench/README.md, Search): PostgreSQL estimates every such word at the same
share of the table (1,200 rows of a million, above SEARCH_RANK_LIMIT), and listing a rare word
newest first reads every document backwards looking for it (0.4-2 s at 1M cases)."""

from __future__ import annotations

import pytest

from kontaktcenter.cases.enums import Outcome
from kontaktcenter.core.extensions import db
from kontaktcenter.search import queries
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

    def estimated_rows(query) -> float:
        asked.append(str(query.compile().params))
        return given.pop(0)

    monkeypatch.setattr(queries, "_estimated_rows", estimated_rows)
    return given, asked


def _case(org, summary: str):
    return factories.make_case(org.agent, summary=summary, outcome=Outcome.ANSWERED)


def test_a_word_unknown_to_the_statistics_is_ranked(org, estimates):
    given, asked = estimates
    case = _case(org, "Fråga om Strömsholmsgatan")
    given.extend([1200, 1200])  # the word's estimate is that of a word nobody wrote
    result = search(org.agent, parse("strömsholmsgatan"), rows=True)
    assert not result.newest_first
    assert [hit.case.reference for hit in result.rows] == [case.reference]
    assert all(hit.score is not None for hit in result.rows)
    assert len(asked) == 2 and queries._NO_SUCH_WORD in asked[1]


def test_a_word_the_statistics_know_as_broad_is_listed_newest_first(org, estimates):
    given, asked = estimates
    cases = [_case(org, f"Fråga om sophämtning {n}") for n in range(3)]
    given.extend([5000, 1200])  # known, and more common than the limit
    result = search(org.agent, parse("sophämtning"), rows=True)
    assert result.newest_first
    assert [hit.case.reference for hit in result.rows] == [c.reference for c in reversed(cases)]
    given.extend([50_000])  # far above the limit: no second estimate needed
    assert search(org.agent, parse("sophämtning"), rows=True).newest_first
    assert len(asked) == 3


def test_several_words_keep_the_planners_estimate(org, estimates):
    """Words combined are estimated as independent: below the unknown word's estimate does
    not mean unknown there (two common words that go together)."""
    given, asked = estimates
    _case(org, "Fråga om öppettider på biblioteket")
    given.extend([1150])
    assert search(org.agent, parse("öppettider biblioteket"), rows=True).newest_first
    assert len(asked) == 1
