"""Screen pop (#14): the agent's server-sent events, and where a pop opens.

The test client is not threaded (``wsgi.multithread`` false), so a stream answers what is due
and ends, as it does on gunicorn's sync workers; the held stream and the brokers are tested on
their own here, and end to end in test_calls_gunicorn.py and the browser test."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta

import sqlalchemy as sa

from kontaktcenter.cases.contacts import ContactData
from kontaktcenter.channels.phone import call_events, screen_pop
from kontaktcenter.channels.phone.call_events import EventData
from kontaktcenter.channels.phone.models import CallEvent, CallEventKind
from kontaktcenter.core.extensions import db, utcnow
from kontaktcenter.core.roles import Role
from tests import factories
from tests.conftest import redis_url


def record(kind: str, call_id: str = "c-1", agent=None, caller: str | None = "070-123 45 67", **kw):
    return call_events.record(
        EventData(
            platform_call_id=call_id,
            kind=CallEventKind(kind),
            at=kw.pop("at", utcnow()),
            caller=caller,
            caller_given=True,
            agent=agent,
            **kw,
        )
    )


def events(response) -> list[dict]:
    """The server-sent events of a finished stream: each as its fields."""
    parsed = []
    for block in response.get_data(as_text=True).split("\n\n"):
        fields: dict = {}
        for line in block.splitlines():
            if line.startswith(":"):
                continue
            name, _, value = line.partition(": ")
            fields[name] = value
        if "event" in fields:
            parsed.append(fields)
    return parsed


def pops(response) -> list[dict]:
    return [
        json.loads(e["data"]) | {"id": e["id"]} for e in events(response) if e["event"] == "pop"
    ]


def test_a_new_stream_starts_from_now_with_its_id(client, org, login):
    record("answered", agent=org.agent)  # before the page opened: not popped again
    login(org.agent)
    response = client.get("/samtal/handelser")
    assert response.mimetype == "text/event-stream"
    assert response.headers["Cache-Control"] == "no-store"
    hello = events(response)
    assert [e["event"] for e in hello] == ["hello"]
    assert int(hello[0]["id"]) >= 1
    assert pops(response) == []


def test_an_answered_call_pops_for_its_agent_from_the_last_event_id(client, org, login):
    login(org.agent)
    last = events(client.get("/samtal/handelser"))[0]["id"]
    recorded = record("answered", agent=org.agent)
    assert recorded.popped == org.agent.id
    popped = pops(client.get(f"/samtal/handelser?last={last}"))
    assert popped == [
        {
            "id": str(recorded.event.id),
            "call": recorded.call.id,
            "caller": "070-123 45 67",
            "url": f"/samtal/{recorded.call.id}/oppna",
        }
    ]
    # The browser's own Last-Event-ID wins over the page's memory: nothing twice.
    again = client.get(f"/samtal/handelser?last={last}", headers={"Last-Event-ID": popped[0]["id"]})
    assert pops(again) == []


def test_a_pop_is_for_its_agent_only(client, org, login):
    other = factories.make_user(Role.AGENT, name="Olle Annan")
    record("answered", agent=other)
    login(org.agent)
    assert pops(client.get("/samtal/handelser?last=0")) == []


def test_a_call_that_already_ended_pops_nobody(client, org, login):
    record("ended")
    recorded = record("answered", agent=org.agent)
    assert recorded.popped is None
    login(org.agent)
    assert pops(client.get("/samtal/handelser?last=0")) == []


def test_a_transferred_call_pops_for_the_new_agent_not_the_first(client, org, login):
    other = factories.make_user(Role.AGENT, name="Olle Annan")
    record("answered", agent=org.agent)
    transferred = record("transferred", agent=other)
    assert transferred.popped == other.id
    login(org.agent)
    assert pops(client.get("/samtal/handelser?last=0")) == []
    login(other)
    assert [p["call"] for p in pops(client.get("/samtal/handelser?last=0"))] == [
        transferred.call.id
    ]


def test_old_pops_are_not_replayed(client, org, login):
    recorded = record("answered", agent=org.agent)
    db.session.execute(
        sa.update(CallEvent)
        .where(CallEvent.call_id == recorded.call.id)
        .values(received_at=utcnow() - screen_pop.REPLAY - timedelta(seconds=5))
    )
    db.session.commit()
    login(org.agent)
    assert pops(client.get("/samtal/handelser?last=0")) == []


def test_a_late_webhook_still_pops(client, org, login):
    """The platform's clock (or its retries) may put `at` minutes back: what counts is when
    we received the event (found in review)."""
    login(org.agent)
    last = events(client.get("/samtal/handelser"))[0]["id"]
    recorded = record("answered", agent=org.agent, at=utcnow() - timedelta(minutes=3))
    assert recorded.popped == org.agent.id
    assert pops(client.get(f"/samtal/handelser?last={last}"))


def test_a_hidden_number_pops_as_dolt_nummer(client, org, login):
    record("answered", agent=org.agent, caller="anonymous")
    login(org.agent)
    assert pops(client.get("/samtal/handelser?last=0"))[0]["caller"] == "Dolt nummer"


def test_handlers_have_no_screen_pop(client, org, login):
    login(org.handler_bygg)
    assert client.get("/samtal/handelser").status_code == 403


def test_a_threaded_stream_waits_for_a_pop_and_ends_after_its_time(client, org, login, monkeypatch):
    """On a threaded server the stream stays open: the publish wakes it (the local broker)."""
    monkeypatch.setattr(screen_pop, "STREAM_SECONDS", 1.0)
    login(org.agent)
    woken = []
    real_listen = screen_pop.LocalBroker.listen

    def listen(self, user_id):
        listener = real_listen(self, user_id)
        threading.Timer(0.2, lambda: self.publish(user_id, 1)).start()
        woken.append(user_id)
        return listener

    monkeypatch.setattr(screen_pop.LocalBroker, "listen", listen)
    started = time.monotonic()
    response = client.get("/samtal/handelser", environ_overrides={"wsgi.multithread": True})
    body = response.get_data(as_text=True)
    assert 0.9 < time.monotonic() - started < 5
    assert woken == [org.agent.id]
    assert body.startswith(f"retry: {screen_pop.RETRY_MS}\n")


def test_a_held_stream_sleeps_until_a_publish_wakes_it(app, db_session, monkeypatch):
    """Woken by the broker, not by spinning or by its poll: the pop goes out at once."""
    monkeypatch.setattr(screen_pop, "STREAM_SECONDS", 1.0)
    monkeypatch.setattr(screen_pop, "POLL_SECONDS", 10.0)
    reads: list[float] = []

    def due(user_id, after):
        reads.append(time.monotonic())
        return [screen_pop.Pop(5, 1, "x", "/samtal/1/oppna")] if len(reads) == 2 else []

    monkeypatch.setattr(screen_pop, "due_pops", due)
    broker = app.extensions["screen_pop"]
    threading.Timer(0.3, lambda: broker.publish(7, 5)).start()
    started = time.monotonic()
    sent = [(time.monotonic() - started, m) for m in screen_pop.stream(7, after=0, threaded=True)]
    popped_at = next(at for at, message in sent if "event: pop" in message)
    assert 0.25 < popped_at < 0.9
    assert len(reads) == 3  # at the start, when woken, and once more at the end
    assert 0.9 < time.monotonic() - started < 3


# -- Where a pop opens --------------------------------------------------------------------------


def test_a_known_caller_opens_their_contact_on_the_call_form(client, org, login):
    factories.make_case(
        org.agent, org.bygglov, contact=ContactData(name="Sven Svensson", phone="070-123 45 67")
    )
    recorded = record("answered", agent=org.agent)
    login(org.agent)
    response = client.get(f"/samtal/{recorded.call.id}/oppna")
    assert response.status_code == 302
    location = response.headers["Location"]
    assert f"call={recorded.call.id}" in location and "contact_id=" in location
    page = client.get(location).get_data(as_text=True)
    assert "Sven Svensson: ärenden och senaste kontakter" in page  # open cases, last contacts
    assert f'name="call_id" type="hidden" value="{recorded.call.id}"' in page


def test_an_unknown_number_prefills_the_form(client, org, login):
    recorded = record("answered", agent=org.agent, caller="+46 70 999 88 77")
    login(org.agent)
    location = client.get(f"/samtal/{recorded.call.id}/oppna").headers["Location"]
    assert "q=070-999" in location
    page = client.get(location).get_data(as_text=True)
    assert 'value="070-999 88 77"' in page  # the phone field of the new caller


def test_a_number_of_several_contacts_lists_them(client, org, login):
    for name in ("Sven Svensson", "Svea Svensson"):
        factories.make_case(
            org.agent,
            org.bygglov,
            contact=ContactData(
                name=name, phone="070-123 45 67", email=f"{name[:4].lower()}@example.org"
            ),
        )
    recorded = record("answered", agent=org.agent)
    login(org.agent)
    page = client.get(f"/samtal/{recorded.call.id}/oppna", follow_redirects=True).get_data(
        as_text=True
    )
    assert "Svea Svensson" in page and "Sven Svensson" in page
    assert page.count(f'&amp;call={recorded.call.id}"') == 2  # each hit keeps the call


def test_a_hidden_number_opens_an_empty_form_for_the_call(client, org, login):
    recorded = record("answered", agent=org.agent, caller=None)
    login(org.agent)
    location = client.get(f"/samtal/{recorded.call.id}/oppna").headers["Location"]
    assert location.endswith(f"/samtal/ny?call={recorded.call.id}")
    assert "Samtal från Dolt nummer" in client.get(location).get_data(as_text=True)


def test_another_agents_call_is_not_found(client, org, login):
    other = factories.make_user(Role.AGENT, name="Olle Annan")
    recorded = record("answered", agent=other)
    login(org.agent)
    assert client.get(f"/samtal/{recorded.call.id}/oppna").status_code == 404
    page = client.get(f"/samtal/ny?call={recorded.call.id}").get_data(as_text=True)
    assert "Samtal från" not in page


# -- The brokers ----------------------------------------------------------------------------------


def test_the_local_broker_wakes_only_the_users_listeners():
    broker = screen_pop.LocalBroker()
    mine, theirs = broker.listen(1), broker.listen(2)
    threading.Timer(0.1, lambda: broker.publish(1, 42)).start()
    assert mine.wait(5) is True
    assert theirs.wait(0.2) is False


def test_the_redis_broker_carries_a_pop_between_processes():
    url = redis_url()
    sender, receiver = screen_pop.RedisBroker(url), screen_pop.RedisBroker(url)
    user_id = int(time.time() * 1000) % 2**31  # a channel no other run listens to
    listener = receiver.listen(user_id)
    try:
        assert listener.wait(0.2) is False
        sender.publish(user_id, 7)
        assert listener.wait(5) is True
    finally:
        listener.close()
