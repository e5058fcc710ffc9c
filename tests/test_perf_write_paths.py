"""Logging a call with fewer statements (#16), and the same case, timeline, goals, search
document, audit rows and callback as before: the API answers from memory what it just wrote,
a new case's search document is composed from the objects written, the service goals are
shared by a process's requests."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from kontaktcenter.calendar.business_calendar import Unit
from kontaktcenter.callbacks.models import Callback, CallbackStatus
from kontaktcenter.cases.enums import Channel
from kontaktcenter.cases.models import Case
from kontaktcenter.core.audit import AuditEvent
from kontaktcenter.core.extensions import db
from kontaktcenter.goals import engine as goals
from kontaktcenter.goals.models import CaseGoal, GoalTarget, ServiceGoal
from kontaktcenter.search.indexing import compose
from kontaktcenter.search.models import FILTER_COLUMNS, SearchDocument
from kontaktcenter.search.text import stems_text
from tests.api_client import Api, api_as
from tests.factories import csrf_token
from tests.statements import statements

OUTCOMES = ("answered", "handed_off", "routed", "callback", "referred")


@pytest.fixture
def agent(client, org) -> Api:
    return api_as(client, org.agent)


def _reads(sent: list[str], *tables: str) -> list[str]:
    pattern = re.compile(r"\b(?:FROM|JOIN) (?:" + "|".join(tables) + r")\b")
    return [s for s in sent if s.startswith("SELECT") and pattern.search(s)]


def _body(outcome: str, **fields) -> dict:
    body = {
        "channel": "phone",
        "case_type": "bygglov",
        "summary": "Fråga om bygglov för altan",
        "outcome": outcome,
        "note": "Ringer från jobbet",
        "contact": {
            "name": "Sven Svensson",
            "phone": "070-123 45 67",
            "email": "sven@example.se",
            "organisation_number": "556036-0793",
        },
    }
    if outcome == "referred":
        body["referred_to"] = "Skatteverket"
    if outcome == "callback":
        body["callback_note"] = "Efter 15"
    body.update(fields)
    return body


def _case(reference: str) -> Case:
    return db.session.scalars(sa.select(Case).where(Case.reference == reference)).one()


# --- the API's answer -----------------------------------------------------------------------


@pytest.mark.parametrize("outcome", OUTCOMES)
def test_the_created_case_reads_the_same_when_read_again(agent, outcome):
    body = _body(outcome, received_at="2026-12-04T10:15:00+01:00")  # not UTC: stored as UTC
    response = agent.post("/cases", body)
    assert response.status_code == 201
    created = response.get_json()
    assert created["received_at"] == "2026-12-04T09:15:00+00:00"
    assert created["goals"] and created["timeline"]
    assert agent.get(response.headers["Location"]).get_json() == created


@pytest.mark.parametrize("outcome", OUTCOMES)
def test_creating_writes_each_table_once_and_reads_nothing_back(agent, outcome, shared_goals):
    agent.post("/cases", _body("answered"))  # the process has read the service goals
    with statements() as sent:
        response = agent.post("/cases", _body(outcome))
    assert response.status_code == 201
    assert not _reads(sent, "cases", "activities", "case_goals", "mail_messages", "service_goals")
    assert not [s for s in sent if s.startswith(("UPDATE cases", "DELETE"))]
    inserts = [s.split()[2] for s in sent if s.startswith("INSERT INTO")]
    if db.session.get_bind().dialect.name == "postgresql":  # SQLite: a row per INSERT
        assert len(inserts) == len(set(inserts)), inserts  # one INSERT per table
    assert {"cases", "activities", "case_goals", "audit_events", "search_documents"} <= set(inserts)
    # ... and all of it is there: timeline, goals, audit row, search document, callback.
    case = _case(response.get_json()["reference"])
    assert len(case.activities) >= 3 and case.goals
    audit = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.case_id == case.id)).all()
    assert [a.action for a in audit if a.action == "create_case"] == ["create_case"]
    assert db.session.get(SearchDocument, case.id) is not None
    callbacks = db.session.scalars(sa.select(Callback).where(Callback.case_id == case.id)).all()
    if outcome == "callback":
        assert [c.status for c in callbacks] == [CallbackStatus.PENDING]
        assert callbacks[0].note == "Efter 15" and callbacks[0].due_at == case.callback_due_at
    else:
        assert callbacks == []


def test_the_call_form_reads_no_case_data_before_its_commit(client, org, login):
    login(org.agent)
    data = {
        "phone": "070-123 45 67",
        "name": "Sven Svensson",
        "case_type": "bygglov",
        "summary": "Undrar om bygglov för altan",
        "outcome": "callback",
        "callback_note": "Efter 15",
        "note": "Vill ha svar i veckan",
        "transfer": "warm",
        "csrf_token": csrf_token(client),
    }
    with statements() as sent:
        response = client.post("/samtal/ny", data=data)
    assert response.status_code == 302
    commit = max(
        (i for i, s in enumerate(sent) if s.startswith("INSERT INTO search_documents")), default=-1
    )
    assert commit > 0
    assert not _reads(sent[:commit], "cases", "activities", "case_goals", "mail_messages")
    case = db.session.scalars(sa.select(Case).order_by(Case.id.desc())).first()
    assert case is not None and case.summary == "Undrar om bygglov för altan"
    document = db.session.get(SearchDocument, case.id)
    assert document is not None and "Vill ha svar i veckan" in document.body


# --- the search document ----------------------------------------------------------------------


@pytest.mark.parametrize("outcome", OUTCOMES)
@pytest.mark.parametrize("secret_type", [False, True])
def test_a_new_cases_document_is_what_compose_reads(agent, org, outcome, secret_type):
    if secret_type:
        org.bygglov.secrecy_ground = "OSL 26 kap. 1 §"
        db.session.commit()
    response = agent.post("/cases", _body(outcome))
    assert response.status_code == 201
    case = _case(response.get_json()["reference"])
    document = db.session.get(SearchDocument, case.id)
    assert document is not None
    read = compose([case.id], db.session())[case.id]
    assert document.body == read["body"]
    assert "Ringer från jobbet" in document.body and "sven@example.se" in document.body
    assert document.stems == stems_text(read["body"])
    for name in FILTER_COLUMNS:
        assert getattr(document, name) == read[name], name
    assert document.secret is read["secret"] is secret_type


# --- service goals per process --------------------------------------------------------------


@pytest.fixture
def shared_goals(app, monkeypatch):
    monkeypatch.setitem(app.config, "GOAL_DEFINITIONS_CACHE_SECONDS", 60)
    goals.forget_service_goals()
    yield
    goals.forget_service_goals()


def _first_response_days(reference: str) -> int:
    case = _case(reference)
    goal = next(g for g in case.goals if g.target == GoalTarget.FIRST_RESPONSE)
    return goal.definition["amount"]


def test_service_goals_are_read_once_per_process(agent, shared_goals):
    with statements() as first:
        one = agent.post("/cases", _body("routed")).get_json()
    with statements() as second:
        two = agent.post("/cases", _body("answered", case_type="miljotillsyn")).get_json()
    assert len(_reads(first, "service_goals")) == 1
    assert _reads(second, "service_goals") == []
    assert _first_response_days(one["reference"]) == goals.DEFAULT_FIRST_RESPONSE_DAYS
    assert _first_response_days(two["reference"]) == goals.DEFAULT_FIRST_RESPONSE_DAYS


def test_a_changed_goal_applies_to_the_next_case_of_the_process(agent, shared_goals):
    agent.post("/cases", _body("routed"))  # the goals are now shared
    db.session.add(
        ServiceGoal(
            target=GoalTarget.FIRST_RESPONSE,
            channel=Channel.PHONE,
            amount=5,
            unit=Unit.WORKING_DAYS,
        )
    )
    db.session.commit()
    case = agent.post("/cases", _body("routed")).get_json()
    assert _first_response_days(case["reference"]) == 5


def test_a_goal_change_rolled_back_is_never_shared(app, agent, shared_goals):
    agent.post("/cases", _body("routed"))
    goal = ServiceGoal(
        target=GoalTarget.FIRST_RESPONSE, channel=Channel.PHONE, amount=7, unit=Unit.WORKING_DAYS
    )
    with app.app_context():
        db.session.begin_nested()
        db.session.add(goal)
        db.session.flush()
        # Inside the transaction that adds it, the new goal applies...
        found = goals.find_definition(GoalTarget.FIRST_RESPONSE, Channel.PHONE, None)
        assert found is not None and found["amount"] == 7
        db.session.rollback()
    # ... and after its rollback, in no other request.
    case = agent.post("/cases", _body("routed")).get_json()
    assert _first_response_days(case["reference"]) == goals.DEFAULT_FIRST_RESPONSE_DAYS
    assert db.session.scalar(sa.select(sa.func.count()).select_from(CaseGoal)) > 0
