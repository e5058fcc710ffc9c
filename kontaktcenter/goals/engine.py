"""The service-goal engine: which promises a case carries, when each is due, and its state.

Every case gets its goals from the configured ServiceGoal definitions (most specific wins: case
type and channel, then case type, then channel, then any). Due times come from the business
calendar in the goal's unit. Waiting on the citizen pauses the clock: the pauses are derived from
the case's status history (the timeline), never kept in a counter, and each recompute extends
the due time by the paused time measured in the goal's own clock. The definition used is copied
onto the case goal, so editing a goal later does not rewrite history.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from time import monotonic
from typing import Any

import sqlalchemy as sa
from flask import current_app, g, has_app_context
from sqlalchemy.orm import Session

from kontaktcenter.calendar.business_calendar import BusinessCalendar, Unit
from kontaktcenter.calendar.services import load_calendar
from kontaktcenter.cases.enums import ActivityKind, CaseStatus, Channel
from kontaktcenter.cases.models import Case
from kontaktcenter.core.extensions import db, forget_on_flush
from kontaktcenter.goals.models import CaseGoal, GoalState, GoalTarget, ServiceGoal
from kontaktcenter.goals.queries import ShownGoal
from kontaktcenter.organisation.models import CaseType

DEFAULT_PROMISE_HOURS = 24
DEFAULT_AT_RISK_PERCENT = 20
DEFAULT_FIRST_RESPONSE_DAYS = 2
# Case.due_at when no goal is running: never due, sorts after every promise.
NO_PROMISE = datetime(9999, 12, 31, tzinfo=UTC)


# --- definitions -------------------------------------------------------------------------


def find_definition(
    target: GoalTarget, channel: Channel, case_type: CaseType | None
) -> dict | None:
    """Cached per app context (a request, a job), like the calendar; the service goals it
    chooses from are also kept per process (_active_goals)."""
    if not has_app_context():
        return _find_definition(target, channel, case_type)
    cache = g.setdefault("goal_definitions", {})
    key = (target, channel, case_type.id if case_type else None)
    if key not in cache:
        cache[key] = _find_definition(target, channel, case_type)
    found = cache[key]
    return dict(found) if found is not None else None


forget_on_flush("goal_definitions", ServiceGoal, CaseType)  # a callback promise lives there


@dataclass(frozen=True)
class _Goal:
    """An active ServiceGoal's fields, shareable between sessions."""

    id: int
    target: GoalTarget
    channel: Channel | None
    case_type_id: int | None
    amount: int
    unit: Unit
    at_risk_percent: int


# The active service goals shared by the process's requests (a small table, read whole), and
# when they were read.
_process_goals: list[tuple[float, list[_Goal]]] = []
_WRITING = "service_goals_written"  # Session.info: this transaction changed service goals


def _cache_seconds() -> float:
    if not has_app_context():
        return 0
    config = current_app.config
    return config.get("GOAL_DEFINITIONS_CACHE_SECONDS", config.get("CALENDAR_CACHE_SECONDS", 0))


def _active_goals() -> list[_Goal]:
    """Every active service goal: per process for GOAL_DEFINITIONS_CACHE_SECONDS (default
    CALENDAR_CACHE_SECONDS; they change a few times a year). A change is seen at once in the
    process that made it (after its commit) and within the cache time in the others."""
    ttl = _cache_seconds()
    session = db.session()
    if ttl and (session.info.get(_WRITING) or _changing_goals(session)):
        ttl = 0  # this transaction changes them: read them (it may still roll back)
    if ttl and _process_goals and monotonic() - _process_goals[0][0] < ttl:
        return _process_goals[0][1]
    goals = [
        _Goal(
            row.id,
            row.target,
            row.channel,
            row.case_type_id,
            row.amount,
            row.unit,
            row.at_risk_percent,
        )
        for row in db.session.scalars(sa.select(ServiceGoal).where(ServiceGoal.active.is_(True)))
    ]
    if ttl:
        _process_goals[:] = [(monotonic(), goals)]
    return goals


def _changing_goals(session: Session) -> bool:
    changed = (*session.new, *session.dirty, *session.deleted)
    return any(isinstance(obj, ServiceGoal) for obj in changed)


def forget_service_goals() -> None:
    """Drop the process's shared service goals (the next look-up reads them again)."""
    _process_goals.clear()


@sa.event.listens_for(Session, "after_flush")
def _note_goal_writes(session: Session, _context: object) -> None:
    if _changing_goals(session):
        session.info[_WRITING] = True
        forget_service_goals()


@sa.event.listens_for(Session, "after_commit")
def _after_goals_commit(session: Session) -> None:
    if session.info.pop(_WRITING, False):
        forget_service_goals()  # read again, committed, by the next look-up


@sa.event.listens_for(Session, "after_soft_rollback")
def _after_goals_rollback(session: Session, previous: Any) -> None:
    if not previous.nested and session.info.pop(_WRITING, False):
        forget_service_goals()


def _find_definition(
    target: GoalTarget, channel: Channel, case_type: CaseType | None
) -> dict | None:
    case_type_id = case_type.id if case_type else -1
    candidates = [
        goal
        for goal in _active_goals()
        if goal.target == target
        and goal.channel in (None, channel)
        and goal.case_type_id in (None, case_type_id)
    ]
    best = (
        max(candidates, key=lambda s: (s.case_type_id is not None, s.channel is not None, -s.id))
        if candidates
        else None
    )
    general = best is None or best.case_type_id is None
    if target == GoalTarget.CALLBACK and case_type is not None and general:
        # The case type's own callback promise is more specific than a general goal.
        return {
            "goal_id": None,
            "amount": case_type.callback_promise_hours,
            "unit": Unit.WORKING_DAY_HOURS.value,
            "at_risk_percent": best.at_risk_percent if best else DEFAULT_AT_RISK_PERCENT,
        }
    if best is not None:
        return {
            "goal_id": best.id,
            "amount": best.amount,
            "unit": best.unit.value,
            "at_risk_percent": best.at_risk_percent,
        }
    if target == GoalTarget.FIRST_RESPONSE:
        # Built in until an admin configures it: the national norm, answer within 2 working days.
        return {
            "goal_id": None,
            "amount": DEFAULT_FIRST_RESPONSE_DAYS,
            "unit": Unit.WORKING_DAYS.value,
            "at_risk_percent": DEFAULT_AT_RISK_PERCENT,
        }
    if target == GoalTarget.CALLBACK:
        hours = DEFAULT_PROMISE_HOURS
        return {
            "goal_id": None,
            "amount": hours,
            "unit": Unit.WORKING_DAY_HOURS.value,
            "at_risk_percent": DEFAULT_AT_RISK_PERCENT,
        }
    return None


# --- clocks ------------------------------------------------------------------------------


def _clock(unit: Unit) -> Unit:
    """The clock that measures time for a unit (working days are measured in opening minutes)."""
    return Unit.OPENING_HOURS if unit == Unit.WORKING_DAYS else unit


def pause_intervals(case: Case) -> list[tuple[datetime, datetime | None]]:
    """Periods the case waited on the citizen, from its status history (None = still waiting)."""
    intervals: list[tuple[datetime, datetime | None]] = []
    started: datetime | None = None
    for activity in sorted(case.activities, key=lambda a: (a.created_at, a.id or 0)):
        new = (activity.data or {}).get("new")
        if activity.kind == ActivityKind.STATUS_CHANGED and new == CaseStatus.WAITING.value:
            started = started or activity.created_at
        elif started is not None and (
            activity.kind
            in (
                ActivityKind.STATUS_CHANGED,
                ActivityKind.CLOSED,
                ActivityKind.ROUTED,
                ActivityKind.RETURNED,
            )
        ):
            intervals.append((started, activity.created_at))
            started = None
    if started is not None:
        intervals.append((started, None))
    return intervals


def _extend_by_pauses(
    cal: BusinessCalendar,
    started: datetime,
    result: datetime,
    clock: Unit,
    pauses: list[tuple[datetime, datetime | None]],
    now: datetime,
) -> datetime:
    """Move `result` later by the clock time of every pause that began before it."""
    for begin, end in pauses:  # in time order
        if begin >= result or (end is not None and end <= started):
            continue
        extra = cal.elapsed(max(begin, started), end or now, clock)
        if extra:
            result = cal.add(result, extra, clock)
    return result


def _compute(
    cal: BusinessCalendar,
    definition: dict,
    started: datetime,
    pauses: list[tuple[datetime, datetime | None]],
    now: datetime,
) -> tuple[datetime, datetime]:
    """(due_at, at_risk_at): the goal's end in its unit, extended by the pauses; at risk when
    `at_risk_percent` of the goal's length (measured in its clock) is left."""
    unit = Unit(definition["unit"])
    clock = _clock(unit)
    amount = definition["amount"] if unit == Unit.WORKING_DAYS else definition["amount"] * 60
    base = cal.add(started, amount, unit)
    total = cal.elapsed(started, base, clock)
    left = total * definition.get("at_risk_percent", DEFAULT_AT_RISK_PERCENT) // 100
    due = _extend_by_pauses(cal, started, base, clock, pauses, now)
    at_risk = _extend_by_pauses(
        cal, started, cal.add(started, total - left, clock), clock, pauses, now
    )
    return due, min(at_risk, due)


# --- lifecycle ---------------------------------------------------------------------------


def _active(case: Case, target: GoalTarget) -> CaseGoal | None:
    return next((goal for goal in case.goals if goal.target == target and goal.is_active), None)


def start(
    case: Case, target: GoalTarget, at: datetime, due_override: datetime | None = None
) -> CaseGoal | None:
    """Start (or restart) a goal for the case; an older running one of the same target ends."""
    definition = find_definition(target, case.channel, case.case_type)
    if definition is None and due_override is None:
        return None
    current = _active(case, target)
    if current is not None:
        current.cancelled_at = at
    definition = dict(definition or {"goal_id": None, "amount": 0, "unit": "calendar_hours"})
    if due_override is not None:
        definition["due_override"] = due_override.isoformat()
    goal = CaseGoal(
        case=case, target=target, definition=definition, started_at=at, due_at=at, at_risk_at=at
    )
    db.session.add(goal)
    _recompute_goal(load_calendar(), case, goal, at)
    return goal


def _recompute_goal(cal: BusinessCalendar, case: Case, goal: CaseGoal, now: datetime) -> None:
    override = goal.definition.get("due_override")
    if override:
        goal.due_at = datetime.fromisoformat(override)
        span = goal.due_at - goal.started_at
        goal.at_risk_at = goal.due_at - span * goal.definition.get("at_risk_percent", 20) // 100
        return
    goal.due_at, goal.at_risk_at = _compute(
        cal, goal.definition, goal.started_at, pause_intervals(case), now
    )


def meet(case: Case, target: GoalTarget, at: datetime) -> None:
    goal = _active(case, target)
    if goal is None:
        return
    goal.met_at = max(at, goal.started_at)
    goal.business_minutes, goal.calendar_minutes = durations(case, goal, goal.met_at)


def cancel(case: Case, target: GoalTarget, at: datetime) -> None:
    goal = _active(case, target)
    if goal is not None:
        goal.cancelled_at = at


def refresh(case: Case, now: datetime) -> None:
    """Recompute running goals (after a pause began or ended, or the calendar changed) and the
    case's nearest due time."""
    cal = load_calendar()
    for goal in case.goals:
        if goal.is_active:
            _recompute_goal(cal, case, goal, now)
    _sync_due(case)


def _sync_due(case: Case) -> None:
    """Mirror the nearest running goal on the case. Enough after a goal started, was met or was
    cancelled: those change which goals run, not the due times of the others."""
    running = [goal for goal in case.goals if goal.is_active]
    if running:
        nearest = min(running, key=lambda goal: goal.due_at)
        case.due_at, case.at_risk_at = nearest.due_at, nearest.at_risk_at
    else:
        # Every promise is kept (or none applies): nothing is late, the case sorts last.
        case.due_at, case.at_risk_at = NO_PROMISE, None


def on_created(case: Case, now: datetime) -> None:
    start(case, GoalTarget.FIRST_RESPONSE, case.received_at)
    if case.first_response_at is not None:
        meet(case, GoalTarget.FIRST_RESPONSE, case.first_response_at)
    start(case, GoalTarget.RESOLUTION, case.received_at)
    _sync_due(case)


def on_routed(case: Case, now: datetime) -> None:
    start(case, GoalTarget.SECOND_LINE, now)
    _sync_due(case)


def on_department_acted(case: Case, now: datetime) -> None:
    meet(case, GoalTarget.SECOND_LINE, now)
    _sync_due(case)


def on_callback_booked(case: Case, now: datetime, due_at: datetime | None = None) -> datetime:
    goal = start(case, GoalTarget.CALLBACK, now, due_override=due_at)
    _sync_due(case)
    assert goal is not None
    return goal.due_at


def on_first_response(case: Case, now: datetime) -> None:
    meet(case, GoalTarget.FIRST_RESPONSE, now)
    _sync_due(case)


def on_callback_done(case: Case, now: datetime) -> None:
    meet(case, GoalTarget.CALLBACK, now)
    meet(case, GoalTarget.FIRST_RESPONSE, now)
    _sync_due(case)


def on_closed(case: Case, now: datetime) -> None:
    meet(case, GoalTarget.FIRST_RESPONSE, now)  # the citizen got an answer or an outcome
    meet(case, GoalTarget.SECOND_LINE, now)
    meet(case, GoalTarget.RESOLUTION, now)
    cancel(case, GoalTarget.CALLBACK, now)
    _sync_due(case)


def on_reopened(case: Case, now: datetime) -> None:
    start(case, GoalTarget.RESOLUTION, now)
    _sync_due(case)


def on_classified(case: Case, now: datetime) -> None:
    """Case type or channel changed: restart running goals from their start with the new rules."""
    for goal in [goal for goal in case.goals if goal.is_active]:
        if goal.definition.get("due_override"):
            continue
        definition = find_definition(goal.target, case.channel, case.case_type)
        if definition is not None and definition != goal.definition:
            goal.cancelled_at = now
            db.session.add(
                replacement := CaseGoal(
                    case=case,
                    target=goal.target,
                    definition=definition,
                    started_at=goal.started_at,
                    due_at=now,
                    at_risk_at=now,
                )
            )
            _recompute_goal(load_calendar(), case, replacement, now)
    if _active(case, GoalTarget.RESOLUTION) is None and case.is_open:
        start(case, GoalTarget.RESOLUTION, case.received_at)
    _sync_due(case)


# --- reading -----------------------------------------------------------------------------


def durations(case: Case, goal: CaseGoal, until: datetime) -> tuple[int, int]:
    """(business minutes in the goal's clock, calendar minutes), pauses excluded."""
    cal = load_calendar()
    clock = _clock(goal.unit)
    business = cal.elapsed(goal.started_at, until, clock)
    calendar = int((until - goal.started_at).total_seconds() // 60)
    for begin, end in pause_intervals(case):
        begin, end = max(begin, goal.started_at), min(end or until, until)
        if end > begin:
            business -= cal.elapsed(begin, end, clock)
            calendar -= int((end - begin).total_seconds() // 60)
    return max(business, 0), max(calendar, 0)


def state(case: Case, goal: CaseGoal | ShownGoal, now: datetime) -> GoalState:
    if goal.met_at is not None:
        return GoalState.MET if goal.met_at <= goal.due_at else GoalState.BREACHED
    if goal.breached_at is not None or now >= goal.due_at:
        return GoalState.BREACHED
    if case.status == CaseStatus.WAITING:
        return GoalState.PAUSED
    if now >= goal.at_risk_at:
        return GoalState.AT_RISK
    return GoalState.OK


def visible_goals(case: Case) -> list[CaseGoal]:
    """The goals worth showing: running or met ones (superseded ones stay in the database)."""
    return [goal for goal in case.goals if goal.cancelled_at is None]
