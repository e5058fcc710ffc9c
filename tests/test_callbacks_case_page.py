"""The case page and callbacks (#14): "Boka återuppringning" and "Registrera återuppringning"
go through callbacks.services (one callback per case, attempts counted, retry rules applied);
the side column shows the case's callback; phone numbers are tel: links."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from kontaktcenter.callbacks.models import Callback, CallbackStatus
from kontaktcenter.cases.enums import Outcome
from kontaktcenter.core.extensions import db, utcnow
from kontaktcenter.core.templating import tel_href
from tests.factories import make_case, post


def _callbacks(case) -> list[Callback]:
    return list(db.session.scalars(sa.select(Callback).where(Callback.case_id == case.id)))


def _local(dt) -> str:
    return dt.astimezone(ZoneInfo("Europe/Stockholm")).strftime("%Y-%m-%dT%H:%M")


def test_booking_on_the_case_page_puts_one_callback_on_the_worklist(client, org, login):
    case = make_case(org.agent, org.bygglov)
    login(org.handler_bygg)
    start = utcnow() + timedelta(hours=2)
    answer = post(
        client,
        f"/arenden/{case.id}/book_callback",
        {
            "version": case.version,
            "slot_start": _local(start),
            "due_at": _local(start + timedelta(hours=1)),
            "note": "Efter lunch",
        },
    )
    assert answer.status_code == 302
    (callback,) = _callbacks(case)
    assert callback.status == CallbackStatus.PENDING and callback.note == "Efter lunch"
    assert callback.slot_start is not None and callback.next_attempt_at == callback.slot_start
    # Booking again gives the same callback a new promise: still one.
    post(client, f"/arenden/{case.id}/book_callback", {"version": case.version})
    assert len(_callbacks(case)) == 1
    html = client.get("/aterringningar/").get_data(as_text=True)
    assert case.reference in html


def test_a_start_without_an_end_is_refused_next_to_the_field(client, org, login):
    case = make_case(org.agent, org.bygglov)
    login(org.handler_bygg)
    start = utcnow() + timedelta(hours=2)
    answer = post(
        client,
        f"/arenden/{case.id}/book_callback",
        {"version": case.version, "slot_start": _local(start)},
    )
    assert answer.status_code == 422
    assert "Ange också senast när vi ska ringa." in answer.get_data(as_text=True)
    assert _callbacks(case) == []


def test_a_time_already_past_is_refused(client, org, login):
    case = make_case(org.agent, org.bygglov)
    login(org.handler_bygg)
    answer = post(
        client,
        f"/arenden/{case.id}/book_callback",
        {"version": case.version, "due_at": _local(utcnow() - timedelta(hours=2))},
    )
    assert answer.status_code == 422
    assert _callbacks(case) == []


def test_attempts_on_the_case_page_count_and_follow_the_rules(client, org, login):
    case = make_case(org.agent, org.bygglov, Outcome.CALLBACK)
    login(org.handler_bygg)
    html = client.get(f"/arenden/{case.id}").get_data(as_text=True)
    assert "Återuppringning" in html and "0 av 3" in html
    (callback,) = _callbacks(case)
    assert f"/aterringningar/{callback.id}" in html
    answer = post(
        client,
        f"/arenden/{case.id}/callback_attempt",
        {"version": case.version, "result": "busy"},
        follow_redirects=True,
    )
    html = answer.get_data(as_text=True)
    assert "Nästa försök tidigast" in html
    db.session.refresh(callback)
    assert callback.attempts == 1 and callback.next_attempt_at is not None
    assert "1 av 3" in html
    # Reached closes it, whatever the gap: the person called back or answered early.
    post(
        client,
        f"/arenden/{case.id}/callback_attempt",
        {"version": case.version, "result": "reached"},
    )
    db.session.refresh(callback)
    assert callback.status == CallbackStatus.REACHED and callback.attempts == 2
    assert not case.callback_pending


def test_wrong_number_ends_the_callback(client, org, login):
    case = make_case(org.agent, org.bygglov, Outcome.CALLBACK)
    login(org.handler_bygg)
    post(
        client,
        f"/arenden/{case.id}/callback_attempt",
        {"version": case.version, "result": "wrong_number"},
    )
    (callback,) = _callbacks(case)
    assert callback.status == CallbackStatus.EXHAUSTED and callback.attempts == 1


def test_a_stale_version_is_a_conflict_and_counts_no_attempt(client, org, login):
    case = make_case(org.agent, org.bygglov, Outcome.CALLBACK)
    login(org.handler_bygg)
    answer = post(
        client,
        f"/arenden/{case.id}/callback_attempt",
        {"version": case.version - 1 if case.version > 1 else 999, "result": "no_answer"},
    )
    assert answer.status_code == 409
    assert _callbacks(case)[0].attempts == 0


def test_the_panel_is_not_shown_without_a_callback(client, org, login):
    case = make_case(org.agent, org.bygglov)
    login(org.handler_bygg)
    html = client.get(f"/arenden/{case.id}").get_data(as_text=True)
    assert 'id="callback-h"' not in html


def test_phone_numbers_on_case_and_contact_pages_are_tel_links(client, org, login):
    case = make_case(org.agent, org.bygglov)
    login(org.agent)
    html = client.get(f"/arenden/{case.id}").get_data(as_text=True)
    assert 'href="tel:+46701234567"' in html
    assert 'href="tel:+46812345678"' in html  # the case type's direct number
    html = client.get(f"/kontakter/{case.contact_id}").get_data(as_text=True)
    assert 'href="tel:+46701234567"' in html


@pytest.mark.parametrize(
    ("raw", "href"),
    [
        ("070-123 45 67", "tel:+46701234567"),
        ("+46 8 123 456 78", "tel:+46812345678"),
        ("0046701234567", "tel:+46701234567"),
        ("", None),
        (None, None),
        ("inte ett nummer", None),
        ("1" * 60, None),
    ],
)
def test_tel_href(app, raw, href):
    assert tel_href(raw) == href
