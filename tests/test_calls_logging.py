"""A case logged from a reported call (#14): the call form carries the call, the saved case is
linked to it with its times; and the agent's list of unlogged calls."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from kontaktcenter.cases.enums import Channel, Outcome
from kontaktcenter.cases.models import Case
from kontaktcenter.cases.services import NewCase
from kontaktcenter.channels.phone import call_events, call_log, unlogged
from kontaktcenter.channels.phone.call_events import EventData
from kontaktcenter.channels.phone.models import Call, CallEventKind
from kontaktcenter.core.extensions import db
from kontaktcenter.core.roles import Role
from tests import factories

ANSWERED = datetime(2026, 11, 16, 9, 31, 10, tzinfo=UTC)


def record(kind: str, agent=None, at: datetime = ANSWERED, call_id: str = "c-1", **kw) -> Call:
    return call_events.record(
        EventData(
            platform_call_id=call_id,
            kind=CallEventKind(kind),
            at=at,
            caller=kw.pop("caller", "070-123 45 67"),
            caller_given=True,
            agent=agent,
            **kw,
        )
    ).call


def save_call_form(client, call_id: int | str, summary: str = "Fråga om bygglov för altan"):
    return factories.post(
        client,
        "/samtal/ny",
        {
            "call_id": str(call_id),
            "phone": "070-123 45 67",
            "name": "Sven Svensson",
            "case_type": "bygglov",
            "summary": summary,
            "outcome": "answered",
            "answer": "Bygglov behövs inte för en altan under 1,8 m.",
        },
    )


def case_of(call_id: int) -> Case | None:
    db.session.expire_all()
    call = db.session.get(Call, call_id)
    assert call is not None
    return call.case


def test_the_saved_case_is_linked_to_the_call_and_starts_when_it_was_answered(client, org, login):
    call = record("answered", agent=org.agent)
    login(org.agent)
    form = client.get(f"/samtal/ny?call={call.id}").get_data(as_text=True)
    assert f'name="call_id" type="hidden" value="{call.id}"' in form
    assert "Samtal från 070-123 45 67" in form
    response = save_call_form(client, call.id)
    assert response.status_code == 302
    case = case_of(call.id)
    assert case is not None and case.created_by_id == org.agent.id
    assert case.received_at == ANSWERED


def test_the_case_page_shows_the_calls_times_also_when_ended_comes_after_saving(client, org, login):
    call = record("answered", agent=org.agent, queue="Bygglov", queue_wait_seconds=42)
    login(org.agent)
    save_call_form(client, call.id)
    case = case_of(call.id)
    page = client.get(f"/arenden/{case.id}").get_data(as_text=True)
    assert '<h2 id="call-h">Samtal</h2>' in page
    assert "Pågår eller ej rapporterat" in page
    record("ended", at=ANSWERED + timedelta(minutes=3, seconds=5))
    page = client.get(f"/arenden/{case.id}").get_data(as_text=True)
    assert "3 min 5 s" in page and "42 s" in page and "Bygglov" in page


def test_a_case_without_a_call_has_no_call_panel(client, org, login):
    case = factories.make_case(org.agent, org.bygglov)
    login(org.agent)
    assert 'id="call-h"' not in client.get(f"/arenden/{case.id}").get_data(as_text=True)


def test_another_agents_call_is_not_linked(client, org, login):
    other = factories.make_user(Role.AGENT, name="Olle Annan")
    call = record("answered", agent=other)
    login(org.agent)
    assert save_call_form(client, call.id).status_code == 302
    assert case_of(call.id) is None
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Case)) == 1


def test_a_call_links_the_first_case_saved_for_it(client, org, login):
    call = record("answered", agent=org.agent)
    login(org.agent)
    save_call_form(client, call.id, summary="Första ärendet")
    save_call_form(client, call.id, summary="Andra ärendet")
    assert case_of(call.id).summary == "Första ärendet"


def test_two_saves_racing_for_one_call_link_one_case(org):
    """Both read the call before either saved (two tabs): the lock and the recheck of
    `case_id` under it keep the first link."""
    call = record("answered", agent=org.agent)
    first_view = call_log.call_for(org.agent, call.id)
    second_view = call_log.call_for(org.agent, call.id)
    first = call_log.create_case_for_call(
        NewCase(channel=Channel.PHONE, summary="Första", outcome=Outcome.ANSWERED),
        first_view,
        by=org.agent,
    )
    second = call_log.create_case_for_call(
        NewCase(channel=Channel.PHONE, summary="Andra", outcome=Outcome.ANSWERED),
        second_view,
        by=org.agent,
    )
    assert case_of(call.id).id == first.id != second.id


def test_a_bad_call_id_in_the_form_is_ignored(client, org, login):
    login(org.agent)
    for value in ("abc", "99999999999", "-1", "0"):
        assert save_call_form(client, value).status_code == 302
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Case)) == 4


# -- Ologgade samtal --------------------------------------------------------------------------


@pytest.fixture
def clock(monkeypatch):
    def set_now(when: datetime) -> None:
        monkeypatch.setattr(unlogged, "utcnow", lambda: when)

    return set_now


ENDED = ANSWERED + timedelta(minutes=4)


def ended_call(agent, call_id: str = "c-1", **kw) -> Call:
    record("answered", agent=agent, call_id=call_id, **kw)
    return record("ended", at=ENDED, call_id=call_id)


def test_an_ended_call_without_a_case_shows_after_n_minutes(client, org, login, clock):
    call = ended_call(org.agent)
    clock(ENDED + timedelta(minutes=9, seconds=59))
    assert unlogged.unlogged_calls(org.agent) == []
    clock(ENDED + timedelta(minutes=10))
    assert unlogged.unlogged_calls(org.agent) == [call]
    login(org.agent)
    page = client.get("/samtal/ologgade").get_data(as_text=True)
    assert "070-123 45 67" in page and "4 min 0 s" in page
    assert f'href="/samtal/{call.id}/oppna">Registrera' in page


def test_the_minutes_are_a_setting(app, org, clock):
    call = ended_call(org.agent)
    clock(ENDED + timedelta(minutes=20))
    app.config["CALL_UNLOGGED_MINUTES"] = 30
    try:
        assert unlogged.unlogged_calls(org.agent) == []
    finally:
        app.config["CALL_UNLOGGED_MINUTES"] = 10
    assert unlogged.unlogged_calls(org.agent) == [call]


def test_a_logged_call_is_not_unlogged(client, org, login, clock):
    call = ended_call(org.agent)
    login(org.agent)
    save_call_form(client, call.id)
    clock(ENDED + timedelta(hours=1))
    assert unlogged.unlogged_calls(org.agent) == []


def test_only_the_agents_own_answered_calls_are_listed(org, clock):
    other = factories.make_user(Role.AGENT, name="Olle Annan")
    ended_call(other, call_id="theirs")
    record("abandoned", call_id="abandoned")
    record("answered", agent=org.agent, call_id="going-on")
    clock(ENDED + timedelta(hours=1))
    assert unlogged.unlogged_calls(org.agent) == []
    assert [c.platform_call_id for c in unlogged.unlogged_calls(other)] == ["theirs"]


def test_a_transferred_call_is_the_new_agents_to_log(org, clock):
    other = factories.make_user(Role.AGENT, name="Olle Annan")
    record("answered", agent=org.agent)
    record("transferred", agent=other, at=ANSWERED + timedelta(minutes=1))
    record("ended", at=ENDED)
    clock(ENDED + timedelta(hours=1))
    assert unlogged.unlogged_calls(org.agent) == []
    assert len(unlogged.unlogged_calls(other)) == 1


def test_the_recent_calls_page_is_the_fallback(client, org, login):
    call = record("answered", agent=org.agent)
    login(org.agent)
    page = client.get("/samtal/senaste").get_data(as_text=True)
    assert f'href="/samtal/{call.id}/oppna">Registrera' in page
    assert "Pågår" in page


def test_handlers_have_no_call_lists(client, org, login):
    login(org.handler_bygg)
    assert client.get("/samtal/ologgade").status_code == 403
    assert client.get("/samtal/senaste").status_code == 403
