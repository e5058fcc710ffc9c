"""The goal engine's rules one at a time (goals/engine.py), beside the stories in test_goals.py:
which definition a case gets and what is copied onto it, where "at risk" begins, which pauses
move a due time, what each case event starts, meets and cancels, and the state at the exact
boundaries. Written against the mutants scripts/mutation found alive (docs/mutation-testing.md).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from kontaktcenter.calendar.business_calendar import BusinessCalendar, Unit
from kontaktcenter.cases import actions as case_actions
from kontaktcenter.cases.enums import CaseStatus, Channel, Outcome
from kontaktcenter.core.extensions import db, utcnow
from kontaktcenter.goals import engine
from kontaktcenter.goals.models import CaseGoal, GoalState, GoalTarget, ServiceGoal
from kontaktcenter.organisation.models import CaseType
from tests.factories import make_case

STHLM = ZoneInfo("Europe/Stockholm")
CAL = BusinessCalendar.default()  # Monday-Friday 08-17, as the database's default


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=STHLM)


def add_goal(**fields) -> ServiceGoal:
    goal = ServiceGoal(**fields)
    db.session.add(goal)
    db.session.commit()
    return goal


def running(case, target: GoalTarget) -> CaseGoal:
    (goal,) = [g for g in case.goals if g.target == target and g.is_active]
    return goal


def email_case(org, received: datetime, case_type: CaseType | None = None):
    return make_case(
        org.agent, case_type, outcome=None, channel=Channel.EMAIL, received_at=received
    )


# --- which definition, and what is copied onto the case ------------------------------------


def test_what_is_copied_for_each_kind_of_promise(org):
    first = engine.find_definition
    # Nothing configured: the national norm for a first response, 24 h for a callback, and no
    # resolution promise at all.
    assert first(GoalTarget.FIRST_RESPONSE, Channel.EMAIL, None) == {
        "goal_id": None,
        "amount": 2,
        "unit": "working_days",
        "at_risk_percent": 20,
    }
    assert first(GoalTarget.CALLBACK, Channel.PHONE, None) == {
        "goal_id": None,
        "amount": 24,
        "unit": "working_day_hours",
        "at_risk_percent": 20,
    }
    assert first(GoalTarget.RESOLUTION, Channel.PHONE, org.bygglov) is None
    # A configured goal is copied with its id, amount, unit and risk share.
    goal = add_goal(
        target=GoalTarget.RESOLUTION, amount=10, unit=Unit.WORKING_DAYS, at_risk_percent=35
    )
    assert first(GoalTarget.RESOLUTION, Channel.PHONE, org.bygglov) == {
        "goal_id": goal.id,
        "amount": 10,
        "unit": "working_days",
        "at_risk_percent": 35,
    }
    # A general callback goal gives way to the case type's own promise, but lends its risk share.
    add_goal(target=GoalTarget.CALLBACK, amount=8, unit=Unit.OPENING_HOURS, at_risk_percent=50)
    assert first(GoalTarget.CALLBACK, Channel.PHONE, org.bygglov) == {
        "goal_id": None,
        "amount": org.bygglov.callback_promise_hours,
        "unit": "working_day_hours",
        "at_risk_percent": 50,
    }


def test_inactive_goals_and_other_channels_goals_do_not_apply(org):
    add_goal(target=GoalTarget.RESOLUTION, amount=3, unit=Unit.WORKING_DAYS, active=False)
    add_goal(target=GoalTarget.RESOLUTION, channel=Channel.EMAIL, amount=4, unit=Unit.WORKING_DAYS)
    assert engine.find_definition(GoalTarget.RESOLUTION, Channel.PHONE, None) is None
    assert engine.find_definition(GoalTarget.RESOLUTION, Channel.EMAIL, None)["amount"] == 4


def test_of_two_equally_specific_goals_the_older_one_wins(org):
    older = add_goal(target=GoalTarget.RESOLUTION, amount=5, unit=Unit.WORKING_DAYS)
    add_goal(target=GoalTarget.RESOLUTION, amount=9, unit=Unit.WORKING_DAYS)
    assert engine.find_definition(GoalTarget.RESOLUTION, Channel.PHONE, None) == {
        "goal_id": older.id,
        "amount": 5,
        "unit": "working_days",
        "at_risk_percent": 20,
    }


def test_a_goal_for_the_first_case_type_does_not_apply_to_cases_without_one(org):
    """Case type ids start at 1: "no case type" must match no id at all."""
    first_type = db.session.get(CaseType, 1)
    if first_type is None:
        first_type = CaseType(id=1, department=org.bygg, name="Första", slug="forsta")
        db.session.add(first_type)
        db.session.commit()
    add_goal(
        target=GoalTarget.FIRST_RESPONSE,
        case_type_id=first_type.id,
        amount=7,
        unit=Unit.WORKING_DAYS,
    )
    assert engine.find_definition(GoalTarget.FIRST_RESPONSE, Channel.EMAIL, None)["amount"] == 2
    assert (
        engine.find_definition(GoalTarget.FIRST_RESPONSE, Channel.EMAIL, first_type)["amount"] == 7
    )


# --- due time and risk ----------------------------------------------------------------------


def _definition(amount: int, unit: Unit, **extra) -> dict:
    return {"goal_id": None, "amount": amount, "unit": unit.value} | extra


def test_a_calendar_hours_goal_is_at_risk_by_the_clock_not_by_opening_hours():
    started = local(2026, 11, 16, 20, 0)  # Monday evening, closed
    due, at_risk = engine._compute(CAL, _definition(10, Unit.CALENDAR_HOURS), started, [], started)
    assert due == local(2026, 11, 17, 6, 0)
    assert at_risk == local(2026, 11, 17, 4, 0)  # 20 % of ten hours before the end


def test_at_risk_is_the_goals_share_before_the_end_twenty_percent_unless_told():
    started = local(2026, 11, 16, 8, 0)  # Monday opening; ten opening hours = 600 minutes
    due, at_risk = engine._compute(CAL, _definition(10, Unit.OPENING_HOURS), started, [], started)
    assert due == local(2026, 11, 17, 9, 0)
    assert at_risk == local(2026, 11, 16, 16, 0)  # 120 minutes (20 % of 600) before the end
    due, at_risk = engine._compute(
        CAL, _definition(10, Unit.OPENING_HOURS, at_risk_percent=50), started, [], started
    )
    assert CAL.elapsed(at_risk, due, Unit.OPENING_HOURS) == 300
    assert at_risk < due


def test_only_pauses_during_the_goal_move_its_due_time():
    started = local(2026, 11, 16, 8, 0)
    definition = _definition(4, Unit.OPENING_HOURS)  # due Monday 12:00
    plain = engine._compute(CAL, definition, started, [], started)[0]
    assert plain == local(2026, 11, 16, 12, 0)
    before = (local(2026, 11, 13, 9, 0), local(2026, 11, 13, 10, 0))  # Friday: before the start
    during = (local(2026, 11, 16, 9, 0), local(2026, 11, 16, 10, 0))  # an hour: due 13:00 now
    at_the_end = (local(2026, 11, 16, 13, 0), local(2026, 11, 16, 15, 0))  # begins at 13:00
    after = (local(2026, 11, 16, 14, 0), None)  # began after the due time, still waiting
    now = local(2026, 11, 16, 16, 0)
    due = engine._compute(CAL, definition, started, [before, during, at_the_end, after], now)[0]
    assert due == local(2026, 11, 16, 13, 0)  # moved by the hour inside it, nothing else


# --- what the case events do ------------------------------------------------------------------


def test_a_new_callback_replaces_the_running_one_and_a_chosen_time_is_kept(org):
    case = make_case(org.agent, org.bygglov, received_at=local(2026, 11, 16, 9, 0))
    first_due = engine.on_callback_booked(case, local(2026, 11, 16, 10, 0))
    first = running(case, GoalTarget.CALLBACK)
    assert first_due == first.due_at
    chosen = local(2026, 11, 18, 15, 0)
    add_goal(target=GoalTarget.CALLBACK, amount=8, unit=Unit.OPENING_HOURS, at_risk_percent=50)
    db.session.expire_all()
    due = engine.on_callback_booked(case, local(2026, 11, 17, 10, 0), due_at=chosen)
    assert due == chosen
    second = running(case, GoalTarget.CALLBACK)
    assert second is not first and first.cancelled_at == local(2026, 11, 17, 10, 0)
    assert second.definition["due_override"] == chosen.isoformat()
    assert second.due_at == chosen
    # At risk when half (the general goal's share) of the span to the chosen time is left.
    assert second.at_risk_at == chosen - (chosen - second.started_at) / 2
    assert case.due_at == chosen


def test_a_callback_booked_while_the_case_waits_counts_from_the_booking(org):
    waiting = make_case(org.agent, org.bygglov)
    case_actions.set_waiting(waiting, org.handler_bygg, True, "Väntar på ritning")
    twin = make_case(org.agent, org.bygglov)
    booked = utcnow() + timedelta(minutes=1)
    assert engine.on_callback_booked(waiting, booked) == engine.on_callback_booked(twin, booked)


def test_the_answer_and_the_reached_callback_meet_the_first_response(org):
    answered = email_case(org, local(2026, 11, 16, 9, 0))
    engine.on_first_response(answered, local(2026, 11, 16, 11, 0))
    goal = next(g for g in answered.goals if g.target == GoalTarget.FIRST_RESPONSE)
    assert goal.met_at == local(2026, 11, 16, 11, 0) and goal.business_minutes == 120
    called = email_case(org, local(2026, 11, 16, 9, 0))
    engine.on_callback_booked(called, local(2026, 11, 16, 9, 30))
    engine.on_callback_done(called, local(2026, 11, 16, 13, 0))
    met = {g.target: g.met_at for g in called.goals if g.met_at is not None}
    assert met == {
        GoalTarget.CALLBACK: local(2026, 11, 16, 13, 0),
        GoalTarget.FIRST_RESPONSE: local(2026, 11, 16, 13, 0),
    }


def test_closing_meets_the_promises_and_cancels_a_callback_reopening_starts_over(org):
    add_goal(target=GoalTarget.RESOLUTION, amount=10, unit=Unit.WORKING_DAYS)
    add_goal(target=GoalTarget.SECOND_LINE, amount=16, unit=Unit.OPENING_HOURS)
    case = make_case(org.agent, org.bygglov, outcome=Outcome.ROUTED)
    engine.on_callback_booked(case, local(2026, 11, 16, 10, 0))
    closed_at = local(2026, 11, 17, 14, 0)
    engine.on_closed(case, closed_at)
    by_target = {g.target: g for g in case.goals}
    for target in (GoalTarget.FIRST_RESPONSE, GoalTarget.SECOND_LINE, GoalTarget.RESOLUTION):
        assert by_target[target].met_at == max(closed_at, by_target[target].started_at), target
    callback = by_target[GoalTarget.CALLBACK]
    assert callback.met_at is None and callback.cancelled_at == closed_at
    assert case.due_at == engine.NO_PROMISE
    unanswered = email_case(org, local(2026, 11, 16, 9, 0))  # closing is its outcome
    engine.on_closed(unanswered, closed_at)
    first = next(g for g in unanswered.goals if g.target == GoalTarget.FIRST_RESPONSE)
    assert first.met_at == closed_at and first.cancelled_at is None
    reopened_at = local(2026, 11, 20, 9, 0)
    engine.on_reopened(case, reopened_at)
    resolution = running(case, GoalTarget.RESOLUTION)
    assert resolution.started_at == reopened_at
    assert resolution.due_at == local(2026, 12, 4, 17, 0)  # ten working days on
    assert case.due_at == resolution.due_at


def test_reclassifying_restarts_each_changed_goal_from_its_start(org):
    add_goal(target=GoalTarget.FIRST_RESPONSE, amount=1, unit=Unit.WORKING_DAYS)
    add_goal(
        target=GoalTarget.FIRST_RESPONSE,
        channel=Channel.EMAIL,
        case_type=org.bygglov,
        amount=3,
        unit=Unit.WORKING_DAYS,
    )
    add_goal(target=GoalTarget.SECOND_LINE, amount=16, unit=Unit.OPENING_HOURS)
    add_goal(
        target=GoalTarget.SECOND_LINE, case_type=org.bygglov, amount=4, unit=Unit.OPENING_HOURS
    )
    add_goal(target=GoalTarget.RESOLUTION, amount=20, unit=Unit.WORKING_DAYS)
    case = email_case(org, local(2026, 11, 16, 9, 0), org.strandskydd)
    engine.on_callback_booked(case, local(2026, 11, 16, 9, 30), due_at=local(2026, 11, 16, 15))
    engine.on_routed(case, local(2026, 11, 16, 9, 45))  # after the callback: later in the list
    old = running(case, GoalTarget.FIRST_RESPONSE)
    old_second = running(case, GoalTarget.SECOND_LINE)
    resolution = running(case, GoalTarget.RESOLUTION)
    assert old.definition["amount"] == 1 and old_second.definition["amount"] == 16
    now = local(2026, 11, 16, 10, 0)
    case.case_type = org.bygglov
    engine.on_classified(case, now)
    new = running(case, GoalTarget.FIRST_RESPONSE)
    assert old.cancelled_at == now and new is not old
    assert new.started_at == old.started_at and new.definition["amount"] == 3
    assert new.due_at == local(2026, 11, 19, 17, 0)  # three working days from the arrival
    second = running(case, GoalTarget.SECOND_LINE)
    assert second is not old_second and second.definition["amount"] == 4
    assert second.due_at == local(2026, 11, 16, 13, 45)  # four opening hours from the routing
    # A callback at a chosen time is the citizen's appointment: kept as it was; a goal whose
    # rule did not change runs on untouched.
    assert running(case, GoalTarget.CALLBACK).due_at == local(2026, 11, 16, 15, 0)
    assert running(case, GoalTarget.RESOLUTION) is resolution
    # Classifying again with the same rules changes nothing.
    engine.on_classified(case, local(2026, 11, 16, 11, 0))
    assert running(case, GoalTarget.FIRST_RESPONSE) is new and new.cancelled_at is None
    assert running(case, GoalTarget.RESOLUTION) is resolution


def test_reclassifying_a_waiting_case_keeps_counting_the_pause(org):
    add_goal(
        target=GoalTarget.FIRST_RESPONSE, case_type=org.bygglov, amount=5, unit=Unit.WORKING_DAYS
    )
    case = email_case(org, utcnow() - timedelta(hours=1), org.strandskydd)
    case_actions.set_waiting(case, org.agent, True, "Väntar på ritning")
    twin = email_case(org, case.received_at, org.bygglov)  # never waited
    case.case_type = org.bygglov
    engine.on_classified(case, utcnow())
    # The replacement is computed with the wait so far (under a minute: nothing to add).
    replacement = running(case, GoalTarget.FIRST_RESPONSE)
    assert replacement.definition["amount"] == 5
    assert replacement.due_at == running(twin, GoalTarget.FIRST_RESPONSE).due_at


def test_reclassifying_a_closed_case_starts_no_resolution_goal(org):
    add_goal(target=GoalTarget.RESOLUTION, case_type=org.bygglov, amount=10, unit=Unit.WORKING_DAYS)
    case = make_case(org.agent, org.strandskydd, outcome=Outcome.ANSWERED)  # closed at once
    case.case_type = org.bygglov
    engine.on_classified(case, local(2026, 11, 16, 10, 0))
    assert not [g for g in case.goals if g.target == GoalTarget.RESOLUTION and g.is_active]
    case.status = CaseStatus.OPEN
    engine.on_classified(case, local(2026, 11, 16, 10, 0))
    assert running(case, GoalTarget.RESOLUTION).definition["amount"] == 10


def test_durations_leave_out_the_pause(org, monkeypatch):
    case = email_case(org, local(2026, 11, 16, 8, 0))
    goal = running(case, GoalTarget.FIRST_RESPONSE)
    monkeypatch.setattr(
        engine,
        "pause_intervals",
        lambda c: [(local(2026, 11, 16, 10, 0), local(2026, 11, 16, 11, 0))],
    )
    # 08:00-14:00 is six hours of opening time and of clock time; one of them was a pause.
    assert engine.durations(case, goal, local(2026, 11, 16, 14, 0)) == (300, 300)


# --- state at the boundaries ----------------------------------------------------------------


@pytest.fixture
def goal_at(org):
    case = email_case(org, local(2026, 11, 16, 9, 0))
    goal = running(case, GoalTarget.FIRST_RESPONSE)
    return case, goal


def test_a_goal_met_at_the_due_time_is_met_a_minute_later_breached(goal_at):
    case, goal = goal_at
    goal.met_at = goal.due_at
    assert engine.state(case, goal, goal.due_at + timedelta(days=9)) == GoalState.MET
    goal.met_at = goal.due_at - timedelta(minutes=1)
    assert engine.state(case, goal, goal.due_at) == GoalState.MET
    goal.met_at = goal.due_at + timedelta(minutes=1)
    assert engine.state(case, goal, goal.due_at) == GoalState.BREACHED


def test_a_running_goal_is_breached_at_its_due_time_and_at_risk_at_its_mark(goal_at):
    case, goal = goal_at
    assert goal.breached_at is None
    assert engine.state(case, goal, goal.due_at) == GoalState.BREACHED
    assert engine.state(case, goal, goal.due_at - timedelta(seconds=1)) == GoalState.AT_RISK
    assert engine.state(case, goal, goal.at_risk_at) == GoalState.AT_RISK
    assert engine.state(case, goal, goal.at_risk_at - timedelta(seconds=1)) == GoalState.OK
    goal.breached_at = goal.at_risk_at  # recorded by the sweep: stays breached
    assert engine.state(case, goal, goal.at_risk_at - timedelta(hours=1)) == GoalState.BREACHED
