"""The demo's phone setup (issue #14): the platform's queues, the callback retry rule, and the
callbacks the phone platform's queue booked in the last hours, waiting in the contact center's
worklist ("Återuppringningar") when an agent signs in."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import sqlalchemy as sa

from kontaktcenter.callbacks import rules as callback_rules
from kontaktcenter.callbacks import services as callbacks
from kontaktcenter.callbacks.models import Callback, CallbackSource, Fallback
from kontaktcenter.channels.phone import queues
from kontaktcenter.channels.phone.models import PhoneQueue
from kontaktcenter.core.extensions import db
from kontaktcenter.demo import clock as demo_clock
from kontaktcenter.demo.data import fictional_mobile
from kontaktcenter.organisation.models import CaseType, User

# (platform name, label, case type slug, abandoned calls become callbacks)
QUEUES = [
    ("kc-huvudnummer", "Kontaktcenter – huvudnumret", None, True),
    ("kc-bygglov", "Bygglov och strandskydd", "bygglov", True),
    ("kc-forskola", "Förskola och skola", "forskoleplats", False),
]
# (fictional number index, booked hours before now, a slot (local hours on the next working
# day) or None for as soon as possible, note)
PLATFORM_CALLBACKS = [
    (80, 3.0, None, "Vill veta hur lång tid ett bygglov tar."),
    (81, 1.5, (10, 12), "Frågor om faktura för vatten och avlopp."),
    (82, 1.0, None, None),
]


def configure() -> None:
    """The queues and the default retry rule (three attempts an hour apart, then an e-mail)."""
    for name, label, slug, abandoned in QUEUES:
        if db.session.scalars(sa.select(PhoneQueue.id).where(PhoneQueue.name == name)).first():
            continue
        case_type = (
            db.session.scalars(sa.select(CaseType).where(CaseType.slug == slug)).first()
            if slug
            else None
        )
        queues.create(queues.QueueData(name, label, case_type, abandoned_callback=abandoned))
    if callback_rules.rule_row(None) is None:
        callback_rules.save_rule(None, max_attempts=3, min_gap_minutes=60, fallback=Fallback.EMAIL)


def platform_callbacks(now: datetime, by: User) -> int:
    """Callbacks the phone platform's queue booked this morning (made once)."""
    made = sa.select(Callback.id).where(Callback.source == CallbackSource.PLATFORM).limit(1)
    if db.session.scalars(made).first() is not None:
        return 0
    clock = demo_clock.SimulatedClock()
    with demo_clock.services_clock(clock):
        for index, (number, hours_ago, slot, note) in enumerate(PLATFORM_CALLBACKS):
            clock.at = now - timedelta(hours=hours_ago)
            start = end = None
            if slot is not None:
                day = now.astimezone(demo_clock.TZ).date() + timedelta(days=1)
                while not demo_clock.is_working_day(day):
                    day += timedelta(days=1)
                start, end = (datetime.combine(day, time(hour), demo_clock.TZ) for hour in slot)
            callbacks.request(
                callbacks.CallbackRequest(
                    source=CallbackSource.PLATFORM,
                    number=fictional_mobile(number),
                    note=note,
                    slot_start=start,
                    slot_end=end,
                    platform_ref=f"demo-queue-{index + 1}",
                ),
                by,
            )
    return len(PLATFORM_CALLBACKS)
