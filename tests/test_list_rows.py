"""The API's case list is built from rows (cases.arrivals.arrival_rows, serializers.
listed_case_json), not ORM objects (issue #16). Its output must be byte for byte what case_json
makes of the same cases as ORM objects: checked here on varied cases (goals running, paused,
met, breached; with and without contact, case type, department, assignee; secret by the case
and by its type) for viewers who see everything, some of it, or the secret content."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import sqlalchemy as sa

from kontaktcenter.api import serializers
from kontaktcenter.api.cases import load_goals
from kontaktcenter.api.serializers import case_json, listed_case_json
from kontaktcenter.cases import access
from kontaktcenter.cases import actions as case_actions
from kontaktcenter.cases.arrivals import CaseFilters, arrival_rows, load_pause_history
from kontaktcenter.cases.contacts import ContactData
from kontaktcenter.cases.enums import ActivityKind, Channel, Outcome
from kontaktcenter.cases.models import Activity, Case
from kontaktcenter.cases.queries import encode_cursor
from kontaktcenter.core.extensions import db, utcnow
from kontaktcenter.goals.models import CaseGoal
from tests.api_client import api_as
from tests.factories import make_case


def _cases(org) -> dict[str, Case]:  # noqa: ANN001
    made: dict[str, Case] = {}
    made["closed"] = make_case(org.agent, org.bygglov, outcome=Outcome.ANSWERED)
    made["routed"] = make_case(
        org.agent,
        org.bygglov,
        summary="Gäller 19811218-9876, ring tillbaka",
        contact=ContactData(name="Pia Pnr", personnummer="19811218-9876", email="pia@example.se"),
    )
    made["first_line"] = make_case(org.agent, outcome=None, channel=Channel.EMAIL)
    made["waiting"] = make_case(org.agent, outcome=None, channel=Channel.EMAIL)
    case_actions.set_waiting(made["waiting"], org.agent, True)
    made["resumed"] = make_case(org.agent, org.miljotillsyn, channel=Channel.WEB)
    case_actions.set_waiting(made["resumed"], org.handler_miljo, True)
    case_actions.set_waiting(made["resumed"], org.handler_miljo, False)
    made["breached"] = make_case(org.agent, org.strandskydd)
    made["assigned"] = make_case(org.agent, org.bygglov, contact=ContactData())
    case_actions.assign(made["assigned"], org.handler_bygg, org.handler_bygg)
    made["secret"] = make_case(org.agent, org.bygglov, summary="Hemligt 19811218-9876")
    made["secret"].secrecy_ground = "OSL 26:1"
    made["secret_type"] = make_case(org.agent, org.miljotillsyn)
    org.miljotillsyn.secrecy_ground = "OSL 23:2"
    made["anonymous"] = make_case(org.agent, org.strandskydd, channel=Channel.EMAIL)
    db.session.commit()

    now = utcnow()
    goals = db.session.scalars(sa.select(CaseGoal).order_by(CaseGoal.id)).all()
    for goal in goals:  # long enough ago that minutes, pauses and risk show
        goal.started_at = goal.started_at - timedelta(hours=30)
    for goal in goals:
        if goal.case_id == made["breached"].id and goal.met_at is None:
            goal.due_at = now - timedelta(hours=2)
            goal.breached_at = now - timedelta(hours=2)
        if goal.case_id == made["closed"].id:
            goal.met_at = goal.due_at + timedelta(minutes=5)  # met late: breached
    # Without contact at all (the factory always makes one).
    db.session.execute(
        sa.update(Case.__table__)
        .where(Case.__table__.c.id == made["anonymous"].id)
        .values(contact_id=None)
    )
    # The pause of "resumed" 20 hours ago, for 5 hours (the ORM keeps a timeline append-only).
    pauses = db.session.scalars(
        sa.select(Activity.id)
        .where(
            Activity.case_id == made["resumed"].id,
            Activity.kind == ActivityKind.STATUS_CHANGED,
        )
        .order_by(Activity.id)
    ).all()
    for entry_id, hours in zip(pauses, (20, 15), strict=True):
        db.session.execute(
            sa.update(Activity.__table__)
            .where(Activity.__table__.c.id == entry_id)
            .values(created_at=now - timedelta(hours=hours))
        )
    db.session.commit()
    db.session.expire_all()
    return made


def _old(viewer, limit: int = 50, before: Case | None = None) -> list[dict]:  # noqa: ANN001
    """The list as it was made: ORM cases, newest first, each through case_json."""
    query = (
        sa.select(Case)
        .where(access.visible_clause(viewer))
        .order_by(Case.received_at.desc(), Case.id.desc())
        .limit(limit)
    )
    if before is not None:
        query = query.where(
            sa.tuple_(Case.received_at, Case.id) < sa.tuple_(before.received_at, before.id)
        )
    db.session.expire_all()
    return [case_json(c, timeline=False, viewer=viewer) for c in db.session.scalars(query)]


def _text(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)  # keeps the order of keys


def _bytes(client, items: list[dict], next_cursor: str | None) -> bytes:  # noqa: ANN001
    """The response body the app makes of `items` (its JSON provider, as list_cases answers)."""
    app = client.application
    return bytes(app.json.response({"items": items, "next": next_cursor}).get_data())


def _new_items(viewer) -> list[dict]:  # noqa: ANN001
    """The rows' serialisation in-process (its dicts, before the provider sorts their keys)."""
    page = arrival_rows(viewer, CaseFilters(), None, 50)
    load_goals(page.items)
    load_pause_history(page.items)
    return [listed_case_json(item, viewer) for item in page.items]


@pytest.fixture
def frozen_now(monkeypatch):  # noqa: ANN001, ANN201
    """One `now` for both serialisations (a running goal's minutes move with the clock)."""
    now = utcnow()
    monkeypatch.setattr(serializers, "utcnow", lambda: now)
    return now


@pytest.mark.parametrize("viewer", ["agent", "handler_bygg", "handler_miljo", "manager", "admin"])
def test_the_list_from_rows_is_what_case_json_makes_of_the_cases(client, org, frozen_now, viewer):
    _cases(org)
    user = getattr(org, viewer)
    api = api_as(client, user)
    response = api.get("/cases")
    assert response.status_code == 200
    expected = _old(user)
    assert expected, viewer
    assert response.get_data() == _bytes(client, expected, None)
    # The items' keys in case_json's order too (the provider sorts them today).
    assert [list(item) for item in _new_items(user)] == [list(item) for item in expected]


def test_the_cases_cover_what_the_list_shows(client, org, frozen_now):
    """The data above does reach every branch compared (else the comparison proves little)."""
    _cases(org)
    items = api_as(client, org.agent).get("/cases").get_json()["items"]
    states = {goal["state"] for item in items for goal in item["goals"]}
    assert {"ok", "paused", "met", "breached"} <= states
    assert any(item["contact"] is None for item in items)
    assert any(item["case_type"] is None and item["department"] is None for item in items)
    assert any(item["assignee"] is not None for item in items)
    assert any(item["secret"] and item["contact"] is None for item in items)  # masked for her
    for_bygg = api_as(client, org.handler_bygg).get("/cases").get_json()["items"]
    assert any(item["secret"] and item["contact"] is not None for item in for_bygg)
    assert any("19811218-****" in (item["summary"] or "") for item in for_bygg)
    for_miljo = api_as(client, org.handler_miljo).get("/cases").get_json()["items"]
    resumed = [
        g
        for item in for_miljo
        if item["channel"] == "web"
        for g in item["goals"]
        if g["met_at"] is None
    ]
    # 30 hours running, 5 of them paused.
    assert resumed and all(abs(g["calendar_minutes"] - 25 * 60) <= 1 for g in resumed)


def test_pages_and_their_cursor_are_unchanged(client, org, frozen_now):
    _cases(org)
    api = api_as(client, org.agent)
    response = api.get("/cases?limit=4")
    first = response.get_json()
    expected = _old(org.agent, limit=4)
    last = db.session.scalars(sa.select(Case).where(Case.reference == expected[-1]["reference"]))
    last_case = last.one()
    cursor = encode_cursor([last_case.received_at.isoformat(), last_case.id])
    assert response.get_data() == _bytes(client, expected, cursor)
    second = api.get(f"/cases?limit=4&cursor={first['next']}")
    expected = _old(org.agent, limit=4, before=last_case)
    assert second.get_data() == _bytes(client, expected, second.get_json()["next"])
    assert second.get_json()["next"] is not None  # 10 cases: a third page


def test_filters_give_the_same_cases(client, org, frozen_now):
    _cases(org)
    api = api_as(client, org.agent)
    response = api.get("/cases?department=stadsbyggnad&status=new")
    expected = [
        item
        for item in _old(org.agent)
        if item["department"] is not None
        and item["department"]["slug"] == "stadsbyggnad"
        and item["status"] == "new"
    ]
    assert expected
    assert response.get_data() == _bytes(client, expected, None)


@pytest.mark.parametrize("viewer", ["agent", "handler_bygg", "handler_miljo", "manager"])
def test_the_api_search_summarises_its_hits_as_case_json_does(client, org, frozen_now, viewer):
    """Search reads its hits as the list's rows (search shape "listed"): each item's case is
    what case_json makes of it, on every path (ranked words, a person's cases, filters alone,
    a reference)."""
    made = _cases(org)
    user = getattr(org, viewer)
    api = api_as(client, user)
    seen: set[str] = set()
    queries = ("q=ring", "q=pia@example.se", "status=open", "status=closed&channel=phone")
    for query in (*queries, f"q={made['routed'].reference}"):
        for item in api.get(f"/search?{query}").get_json()["items"]:
            db.session.expire_all()
            case = db.session.scalars(
                sa.select(Case).where(Case.reference == item["case"]["reference"])
            ).one()
            assert item["case"] == json.loads(_text(case_json(case, timeline=False, viewer=user)))
            seen.add(item["case"]["reference"])
    # Each viewer meets several cases; the handler of miljö the paused and resumed one (whose
    # running goal's minutes leave out its pause).
    assert len(seen) >= 2, viewer
    assert viewer != "handler_miljo" or made["resumed"].reference in seen
