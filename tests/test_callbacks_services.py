"""Callbacks (#14): one pending row per case whatever books it, requests from outside a case,
"ta nästa återuppringning", and the created/closed signals."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import timedelta

import pytest
import sqlalchemy as sa

from kontaktcenter.callbacks import events, hooks, services
from kontaktcenter.callbacks.models import Callback, CallbackSource, CallbackStatus
from kontaktcenter.callbacks.services import CallbackRequest
from kontaktcenter.cases import actions
from kontaktcenter.cases import events as case_events
from kontaktcenter.cases.contacts import ContactData
from kontaktcenter.cases.enums import ActivityKind, CallbackResult, Channel, Outcome
from kontaktcenter.cases.models import Activity, Case, Contact
from kontaktcenter.core.errors import ValidationError
from kontaktcenter.core.extensions import db, utcnow
from kontaktcenter.core.roles import Role
from tests import factories

assert hooks  # the receivers are connected on import


def callbacks_of(case: Case) -> list[Callback]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(Callback).where(Callback.case_id == case.id)))


@contextmanager
def signals_of(signal):
    sent: list = []

    def receiver(sender, **kwargs):
        sent.append(sender)

    signal.connect(receiver)
    try:
        yield sent
    finally:
        signal.disconnect(receiver)


def platform_request(org, number="070-123 45 67", **kwargs) -> services.Requested:
    kwargs.setdefault("source", CallbackSource.PLATFORM)
    return services.request(CallbackRequest(number=number, **kwargs), org.agent)


# --- every path makes exactly one pending row ---------------------------------------------


def test_the_call_forms_callback_is_one_pending_row_that_carries_the_promise(org):
    with signals_of(events.created) as created:
        case = factories.make_case(
            org.agent, org.bygglov, outcome=Outcome.CALLBACK, callback_note="Efter lunch"
        )
    [callback] = callbacks_of(case)
    assert callback.status == CallbackStatus.PENDING
    assert callback.source == CallbackSource.CALL_FORM
    assert callback.due_at == case.callback_due_at is not None
    assert callback.number_e164 == "+46701234567"
    assert callback.note == "Efter lunch"
    assert [c.id for c in created] == [callback.id]


def test_booking_again_on_the_case_page_updates_the_row_instead_of_a_second(org):
    case = factories.make_case(org.agent, org.bygglov, outcome=Outcome.CALLBACK)
    start = utcnow() + timedelta(hours=3)
    with signals_of(events.created) as created:
        services.book(case, org.handler_bygg, start, start + timedelta(hours=1), "Ny tid")
        actions.book_callback(case, org.handler_bygg, start + timedelta(hours=2))
    [callback] = callbacks_of(case)
    assert created == []
    assert callback.due_at == case.callback_due_at == start + timedelta(hours=2)
    assert callback.note == "Ny tid"


def test_a_case_page_booking_makes_an_agent_row_with_its_slot(org):
    case = factories.make_case(org.agent, None, outcome=None, channel=Channel.EMAIL)
    start = utcnow() + timedelta(hours=1)
    callback = services.book(case, org.agent, start, start + timedelta(minutes=30))
    assert callback.source == CallbackSource.AGENT
    assert callback.slot_start == callback.next_attempt_at == start
    assert callback.due_at == case.callback_due_at == start + timedelta(minutes=30)
    assert services.open_callback(case) is callback


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [
        (1, None, "slot_end"),
        (None, 1, "slot_start"),
        (2, 1, "slot_end"),
        (-3, -1, "slot_end"),
        (24 * 30, 24 * 31, "slot_end"),
    ],
)
def test_a_slot_must_be_whole_ordered_ahead_and_within_30_days(org, start, end, field):
    now = utcnow()
    slot = [None if h is None else now + timedelta(hours=h) for h in (start, end)]
    with pytest.raises(ValidationError) as refused:
        platform_request(org, slot_start=slot[0], slot_end=slot[1])
    assert refused.value.field == field
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Callback)) == 0


# --- requests from outside a case -----------------------------------------------------------


def test_a_platform_request_makes_a_first_line_phone_case_for_the_known_contact(org):
    known = factories.make_case(org.agent, None, outcome=Outcome.ANSWERED).contact
    result = platform_request(org, "+46 70 123 45 67", case_type=org.bygglov, platform_ref="p-1")
    assert result.created
    callback = result.callback
    case = callback.case
    assert case.contact_id == known.id
    assert case.department_id is None and case.channel == Channel.PHONE
    assert case.outcome == Outcome.CALLBACK and case.case_type == org.bygglov
    assert case.summary == "Återuppringning begärd via telefonkön"
    assert callback.number_e164 == "+46701234567" and callback.platform_ref == "p-1"
    assert callback.due_at == case.callback_due_at  # the case type's promise (24 h)
    assert callback.next_attempt_at is None


def test_an_e_service_request_with_a_slot_promises_the_slots_end(org):
    start = utcnow() + timedelta(hours=2)
    result = platform_request(
        org,
        "0701112233",
        source=CallbackSource.E_SERVICE,
        slot_start=start,
        slot_end=start + timedelta(hours=1),
        name="Ella Exempel",
    )
    callback = result.callback
    assert callback.case.summary == "Återuppringning begärd via e-tjänst"
    assert callback.case.contact.name == "Ella Exempel"
    assert callback.due_at == start + timedelta(hours=1)
    assert callback.next_attempt_at == start


@pytest.mark.parametrize("number", [None, "", "anonymous", "123", "hidden"])
def test_an_invalid_or_hidden_number_is_refused(org, number):
    with pytest.raises(ValidationError, match="Ogiltigt telefonnummer"):
        platform_request(org, number)


def test_the_same_request_twice_makes_one_callback(org):
    first = platform_request(org, platform_ref="ref-9")
    second = platform_request(org, "0709998877", platform_ref="ref-9")
    assert not second.created and second.callback.id == first.callback.id
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Case)) == 1


def test_the_same_person_asking_again_joins_their_pending_callback(org):
    first = platform_request(org, platform_ref="a")
    again = platform_request(
        org, "+46701234567", source=CallbackSource.E_SERVICE, note="Gäller bygglovet"
    )
    assert not again.created and again.callback.id == first.callback.id
    notes = db.session.scalars(
        sa.select(Activity).where(
            Activity.case_id == first.callback.case_id,
            Activity.kind == ActivityKind.CALLBACK_REQUESTED,
        )
    ).all()
    assert [n.text for n in notes] == ["Gäller bygglovet"]
    assert ActivityKind.CALLBACK_REQUESTED.label == "Begärde återuppringning igen"


def test_a_request_from_a_number_whose_callback_is_done_makes_a_new_one(org):
    first = platform_request(org)
    services.record_attempt(first.callback, org.agent, CallbackResult.REACHED)
    second = platform_request(org)
    assert second.created and second.callback.id != first.callback.id


def test_a_request_does_not_add_to_an_existing_contact(org):
    factories.make_case(org.agent, None, outcome=Outcome.ANSWERED)  # Sven Svensson
    result = platform_request(org, name="Någon Annan")
    assert result.callback.case.contact.name == "Sven Svensson"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Contact)) == 1


# --- ta nästa återuppringning ---------------------------------------------------------------


def _request_at(org, number: str, due_hours: float, **kwargs) -> Callback:
    start = utcnow() + timedelta(minutes=1)
    end = utcnow() + timedelta(hours=due_hours)
    cb = platform_request(org, number, slot_start=start, slot_end=end, **kwargs).callback
    cb.next_attempt_at = None  # callable now
    db.session.commit()
    return cb


def test_take_next_gives_the_earliest_promise_first_and_each_once(org):
    late = _request_at(org, "0701000001", 5)
    early = _request_at(org, "0701000002", 2)
    other_agent = factories.make_user(Role.AGENT)
    assert services.take_next(org.agent).id == early.id
    assert services.take_next(other_agent).id == late.id
    assert services.take_next(factories.make_user(Role.AGENT)) is None
    assert early.assigned_to_id == org.agent.id and early.assigned_at is not None


def test_take_next_orders_equal_promises_by_slot(org):
    a = _request_at(org, "0701000001", 5)
    b = _request_at(org, "0701000002", 5)
    a.slot_start = utcnow() + timedelta(minutes=30)
    b.slot_start = utcnow() - timedelta(minutes=5)
    b.due_at = a.due_at
    db.session.commit()
    assert services.take_next(org.agent).id == b.id


def test_take_next_skips_what_may_not_be_tried_yet(org):
    cb = _request_at(org, "0701000001", 5)
    cb.next_attempt_at = utcnow() + timedelta(minutes=10)
    db.session.commit()
    assert services.take_next(org.agent) is None


def test_someone_elses_callback_is_free_again_after_the_take_minutes(org, app):
    cb = _request_at(org, "0701000001", 5)
    other = factories.make_user(Role.AGENT)
    assert services.take_next(other).id == cb.id
    assert services.take_next(org.agent) is None
    cb.assigned_at = utcnow() - timedelta(minutes=16)
    db.session.commit()
    assert services.take_next(org.agent).id == cb.id
    app.config["CALLBACK_TAKE_MINUTES"] = 30
    try:
        cb.assigned_to_id, cb.assigned_at = other.id, utcnow() - timedelta(minutes=16)
        db.session.commit()
        assert services.take_next(org.agent) is None
    finally:
        del app.config["CALLBACK_TAKE_MINUTES"]


def test_a_handler_takes_only_their_departments_callbacks(org):
    first_line = _request_at(org, "0701000001", 1)
    miljo = factories.make_case(
        org.agent,
        org.miljotillsyn,
        outcome=Outcome.CALLBACK,
        contact=ContactData(phone="070-200 00 02"),
    )
    bygg = factories.make_case(
        org.agent, org.bygglov, outcome=Outcome.CALLBACK, contact=ContactData(phone="070-300 00 03")
    )
    assert services.take_next(org.handler_bygg).case_id == bygg.id
    assert services.take_next(org.handler_bygg) is None
    assert services.take_next(org.handler_miljo).case_id == miljo.id
    assert services.take_next(org.agent).id == first_line.id
    assert services.take_next(org.agent) is None  # department callbacks are not the agents'


def test_a_closed_cases_callback_is_not_taken(org):
    cb = _request_at(org, "0701000001", 1)
    actions.close(cb.case, org.agent, "Löst i telefon")
    assert services.take_next(org.agent) is None


def test_a_request_announces_its_new_callback_once_and_an_attached_one_not_at_all(org):
    with signals_of(events.created) as created:
        first = platform_request(org, platform_ref="x")
        platform_request(org, platform_ref="x")  # the same again
        platform_request(org, source=CallbackSource.E_SERVICE)  # the same person
    assert [c.id for c in created] == [first.callback.id]


def test_a_booking_rolled_back_leaves_no_row_and_announces_nothing(org):
    case = factories.make_case(org.agent, None, outcome=None, channel=Channel.EMAIL)
    with signals_of(events.created) as created:
        case_events.book_callback(case, utcnow())
        db.session.rollback()  # what a service does when a later step refuses
        actions.add_note(case, org.agent, "Något annat")  # the next commit
    assert created == [] and callbacks_of(case) == []


def test_a_slot_without_a_time_zone_is_refused(org):
    naive = utcnow().replace(tzinfo=None) + timedelta(hours=1)
    with pytest.raises(ValidationError, match="tidszon"):
        platform_request(org, slot_start=naive, slot_end=naive + timedelta(hours=1))


# --- booking again after an attempt ---------------------------------------------------------


def test_booking_again_after_no_answer_keeps_the_retry_gap(org):
    callback = platform_request(org).callback
    services.record_attempt(callback, org.agent, CallbackResult.NO_ANSWER)
    gap_ends = callback.next_attempt_at
    assert gap_ends is not None and gap_ends > utcnow() + timedelta(minutes=119)
    services.book(callback.case, org.agent, note="Ring igen")  # as soon as possible
    assert callbacks_of(callback.case)[0].next_attempt_at == gap_ends
    assert services.take_next(org.agent) is None
    soon = utcnow() + timedelta(minutes=30)
    services.book(callback.case, org.agent, soon, soon + timedelta(hours=3))
    assert callbacks_of(callback.case)[0].next_attempt_at == gap_ends  # the slot starts earlier
    later = utcnow() + timedelta(hours=5)
    services.book(callback.case, org.agent, later, later + timedelta(hours=1))
    assert callbacks_of(callback.case)[0].next_attempt_at == later


def test_booking_an_earlier_slot_before_any_attempt_moves_the_next_attempt_earlier(org):
    tomorrow = utcnow() + timedelta(days=1)
    callback = platform_request(
        org, slot_start=tomorrow, slot_end=tomorrow + timedelta(hours=2)
    ).callback
    soon = utcnow() + timedelta(minutes=10)
    services.book(callback.case, org.agent, soon, soon + timedelta(hours=1))
    assert callbacks_of(callback.case)[0].next_attempt_at == soon
