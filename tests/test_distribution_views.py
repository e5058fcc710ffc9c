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
    assert "Tilldelat</strong>" in timeline and "– Agnes Agent" in timeline
    assert "Tilldelad av fördelningen" in timeline and "Systemet" in timeline
    assert "<dt>Handläggs av</dt><dd>Agnes Agent</dd>" in html


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


def test_a_late_answer_after_the_end_leaves_the_agent_available(platform, org):
    presence.set_status(org.agent, AgentStatus.AVAILABLE)
    platform.post("/calls/events", call_event("ended", 200))
    platform.post("/calls/events", call_event("answered", 20, agent_email=org.agent.email))
    assert status_of(org.agent) == AgentStatus.AVAILABLE
