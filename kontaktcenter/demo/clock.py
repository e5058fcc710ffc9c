"""Time for the demo seeder: a simulated clock for the services, opening hours, and fast
SQLite commits. Used by :mod:`kontaktcenter.demo.seed`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import holidays
import sqlalchemy as sa

from kontaktcenter.callbacks import closing as callback_closing
from kontaktcenter.callbacks import hooks as callback_hooks
from kontaktcenter.callbacks import services as callback_services
from kontaktcenter.cases import actions as case_actions
from kontaktcenter.cases import services as case_service
from kontaktcenter.cases.models import Case
from kontaktcenter.compliance import audit_hooks
from kontaktcenter.core.extensions import db, utcnow

TZ = ZoneInfo("Europe/Stockholm")
OPENS, CLOSES = time(8, 0), time(16, 30)


class SimulatedClock:
    def __init__(self) -> None:
        self.at = utcnow()

    def __call__(self) -> datetime:
        return self.at


@contextmanager
def services_clock(clock: SimulatedClock) -> Iterator[None]:
    """While seeding, the case services read `clock` as "now", and rows that take their time
    stamps from column defaults (timeline entries, contacts, updated_at) get it too."""
    modules = (
        case_service,
        case_actions,
        callback_services,
        callback_closing,
        callback_hooks,
        audit_hooks,  # the audit rows of a commit are stamped by it, not by a column default
    )
    saved = [module.utcnow for module in modules]
    session = db.session()

    def stamp(session: Any, flush_context: Any, instances: Any) -> None:
        for obj in session.new:
            if getattr(obj, "created_at", False) is None:
                obj.created_at = clock.at
        for obj in (*session.new, *session.dirty):
            if isinstance(obj, Case):
                obj.updated_at = clock.at

    for module in modules:
        setattr(module, "utcnow", clock)  # noqa: B010
    sa.event.listen(session, "before_flush", stamp)
    try:
        yield
    finally:
        sa.event.remove(session, "before_flush", stamp)
        for module, original in zip(modules, saved, strict=True):
            setattr(module, "utcnow", original)  # noqa: B010


@contextmanager
def without_fsync() -> Iterator[None]:
    """SQLite: the services commit every step, and an fsync per commit makes seeding several times
    slower. In WAL mode ``synchronous=NORMAL`` cannot corrupt the file; at worst a power cut loses
    the last demo rows. Set when a connection is checked out (outside any transaction, as SQLite
    requires) and restored when it is checked in."""
    bind = db.session.get_bind()
    if not isinstance(bind, sa.Engine) or bind.dialect.name != "sqlite":
        yield  # PostgreSQL, or a test's outer transaction: nothing to gain
        return

    def relax(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        before = dbapi_connection.execute("PRAGMA synchronous").fetchone()[0]
        record.info.setdefault("demo_synchronous", int(before))
        dbapi_connection.execute("PRAGMA synchronous=NORMAL")

    def restore(dbapi_connection: Any, record: Any) -> None:
        if "demo_synchronous" in record.info:
            level = record.info.pop("demo_synchronous")
            dbapi_connection.execute(f"PRAGMA synchronous={level}")

    db.session.commit()  # hand the connection back, so the next checkout is relaxed
    sa.event.listen(bind, "checkout", relax)
    sa.event.listen(bind, "checkin", restore)
    try:
        yield
    finally:
        db.session.commit()
        sa.event.remove(bind, "checkout", relax)
        sa.event.remove(bind, "checkin", restore)


@lru_cache(maxsize=4)
def red_days(year: int) -> frozenset[date]:
    """Allmänna helgdagar plus midsommar-, jul- and nyårsafton (DOMAIN.md §4)."""
    calendar = holidays.Sweden(
        years=year, include_sundays=False, categories=(holidays.PUBLIC, holidays.DE_FACTO)
    )
    return frozenset(calendar)


def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and day not in red_days(day.year)


def working_days(now: datetime, back: int) -> list[date]:
    """Working days in the last `back` days, today included if it has opened."""
    today = now.astimezone(TZ).date()
    days = [today - timedelta(days=n) for n in range(back, -1, -1)]
    opened = now - timedelta(minutes=30) > datetime.combine(today, OPENS, TZ)
    return [d for d in days if is_working_day(d) and (d != today or opened)]


def opening(moment: datetime) -> datetime:
    """The moment, or the next opening if the office is closed then."""
    local = moment.astimezone(TZ)
    if is_working_day(local.date()) and OPENS <= local.time() < CLOSES:
        return moment
    day = local.date() if local.time() < OPENS else local.date() + timedelta(days=1)
    while not is_working_day(day):
        day += timedelta(days=1)
    return datetime.combine(day, OPENS, TZ)


def later(moment: datetime, office_hours: float) -> datetime:
    """`office_hours` of opening time after `moment`: work happens while the office is open."""
    at, left = opening(moment), timedelta(hours=office_hours)
    while True:
        closes = datetime.combine(at.astimezone(TZ).date(), CLOSES, TZ)
        if at + left < closes:
            return at + left
        left -= closes - at
        at = opening(closes)
