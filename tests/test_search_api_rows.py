"""The API's search summarises its hits as the case list does (cases.arrivals rows,
serializers.listed_case_json; #16), not from ORM cases with their whole timelines. Its items
must still be exactly what case_json makes of the same cases: checked on the list's varied
cases (goals running, paused, met, breached; secret by the case and by its type; no contact)
for viewers who see everything, some of it, or the secret content."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from kontaktcenter.api.serializers import case_json
from kontaktcenter.cases.models import Case
from kontaktcenter.core.extensions import db
from tests.api_client import api_as
from tests.test_list_rows import _cases, frozen_now  # noqa: F401 (a fixture)


def _expected(viewer, references: list[str]) -> list[dict]:  # noqa: ANN001
    db.session.expire_all()
    cases = {
        case.reference: case
        for case in db.session.scalars(sa.select(Case).where(Case.reference.in_(references)))
    }
    return [case_json(cases[ref], timeline=False, viewer=viewer) for ref in references]


@pytest.mark.parametrize("viewer", ["agent", "handler_bygg", "handler_miljo", "manager", "admin"])
def test_search_items_are_what_case_json_makes_of_the_cases(client, org, frozen_now, viewer):  # noqa: F811
    _cases(org)
    user = getattr(org, viewer)
    # Filters alone list every case the viewer may see, newest first.
    body = api_as(client, user).get("/search?status=open").get_json()
    items = [item["case"] for item in body["items"]]
    assert items, viewer
    assert items == _expected(user, [item["reference"] for item in items])
    closed = api_as(client, user).get("/search?status=closed").get_json()["items"]
    closed_items = [item["case"] for item in closed]
    assert closed_items == _expected(user, [item["reference"] for item in closed_items])


def test_the_search_covers_goal_states_and_secrecy(client, org, frozen_now):  # noqa: F811
    """The comparison above meets every branch: running, paused, met and breached goals,
    a running goal's pause left out of its minutes, and a secret case masked."""
    _cases(org)
    api = api_as(client, org.agent)
    items = [
        item["case"]
        for status in ("open", "closed")
        for item in api.get(f"/search?status={status}").get_json()["items"]
    ]
    states = {goal["state"] for item in items for goal in item["goals"]}
    assert {"ok", "paused", "met", "breached"} <= states
    assert any(item["secret"] and item["contact"] is None for item in items)
    for_miljo = api_as(client, org.handler_miljo).get("/search?status=open").get_json()["items"]
    resumed = [
        goal
        for item in for_miljo
        if item["case"]["channel"] == "web"
        for goal in item["case"]["goals"]
        if goal["met_at"] is None
    ]
    # 30 hours running, 5 of them paused.
    assert resumed and all(abs(g["calendar_minutes"] - 25 * 60) <= 1 for g in resumed)


def test_a_word_search_summarises_its_hits_the_same_way(client, org, frozen_now):  # noqa: F811
    made = _cases(org)
    body = api_as(client, org.handler_bygg).get("/search?q=ring+tillbaka").get_json()
    refs = [item["case"]["reference"] for item in body["items"]]
    assert made["routed"].reference in refs
    assert [item["case"] for item in body["items"]] == _expected(org.handler_bygg, refs)
    hit = next(i for i in body["items"] if i["case"]["reference"] == made["routed"].reference)
    assert any(part["match"] for part in hit["snippet"])


def test_the_people_found_are_what_contact_json_makes_of_them(client, org):
    """The people of a search are rows (search.people.ContactRow), not ORM contacts: their JSON
    must be contact_json's of the same contacts, every form a contact takes."""
    from kontaktcenter.api.serializers import contact_json
    from kontaktcenter.cases.models import Contact
    from tests.test_search_hit_list import _people

    _people(org)
    api = api_as(client, org.agent)
    found = api.get("/search?q=lindqvist").get_json()["contacts"]
    db.session.expire_all()
    contacts = db.session.scalars(sa.select(Contact).where(Contact.name.like("%Lindqvist%")))
    expected = sorted(json.dumps(contact_json(c), sort_keys=True) for c in contacts)
    assert sorted(json.dumps(hit["contact"], sort_keys=True) for hit in found) == expected
    assert len(expected) == 5
    by_phone = api.get("/search?q=070-123+45+67").get_json()["contacts"]
    eva = db.session.scalars(sa.select(Contact).where(Contact.name == "Eva Lindqvist")).one()
    assert [hit["contact"] for hit in by_phone] == [contact_json(eva)]
    assert by_phone[0]["contact"]["personnummer"] == "19811218-****"
