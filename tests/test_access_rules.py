"""cases/access.py, the one place that decides who sees and does what with a case, tested
directly (the pages and the API are tested through it in test_authorization.py and the API
tests). Written to kill the mutants scripts/mutation found alive: each test pins a rule."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from kontaktcenter.cases import access
from kontaktcenter.cases.enums import Channel
from kontaktcenter.cases.models import Case
from kontaktcenter.core.errors import Forbidden, NotFound
from kontaktcenter.core.extensions import db
from kontaktcenter.core.roles import Role
from kontaktcenter.organisation.models import User
from kontaktcenter.search.models import SearchDocument
from tests.factories import Org, make_case, make_user

pytestmark = pytest.mark.usefixtures("db_session")


@pytest.fixture
def three(org: Org) -> dict[str, Case]:
    """A case of each holder: the contact center, Stadsbyggnadskontoret, Miljöförvaltningen."""
    return {
        "first_line": make_case(org.agent, None, outcome=None, channel=Channel.EMAIL),
        "bygg": make_case(org.agent, org.bygglov),
        "miljo": make_case(org.agent, org.miljotillsyn),
    }


def _visible(user: User, column=None) -> set[int]:
    if column is None:
        return set(db.session.scalars(sa.select(Case.id).where(access.visible_clause(user))))
    return set(
        db.session.scalars(
            sa.select(SearchDocument.case_id).where(access.visible_clause(user, column))
        )
    )


def test_the_first_line_and_overseers_see_every_case(org, three):
    everything = {c.id for c in three.values()}
    for user in (org.agent, org.manager, org.admin):
        assert access.sees_all_cases(user)
        assert _visible(user) == everything
        assert all(access.can_view(user, c) for c in three.values())


def test_a_handler_sees_the_cases_of_their_departments_only(org, three):
    assert not access.sees_all_cases(org.handler_bygg)
    assert _visible(org.handler_bygg) == {three["bygg"].id}
    assert _visible(org.handler_miljo) == {three["miljo"].id}
    assert [name for name, c in three.items() if access.can_view(org.handler_bygg, c)] == ["bygg"]
    both = make_user(Role.HANDLER, [org.bygg, org.miljo])
    assert _visible(both) == {three["bygg"].id, three["miljo"].id}
    assert not access.can_view(both, three["first_line"])  # no department: the contact center's


def test_a_handler_without_a_department_sees_nothing(org, three):
    nobody = make_user(Role.HANDLER, [])
    assert _visible(nobody) == set()
    assert not any(access.can_view(nobody, c) for c in three.values())


def test_the_rule_applies_to_the_search_documents_copy_of_the_department(org, three):
    """Search narrows its own table by its copy of the department column."""
    assert _visible(org.handler_bygg, SearchDocument.department_id) == {three["bygg"].id}
    assert _visible(org.agent, SearchDocument.department_id) == {c.id for c in three.values()}


def test_a_case_is_found_by_id_or_by_reference_in_any_case(org, three):
    case = three["bygg"]
    assert access.get_visible_case(org.handler_bygg, case_id=case.id) is case
    assert access.get_visible_case(org.handler_bygg, reference=case.reference.lower()) is case
    assert access.get_visible_case(org.agent, reference=case.reference) is case


@pytest.mark.parametrize(
    "how",
    [
        {"case_id": "other"},
        {"reference": "other"},
        {"case_id": 999_999},
        {"reference": "KC-1999-000001"},
        {},
    ],
)
def test_a_missing_or_foreign_case_is_not_found_never_forbidden(org, three, how):
    other = three["miljo"]
    how = {
        k: (other.id if k == "case_id" else other.reference) if v == "other" else v
        for k, v in how.items()
    }
    with pytest.raises(NotFound) as raised:
        access.get_visible_case(org.handler_bygg, **how)
    assert raised.value.message == access.NOT_FOUND
    assert raised.value.status == 404


def test_ensure_says_not_found_before_it_says_forbidden(org, three):
    # Another department's case: missing, whatever the action (even one the role may not do).
    for action in ("note", "route"):
        with pytest.raises(NotFound) as missing:
            access.ensure(org.handler_bygg, action, three["miljo"])
        assert missing.value.message == access.NOT_FOUND  # the API and pages show it
    # A visible case and an action the role lacks: forbidden, with the reason.
    with pytest.raises(Forbidden) as raised:
        access.ensure(org.handler_bygg, "route", three["bygg"])
    assert raised.value.message == "Din roll får inte göra det här med ärendet."
    assert raised.value.status == 403
    access.ensure(org.handler_bygg, "note", three["bygg"])  # allowed: no exception
    access.ensure(org.admin, "route", three["miljo"])


def test_allowed_actions_are_the_roles_on_a_visible_case_and_none_on_another(org, three):
    assert access.allowed_actions(org.handler_bygg, three["bygg"]) == access.ACTIONS[Role.HANDLER]
    assert access.allowed_actions(org.handler_bygg, three["miljo"]) == frozenset()
    assert access.allowed_actions(org.manager, three["miljo"]) == access.ACTIONS[Role.MANAGER]


def test_what_each_role_may_do(org):
    """The matrix itself (the issue's roles): the first line acts, handlers work their cases
    but do not route or classify, managers oversee, admins may do everything."""
    assert access.ACTIONS[Role.AGENT] == {
        "note", "assign", "take", "route", "hand_off", "refer", "book_callback",
        "callback_attempt", "close", "reopen", "wait", "resume", "classify", "reply",
        "merge", "link", "unlink", "secrecy",
    }  # fmt: skip
    assert access.ACTIONS[Role.HANDLER] == {
        "note", "assign", "take", "book_callback", "callback_attempt", "close", "return",
        "wait", "resume", "reply", "merge", "link", "unlink", "secrecy",
    }  # fmt: skip
    assert access.ACTIONS[Role.MANAGER] == {"note", "assign", "reopen", "link", "unlink"}
    assert access.ACTIONS[Role.ADMIN] == access.ACTIONS[Role.AGENT] | access.ACTIONS[Role.HANDLER]
    assert access.ACTIONS[Role.ADMIN] == access.ALL_ACTIONS
