"""The access clauses are built once per (sees every case, departments) and shared by every
user and request of the process (issue #16). What a search shows must still be exactly what
each user may see: the shared clause is never another user's, nor the user's own from before
their departments changed."""

from __future__ import annotations

import sqlalchemy as sa

from kontaktcenter.cases import access
from kontaktcenter.cases.contacts import ContactData
from kontaktcenter.cases.models import Case
from kontaktcenter.core.extensions import db
from kontaktcenter.core.roles import Role
from kontaktcenter.search.parsing import parse
from kontaktcenter.search.queries import search
from tests import factories


def _refs(user, typed: str) -> list[str]:
    return sorted(hit.case.reference for hit in search(user, parse(typed), shape="rows").rows)


def _people(user, typed: str) -> list[str]:
    return sorted(
        hit.contact.name or "" for hit in search(user, parse(typed), shape="rows").contacts
    )


def test_each_handler_finds_only_their_departments_cases_one_after_the_other(org):
    bygg = factories.make_case(org.agent, org.bygglov, summary="Cisternen läcker")
    miljo = factories.make_case(org.agent, org.miljotillsyn, summary="Cisternen i skogen")
    both = factories.make_user(Role.HANDLER, [org.bygg, org.miljo])
    for _ in range(2):  # the second round uses the clauses the first one built
        assert _refs(org.handler_bygg, "cisternen") == [bygg.reference]
        assert _refs(org.handler_miljo, "cisternen") == [miljo.reference]
        assert _refs(both, "cisternen") == sorted([bygg.reference, miljo.reference])
        assert _refs(org.agent, "cisternen") == sorted([bygg.reference, miljo.reference])


def test_a_handler_given_another_department_sees_its_cases_at_once(org):
    miljo = factories.make_case(
        org.agent,
        org.miljotillsyn,
        summary="Tillsyn av verkstad",
        contact=ContactData(name="Örjan Verkstadsson", phone="070-444 33 22"),
    )
    handler = factories.make_user(Role.HANDLER, [org.bygg])
    assert _refs(handler, "verkstad") == [] and _people(handler, "Verkstadsson") == []
    handler.departments.append(org.miljo)
    db.session.commit()
    assert _refs(handler, "verkstad") == [miljo.reference]
    assert _people(handler, "Verkstadsson") == ["Örjan Verkstadsson"]
    handler.departments.remove(org.miljo)
    db.session.commit()
    assert _refs(handler, "verkstad") == [] and _people(handler, "Verkstadsson") == []


def test_a_secret_cases_content_and_party_stay_with_its_department(org):
    """Same departments, same clause: a secret case's person is found by its department's
    handler, never by another department's or by the first line."""
    org.miljotillsyn.secrecy_ground = "OSL 26:1"
    db.session.commit()
    secret = factories.make_case(
        org.agent,
        org.miljotillsyn,
        summary="Anmälan om buller",
        contact=ContactData(name="Sigrid Hemlig", phone="070-777 66 55"),
    )
    for _ in range(2):
        assert _people(org.handler_miljo, "Hemlig") == ["Sigrid Hemlig"]
        assert _people(org.handler_bygg, "Hemlig") == []
        assert _people(org.agent, "Hemlig") == []  # the first line sees the register only
        assert search(org.agent, parse("070-777 66 55"), shape="rows").contacts == []
        rows = search(org.agent, parse("buller"), shape="rows").rows
        assert [r.case.reference for r in rows] == []  # words never find its content
        assert _refs(org.handler_miljo, "buller") == [secret.reference]


def test_the_same_clause_object_is_shared_and_keyed_by_departments(org):
    other = factories.make_user(Role.HANDLER, [org.bygg])
    assert access.visible_clause(other) is access.visible_clause(org.handler_bygg)
    assert access.visible_clause(org.handler_miljo) is not access.visible_clause(other)
    assert access.content_visible_clause(other) is access.content_visible_clause(org.handler_bygg)
    # Shared clauses still count as SQL of their own in every statement that uses them.
    query = sa.select(sa.func.count()).select_from(Case)
    assert db.session.scalar(query.where(access.visible_clause(other))) == 0


def test_lookups_filters_and_pages_share_statements_not_results(org):
    """The statements kept per shape (search/bound.py) for a lookup by number, a search by
    filters alone and their next pages: each user, in turn and again, gets only their own."""
    from kontaktcenter.search.queries import SearchFilters

    caller = ContactData(name="Siv Samtalsson", phone="070-555 66 77")
    bygg = [
        factories.make_case(org.agent, org.bygglov, summary=f"Fråga {n}", contact=caller)
        for n in range(3)
    ]
    miljo = [
        factories.make_case(org.agent, org.miljotillsyn, summary=f"Tillsyn {n}", contact=caller)
        for n in range(3)
    ]
    mine = {
        org.handler_bygg: sorted(c.reference for c in bygg),
        org.handler_miljo: sorted(c.reference for c in miljo),
        org.agent: sorted(c.reference for c in bygg + miljo),
    }

    def every_page(user, typed: str, filters: SearchFilters | None) -> list[str]:
        found, cursor = [], None
        while True:
            result = search(user, parse(typed), filters, cursor, limit=2, shape="rows")
            found += [hit.case.reference for hit in result.rows]
            if result.next_cursor is None:
                return sorted(found)
            cursor = result.next_cursor

    for _ in range(2):  # the second round uses the statements the first one kept
        for user, refs in mine.items():
            assert every_page(user, "070-555 66 77", None) == refs
            assert every_page(user, "", SearchFilters(status="open")) == refs
