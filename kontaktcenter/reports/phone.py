"""The phone platform's figures beside the case outcomes (issue #14, phone statistics): calls
offered, answered, answered within the queue's answer goal, abandoned, wait and talk times, per
queue and per day; and the callbacks worklist's results (reached, exhausted, cancelled,
attempts).

A call is one ``calls`` row, known from its events, from the platform's statistics file
(``call_statistics``) or both: the events' values win and the file's fill the gaps, in the
query itself (the import never writes the file's values into ``calls``), so a late event never
hides what the file said and a corrected file changes the report. One exception: an
abandonment inferred from a lone `ended` event (no `abandoned` event) is weaker than the file's
"answered" (a missed `answered` event). Computed by aggregate queries in the database on SQLite
and PostgreSQL.

Calls reach a department, a case type or a handler's scope only through the case logged from
them, and a call nobody answered has no case: under such a filter the calls offered and
abandoned (and the shares of them) cannot be known and are None (``through_cases``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa

from kontaktcenter.callbacks.models import Callback, CallbackStatus
from kontaktcenter.cases.enums import Channel
from kontaktcenter.cases.models import Case
from kontaktcenter.channels.phone.models import Call, CallEvent, CallEventKind, PhoneQueue
from kontaktcenter.channels.phone.stats_import import CallStatistic
from kontaktcenter.core.extensions import db
from kontaktcenter.reports.periods import Period, ReportFilters, local_date
from kontaktcenter.reports.service import case_filters, share

DEFAULT_GOAL_SECONDS = 60  # "besvarat inom 60 s", for a queue nobody configured
NO_QUEUE = "Ingen kö"

DEFINITIONS = {
    "calls": (
        "Samtal som kom in under perioden enligt telefoniplattformen (händelser och importerad "
        "statistik; finns båda gäller händelsernas värden). Erbjudna = besvarade + avbrutna i "
        "kö; samtal som pågår räknas inte. Besvarade inom målet: kötiden var högst köns "
        "svarsmål (60 s om inget annat satts för kön); besvarade samtal utan känd kötid räknas "
        "inte som i tid. Andelar av erbjudna samtal. Kötid och samtalstid gäller besvarade "
        "samtal. Med urval på förvaltning eller ärendetyp, och för en handläggare (som ser sina "
        "förvaltningars ärenden), räknas bara besvarade samtal som registrerats som ett ärende "
        "av den förvaltningen eller typen; avbrutna samtal har inget ärende, så erbjudna och "
        "avbrutna samtal och andelarna av dem går inte att veta och visas som –. Med en annan "
        "kanal än telefon räknas inga samtal. Saknar plattformen händelsen för svaret men "
        "statistikfilen säger besvarat räknas samtalet som besvarat."
    ),
    "calls.direct_answer": (
        "KKiK:s mått på direkt svar: andelen telefonärenden som kontaktcenter besvarade direkt "
        "(löst i första kontakten), av alla registrerade telefonärenden i perioden."
    ),
    "callbacks.worklist": (
        "Återuppringningar i arbetslistan för periodens ärenden: nådde personen, försöken slut "
        "(reglerna för ärendetypen använda; brev eller e-post skickas), återkallade och "
        "väntande. Försök per klar återuppringning = antal försök i genomsnitt för dem som "
        "nådde personen eller där försöken tog slut."
    ),
}


@dataclass
class CallCounts:
    label: str
    offered: int | None = 0  # None: not known (reached through cases, see the module)
    answered: int = 0
    answered_within_goal: int = 0
    abandoned: int | None = 0
    wait_sum: int = 0
    wait_count: int = 0
    talk_sum: int = 0
    talk_count: int = 0

    @property
    def within_goal_share(self) -> float | None:
        return None if self.offered is None else share(self.answered_within_goal, self.offered)

    @property
    def abandoned_share(self) -> float | None:
        if self.offered is None or self.abandoned is None:
            return None
        return share(self.abandoned, self.offered)

    @property
    def mean_wait_seconds(self) -> float | None:
        return round(self.wait_sum / self.wait_count, 1) if self.wait_count else None

    @property
    def mean_talk_seconds(self) -> float | None:
        return round(self.talk_sum / self.talk_count, 1) if self.talk_count else None

    def unknown_offered(self) -> None:
        """Reached through cases: what was offered and abandoned cannot be known."""
        self.offered = self.abandoned = None

    def add(self, other: CallCounts) -> None:
        for name in ("offered", "answered", "answered_within_goal", "abandoned"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for name in ("wait_sum", "wait_count", "talk_sum", "talk_count"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class CallStats:
    total: CallCounts = field(default_factory=lambda: CallCounts("Alla köer"))
    through_cases: bool = False  # a department, case type or scope: offered/abandoned None
    median_wait_seconds: float | None = None
    per_queue: list[CallCounts] = field(default_factory=list)
    per_day: list[tuple[date, CallCounts]] = field(default_factory=list)


def _seconds_between(start: Any, end: Any) -> sa.ColumnElement[int]:
    if db.session.get_bind().dialect.name == "postgresql":
        return sa.cast(sa.func.round(sa.extract("epoch", end - start)), sa.Integer)
    return sa.cast(
        sa.func.round((sa.func.julianday(end) - sa.func.julianday(start)) * 86400.0), sa.Integer
    )


class _Columns:
    """The call's facts, the events' values first and the imported file's second."""

    def __init__(self) -> None:
        c, s = Call, CallStatistic
        self.started = sa.func.coalesce(c.ringing_at, s.started_at, c.answered_at, c.abandoned_at)
        abandoned_event = (
            sa.exists()
            .where(CallEvent.call_id == c.id, CallEvent.kind == CallEventKind.ABANDONED)
            .correlate(c)
        )
        # The file says answered and no `abandoned` event says otherwise (an abandonment the
        # events inferred from a lone `ended` may be a missed `answered` event).
        file_answered = sa.and_(
            s.answered.is_(True), sa.or_(c.abandoned_at.is_(None), ~abandoned_event)
        )
        self.answered = sa.or_(c.answered_at.is_not(None), file_answered)
        self.abandoned = sa.and_(
            c.answered_at.is_(None),
            ~file_answered,
            sa.or_(c.abandoned_at.is_not(None), s.answered.is_(False)),
        )
        self.queue = sa.func.coalesce(c.queue, s.queue)
        self.wait = sa.func.coalesce(
            c.queue_wait_seconds, s.wait_seconds, _seconds_between(c.ringing_at, c.answered_at)
        )
        self.talk = sa.func.coalesce(_seconds_between(c.answered_at, c.ended_at), s.talk_seconds)
        self.goal = sa.func.coalesce(PhoneQueue.answer_goal_seconds, DEFAULT_GOAL_SECONDS)


def _through_cases(filters: ReportFilters) -> bool:
    return bool(case_filters(replace(filters, channel=None), dated=False))


def _select(cols: _Columns, filters: ReportFilters, period: Period, *columns) -> sa.Select:
    query = (
        sa.select(*columns)
        .select_from(Call)
        .outerjoin(CallStatistic, CallStatistic.call_id == Call.id)
        .outerjoin(PhoneQueue, PhoneQueue.name == cols.queue)
        .where(
            cols.started >= period.start,
            cols.started < period.end,
            sa.or_(cols.answered, cols.abandoned),
        )
    )
    if filters.channel not in (None, Channel.PHONE):
        query = query.where(sa.false())
    # Department, case type and the viewer's scope: through the case logged from the call.
    on_case = case_filters(replace(filters, channel=None), period, dated=False)
    if on_case:
        query = query.join(Case, Case.id == Call.case_id).where(*on_case)
    return query


def _day_key(started: sa.ColumnElement) -> sa.ColumnElement[str]:
    """A key the database computes per call and Python turns into the local date: the local
    date on PostgreSQL, the UTC hour on SQLite (no time zones; Stockholm's offsets are whole
    hours, so a UTC hour lies within one local day)."""
    if db.session.get_bind().dialect.name == "postgresql":
        local = sa.func.timezone("Europe/Stockholm", started)
        return sa.func.to_char(local, sa.literal_column("'YYYY-MM-DD'"))
    return sa.func.strftime("%Y-%m-%d %H", started)


def _local_day(key: str) -> date:
    if len(key) == 10:
        return date.fromisoformat(key)
    return local_date(datetime.strptime(key, "%Y-%m-%d %H").replace(tzinfo=UTC))


def call_stats(filters: ReportFilters, period: Period | None = None) -> CallStats:
    period = period or filters.period
    cols = _Columns()
    answered, wait, talk = cols.answered, cols.wait, cols.talk
    count = sa.func.count
    rows = db.session.execute(
        _select(
            cols,
            filters,
            period,
            _day_key(cols.started).label("stat_day"),
            cols.queue.label("stat_queue"),
            sa.func.max(PhoneQueue.label),
            count(),
            count().filter(answered),
            count().filter(answered, wait <= cols.goal),
            count().filter(cols.abandoned),
            sa.func.coalesce(sa.func.sum(wait).filter(answered), 0),
            count(wait).filter(answered),
            sa.func.coalesce(sa.func.sum(talk).filter(answered), 0),
            count(talk).filter(answered),
        ).group_by(sa.literal_column("stat_day"), sa.literal_column("stat_queue"))
    ).all()
    stats = CallStats()
    queues: dict[str, CallCounts] = {}
    days: dict[date, CallCounts] = {}
    for day_key, queue, label, *numbers in rows:
        counts = CallCounts("", *numbers)
        name = label or queue or NO_QUEUE
        queues.setdefault(name, CallCounts(name)).add(counts)
        day = _local_day(day_key)
        days.setdefault(day, CallCounts(day.isoformat())).add(counts)
        stats.total.add(counts)
    stats.per_queue = sorted(queues.values(), key=lambda c: (-(c.offered or 0), c.label))
    stats.per_day = sorted(days.items())
    if _through_cases(filters):
        stats.through_cases = True
        for counts in (stats.total, *queues.values(), *days.values()):
            counts.unknown_offered()
    stats.median_wait_seconds = _median(
        _select(cols, filters, period, wait.label("value")).where(answered, wait.is_not(None))
    )
    return stats


def _median(query: sa.Select) -> float | None:
    """The median of the query's one column, in the database (ORDER BY … LIMIT/OFFSET: SQLite
    has no percentile function)."""
    sub = query.subquery()
    n = db.session.scalar(sa.select(sa.func.count()).select_from(sub))
    if not n:
        return None
    middle = db.session.scalars(
        sa.select(sub.c.value).order_by(sub.c.value).offset((n - 1) // 2).limit(2 - n % 2)
    ).all()
    return float(sum(middle)) / len(middle)


@dataclass
class CallbackStates:
    booked: int = 0
    reached: int = 0
    exhausted: int = 0
    cancelled: int = 0
    pending: int = 0
    done_within_goal: int = 0
    mean_attempts: float | None = None

    @property
    def done(self) -> int:
        return self.reached + self.exhausted


def callback_states(filters: ReportFilters, period: Period | None = None) -> CallbackStates:
    """The worklist's callbacks on the period's cases (the same cases as the rest of the
    report), by how they ended."""
    status = Callback.status
    done = status.in_((CallbackStatus.REACHED, CallbackStatus.EXHAUSTED))
    count = sa.func.count
    row = db.session.execute(
        sa.select(
            count(),
            count().filter(status == CallbackStatus.REACHED),
            count().filter(status == CallbackStatus.EXHAUSTED),
            count().filter(status == CallbackStatus.CANCELLED),
            count().filter(status == CallbackStatus.PENDING),
            count().filter(done, Callback.closed_at <= Callback.due_at),
            sa.func.avg(Callback.attempts).filter(done),
        )
        .select_from(Callback)
        .join(Case, Case.id == Callback.case_id)
        .where(*case_filters(filters, period))
    ).one()
    booked, reached, exhausted, cancelled, pending, in_time, mean = row
    return CallbackStates(
        booked=booked,
        reached=reached,
        exhausted=exhausted,
        cancelled=cancelled,
        pending=pending,
        done_within_goal=in_time,
        mean_attempts=round(float(mean), 1) if mean is not None else None,
    )
