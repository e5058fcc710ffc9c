"""The full report's fast paths give the numbers of the per-measure definitions.

The report counts the cases of a period and the one before it in one grouped statement
(`reports.period_counts`), the goals of the period in another (`compliance.goal_rows`), and the
medians with ``percentile_cont`` on PostgreSQL. The functions in `reports.service` and
`reports.volumes` (one query per measure, medians with ORDER BY/OFFSET) and the second line's
original query (below) are the definitions; on a mixed data set, for several filters, both
must agree exactly – on both backends, so each backend's own path is checked.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from kontaktcenter.cases.enums import OPEN_STATUSES, ActivityKind, CaseStatus, Channel, Outcome
from kontaktcenter.cases.models import Activity, Case
from kontaktcenter.core.extensions import db, utcnow
from kontaktcenter.goals.models import CaseGoal, GoalTarget
from kontaktcenter.organisation.models import Department
from kontaktcenter.reports import compliance, hooks, service, volumes
from kontaktcenter.reports.models import ResponseTime
from kontaktcenter.reports.period_counts import period_counts, response_times
from kontaktcenter.reports.periods import Period, ReportFilters
from kontaktcenter.reports.report import full_report, service_report
from tests.factories import make_case, make_case_type

TZ = ZoneInfo("Europe/Stockholm")
PERIOD = Period(datetime(2026, 3, 9).date(), datetime(2026, 3, 22).date())  # two weeks
BEFORE = PERIOD.previous()


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """A local time in March 2026 (day 1–22 covers the period and the one before)."""
    return datetime(2026, 3, day, hour, minute, tzinfo=TZ)


@pytest.fixture
def mixed(org):
    return build_mixed(org)


def build_mixed(org):
    """Cases of every channel and outcome in both periods, e-mails answered in and out of
    time (odd and even counts of response times), callbacks in time, late, overdue and still
    waiting, goals met, late, missed and running, a case routed twice, two case types with the
    same name, and a case created last but received first (ids out of order)."""
    twin = make_case_type(org.miljo, "Bygglov", "bygglov-miljo")  # same name, other department
    db.session.commit()
    hour = timedelta(hours=1)
    emails = [
        # (day, hour, answered after hours or None)
        (2, 9, 3), (3, 20, 40), (5, 11, 7),  # before: 3 answered (odd)
        (9, 8, 2), (10, 23, 30), (12, 10, 60), (16, 14, None), (20, 18, 5),  # 4 answered
    ]  # fmt: skip
    for day, h, after in emails:
        case = make_case(
            org.agent, None, outcome=None, channel=Channel.EMAIL, received_at=at(day, h)
        )
        if after is not None:
            case.first_response_at = case.received_at + after * hour
    db.session.commit()
    calls = [
        (2, Outcome.ANSWERED, org.bygglov), (4, Outcome.ROUTED, org.miljotillsyn),
        (9, Outcome.ANSWERED, org.bygglov), (9, Outcome.ANSWERED, twin),
        (10, Outcome.HANDED_OFF, org.bygglov), (11, Outcome.ROUTED, org.strandskydd),
        (11, Outcome.ROUTED, org.miljotillsyn), (12, Outcome.REFERRED, None),
        (13, Outcome.CALLBACK, org.bygglov), (16, Outcome.CALLBACK, org.miljotillsyn),
        (17, Outcome.CALLBACK, twin), (18, Outcome.CALLBACK, org.strandskydd),
        (19, Outcome.ANSWERED, None), (20, Outcome.HANDED_OFF, org.miljotillsyn),
    ]  # fmt: skip
    made = []
    for day, outcome, case_type in calls:
        extra = {}
        if outcome == Outcome.REFERRED:
            extra["referred_to"] = "Skatteverket"
        if outcome == Outcome.CALLBACK:
            extra["callback_note"] = "Ring tillbaka"
        if outcome == Outcome.HANDED_OFF:
            extra["handed_to"] = "Handläggare"
        made.append(
            make_case(org.agent, case_type, outcome=outcome, received_at=at(day, 10), **extra)
        )
    visit = make_case(
        org.agent,
        org.bygglov,
        outcome=Outcome.ANSWERED,
        channel=Channel.VISIT,
        received_at=at(15, 13),
    )
    web = make_case(
        org.agent, org.strandskydd, outcome=None, channel=Channel.WEB, received_at=at(14, 9)
    )
    callbacks = [c for c in made if c.outcome == Outcome.CALLBACK]
    now = utcnow()
    callbacks[0].callback_done_at = callbacks[0].callback_due_at - hour  # in time
    callbacks[1].callback_done_at = callbacks[1].callback_due_at + hour  # late
    callbacks[2].callback_due_at = now - hour  # overdue
    callbacks[3].callback_due_at = now + 24 * hour  # still waiting
    db.session.commit()
    # Received first, created last: the highest id with the earliest time of the period.
    last = make_case(org.agent, org.miljotillsyn, outcome=Outcome.ROUTED, received_at=at(9, 0, 5))
    routed = [c for c in made if c.outcome == Outcome.ROUTED and c.received_at >= PERIOD.start]
    for case in (routed[0], routed[0], last):  # routed[0] was routed three times in all
        db.session.add(Activity(case_id=case.id, kind=ActivityKind.ROUTED, data={}))
    definition = {"amount": 1, "unit": "working_days", "at_risk_percent": 20}
    goals = [
        (routed[0], GoalTarget.SECOND_LINE, 2 * hour, 1 * hour, 60),  # in time
        (routed[0], GoalTarget.SECOND_LINE, 1 * hour, 3 * hour, 180),  # a second one, late
        (routed[1], GoalTarget.SECOND_LINE, 1 * hour, None, None),  # missed
        (last, GoalTarget.SECOND_LINE, 24 * 400 * hour, None, None),  # still running
        (last, GoalTarget.FIRST_RESPONSE, 2 * hour, 30 * (hour / 60), 30),
        (web, GoalTarget.FIRST_RESPONSE, hour, None, None),
        (visit, GoalTarget.RESOLUTION, hour, 2 * hour, None),  # met late, no minutes
    ]
    for case, target, due, met, minutes in goals:
        start = case.received_at
        db.session.add(
            CaseGoal(
                case_id=case.id,
                target=target,
                definition=definition,
                started_at=start,
                due_at=start + due,
                at_risk_at=start + due / 2,
                met_at=None if met is None else start + met,
                # as the sweep records it: when the due time passed unmet (late or missed)
                breached_at=start + due if (met is None or met > due) and due < 24 * hour else None,
                business_minutes=minutes,
                calendar_minutes=minutes,
            )
        )
    db.session.add(  # cancelled: never counted
        CaseGoal(
            case_id=last.id,
            target=GoalTarget.SECOND_LINE,
            definition=definition,
            started_at=last.received_at,
            due_at=last.received_at + hour,
            at_risk_at=last.received_at,
            cancelled_at=last.received_at + hour,
        )
    )
    db.session.commit()
    hooks.backfill()
    return org


def filter_sets(org) -> list[ReportFilters]:
    return [
        ReportFilters(period=PERIOD),
        ReportFilters(period=PERIOD, channel=Channel.EMAIL),
        ReportFilters(period=PERIOD, channel=Channel.PHONE),
        ReportFilters(period=PERIOD, department_id=org.miljo.id),
        ReportFilters(period=PERIOD, case_type_id=org.bygglov.id),
        ReportFilters(period=PERIOD, scope=frozenset({org.bygg.id})),
        ReportFilters(period=Period(datetime(2025, 1, 1).date(), datetime(2025, 1, 31).date())),
    ]


def test_one_grouped_statement_gives_every_per_measure_number(mixed):
    for filters in filter_sets(mixed):
        now, before = period_counts(filters, [filters.period, filters.period.previous()])
        for counts, period in ((now, filters.period), (before, filters.period.previous())):
            assert counts.email == service.email_measures(filters, period), filters
            assert counts.phone == service.phone_measures(filters, period), filters
            assert counts.callbacks == service.callback_measures(filters, period), filters
            assert counts.resolution == service.resolution(filters, period), filters
        assert now.top_case_types == volumes.top_case_types(filters), filters
        assert now.forwarded == volumes.forwarded_per_department(filters), filters


def test_the_data_set_has_what_the_comparison_needs(mixed):
    """Guards the test above against comparing empty numbers."""
    counts, before = period_counts(ReportFilters(period=PERIOD), [PERIOD, BEFORE])
    email = counts.email
    assert (email.received, email.answered_within_1_working_day) == (5, 2)
    assert email.median_office_minutes is not None and before.email.median_office_minutes
    callbacks = counts.callbacks
    assert (callbacks.booked, callbacks.done_within_goal, callbacks.done_late) == (4, 1, 1)
    assert (callbacks.overdue, callbacks.waiting) == (1, 1)
    # The two case types named "Bygglov" are one row in the top list, two in lösningsgrad.
    assert counts.top_case_types[:2] == [("Ingen ärendetyp", 7), ("Bygglov", 6)]
    assert [r.name for r in counts.resolution].count("Bygglov") == 2
    assert {name for name, _routed, _handed in counts.forwarded} == {
        "Miljöförvaltningen",
        "Stadsbyggnadskontoret",
    }


def test_medians_with_percentile_cont_equal_the_middle_rows(mixed):
    """PostgreSQL's ``percentile_cont(0.5)`` against ORDER BY/OFFSET, for an odd and an even
    number of answers (4 in the period, 3 before it)."""
    for filters in filter_sets(mixed):
        periods = [filters.period, filters.period.previous()]
        for (mean_o, median_o, mean_c, median_c), period in zip(
            response_times(filters, periods), periods, strict=True
        ):
            times = (
                sa.select(ResponseTime)
                .join(Case, Case.id == ResponseTime.case_id)
                .where(*service.case_filters(filters, period), Case.channel == Channel.EMAIL)
            )
            assert (mean_o, median_o) == service._mean_median(times, ResponseTime.office_minutes)
            assert (mean_c, median_c) == service._mean_median(times, ResponseTime.calendar_minutes)
    odd = response_times(ReportFilters(period=PERIOD), [PERIOD])[0]
    # Calendar minutes of the period's 4 answers: 120, 1800, 3600, 300: median (300 + 1800) / 2.
    assert odd[3] == 1050.0


def _second_line_recount(filters: ReportFilters) -> list[compliance.SecondLine]:
    """The second line as it was computed before the grouped statements (the definition)."""
    now = utcnow()
    goal = sa.orm.aliased(CaseGoal)
    routings = (
        sa.select(Activity.case_id, sa.func.count().label("n"))
        .where(Activity.kind == ActivityKind.ROUTED)
        .group_by(Activity.case_id)
        .subquery()
    )
    rows = db.session.execute(
        sa.select(
            Department.name,
            sa.func.count(sa.distinct(Case.id)),
            sa.func.count(sa.distinct(goal.id)).filter(goal.met_at <= goal.due_at),
            sa.func.count(sa.distinct(goal.id)).filter(
                (goal.met_at > goal.due_at) | (goal.met_at.is_(None) & (goal.due_at < now))
            ),
            sa.func.count(sa.distinct(Case.id)).filter(routings.c.n > 1),
            sa.func.avg(goal.business_minutes).filter(goal.met_at.is_not(None)),
        )
        .join(Department, Department.id == Case.department_id)
        .outerjoin(
            goal,
            (goal.case_id == Case.id)
            & (goal.target == GoalTarget.SECOND_LINE)
            & goal.cancelled_at.is_(None),
        )
        .outerjoin(routings, routings.c.case_id == Case.id)
        .where(*service.case_filters(filters))
        .group_by(Department.name)
        .order_by(Department.name)
    ).all()
    return [
        compliance.SecondLine(name, n, in_time, late, chains, None if m is None else float(m))
        for name, n, in_time, late, chains, m in rows
    ]


def test_the_full_report_equals_the_definitions(mixed):
    for filters in filter_sets(mixed):
        report = full_report(filters)
        assert report.second_line == _second_line_recount(filters), filters
        assert compliance.second_line(filters) == report.second_line, filters
        assert (report.compliance, report.compliance_by) == compliance.compliance_all(filters)
        assert report.top_case_types == volumes.top_case_types(filters)
        assert report.forwarded == volumes.forwarded_per_department(filters)
        assert report.service == service_report(filters)
        assert report.service.email == service.email_measures(filters)
        assert (
            report.service.previous_resolution
            == service.resolution(filters, filters.period.previous())[0]
        )
        unordered = sa.select(CaseGoal).join(Case, Case.id == CaseGoal.case_id)
        breached = db.session.scalars(
            unordered.where(
                *service.case_filters(filters),
                CaseGoal.cancelled_at.is_(None),
                CaseGoal.breached_at.is_not(None),
            )
        ).all()
        assert sorted(g.id for g in report.breaches) == sorted(g.id for g in breached)
    report = full_report(ReportFilters(period=PERIOD))
    assert len(report.breaches) == 4
    second = {r.department: r for r in report.second_line}
    # Stadsbyggnad: the case routed three times (a chain) has two second-line goals, one in
    # time (60 minutes), one late (180). Miljö: the other routed case's goal was missed; the
    # case created last was routed twice (a chain) and its goal still runs (not judged).
    bygg, miljo = second["Stadsbyggnadskontoret"], second["Miljöförvaltningen"]
    assert (bygg.forwarded_more_than_once, bygg.in_time, bygg.late_or_missed) == (1, 1, 1)
    assert bygg.mean_minutes == 120.0
    assert (miljo.forwarded_more_than_once, miljo.in_time, miljo.late_or_missed) == (1, 0, 1)
    assert miljo.mean_minutes is None


def test_the_backlog_counts_the_open_cases(mixed):
    """The backlog asks for `status <> 'closed'` (the queue's partial indexes): the same cases
    as the open statuses."""
    filters = ReportFilters(period=PERIOD)
    open_cases = db.session.scalar(
        sa.select(sa.func.count()).select_from(Case).where(Case.status.in_(OPEN_STATUSES))
    )
    assert sum(n for _label, n in volumes.backlog(filters)) == open_cases > 0
    assert set(CaseStatus) - set(OPEN_STATUSES) == {CaseStatus.CLOSED}
