"""Distribution (#14) through the pages: the header's status control, signing out, the
administration page, the live overview, and the phone platform's events setting "i samtal"."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from flask import render_template

from kontaktcenter.cases.enums import Channel
from kontaktcenter.channels.phone import integration
from kontaktcenter.core import outbox
from kontaktcenter.core.extensions import db, utcnow
from kontaktcenter.core.roles import Role
from kontaktcenter.distribution import presence
from kontaktcenter.distribution.models import (
    AgentPresence,
    AgentStatus,
    DistributionMode,
    DistributionSettings,
)
from tests import factories
from tests.api_client import api_as


def status_of(user) -> AgentStatus | None:
    db.session.expire_all()
    row = db.session.get(AgentPresence, user.id)
    return row.status if row else None


@pytest.mark.parametrize("role", ["agent", "admin"])
def test_the_header_shows_and_changes_the_status(client, org, login, role):
    user = getattr(org, role)
    login(user)
    html = client.get("/sok/").get_data(as_text=True)
    assert 'action="/status"' in html and "Status: <strong>Ingen vald</strong>" in html
    response = factories.post(client, "/status", {"status": "available", "next": "/sok?q=x"})
    assert response.status_code == 302 and response.location.endswith("/sok?q=x")
    assert status_of(user) == AgentStatus.AVAILABLE
    html = client.get("/sok/").get_data(as_text=True)
    assert "Din status är nu tillgänglig." in html
    assert "Status: <strong>Tillgänglig</strong>" in html
    assert re.search(r'<option value="available" selected>', html)


def test_the_case_page_says_distribution_assigned_it(client, org, login):
    from kontaktcenter.distribution import settings
    from kontaktcenter.distribution.settings import SettingsData

    settings.save(SettingsData(DistributionMode.ROUND_ROBIN, True, True, 5))
    presence.set_status(org.agent, AgentStatus.AVAILABLE)
    case = factories.make_case(org.manager, None, outcome=None, channel=Channel.EMAIL)
    outbox.dispatch()
    login(org.agent)
    html = client.get(f"/arenden/{case.id}").get_data(as_text=True)
    timeline = html.split('id="timeline-h"')[1]
    assert "Tilldelat</strong>" in timeline and "– Agnes Agent (av fördelningen)" in timeline
    assert "Systemet" in timeline
    assert "<dt>Handläggs av</dt><dd>Agnes Agent</dd>" in html
    # Said by the page, not written into the case: a search for it does not find every case.
    found = client.get("/sok/", query_string={"q": "fördelningen"}).get_data(as_text=True)
    assert case.reference not in found


def test_what_went_back_to_the_queue_is_named_and_on_the_timeline(client, org, login):
    from kontaktcenter.cases.enums import Outcome
    from kontaktcenter.distribution import settings
    from kontaktcenter.distribution.settings import SettingsData
    from tests.test_distribution import _callback

    settings.save(SettingsData(DistributionMode.ROUND_ROBIN, True, True, 5))
    login(org.agent)
    factories.post(client, "/status", {"status": "available"})
    outbox.dispatch()
    email = factories.make_case(org.manager, None, outcome=None, channel=Channel.EMAIL)
    called = factories.make_case(org.manager, None, outcome=Outcome.ANSWERED)
    _callback(called)
    _callback(called)
    outbox.dispatch()
    response = factories.post(client, "/status", {"status": "break"}, follow_redirects=True)
    assert (
        "Din status är nu rast. 1 ärende och 2 återuppringningar som du fått av fördelningen och"
        " inte börjat på gick tillbaka till kön." in response.get_data(as_text=True)
    )
    assert "– ingen (tillbaka i kön: handläggaren är inte tillgänglig)" in _timeline(client, email)
    timeline = _timeline(client, called)
    assert timeline.count("– Agnes Agent (återuppringningen, av fördelningen)") == 2
    given_back = "– ingen (återuppringningen tillbaka i kön: handläggaren är inte tillgänglig)"
    assert timeline.count(given_back) == 2


def _timeline(client, case) -> str:
    return client.get(f"/arenden/{case.id}").get_data(as_text=True).split('id="timeline-h"')[1]


@pytest.mark.parametrize("role", ["manager", "handler_bygg"])
def test_roles_without_first_line_work_have_no_status(client, org, login, role):
    login(getattr(org, role))
    assert 'action="/status"' not in client.get("/sok/").get_data(as_text=True)
    response = factories.post(client, "/status", {"status": "available"})
    assert response.status_code == 403


def test_the_status_form_needs_its_csrf_token(client, org, login):
    login(org.agent)
    response = client.post("/status", data={"status": "available"})
    assert response.status_code == 400
    assert status_of(org.agent) is None


@pytest.mark.parametrize("value", ["lunch", "", "signed_out"])
def test_an_unknown_status_is_refused_with_a_message(client, org, login, value):
    login(org.agent)
    response = factories.post(client, "/status", {"status": value}, follow_redirects=True)
    assert response.status_code == 200
    assert "Välj" in response.get_data(as_text=True)
    assert status_of(org.agent) is None


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil", None])
def test_the_form_returns_only_to_our_own_pages(client, org, login, target):
    login(org.agent)
    data = {"status": "break"} | ({"next": target} if target is not None else {})
    response = factories.post(client, "/status", data)
    assert response.status_code == 302
    assert "evil" not in response.location
    assert status_of(org.agent) == AgentStatus.BREAK


@pytest.mark.parametrize(
    ("referrer", "back"),
    [
        ("http://localhost/aterringningar/{id}?x=1", "/aterringningar/{id}?x=1"),
        (None, "/"),
        ("http://localhost/aterringningar/{id}/forsok", "/"),  # the form sent twice: POST only
        ("https://evil.example/aterringningar/{id}", "/"),
    ],
)
def test_a_status_changed_on_a_page_with_form_errors_returns_to_a_page(
    client, org, login, referrer, back
):
    from kontaktcenter.cases.enums import Outcome
    from tests.test_distribution import _callback

    callback = _callback(factories.make_case(org.agent, None, outcome=Outcome.ANSWERED))
    login(org.agent)
    headers = {"Referer": referrer.format(id=callback.id)} if referrer else {}
    # A page answering a POST: the callback's attempt form sent without a result.
    refused = factories.post(
        client, f"/aterringningar/{callback.id}/forsok", {"result": ""}, headers=headers
    )
    assert refused.status_code == 422
    target = re.search(r'name="next" value="([^"]*)"', refused.get_data(as_text=True)).group(1)
    assert target == back.format(id=callback.id)
    response = factories.post(client, "/status", {"status": "break", "next": target})
    assert response.status_code == 302 and response.location == target
    assert client.get(response.location, follow_redirects=True).status_code == 200
    assert status_of(org.agent) == AgentStatus.BREAK


def test_signing_out_sets_utloggad(client, org, login):
    login(org.agent)
    factories.post(client, "/status", {"status": "available"})
    factories.post(client, "/logout", {}, follow_redirects=False)
    assert status_of(org.agent) == AgentStatus.SIGNED_OUT


def test_signing_out_without_a_status_makes_no_row(client, org, login):
    login(org.manager)
    factories.post(client, "/logout", {})
    assert status_of(org.manager) is None


def test_requests_refresh_seen_at_once_a_minute_not_every_time(client, org, login):
    login(org.agent)
    factories.post(client, "/status", {"status": "available"})
    long_ago = utcnow() - timedelta(hours=1)
    db.session.execute(
        sa.update(AgentPresence)
        .where(AgentPresence.user_id == org.agent.id)
        .values(seen_at=long_ago)
    )
    db.session.commit()
    client.get("/sok/")  # seen within the minute (the session remembers): no write
    db.session.expire_all()
    assert db.session.get(AgentPresence, org.agent.id).seen_at == long_ago
    with client.session_transaction() as session:
        session["distribution_seen"] -= presence.SEEN_EVERY_SECONDS + 1
    client.get("/sok/")
    db.session.expire_all()
    assert db.session.get(AgentPresence, org.agent.id).seen_at > long_ago


def test_an_agent_at_their_desk_keeps_their_status(client, org, login, app):
    login(org.agent)
    factories.post(client, "/status", {"status": "available"})
    minutes = app.config.get("DISTRIBUTION_PRESENCE_MINUTES", 20)
    _seen(org.agent, utcnow() - timedelta(minutes=minutes - 2))
    with client.session_transaction() as session:
        session["distribution_seen"] -= presence.SEEN_EVERY_SECONDS + 1
    client.get("/samtal/handelser")  # the screen pop's stream, every half minute
    db.session.expire_all()
    row = db.session.get(AgentPresence, org.agent.id)
    assert row.status == AgentStatus.AVAILABLE and row.seen_at > utcnow() - timedelta(minutes=1)


def _seen(user, at) -> None:
    db.session.execute(
        sa.update(AgentPresence).where(AgentPresence.user_id == user.id).values(seen_at=at)
    )
    db.session.commit()


def _new_email_goes_to(org):
    from kontaktcenter.cases.models import Case

    case = factories.make_case(org.manager, None, outcome=None, channel=Channel.EMAIL)
    outbox.dispatch()
    db.session.expire_all()
    return db.session.get(Case, case.id).assignee_id


@pytest.mark.parametrize("how", ["signs_in", "remembered_session"])
def test_an_agent_back_after_the_window_chooses_a_status_again(client, org, login, app, how):
    """Friday: the browser closed while "tillgänglig". Monday's first request gets no work."""
    from kontaktcenter.distribution import settings
    from kontaktcenter.distribution.settings import SettingsData

    settings.save(SettingsData(DistributionMode.ROUND_ROBIN, True, True, 5))
    login(org.agent)
    factories.post(client, "/status", {"status": "available"})
    outbox.dispatch()
    kept = _new_email_goes_to(org)
    assert kept == org.agent.id  # given on Friday, never begun
    _seen(org.agent, utcnow() - timedelta(days=3))
    if how == "signs_in":
        login(org.agent)
    else:  # the browser restored its session (or a "Kom ihåg mig" cookie signed in again)
        with client.session_transaction() as session:
            session["distribution_seen"] -= 3 * 24 * 3600
    html = client.get("/sok/").get_data(as_text=True)
    assert status_of(org.agent) == AgentStatus.SIGNED_OUT
    assert "Status: <strong>Utloggad</strong>" in html
    assert _new_email_goes_to(org) is None
    from kontaktcenter.distribution.models import DistributedItem

    assert db.session.scalars(sa.select(DistributedItem)).all() == []  # Friday's went back
    factories.post(client, "/status", {"status": "available"})
    outbox.dispatch()
    assert _new_email_goes_to(org) == org.agent.id


def test_admins_set_the_distribution(client, org, login):
    login(org.admin)
    from kontaktcenter.core import admin

    # The admin index includes each panel with its context's counts.
    panel = next(p for p in admin._panels if p.template == "distribution/_panel.html")
    with client.application.test_request_context():
        html = render_template(panel.template, counts=panel.context()["counts"])
    assert "/admin/fordelning" in html and "Av (bara ”ta nästa”)" in html
    page = client.get("/admin/fordelning").get_data(as_text=True)
    assert "går tillbaka till kön" in page and "20 minuter" in page
    bad = factories.post(
        client, "/admin/fordelning", {"mode": "round_robin", "cap": "0", "emails": "y"}
    )
    assert bad.status_code == 422 and "Ange taket som ett heltal, 1–100." in bad.get_data(
        as_text=True
    )
    nothing = factories.post(client, "/admin/fordelning", {"mode": "least_loaded", "cap": "5"})
    assert nothing.status_code == 422
    assert "Välj vad som ska fördelas" in nothing.get_data(as_text=True)
    ok = factories.post(
        client, "/admin/fordelning", {"mode": "least_loaded", "cap": "3", "callbacks": "y"}
    )
    assert ok.status_code == 302
    row = db.session.get(DistributionSettings, 1)
    db.session.refresh(row)
    assert (row.mode, row.emails, row.callbacks, row.cap) == (
        DistributionMode.LEAST_LOADED,
        False,
        True,
        3,
    )


@pytest.mark.parametrize("role", ["agent", "manager", "handler_bygg"])
def test_only_admins_set_the_distribution(client, org, login, role):
    login(getattr(org, role))
    assert client.get("/admin/fordelning").status_code == 403


def test_the_overview_shows_who_is_available(client, org, login):
    busy = factories.make_user(Role.AGENT, name="Bertil Upptagen")
    presence.set_status(org.agent, AgentStatus.AVAILABLE)
    presence.set_status(busy, AgentStatus.BREAK)
    case = factories.make_case(org.agent, None, outcome=None, summary="Mejl", channel=Channel.EMAIL)
    case.assignee = org.agent
    db.session.commit()
    login(org.manager)
    html = client.get("/oversikt/").get_data(as_text=True)
    assert '<meta http-equiv="refresh" content="60">' in html  # still refreshes itself
    assert "Vem är tillgänglig" in html
    available = html.split('id="agents-available"')[1].split("<h3")[0]
    assert "Agnes Agent" in available and "<td>1</td>" in available
    on_break = html.split('id="agents-break"')[1].split("<h3")[0]
    assert "Bertil Upptagen" in on_break and "Agnes Agent" not in on_break
    department = client.get(f"/oversikt/?department={org.bygg.id}").get_data(as_text=True)
    assert "Vem är tillgänglig" not in department


def test_an_agent_not_seen_for_a_while_shows_as_signed_out(client, org, login, app):
    presence.set_status(org.agent, AgentStatus.AVAILABLE)
    minutes = app.config.get("DISTRIBUTION_PRESENCE_MINUTES", 20)
    db.session.execute(
        sa.update(AgentPresence)
        .where(AgentPresence.user_id == org.agent.id)
        .values(seen_at=utcnow() - timedelta(minutes=minutes + 1))
    )
    db.session.commit()
    login(org.manager)
    html = client.get("/oversikt/").get_data(as_text=True)
    assert "Agnes Agent" in html.split('id="agents-signed_out"')[1]


# --- the phone platform's events -----------------------------------------------------------

T0 = datetime(2026, 11, 16, 9, 30, tzinfo=UTC)


@pytest.fixture
def platform(client, org):
    user = factories.make_user(Role.AGENT, name="Telefoniplattformen")
    integration.mark_integration(user)
    return api_as(client, user)


def call_event(kind: str, seconds: int, call_id: str = "c-1", **fields) -> dict:
    return {
        "call_id": call_id,
        "event": kind,
        "time": (T0 + timedelta(seconds=seconds)).isoformat(),
        **fields,
    }


def test_an_answered_call_makes_the_agent_in_call_and_its_end_available(platform, org):
    presence.set_status(org.agent, AgentStatus.AVAILABLE)
    platform.post("/calls/events", call_event("ringing", 0, caller="070-123 45 67"))
    assert status_of(org.agent) == AgentStatus.AVAILABLE
    answered = platform.post(
        "/calls/events", call_event("answered", 20, agent_email=org.agent.email)
    )
    assert answered.status_code == 201
    assert status_of(org.agent) == AgentStatus.IN_CALL
    platform.post("/calls/events", call_event("ended", 200))
    assert status_of(org.agent) == AgentStatus.AVAILABLE


def test_a_status_the_agent_chose_during_the_call_is_kept(platform, org):
    presence.set_status(org.agent, AgentStatus.AVAILABLE)
    platform.post("/calls/events", call_event("answered", 20, agent_email=org.agent.email))
    presence.set_status(org.agent, AgentStatus.BREAK)
    platform.post("/calls/events", call_event("ended", 200))
    assert status_of(org.agent) == AgentStatus.BREAK


def test_a_call_to_an_agent_on_a_break_changes_nothing(platform, org):
    presence.set_status(org.agent, AgentStatus.TRAINING)
    platform.post("/calls/events", call_event("answered", 20, agent_email=org.agent.email))
    assert status_of(org.agent) == AgentStatus.TRAINING
    platform.post("/calls/events", call_event("ended", 200))
    assert status_of(org.agent) == AgentStatus.TRAINING


def test_call_events_do_not_make_an_absent_agent_signed_in(platform, org, app):
    """The browser closed two hours ago (still "tillgänglig"); the softphone takes calls."""
    from kontaktcenter.distribution import settings
    from kontaktcenter.distribution.settings import SettingsData

    settings.save(SettingsData(DistributionMode.ROUND_ROBIN, True, True, 5))
    presence.set_status(org.agent, AgentStatus.AVAILABLE)
    two_hours_ago = utcnow() - timedelta(hours=2)
    _seen(org.agent, two_hours_ago)
    platform.post("/calls/events", call_event("answered", 20, agent_email=org.agent.email))
    platform.post("/calls/events", call_event("ended", 200))
    db.session.expire_all()
    row = db.session.get(AgentPresence, org.agent.id)
    assert row.seen_at == two_hours_ago
    assert _new_email_goes_to(org) is None


def test_call_events_do_not_refresh_when_the_agent_was_seen(platform, org):
    presence.set_status(org.agent, AgentStatus.AVAILABLE)
    five_minutes_ago = utcnow() - timedelta(minutes=5)
    _seen(org.agent, five_minutes_ago)
    platform.post("/calls/events", call_event("answered", 20, agent_email=org.agent.email))
    assert status_of(org.agent) == AgentStatus.IN_CALL
    platform.post("/calls/events", call_event("ended", 200))
    assert status_of(org.agent) == AgentStatus.AVAILABLE
    assert db.session.get(AgentPresence, org.agent.id).seen_at == five_minutes_ago


@pytest.mark.parametrize("order", ["in_order", "transfer_first"])
def test_a_transferred_call_moves_i_samtal_to_the_colleague(platform, org, order):
    colleague = factories.make_user(Role.AGENT, name="Bertil Agent")
    presence.set_status(org.agent, AgentStatus.AVAILABLE)
    presence.set_status(colleague, AgentStatus.AVAILABLE)
    answered = call_event("answered", 20, agent_email=org.agent.email)
    transferred = call_event("transferred", 60, agent_email=colleague.email)
    for event in [answered, transferred] if order == "in_order" else [transferred, answered]:
        assert platform.post("/calls/events", event).status_code == 201
    assert status_of(org.agent) == AgentStatus.AVAILABLE
    assert status_of(colleague) == AgentStatus.IN_CALL
    platform.post("/calls/events", call_event("ended", 300))
    assert status_of(org.agent) == status_of(colleague) == AgentStatus.AVAILABLE


def test_a_transfer_after_the_end_changes_nobody(platform, org):
    colleague = factories.make_user(Role.AGENT, name="Bertil Agent")
    presence.set_status(org.agent, AgentStatus.AVAILABLE)
    presence.set_status(colleague, AgentStatus.AVAILABLE)
    platform.post("/calls/events", call_event("answered", 20, agent_email=org.agent.email))
    platform.post("/calls/events", call_event("ended", 300))
    platform.post("/calls/events", call_event("transferred", 60, agent_email=colleague.email))
    assert status_of(org.agent) == status_of(colleague) == AgentStatus.AVAILABLE


def test_a_transfer_keeps_a_status_the_agent_chose(platform, org):
    colleague = factories.make_user(Role.AGENT, name="Bertil Agent")
    presence.set_status(org.agent, AgentStatus.AVAILABLE)
    presence.set_status(colleague, AgentStatus.TRAINING)
    platform.post("/calls/events", call_event("answered", 20, agent_email=org.agent.email))
    presence.set_status(org.agent, AgentStatus.BREAK)
    platform.post("/calls/events", call_event("transferred", 60, agent_email=colleague.email))
    assert status_of(org.agent) == AgentStatus.BREAK
    assert status_of(colleague) == AgentStatus.TRAINING


def test_a_late_answer_after_the_end_leaves_the_agent_available(platform, org):
    presence.set_status(org.agent, AgentStatus.AVAILABLE)
    platform.post("/calls/events", call_event("ended", 200))
    platform.post("/calls/events", call_event("answered", 20, agent_email=org.agent.email))
    assert status_of(org.agent) == AgentStatus.AVAILABLE
