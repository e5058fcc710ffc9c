"""The service-goal engine on real cases: due times, pauses, reclassification, the sweep."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from kontaktcenter.calendar.business_calendar import Unit
from kontaktcenter.calendar.models import CalendarException
from kontaktcenter.calendar.services import forget_calendar
from kontaktcenter.cases import actions as case_actions
from kontaktcenter.cases.enums import CallbackResult, Channel, Outcome
from kontaktcenter.core.extensions import db
from kontaktcenter.goals import engine as goals
from kontaktcenter.goals.models import CaseGoal, GoalState, GoalTarget, ServiceGoal
from kontaktcenter.goals.sweep import recent_breaches, sweep
from tests.factories import make_case

STHLM = ZoneInfo("Europe/Stockholm")


def local(*args) -> datetime:
    return datetime(*args, tzinfo=STHLM)


@pytest.fixture
def promises(org):
    db.session.add_all(
        [
            ServiceGoal(
                target=GoalTarget.FIRST_RESPONSE,
                channel=Channel.EMAIL,
                amount=2,
                unit=Unit.WORKING_DAYS,
            ),
            ServiceGoal(
                target=GoalTarget.FIRST_RESPONSE, channel=None, amount=1, unit=Unit.WORKING_DAYS
            ),
            ServiceGoal(
                target=GoalTarget.RESOLUTION,
                case_type=org.bygglov,
                amount=10,
                unit=Unit.WORKING_DAYS,
            ),
            ServiceGoal(target=GoalTarget.SECOND_LINE, amount=16, unit=Unit.OPENING_HOURS),
        ]
    )
    db.session.commit()
    return org


def goal(case, target) -> CaseGoal:
    return next(g for g in case.goals if g.target == target and g.cancelled_at is None)


def test_email_on_friday_afternoon_is_due_tuesday_at_closing(promises):
    case = make_case(
        promises.agent,
        None,
        outcome=None,
        channel=Channel.EMAIL,
        received_at=local(2026, 11, 13, 16, 0),
    )  # Friday
    first = goal(case, GoalTarget.FIRST_RESPONSE)
    assert first.definition["amount"] == 2 and first.definition["unit"] == "working_days"
    assert first.due_at == local(2026, 11, 17, 17, 0)  # Tuesday closing
    assert case.due_at == first.due_at


def test_email_arriving_on_a_saturday_night_counts_from_monday(promises):
    case = make_case(
        promises.agent,
        None,
        outcome=None,
        channel=Channel.EMAIL,
        received_at=local(2026, 11, 14, 23, 0),
    )
    assert goal(case, GoalTarget.FIRST_RESPONSE).due_at == local(2026, 11, 18, 17, 0)


def test_callback_before_midsommarafton_is_due_monday(promises):
    case = make_case(
        promises.agent,
        promises.bygglov,
        outcome=Outcome.ROUTED,
        received_at=local(2026, 6, 18, 9, 0),
    )
    due = goals.on_callback_booked(case, local(2026, 6, 18, 10, 0))  # Thursday
    assert due == local(2026, 6, 22, 10, 0)
    friday = goals.on_callback_booked(case, local(2026, 11, 20, 10, 0))
    assert friday == local(2026, 11, 23, 10, 0)


def test_phone_call_meets_first_response_at_once_and_records_both_durations(promises):
    case = make_case(
        promises.agent,
        promises.bygglov,
        outcome=Outcome.ANSWERED,
        received_at=local(2026, 11, 16, 9, 0),
    )
    first = next(g for g in case.goals if g.target == GoalTarget.FIRST_RESPONSE)
    assert first.met_at == case.received_at
    assert first.business_minutes == 0 and first.calendar_minutes == 0
    resolution = next(g for g in case.goals if g.target == GoalTarget.RESOLUTION)
    assert resolution.met_at is not None and resolution.calendar_minutes > 0


def test_routed_case_gets_a_second_line_goal_met_when_the_handler_takes_it(promises):
    case = make_case(promises.agent, promises.bygglov, outcome=Outcome.ROUTED)
    second = goal(case, GoalTarget.SECOND_LINE)
    assert second.met_at is None and second.definition["unit"] == "opening_hours"
    case_actions.assign(case, promises.handler_bygg, promises.handler_bygg)
    assert second.met_at is not None


def test_waiting_on_the_citizen_pauses_the_clock(promises, monkeypatch):
    case = make_case(
        promises.agent,
        None,
        outcome=None,
        channel=Channel.EMAIL,
        received_at=local(2026, 11, 16, 8, 0),
    )  # Monday opening
    before = goal(case, GoalTarget.FIRST_RESPONSE).due_at
    assert before == local(2026, 11, 18, 17, 0)
    clock = iter([local(2026, 11, 16, 10, 0), local(2026, 11, 16, 13, 0)])
    monkeypatch.setattr("kontaktcenter.cases.actions.utcnow", lambda: next(clock))
    monkeypatch.setattr("kontaktcenter.cases.services.utcnow", lambda: local(2026, 11, 16, 10, 0))
    case_actions.set_waiting(case, promises.agent, True)
    assert (
        goals.state(case, goal(case, GoalTarget.FIRST_RESPONSE), local(2026, 11, 16, 11, 0))
        == GoalState.PAUSED
    )
    monkeypatch.setattr("kontaktcenter.cases.services.utcnow", lambda: local(2026, 11, 16, 13, 0))
    case_actions.set_waiting(case, promises.agent, False)
    first = goal(case, GoalTarget.FIRST_RESPONSE)
    # Three opening hours of waiting push the due time three opening hours later (next morning).
    assert first.due_at == local(2026, 11, 19, 11, 0)
    business, calendar = goals.durations(case, first, local(2026, 11, 16, 14, 0))
    assert (business, calendar) == (180, 180)  # 08-10 and 13-14; the pause does not count


def test_changing_case_type_recomputes_and_keeps_the_definition(promises):
    case = make_case(
        promises.agent,
        promises.strandskydd,
        outcome=None,
        channel=Channel.EMAIL,
        received_at=local(2026, 11, 16, 9, 0),
    )
    assert not [g for g in case.goals if g.target == GoalTarget.RESOLUTION]
    case_actions.classify(case, promises.agent, promises.bygglov)
    resolution = goal(case, GoalTarget.RESOLUTION)
    assert resolution.definition["amount"] == 10
    assert resolution.due_at == local(2026, 11, 30, 17, 0)
    # Editing the definition later does not rewrite the case's goal.
    db.session.scalars(
        sa.select(ServiceGoal).where(ServiceGoal.target == GoalTarget.RESOLUTION)
    ).one().amount = 3
    db.session.commit()
    assert goal(case, GoalTarget.RESOLUTION).definition["amount"] == 10


def test_closure_day_moves_the_due_time(promises):
    db.session.add(
        CalendarException(day=local(2026, 11, 17, 0, 0).date(), windows=[], reason="Personaldag")
    )
    db.session.commit()
    forget_calendar()
    case = make_case(
        promises.agent,
        None,
        outcome=None,
        channel=Channel.EMAIL,
        received_at=local(2026, 11, 16, 9, 0),
    )
    assert goal(case, GoalTarget.FIRST_RESPONSE).due_at == local(2026, 11, 19, 17, 0)


def test_sweep_records_each_breach_once_and_alerts(promises, app, tmp_path):
    app.config["OUTBOX_DIR"] = str(tmp_path)
    try:
        case = make_case(
            promises.agent,
            promises.bygglov,
            outcome=Outcome.ROUTED,
            received_at=local(2026, 11, 2, 9, 0),
        )
        now = local(2026, 11, 23, 12, 0)
        first = sweep(now)
        assert first.breached  # second line (16 opening hours) long gone
        again = sweep(now + timedelta(minutes=1))
        assert again.breached == [] and again.at_risk == []
        breached = [g for g in case.goals if g.breached_at is not None]
        assert {g.target for g in breached} >= {GoalTarget.SECOND_LINE}
        mails = [p.read_text() for p in tmp_path.glob("*.eml")]
        assert mails and any(
            case.reference in m and "stadsbyggnad@kommun.example" in m for m in mails
        )
        assert case in [g.case for g in recent_breaches()]
    finally:
        app.config["OUTBOX_DIR"] = None


def test_waiting_cases_are_not_swept(promises):
    case = make_case(
        promises.agent,
        None,
        outcome=None,
        channel=Channel.EMAIL,
        received_at=local(2026, 11, 2, 9, 0),
    )
    case_actions.set_waiting(case, promises.agent, True)
    assert sweep(local(2026, 11, 23, 12, 0)).breached == []


def test_agents_see_closures_and_managers_see_breaches(client, promises, login):
    from kontaktcenter.core.extensions import utcnow
    from kontaktcenter.core.templating import local as to_local

    soon = to_local(utcnow()).date() + timedelta(days=3)
    while soon.weekday() >= 5:
        soon += timedelta(days=1)
    db.session.add(CalendarException(day=soon, windows=[], reason="Kompetensdag"))
    case = make_case(
        promises.agent,
        promises.bygglov,
        outcome=Outcome.ROUTED,
        received_at=local(2026, 11, 2, 9, 0),
    )
    db.session.commit()
    sweep(local(2026, 11, 23, 12, 0) + timedelta(days=30))
    login(promises.agent)
    assert "Stängt – Kompetensdag" in client.get("/ko/").get_data(as_text=True)
    login(promises.manager)
    html = client.get("/oversikt/").get_data(as_text=True)
    assert case.reference in html and "Passerade servicemål" in html
    html = client.get(f"/arenden/{case.id}").get_data(as_text=True)
    assert "Servicemål" in html and "Försenat" in html


def test_an_open_case_with_every_promise_kept_is_not_late_and_sorts_last(client, promises, login):
    from kontaktcenter.goals.engine import NO_PROMISE

    kept = make_case(
        promises.agent,
        promises.strandskydd,
        outcome=Outcome.CALLBACK,
        received_at=local(2026, 11, 2, 9, 0),
    )
    case_actions.record_callback_attempt(kept, promises.handler_bygg, CallbackResult.REACHED)
    assert kept.status.value == "open" and kept.due_at == NO_PROMISE and not kept.has_promise
    waiting = make_case(promises.agent, None, outcome=None, channel=Channel.EMAIL)
    login(promises.agent)
    html = client.get("/ko/").get_data(as_text=True)
    assert html.index(waiting.reference) < html.index(kept.reference)
    assert "Inget löfte kvar" in html
    page = client.get(f"/arenden/{kept.id}").get_data(as_text=True)
    assert "alla servicemål uppfyllda" in page  # the callback was late, but nothing is running


def test_a_new_closure_day_moves_the_due_times_of_open_cases(promises):
    from kontaktcenter.calendar import services as settings

    case = make_case(
        promises.agent,
        None,
        outcome=None,
        channel=Channel.EMAIL,
        received_at=local(2026, 11, 20, 9, 0),
    )  # Friday: due Tuesday closing
    assert case.due_at == local(2026, 11, 24, 17, 0)
    monday = local(2026, 11, 23, 0, 0).date()
    settings.add_exception(
        settings.DayExceptionData(
            day=monday + timedelta(days=1), closed=True, reason="Personaldag"
        ),
        today=monday,
    )
    db.session.expire_all()
    assert case.due_at == local(2026, 11, 25, 17, 0)  # the closed Tuesday no longer counts


def test_the_case_types_own_callback_promise_beats_a_general_callback_goal(promises):
    db.session.add(ServiceGoal(target=GoalTarget.CALLBACK, amount=8, unit=Unit.OPENING_HOURS))
    promises.bygglov.callback_promise_hours = 48
    db.session.commit()
    definition = goals.find_definition(GoalTarget.CALLBACK, Channel.PHONE, promises.bygglov)
    assert definition["amount"] == 48 and definition["unit"] == "working_day_hours"
    general = goals.find_definition(GoalTarget.CALLBACK, Channel.PHONE, None)
    assert general["amount"] == 8 and general["unit"] == "opening_hours"
    db.session.add(
        ServiceGoal(
            target=GoalTarget.CALLBACK,
            case_type=promises.bygglov,
            amount=4,
            unit=Unit.OPENING_HOURS,
        )
    )
    db.session.commit()
    specific = goals.find_definition(GoalTarget.CALLBACK, Channel.PHONE, promises.bygglov)
    assert specific["amount"] == 4
