"""POST /api/v1/calls/events (#14): who may post, idempotency, any order, numbers.

Every response is checked against the OpenAPI document by `Api`."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from kontaktcenter.channels.phone import integration
from kontaktcenter.channels.phone.call_events import parse_number
from kontaktcenter.channels.phone.models import Call, CallEvent
from kontaktcenter.core.extensions import db
from kontaktcenter.core.roles import Role
from tests import factories
from tests.api_client import Api, api_as, error_of

T0 = datetime(2026, 11, 16, 9, 30, tzinfo=UTC)
_ids = itertools.count(1)


@pytest.fixture
def platform(client, org) -> Api:
    user = factories.make_user(Role.AGENT, name="Telefoniplattformen")
    integration.mark_integration(user)
    return api_as(client, user)


def at(seconds: int) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat()


def event(kind: str, call_id: str = "c-1", **fields) -> dict:
    return {"call_id": call_id, "event": kind, **fields}


def the_call(call_id: str = "c-1") -> Call:
    db.session.expire_all()
    return db.session.scalars(sa.select(Call).where(Call.platform_call_id == call_id)).one()


def events_of(call_id: str = "c-1") -> int:
    return db.session.scalar(
        sa.select(sa.func.count())
        .select_from(CallEvent)
        .join(Call)
        .where(Call.platform_call_id == call_id)
    )


def full_call(agent_email: str) -> list[dict]:
    return [
        event("ringing", caller="070-123 45 67", called="060-19 10 00", queue="Växeln", time=at(0)),
        event("answered", time=at(40), queue_wait_seconds=38, agent_email=agent_email),
        event("ended", time=at(220)),
    ]


def test_a_call_in_order_becomes_one_call_with_its_times(platform, org):
    answers = [platform.post("/calls/events", body) for body in full_call(org.agent.email)]
    assert [r.status_code for r in answers] == [201, 201, 201]
    call = answers[-1].get_json()["call"]
    assert call["state"] == "ended"
    assert call["caller"] == "+46701234567"
    assert call["called"] == "+4660191000"
    assert call["queue"] == "Växeln"
    assert call["agent"] == org.agent.email
    assert call["answered_at"] == at(40)
    assert call["talk_seconds"] == 180
    assert call["queue_wait_seconds"] == 38


@pytest.mark.parametrize("order", [(2, 1, 0), (1, 2, 0), (2, 0, 1), (0, 2, 1)])
def test_the_order_of_arrival_does_not_matter(platform, org, order):
    events = full_call(org.agent.email)
    for index in order:
        platform.post("/calls/events", events[index])
    call = the_call()
    assert call.state.value == "ended"
    assert call.caller_e164 == "+46701234567"
    assert call.answered_at == T0 + timedelta(seconds=40)
    assert call.ended_at == T0 + timedelta(seconds=220)
    assert call.agent_id == org.agent.id
    assert call.talk_seconds == 180
    assert call.abandoned_at is None


def test_a_repeat_is_a_duplicate_and_changes_nothing(platform, org):
    first = platform.post(
        "/calls/events", event("answered", agent_email=org.agent.email, time=at(40))
    )
    again = platform.post(
        "/calls/events", event("answered", agent_email=org.admin.email, time=at(99))
    )
    assert first.status_code == 201 and first.get_json()["duplicate"] is False
    assert again.status_code == 200 and again.get_json()["duplicate"] is True
    assert again.get_json()["event"]["id"] == first.get_json()["event"]["id"]
    call = the_call()
    assert call.agent_id == org.agent.id and call.answered_at == T0 + timedelta(seconds=40)
    assert events_of() == 1


def test_an_ended_call_nobody_answered_is_abandoned_until_an_answer_turns_up(platform, org):
    platform.post("/calls/events", event("ringing", caller="0701234567", time=at(0)))
    platform.post("/calls/events", event("ended", time=at(30)))
    assert the_call().state.value == "abandoned"
    assert the_call().abandoned_at == T0 + timedelta(seconds=30)
    platform.post("/calls/events", event("answered", agent_email=org.agent.email, time=at(10)))
    call = the_call()
    assert call.state.value == "ended" and call.abandoned_at is None


def test_abandoned_calls_are_kept_with_their_number_and_queue(platform):
    answer = platform.post(
        "/calls/events",
        event("abandoned", caller="+46 70 765 43 21", queue="Bygglov", queue_wait_seconds=95),
    )
    call = answer.get_json()["call"]
    assert (call["state"], call["caller"], call["queue"]) == (
        "abandoned",
        "+46707654321",
        "Bygglov",
    )
    assert call["queue_wait_seconds"] == 95 and call["abandoned_at"] is not None


@pytest.mark.parametrize("caller", [None, "", "anonymous", "Private", "sip:anonymous@pbx.example"])
def test_hidden_numbers_are_kept_hidden(platform, caller):
    answer = platform.post("/calls/events", event("ringing", caller=caller))
    call = answer.get_json()["call"]
    assert call["caller_hidden"] is True and call["caller"] is None
    assert the_call().caller_label == "Dolt nummer"


def test_an_event_without_a_caller_does_not_hide_a_known_number(platform):
    platform.post("/calls/events", event("ended", time=at(60)))
    platform.post("/calls/events", event("ringing", caller="070-123 45 67", time=at(0)))
    call = the_call()
    assert call.caller_hidden is False and call.caller_e164 == "+46701234567"


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("070-123 45 67", "+46701234567"),
        ("0046701234567", "+46701234567"),
        ("+46 (0)70 123 45 67", "+46701234567"),
        ("sip:+46701234567@pbx.example;user=phone", "+46701234567"),
        ("tel:060-19 10 00", "+4660191000"),
        ("+47 22 00 00 00", "+4722000000"),
    ],
)
def test_numbers_are_normalised_to_e164(raw, e164):
    assert parse_number(raw).e164 == e164


def test_what_is_not_a_number_is_kept_as_sent():
    number = parse_number("sip:reception@pbx.example")
    assert (number.e164, number.raw, number.hidden) == (None, "sip:reception@pbx.example", False)


def test_agents_are_found_by_platform_id(platform, org):
    integration.map_agent("agent-17", org.agent)
    answer = platform.post("/calls/events", event("answered", agent_id="agent-17"))
    assert answer.get_json()["call"]["agent"] == org.agent.email


def test_an_unknown_agent_is_recorded_as_no_agent(platform):
    answer = platform.post("/calls/events", event("answered", agent_email="vem@example.org"))
    assert answer.status_code == 201
    assert answer.get_json()["call"]["agent"] is None
    assert answer.get_json()["screen_pop"] is False


def test_an_inactive_agent_is_no_agent(platform, org):
    org.agent.active = False
    db.session.commit()
    answer = platform.post("/calls/events", event("answered", agent_email=org.agent.email))
    assert answer.get_json()["call"]["agent"] is None


@pytest.mark.parametrize("role", ["agent", "admin"])
def test_an_ordinary_token_may_not_post_call_events(client, org, role):
    api = api_as(client, getattr(org, role))
    answer = api.post("/calls/events", event("ringing"))
    assert answer.status_code == 403
    assert error_of(answer)["code"] == "forbidden"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Call)) == 0


def test_an_integration_token_posts_call_events_and_nothing_else(client, org, platform):
    assert platform.post("/calls/events", event("ringing")).status_code == 201
    case = factories.make_case(org.agent, org.bygglov)
    for answer in (
        platform.get("/cases"),
        platform.get(f"/cases/{case.reference}"),
        platform.get("/search?q=altan"),
        platform.post(f"/cases/{case.reference}/notes", json={"text": "Hej"}),
    ):
        assert answer.status_code == 403
        assert "samtalshändelser" in error_of(answer)["message"]
    assert api_as(client, org.agent).get("/cases").status_code == 200  # others unaffected


def test_no_token_no_event(client, org):
    assert Api(client).post("/calls/events", event("ringing")).status_code == 401


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"event": "ringing"}, "call_id"),
        ({"call_id": "   ", "event": "ringing"}, "call_id"),
        ({"call_id": "c", "event": "picked_up"}, "event"),
        ({"call_id": "c", "event": "ringing", "time": "09:30"}, "time"),
        ({"call_id": "c", "event": "ringing", "time": "2026-11-16T09:30:00"}, "time"),
        ({"call_id": "c", "event": "ringing", "queue_wait_seconds": -1}, "queue_wait_seconds"),
        ({"call_id": "c", "event": "ringing", "caller": 4670}, "caller"),
        ({"call_id": "c", "event": "ringing", "colour": "blue"}, "colour"),
        ({"call_id": "x" * 101, "event": "ringing"}, "call_id"),
    ],
)
def test_bad_events_are_refused_with_the_field(platform, body, field):
    answer = platform.post("/calls/events", body)
    assert answer.status_code == 422
    assert error_of(answer)["field"] == field


def test_a_body_that_is_not_json_is_refused(platform):
    answer = platform.post("/calls/events", data="ringing", content_type="text/plain")
    assert answer.status_code == 415


def test_a_time_without_zone_is_refused_but_a_missing_time_is_now(platform):
    answer = platform.post("/calls/events", event("ringing"))
    ringing_at = datetime.fromisoformat(answer.get_json()["call"]["ringing_at"])
    assert abs((ringing_at - datetime.now(UTC)).total_seconds()) < 60


def test_a_transfer_hands_the_call_to_the_new_agent(platform, org):
    other = factories.make_user(Role.AGENT, name="Olle Annan")
    platform.post("/calls/events", event("answered", agent_email=org.agent.email, time=at(10)))
    answer = platform.post(
        "/calls/events", event("transferred", agent_email=other.email, time=at(70))
    )
    body = answer.get_json()
    assert body["call"]["transferred_to"] == other.email and body["screen_pop"] is True
    assert the_call().handled_by_id == other.id
