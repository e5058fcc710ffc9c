"""Reading cases through the API: one case, the paged list with filters, department isolation."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from kontaktcenter.cases.contacts import ContactData
from kontaktcenter.cases.enums import Channel, Outcome
from kontaktcenter.cases.queries import encode_cursor
from kontaktcenter.core.audit import AuditEvent
from kontaktcenter.core.extensions import db
from tests.api_client import Api, api_as, error_of
from tests.factories import make_case
from tests.statements import statements

T0 = datetime(2024, 5, 2, 8, 0, tzinfo=UTC)


@pytest.fixture
def agent(client, org) -> Api:
    return api_as(client, org.agent)


def _refs(response) -> list[str]:
    return [item["reference"] for item in response.get_json()["items"]]


def _all_pages(api: Api, query: str) -> list[list[str]]:
    pages, cursor = [], None
    while True:
        url = f"/cases?{query}" + (f"&cursor={cursor}" if cursor else "")
        response = api.get(url)
        assert response.status_code == 200
        pages.append(_refs(response))
        cursor = response.get_json()["next"]
        if cursor is None:
            return pages


# -- One case ----------------------------------------------------------------------------------


def test_a_case_with_its_timeline_masked_personnummer_and_an_audit_entry(agent, org):
    case = make_case(
        org.agent,
        org.bygglov,
        contact=ContactData(name="Tolvan Tolvansson", personnummer="191212121212"),
        note="Ringde från jobbet",
    )
    body = agent.get(f"/cases/{case.reference.lower()}").get_json()
    assert body["reference"] == case.reference
    assert body["contact"]["personnummer"] == "19121212-****"
    assert "19121212-1212" not in json.dumps(body)
    assert [e["kind"] for e in body["timeline"]] == ["call_logged", "note", "routed"]
    assert body["timeline"][1] == {
        "kind": "note",
        "label": "Intern anteckning",
        "at": body["timeline"][1]["at"],
        "by": {"name": "Agnes Agent"},
        "text": "Ringde från jobbet",
        "data": {},
    }
    audit = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.case_id == case.id, AuditEvent.action == "view_case")
    ).one()
    assert audit.action == "view_case" and audit.user_id == org.agent.id
    assert audit.detail == {"via": "api"}


@pytest.mark.parametrize("reference", ["KC-2024-999999", "nonsense", "KC-2024-1%00"])
def test_an_unknown_case_is_404(agent, org, reference):
    response = agent.get(f"/cases/{reference}")
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


# -- Department isolation ------------------------------------------------------------------------


def test_a_handler_sees_only_their_departments_cases(client, org):
    bygg = make_case(org.agent, org.bygglov)
    miljo = make_case(org.agent, org.miljotillsyn)
    first_line = make_case(org.agent, None, outcome=None, channel=Channel.EMAIL)
    handler = api_as(client, org.handler_bygg)
    assert handler.get(f"/cases/{bygg.reference}").status_code == 200
    for hidden in (miljo, first_line):
        response = handler.get(f"/cases/{hidden.reference}")
        assert response.status_code == 404
        assert (
            error_of(response)["message"]
            == api_as(client, org.handler_bygg)
            .get("/cases/KC-2024-999999")
            .get_json()["error"]["message"]
        )  # foreign and missing look alike
    assert _refs(handler.get("/cases")) == [bygg.reference]
    assert _refs(handler.get("/cases?department=miljo")) == []
    assert _refs(handler.get("/cases?case_type=miljotillsyn&limit=200")) == []
    everyone = _refs(api_as(client, org.manager).get("/cases"))
    assert set(everyone) == {bygg.reference, miljo.reference, first_line.reference}


def test_a_handler_cannot_write_to_a_foreign_case(client, org):
    miljo = make_case(org.agent, org.miljotillsyn)
    handler = api_as(client, org.handler_bygg)
    assert handler.post(f"/cases/{miljo.reference}/notes", {"text": "Hej"}).status_code == 404
    response = handler.post(f"/cases/{miljo.reference}/close", {"resolution": "Klart"})
    assert response.status_code == 404
    assert [a.kind.value for a in miljo.activities] == ["call_logged", "routed"]


# -- Paging --------------------------------------------------------------------------------------


def test_paging_through_more_than_two_pages_has_no_duplicates_or_gaps(agent, org):
    cases = [
        # Equal arrival times: the id breaks the tie.
        make_case(org.agent, org.bygglov, received_at=T0 + timedelta(minutes=i // 2))
        for i in range(9)
    ]
    expected = [c.reference for c in sorted(cases, key=lambda c: (c.received_at, c.id))][::-1]
    pages = _all_pages(agent, "limit=2")
    assert [len(p) for p in pages] == [2, 2, 2, 2, 1]
    assert [ref for page in pages for ref in page] == expected


def test_new_cases_do_not_shift_later_pages(agent, org):
    cases = [
        make_case(org.agent, org.bygglov, received_at=T0 + timedelta(hours=i)) for i in range(5)
    ]
    first = agent.get("/cases?limit=2").get_json()
    make_case(org.agent, org.bygglov)  # arrives now: newer than all of them
    rest = _refs(agent.get(f"/cases?limit=10&cursor={first['next']}"))
    seen = _refs_of(first) + rest
    assert seen == [c.reference for c in reversed(cases)]


def _refs_of(body: dict) -> list[str]:
    return [item["reference"] for item in body["items"]]


def test_the_default_page_size_comes_from_the_config(agent, org, app, monkeypatch):
    monkeypatch.setitem(app.config, "API_PAGE_SIZE", 3)
    for _ in range(4):
        make_case(org.agent, org.bygglov)
    body = agent.get("/cases").get_json()
    assert len(body["items"]) == 3 and body["next"] is not None
    assert "timeline" not in body["items"][0]


def _statements(api: Api, url: str) -> int:
    with statements() as executed:
        assert api.get(url).status_code == 200
    return len(executed)


def test_listing_costs_the_same_number_of_queries_for_any_page_size(client, org):
    api = api_as(client, org.agent)
    for i in range(12):
        assignee = org.handler_bygg if i % 2 else None
        case = make_case(
            org.agent,
            org.bygglov,
            received_at=T0 + timedelta(minutes=i),
            contact=ContactData(name=f"Person {i}", phone=f"070-123 45 {i:02d}"),
        )
        case.assignee = assignee
    db.session.commit()
    api.get("/cases?limit=1")  # the token's last_used_at is written once: not counted below
    a, b = _statements(api, "/cases?limit=2"), _statements(api, "/cases?limit=12")
    assert a == b > 0


def test_listing_is_audited(agent, org):
    case = make_case(org.agent, org.bygglov)
    agent.get("/cases")
    event = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "list_cases")).one()
    assert event.detail == {"via": "api", "references": [case.reference]}


# -- Filters -------------------------------------------------------------------------------------


@pytest.fixture
def mix(org):
    """Cases across channels, departments, statuses and days (Stockholm is UTC+2 in May)."""
    return {
        "phone_bygg": make_case(org.agent, org.bygglov, received_at=T0),
        "phone_miljo": make_case(org.agent, org.miljotillsyn, received_at=T0 + timedelta(days=1)),
        "visit_answered": make_case(
            org.agent,
            None,
            outcome=Outcome.ANSWERED,
            channel=Channel.VISIT,
            received_at=T0 + timedelta(days=2),
        ),
        # 21:30 UTC is 23:30 in Stockholm: still 1 May there.
        "web_late": make_case(
            org.agent,
            org.strandskydd,
            outcome=None,
            channel=Channel.WEB,
            received_at=datetime(2024, 5, 1, 21, 30, tzinfo=UTC),
        ),
    }


FILTERS = {
    "channel=phone": ["phone_miljo", "phone_bygg"],
    "channel=web": ["web_late"],
    "status=closed": ["visit_answered"],
    "status=new": ["phone_miljo", "phone_bygg", "web_late"],
    "department=stadsbyggnad": ["phone_bygg"],
    "department=miljo": ["phone_miljo"],
    "case_type=strandskydd": ["web_late"],
    "received_from=2024-05-02": ["visit_answered", "phone_miljo", "phone_bygg"],
    "received_to=2024-05-02": ["web_late"],
    "received_from=2024-05-01&received_to=2024-05-02": ["web_late"],
    "received_from=2024-05-03T10:00:00%2B02:00": ["visit_answered", "phone_miljo"],
    "received_from=2024-05-03T10:00:00+02:00": ["visit_answered", "phone_miljo"],
    "received_from=2024-05-03T10:00:00": ["visit_answered", "phone_miljo"],
    "received_to=2024-05-02T08:00:00Z": ["web_late"],
    "channel=phone&department=miljo&status=new": ["phone_miljo"],
}


@pytest.mark.parametrize("query", sorted(FILTERS))
def test_filters(agent, mix, query):
    assert _refs(agent.get(f"/cases?{query}")) == [mix[name].reference for name in FILTERS[query]]


BAD_PARAMETERS = [
    ("channel=fax", "channel"),
    ("status=done", "status"),
    ("department=finns-inte", "department"),
    ("department=Stads%20byggnad", "department"),
    ("case_type=finns-inte", "case_type"),
    ("received_from=igår", "received_from"),
    ("received_from=2024-13-01", "received_from"),
    ("received_to=0001-01-01T00:00:00%2B01:00", "received_to"),
    ("received_from=2024-05-02&received_to=2024-05-01", "received_to"),
    ("limit=0", "limit"),
    ("limit=201", "limit"),
    ("limit=abc", "limit"),
    ("limit=-1", "limit"),
    ("limit=" + "9" * 5000, "limit"),
    ("status=new&status=open", "status"),
    ("stauts=new", "stauts"),
]
# A NUL in the query string is a 400 before any route: tests/test_nul_bytes.py.


@pytest.mark.parametrize(("query", "field"), BAD_PARAMETERS, ids=[q for q, _ in BAD_PARAMETERS])
def test_bad_parameters_are_422_with_the_parameter(agent, org, query, field):
    response = agent.get(f"/cases?{query}")
    assert response.status_code == 422
    assert error_of(response)["field"] == field


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


TAMPERED = [
    "not-a-cursor!",
    _b64(b"not json"),
    _b64(b'{"a": 1}'),
    encode_cursor(["2024-05-02T08:00:00+00:00"]),
    encode_cursor(["2024-05-02T08:00:00+00:00", 1, 2]),
    encode_cursor(["2024-05-02T08:00:00+00:00", "1"]),
    encode_cursor(["2024-05-02T08:00:00+00:00", True]),
    encode_cursor(["2024-05-02T08:00:00+00:00", 10**30]),
    encode_cursor(["2024-05-02T08:00:00", 1]),
    encode_cursor(["yesterday", 1]),
    encode_cursor([20240502, 1]),
    encode_cursor(["0001-01-01T00:00:00+01:00", 1]),
    "A" * 5000,
]


@pytest.mark.parametrize("cursor", TAMPERED)
def test_a_tampered_cursor_is_422(agent, org, cursor):
    make_case(org.agent, org.bygglov)
    response = agent.get(f"/cases?cursor={cursor}")
    assert response.status_code == 422
    assert error_of(response) == {
        "code": "invalid",
        "field": "cursor",
        "message": "Ogiltig sidmarkör.",
    }


def test_a_cursor_past_the_end_gives_an_empty_page(agent, org):
    make_case(org.agent, org.bygglov, received_at=T0)
    cursor = encode_cursor([(T0 - timedelta(days=1)).isoformat(), 1])
    assert agent.get(f"/cases?cursor={cursor}").get_json() == {"items": [], "next": None}
