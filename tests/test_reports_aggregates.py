"""Daily pre-aggregates (decision 112): the reports read a finished day's stored counts, and
give exactly the numbers of counting the cases, whatever changed since the counts were made.

The data set is the mixed one of test_reports_paths (both periods of March 2026, every channel,
outcome, callback and goal state); it has pending items still due (a callback waiting until
tomorrow, a goal running for 400 days), so some days must stay live while the others are read
from the stored counts.
"""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, timedelta

import pytest
import sqlalchemy as sa
from flask import Flask

from kontaktcenter.calendar import services as calendar_settings
from kontaktcenter.calendar.models import CalendarException
from kontaktcenter.calendar.services import forget_calendar
from kontaktcenter.cases.enums import Channel, Outcome
from kontaktcenter.cases.models import Case
from kontaktcenter.core.extensions import db, utcnow
from kontaktcenter.core.roles import Role
from kontaktcenter.goals.models import CaseGoal
from kontaktcenter.organisation.models import CaseType, User
from kontaktcenter.reports import aggregates
from kontaktcenter.reports.models import ReportDay, ReportDayCases, ReportDayGoals, ReportDayHours
from kontaktcenter.reports.periods import TZ, Period, ReportFilters, local_date
from kontaktcenter.reports.report import api_json, full_report, service_report
from tests.conftest import threaded_postgres_app
from tests.factories import make_case
from tests.test_reports_paths import PERIOD, build_mixed, filter_sets

SPAN = Period(PERIOD.previous().first, PERIOD.last)
# Days are stored from the first case's day (2 March) on; two of them have something still due.
STORED = Period(date(2026, 3, 2), PERIOD.last).days - 2


@pytest.fixture
def mixed(org):
    return build_mixed(org)


def report_numbers(filters: ReportFilters) -> dict:
    """Every number the page and the API show (breaches are read live and compared by id)."""
    report = full_report(filters)
    numbers = {
        field.name: getattr(report, field.name)
        for field in dataclasses.fields(report)
        if field.name != "breaches"
    }
    numbers["breaches"] = [goal.id for goal in report.breaches]
    numbers["api"] = api_json(service_report(filters))
    return numbers


def live_numbers(app: Flask, filters: ReportFilters) -> dict:
    app.config["REPORT_PREAGGREGATES"] = False
    try:
        return report_numbers(filters)
    finally:
        app.config["REPORT_PREAGGREGATES"] = True


def stored_days(span: Period = SPAN) -> set[date]:
    return {day for run in aggregates.usable_ranges(span) for day in run.dates()}


def test_stored_counts_give_the_numbers_of_counting_the_cases(app, mixed):
    expected = [live_numbers(app, filters) for filters in filter_sets(mixed)]
    counted = aggregates.refresh()
    assert counted > 250  # every day from the first case (2 March) to the day before yesterday
    stored = stored_days()
    # Days with something still due are counted live: the waiting callback (18 March) and
    # the goal running for 400 days (9 March); the rest of both periods comes from the counts.
    assert date(2026, 3, 18) not in stored and date(2026, 3, 9) not in stored
    assert len(stored) == STORED
    for filters, numbers in zip(filter_sets(mixed), expected, strict=True):
        assert report_numbers(filters) == numbers, filters


def test_the_report_reads_the_stored_counts(mixed):
    """Guards the test above: were the stored counts never read, it would pass vacuously."""
    aggregates.refresh()
    before = report_numbers(ReportFilters(period=PERIOD))["api"]
    db.session.execute(
        sa.update(ReportDayCases)
        .where(ReportDayCases.day == date(2026, 3, 13), ReportDayCases.channel == Channel.PHONE)
        .values(cases=ReportDayCases.cases + 100)
    )
    after = report_numbers(ReportFilters(period=PERIOD))["api"]
    assert after["phone"]["contacts"] == before["phone"]["contacts"] + 100


def test_the_volumes_read_the_stored_hours_unless_filtered_by_department(mixed):
    aggregates.refresh()
    everything = ReportFilters(period=PERIOD)
    department = ReportFilters(period=PERIOD, department_id=mixed.bygg.id)
    before = (full_report(everything).volumes, full_report(department).volumes)
    db.session.execute(
        sa.update(ReportDayHours)
        .where(ReportDayHours.day == date(2026, 3, 13))
        .values(cases=ReportDayHours.cases + 100)
    )
    hours = db.session.scalar(
        sa.select(sa.func.count()).where(ReportDayHours.day == date(2026, 3, 13))
    )
    assert hours
    after = (full_report(everything).volumes, full_report(department).volumes)
    assert after[0].total() == before[0].total() + 100 * hours
    assert after[0].per_day[date(2026, 3, 13)] != before[0].per_day[date(2026, 3, 13)]
    assert after[1] == before[1]  # a department's volumes are counted live


def test_a_change_to_a_counted_day_is_seen_at_once_and_counted_again(app, mixed):
    aggregates.refresh()
    day = date(2026, 3, 11)
    assert day in stored_days()
    # Through the ORM: a routed call becomes answered directly.
    case = db.session.scalars(
        sa.select(Case).where(
            Case.outcome == Outcome.ROUTED,
            Case.received_at >= Period(day, day).start,
            Case.received_at < Period(day, day).end,
        )
    ).first()
    assert case is not None
    case.outcome = Outcome.ANSWERED
    db.session.commit()
    assert day not in stored_days()
    filters = ReportFilters(period=PERIOD)
    assert report_numbers(filters) == live_numbers(app, filters)
    # Counted again by the next run (SQLite marks the day after too: it has no time zones).
    assert aggregates.refresh() in (1, 2)
    assert day in stored_days()
    assert report_numbers(filters) == live_numbers(app, filters)


def test_bulk_updates_and_goal_changes_mark_their_days_too(app, mixed):
    """Triggers, not the ORM: a Core UPDATE of cases, a goal met, a goal deleted."""
    aggregates.refresh()
    stored = stored_days()
    db.session.execute(
        sa.update(Case)
        .where(Case.received_at >= Period(date(2026, 3, 2), date(2026, 3, 2)).start)
        .where(Case.received_at < Period(date(2026, 3, 2), date(2026, 3, 2)).end)
        .values(channel=Channel.VISIT)
    )
    assert date(2026, 3, 2) in stored and date(2026, 3, 2) not in stored_days()
    goal = db.session.scalars(sa.select(CaseGoal).where(CaseGoal.met_at.is_(None))).first()
    assert goal is not None
    goal_day = local_date(goal.case.received_at)
    if goal_day in stored_days():
        goal.met_at = goal.due_at - timedelta(minutes=1)
        db.session.flush()
        assert goal_day not in stored_days()
    met = db.session.scalars(sa.select(CaseGoal).where(CaseGoal.met_at.is_not(None))).first()
    assert met is not None
    met_day = local_date(met.case.received_at)
    aggregates.refresh()
    assert met_day in stored_days()
    db.session.delete(met)
    db.session.flush()
    assert met_day not in stored_days()
    filters = ReportFilters(period=PERIOD)
    assert report_numbers(filters) == live_numbers(app, filters)
    aggregates.refresh()
    assert report_numbers(filters) == live_numbers(app, filters)


def test_an_unrelated_change_leaves_the_day_stored(mixed):
    aggregates.refresh()
    day = date(2026, 3, 11)
    versions = dict(db.session.execute(sa.select(ReportDay.day, ReportDay.version)).all())
    db.session.execute(
        sa.update(Case)
        .where(Case.received_at >= Period(day, day).start, Case.received_at < Period(day, day).end)
        .values(summary="Ny sammanfattning")
    )
    assert dict(db.session.execute(sa.select(ReportDay.day, ReportDay.version)).all()) == versions
    assert day in stored_days()


def test_a_calendar_change_is_counted_live_until_counted_again(app, mixed):
    aggregates.refresh()
    assert len(stored_days()) == STORED
    # Mondays close at noon: every e-mail deadline that falls on a Monday moves.
    calendar_settings.save_opening_hours({0: "08:00-12:00"})
    assert len(stored_days()) < STORED
    filters = ReportFilters(period=PERIOD, channel=Channel.EMAIL)
    assert report_numbers(filters) == live_numbers(app, filters)
    aggregates.refresh()
    # (at least as many: the change also re-planned the waiting callback and the running goal)
    assert len(stored_days()) >= STORED
    assert report_numbers(filters) == live_numbers(app, filters)


def test_pending_items_keep_a_day_live_until_they_are_due(mixed):
    aggregates.refresh()
    waiting = date(2026, 3, 18)  # its callback is due tomorrow
    (live_until,) = db.session.execute(
        sa.select(ReportDay.live_until).where(ReportDay.day == waiting)
    ).one()
    assert live_until > utcnow()
    assert waiting not in stored_days()
    later = live_until + timedelta(minutes=1)
    assert waiting in {d for run in aggregates.usable_ranges(SPAN, later) for d in run.dates()}


def test_recent_days_are_never_stored(mixed):
    make_case(mixed.agent, mixed.bygglov, outcome=Outcome.ANSWERED, received_at=utcnow())
    db.session.commit()
    aggregates.refresh()
    today = local_date(utcnow())
    newest = db.session.scalar(sa.select(sa.func.max(ReportDay.day)))
    assert newest == today - timedelta(days=aggregates.SETTLE_DAYS)


def test_refresh_is_idempotent(mixed):
    assert aggregates.refresh() > 0
    rows = db.session.scalar(sa.select(sa.func.count()).select_from(ReportDayCases))
    goals = db.session.scalar(sa.select(sa.func.count()).select_from(ReportDayGoals))
    assert aggregates.refresh() == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ReportDayCases)) == rows
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ReportDayGoals)) == goals


def test_no_cases_nothing_to_count(db_session):
    assert aggregates.refresh() == 0
    assert aggregates.usable_ranges(SPAN) == []


@pytest.fixture
def pg_app():
    with threaded_postgres_app("kc_aggregates", threads=2) as app:
        yield app


@pytest.mark.postgres
def test_a_writer_older_than_the_day_row_delays_its_counting(pg_app):
    """The race the row's stamp closes: a transaction changes a case of a day before the job
    creates the day's row (its trigger had nothing to mark) and commits after the job would have
    counted it. The job must not count that day while such a writer runs."""
    day = date(2026, 3, 11)
    with pg_app.app_context():
        agent = db.session.scalars(sa.select(User).where(User.role == Role.AGENT)).first()
        bygglov = db.session.scalars(sa.select(CaseType).where(CaseType.slug == "bygglov")).one()
        assert agent is not None
        case = make_case(
            agent,
            bygglov,
            outcome=Outcome.ROUTED,
            received_at=datetime(2026, 3, 11, 10, tzinfo=TZ),
        )
        db.session.commit()
        with db.engine.connect() as writer:
            writer.execute(
                sa.update(Case).where(Case.id == case.id).values(outcome=Outcome.ANSWERED)
            )
            aggregates.refresh(wait_seconds=0.2)  # creates the rows; the writer is older
            assert db.session.get(ReportDay, day) is not None
            assert day not in stored_days(Period(day, day))
            writer.commit()
        aggregates.refresh()
        assert day in stored_days(Period(day, day))
        stored = db.session.execute(
            sa.select(ReportDayCases.outcome, ReportDayCases.cases).where(ReportDayCases.day == day)
        ).all()
        assert stored == [(Outcome.ANSWERED, 1)]
        db.session.remove()


def test_a_closure_day_moves_the_deadlines_and_the_stored_days_before_it_go_live(app, mixed):
    """Only the calendar changes here (no goal or case is touched, as the re-planning jobs of a
    change made in the admin pages would): the stored e-mail deadlines no longer match."""
    aggregates.refresh()
    assert date(2026, 3, 12) in stored_days()
    db.session.add(CalendarException(day=date(2026, 3, 13), windows=[], reason="Klämdag"))
    db.session.flush()
    forget_calendar()
    # The days whose 1st or 2nd working day after was 13 March: 11 and 12 March.
    assert {date(2026, 3, 11), date(2026, 3, 12)}.isdisjoint(stored_days())
    filters = ReportFilters(period=PERIOD, channel=Channel.EMAIL)
    assert report_numbers(filters) == live_numbers(app, filters)
    aggregates.refresh()
    assert date(2026, 3, 12) in stored_days()
    assert report_numbers(filters) == live_numbers(app, filters)


def test_the_job_runs_periodically(app):
    from kontaktcenter.core import periodic

    assert [seconds for func, seconds in periodic.PERIODIC if func is aggregates.refresh_job] == [
        300
    ]


def test_cases_and_goals_inserted_or_deleted_in_a_counted_day_mark_it(app, mixed):
    """Several rows in one statement (on PostgreSQL the triggers run once per statement, with
    the statement's rows: migration 0030): goals inserted, a case inserted and deleted."""
    day = date(2026, 3, 11)
    on_day = (Case.received_at >= Period(day, day).start, Case.received_at < Period(day, day).end)
    filters = ReportFilters(period=PERIOD)

    def marked_and_counted_again() -> None:
        db.session.commit()
        assert day not in stored_days()
        assert report_numbers(filters) == live_numbers(app, filters)
        aggregates.refresh()
        assert day in stored_days()
        assert report_numbers(filters) == live_numbers(app, filters)

    aggregates.refresh()
    assert day in stored_days()
    cases = db.session.scalars(sa.select(Case).where(*on_day).order_by(Case.id).limit(2)).all()
    assert len(cases) == 2
    now = utcnow()
    db.session.execute(
        sa.insert(CaseGoal),
        [
            {
                "case_id": case.id,
                "target": "callback",
                "definition": {"amount": 1, "unit": "working_days"},
                "started_at": case.received_at,
                "due_at": case.received_at + timedelta(days=1),
                "at_risk_at": case.received_at + timedelta(hours=20),
                "met_at": now,
                "alerts_sent": [],
            }
            for case in cases
        ],
    )
    marked_and_counted_again()
    table = Case.__table__
    columns = [c.name for c in table.columns if c.name != "id"]
    copied = [table.c[name] + "-K" if name == "reference" else table.c[name] for name in columns]
    [new_id] = db.session.execute(
        sa.insert(table)
        .from_select(columns, sa.select(*copied).where(table.c.id == cases[0].id))
        .returning(table.c.id)
    ).scalars()
    marked_and_counted_again()
    db.session.execute(sa.delete(table).where(table.c.id == new_id))
    marked_and_counted_again()
