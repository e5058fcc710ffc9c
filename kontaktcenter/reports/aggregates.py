"""Daily pre-aggregates: a finished day's cases and goals counted once, read by the reports
instead of the cases themselves (decision 112).

A year's report at 1M cases read a third of ``cases`` and of ``case_goals`` twice over; with
this it reads a few hundred rows per day from ``report_day_cases`` and ``report_day_goals``
for the days counted here, and only the others (the last days, and any day changed since it
was counted) from the cases.

Correctness never waits for the job. A day's counts are used only while
- nothing has changed since they were counted: triggers on ``cases`` and ``case_goals``
  (migration 0026) bump ``report_days.version`` in the transaction that changes a case of that
  day, and the counts carry the version they were made from;
- the calendar still gives the e-mail deadlines they were counted with (opening hours and
  holidays are configurable);
- nothing counted as pending is due any more (``live_until``): an unanswered e-mail is still
  "within two working days" until its deadline, a waiting callback or a running goal until
  theirs; after that the stored counts are final without the clock.
Otherwise the reports count that day from the cases, exactly as without this module.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from kontaktcenter.cases.enums import Channel
from kontaktcenter.cases.models import Case
from kontaktcenter.core.extensions import db, utcnow
from kontaktcenter.core.jobs import app_job
from kontaktcenter.goals.models import CaseGoal
from kontaktcenter.reports.models import (
    ReportDay,
    ReportDayCases,
    ReportDayGoals,
    ReportDayHours,
)
from kontaktcenter.reports.periods import TZ, Period, ReportFilters, local_date
from kontaktcenter.reports.service import answer_deadlines, case_filters, utc_hour

# Days this recent are always counted live: they still change all the time.
SETTLE_DAYS = 2
# Days counted per run of the job (each in its own short transaction).
BATCH_DAYS = 400
# report_days.created_xmax before the row's creation is known to be visible to every writer.
NOT_STAMPED = -1


def enabled() -> bool:
    return bool(current_app.config.get("REPORT_PREAGGREGATES", True))


def _postgres() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


# --- reading ---------------------------------------------------------------------------------


def usable_ranges(span: Period, now: datetime | None = None) -> list[Period]:
    """The runs of consecutive days of `span` whose stored counts are right now."""
    if not enabled():
        return []
    now = now or utcnow()
    rows = db.session.execute(
        sa.select(ReportDay.day, ReportDay.due_1, ReportDay.due_2).where(
            ReportDay.day.between(span.first, span.last),
            ReportDay.built_version == ReportDay.version,
            sa.or_(ReportDay.live_until.is_(None), ReportDay.live_until < now),
        )
    ).all()
    if not rows:
        return []
    deadlines = _deadlines(span)
    days = sorted(day for day, due_1, due_2 in rows if deadlines.get(day) == (due_1, due_2))
    return _runs(days)


def other_ranges(span: Period, usable: Sequence[Period]) -> list[Period]:
    """The runs of days of `span` that are not in `usable` (to count live)."""
    taken = {day for run in usable for day in run.dates()}
    return _runs([day for day in span.dates() if day not in taken])


def _runs(days: Sequence[date]) -> list[Period]:
    runs: list[Period] = []
    for day in days:
        if runs and runs[-1].last + timedelta(days=1) == day:
            runs[-1] = Period(runs[-1].first, day)
        else:
            runs.append(Period(day, day))
    return runs


def _deadlines(span: Period) -> dict[date, tuple[datetime, datetime]]:
    return {
        date.fromisoformat(key): (due_1, due_2)
        for key, due_1, due_2 in answer_deadlines(span, per_hour=False)
    }


def _in(column: sa.orm.InstrumentedAttribute[date], runs: Sequence[Period]):
    return sa.or_(*[column.between(run.first, run.last) for run in runs])


def case_rows(filters: ReportFilters, periods: Sequence[Period], runs: Sequence[Period]) -> list:
    """The stored counts of the days in `runs`, in the shape of ``period_counts._rows``: (index
    of the period, channel, outcome, case type, department, cases, the four e-mail counts, the
    five callback counts, least id, greatest id). Every pending e-mail and callback of a usable
    day is past its deadline, so "still within" and "waiting" are 0 and pending is overdue."""
    if not runs:
        return []
    m = ReportDayCases
    zero = sa.literal(0)
    group = [m.channel, m.outcome, m.case_type_id, m.department_id]
    index = sa.case(
        *[(m.day.between(p.first, p.last), i) for i, p in enumerate(periods)], else_=-1
    ).label("period")
    rows = db.session.execute(
        sa.select(
            index,
            *group,
            sa.func.sum(m.cases),
            sa.func.sum(m.within_1),
            sa.func.sum(m.within_2),
            zero,
            zero,
            sa.func.sum(m.callbacks_booked),
            sa.func.sum(m.callbacks_in_time),
            sa.func.sum(m.callbacks_late),
            sa.func.sum(m.callbacks_pending),
            zero,
            sa.func.min(m.min_id),
            sa.func.max(m.max_id),
        )
        .where(_in(m.day, runs), *case_filters(filters, dated=False, on=m))
        .group_by(index, *group)
    ).all()
    return [tuple(row) for row in rows]


def goal_rows(filters: ReportFilters, runs: Sequence[Period]) -> list[tuple]:
    """The stored goal counts of the days in `runs`, in the shape of
    ``compliance.goal_rows`` before the names: (target, department id, case type id, channel,
    in time, late, missed, running, sum of the met goals' minutes, their count)."""
    if not runs:
        return []
    m = ReportDayGoals
    group = [m.target, m.department_id, m.case_type_id, m.channel]
    return [
        tuple(row)
        for row in db.session.execute(
            sa.select(
                *group,
                sa.func.sum(m.in_time),
                sa.func.sum(m.late),
                sa.func.sum(m.pending),
                sa.literal(0),
                sa.func.sum(m.minutes_sum),
                sa.func.sum(m.minutes_count),
            )
            .where(_in(m.day, runs), *case_filters(filters, dated=False, on=m))
            .group_by(*group)
        ).all()
    ]


def hour_rows(filters: ReportFilters, runs: Sequence[Period]) -> list[tuple]:
    """The stored (day, channel, local hour, cases) of the days in `runs`. The hours are kept
    per channel only: a report filtered by department or case type counts them live."""
    if not runs or not hours_stored_for(filters):
        return []
    m = ReportDayHours
    where = [_in(m.day, runs)]
    if filters.channel is not None:
        where.append(m.channel == filters.channel)
    return [
        tuple(row)
        for row in db.session.execute(sa.select(m.day, m.channel, m.hour, m.cases).where(*where))
    ]


def hours_stored_for(filters: ReportFilters) -> bool:
    return filters.department_id is None and filters.scope is None and filters.case_type_id is None


def hour_expression() -> sa.ColumnElement:
    """A case's UTC hour, as the database groups it (a timestamp on PostgreSQL, text on
    SQLite); :func:`local_hour_start` reads either."""
    if _postgres():
        return sa.func.date_trunc("hour", Case.received_at, "UTC")
    return utc_hour(Case.received_at)


def local_hour_start(value: datetime | str) -> datetime:
    """The local start of a UTC hour from :func:`hour_expression`."""
    if isinstance(value, str):
        value = datetime.fromisoformat(f"{value}:00").replace(tzinfo=UTC)  # "…-DD HH"
    return value.astimezone(TZ)


# --- counting --------------------------------------------------------------------------------


@app_job
def refresh_job() -> None:
    """The periodic entry point (every few minutes); idempotent."""
    refresh()


def refresh(now: datetime | None = None, limit: int = BATCH_DAYS, wait_seconds: float = 2.0) -> int:
    """Count the finished days that have no counts, or whose counts are out of date (a case
    changed, the calendar changed); at most `limit` days. Returns the days counted."""
    now = now or utcnow()
    first_received = db.session.scalar(sa.select(sa.func.min(Case.received_at)))
    db.session.rollback()
    if first_received is None:
        return 0
    span = Period(local_date(first_received), local_date(now) - timedelta(days=SETTLE_DAYS))
    if span.first > span.last:
        return 0
    _add_days(span)
    deadlines = _deadlines(span)
    rows = db.session.execute(
        sa.select(
            ReportDay.day,
            ReportDay.version,
            ReportDay.built_version,
            ReportDay.due_1,
            ReportDay.due_2,
            ReportDay.created_xmax,
        ).where(ReportDay.day.between(span.first, span.last))
    ).all()
    db.session.rollback()
    stale = [
        row
        for row in rows
        if row.built_version != row.version or (row.due_1, row.due_2) != deadlines[row.day]
    ]
    newest = max((row.created_xmax or 0 for row in stale), default=0)
    ready = _wait_for_older_writers(newest, wait_seconds)
    todo = [row.day for row in stale if row.created_xmax is None or 0 <= row.created_xmax <= ready]
    for day in todo[:limit]:
        _count_day(day, deadlines[day])
    return min(len(todo), limit)


# The oldest transaction id of another transaction still running (or, with none, the first id
# not yet begun): a snapshot's in-progress list leaves out the transaction taking it, whose own
# writes its statements see anyway (in the tests everything runs in one transaction).
OLDEST_OTHER_WRITER = sa.text(
    "SELECT coalesce(min(x::text::bigint), pg_snapshot_xmax(pg_current_snapshot())::text::bigint)"
    " FROM pg_snapshot_xip(pg_current_snapshot()) AS x"
)


def _wait_for_older_writers(xid: int, wait_seconds: float) -> int:
    """PostgreSQL: the oldest transaction id still running (but this one), after waiting up to
    `wait_seconds` for it to pass `xid` (writers are short; a long one only delays the
    counting of new days to a later run). SQLite: `xid` (a writer holds the database's lock
    until it commits, so none can be older than a row another transaction has committed)."""
    if not _postgres():
        return xid
    deadline = time.monotonic() + wait_seconds
    while True:
        oldest = int(db.session.execute(OLDEST_OTHER_WRITER).scalar_one())
        db.session.rollback()
        if oldest >= xid or time.monotonic() >= deadline:
            return oldest
        time.sleep(0.05)


def _add_days(span: Period) -> None:
    """Rows for the days of `span` that have none, in their own transaction; on PostgreSQL
    then stamped with the first transaction id not yet begun (see ``ReportDay.created_xmax``):
    a writer whose trigger ran before the rows were visible has an older id, and the day is
    counted only after it has ended."""
    known = set(
        db.session.scalars(
            sa.select(ReportDay.day).where(ReportDay.day.between(span.first, span.last))
        )
    )
    missing = [day for day in span.dates() if day not in known]
    postgres = _postgres()
    if missing:
        stamp = NOT_STAMPED if postgres else None
        db.session.execute(
            sa.insert(ReportDay),
            [{"day": day, "version": 0, "created_xmax": stamp} for day in missing],
        )
    db.session.commit()
    if postgres:
        db.session.execute(
            sa.update(ReportDay)
            .where(ReportDay.created_xmax == NOT_STAMPED)
            .values(
                created_xmax=sa.cast(
                    sa.cast(sa.func.pg_snapshot_xmax(sa.func.pg_current_snapshot()), sa.Text),
                    sa.BigInteger,
                )
            )
        )
        db.session.commit()


def _count_day(day: date, deadlines: tuple[datetime, datetime]) -> None:
    """Count one day in one transaction. The day's row is locked first (a trigger bumping it
    waits), so two jobs never count the same day at once, and the version read then is the one
    the counts are made from: a change committed later bumps it past them."""
    due_1, due_2 = deadlines
    version = db.session.scalar(
        sa.select(ReportDay.version).where(ReportDay.day == day).with_for_update()
    )
    if version is None:  # gone (cannot happen: rows are never deleted); nothing to count
        db.session.rollback()
        return
    period = Period(day, day)
    received = [Case.received_at >= period.start, Case.received_at < period.end]
    answered, due, done = Case.first_response_at, Case.callback_due_at, Case.callback_done_at
    email = Case.channel == Channel.EMAIL
    case_group = (Case.channel, Case.outcome, Case.case_type_id, Case.department_id)
    cases = db.session.execute(
        sa.select(
            *case_group,
            sa.func.count(),
            sa.func.count().filter(email, answered <= due_1),
            sa.func.count().filter(email, answered <= due_2),
            sa.func.count().filter(email, answered.is_(None)),
            sa.func.count().filter(due.is_not(None)),
            sa.func.count().filter(done <= due),
            sa.func.count().filter(done > due),
            sa.func.count().filter(done.is_(None), due.is_not(None)),
            sa.func.min(Case.id),
            sa.func.max(Case.id),
            sa.func.max(due).filter(done.is_(None)),
        )
        .where(*received)
        .group_by(*case_group)
    ).all()
    met = CaseGoal.met_at
    goal_group = (CaseGoal.target, Case.department_id, Case.case_type_id, Case.channel)
    goals = db.session.execute(
        sa.select(
            *goal_group,
            sa.func.count().filter(met <= CaseGoal.due_at),
            sa.func.count().filter(met > CaseGoal.due_at),
            sa.func.count().filter(met.is_(None), CaseGoal.due_at.is_not(None)),
            sa.func.sum(CaseGoal.business_minutes).filter(met.is_not(None)),
            sa.func.count(CaseGoal.business_minutes).filter(met.is_not(None)),
            sa.func.max(CaseGoal.due_at).filter(met.is_(None)),
        )
        .join(Case, Case.id == CaseGoal.case_id)
        .where(*received, CaseGoal.cancelled_at.is_(None))
        .group_by(*goal_group)
    ).all()
    hour = hour_expression().label("hour")
    hours: Counter[tuple[Channel, int]] = Counter()
    for channel, start, n in db.session.execute(
        sa.select(Case.channel, hour, sa.func.count()).where(*received).group_by(Case.channel, hour)
    ):
        hours[channel, local_hour_start(start).hour] += n
    pending_until = [row[-1] for row in cases] + [row[-1] for row in goals]
    if any(row[7] for row in cases):  # unanswered e-mails: pending until the second deadline
        pending_until.append(due_2)
    live_until = max((at for at in pending_until if at is not None), default=None)
    db.session.execute(sa.delete(ReportDayCases).where(ReportDayCases.day == day))
    db.session.execute(sa.delete(ReportDayGoals).where(ReportDayGoals.day == day))
    db.session.execute(sa.delete(ReportDayHours).where(ReportDayHours.day == day))
    if hours:
        db.session.execute(
            sa.insert(ReportDayHours),
            [
                {"day": day, "channel": channel, "hour": h, "cases": n}
                for (channel, h), n in sorted(hours.items())
            ],
        )
    case_columns = [
        "channel",
        "outcome",
        "case_type_id",
        "department_id",
        "cases",
        "within_1",
        "within_2",
        "unanswered",
        "callbacks_booked",
        "callbacks_in_time",
        "callbacks_late",
        "callbacks_pending",
        "min_id",
        "max_id",
    ]
    if cases:
        db.session.execute(
            sa.insert(ReportDayCases),
            [{"day": day, **dict(zip(case_columns, row[:-1], strict=True))} for row in cases],
        )
    goal_columns = [
        "target",
        "department_id",
        "case_type_id",
        "channel",
        "in_time",
        "late",
        "pending",
        "minutes_sum",
        "minutes_count",
    ]
    if goals:
        db.session.execute(
            sa.insert(ReportDayGoals),
            [{"day": day, **dict(zip(goal_columns, row[:-1], strict=True))} for row in goals],
        )
    db.session.execute(
        sa.update(ReportDay)
        .where(ReportDay.day == day)
        .values(
            built_version=version,
            due_1=due_1,
            due_2=due_2,
            live_until=live_until,
            built_at=utcnow(),
        )
    )
    db.session.commit()
