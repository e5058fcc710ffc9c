"""Callback requests from outside a case (#14, review R1): which waiting callback a request
joins, and what a requester gets back when it sends the same request again.

A person who asks again while a callback waits in the contact center's first line gets one call,
not two; but a request never lands on another department's case or a secret case, never takes
another requester's callback, and a request sent again changes nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from kontaktcenter.callbacks import hooks, services
from kontaktcenter.callbacks.models import Callback, CallbackSource, CallbackStatus
from kontaktcenter.callbacks.services import CallbackRequest
from kontaktcenter.cases.contacts import ContactData
from kontaktcenter.cases.enums import ActivityKind, CallbackResult, Outcome
from kontaktcenter.cases.models import Activity, Case
from kontaktcenter.channels.phone import integration
from kontaktcenter.core.extensions import db, utcnow
from kontaktcenter.core.roles import Role
from tests import factories
from tests.api_client import Api, api_as

assert hooks  # the receivers are connected on import

NUMBER = "070-555 11 22"
E164 = "+46705551122"


@pytest.fixture
def platform(client, org) -> Api:
    user = factories.make_user(Role.AGENT, name="Telefoniplattformen")
    integration.mark_integration(user)
    return api_as(client, user)


@pytest.fixture
def eservice(client, org) -> Api:
    return api_as(client, factories.make_user(Role.AGENT, name="E-tjänst bygglov"))


def _callbacks() -> list[Callback]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(Callback).order_by(Callback.id)))


def _requested_again(case_id: int) -> list[Activity]:
    return list(
        db.session.scalars(
            sa.select(Activity).where(
                Activity.case_id == case_id, Activity.kind == ActivityKind.CALLBACK_REQUESTED
            )
        )
    )


def _request(org, **kwargs) -> services.Requested:
    kwargs.setdefault("source", CallbackSource.PLATFORM)
    kwargs.setdefault("number", NUMBER)
    return services.request(CallbackRequest(**kwargs), org.agent)


# --- which waiting callback a request joins ---------------------------------------------------


@pytest.mark.parametrize("secret", [True, False])
def test_a_request_never_joins_a_departments_callback_and_shows_nothing_of_it(
    eservice, org, secret
):
    if secret:
        org.miljotillsyn.secrecy_ground = "OSL 26:1"
        db.session.commit()
    department_case = factories.make_case(
        org.agent, org.miljotillsyn, Outcome.CALLBACK, contact=ContactData(phone=NUMBER)
    )
    assert department_case.department_id == org.miljo.id
    answer = eservice.post(
        "/callbacks", {"number": "0705551122", "note": "Fråga om sophämtning", "reference": "e-1"}
    )
    assert answer.status_code == 201, answer.get_json()
    body = answer.get_json()
    assert body["case"] != department_case.reference
    assert body["department"] is None and body["case_type"] is None
    assert _requested_again(department_case.id) == []
    mine = db.session.get(Callback, body["id"])
    assert mine.case.summary == "Fråga om sophämtning" and mine.number_e164 == E164
    assert [c.status for c in _callbacks()] == [CallbackStatus.PENDING] * 2


def test_a_request_never_joins_a_secret_first_line_case(org):
    first = _request(org, platform_ref="p-1")
    first.callback.case.secrecy_ground = "OSL 21:1"
    db.session.commit()
    again = _request(org, source=CallbackSource.E_SERVICE, note="Något annat")
    assert again.created and again.callback.case_id != first.callback.case_id
    assert _requested_again(first.callback.case_id) == []


def test_a_request_about_a_secret_case_type_makes_its_own_callback(org):
    org.strandskydd.secrecy_ground = "OSL 26:1"
    db.session.commit()
    first = _request(org)  # no case type
    again = _request(org, source=CallbackSource.E_SERVICE, case_type=org.strandskydd)
    assert again.created and again.callback.case.case_type == org.strandskydd
    assert _requested_again(first.callback.case_id) == []


def test_a_request_joins_a_waiting_callback_of_the_same_or_no_case_type_only(org):
    bygglov = _request(org, case_type=org.bygglov, platform_ref="p-1").callback
    same = _request(org, source=CallbackSource.E_SERVICE, case_type=org.bygglov)
    untyped = _request(org, source=CallbackSource.E_SERVICE, note="Ingen typ")
    other = _request(org, source=CallbackSource.E_SERVICE, case_type=org.strandskydd)
    assert (same.created, untyped.created, other.created) == (False, False, True)
    assert same.callback.id == untyped.callback.id == bygglov.id
    assert other.callback.case.case_type == org.strandskydd
    assert len(_requested_again(bygglov.case_id)) == 2


def test_a_joining_request_with_an_earlier_slot_makes_it_the_promise(org):
    waiting = _request(org).callback  # as soon as possible: the default callback promise
    promise = waiting.due_at
    start = utcnow() + timedelta(hours=1)
    end = start + timedelta(hours=1)
    assert end < promise
    joined = _request(org, source=CallbackSource.E_SERVICE, slot_start=start, slot_end=end)
    assert not joined.created
    [callback] = _callbacks()
    assert (callback.slot_start, callback.slot_end) == (start, end)
    assert callback.due_at == callback.case.callback_due_at == end
    assert callback.next_attempt_at == start  # as the person asked
    [note] = _requested_again(callback.case_id)
    assert note.data["slot_to"] == end.isoformat()
    booked = db.session.scalars(
        sa.select(Activity)
        .where(Activity.case_id == callback.case_id, Activity.kind == ActivityKind.CALLBACK_BOOKED)
        .order_by(Activity.id)
    ).all()
    assert booked[-1].data["due_at"] == end.isoformat()  # the new promise on the timeline


def test_a_joining_request_with_a_later_slot_keeps_the_promise_and_notes_the_slot(org):
    soon = utcnow() + timedelta(minutes=30)
    waiting = _request(org, slot_start=soon, slot_end=soon + timedelta(hours=1)).callback
    promise = waiting.due_at
    later = utcnow() + timedelta(days=2)
    _request(
        org, source=CallbackSource.E_SERVICE, slot_start=later, slot_end=later + timedelta(hours=1)
    )
    [callback] = _callbacks()
    assert callback.due_at == promise and callback.slot_start == soon
    [note] = _requested_again(callback.case_id)
    assert note.data["slot_from"] == later.isoformat()


# --- the same request again -----------------------------------------------------------------


def test_two_e_services_with_the_same_reference_each_get_their_own_callback(client, org):
    bygg = api_as(client, factories.make_user(Role.AGENT, name="E-tjänst bygglov"))
    skola = api_as(client, factories.make_user(Role.AGENT, name="E-tjänst skola"))
    first = bygg.post("/callbacks", {"number": "070-111 11 11", "reference": "1001"})
    second = skola.post("/callbacks", {"number": "070-222 22 22", "reference": "1001"})
    assert (first.status_code, second.status_code) == (201, 201), second.get_json()
    assert second.get_json()["number"] == "+46702222222"
    assert first.get_json()["case"] != second.get_json()["case"]
    again = skola.post("/callbacks", {"number": "070-222 22 22", "reference": "1001"})
    assert again.status_code == 200 and again.get_json()["id"] == second.get_json()["id"]
    assert len(_callbacks()) == 2


def test_a_joining_request_sent_again_adds_nothing_to_the_case(platform, org):
    made = platform.post("/callbacks", {"number": NUMBER, "reference": "ace-1"}).get_json()
    answers = [
        platform.post("/callbacks", {"number": NUMBER, "reference": "ace-7", "note": "Igen"})
        for _ in range(3)
    ]
    assert {a.status_code for a in answers} == {200}
    assert {a.get_json()["id"] for a in answers} == {made["id"]}
    case = db.session.scalars(sa.select(Case).where(Case.reference == made["case"])).one()
    assert [n.text for n in _requested_again(case.id)] == ["Igen"]


def test_a_joining_request_sent_again_after_the_call_makes_no_new_callback(org):
    first = _request(org, platform_ref="ace-1")
    joined = _request(org, platform_ref="ace-7")
    assert not joined.created and joined.callback.id == first.callback.id
    services.record_attempt(first.callback, org.agent, CallbackResult.REACHED)
    again = _request(org, platform_ref="ace-7")
    assert not again.created and again.callback.id == first.callback.id
    assert [c.status for c in _callbacks()] == [CallbackStatus.REACHED]
    assert len(_requested_again(first.callback.case_id)) == 1
