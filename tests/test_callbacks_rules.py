"""Callbacks (#14): attempts under the retry rules per case type, what exhaustion does (an e-mail
or a letter), cancelling, and how each end counts for the promise."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from kontaktcenter.callbacks import events, hooks, rules, services
from kontaktcenter.callbacks.models import Callback, CallbackAttempt, CallbackStatus, Fallback
from kontaktcenter.cases import actions
from kontaktcenter.cases.contacts import ContactData
from kontaktcenter.cases.enums import ActivityKind, CallbackResult, Outcome
from kontaktcenter.cases.models import Activity, Case
from kontaktcenter.channels.email.models import MailMessage, MailTemplate
from kontaktcenter.core.errors import Forbidden, NotFound, ValidationError
from kontaktcenter.core.extensions import db, utcnow
from kontaktcenter.goals.models import CaseGoal, GoalTarget
from tests import factories
from tests.test_callbacks_services import signals_of

assert hooks


@pytest.fixture
def clock(monkeypatch):
    """The attempts' clock, moved on by the test (the retry gap is in minutes)."""
    state = {"now": utcnow()}
    monkeypatch.setattr("kontaktcenter.callbacks.closing.utcnow", lambda: state["now"])

    def advance(minutes: int) -> None:
        state["now"] += timedelta(minutes=minutes)

    return advance


def make_callback(org, case_type=None, email: str | None = None) -> Callback:
    contact = ContactData(name="Sven Svensson", phone="070-123 45 67", email=email)
    case = factories.make_case(
        org.agent, case_type or org.bygglov, outcome=Outcome.CALLBACK, contact=contact
    )
    callback = services.open_callback(case)
    assert callback is not None
    return callback


def kinds(case: Case) -> list[ActivityKind]:
    return list(
        db.session.scalars(
            sa.select(Activity.kind).where(Activity.case_id == case.id).order_by(Activity.id)
        )
    )


def callback_goal(case: Case) -> CaseGoal:
    return db.session.scalars(
        sa.select(CaseGoal)
        .where(CaseGoal.case_id == case.id, CaseGoal.target == GoalTarget.CALLBACK)
        .order_by(CaseGoal.id.desc())
    ).first()


# --- the effective rule -----------------------------------------------------------------------


def test_the_case_types_rule_wins_then_the_default_then_the_built_in(org):
    assert rules.effective_rule(org.bygglov) == rules.BUILT_IN
    assert (rules.BUILT_IN.max_attempts, rules.BUILT_IN.min_gap_minutes) == (3, 120)
    rules.save_rule(None, max_attempts=5, min_gap_minutes=30, fallback=Fallback.LETTER)
    assert rules.effective_rule(org.bygglov).max_attempts == 5
    rules.save_rule(org.bygglov, max_attempts=2, min_gap_minutes=60, fallback=Fallback.NONE)
    assert rules.effective_rule(org.bygglov).max_attempts == 2
    assert rules.effective_rule(org.miljotillsyn).max_attempts == 5
    assert rules.effective_rule(None).max_attempts == 5
    rules.save_rule(org.bygglov, max_attempts=4, min_gap_minutes=60, fallback=Fallback.NONE)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(rules.CallbackRule)) == 2


@pytest.mark.parametrize(
    ("attempts", "gap", "field"),
    [
        (0, 60, "max_attempts"),
        (11, 60, "max_attempts"),
        (3, 4, "min_gap_minutes"),
        (3, 1441, "min_gap_minutes"),
    ],
)
def test_a_rule_outside_the_bounds_is_refused(org, attempts, gap, field):
    with pytest.raises(ValidationError) as refused:
        rules.save_rule(
            org.bygglov, max_attempts=attempts, min_gap_minutes=gap, fallback=Fallback.EMAIL
        )
    assert refused.value.field == field


def test_the_bounds_themselves_are_allowed(org):
    rules.save_rule(org.bygglov, max_attempts=1, min_gap_minutes=5, fallback=Fallback.EMAIL)
    rules.save_rule(org.bygglov, max_attempts=10, min_gap_minutes=1440, fallback=Fallback.EMAIL)
    assert rules.effective_rule(org.bygglov).min_gap_minutes == 1440


# --- attempts ------------------------------------------------------------------------------------


def test_no_answer_waits_the_gap_and_goes_back_to_the_pool(org, clock):
    callback = make_callback(org)
    assert services.take_next(org.handler_bygg).id == callback.id
    services.record_attempt(callback, org.handler_bygg, CallbackResult.NO_ANSWER, "Inget svar")
    assert callback.status == CallbackStatus.PENDING and callback.attempts == 1
    assert callback.assigned_to_id is None
    assert callback.next_attempt_at is not None
    with pytest.raises(ValidationError):
        services.record_attempt(callback, org.handler_bygg, CallbackResult.BUSY)
    clock(119)
    with pytest.raises(ValidationError):
        services.record_attempt(callback, org.handler_bygg, CallbackResult.BUSY)
    clock(1)
    services.record_attempt(callback, org.handler_bygg, CallbackResult.BUSY)
    assert callback.attempts == 2
    [first, second] = callback.attempt_rows
    assert (first.result, first.note) == (CallbackResult.NO_ANSWER, "Inget svar")
    assert second.result == CallbackResult.BUSY and second.at - first.at == timedelta(minutes=120)
    assert kinds(callback.case).count(ActivityKind.CALLBACK_ATTEMPT) == 2


def test_reached_closes_the_callback_and_meets_the_promise(org):
    callback = make_callback(org)
    with signals_of(events.closed) as closed:
        services.record_attempt(callback, org.handler_bygg, CallbackResult.REACHED)
    case = callback.case
    assert callback.status == CallbackStatus.REACHED and callback.closed_at is not None
    assert case.callback_done_at == callback.closed_at
    assert callback_goal(case).met_at is not None
    assert closed == [callback]
    with pytest.raises(ValidationError, match="redan avslutad"):
        services.record_attempt(callback, org.handler_bygg, CallbackResult.NO_ANSWER)


def test_reached_before_the_next_allowed_time_is_still_recorded(org, clock):
    callback = make_callback(org)
    services.record_attempt(callback, org.handler_bygg, CallbackResult.NO_ANSWER)
    services.record_attempt(callback, org.handler_bygg, CallbackResult.REACHED)
    assert callback.status == CallbackStatus.REACHED


def test_closing_the_case_after_reaching_the_person_keeps_it_reached(org):
    callback = make_callback(org)
    services.record_attempt(callback, org.handler_bygg, CallbackResult.REACHED)
    actions.close(callback.case, org.handler_bygg, "Klart")
    assert callback.status == CallbackStatus.REACHED
    assert ActivityKind.CALLBACK_CANCELLED not in kinds(callback.case)


def test_someone_who_may_not_act_on_the_case_cannot_record_an_attempt(org):
    callback = make_callback(org)
    with pytest.raises(NotFound):
        services.record_attempt(callback, org.handler_miljo, CallbackResult.REACHED)
    with pytest.raises(Forbidden):
        services.record_attempt(callback, org.manager, CallbackResult.REACHED)
    assert callback.attempts == 0 and callback.status == CallbackStatus.PENDING


def test_an_attempt_note_over_500_characters_is_refused(org):
    callback = make_callback(org)
    with pytest.raises(ValidationError):
        services.record_attempt(callback, org.handler_bygg, CallbackResult.NO_ANSWER, "x" * 501)


# --- exhaustion ------------------------------------------------------------------------------


def exhaust(callback: Callback, by, clock, n: int = 3) -> None:
    for _ in range(n):
        services.record_attempt(callback, by, CallbackResult.NO_ANSWER)
        clock(120)


def test_the_last_attempt_sends_an_email_from_the_rules_template(org, clock, outbox):
    template = MailTemplate(
        key="callback-missed",
        name="Missad återuppringning",
        subject="Vi sökte dig",
        body="Hej {namn}, vi har sökt dig om {referens}.",
    )
    db.session.add(template)
    db.session.commit()
    rules.save_rule(
        org.bygglov,
        max_attempts=2,
        min_gap_minutes=60,
        fallback=Fallback.EMAIL,
        fallback_template=template,
    )
    callback = make_callback(org, email="sven@example.se")
    with signals_of(events.closed) as closed:
        exhaust(callback, org.handler_bygg, clock, n=2)
    case = callback.case
    assert callback.status == CallbackStatus.EXHAUSTED and callback.attempts == 2
    assert callback.fallback == Fallback.EMAIL and callback.fallback_done_at is not None
    assert case.callback_done_at == callback.closed_at
    goal = callback_goal(case)
    assert goal.met_at == callback.closed_at and goal.cancelled_at is None
    [message] = db.session.scalars(sa.select(MailMessage).where(MailMessage.case_id == case.id))
    assert message.recipient == "sven@example.se"
    assert "Vi sökte dig" in message.subject
    assert message.text_body == f"Hej Sven Svensson, vi har sökt dig om {case.reference}."
    assert kinds(case)[-3:] == [
        ActivityKind.CALLBACK_EXHAUSTED,
        ActivityKind.EMAIL_QUEUED,
        ActivityKind.EMAIL_SENT,  # delivered by the outbox after the commit
    ]
    assert len(list(outbox.glob("*.eml"))) == 1
    assert closed == [callback]


def test_without_a_template_the_default_email_text_is_sent(org, clock, outbox):
    callback = make_callback(org, email="sven@example.se")
    exhaust(callback, org.handler_bygg, clock)
    [message] = db.session.scalars(
        sa.select(MailMessage).where(MailMessage.case_id == callback.case_id)
    )
    assert "Vi har försökt ringa dig" in message.subject
    assert callback.case.reference in message.text_body


def test_without_an_email_address_the_fallback_is_a_letter_until_marked_sent(org, clock):
    callback = make_callback(org)
    exhaust(callback, org.handler_bygg, clock, n=2)
    assert callback.status == CallbackStatus.PENDING  # three attempts by default
    exhaust(callback, org.handler_bygg, clock, n=1)
    assert callback.status == CallbackStatus.EXHAUSTED
    assert callback.fallback == Fallback.LETTER and callback.fallback_done_at is None
    assert db.session.scalar(sa.select(sa.func.count()).select_from(MailMessage)) == 0
    services.mark_letter_sent(callback, org.handler_bygg)
    assert callback.fallback_done_at is not None
    assert kinds(callback.case)[-1] == ActivityKind.CALLBACK_LETTER_SENT
    with pytest.raises(ValidationError):
        services.mark_letter_sent(callback, org.handler_bygg)


def test_a_letter_rule_sends_a_letter_even_to_someone_with_an_address(org, clock):
    rules.save_rule(None, max_attempts=1, min_gap_minutes=60, fallback=Fallback.LETTER)
    callback = make_callback(org, email="sven@example.se")
    exhaust(callback, org.handler_bygg, clock, n=1)
    assert callback.fallback == Fallback.LETTER


def test_a_wrong_number_exhausts_at_once(org):
    callback = make_callback(org)
    services.record_attempt(callback, org.handler_bygg, CallbackResult.WRONG_NUMBER)
    assert callback.status == CallbackStatus.EXHAUSTED and callback.attempts == 1
    assert callback.case.callback_done_at is not None


def test_only_someone_who_may_act_on_the_case_marks_the_letter_sent(org, clock):
    callback = make_callback(org)
    services.record_attempt(callback, org.handler_bygg, CallbackResult.WRONG_NUMBER)
    with pytest.raises(NotFound):
        services.mark_letter_sent(callback, org.handler_miljo)
    assert callback.fallback_done_at is None


# --- cancelling ------------------------------------------------------------------------------


def test_cancelling_withdraws_the_promise_neither_met_nor_breached(org):
    callback = make_callback(org)
    with pytest.raises(ValidationError):
        services.cancel(callback, org.handler_bygg, "  ")
    with signals_of(events.closed) as closed:
        services.cancel(callback, org.handler_bygg, "Personen ringde själv in")
    case = callback.case
    assert callback.status == CallbackStatus.CANCELLED and closed == [callback]
    goal = callback_goal(case)
    assert goal.cancelled_at is not None and goal.met_at is None
    assert case.callback_due_at is None and case.callback_done_at is None
    entry = db.session.scalars(
        sa.select(Activity).where(
            Activity.case_id == case.id, Activity.kind == ActivityKind.CALLBACK_CANCELLED
        )
    ).one()
    assert entry.text == "Personen ringde själv in"
    with pytest.raises(ValidationError):
        services.cancel(callback, org.handler_bygg, "Igen")


def test_closing_the_case_another_way_cancels_its_pending_callback(org):
    callback = make_callback(org)
    actions.close(callback.case, org.handler_bygg, "Löst via e-post")
    assert callback.status == CallbackStatus.CANCELLED
    goal = callback_goal(callback.case)
    assert goal.cancelled_at is not None and goal.met_at is None
    # The reports read the case's columns: not booked, so neither kept nor late.
    assert callback.case.callback_due_at is None and not callback.case.callback_pending
    actions.reopen(callback.case, org.agent, "Hörde av sig igen")
    assert not callback.case.callback_pending and services.open_callback(callback.case) is None


def test_the_older_case_page_action_keeps_the_row_in_step(org):
    callback = make_callback(org)
    actions.record_callback_attempt(callback.case, org.handler_bygg, CallbackResult.REACHED)
    assert callback.status == CallbackStatus.REACHED and callback.attempts == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(CallbackAttempt)) == 1


def test_the_admin_list_shows_the_default_rule_first(org):
    rules.save_rule(org.miljotillsyn, max_attempts=2, min_gap_minutes=60, fallback=Fallback.NONE)
    rules.save_rule(None, max_attempts=4, min_gap_minutes=60, fallback=Fallback.EMAIL)
    rules.save_rule(org.bygglov, max_attempts=2, min_gap_minutes=60, fallback=Fallback.NONE)
    assert [r.case_type_id for r in rules.all_rules()] == [
        None,
        org.bygglov.id,
        org.miljotillsyn.id,
    ]
    rules.delete_rule(org.bygglov)
    assert rules.effective_rule(org.bygglov).max_attempts == 4


def test_a_rule_without_fallback_ends_with_nothing_to_send(org, clock):
    rules.save_rule(org.bygglov, max_attempts=1, min_gap_minutes=60, fallback=Fallback.NONE)
    callback = make_callback(org, email="sven@example.se")
    exhaust(callback, org.handler_bygg, clock, n=1)
    assert callback.status == CallbackStatus.EXHAUSTED and callback.fallback == Fallback.NONE
    assert db.session.scalar(sa.select(sa.func.count()).select_from(MailMessage)) == 0
