"""Click-to-call through the phone platform: the signed dial-out webhook, posted to a real HTTP
server through the outbox, retried while it is fresh and dropped when it is not."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from kontaktcenter import create_app
from kontaktcenter.cases.models import Contact
from kontaktcenter.channels.phone import call_events, dial_out, integration, tasks
from kontaktcenter.channels.phone.call_events import EventData
from kontaktcenter.channels.phone.models import Call, CallEventKind
from kontaktcenter.core import outbox, outbox_admin
from kontaktcenter.core.config import TestConfig
from kontaktcenter.core.errors import ValidationError
from kontaktcenter.core.extensions import db, utcnow
from kontaktcenter.core.outbox import OutboxJob
from tests.diarium_server import registrar

SECRET = "s3cret-for-the-dial-out-webhook-0123456789"
NUMBER = "+46701234567"


@pytest.fixture
def platform(app, monkeypatch):
    """The phone platform's dial-out endpoint: a real HTTP server on 127.0.0.1."""
    with registrar() as server:
        monkeypatch.setitem(app.config, "DIAL_OUT_URL", server.url + "/dial-out")
        monkeypatch.setitem(app.config, "DIAL_OUT_SECRET", SECRET)
        yield server


def _jobs() -> list[OutboxJob]:
    return list(db.session.scalars(sa.select(OutboxJob).where(OutboxJob.task == dial_out.TASK)))


def _request(user, number: str = NUMBER, reference: str | None = "KC-2026-000123") -> None:
    dial_out.request_call(user, number, reference)
    outbox.commit()  # the caller commits; the eager job runner sends after the commit


def _verified(request) -> bool:
    """What the platform does (docs/call-events.md): recompute, compare in constant time."""
    timestamp = request.headers["X-Kontaktcenter-Timestamp"]
    expected = hmac.new(
        SECRET.encode(), timestamp.encode() + b"." + request.body, hashlib.sha256
    ).hexdigest()
    return hmac.compare_digest(request.headers["X-Kontaktcenter-Signature"], "sha256=" + expected)


def test_the_platform_gets_a_signed_request_to_ring_the_agent(org, platform):
    integration.map_agent("4711", org.agent)
    before = int(time.time())
    _request(org.agent, "070-123 45 67")
    (request,) = platform.received
    assert request.path == "/dial-out"
    assert request.headers["Content-Type"].startswith("application/json")
    assert _verified(request)
    assert before <= int(request.headers["X-Kontaktcenter-Timestamp"]) <= int(time.time())
    body = request.json
    assert set(body) == {"agent_email", "agent_platform_id", "number", "reference", "requested_at"}
    assert body["agent_email"] == org.agent.email
    assert body["agent_platform_id"] == "4711"
    assert body["number"] == NUMBER  # E.164, whatever form it was given in
    assert body["reference"] == "KC-2026-000123"
    assert abs(utcnow().timestamp() - datetime.fromisoformat(body["requested_at"]).timestamp()) < 60
    (job,) = _jobs()
    assert job.state == outbox.DONE
    assert SECRET not in json.dumps(job.args)  # the secret is read from the settings only


def test_a_tampered_body_fails_verification(org, platform):
    _request(org.agent)
    (request,) = platform.received
    request.body = request.body.replace(NUMBER.encode(), b"+46709999999")
    assert not _verified(request)


def test_an_agent_the_platform_knows_only_by_email_has_no_platform_id(org, platform):
    _request(org.agent, reference=None)
    body = platform.received[0].json
    assert body["agent_platform_id"] is None and body["reference"] is None
    assert body["agent_email"] == org.agent.email


def test_a_failed_request_is_retried_through_the_outbox(org, platform):
    platform.answer((500, b"busy"), (202, b""))
    _request(org.agent)
    (job,) = _jobs()
    db.session.refresh(job)
    assert (job.state, job.attempts) == (outbox.PENDING, 1)
    assert job.last_error == "DialOutError: Växeln svarade 500"
    assert job.run_after > utcnow()  # the outbox's backoff
    outbox.run(job.id, now=utcnow() + timedelta(seconds=15))
    db.session.refresh(job)
    assert job.state == outbox.DONE
    first, second = platform.received
    assert first.body == second.body  # the same request, requested_at included
    delivery = "X-Kontaktcenter-Delivery"
    assert first.headers[delivery] == second.headers[delivery]  # the platform's key for repeats
    assert _verified(second)


def test_a_redirect_is_no_acceptance(org, platform):
    platform.answer((302, b"", {"Location": platform.url + "/elsewhere"}), (200, b"{}"))
    _request(org.agent)
    (job,) = _jobs()
    db.session.refresh(job)
    assert job.state == outbox.PENDING and "302" in job.last_error
    assert [r.path for r in platform.received] == ["/dial-out"]


def test_a_dial_out_not_delivered_in_time_is_dropped_not_rung_later(
    org, platform, monkeypatch, caplog
):
    platform.answer((503, b"down"))
    _request(org.agent)
    (job,) = _jobs()
    db.session.refresh(job)
    assert job.state == outbox.PENDING and len(platform.received) == 1
    # The platform comes back, but the retry is due only after the request went stale.
    platform.answer((200, b"{}"))
    later = utcnow() + timedelta(seconds=dial_out.MAX_AGE_SECONDS + 5)
    monkeypatch.setattr(tasks, "utcnow", lambda: later)
    with caplog.at_level(logging.WARNING, logger=tasks.__name__):
        outbox.run(job.id, now=later)
    db.session.refresh(job)
    assert job.state == outbox.DONE  # dropped: never retried again
    assert len(platform.received) == 1  # nobody's phone rings minutes after the click
    assert "dropped" in caplog.text and "KC-2026-000123" in caplog.text
    assert NUMBER not in caplog.text and "70123" not in caplog.text


def _number_kept(job: OutboxJob) -> str | None:
    db.session.refresh(job)
    return job.args["number"]


def test_the_citizens_number_is_not_kept_once_the_call_was_set_up(org, platform):
    _request(org.agent)
    (job,) = _jobs()
    assert job.state == outbox.DONE
    assert _number_kept(job) is None
    assert NUMBER not in json.dumps(job.args) and job.args["reference"] == "KC-2026-000123"


def test_the_number_of_a_dropped_dial_out_is_not_kept(org, platform, monkeypatch):
    platform.answer((503, b"down"))
    _request(org.agent)
    (job,) = _jobs()
    assert _number_kept(job) == NUMBER  # still needed for the retry
    later = utcnow() + timedelta(seconds=dial_out.MAX_AGE_SECONDS + 5)
    monkeypatch.setattr(tasks, "utcnow", lambda: later)
    outbox.run(job.id, now=later)
    assert job.state == outbox.DONE and _number_kept(job) is None


def test_a_dial_out_that_failed_for_good_keeps_no_number_and_is_not_rung_on_retry(
    org, app, platform, monkeypatch
):
    monkeypatch.setitem(app.config, "OUTBOX_MAX_ATTEMPTS", 1)
    platform.answer((503, b"down"), (200, b"{}"))
    _request(org.agent)
    (job,) = _jobs()
    assert job.state == outbox.FAILED and _number_kept(job) is None
    assert outbox_admin.retry(job.id)  # an admin on the health page
    db.session.refresh(job)
    assert job.state == outbox.DONE
    assert len(platform.received) == 1  # no call to a number nobody knows any more


def test_the_maximum_age_is_a_setting(org, app, platform, monkeypatch):
    monkeypatch.setitem(app.config, "DIAL_OUT_MAX_AGE_SECONDS", 600)
    platform.answer((503, b"down"), (200, b"{}"))
    _request(org.agent)
    (job,) = _jobs()
    later = utcnow() + timedelta(seconds=300)
    monkeypatch.setattr(tasks, "utcnow", lambda: later)
    outbox.run(job.id, now=later)
    assert len(platform.received) == 2


def test_without_a_url_there_is_no_dial_out(org, app):
    assert app.config.get("DIAL_OUT_URL") is None
    assert not dial_out.configured()
    with pytest.raises(ValidationError, match="inte inställd"):
        dial_out.request_call(org.agent, NUMBER, "KC-1")
    assert _jobs() == []


@pytest.mark.parametrize("number", ["", "   ", "12", "inte ett nummer", "0" * 41])
def test_something_that_is_no_phone_number_is_refused(org, platform, number):
    with pytest.raises(ValidationError) as error:
        dial_out.request_call(org.agent, number, "KC-1")
    assert error.value.field == "number" and error.value.message
    assert _jobs() == []


def test_a_dial_out_for_an_agent_deactivated_meanwhile_is_dropped(org, platform):
    dial_out.request_call(org.agent, NUMBER, None)
    org.agent.active = False
    outbox.commit()
    assert platform.received == []
    (job,) = _jobs()
    assert job.state == outbox.DONE


# --- the receiver's example in docs/call-events.md ---------------------------------------------


def _documented_verify():
    """The Python example of docs/call-events.md ("Verifying the signature"), as documented."""
    docs = Path(__file__).resolve().parent.parent / "docs" / "call-events.md"
    section = docs.read_text(encoding="utf-8").split("### Verifying the signature")[1]
    code = section.split("```python\n")[1].split("```")[0]
    namespace: dict = {}
    exec(code.replace('b"..."', repr(SECRET.encode())), namespace)  # noqa: S102 - our own docs
    return namespace["verify"]


def test_the_documented_verification_accepts_a_real_request(org, platform):
    _request(org.agent)
    (request,) = platform.received
    assert _documented_verify()(request.headers, request.body)["number"] == NUMBER


@pytest.mark.parametrize(
    "change",
    [
        {"X-Kontaktcenter-Timestamp": None},
        {"X-Kontaktcenter-Timestamp": ""},
        {"X-Kontaktcenter-Timestamp": "²"},  # isdigit(), but no number
        {"X-Kontaktcenter-Timestamp": "١٧٩٤٨٢٢٠٧٠"},  # Arabic-Indic digits
        {"X-Kontaktcenter-Timestamp": "1"},  # stale
        {"X-Kontaktcenter-Signature": None},
        {"X-Kontaktcenter-Signature": "sha256=é"},  # compare_digest: TypeError for str
        {"X-Kontaktcenter-Signature": "sha256=" + "0" * 64},
        {"body": b'{"number":"+46700000000"}'},
    ],
)
def test_the_documented_verification_refuses_anything_else_with_permission_error(
    org, platform, change
):
    _request(org.agent)
    (request,) = platform.received
    headers = {k: v for k, v in request.headers.items() if k.startswith("X-Kontaktcenter")}
    body = change.pop("body", request.body)
    for name, value in change.items():
        headers.pop(name)
        if value is not None:
            headers[name] = value
    with pytest.raises(PermissionError):
        _documented_verify()(headers, body)


# --- settings --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        ({"DIAL_OUT_URL": "https://vaxel.example/dial"}, "DIAL_OUT_SECRET"),
        ({"DIAL_OUT_URL": "https://vaxel.example/dial", "DIAL_OUT_SECRET": "short"}, "32"),
        ({"DIAL_OUT_URL": "http://vaxel.example/dial", "DIAL_OUT_SECRET": SECRET}, "https"),
        ({"DIAL_OUT_URL": "ftp://vaxel.example/dial", "DIAL_OUT_SECRET": SECRET}, "https"),
        ({"DIAL_OUT_URL": "vaxel", "DIAL_OUT_SECRET": SECRET}, "https"),
    ],
)
def test_bad_settings_are_named(settings, problem):
    assert problem in dial_out.settings_problem(settings)


@pytest.mark.parametrize(
    "settings",
    [
        {},
        {"DIAL_OUT_URL": ""},
        {"DIAL_OUT_URL": "https://vaxel.example/dial", "DIAL_OUT_SECRET": SECRET},
        {"DIAL_OUT_URL": "http://127.0.0.1:8080/dial", "DIAL_OUT_SECRET": SECRET},
        # The environment's JSON parsing makes a secret of digits a number: still a secret.
        {"DIAL_OUT_URL": "https://vaxel.example/dial", "DIAL_OUT_SECRET": int("9" * 40)},
    ],
)
def test_good_settings_pass(settings):
    assert dial_out.settings_problem(settings) is None


def test_the_app_refuses_to_start_with_a_url_and_no_secret(tmp_path, monkeypatch):
    monkeypatch.setenv("KONTAKTCENTER_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("KONTAKTCENTER_DIAL_OUT_URL", "https://vaxel.kommun.example/dial-out")
    with pytest.raises(RuntimeError, match="KONTAKTCENTER_DIAL_OUT_SECRET"):
        create_app(TestConfig, {"SQLALCHEMY_DATABASE_URI": "sqlite://"})
    monkeypatch.setenv("KONTAKTCENTER_DIAL_OUT_SECRET", SECRET)
    app = create_app(TestConfig, {"SQLALCHEMY_DATABASE_URI": "sqlite://"})
    with app.app_context():
        assert dial_out.configured()


def test_the_body_is_compact_json_as_signed(org, platform):
    _request(org.agent)
    (request,) = platform.received
    assert request.body == json.dumps(request.json, separators=(",", ":")).encode()


# --- tel: links on the call pages ------------------------------------------------------------


def _answered_call(agent, call_id: str, caller: str | None) -> None:
    for kind in (CallEventKind.ANSWERED, CallEventKind.ENDED):
        call_events.record(
            EventData(call_id, kind, caller=caller, caller_given=True, queue="Växeln", agent=agent)
        )


def test_the_call_pages_link_numbers_for_a_softphone(client, org, login):
    _answered_call(org.agent, "c-1", "070-123 45 67")
    _answered_call(org.agent, "c-2", "anonymous")
    login(org.agent)
    recent = client.get("/samtal/senaste").get_data(as_text=True)
    assert '<a href="tel:+46701234567" class="nowrap">070-123 45 67</a>' in recent
    assert "Dolt nummer" in recent and recent.count('href="tel:') == 1
    call = db.session.scalar(sa.select(Call).where(Call.platform_call_id == "c-1"))
    form = client.get(f"/samtal/ny?call={call.id}").get_data(as_text=True)
    assert 'href="tel:+46701234567"' in form  # the call being logged
    typed = client.get("/samtal/ny?case_type=bygglov").get_data(as_text=True)
    assert '<a href="tel:+46812345678" class="number nowrap">08-123 456 78</a>' in typed


def test_a_picked_callers_number_is_a_link(client, org, login):
    contact = Contact(name="Karin Ek", phone="070-765 43 21", phone_e164="+46707654321")
    db.session.add(contact)
    db.session.commit()
    login(org.agent)
    html = client.get(f"/samtal/ny?contact_id={contact.id}").get_data(as_text=True)
    assert '<a href="tel:+46707654321" class="nowrap">070-765 43 21</a>' in html
