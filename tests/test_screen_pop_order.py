"""The screen pop on PostgreSQL when call events commit out of id order (real threads, real
commits): a stream's watermark must never pass over a pop that is still being committed."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from flask import Flask

from kontaktcenter.channels.phone import call_events, screen_pop
from kontaktcenter.channels.phone.call_events import EventData
from kontaktcenter.channels.phone.models import CallEventKind
from kontaktcenter.core.extensions import db, utcnow
from kontaktcenter.core.roles import Role
from kontaktcenter.organisation.models import User
from tests import factories
from tests.conftest import threaded_postgres_app

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def pg_app() -> Iterator[Flask]:
    with threaded_postgres_app("kontaktcenter_pop", threads=3) as app:
        yield app


def _answer(app: Flask, call_id: str, agent_id: int) -> None:
    with app.app_context():
        try:
            call_events.record(
                EventData(
                    platform_call_id=call_id,
                    kind=CallEventKind.ANSWERED,
                    at=utcnow(),
                    caller="070-123 45 67",
                    caller_given=True,
                    agent=db.session.get(User, agent_id),
                )
            )
        finally:
            db.session.remove()


def _stream(app: Flask, agent_id: int, after: int | None) -> list[str]:
    with app.test_request_context():
        try:
            return list(screen_pop.stream(agent_id, after, threaded=False))
        finally:
            db.session.remove()


def _watermark(messages: list[str]) -> int:
    hello = next(m for m in messages if "event: hello" in m)
    return int(hello.split("id: ", 1)[1].split("\n", 1)[0])


def _popped_calls(app: Flask, messages: list[str]) -> set[str]:
    from kontaktcenter.channels.phone.models import Call

    ids = {int(m.split('"call": ', 1)[1].split(",", 1)[0]) for m in messages if "event: pop" in m}
    with app.app_context():
        found = {db.session.get(Call, i).platform_call_id for i in ids}
        db.session.remove()
    return found


def test_a_pop_still_committing_is_not_skipped_by_a_new_stream(pg_app, monkeypatch):
    """Agent A's `answered` is inserted (its id taken) but not yet committed when A's page
    opens its stream; meanwhile another `answered` for A and one for agent B are posted. The
    stream's watermark must stay below A's pending pop, so A still gets every pop."""
    with pg_app.app_context():
        agent_a = factories.make_user(Role.AGENT).id
        agent_b = factories.make_user(Role.AGENT).id
        db.session.remove()
    inserted, release = threading.Event(), threading.Event()
    real_derive = call_events.derive

    def slow_derive(call, events):
        real_derive(call, events)
        if call.platform_call_id == "slow":
            inserted.set()
            release.wait(30)

    monkeypatch.setattr(call_events, "derive", slow_derive)
    slow = threading.Thread(target=_answer, args=(pg_app, "slow", agent_a))
    slow.start()
    try:
        assert inserted.wait(30)
        _answer(pg_app, "other-agent", agent_b)  # commits at once: a higher id than "slow"
        second = threading.Thread(target=_answer, args=(pg_app, "second", agent_a))
        second.start()
        second.join(2)  # with the per-agent order it waits for "slow"; without, it commits
        opened = _stream(pg_app, agent_a, None)  # the page opens while "slow" is in flight
    finally:
        release.set()
        slow.join(30)
    second.join(30)
    assert not slow.is_alive() and not second.is_alive()
    later = _stream(pg_app, agent_a, _watermark(opened))  # the browser's next read
    assert _popped_calls(pg_app, opened + later) == {"slow", "second"}
    assert "other-agent" not in _popped_calls(pg_app, _stream(pg_app, agent_a, 0))
