"""Abandoned calls become callbacks (#14), through the real POST /api/v1/calls/events: in a
queue that calls back, from a known number, after the queue's minimum wait; a late `answered`
withdraws the callback again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from kontaktcenter.callbacks import hooks, services
from kontaktcenter.callbacks.models import Callback, CallbackSource, CallbackStatus
from kontaktcenter.cases.enums import CallbackResult, CaseStatus
from kontaktcenter.channels.phone import integration
from kontaktcenter.channels.phone.models import Call, PhoneQueue
from kontaktcenter.core.extensions import db
from kontaktcenter.core.roles import Role
from kontaktcenter.goals.models import CaseGoal, GoalTarget
from tests import factories
from tests.api_client import Api, api_as

assert hooks

T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)


@pytest.fixture
def platform(client, org) -> Api:
    user = factories.make_user(Role.AGENT, name="Telefoniplattformen")
    integration.mark_integration(user)
    return api_as(client, user)


@pytest.fixture
def queue(org) -> PhoneQueue:
    queue = PhoneQueue(
        name="Bygglov",
        label="Bygglovskön",
        case_type=org.bygglov,
        abandoned_callback=True,
        abandoned_min_wait_seconds=30,
        answer_goal_seconds=60,
        active=True,
    )
    db.session.add(queue)
    db.session.commit()
    return queue


def at(seconds: int) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat()


def abandon(platform: Api, call_id: str = "c-1", wait: int = 45, **fields):
    fields.setdefault("caller", "070-123 45 67")
    fields.setdefault("queue", "Bygglov")
    ringing = {"call_id": call_id, "event": "ringing", "time": at(0), **fields}
    assert platform.post("/calls/events", ringing).status_code in (200, 201)
    abandoned = {
        "call_id": call_id,
        "event": "abandoned",
        "time": at(wait),
        "queue_wait_seconds": wait,
    }
    response = platform.post("/calls/events", abandoned)
    assert response.status_code in (200, 201), response.get_json()


def callbacks() -> list[Callback]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(Callback).order_by(Callback.id)))


def test_an_abandoned_call_in_a_calling_back_queue_becomes_a_callback(platform, queue, org):
    abandon(platform)
    [callback] = callbacks()
    call = db.session.scalars(sa.select(Call)).one()
    assert callback.source == CallbackSource.ABANDONED
    assert callback.status == CallbackStatus.PENDING
    assert callback.platform_ref == "c-1" and callback.call_id == call.id
    assert callback.number_e164 == "+46701234567"
    case = callback.case
    assert case.case_type == org.bygglov and case.department_id is None
    assert callback.due_at == case.callback_due_at is not None


def test_the_same_abandoned_event_twice_makes_one_callback(platform, queue):
    abandon(platform)
    abandon(platform)
    assert len(callbacks()) == 1


@pytest.mark.parametrize(
    ("fields", "wait"),
    [
        ({"caller": "anonymous"}, 45),  # hidden number
        ({}, 29),  # shorter than the queue's minimum wait
        ({"queue": "Växeln"}, 45),  # a queue we do not know
    ],
)
def test_no_callback_without_a_number_enough_wait_or_a_known_queue(platform, queue, fields, wait):
    abandon(platform, wait=wait, **fields)
    assert callbacks() == []
    assert db.session.scalars(sa.select(Call)).one().state == "abandoned"


def test_no_callback_from_a_queue_that_does_not_call_back_or_is_inactive(platform, queue):
    queue.abandoned_callback = False
    db.session.commit()
    abandon(platform, "c-1")
    queue.abandoned_callback, queue.active = True, False
    db.session.commit()
    abandon(platform, "c-2", caller="070-765 43 21")
    assert callbacks() == []


def test_the_minimum_wait_itself_is_enough(platform, queue):
    abandon(platform, wait=30)
    assert len(callbacks()) == 1


def test_a_late_answered_withdraws_the_untried_callback(platform, queue, org):
    abandon(platform)
    answered = {
        "call_id": "c-1",
        "event": "answered",
        "time": at(40),
        "agent_email": org.agent.email,
    }
    assert platform.post("/calls/events", answered).status_code == 201
    [callback] = callbacks()
    assert callback.status == CallbackStatus.CANCELLED
    case = callback.case
    assert case.status == CaseStatus.CLOSED
    goal = db.session.scalars(
        sa.select(CaseGoal).where(
            CaseGoal.case_id == case.id, CaseGoal.target == GoalTarget.CALLBACK
        )
    ).one()
    assert goal.met_at is None and goal.cancelled_at is not None


def test_a_late_answered_leaves_a_callback_that_was_tried(platform, queue, org):
    abandon(platform)
    [callback] = callbacks()
    services.record_attempt(callback, org.agent, CallbackResult.NO_ANSWER)
    answered = {
        "call_id": "c-1",
        "event": "answered",
        "time": at(40),
        "agent_email": org.agent.email,
    }
    assert platform.post("/calls/events", answered).status_code == 201
    [callback] = callbacks()
    assert callback.status == CallbackStatus.PENDING and callback.attempts == 1


def test_an_abandoned_call_from_someone_already_waiting_joins_their_callback(platform, queue):
    abandon(platform, "c-1")
    abandon(platform, "c-2")
    assert len(callbacks()) == 1
