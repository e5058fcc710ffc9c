"""Demo data for "Exempelby kommun", built through the services so that it is consistent.

Everything goes through the same use-cases as real work: :func:`services.admin` creates the
departments and case types, :func:`services.users.create_user` the staff, and
:func:`services.cases.create_case` plus :mod:`services.case_actions` the cases and what happens
to them afterwards. The services stamp "now" on what they record; while seeding, a simulated
clock makes that the moment each step happened in the past (a call four weeks ago was also
closed four weeks ago). A fixed random seed makes the cases the same on every run: the same
callers, questions and outcomes, at the same places relative to the day the seed runs.

The configuration (:mod:`services.demo_config`: opening hours, service goals, templates,
routing) comes first, so the cases carry their goals; the newest cases are e-mails filed through
the real intake.

Idempotent: departments, case types, users and configuration are matched and only the missing
ones are created; cases are only added when no demo agent (or demo e-mail) has made any.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa

from kontaktcenter.callbacks import closing as callback_closing
from kontaktcenter.callbacks import services as callbacks
from kontaktcenter.cases import actions as case_actions
from kontaktcenter.cases import services as case_service
from kontaktcenter.cases.contacts import ContactData
from kontaktcenter.cases.enums import CallbackResult, Channel, ContactKind, Outcome, TransferKind
from kontaktcenter.cases.models import Case
from kontaktcenter.core.extensions import db, utcnow
from kontaktcenter.core.roles import Role
from kontaktcenter.demo import clock as demo_clock
from kontaktcenter.demo import config as demo_config
from kontaktcenter.demo import phone as demo_phone
from kontaktcenter.demo.case_types import CASE_TYPES, DemoCaseType
from kontaktcenter.demo.clock import CLOSES, OPENS, TZ
from kontaktcenter.demo.data import (
    BUSINESSES,
    CALLBACK_NOTES,
    DEMO_PASSWORD,
    DEPARTMENTS,
    FIRST_NAMES,
    GENERAL_QUESTIONS,
    LAST_NAMES,
    REFERRALS,
    USERS,
    DemoUser,
    fictional_mobile,
)
from kontaktcenter.organisation import services as admin
from kontaktcenter.organisation import users
from kontaktcenter.organisation.models import CaseType, Department, User
from kontaktcenter.organisation.services import CaseTypeData, DepartmentData

SEED = 2024
DAYS = 28
WAITING_EMAILS = 3
MAIL_MIN_CASES = 20  # smaller seeds (tests) get simulated cases only
CHANNELS = {Channel.PHONE: 78, Channel.EMAIL: 14, Channel.WEB: 5, Channel.VISIT: 3}
# How the first line ends a call (DOMAIN.md §5: lösningsgrad around 40–65 %).
OUTCOMES = {
    Outcome.ANSWERED: 45,
    Outcome.HANDED_OFF: 20,
    Outcome.ROUTED: 15,
    Outcome.CALLBACK: 15,
    Outcome.REFERRED: 5,
}

__all__ = ["DEMO_PASSWORD", "SeedResult", "demo_logins", "other_users_exist", "seed_demo"]


@dataclass
class SeedResult:
    departments: int = 0  # created by this run
    case_types: int = 0
    users: int = 0
    cases: int = 0
    existing_cases: int = 0  # demo cases already present (nothing added)


def demo_logins() -> list[DemoUser]:
    """Every demo user, the documented login per role first. They share DEMO_PASSWORD."""
    return sorted(USERS, key=lambda u: not u.documented)


def other_users_exist() -> bool:
    """True when the database has users that are not demo users (a real installation?)."""
    emails = [u.email for u in USERS]
    query = sa.select(User.id).where(User.email.not_in(emails)).limit(1)
    return db.session.scalars(query).first() is not None


def seed_demo(case_count: int = 300, now: datetime | None = None) -> SeedResult:
    """Create what is missing of the demo municipality; cases spread over the DAYS before `now`.

    Each service commits its own step. On SQLite the commits skip fsync while seeding.
    """
    now = now or utcnow()
    result = SeedResult()
    departments = _ensure_departments(result)
    case_types = _ensure_case_types(departments, result)
    staff = _ensure_users(departments, result)
    demo_config.configure(now)  # before the cases: they get their service goals when created
    demo_phone.configure()
    result.existing_cases = (
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(Case)
            .where(Case.created_by_id.in_([u.id for u in staff.values() if u.role == Role.AGENT]))
        )
        or 0
    ) + demo_config.existing_mail_cases()
    if result.existing_cases == 0 and case_count > 0:
        mails = demo_config.MAIL_CASES if case_count >= MAIL_MIN_CASES else 0
        queued = len(demo_phone.PLATFORM_CALLBACKS) if case_count >= MAIL_MIN_CASES else 0
        # The phone platform's callbacks are created after the simulated cases: those are
        # received before the first of them, so the references follow the times received.
        received_before = (
            now - timedelta(hours=max(c[1] for c in demo_phone.PLATFORM_CALLBACKS))
            if queued
            else None
        )
        with demo_clock.without_fsync():
            builder = _Builder(now, case_types, staff, received_before)
            result.cases = builder.build(case_count - mails - queued)
            if queued:  # booked by the phone platform's queue: waiting in the worklist
                agent = next(u for u in staff.values() if u.role == Role.AGENT)
                result.cases += demo_phone.platform_callbacks(now, agent)
            if mails:  # the newest cases: received after every simulated one
                result.cases += demo_config.ingest_mails(now)
    return result


# --- organisation and staff ---------------------------------------------------------------------


def _ensure_departments(result: SeedResult) -> dict[str, Department]:
    found: dict[str, Department] = {}
    for demo in DEPARTMENTS:
        slug = admin.slugify(demo.name)
        dept = db.session.scalars(
            sa.select(Department).where(
                sa.or_(Department.slug == slug, Department.name == demo.name)
            )
        ).first()
        if dept is None:
            dept = admin.create_department(
                DepartmentData(demo.name, slug, demo.email, demo.phone_hours)
            )
            result.departments += 1
        found[demo.name] = dept
    return found


def _ensure_case_types(
    departments: dict[str, Department], result: SeedResult
) -> list[tuple[CaseType, DemoCaseType]]:
    found = []
    for demo in CASE_TYPES:
        case_type = db.session.scalars(
            sa.select(CaseType).where(CaseType.slug == demo.slug)
        ).first()
        if case_type is None:
            department = departments[demo.department]
            case_type = admin.create_case_type(
                CaseTypeData(
                    name=demo.name,
                    department=department,
                    slug=demo.slug,
                    direct_number=demo.number,
                    direct_number_answered_by=demo.answered_by,
                    direct_number_hours=demo.hours,
                    guidance=demo.guidance,
                    callback_promise_hours=demo.promise_hours,
                    active=department.active,
                )
            )
            result.case_types += 1
        found.append((case_type, demo))
    return found


def _ensure_users(departments: dict[str, Department], result: SeedResult) -> dict[str, User]:
    found = {}
    for demo in USERS:
        user = db.session.scalars(sa.select(User).where(User.email == demo.email)).first()
        if user is None:
            user = users.create_user(
                demo.email,
                demo.name,
                demo.role,
                DEMO_PASSWORD,
                [departments[name] for name in demo.departments],
            )
            result.users += 1
        found[demo.email] = user
    return found


# --- cases --------------------------------------------------------------------------------------


@dataclass
class _Plan:
    received_at: datetime
    channel: Channel
    demo: DemoCaseType | None
    case_type: CaseType | None
    outcome: Outcome | None  # at registration (None: e-mail and web wait in the queue)
    later: Outcome | None  # e-mail and web: what the agent does when handling it
    summary: str
    contact: ContactData | None
    agent: User
    handler: User | None
    referred_to: str | None = None
    callback_note: str | None = None
    transfer: TransferKind = TransferKind.WARM
    draws: list[float] = field(default_factory=list)  # pre-drawn, so the run is deterministic


class _Builder:
    def __init__(
        self,
        now: datetime,
        case_types: list[tuple[CaseType, DemoCaseType]],
        staff: dict[str, User],
        received_before: datetime | None = None,
    ) -> None:
        self.now = now
        self.received_before = received_before or now - timedelta(minutes=20)
        self.rng = random.Random(SEED)
        self.case_types = [(ct, demo) for ct, demo in case_types if ct.active]
        self.agents = [u for u in staff.values() if u.role == Role.AGENT]
        self.handlers = [u for u in staff.values() if u.role == Role.HANDLER]
        self.contacts = self._contacts()
        self.clock = demo_clock.SimulatedClock()
        self.days = [  # today only if it opened a while before the last case may come in
            day
            for day in demo_clock.working_days(now, DAYS)
            if datetime.combine(day, OPENS, TZ) + timedelta(minutes=10) < self.received_before
        ]

    def build(self, count: int) -> int:
        plans = sorted((self._plan() for _ in range(count)), key=lambda p: p.received_at)
        # Whatever the time of day, the newest e-mails still wait for an agent in the queue.
        for plan in [p for p in plans if p.later is not None][-WAITING_EMAILS:]:
            plan.later = None
        with demo_clock.services_clock(self.clock):
            for plan in plans:
                self._run(plan)
        return len(plans)

    # Planning: every random draw happens here, in a fixed order.

    def _contacts(self) -> list[ContactData]:
        rng = random.Random(SEED + 1)
        people = []
        for index in range(80):
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            email = f"{admin.slugify(first)}.{admin.slugify(last)}{index}@example.se"
            people.append(
                ContactData(
                    name=f"{first} {last}",
                    phone=fictional_mobile(index) if index < 70 else None,
                    email=email if index % 3 == 0 or index >= 70 else None,
                )
            )
        for index, name in enumerate(BUSINESSES):
            people.append(
                ContactData(
                    name=name, phone=fictional_mobile(80 + index), kind=ContactKind.BUSINESS
                )
            )
        return people

    def _pick_case_type(self) -> tuple[CaseType, DemoCaseType]:
        return self.rng.choices(self.case_types, [d.weight for _ct, d in self.case_types])[0]

    def _plan(self) -> _Plan:
        rng = self.rng
        channel = rng.choices(list(CHANNELS), list(CHANNELS.values()))[0]
        outcome = rng.choices(list(OUTCOMES), list(OUTCOMES.values()))[0]
        written = channel in (Channel.EMAIL, Channel.WEB)
        if written and outcome == Outcome.HANDED_OFF:
            outcome = Outcome.ANSWERED  # an e-mail is not transferred to a phone line
        case_type: CaseType | None
        demo: DemoCaseType | None
        case_type, demo = self._pick_case_type()
        referred_to = None
        if outcome == Outcome.REFERRED:
            summary, referred_to = rng.choice(REFERRALS)
            case_type, demo = None, None
        elif outcome == Outcome.ANSWERED and rng.random() < 0.15:
            summary = rng.choice(GENERAL_QUESTIONS)
            case_type, demo = None, None
        elif outcome == Outcome.ANSWERED:
            summary = rng.choice(demo.questions)
        else:
            summary = rng.choice(demo.escalations)
        contact_roll = rng.random()
        contact = None if contact_roll < 0.08 and not written else rng.choice(self.contacts)
        if written and contact is not None and not contact.email:
            contact = ContactData(name=contact.name, email=_email_for(contact.name))
        department = case_type.department_id if case_type else None
        handlers = [h for h in self.handlers if department in h.department_ids]
        plan = _Plan(
            received_at=self._received_at(written),
            channel=channel,
            demo=demo,
            case_type=case_type,
            outcome=None if written else outcome,
            later=outcome if written else None,
            summary=summary,
            contact=contact,
            agent=rng.choice(self.agents),
            handler=rng.choice(handlers) if handlers else None,
            referred_to=referred_to,
            callback_note=rng.choice(CALLBACK_NOTES),
            transfer=TransferKind.WARM if rng.random() < 0.6 else TransferKind.COLD,
        )
        plan.draws = [rng.random() for _ in range(9)]
        return plan

    def _received_at(self, written: bool) -> datetime:
        """Calls come in opening hours on working days, most in the morning; e-mail any time."""
        rng = self.rng
        if written:
            back = rng.random() * DAYS * 24 * 3600
            return min(self.now - timedelta(seconds=back), self.received_before)
        day = self.days[int(rng.random() * len(self.days))]  # same draws whatever the date
        fraction = rng.betavariate(2.0, 3.0)  # a morning peak
        start = datetime.combine(day, OPENS, TZ)
        end = min(datetime.combine(day, CLOSES, TZ), self.received_before)
        return start + (end - start) * fraction

    # Running: replay each case's life through the services at its simulated times.

    def _at(self, moment: datetime) -> bool:
        """Move the clock; False if that moment has not happened yet (the step is skipped)."""
        if moment > self.now - timedelta(minutes=5):
            return False
        self.clock.at = moment
        return True

    def _run(self, plan: _Plan) -> None:
        d = plan.draws
        duration = timedelta(minutes=2 + 6 * d[0]) if plan.outcome else timedelta(seconds=30)
        self._at(min(plan.received_at + duration, self.now - timedelta(minutes=5)))
        case = case_service.create_case(
            case_service.NewCase(
                channel=plan.channel,
                summary=plan.summary,
                case_type=plan.case_type,
                outcome=plan.outcome,
                contact=plan.contact,
                received_at=plan.received_at,
                transfer=plan.transfer,
                referred_to=plan.referred_to,
                callback_note=plan.callback_note,
            ),
            by=plan.agent,
        )
        if plan.later is not None:
            self._handle_written(case, plan)
        if case.department_id is not None and case.is_open and plan.handler is not None:
            self._second_line(case, plan)

    def _handle_written(self, case: Case, plan: _Plan) -> None:
        """An agent picks the e-mail up from the queue within about a working day."""
        d = plan.draws
        if not self._at(demo_clock.later(plan.received_at, 0.2 + 10 * d[1])):
            return  # still waiting in the contact center's queue
        agent, demo = plan.agent, plan.demo
        if plan.later == Outcome.ANSWERED:
            case_actions.close(case, agent, "Besvarat per e-post.")
        elif plan.later == Outcome.REFERRED:
            case_actions.refer(case, agent, plan.referred_to or "Skatteverket")
        elif plan.later == Outcome.CALLBACK:
            case_actions.book_callback(case, agent, note=plan.callback_note)
            if self._at(demo_clock.later(self.clock.at, 0.5 + 5 * d[2])):
                pending = callbacks.open_callback(case)
                assert pending is not None
                callback_closing.record_attempt(pending, agent, CallbackResult.REACHED)
                case_actions.close(case, agent, "Ringde upp och svarade på frågan.")
        elif demo is not None:
            department = case.case_type.department if case.case_type else None
            if department is not None:
                case_actions.route(case, agent, department, "Se e-postmeddelandet.")

    def _second_line(self, case: Case, plan: _Plan) -> None:
        """The department's handler takes the case, calls back if promised, and closes it."""
        d, handler = plan.draws, plan.handler
        assert handler is not None and plan.demo is not None
        callback = case.callback_pending  # promised within a day: taken first
        if not self._at(demo_clock.later(self.clock.at, 0.3 + (5 if callback else 20) * d[3])):
            return  # still new in the department's inbox
        case_actions.assign(case, handler, handler)
        if callback:
            self._at(self.clock.at + timedelta(minutes=1 + 9 * d[8]))
            pending = callbacks.open_callback(case)
            assert pending is not None
            if d[4] < 0.35:  # the first try fails
                result = CallbackResult.NO_ANSWER if d[4] < 0.25 else CallbackResult.LEFT_MESSAGE
                callback_closing.record_attempt(pending, handler, result)
                if not self._at(demo_clock.later(self.clock.at, 1 + 8 * d[5])):
                    return
            callback_closing.record_attempt(pending, handler, CallbackResult.REACHED)
        # Work in progress is recent: older cases have been finished.
        if self.now - plan.received_at < timedelta(days=10) and d[6] < 0.4:
            if d[6] < 0.15:
                case_actions.set_waiting(case, handler, True, "Väntar på kompletterande uppgifter.")
            return  # waiting on the citizen, or still being worked on
        if self._at(demo_clock.later(self.clock.at, 0.2 + 30 * d[7])):
            resolution = plan.demo.resolutions[int(d[7] * len(plan.demo.resolutions))]
            case_actions.close(case, handler, resolution)


def _email_for(name: str | None) -> str:
    return f"{admin.slugify(name or 'medborgare').replace('-', '.')}@example.se"
