"""Review findings on the diarium hand-off, the case export and the screen pop (#14, #15)."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta

import pytest
import sqlalchemy as sa

from kontaktcenter.calendar.business_calendar import Unit
from kontaktcenter.cases import actions, events
from kontaktcenter.cases.enums import Channel, TransferKind
from kontaktcenter.channels.phone import call_views
from kontaktcenter.compliance import diarium, diarium_handoff, diarium_settings
from kontaktcenter.compliance.diarium_models import CaseDiarium, HandoffState, Marking
from kontaktcenter.compliance.diarium_settings import DiariumData
from kontaktcenter.core import outbox
from kontaktcenter.core.errors import ValidationError
from kontaktcenter.core.extensions import db, utcnow
from kontaktcenter.core.outbox import OutboxJob
from kontaktcenter.goals.models import CaseGoal, GoalTarget, ServiceGoal
from tests import test_diarium_handoff, test_export_case
from tests.factories import make_case
from tests.test_calls_screen_pop import events as stream_events
from tests.test_diarium_admin import _create
from tests.test_export_case import _everything, _zip

# The fixtures of the diarium and export tests, used here too.
registrars = test_diarium_handoff.registrars
diaries = test_diarium_handoff.diaries
mail_case = test_export_case.mail_case


def _jobs() -> list[OutboxJob]:
    return list(db.session.scalars(sa.select(OutboxJob).where(OutboxJob.task == diarium.TASK)))


# --- 1. a pending hand-off follows the case ---------------------------------------------------


def test_a_pending_handoff_follows_the_case_to_its_new_department(org, diaries):
    _bn, _s, bygg_server = diaries["bygg"]
    mn, _s2, miljo_server = diaries["miljo"]
    bygg_server.answer((503, b"busy"), (200, {"diarienummer": "BN 2026/9"}))
    case = make_case(org.agent, org.bygglov)  # routed to Stadsbyggnad
    diarium.update(case, org.handler_bygg, marking=Marking.REGISTER)
    entry = db.session.get(CaseDiarium, case.id)
    assert entry.state is HandoffState.PENDING
    # Routed wrongly: sent back and routed to Miljö, while the first POST waits for its retry
    actions.return_to_contact_center(case, org.handler_bygg, "Fel förvaltning")
    actions.route(case, org.agent, org.miljo)
    outbox.dispatch()
    db.session.refresh(entry)
    assert (entry.state, entry.diarium_id) == (HandoffState.SENT, mn.id)
    assert len(miljo_server.received) == 1
    assert miljo_server.received[0].json["case"]["department"]["slug"] == org.miljo.slug
    for job in _jobs():  # the old row's retry, when due, sends nothing
        outbox.run(job.id, now=utcnow() + timedelta(minutes=5))
    assert len(bygg_server.received) == 1
    assert len(miljo_server.received) == 1


def test_a_pending_handoff_is_not_delivered_after_the_case_was_returned(org, diaries):
    _bn, _s, bygg_server = diaries["bygg"]
    bygg_server.answer((503, b"busy"), (200, {}))
    case = make_case(org.agent, org.bygglov)
    diarium.update(case, org.handler_bygg, marking=Marking.REGISTER)
    actions.return_to_contact_center(case, org.handler_bygg, "Fel förvaltning")
    for job in _jobs():
        outbox.run(job.id, now=utcnow() + timedelta(minutes=5))
    entry = db.session.get(CaseDiarium, case.id)
    db.session.refresh(entry)
    assert len(bygg_server.received) == 1  # only the first, refused attempt
    assert (entry.state, entry.diarium_id) == (HandoffState.NO_DIARIUM, None)
    # routed back again: handed off anew
    actions.route(case, org.agent, org.bygg)
    outbox.dispatch()
    db.session.refresh(entry)
    assert entry.state is HandoffState.SENT
    assert len(bygg_server.received) == 2


def test_a_deactivated_diarium_gets_no_pending_handoff(org, diaries):
    bn, _s, bygg_server = diaries["bygg"]
    bygg_server.answer((503, b"busy"), (200, {}))
    case = make_case(org.agent, org.bygglov)
    diarium.update(case, org.handler_bygg, marking=Marking.REGISTER)
    bn.active = False
    db.session.commit()
    for job in _jobs():
        outbox.run(job.id, now=utcnow() + timedelta(minutes=5))
    assert len(bygg_server.received) == 1
    assert db.session.get(CaseDiarium, case.id).state is HandoffState.NO_DIARIUM


# --- 2. a first-line case marked, then handed off ----------------------------------------------


def test_a_first_line_case_marked_then_handed_off_reaches_the_diarium(org, diaries):
    _bn, _s, server = diaries["bygg"]
    case = make_case(org.agent, None, outcome=None, channel=Channel.EMAIL)
    entry = diarium.update(case, org.agent, marking=Marking.REGISTER)
    assert entry.state is HandoffState.NO_DIARIUM
    actions.hand_off(case, org.agent, org.bygglov, TransferKind.WARM)
    outbox.dispatch()
    db.session.refresh(entry)
    assert case.department_id == org.bygg.id
    assert (entry.state, len(server.received)) == (HandoffState.SENT, 1)


def test_a_hand_off_announces_the_department_but_starts_no_second_line_goal(org):
    db.session.add(ServiceGoal(target=GoalTarget.SECOND_LINE, amount=16, unit=Unit.OPENING_HOURS))
    db.session.commit()
    case = make_case(org.agent, None, outcome=None, channel=Channel.EMAIL)
    seen = []

    def receiver(sender, at):
        seen.append(sender)

    events.department_assigned.connect(receiver)
    try:
        actions.hand_off(case, org.agent, org.bygglov, TransferKind.WARM)
    finally:
        events.department_assigned.disconnect(receiver)
    assert seen == [case]
    assert _second_line_goals(case) == []
    routed = make_case(org.agent, None, outcome=None, channel=Channel.EMAIL)
    actions.route(routed, org.agent, org.bygg)
    assert _second_line_goals(routed) != []  # what routing (not a hand-off) starts


def _second_line_goals(case) -> list[CaseGoal]:
    return list(
        db.session.scalars(
            sa.select(CaseGoal).where(
                CaseGoal.case_id == case.id, CaseGoal.target == GoalTarget.SECOND_LINE
            )
        )
    )


# --- 3/8. the diarium's endpoint URL -----------------------------------------------------------


def test_a_malformed_endpoint_url_is_a_form_error_not_a_500(org, login):
    client = login(org.admin)
    response = _create(client, org, endpoint_url="https://[::1")
    assert response.status_code in (200, 422), response.status_code
    assert "fullständig adress" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "url",
    [
        "https://[::1",
        "https://diarium.kommun.se:99999/kc",
        "https://diarium kommun.se/kc",
        "https://diarium.kommun.se/nämnd",
        "https://diarium.kommun.se/kc\x7f",
        "https://diarium.kommun.se/k\tc",
    ],
)
def test_an_endpoint_url_urllib_cannot_send_to_is_refused(url):
    with pytest.raises(ValidationError):
        diarium_settings.validate_url(url)


def test_an_endpoint_url_with_a_port_is_accepted():
    url = "https://diarium.kommun.se:8443/kc"
    assert diarium_settings.validate_url(url) == url


@pytest.mark.parametrize(
    "url", ["https://127.0.0.1:99999/kc", "https://diarium kommun.se/kc", "http://x/nämnd kc"]
)
def test_a_malformed_saved_url_is_a_handoff_error_recorded_on_the_case(org, url):
    (diary,) = _saved_unchecked(org, url)
    case = make_case(org.agent, org.bygglov)
    diarium.update(case, org.handler_bygg, marking=Marking.REGISTER)
    entry = db.session.get(CaseDiarium, case.id)
    db.session.refresh(entry)
    assert entry.state is HandoffState.PENDING
    assert entry.last_error and entry.last_error.startswith("Diariet kunde inte nås")
    (job,) = _jobs()
    db.session.refresh(job)
    assert "HandoffError" in (job.last_error or "")


def test_post_turns_a_bad_url_into_a_handoff_error(org):
    (diary,) = _saved_unchecked(org, "https://[::1")
    with pytest.raises(diarium_handoff.HandoffError):
        diarium_handoff.post(diary, {"delivery_id": "x"})


def _saved_unchecked(org, url):
    """A diarium whose address was saved before the check existed."""
    diary, _secret = diarium_settings.create(
        DiariumData("X", "https://diarium.kommun.example/kc", [org.bygg])
    )
    diary.endpoint_url = url
    db.session.commit()
    return (diary,)


# --- 5. the search export's redirect ----------------------------------------------------------


@pytest.mark.parametrize("q", ["19121212-1212", "Tolvan 191212-1212", "1912121212"])
def test_search_export_never_puts_a_personnummer_in_the_redirect(org, login, q):
    web = login(org.agent)
    response = web.get("/sok/export.zip", query_string={"q": q, "status": "open"})
    assert response.status_code in (302, 303)
    location = response.headers["Location"]
    assert "1212" not in location, location
    assert "status=open" in location


def test_search_export_keeps_an_ordinary_query_in_the_redirect(org, login):
    web = login(org.agent)
    response = web.get("/sok/export.zip", query_string={"q": "altan", "from": "igår"})
    assert response.status_code in (302, 303)
    assert "q=altan" in response.headers["Location"]


# --- 6. a huge last event id ------------------------------------------------------------------


@pytest.mark.parametrize("value", ["999999999999", "2147483648", "99999999999"])
def test_an_event_id_beyond_the_database_integers_is_none(value):
    assert call_views._event_id(value) is None


def test_event_ids_in_range_are_read():
    assert call_views._event_id("0") == 0
    assert call_views._event_id(" 2147483647 ") == 2147483647


def test_a_huge_last_event_id_streams(client, org, login):
    login(org.agent)
    for last in ("999999999999", "2147483648"):
        response = client.get(f"/samtal/handelser?last={last}")
        assert response.status_code == 200
        assert stream_events(response)  # the stream's opening event, no error
    response = client.get("/samtal/handelser", headers={"Last-Event-ID": "99999999999"})
    assert response.status_code == 200
    assert stream_events(response)


# --- 7. a secret case's export --------------------------------------------------------------


def test_a_secret_cases_withheld_original_and_attachments_are_not_described(
    org,
    login,
    mail_case,
):
    case, raw = mail_case
    case.secrecy_ground = "OSL 26:1"
    db.session.commit()
    archive = _zip(login(org.handler_bygg).get(f"/arenden/{case.id}/export.zip"))
    everything = _everything(archive)
    assert hashlib.sha256(raw).hexdigest().encode() not in everything
    (document,) = [n for n in archive.namelist() if n.endswith("arende.json")]
    messages = json.loads(archive.read(document))["messages"]
    assert messages
    for message in messages:
        assert "raw_sha256" not in message and "size" not in message
        for attachment in message["attachments"]:
            assert "content_type" not in attachment and "size" not in attachment
    assert any(message["attachments"] for message in messages)
    assert b"application/pdf" not in archive.read(document)


def test_an_open_cases_export_still_describes_its_original(org, login, mail_case):
    case, raw = mail_case
    archive = _zip(login(org.handler_bygg).get(f"/arenden/{case.id}/export.zip"))
    (document,) = [n for n in archive.namelist() if n.endswith("arende.json")]
    (message,) = [
        m for m in json.loads(archive.read(document))["messages"] if m["direction"] == "inbound"
    ]
    assert message["raw_sha256"] == hashlib.sha256(raw).hexdigest()
    assert message["size"] == len(raw)
    (attachment,) = message["attachments"]
    assert attachment["content_type"] == "application/pdf" and attachment["size"] > 0


# --- 9. a query string that is not UTF-8 ------------------------------------------------------


@pytest.mark.parametrize("query", ["q=\xff\xfe", "\xff=1"])
def test_a_query_string_that_is_not_utf8_is_a_bad_request(client, org, login, query):
    login(org.agent)
    for path in ("/sok", "/samtal/handelser"):
        response = client.get(path, environ_overrides={"QUERY_STRING": query})
        assert response.status_code == 400, path
        assert "UTF-8" in response.get_data(as_text=True)
    response = client.get("/api/v1/cases", environ_overrides={"QUERY_STRING": query})
    assert response.status_code == 400
    assert response.json["error"]["code"] == "bad_request"
