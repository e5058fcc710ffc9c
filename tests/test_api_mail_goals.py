"""The API's e-mail door, replies, service goals on cases, and the working-day calendar."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from kontaktcenter.calendar.business_calendar import Unit
from kontaktcenter.cases.contacts import ContactData
from kontaktcenter.cases.enums import Channel
from kontaktcenter.channels.email.models import MailKind, MailMessage
from kontaktcenter.core.extensions import db
from kontaktcenter.goals.models import GoalTarget, ServiceGoal
from tests.api_client import api_as, error_of
from tests.factories import make_case
from tests.mailutil import SWEDISH, make_mail


@pytest.fixture(autouse=True)
def outbox(app, tmp_path):
    app.config["OUTBOX_DIR"] = str(tmp_path)
    yield tmp_path
    app.config["OUTBOX_DIR"] = None


def post_mail(api, raw: bytes, content_type: str = "message/rfc822"):
    return api.open("POST", "/inbound/email", data=raw, content_type=content_type)


def test_inbound_email_creates_joins_and_dedupes(client, org):
    api = api_as(client, org.agent)
    raw = make_mail(message_id="<a1@example.se>", subject="Buller från granne")
    created = post_mail(api, raw)
    assert created.status_code == 201
    body = created.get_json()
    assert body["result"] == "created" and body["reference"].startswith("KC-")
    assert post_mail(api, raw).get_json() == {
        "reference": body["reference"],
        "result": "duplicate",
        "reason": "Meddelandet är redan mottaget.",
    }
    joined = post_mail(api, make_mail(message_id="<a2@example.se>", in_reply_to="<a1@example.se>"))
    assert joined.status_code == 200 and joined.get_json()["result"] == "joined"
    case = api.get(f"/cases/{body['reference']}").get_json()
    assert case["channel"] == "email" and len(case["messages"]) >= 2
    assert case["messages"][0]["subject"] == "Buller från granne"


def test_inbound_auto_reply_is_rejected_but_kept(client, org):
    api = api_as(client, org.agent)
    raw = (SWEDISH / "21_autoreply_x_autoreply_only.eml").read_bytes()
    response = post_mail(api, raw)
    assert response.status_code == 200
    assert response.get_json()["result"] == "rejected" and response.get_json()["reason"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(MailMessage)) == 1


def test_inbound_needs_rfc822_a_body_and_a_gateway_role(client, org):
    api = api_as(client, org.agent)
    assert post_mail(api, b"x", "text/plain").status_code == 415
    assert post_mail(api, b"").status_code == 400
    handler = api_as(client, org.handler_bygg)
    assert post_mail(handler, make_mail()).status_code == 403
    assert post_mail(api_as(client, None), make_mail()).status_code == 401


def test_reply_through_the_api(client, org):
    api = api_as(client, org.agent)
    reference = post_mail(api, make_mail()).get_json()["reference"]
    response = api.post(f"/cases/{reference}/replies", {"body": "Hej! Här är svaret."})
    assert response.status_code == 201
    case = response.get_json()
    reply = [m for m in case["messages"] if m["kind"] == "reply"]
    assert reply and reply[0]["status"] == "sent" and reply[0]["to"] == ["anna@example.se"]
    assert case["first_response_at"] is not None
    first = next(g for g in case["goals"] if g["target"] == "first_response")
    assert first["state"] in ("met", "breached") and first["met_at"] is not None
    assert error_of(api.post(f"/cases/{reference}/replies", {"body": ""}))["field"] == "body"


def _mail_count() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(MailMessage)) or 0


def test_reply_needs_an_email_address_and_respects_departments(client, org):
    # A phone case whose caller left only a phone number: nothing to reply to.
    phone_case = make_case(
        org.agent, org.bygglov, contact=ContactData(name="Sven Svensson", phone="070-123 45 67")
    )
    version = phone_case.version
    response = api_as(client, org.handler_bygg).post(
        f"/cases/{phone_case.reference}/replies", {"body": "Hej! Här är svaret."}
    )
    assert response.status_code == 422
    assert error_of(response) == {
        "code": "invalid",
        "message": "Kontakten har ingen e-postadress att svara till.",
        "field": "body",
    }
    db.session.expire_all()
    assert _mail_count() == 0 and phone_case.version == version
    # A case with an address, in Stadsbyggnadskontoret: another department's handler is told it
    # does not exist (as for a missing case), and nothing is sent; its own handler may answer.
    mail_case = make_case(
        org.agent,
        org.bygglov,
        contact=ContactData(name="Anna Andersson", email="anna@example.se"),
    )
    for reference in (mail_case.reference, "KC-2026-999999"):
        response = api_as(client, org.handler_miljo).post(
            f"/cases/{reference}/replies", {"body": "Hej! Här är svaret."}
        )
        assert response.status_code == 404
        assert error_of(response) == {
            "code": "not_found",
            "message": "Ärendet finns inte, eller så har du inte tillgång till det.",
        }
    assert _mail_count() == 0
    response = api_as(client, org.handler_bygg).post(
        f"/cases/{mail_case.reference}/replies", {"body": "Hej! Här är svaret."}
    )
    assert response.status_code == 201
    assert [m["to"] for m in response.get_json()["messages"] if m["kind"] == "reply"] == [
        ["anna@example.se"]
    ]


def test_cases_carry_their_goals(client, org):
    db.session.add(
        ServiceGoal(
            target=GoalTarget.FIRST_RESPONSE,
            channel=Channel.EMAIL,
            amount=2,
            unit=Unit.WORKING_DAYS,
        )
    )
    db.session.commit()
    api = api_as(client, org.agent)
    reference = post_mail(api, make_mail()).get_json()["reference"]
    case = api.get(f"/cases/{reference}").get_json()
    (goal,) = [g for g in case["goals"] if g["target"] == "first_response"]
    assert goal["definition"] == {"amount": 2, "unit": "working_days"}
    assert goal["state"] in ("ok", "at_risk", "breached") and goal["met_at"] is None
    assert goal["due_at"].endswith("+00:00")
    assert goal["business_minutes"] >= 0 and goal["calendar_minutes"] >= 0
    listed = api.get("/cases", query_string={"channel": "email"}).get_json()["items"]
    assert listed[0]["goals"][0]["target"] == "first_response"


def test_working_days_lists_why_days_are_not_working_days(client, org):
    api = api_as(client, org.agent)
    response = api.get(
        "/calendar/working-days", query_string={"from": "2026-12-23", "to": "2027-01-07"}
    )
    assert response.status_code == 200
    days = {d["date"]: d for d in response.get_json()["items"]}
    assert days["2026-12-23"]["working_day"] is True
    assert days["2026-12-23"]["opening_hours"] == ["08:00-17:00"]
    assert days["2026-12-24"] == {
        "date": "2026-12-24",
        "working_day": False,
        "reason": "Julafton",
        "opening_hours": [],
    }
    assert days["2026-12-31"]["reason"] == "Nyårsafton"
    assert days["2027-01-06"]["reason"] == "Trettondedag jul"
    assert days["2026-12-26"]["reason"] in ("Annandag jul", "Annandag jul och Lördag")
    assert len(days) == 16


@pytest.mark.parametrize(
    "query",
    [
        {"from": "2026-12-01"},
        {"from": "tomorrow", "to": "2026-12-02"},
        {"from": "2026-12-02", "to": "2026-12-01"},
        {"from": "2026-01-01", "to": "2028-01-01"},
    ],
)
def test_working_days_rejects_bad_ranges(client, org, query):
    response = api_as(client, org.agent).get("/calendar/working-days", query_string=query)
    assert response.status_code == 422


def test_acknowledgement_is_not_an_answer(client, org):
    api = api_as(client, org.agent)
    reference = post_mail(api, make_mail()).get_json()["reference"]
    kinds = {m.kind for m in db.session.scalars(sa.select(MailMessage))}
    assert MailKind.ACKNOWLEDGEMENT in kinds
    case = api.get(f"/cases/{reference}").get_json()
    assert case["first_response_at"] is None
