"""Acting on a case through the API: notes and closing, with permissions and stale versions."""

from __future__ import annotations

import pytest

from kontaktcenter.cases.enums import CaseStatus, Outcome
from tests.api_client import Api, api_as, error_of
from tests.factories import make_case


@pytest.fixture
def case(org):
    return make_case(org.agent, org.bygglov)


@pytest.fixture
def handler(client, org) -> Api:
    return api_as(client, org.handler_bygg)


def test_a_note_is_added_to_the_timeline(handler, case):
    response = handler.post(f"/cases/{case.reference}/notes", {"text": "  Ringde tillbaka  "})
    assert response.status_code == 201
    body = response.get_json()
    assert body["timeline"][-1]["kind"] == "note"
    assert body["timeline"][-1]["text"] == "Ringde tillbaka"
    assert body["timeline"][-1]["by"] == {"name": "Hugo Bygg"}
    assert body["version"] == case.version > 1


@pytest.mark.parametrize("role", ["agent", "manager", "admin"])
def test_every_role_that_sees_a_case_may_note_it(client, org, case, role):
    api = api_as(client, getattr(org, role))
    assert api.post(f"/cases/{case.reference}/notes", {"text": "Hej"}).status_code == 201


def test_a_note_on_a_stale_version_is_a_conflict(handler, case):
    version = case.version
    assert handler.post(f"/cases/{case.reference}/notes", {"text": "Först"}).status_code == 201
    response = handler.post(f"/cases/{case.reference}/notes", {"text": "Andra", "version": version})
    assert response.status_code == 409
    assert error_of(response)["code"] == "conflict"
    assert [a.text for a in case.activities][-1] == "Först"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"text": ""}, "text"),
        ({"text": "   "}, "text"),
        ({}, "text"),
        ({"text": 5}, "text"),
        ({"text": "x" * 4001}, "text"),
        ({"text": "Hej", "version": "3"}, "version"),
        ({"text": "Hej", "version": 0}, "version"),
        ({"text": "Hej", "version": True}, "version"),
        ({"text": "Hej", "version": 2**40}, "version"),
        ({"text": "Hej", "pinned": True}, "pinned"),
    ],
)
def test_invalid_notes_are_422(handler, case, body, field):
    response = handler.post(f"/cases/{case.reference}/notes", body)
    assert response.status_code == 422
    assert error_of(response)["field"] == field


def test_a_note_needs_a_json_body(handler, case):
    response = handler.post(f"/cases/{case.reference}/notes", data="text=Hej")
    assert response.status_code == 415
    response = handler.post(
        f"/cases/{case.reference}/notes", data="[]", content_type="application/json"
    )
    assert response.status_code == 400


def test_a_handler_closes_a_case_of_their_department(handler, case):
    body = {"resolution": "Förklarade reglerna.", "version": case.version}
    response = handler.post(f"/cases/{case.reference}/close", body)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["status"] == "closed" and body["resolution"] == "Förklarade reglerna."
    assert body["timeline"][-1]["kind"] == "closed"
    assert case.status == CaseStatus.CLOSED


def test_closing_rules_come_from_the_services(client, org, handler, case):
    manager = api_as(client, org.manager)
    response = manager.post(f"/cases/{case.reference}/close", {"resolution": "Klart"})
    assert response.status_code == 403 and error_of(response)["code"] == "forbidden"
    response = handler.post(f"/cases/{case.reference}/close", {"resolution": " "})
    assert response.status_code == 422 and error_of(response)["field"] == "resolution"
    old = case.version
    handler.post(f"/cases/{case.reference}/notes", {"text": "Någon hann före"})
    stale = handler.post(f"/cases/{case.reference}/close", {"resolution": "Klart", "version": old})
    assert stale.status_code == 409
    assert (
        handler.post(f"/cases/{case.reference}/close", {"resolution": "Klart"}).status_code == 200
    )
    again = handler.post(f"/cases/{case.reference}/close", {"resolution": "Klart"})
    assert again.status_code == 422 and "avslutat" in error_of(again)["message"]


def test_a_closed_case_can_still_get_a_note(handler, org):
    closed = make_case(org.agent, org.bygglov, outcome=Outcome.HANDED_OFF)
    response = handler.post(f"/cases/{closed.reference}/notes", {"text": "Efterhand"})
    assert response.status_code == 201
