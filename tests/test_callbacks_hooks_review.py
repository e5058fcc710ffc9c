"""What the callbacks' hooks promise, whatever order the platform's events arrive in (review R1):
an abandoned call becomes a callback when the event that qualifies it comes last; a late
`answered` withdraws only a callback nothing else depends on; a call that joined someone's
callback is gallrad with that case and can still be logged if it was answered after all; a
reclassified case's callback promises what the new case type's goal promises."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from kontaktcenter.calendar.services import DayExceptionData, add_exception, today
from kontaktcenter.callbacks import hooks, services
from kontaktcenter.callbacks.models import Callback, CallbackSource, CallbackStatus
from kontaktcenter.cases import actions
from kontaktcenter.cases.enums import ActivityKind, CaseStatus
from kontaktcenter.cases.models import Activity
from kontaktcenter.channels.phone import integration
from kontaktcenter.channels.phone.call_log import call_for
from kontaktcenter.channels.phone.models import Call, CallEvent, PhoneQueue
from kontaktcenter.compliance.anonymise import anonymise_cases
from kontaktcenter.core.extensions import db
from kontaktcenter.core.roles import Role
from kontaktcenter.goals.models import CaseGoal, GoalTarget
from kontaktcenter.goals.recompute import refresh_open_cases
from tests import factories
from tests.api_client import Api, api_as

assert hooks

T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
NUMBER = "070-123 45 67"


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


def event(platform: Api, call_id: str, kind: str, seconds: int, **fields) -> None:
    body = {
        "call_id": call_id,
        "event": kind,
        "time": (T0 + timedelta(seconds=seconds)).isoformat(),
    }
    response = platform.post("/calls/events", {**body, **fields})
    assert response.status_code in (200, 201), response.get_json()


def ringing(platform: Api, call_id: str) -> None:
    event(platform, call_id, "ringing", 0, caller=NUMBER, queue="Bygglov")


def abandoned(platform: Api, call_id: str, wait: int = 60) -> None:
    event(platform, call_id, "abandoned", wait, queue_wait_seconds=wait)


def answered(platform: Api, call_id: str, agent) -> None:
    event(platform, call_id, "answered", 61, agent_email=agent.email)


def callbacks() -> list[Callback]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(Callback).order_by(Callback.id)))


def call(call_id: str) -> Call:
    db.session.expire_all()
    return db.session.scalars(sa.select(Call).where(Call.platform_call_id == call_id)).one()


def requested_again(case_id: int) -> int:
    return db.session.scalar(
        sa.select(sa.func.count())
        .select_from(Activity)
        .where(Activity.case_id == case_id, Activity.kind == ActivityKind.CALLBACK_REQUESTED)
    )


# --- finding 4: the event that qualifies the call can come last ------------------------------


def test_an_abandoned_call_whose_wait_arrives_after_its_end_is_called_back(platform, queue):
    ringing(platform, "p-1")
    event(platform, "p-1", "ended", 96)  # no wait: not yet a callback
    assert callbacks() == []
    abandoned(platform, "p-1", wait=95)
    [callback] = callbacks()
    assert callback.source == CallbackSource.ABANDONED and callback.call_id == call("p-1").id
    assert callback.number_e164 == "+46701234567" and callback.status == CallbackStatus.PENDING


def test_an_abandoned_call_whose_caller_and_queue_arrive_later_is_called_back(platform, queue):
    abandoned(platform, "p-2", wait=95)
    assert callbacks() == []
    ringing(platform, "p-2")
    [callback] = callbacks()
    assert callback.call_id == call("p-2").id and callback.case.case_type == queue.case_type


def test_every_later_event_of_an_abandoned_call_leaves_one_callback_and_one_request(
    platform, queue
):
    ringing(platform, "p-1")
    abandoned(platform, "p-1")
    ringing(platform, "p-2")  # the same caller again, while waiting for the callback
    abandoned(platform, "p-2")
    event(platform, "p-1", "ended", 70)
    event(platform, "p-2", "ended", 70)
    event(platform, "p-2", "transferred", 65)
    [callback] = callbacks()
    assert requested_again(callback.case_id) == 1


# --- finding 5: a late `answered` withdraws only what nothing else depends on ----------------


def test_a_late_answered_keeps_a_callback_an_e_service_has_joined(platform, queue, client, org):
    ringing(platform, "x-1")
    abandoned(platform, "x-1")
    eservice = api_as(client, factories.make_user(Role.AGENT, name="E-tjänst"))
    joined = eservice.post(
        "/callbacks", {"number": "0701234567", "reference": "e-9", "note": "Om bygglovet"}
    )
    assert joined.status_code == 200, joined.get_json()
    answered(platform, "x-1", org.agent)
    [callback] = callbacks()
    assert callback.status == CallbackStatus.PENDING
    assert callback.case.status != CaseStatus.CLOSED and callback.case.callback_pending
    assert "besvarades ändå" in callback.case.activities[-1].text


def test_a_late_answered_keeps_a_callback_an_agent_has_worked_on(platform, queue, org):
    ringing(platform, "x-1")
    abandoned(platform, "x-1")
    [callback] = callbacks()
    actions.add_note(callback.case, org.agent, "Ringer efter lunch, hon är i möte.")
    answered(platform, "x-1", org.agent)
    [callback] = callbacks()
    assert callback.status == CallbackStatus.PENDING and callback.case.is_open


def test_a_late_answered_still_withdraws_a_callback_nobody_touched(platform, queue, org):
    ringing(platform, "x-1")
    abandoned(platform, "x-1")
    answered(platform, "x-1", org.agent)
    [callback] = callbacks()
    assert callback.status == CallbackStatus.CANCELLED
    assert callback.case.status == CaseStatus.CLOSED


# --- finding 10: a call that joined a callback belongs to that case --------------------------


def test_a_call_that_joined_a_callback_loses_its_number_when_the_case_is_gallrad(platform, queue):
    ringing(platform, "c-1")
    abandoned(platform, "c-1")
    ringing(platform, "c-2")
    abandoned(platform, "c-2")
    [callback] = callbacks()
    assert call("c-2").case_id == callback.case_id
    anonymise_cases([callback.case_id], db.session)
    db.session.commit()
    for platform_id in ("c-1", "c-2"):
        stored = call(platform_id)
        assert stored.caller_e164 is None
        numbers = db.session.scalars(
            sa.select(CallEvent.caller_e164).where(CallEvent.call_id == stored.id)
        ).all()
        assert numbers and set(numbers) == {None}


def test_a_joined_call_answered_after_all_can_be_logged_by_its_agent(platform, queue, org):
    ringing(platform, "c-1")
    abandoned(platform, "c-1")
    ringing(platform, "c-2")
    abandoned(platform, "c-2")
    answered(platform, "c-2", org.agent)
    joined = call("c-2")
    assert joined.case_id is None and call_for(org.agent, joined.id) is not None
    [callback] = callbacks()
    assert callback.status == CallbackStatus.PENDING and callback.call_id == call("c-1").id


# --- finding 7: the promise follows the goal -----------------------------------------------


def test_reclassifying_gives_the_callback_the_new_case_types_promise(org):
    org.strandskydd.callback_promise_hours = 4
    db.session.commit()
    request = services.CallbackRequest(source=CallbackSource.PLATFORM, number="0701234567")
    callback = services.request(request, by=org.agent).callback
    before = callback.due_at
    actions.classify(callback.case, org.agent, org.strandskydd)
    [callback] = callbacks()
    goal = db.session.scalars(
        sa.select(CaseGoal).where(
            CaseGoal.case_id == callback.case_id,
            CaseGoal.target == GoalTarget.CALLBACK,
            CaseGoal.cancelled_at.is_(None),
        )
    ).one()
    assert goal.due_at != before
    assert callback.due_at == callback.case.callback_due_at == goal.due_at


def test_a_changed_calendar_moves_the_callback_promise_with_its_goal(org):
    org.strandskydd.callback_promise_hours = 4
    db.session.commit()
    request = services.CallbackRequest(
        source=CallbackSource.PLATFORM, number="0701234567", case_type=org.strandskydd
    )
    callback = services.request(request, by=org.agent).callback
    before = callback.due_at
    due_day = before.astimezone(ZoneInfo("Europe/Stockholm")).date()
    add_exception(DayExceptionData(due_day, closed=True, reason="Kompetensdag"), today())
    refresh_open_cases()
    [callback] = callbacks()
    goal = db.session.scalars(
        sa.select(CaseGoal).where(
            CaseGoal.case_id == callback.case_id,
            CaseGoal.target == GoalTarget.CALLBACK,
            CaseGoal.cancelled_at.is_(None),
        )
    ).one()
    assert goal.due_at > before
    assert callback.due_at == callback.case.callback_due_at == goal.due_at
