"""/api/v1/callbacks (#14): the phone platform's queue callback and e-services ask to be called
back; the worklist, one callback and attempts for the token's user.

Every response is checked against the OpenAPI document by `Api`."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from kontaktcenter.callbacks.models import Callback, CallbackSource, CallbackStatus
from kontaktcenter.cases.contacts import ContactData
from kontaktcenter.cases.enums import Outcome
from kontaktcenter.channels.phone import integration
from kontaktcenter.channels.phone.models import PhoneQueue
from kontaktcenter.core.extensions import db, utcnow
from kontaktcenter.core.roles import Role
from tests import factories
from tests.api_client import Api, api_as, error_of
from tests.factories import make_case


@pytest.fixture
def platform(client, org) -> Api:
    user = factories.make_user(Role.AGENT, name="Telefoniplattformen")
    integration.mark_integration(user)
    return api_as(client, user)


def _count() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Callback)) or 0


def _department_callback(org, number: str = "070-555 11 22") -> Callback:
    """A callback booked on a case routed to the building department."""
    case = make_case(
        org.agent,
        org.bygglov,
        Outcome.CALLBACK,
        contact=ContactData(name="Britt Bygg", phone=number),
    )
    return db.session.scalars(sa.select(Callback).where(Callback.case_id == case.id)).one()


def test_the_platform_asks_for_a_callback_in_a_slot(platform, org):
    db.session.add(PhoneQueue(name="bygg-kö", label="Bygglovskön", case_type=org.bygglov))
    db.session.commit()
    start = utcnow() + timedelta(hours=1)
    end = start + timedelta(hours=2)
    answer = platform.post(
        "/callbacks",
        {
            "number": "070-123 45 67",
            "slot": {"from": start.isoformat(), "to": end.isoformat()},
            "queue": "bygg-kö",
            "reference": "ace-991",
            "name": "Sara Svensson",
            "note": "Fråga om altan",
        },
    )
    assert answer.status_code == 201, answer.get_json()
    body = answer.get_json()
    assert body["status"] == "pending" and body["source"] == "platform"
    assert body["number"] == "+46701234567" and body["case_type"] == "bygglov"
    assert datetime.fromisoformat(body["slot"]["from"]) == start
    assert datetime.fromisoformat(body["due_at"]) == end
    assert body["attempts"] == 0 and body["reference"] == "ace-991"
    callback = db.session.get(Callback, body["id"])
    assert callback is not None and callback.case.reference == body["case"]
    assert callback.case.department_id is None  # the contact center's first line
    assert callback.due_at == end  # the promise is the slot's end


def test_a_repeated_reference_makes_one_callback(platform, org):
    body = {"number": "0701234567", "reference": "ace-1"}
    first = platform.post("/callbacks", body)
    again = platform.post("/callbacks", body | {"slot": "asap"})
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.get_json()["id"] == again.get_json()["id"]
    assert _count() == 1


def test_an_e_service_posts_with_an_ordinary_token(client, org):
    answer = api_as(client, org.agent).post(
        "/callbacks", {"number": "+46 70 765 43 21", "case_type": "miljotillsyn", "slot": None}
    )
    assert answer.status_code == 201
    assert answer.get_json()["source"] == CallbackSource.E_SERVICE.value
    assert answer.get_json()["slot"] == "asap"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "number"),
        ({"number": ""}, "number"),
        ({"number": "inte ett nummer"}, "number"),
        ({"number": 46701234567}, "number"),
        ({"number": "0701234567", "slot": "imorgon"}, "slot"),
        ({"number": "0701234567", "slot": {"from": "2026-01-01T10:00:00+01:00"}}, "slot.to"),
        ({"number": "0701234567", "slot": {"from": "igår", "to": "idag"}}, "slot.from"),
        (
            {
                "number": "0701234567",
                "slot": {"from": "2030-01-01T12:00:00+01:00", "to": "2030-01-01T10:00:00+01:00"},
            },
            "slot.to",
        ),
        (
            {
                "number": "0701234567",
                "slot": {"from": "2020-01-01T10:00:00+01:00", "to": "2020-01-01T12:00:00+01:00"},
            },
            "slot.to",
        ),
        ({"number": "0701234567", "queue": "finns-inte"}, "queue"),
        ({"number": "0701234567", "case_type": "finns-inte"}, "case_type"),
        ({"number": "0701234567", "case_type": "bygglov", "queue": "x"}, "case_type"),
        ({"number": "0701234567", "reference": " "}, "reference"),
        ({"number": "0701234567", "note": "x" * 501}, "note"),
        ({"number": "0701234567", "colour": "blå"}, "colour"),
    ],
)
def test_bad_input_is_422_with_the_field(client, org, body, field):
    answer = api_as(client, org.agent).post("/callbacks", body)
    assert answer.status_code == 422, answer.get_json()
    assert error_of(answer)["field"] == field
    assert _count() == 0


def test_the_integration_token_may_post_callbacks_but_not_read_them(platform, org):
    made = platform.post("/callbacks", {"number": "0701234567"}).get_json()
    for answer in (platform.get("/callbacks"), platform.get(f"/callbacks/{made['id']}")):
        assert answer.status_code == 403
    attempt = platform.post(f"/callbacks/{made['id']}/attempts", {"result": "reached"})
    assert attempt.status_code == 403


def test_the_worklist_of_the_contact_center_and_of_a_department(client, org):
    agent = api_as(client, org.agent)
    first_line = agent.post("/callbacks", {"number": "0701111111"}).get_json()
    department = _department_callback(org)
    items = agent.get("/callbacks").get_json()["items"]
    assert [i["id"] for i in items] == [first_line["id"]]
    handler = api_as(client, org.handler_bygg)
    assert [i["id"] for i in handler.get("/callbacks").get_json()["items"]] == [department.id]
    manager = api_as(client, org.manager)
    chosen = manager.get("/callbacks?department=stadsbyggnad").get_json()["items"]
    assert [i["id"] for i in chosen] == [department.id]


def test_a_handler_never_sees_another_departments_callback(client, org):
    department = _department_callback(org)
    other = api_as(client, org.handler_miljo)
    assert other.get("/callbacks").get_json()["items"] == []
    answer = other.get("/callbacks?department=stadsbyggnad")
    assert answer.status_code == 422 and error_of(answer)["field"] == "department"
    assert other.get(f"/callbacks/{department.id}").status_code == 404
    attempt = other.post(f"/callbacks/{department.id}/attempts", {"result": "reached"})
    assert attempt.status_code == 404
    assert db.session.get(Callback, department.id).attempts == 0


def test_attempts_through_the_api(client, org):
    department = _department_callback(org)
    handler = api_as(client, org.handler_bygg)
    answer = handler.post(f"/callbacks/{department.id}/attempts", {"result": "no_answer"})
    assert answer.status_code == 201
    body = answer.get_json()
    assert body["attempts"] == 1 and body["status"] == "pending"
    assert body["next_attempt_at"] is not None
    reached = handler.post(f"/callbacks/{department.id}/attempts", {"result": "reached"})
    assert reached.get_json()["status"] == CallbackStatus.REACHED.value
    again = handler.post(f"/callbacks/{department.id}/attempts", {"result": "reached"})
    assert again.status_code == 422
    bad = handler.post(f"/callbacks/{department.id}/attempts", {"result": "kanske"})
    assert bad.status_code == 422 and error_of(bad)["field"] == "result"


def test_a_manager_may_read_but_not_record_attempts(client, org):
    department = _department_callback(org)
    manager = api_as(client, org.manager)
    assert manager.get(f"/callbacks/{department.id}").status_code == 200
    answer = manager.post(f"/callbacks/{department.id}/attempts", {"result": "reached"})
    assert answer.status_code == 403


def test_no_token_no_callback(client, org):
    assert Api(client).post("/callbacks", {"number": "0701234567"}).status_code == 401
    assert _count() == 0
