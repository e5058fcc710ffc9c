"""core.process_cache.Kept: what a page reads from small tables, kept per process (#16), and
the retention panel that uses it (the case page no longer reads the rules on every view)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from time import monotonic

import pytest
from flask import current_app

from kontaktcenter.cases.enums import Outcome
from kontaktcenter.compliance.retention_models import RetentionMode, RetentionRule
from kontaktcenter.compliance.retention_rules import RuleData, update_rule
from kontaktcenter.core import process_cache
from kontaktcenter.core.extensions import db
from kontaktcenter.core.process_cache import Kept
from kontaktcenter.organisation.models import Department
from tests.factories import make_case
from tests.statements import statements
from tests.test_retention_anonymise import rule as retention_rule

KEPT: Kept[int] = Kept("test_process_cache", (RetentionRule,))


@pytest.fixture
def kept_for_a_minute(app) -> Iterator[list[int]]:
    """The cache time as in production; the list counts the reads."""
    app.config["ORGANISATION_CACHE_SECONDS"] = 60
    KEPT.forget()
    reads: list[int] = []
    try:
        yield reads
    finally:
        app.config["ORGANISATION_CACHE_SECONDS"] = 0
        KEPT.forget()


def _get(reads: list[int], key: object = None) -> int:
    def load() -> int:
        reads.append(1)
        return len(reads)

    return KEPT.get(load, key)


def test_a_value_is_read_once_per_key_within_the_cache_time(db_session, kept_for_a_minute):
    reads = kept_for_a_minute
    assert _get(reads) == 1 and _get(reads) == 1
    assert _get(reads, "other") == 2 and _get(reads, "other") == 2
    KEPT.forget()
    assert _get(reads) == 3


def test_a_value_is_read_again_after_the_cache_time(db_session, kept_for_a_minute, monkeypatch):
    """Another process's change is seen within the cache time."""
    reads = kept_for_a_minute
    assert _get(reads) == 1
    later = monotonic() + 59
    monkeypatch.setattr(process_cache, "monotonic", lambda: later)
    assert _get(reads) == 1
    later = monotonic() + 61
    assert _get(reads) == 2 and _get(reads) == 2


def test_without_a_cache_time_every_get_reads(app, db_session):
    reads: list[int] = []
    assert app.config["ORGANISATION_CACHE_SECONDS"] == 0  # the tests' setting
    assert [_get(reads), _get(reads)] == [1, 2]


def test_a_change_of_a_watched_model_is_seen_at_once_and_never_kept_before_its_commit(
    db_session, org, kept_for_a_minute
):
    reads = kept_for_a_minute
    assert _get(reads) == 1
    made = retention_rule(org.bygglov)  # commits: forgotten
    assert _get(reads) == 2 and _get(reads) == 2
    made.months = 24  # pending: this transaction is changing the rules
    assert _get(reads) == 3
    db.session.flush()  # flushed, not committed: it may still roll back
    assert _get(reads) == 4 and _get(reads) == 5  # read each time, never kept
    db.session.commit()
    assert _get(reads) == 6 and _get(reads) == 6


def test_after_a_rolled_back_change_the_kept_value_is_used_again(
    db_session, org, kept_for_a_minute
):
    reads = kept_for_a_minute
    made = retention_rule(org.bygglov)
    assert _get(reads) == 1
    made.months = 24
    db.session.flush()
    assert _get(reads) == 2  # its own, not kept
    db.session.rollback()
    assert _get(reads) == 1  # the committed value, kept before the change: still right
    KEPT.forget()
    assert _get(reads) == 3 and _get(reads) == 3  # no longer writing: kept again


def test_a_savepoint_rolled_back_leaves_the_earlier_change_unkept(
    db_session, org, kept_for_a_minute
):
    reads = kept_for_a_minute
    made = retention_rule(org.bygglov)
    made.months = 24
    db.session.flush()  # the transaction has changed a rule
    with db.session.begin_nested() as savepoint:
        savepoint.rollback()
    assert _get(reads) == 1 and _get(reads) == 2  # still its own, uncommitted, rules


def test_other_models_changed_leave_the_value_kept(db_session, org, kept_for_a_minute):
    reads = kept_for_a_minute
    assert _get(reads) == 1
    db.session.get_one(Department, org.bygg.id).name = "Samhällsbyggnad"
    db.session.commit()
    assert _get(reads) == 1


# --- the case page's retention panel -----------------------------------------------------------


def _page(client, case_id: int) -> tuple[str, list[str]]:
    with current_app.app_context(), statements(ours_only=True) as executed:
        response = client.get(f"/arenden/{case_id}")
    assert response.status_code == 200
    return response.get_data(as_text=True), executed


def test_the_case_page_reads_the_rules_once_and_shows_a_change_at_once(app, client, org, login):
    made = retention_rule(org.bygglov)
    case = make_case(org.agent, org.bygglov, Outcome.ROUTED)
    login(org.handler_bygg)
    app.config["ORGANISATION_CACHE_SECONDS"] = 60
    try:
        first, executed = _page(client, case.id)
        assert [s for s in executed if "FROM retention_rules" in s]
        page, executed = _page(client, case.id)
        assert not [s for s in executed if "FROM retention_rules" in s], executed
        assert page == first.replace(_csrf(first), _csrf(page))
        assert "12 månader efter avslut enligt <em>Dokumenthanteringsplan" in page
        changed = RuleData(
            org.bygglov.id,
            RetentionMode.MONTHS,
            36,
            "Gallringsbeslut för bygglov",
            date(2026, 3, 1),
        )
        update_rule(db.session.get_one(RetentionRule, made.id), changed, None)
        page, _executed = _page(client, case.id)
    finally:
        app.config["ORGANISATION_CACHE_SECONDS"] = 0
    assert "36 månader efter avslut enligt <em>Gallringsbeslut för bygglov</em> (2026-03-01)" in (
        page
    )


def _csrf(page: str) -> str:
    start = page.index('name="csrf_token" value="') + len('name="csrf_token" value="')
    return page[start : page.index('"', start)]


def test_a_value_kept_by_another_request_during_the_change_is_forgotten_at_its_commit(
    app, db_session, org, kept_for_a_minute
):
    """A threaded process: while this transaction changes a rule, another request (another
    session) reads the rules as committed before the change and keeps them."""
    reads = kept_for_a_minute
    made = retention_rule(org.bygglov)
    made.months = 24
    db.session.flush()
    app.extensions[KEPT.key] = {None: (monotonic(), -1)}  # what the other request kept
    db.session.commit()
    assert _get(reads) == 1
