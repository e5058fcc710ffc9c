"""seed-demo: the demo municipality "Exempelby kommun", built through the services."""

import functools
from collections import Counter
from datetime import timedelta

import pytest
import sqlalchemy as sa
from werkzeug.security import generate_password_hash

from kontaktcenter.calendar import services as settings
from kontaktcenter.calendar.business_calendar import Unit
from kontaktcenter.calendar.models import CalendarException
from kontaktcenter.cases import actions as case_actions
from kontaktcenter.cases import services as case_service
from kontaktcenter.cases.enums import ActivityKind, CaseStatus, Channel, Outcome
from kontaktcenter.cases.models import Activity, Case, Contact
from kontaktcenter.channels.email import settings as mail_settings
from kontaktcenter.channels.email.models import MailKind, MailMessage, MailTemplate, RoutingRule
from kontaktcenter.core import extensions
from kontaktcenter.core.extensions import db, utcnow
from kontaktcenter.core.identifiers import normalise_phone
from kontaktcenter.core.roles import Role
from kontaktcenter.demo import seed as demo
from kontaktcenter.demo.case_types import CASE_TYPES
from kontaktcenter.demo.data import DEMO_MAILS, DEMO_PASSWORD, USERS
from kontaktcenter.goals.models import GoalTarget, ServiceGoal
from kontaktcenter.organisation import users
from kontaktcenter.organisation.models import CaseType, Department, User

DEPARTMENTS = {
    "Miljöförvaltningen",
    "Stadsbyggnadskontoret",
    "Barn- och utbildningsförvaltningen",
    "Socialförvaltningen",
    "Tekniska förvaltningen",
    "Kultur- och fritidsförvaltningen",
}
LOGINS = {
    "agent@exempelby.se": Role.AGENT,
    "handlaggare@exempelby.se": Role.HANDLER,
    "chef@exempelby.se": Role.MANAGER,
    "admin@exempelby.se": Role.ADMIN,
}
AUTHORITIES = {
    "Skatteverket",
    "Försäkringskassan",
    "Länsstyrelsen",
    "Polismyndigheten",
    "Trafikverket",
    "Kronofogden",
    "Lantmäteriet",
    "Region Exempellän (1177)",
}


@pytest.fixture(autouse=True)
def fast_hashing(monkeypatch):
    """Nine demo users with scrypt take seconds; the tests check logins, not hash strength."""
    cheap = functools.partial(generate_password_hash, method="pbkdf2:sha256:1000")
    monkeypatch.setattr(users, "generate_password_hash", cheap)


@pytest.fixture(autouse=True)
def outbox(app, tmp_path):
    """The demo e-mails get acknowledgements: written here, not to the instance folder."""
    app.config["OUTBOX_DIR"] = str(tmp_path / "outbox")
    yield tmp_path / "outbox"
    app.config["OUTBOX_DIR"] = None


@pytest.fixture
def seed(app, db_session):
    def run(*args: str):
        result = app.test_cli_runner().invoke(args=["seed-demo", *args])
        assert result.exit_code == 0, result.output
        return result.output

    return run


def _count(model, *where) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


def test_seed_demo_builds_the_municipality(seed):
    output = seed()  # the default: 300 cases
    assert set(db.session.scalars(sa.select(Department.name))) == DEPARTMENTS
    assert {d.slug for d in CASE_TYPES} == set(db.session.scalars(sa.select(CaseType.slug)))
    assert {
        "bygglov",
        "strandskydd",
        "miljotillsyn",
        "livsmedelskontroll",
        "serveringstillstand",
        "forskoleplats",
        "skolskjuts",
        "parkeringstillstand",
        "sophamtning",
        "felanmalan-gata-park",
        "aldreomsorg",
        "ekonomiskt-bistand",
        "bibliotek",
    } <= {d.slug for d in CASE_TYPES}
    for case_type in db.session.scalars(sa.select(CaseType)):
        assert case_type.guidance and case_type.direct_number_answered_by
        assert case_type.direct_number_hours
        assert normalise_phone(case_type.direct_number).startswith("+468465004")  # PTS fiction
    handler = db.session.scalars(
        sa.select(User).where(User.email == "handlaggare@exempelby.se")
    ).one()
    assert {d.name for d in handler.departments} == {"Stadsbyggnadskontoret", "Miljöförvaltningen"}
    assert _count(User) == len(USERS)
    assert _count(Case) == 300
    assert "300 cases created" in output
    assert f"password: {DEMO_PASSWORD}" in output
    for email in LOGINS:
        assert email in output
    # The services read the real clock again afterwards.
    assert case_service.utcnow is extensions.utcnow
    assert case_actions.utcnow is extensions.utcnow


def test_cases_have_a_realistic_mix(seed):
    seed()
    cases = db.session.scalars(sa.select(Case).order_by(Case.id)).all()
    outcomes = Counter(c.outcome for c in cases if c.outcome is not None)
    share = {o: outcomes[o] / sum(outcomes.values()) for o in Outcome}
    assert 0.37 <= share[Outcome.ANSWERED] <= 0.53
    assert 0.13 <= share[Outcome.HANDED_OFF] <= 0.27
    assert 0.09 <= share[Outcome.ROUTED] <= 0.21
    assert 0.09 <= share[Outcome.CALLBACK] <= 0.21
    assert 0.02 <= share[Outcome.REFERRED] <= 0.10
    assert {c.referred_to for c in cases if c.outcome == Outcome.REFERRED} <= AUTHORITIES
    channels = Counter(c.channel for c in cases)
    assert channels[Channel.PHONE] > len(cases) / 2
    assert channels[Channel.EMAIL] and channels[Channel.WEB] and channels[Channel.VISIT]

    # Open work in the department inboxes; cases closed by handlers; callback attempts.
    assert any(c.is_open and c.department_id is not None for c in cases)
    closers = db.session.scalars(
        sa.select(User.role)
        .join(Activity, Activity.actor_id == User.id)
        .where(Activity.kind == ActivityKind.CLOSED)
    ).all()
    assert Role.HANDLER in closers and Role.AGENT in closers
    assert _count(Activity, Activity.kind == ActivityKind.CALLBACK_ATTEMPT) > 0
    assert any(c.callback_done_at is not None for c in cases)
    # A few e-mails and web forms wait for an agent in the contact center's queue.
    waiting = [
        c
        for c in cases
        if c.channel in (Channel.EMAIL, Channel.WEB)
        and c.outcome is None
        and c.department_id is None
        and c.status == CaseStatus.NEW
    ]
    assert 3 <= len(waiting) <= 25


def test_cases_happened_in_the_past_four_weeks(seed):
    seed("--cases", "120")
    now = utcnow()
    cases = db.session.scalars(sa.select(Case).order_by(Case.id)).all()
    assert all(now - timedelta(days=29) < c.received_at < now for c in cases)
    assert [c.received_at for c in cases] == sorted(c.received_at for c in cases)
    assert all(c.received_at <= c.created_at <= now for c in cases)
    assert all(c.closed_at is None or c.received_at <= c.closed_at <= now for c in cases)
    # Each step is stamped when it happened, not when the seed ran.
    rows = db.session.execute(
        sa.select(Activity.case_id, Activity.created_at, Case.received_at)
        .join(Case)
        .order_by(Activity.case_id, Activity.id)
    ).all()
    last: dict[int, object] = {}
    for case_id, at, received in rows:
        assert received <= at <= now
        assert last.get(case_id, at) <= at
        last[case_id] = at
    closes = db.session.scalars(
        sa.select(Activity.created_at).where(Activity.kind == ActivityKind.CLOSED)
    ).all()
    assert min(closes) < now - timedelta(days=14)
    # Contacts are fictional: PTS's numbers for fiction, e-mail at example.se.
    for contact in db.session.scalars(sa.select(Contact)):
        if contact.phone_e164:
            assert contact.phone_e164.startswith("+467017406"), contact.phone
            assert 5 <= int(contact.phone_e164[-2:]) <= 99
        if contact.email:
            assert contact.email.endswith("@example.se")


def test_every_demo_login_works(seed, client, login):
    seed("--cases", "0")
    homes = {
        Role.AGENT: "/ko/",
        Role.HANDLER: "/inkorg/",
        Role.MANAGER: "/oversikt/",
        Role.ADMIN: "/ko/",
    }
    for email, role in LOGINS.items():
        user = users.authenticate(email, DEMO_PASSWORD)
        assert user is not None and user.role == role, email
        login(user, DEMO_PASSWORD)
        assert client.get("/").headers["Location"].endswith(homes[role])
        assert client.get(homes[role]).status_code == 200
    assert client.get("/admin/").status_code == 200  # logged in as the admin last
    for demo_user in USERS:  # the rest of the staff share the password
        assert users.authenticate(demo_user.email, DEMO_PASSWORD) is not None


def test_seed_demo_is_idempotent(seed):
    seed("--cases", "40")
    models = (Department, CaseType, User, Case, Contact, Activity)
    counts = [_count(m) for m in models]
    output = seed("--cases", "40")
    assert "0 departments, 0 case types, 0 users and 0 cases created" in output
    assert "40 demo cases were already there" in output
    assert [_count(m) for m in models] == counts


def test_seed_demo_refuses_a_database_with_real_users(app, org):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["seed-demo", "--cases", "5"])
    assert result.exit_code == 1
    assert "not demo users" in result.output and "--force" in result.output
    assert _count(Case) == 0 and _count(Department) == 2
    # --force seeds alongside them; departments and case types are reused, not duplicated.
    result = runner.invoke(args=["seed-demo", "--cases", "5", "--force"])
    assert result.exit_code == 0, result.output
    assert _count(Department, Department.name == "Miljöförvaltningen") == 1
    assert _count(Department) == 6
    assert _count(CaseType, CaseType.slug == "bygglov") == 1
    assert _count(Case) == 5


def test_plans_are_deterministic(db_session):
    demo.seed_demo(case_count=0)  # the organisation and the staff only
    staff = {u.email: u for u in db.session.scalars(sa.select(User))}
    by_slug = {t.slug: t for t in db.session.scalars(sa.select(CaseType))}
    case_types = [(by_slug[d.slug], d) for d in CASE_TYPES]
    now = utcnow()

    def plans():
        builder = demo._Builder(now, case_types, staff)
        return [
            (p.received_at, p.channel, p.outcome, p.later, p.summary, p.agent.email, p.draws)
            for p in (builder._plan() for _ in range(60))
        ]

    assert plans() == plans()


def test_seed_demo_with_real_commits(app, committed_db):
    """Outside the test transaction, as the command runs: SQLite's fsync setting is restored."""

    def synchronous() -> int | None:
        if db.engine.dialect.name != "sqlite":
            return None
        with db.engine.connect() as connection:
            return connection.exec_driver_sql("PRAGMA synchronous").scalar()

    before = synchronous()
    result = app.test_cli_runner().invoke(args=["seed-demo", "--cases", "30"])
    assert result.exit_code == 0, result.output
    db.session.remove()
    assert _count(Case) == 30
    assert synchronous() == before


def test_seed_demo_configures_hours_goals_templates_and_routing(seed):
    seed("--cases", "40")
    texts, configured = settings.weekly_hours()
    assert configured and [texts[wd] for wd in range(7)] == ["08:00-17:00"] * 5 + ["", ""]
    active = {
        (g.target, g.channel, g.case_type.slug if g.case_type else None): (g.amount, g.unit)
        for g in db.session.scalars(sa.select(ServiceGoal).where(ServiceGoal.active.is_(True)))
    }
    assert active == {
        (GoalTarget.FIRST_RESPONSE, Channel.EMAIL, None): (2, Unit.WORKING_DAYS),
        (GoalTarget.CALLBACK, None, None): (24, Unit.WORKING_DAY_HOURS),
        (GoalTarget.RESOLUTION, None, None): (10, Unit.WORKING_DAYS),
        (GoalTarget.RESOLUTION, None, "bygglov"): (20, Unit.WORKING_DAYS),
        (GoalTarget.RESOLUTION, None, "felanmalan-gata-park"): (5, Unit.WORKING_DAYS),
        (GoalTarget.SECOND_LINE, None, None): (16, Unit.OPENING_HOURS),
    }
    # A closure or shortened day in the coming weeks, which agents see in the queue.
    special = db.session.scalars(sa.select(CalendarException)).one()
    today = settings.today()
    assert today + timedelta(days=7) <= special.day <= today + timedelta(days=42)
    assert special.windows in ([], ["08:00-12:00"]) and special.reason
    keys = set(db.session.scalars(sa.select(MailTemplate.key)))
    assert "acknowledgement" in keys and len([k for k in keys if k.startswith("answer-")]) >= 2
    rules = [(r.kind.value, r.pattern, r.to_department) for r in mail_settings.list_rules()]
    assert rules == [("recipient", "bygglov@exempelby.se", True), ("subject", "felanmälan", False)]
    # Demo cases were created after the goals: they carry them.
    cases = db.session.scalars(sa.select(Case)).all()
    assert all(any(g.target == GoalTarget.RESOLUTION for g in c.goals) for c in cases)


def test_seed_demo_files_real_e_mails_through_the_intake(seed, outbox):
    seed("--cases", "40")
    assert _count(Case) == 40
    messages = db.session.scalars(
        sa.select(MailMessage).where(MailMessage.message_id.like("<demo-%"))
    ).all()
    by_key = {m.message_id.split("@")[0].removeprefix("<demo-"): m for m in messages}
    first = by_key["sophamtning"]
    assert first.case is not None and first.case.channel == Channel.EMAIL
    assert first.case.status == CaseStatus.NEW and first.case.department_id is None
    assert by_key["sophamtning-svar"].case_id == first.case_id  # the reply joined its case
    html = by_key["gatubelysning"]
    assert html.html_body and "Storgatan" in html.html_body
    assert html.case.case_type.slug == "felanmalan-gata-park" and html.case.department_id is None
    routed = by_key["komplettering"]
    assert [a.filename for a in routed.attachments] == ["situationsplan.pdf"]
    assert routed.case.department.name == "Stadsbyggnadskontoret"
    assert by_key["franvaro"].case_id is None and by_key["franvaro"].status.value == "rejected"
    # The e-mail cases are the newest, waiting in the queue with their goals and a receipt.
    newest = db.session.scalars(sa.select(Case).order_by(Case.received_at.desc())).first()
    assert newest.channel == Channel.EMAIL and newest.messages
    first_response = next(g for g in first.case.goals if g.target == GoalTarget.FIRST_RESPONSE)
    assert first_response.definition["amount"] == 2
    acks = db.session.scalars(
        sa.select(MailMessage).where(MailMessage.kind == MailKind.ACKNOWLEDGEMENT)
    ).all()
    assert len(acks) == 4 and "Exempelby kommun" in acks[0].text_body
    assert len(list(outbox.glob("*.eml"))) == 4
    # A second run files nothing and adds no configuration.
    models = (Case, MailMessage, ServiceGoal, CalendarException, MailTemplate, RoutingRule)
    counts = [_count(m) for m in models]
    output = seed("--cases", "40")
    assert "40 demo cases were already there" in output
    assert [_count(m) for m in models] == counts


def test_seed_demo_sends_no_mail_over_smtp(seed, app, outbox):
    app.config["SMTP_URL"] = "smtp://mail.exempelby.example:587"
    try:
        seed("--cases", "40")
    finally:
        app.config["SMTP_URL"] = None
    assert _count(MailMessage, MailMessage.message_id.like("<demo-%")) == len(DEMO_MAILS)
    assert _count(MailMessage, MailMessage.kind == MailKind.ACKNOWLEDGEMENT) == 0
    assert app.config.get("ACK_LIMIT_PER_HOUR", 3) == 3


@pytest.mark.parametrize("local", ["07:40", "08:45", "09:30", "11:00", "16:40", "22:00"])
def test_references_follow_the_times_received_at_any_hour(app, db_session, local, monkeypatch):
    """The phone platform's callbacks are made after the simulated cases (booked 1-3 hours
    before the seed runs): every simulated case is received before them, at any time of day
    (a Monday: today's calls begin at the opening). The demo e-mails, filed last, take the
    real clock's time: left out here, where the seed runs at another time of day."""
    from datetime import date, datetime, time

    from kontaktcenter.demo import clock as demo_clock
    from kontaktcenter.demo import config as demo_config

    monkeypatch.setattr(demo_config, "ingest_mails", lambda now: 0)
    now = datetime.combine(date(2026, 12, 7), time.fromisoformat(local), demo_clock.TZ)
    demo.seed_demo(120, now=now)
    received = db.session.scalars(sa.select(Case.received_at).order_by(Case.id)).all()
    assert len(received) == 120 - demo_config.MAIL_CASES
    assert received == sorted(received)
    assert all(r < now for r in received)
