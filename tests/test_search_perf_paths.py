"""The search page's cheaper paths (issue #16) keep what search showed and recorded: the hits
as plain rows say what the ORM cases said, the filter lists come from a per-process cache that
forgets a change at once, and the audit rows of a search are one INSERT."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from flask import Flask

from kontaktcenter.cases.contacts import ContactData
from kontaktcenter.cases.enums import Outcome
from kontaktcenter.cases.models import Case
from kontaktcenter.core.audit import AuditEvent
from kontaktcenter.core.extensions import db
from kontaktcenter.organisation import queries as organisation
from kontaktcenter.organisation.models import CaseType, Department
from kontaktcenter.search.parsing import parse
from kontaktcenter.search.queries import SearchFilters, search
from tests import factories
from tests.statements import statements


def make_case(by, case_type=None, **kwargs) -> Case:
    if case_type is None:
        kwargs.setdefault("outcome", Outcome.ANSWERED)
    return factories.make_case(by, case_type, **kwargs)


@pytest.fixture
def names_cached(app: Flask) -> Iterator[None]:
    """The per-process cache on, as in production (the tests' config turns it off)."""
    app.config["ORGANISATION_CACHE_SECONDS"] = 60
    organisation.forget_names()
    yield
    organisation.forget_names()
    del app.config["ORGANISATION_CACHE_SECONDS"]


def _same(user, typed: str, filters: SearchFilters | None = None, cursor=None, limit=20):
    """search() as rows and as ORM cases: the same hits, scores, snippets and next page."""
    orm = search(user, parse(typed), filters, cursor, limit)
    rows = search(user, parse(typed), filters, cursor, limit, shape="rows")
    assert rows.cases == [] and orm.rows == []
    for case_hit, row_hit in zip(orm.cases, rows.rows, strict=True):
        case, row = case_hit.case, row_hit.case
        assert (row.id, row.reference, row.channel, row.status) == (
            case.id,
            case.reference,
            case.channel,
            case.status,
        )
        assert (row.received_at, row.summary, row.department_id) == (
            case.received_at,
            case.summary,
            case.department_id,
        )
        assert (row.case_type.name if row.case_type else None) == (
            case.case_type.name if case.case_type else None
        )
        assert (row.department.name if row.department else None) == (
            case.department.name if case.department else None
        )
        assert row.contact_name == (case.contact.display_name if case.contact else None)
        assert (row.effective_secrecy_ground, row.is_secret) == (
            case.effective_secrecy_ground,
            case.is_secret,
        )
        assert (row_hit.score, row_hit.fragments) == (case_hit.score, case_hit.fragments)
    assert rows.next_cursor == orm.next_cursor
    return rows


def test_rows_show_what_the_orm_cases_showed(org):
    anna = ContactData(name="Anna Sundqvist", phone="070-222 33 44")
    make_case(org.agent, summary="Buller från fläkten", contact=anna)
    make_case(org.agent, org.bygglov, summary="Bygglov för fläkt")  # routed: a department
    make_case(org.agent, summary="Fläkt utan kontakt")
    make_case(org.agent, contact=ContactData(phone="070-222 33 45"), summary="Bara ett nummer")
    secret = make_case(org.agent, org.bygglov, summary="Fläkt, hemligt")
    secret.secrecy_ground = "OSL 26:1"
    db.session.commit()
    assert len(_same(org.agent, "fläkt").rows) == 3  # not the secret one's words
    listed = _same(org.agent, "", SearchFilters(department_id=org.bygg.id))
    assert [hit.case.is_secret for hit in listed.rows] == [True, False]
    assert _same(org.agent, "Sundkvist").rows  # the person's cases
    assert len(_same(org.agent, "070-222 33 44").rows) == 1  # by phone: Anna's case
    assert _same(org.agent, "", SearchFilters(status="closed")).rows
    first = _same(org.agent, "fläkt", limit=2)
    assert first.next_cursor
    _same(org.agent, "fläkt", cursor=first.next_cursor, limit=2)
    assert _same(org.handler_miljo, "fläkt").rows == []  # no other department's case


def test_a_case_types_secrecy_masks_its_hits_on_the_page(org, client, login):
    org.bygglov.secrecy_ground = "OSL 26:1"
    db.session.commit()
    make_case(org.agent, org.bygglov, summary="Skyddad uppgift om grannen")
    login(org.handler_miljo)  # sees no bygg case at all
    html = client.get("/sok/", query_string={"q": "grannen"}).get_data(as_text=True)
    assert "Skyddad uppgift" not in html
    login(org.manager)  # sees every case, not a secret one's content outside its department
    html = client.get("/sok/", query_string={"q": "grannen"}).get_data(as_text=True)
    assert "Skyddad uppgift" not in html and org.bygglov.name in html


def test_a_case_type_made_secret_masks_its_hits_even_where_the_names_are_cached_stale(
    org, monkeypatch
):
    """Another process's names cache can be up to a minute old: the secrecy that masks a hit
    is read with the row, never from the cache."""
    case = make_case(org.agent, org.bygglov, summary="Skyddad uppgift om grannen")
    stale = organisation.names()  # cached before the case type became secret
    org.bygglov.secrecy_ground = "OSL 26:1"
    db.session.commit()
    monkeypatch.setattr(organisation, "names", lambda: stale)
    found = search(org.manager, parse(""), SearchFilters(department_id=org.bygg.id), shape="rows")
    [hit] = [h for h in found.rows if h.case.id == case.id]
    assert hit.case.is_secret


def test_the_filter_lists_are_cached_and_a_change_is_seen_at_once(org, client, login, names_cached):
    login(org.agent)
    client.get("/sok/", query_string={"q": "altan"})
    with statements() as sent:
        html = client.get("/sok/", query_string={"q": "altan"}).get_data(as_text=True)
    lists = [
        s
        for s in sent
        if "FROM case_types" in s or s.endswith("FROM departments ORDER BY departments.name")
    ]
    assert sent and not lists
    assert org.bygg.name in html and org.bygglov.name in html
    department = db.session.get(Department, org.bygg.id)
    department.name = "Samhällsbyggnad"
    case_type = db.session.get(CaseType, org.bygglov.id)
    case_type.name = "Bygglov för altaner"
    db.session.commit()
    html = client.get("/sok/", query_string={"q": "altan"}).get_data(as_text=True)
    assert "Samhällsbyggnad" in html and "Bygglov för altaner" in html
    new = Department(slug="kultur", name="Kulturförvaltningen")
    db.session.add(new)
    db.session.flush()  # seen by this process from the flush on (and again at the commit)
    assert "Kulturförvaltningen" in [d.name for d in organisation.names().departments]
    db.session.rollback()
    assert "Kulturförvaltningen" not in [d.name for d in organisation.names().departments]


def test_a_handler_is_offered_only_their_departments(org, client, login, names_cached):
    login(org.handler_bygg)
    html = client.get("/sok/", query_string={"q": "altan"}).get_data(as_text=True)
    assert org.bygg.name in html and org.bygglov.name in html
    assert org.miljo.name not in html and org.miljotillsyn.name not in html


def test_people_shown_by_name_are_recorded_in_one_insert(org, client, login):
    people = [
        make_case(org.agent, contact=ContactData(name=f"{first} Sundqvist")).contact
        for first in ("Anna", "Bo", "Cecilia")
    ]
    login(org.agent)
    with statements() as sent:
        assert client.get("/sok/", query_string={"q": "Sundqvist"}).status_code == 200
    inserts = [s for s in sent if s.startswith("INSERT INTO audit_events")]
    assert len(inserts) == 1
    events = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "search"))
    assert sorted((e.user_id, e.contact_id, e.case_id, e.detail["kind"]) for e in events) == [
        (org.agent.id, p.id, None, "name") for p in sorted(people, key=lambda p: p.id)
    ]


def test_a_lookup_by_number_is_recorded_once_per_person_without_a_second_lookup(org, client, login):
    first = make_case(org.agent, contact=ContactData(name="Anna", phone="070-555 11 22"))
    login(org.agent)
    with statements() as sent:
        html = client.get("/sok/", query_string={"q": "070-555 11 22"}).get_data(as_text=True)
    assert first.reference in html
    assert len([s for s in sent if "FROM contacts" in s]) == 1  # found once, recorded from it
    assert len([s for s in sent if s.startswith("INSERT INTO audit_events")]) == 1
    client.get("/sok/", query_string={"q": "070-555 99 99"})  # nobody: one row, no person
    events = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "search").order_by(AuditEvent.id)
    ).all()
    assert [(e.contact_id, e.detail) for e in events] == [
        (first.contact_id, {"kind": "phone", "query": "070-555 11 22"}),
        (None, {"kind": "phone", "query": "070-555 99 99"}),
    ]


def test_the_api_answers_from_rows_with_the_goals_of_the_hits(org, client):
    from tests.api_client import api_as

    routed = make_case(org.agent, org.bygglov, summary="Bygglov för fläkt")
    api = api_as(client, org.agent)
    body = api.get("/api/v1/search?q=fläkt").get_json()
    [item] = body["items"]
    assert item["case"]["reference"] == routed.reference
    assert item["case"]["department"]["name"] == org.bygg.name
    assert item["case"]["goals"]  # the routed case's running goals
    by_reference = api.get(f"/api/v1/search?q={routed.reference}").get_json()
    assert by_reference["case"]["reference"] == routed.reference
    assert [i["case"]["reference"] for i in by_reference["items"]] == [routed.reference]
