"""The diarium hand-off: marking, the signed webhook through the outbox, the diarienummer."""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import logging
import time
import zipfile
from datetime import timedelta

import pytest
import sqlalchemy as sa

from kontaktcenter.cases import actions
from kontaktcenter.cases.enums import Channel
from kontaktcenter.compliance import diarium, diarium_handoff, diarium_settings
from kontaktcenter.compliance.diarium_models import CaseDiarium, HandoffState, Marking
from kontaktcenter.compliance.diarium_settings import DiariumData
from kontaktcenter.core import outbox
from kontaktcenter.core.errors import Forbidden, ValidationError
from kontaktcenter.core.extensions import db, utcnow
from kontaktcenter.core.outbox import OutboxJob
from tests.diarium_server import registrar
from tests.factories import make_case, post


@pytest.fixture
def registrars():
    with registrar() as bygg, registrar() as miljo:
        yield bygg, miljo


@pytest.fixture
def diaries(org, registrars):
    bygg_server, miljo_server = registrars
    bn, bn_secret = diarium_settings.create(
        DiariumData("Byggnadsnämndens diarium", bygg_server.url + "/bn", [org.bygg])
    )
    mn, mn_secret = diarium_settings.create(
        DiariumData("Miljönämndens diarium", miljo_server.url + "/mn", [org.miljo])
    )
    return {"bygg": (bn, bn_secret, bygg_server), "miljo": (mn, mn_secret, miljo_server)}


def _jobs() -> list[OutboxJob]:
    return list(db.session.scalars(sa.select(OutboxJob).where(OutboxJob.task == diarium.TASK)))


def test_the_webhook_is_signed_with_the_diariums_secret(org, diaries):
    _bn, secret, server = diaries["bygg"]
    case = make_case(org.agent, org.bygglov)  # routed to Stadsbyggnadskontoret
    before = int(time.time())
    diarium.update(case, org.handler_bygg, marking=Marking.REGISTER)
    (request,) = server.received
    assert request.path == "/bn"
    signature = request.headers["X-Kontaktcenter-Signature"]
    parts = dict(part.split("=", 1) for part in signature.split(","))
    assert before <= int(parts["t"]) <= int(time.time())
    expected = hmac.new(
        secret.encode(), parts["t"].encode() + b"." + request.body, hashlib.sha256
    ).hexdigest()
    assert hmac.compare_digest(parts["v1"], expected)
    assert request.headers["X-Kontaktcenter-Delivery"] == f"{case.reference}/{_bn.id}"
    document = request.json
    assert document["format"] == "kontaktcenter-diarium/1"
    assert document["case"]["reference"] == case.reference
    assert document["case"]["subject"] == case.summary
    assert document["case"]["department"]["slug"] == org.bygg.slug
    assert db.session.get(CaseDiarium, case.id).state is HandoffState.SENT


def test_the_diarienummer_in_the_answer_is_stored_and_shown(org, diaries, login):
    _bn, _secret, server = diaries["bygg"]
    server.answer((201, {"diarienummer": "BN 2026/117"}))
    case = make_case(org.agent, org.bygglov)
    diarium.update(case, org.handler_bygg, marking=Marking.REGISTER)
    entry = db.session.get(CaseDiarium, case.id)
    assert (entry.state, entry.diarienummer) == (HandoffState.REGISTERED, "BN 2026/117")
    html = login(org.handler_bygg).get(f"/arenden/{case.id}").get_data(as_text=True)
    assert "BN 2026/117" in html


def test_a_failed_delivery_is_retried_through_the_outbox(org, diaries):
    _bn, _secret, server = diaries["bygg"]
    server.answer((503, b"busy"), (200, {"diarienummer": "BN 2026/5"}))
    case = make_case(org.agent, org.bygglov)
    diarium.update(case, org.handler_bygg, marking=Marking.REGISTER)
    (job,) = _jobs()
    db.session.refresh(job)
    entry = db.session.get(CaseDiarium, case.id)
    assert (job.state, job.attempts) == (outbox.PENDING, 1)
    assert job.run_after > utcnow()  # the outbox's backoff
    assert entry.state is HandoffState.PENDING and "503" in entry.last_error
    outbox.run(job.id, now=utcnow() + timedelta(minutes=1))
    db.session.refresh(job)
    db.session.refresh(entry)
    assert job.state == outbox.DONE
    assert (entry.state, entry.diarienummer) == (HandoffState.REGISTERED, "BN 2026/5")
    assert len(server.received) == 2
    assert server.received[0].body == server.received[1].body.replace(
        server.received[1].json["sent_at"].encode(), server.received[0].json["sent_at"].encode()
    )


def test_the_task_is_idempotent(org, diaries):
    _bn, _secret, server = diaries["bygg"]
    case = make_case(org.agent, org.bygglov)
    diarium.update(case, org.handler_bygg, marking=Marking.REGISTER)
    from kontaktcenter.compliance import tasks

    tasks.deliver(case_id=case.id, diarium_id=_bn.id)  # a second runner of the same row
    diarium.update(case, org.handler_bygg, marking=Marking.REGISTER)  # marked again
    assert len(server.received) == 1
    assert len(_jobs()) == 1


def test_each_case_goes_to_its_own_namnds_diarium(org, diaries):
    _mn, _secret, miljo_server = diaries["miljo"]
    _bn, _secret2, bygg_server = diaries["bygg"]
    case = make_case(org.agent, org.miljotillsyn)
    diarium.update(case, org.handler_miljo, marking=Marking.REGISTER)
    assert [r.path for r in miljo_server.received] == ["/mn"]
    assert bygg_server.received == []
    assert db.session.get(CaseDiarium, case.id).diarium_id == _mn.id


def test_a_first_line_case_goes_to_the_diarium_when_it_is_routed(org, diaries):
    _mn, _secret, server = diaries["miljo"]
    case = make_case(org.agent, None, outcome=None, channel=Channel.EMAIL)
    entry = diarium.update(case, org.agent, marking=Marking.REGISTER)
    assert entry.state is HandoffState.NO_DIARIUM
    assert _jobs() == []
    actions.route(case, org.agent, org.miljo)
    outbox.dispatch()
    db.session.refresh(entry)
    assert (entry.state, entry.diarium_id) == (HandoffState.SENT, _mn.id)
    assert [r.json["case"]["reference"] for r in server.received] == [case.reference]


def test_at_the_first_line_only_agents_and_admins_mark(org, diaries):
    case = make_case(org.agent, None, outcome=None, channel=Channel.EMAIL)
    with pytest.raises(Forbidden):
        diarium.update(case, org.manager, marking=Marking.MINOR)
    assert diarium.update(case, org.admin, marking=Marking.MINOR).marking is Marking.MINOR


def test_minor_and_kept_ordered_are_not_handed_off(org, diaries):
    _bn, _secret, server = diaries["bygg"]
    case = make_case(org.agent, org.bygglov)
    for marking in (Marking.MINOR, Marking.KEPT_ORDERED):
        entry = diarium.update(case, org.handler_bygg, marking=marking)
        assert entry.marking is marking and entry.state is HandoffState.NONE
    assert server.received == [] and _jobs() == []
    texts = [a.text for a in case.activities if a.data.get("diarium_marking")]
    assert texts == ["Diariemarkering: Av ringa betydelse", "Diariemarkering: Hålls ordnad"]


def test_a_secret_cases_sender_and_subject_stay_out_of_the_webhook(org, diaries):
    _bn, _secret, server = diaries["bygg"]
    case = make_case(org.agent, org.bygglov, summary="Hemlig uppgift om grannen")
    case.secrecy_ground = "OSL 26:1"
    db.session.commit()
    diarium.update(case, org.handler_bygg, marking=Marking.REGISTER)
    document = server.received[0].json
    assert document["case"]["secret"] is True
    assert document["case"]["subject"] is None and document["case"]["sender"] is None
    assert b"Hemlig" not in server.received[0].body
    assert b"Sven" not in server.received[0].body


def test_the_signing_secret_is_never_logged_nor_in_the_outbox_row(org, diaries, caplog):
    _bn, secret, server = diaries["bygg"]
    server.answer((500, secret.encode()))  # even a registrar that echoes it back
    case = make_case(org.agent, org.bygglov)
    with caplog.at_level(logging.DEBUG):
        diarium.update(case, org.handler_bygg, marking=Marking.REGISTER)
    assert caplog.records  # the failure was logged
    assert secret not in caplog.text
    (job,) = _jobs()
    assert secret not in str(job.args) and secret not in (job.last_error or "")


def test_the_page_marks_a_case(org, diaries, login):
    _bn, _secret, server = diaries["bygg"]
    case = make_case(org.agent, org.bygglov)
    client = login(org.handler_bygg)
    response = post(client, f"/arenden/{case.id}/diarium", {"marking": "register"})
    assert response.status_code == 302
    assert db.session.get(CaseDiarium, case.id).marking is Marking.REGISTER
    assert len(server.received) == 1
    bad = post(client, f"/arenden/{case.id}/diarium", {"marking": "whatever"})
    assert bad.status_code == 302
    assert db.session.get(CaseDiarium, case.id).marking is Marking.REGISTER


@pytest.mark.parametrize(
    ("who", "status"),
    [("agent", 403), ("handler_miljo", 404), ("manager", 403), ("handler_bygg", 302)],
)
def test_who_may_mark_a_routed_case(org, diaries, login, who, status):
    case = make_case(org.agent, org.bygglov)
    client = login(getattr(org, who))
    response = post(client, f"/arenden/{case.id}/diarium", {"marking": "minor"})
    assert response.status_code == status
    assert (db.session.get(CaseDiarium, case.id) is not None) == (status == 302)


def test_the_panel_offers_the_form_only_to_who_may_mark(org, diaries, login):
    case = make_case(org.agent, org.bygglov)
    mark_url = f"/arenden/{case.id}/diarium"
    own = login(org.handler_bygg).get(f"/arenden/{case.id}").get_data(as_text=True)
    assert mark_url in own
    agent = login(org.agent).get(f"/arenden/{case.id}").get_data(as_text=True)
    assert "Diarium" in agent and mark_url not in agent


def test_the_signature_helper_matches_the_documented_example():
    assert diarium_handoff.sign("kcd_example", 1767225600, b'{"format":"x"}') == (
        "t=1767225600,v1="
        + hmac.new(b"kcd_example", b'1767225600.{"format":"x"}', hashlib.sha256).hexdigest()
    )


def test_the_diariums_waiting_cases_come_as_one_zip(org, diaries, login):
    _bn, _secret, server = diaries["bygg"]
    server.answer((200, {}))  # accepted, no diarienummer yet
    waiting = make_case(org.agent, org.bygglov, summary="Väntar på nummer")
    registered = make_case(org.agent, org.bygglov)
    elsewhere = make_case(org.agent, org.miljotillsyn)
    diarium.update(waiting, org.handler_bygg, marking=Marking.REGISTER)
    diarium.update(registered, org.handler_bygg, diarienummer="BN 2026/1")
    diarium.update(elsewhere, org.handler_miljo, marking=Marking.REGISTER)
    response = login(org.admin).get(f"/admin/diarier/{_bn.id}/export.zip")
    assert response.status_code == 200 and response.mimetype == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.get_data()))
    response.close()
    batch = json.loads(archive.read("diarium.json"))
    assert [c["case"]["reference"] for c in batch["cases"]] == [waiting.reference]
    assert batch["cases"][0]["case"]["subject"] == "Väntar på nummer"
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["cases"] == [waiting.reference]
    assert "diarium.json" in {f["path"] for f in manifest["files"]}


def test_an_empty_diarium_zip_is_a_message(org, diaries, login):
    _bn, _secret, _server = diaries["bygg"]
    response = login(org.admin).get(f"/admin/diarier/{_bn.id}/export.zip")
    assert response.status_code == 302


def test_a_redirect_is_not_taken_for_an_acceptance(org, diaries):
    _bn, _secret, server = diaries["bygg"]
    server.answer((303, b"", {"Location": server.url + "/elsewhere"}))
    case = make_case(org.agent, org.bygglov)
    diarium.update(case, org.handler_bygg, marking=Marking.REGISTER)
    entry = db.session.get(CaseDiarium, case.id)
    assert entry.state is HandoffState.PENDING and "303" in entry.last_error
    assert [r.path for r in server.received] == ["/bn"]  # no GET /elsewhere either


def test_a_case_handed_to_the_diarium_keeps_its_marking(org, diaries):
    case = make_case(org.agent, org.bygglov)
    diarium.update(case, org.handler_bygg, marking=Marking.REGISTER)
    with pytest.raises(ValidationError):
        diarium.update(case, org.handler_bygg, marking=Marking.MINOR)
    assert db.session.get(CaseDiarium, case.id).marking is Marking.REGISTER
