"""search/bound.py: statements kept per shape must be what a fresh build makes, and one
statement's parameters cannot carry two values for one name (decision 125)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from kontaktcenter.cases.models import Case
from kontaktcenter.search import bound


def test_a_build_that_reads_what_its_key_leaves_out_is_caught(app, db_session):  # noqa: ANN001
    """With SEARCH_CHECK_SHAPES (the tests' config), a cache hit builds again and compares:
    a value inside the statement that the key does not name (here a department id) fails."""
    assert app.config["SEARCH_CHECK_SHAPES"]
    key = ("test", "department", object())  # a key of this test alone
    bound.once(key, lambda: sa.select(Case.id).where(Case.department_id == 1))
    same = bound.once(key, lambda: sa.select(Case.id).where(Case.department_id == 1))
    assert "department_id" in str(same)
    with pytest.raises(AssertionError, match="differs from its cached shape"):
        bound.once(key, lambda: sa.select(Case.id).where(Case.department_id == 2))


def test_one_name_with_two_values_in_one_statement_is_refused():
    assert bound.merged({"filter_channel": "phone", "tsq": "a"}, {"filter_channel": "phone"}) == {
        "filter_channel": "phone",
        "tsq": "a",
    }
    with pytest.raises(ValueError, match="filter_channel"):
        bound.merged({"filter_channel": "phone"}, {"filter_channel": "email"})
