"""Case references (issue #16): the counter's upsert is one statement built once per dialect,
and it still hands out consecutive numbers, per year, one or a batch at a time."""

from __future__ import annotations

from datetime import UTC, datetime

from kontaktcenter.cases import references
from kontaktcenter.cases.references import next_reference, next_references
from tests.statements import statements


def test_consecutive_single_and_batch_numbers_in_one_statement_each(db_session):
    at = datetime(2031, 3, 1, 12, tzinfo=UTC)  # a year no other test numbers in
    with statements(ours_only=True) as sent:
        first = next_reference(at)
        batch = next_references(at, 3)
        after = next_reference(at)
    assert first == "KC-2031-000001"
    assert batch == ["KC-2031-000002", "KC-2031-000003", "KC-2031-000004"]
    assert after == "KC-2031-000005"
    assert len(sent) == 3
    assert all(s.startswith("INSERT INTO case_sequences") for s in sent)
    assert next_references(at, 0) == []


def test_years_are_counted_apart(db_session):
    # The year is Swedish time: 23:30 UTC on New Year's Eve is already the next year.
    assert next_reference(datetime(2032, 12, 31, 22, 59, tzinfo=UTC)) == "KC-2032-000001"
    assert next_reference(datetime(2032, 12, 31, 23, 30, tzinfo=UTC)) == "KC-2033-000001"
    assert next_reference(datetime(2032, 6, 1, tzinfo=UTC)) == "KC-2032-000002"


def test_the_statement_is_built_once(db_session):
    at = datetime(2034, 1, 10, tzinfo=UTC)
    next_reference(at)
    dialect = db_session.get_bind().dialect.name
    built = references._COUNTER_UPSERTS[dialect]
    next_references(at, 2)
    assert references._COUNTER_UPSERTS[dialect] is built
