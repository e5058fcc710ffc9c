"""Generate a benchmark dataset: a municipality's organisation and N cases, bulk-loaded with COPY.

    .venv/bin/python -m bench.generate \\
        --database-url postgresql://postgres@127.0.0.1:5432/kontaktcenter_bench \\
        --cases 1000000 --recreate

The schema comes from the Alembic migrations, as in production. The organisation, the staff and
the service-goal definitions go through the ORM; contacts, cases, timelines and case goals are
written with PostgreSQL COPY, because the case services take milliseconds per case and a million
cases would take hours. The rows follow the services (``services/cases.py``,
``services/case_actions.py``, ``services/goals.py``): a call that was answered, handed off or
referred is closed at once; routed cases and callbacks belong to the case type's department;
each goal's due time is computed by the app's own goal engine and business calendar; the sweep's
"breached" / "at risk" marks are set as the minutely sweep would have set them; references are
``KC-YYYY-NNNNNN`` per year in creation order and ``case_sequences`` ends where they end.

While loading, the secondary indexes, foreign keys and unique constraints of the big tables are
dropped and rebuilt from their own definitions (``pg_get_indexdef`` / ``pg_get_constraintdef``)
in the same transaction: rebuilding checks every foreign key and every reference's uniqueness in
one pass, much faster than row by row. Case rows are built by ``--workers`` processes.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import multiprocessing
import os
import random
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from sqlalchemy.engine import make_url

TZ = ZoneInfo("Europe/Stockholm")
BENCH_PASSWORD = "bench-losenord-2026"
SECRET_KEY = "bench-only-secret-key-not-for-production-0123456789"
AGENTS = 40
HANDLERS_PER_DEPARTMENT = 4
BIG_TABLES = ("contacts", "cases", "activities", "case_goals")


def agent_email(n: int) -> str:
    return f"agent{n:02d}@kommun.example"


def handler_email(department_slug: str, n: int) -> str:
    return f"handler-{department_slug}-{n}@kommun.example"


# fmt: off
# (slug, name, [(slug, name, direct number or None, callback promise hours, summaries)])
ORGANISATION: list[tuple[str, str, list[tuple[str, str, str | None, int, tuple[str, ...]]]]] = [
    ("stadsbyggnad", "Stadsbyggnadskontoret", [
        ("bygglov", "Bygglov", "08-123 456 10", 24,
         ("Fråga om bygglov för altan", "Undrar hur lång handläggningstiden är för bygglov",
          "Vill komplettera sin bygglovsansökan", "Fråga om attefallshus på tomten")),
        ("strandskydd", "Strandskydd", None, 48,
         ("Fråga om strandskyddsdispens för brygga", "Undrar om strandskydd gäller vid sjön")),
        ("detaljplan", "Detaljplaner", "08-123 456 11", 48,
         ("Vill lämna synpunkter på detaljplan", "Fråga om vad detaljplanen tillåter")),
        ("nybyggnadskarta", "Nybyggnadskarta", "08-123 456 12", 72,
         ("Beställning av nybyggnadskarta", "Fråga om pris för nybyggnadskarta")),
    ]),
    ("miljo", "Miljöförvaltningen", [
        ("miljotillsyn", "Miljötillsyn", "08-555 000 11", 24,
         ("Klagomål på nedskräpning på granntomten", "Anmälan om oljeutsläpp i dike")),
        ("livsmedel", "Livsmedelskontroll", "08-555 000 12", 24,
         ("Misstänkt matförgiftning efter restaurangbesök",
          "Vill registrera livsmedelsverksamhet")),
        ("buller", "Buller och störningar", None, 48,
         ("Klagomål på buller från fläkt", "Störande musik från lokal på kvällarna")),
        ("avlopp", "Enskilda avlopp", "08-555 000 13", 72,
         ("Fråga om tillstånd för enskilt avlopp", "Undrar när slamtömning sker")),
    ]),
    ("social", "Socialförvaltningen", [
        ("bistand", "Ekonomiskt bistånd", "08-600 100 20", 24,
         ("Vill ansöka om ekonomiskt bistånd", "Fråga om utbetalningsdag för försörjningsstöd")),
        ("orosanmalan", "Orosanmälan barn", "08-600 100 21", 4,
         ("Orosanmälan gällande barn i grannlägenhet", "Lärare vill göra en orosanmälan")),
        ("beroende", "Missbruk och beroende", None, 24,
         ("Anhörig söker stöd kring missbruk", "Vill komma i kontakt med beroendeenheten")),
        ("familjeratt", "Familjerätt", "08-600 100 22", 48,
         ("Fråga om samarbetssamtal", "Vill ha hjälp med avtal om vårdnad")),
    ]),
    ("utbildning", "Utbildningsförvaltningen", [
        ("forskola", "Förskoleplats", "08-700 200 30", 48,
         ("Fråga om plats i förskola", "Vill byta förskola", "Undrar var i kön barnet står")),
        ("skolskjuts", "Skolskjuts", "08-700 200 31", 24,
         ("Skolskjutsen kom inte i morse", "Ansökan om skolskjuts")),
        ("skolval", "Skolval grundskola", None, 72, ("Fråga om skolval inför höstterminen",)),
        ("vuxenutbildning", "Vuxenutbildning", "08-700 200 32", 72,
         ("Fråga om SFI-kurser", "Vill söka till komvux")),
    ]),
    ("teknik", "Tekniska förvaltningen", [
        ("felanmalan", "Felanmälan gata och park", "08-800 300 40", 8,
         ("Trasig gatubelysning", "Stort hål i vägen", "Nedfallet träd på gångväg")),
        ("snorojning", "Snöröjning", None, 8, ("Gatan är inte plogad", "Snövall blockerar infart")),
        ("avfall", "Avfall och återvinning", "08-800 300 41", 24,
         ("Soporna har inte hämtats", "Vill byta storlek på sopkärl")),
        ("parkering", "Parkeringstillstånd", "08-800 300 42", 72,
         ("Ansökan om parkeringstillstånd för rörelsehindrad", "Fråga om boendeparkering")),
    ]),
    ("kultur", "Kultur- och fritidsförvaltningen", [
        ("lokaler", "Bokning av lokaler", "08-900 400 50", 48,
         ("Vill boka idrottshall", "Fråga om hyra av samlingslokal")),
        ("foreningsbidrag", "Föreningsbidrag", None, 72, ("Fråga om bidrag till förening",)),
        ("bibliotek", "Bibliotek", "08-900 400 51", 48, ("Fråga om öppettider på biblioteket",)),
    ]),
    ("aldre", "Äldreförvaltningen", [
        ("hemtjanst", "Hemtjänst", "08-950 500 60", 24,
         ("Vill ansöka om hemtjänst för sin mamma", "Klagomål på hemtjänstens tider")),
        ("sarskilt-boende", "Särskilt boende", "08-950 500 61", 48,
         ("Fråga om kö till särskilt boende",)),
        ("fardtjanst", "Färdtjänst", "08-950 500 62", 24,
         ("Fråga om färdtjänsttillstånd", "Färdtjänsten kom inte")),
    ]),
    ("overformyndare", "Överförmyndarförvaltningen", [
        ("godman", "God man", "08-990 600 70", 72,
         ("Vill bli god man", "Fråga om årsräkning för god man")),
    ]),
]
# Service goals a municipality typically configures (services/goals.py finds the best match).
# Callbacks keep the default: the case type's promise in working-day hours.
SERVICE_GOALS = (
    ("first_response", None, 2, "working_days"),  # "vi svarar inom två arbetsdagar"
    ("second_line", None, 2, "working_days"),  # the department takes the case within two days
)
FIRST_NAMES = [
    "Anna", "Erik", "Maria", "Lars", "Karin", "Anders", "Eva", "Johan", "Lena", "Per", "Kerstin",
    "Mikael", "Sara", "Fredrik", "Emma", "Hans", "Ingrid", "Jonas", "Elin", "Oskar", "Fatima",
    "Ali", "Leila", "Ahmed", "Noah", "Alice", "Hugo", "Maja", "Sofia", "Nils",
]
LAST_NAMES = [
    "Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson", "Olsson", "Persson",
    "Svensson", "Gustafsson", "Pettersson", "Jonsson", "Jansson", "Hansson", "Bengtsson",
    "Lindberg", "Lindström", "Lindqvist", "Mohammed", "Ali", "Berg", "Axelsson", "Hassan",
    "Lundberg", "Holm", "Sandberg", "Forsberg", "Sjöberg", "Wallin", "Engström",
]
AUTHORITIES = (
    "Skatteverket", "Försäkringskassan", "Länsstyrelsen", "Polisen", "Transportstyrelsen",
    "Arbetsförmedlingen", "CSN", "Region Stockholm",
)
# fmt: on
NOTES = (
    "Uppringaren vill helst bli kontaktad på förmiddagen.",
    "Har ringt om samma sak tidigare.",
    "Behöver tolk (arabiska).",
    "Uppringaren var upprörd men lugnade sig.",
)
RESOLUTIONS = (
    "Besvarat per e-post.",
    "Handläggaren har ringt upp och svarat.",
    "Beslut skickat.",
    "Ärendet åtgärdat på plats.",
    "Medborgaren har fått information och är nöjd.",
)
CALLBACK_NOTES = ("Efter kl 13", "Helst på förmiddagen", "Gäller ansökan", None)
# First-line outcomes of a phone call or a visit (services.cases._apply_outcome) and their shares.
PHONE_OUTCOMES = (
    ("answered", 0.58),
    ("handed_off", 0.15),
    ("routed", 0.13),
    ("callback", 0.08),
    ("referred", 0.06),
)
CLOSING_OUTCOMES = ("answered", "handed_off", "referred")
CHANNELS = (("phone", 0.75), ("email", 0.20), ("web", 0.03), ("visit", 0.02))
OPEN_STATUS_SHARES = (("new", 0.45), ("open", 0.40), ("waiting", 0.15))
# Relative chance that a case still in progress has not been closed yet, by age in days:
# most open cases are recent, a tail of old ones stays open for months.
AGE_WEIGHTS = ((7, 30.0), (30, 8.0), (180, 2.0), (math.inf, 1.0))
SWEEP_SECONDS = 60  # the goal sweep's interval (jobs/periodic.py)

CASE_COLUMNS = (
    "id, reference, channel, status, outcome, case_type_id, department_id, assignee_id, "
    "contact_id, created_by_id, summary, resolution, referred_to, received_at, created_at, "
    "updated_at, first_response_at, closed_at, due_at, at_risk_at, callback_due_at, "
    "callback_done_at, version"
)
ACTIVITY_COLUMNS = "case_id, kind, actor_id, created_at, text, data"
GOAL_COLUMNS = (
    "case_id, target, definition, started_at, due_at, at_risk_at, met_at, cancelled_at, "
    "breached_at, at_risk_flagged_at, alerts_sent, business_minutes, calendar_minutes"
)


@dataclass(frozen=True)
class CaseTypeInfo:
    id: int
    department_id: int
    department: str
    direct_number: str | None
    answered_by: str
    summaries: tuple[str, ...]


@dataclass
class Org:
    case_types: list[CaseTypeInfo]
    agents: list[tuple[int, str]]  # (id, name)
    handlers: dict[int, list[tuple[int, str]]]  # department id -> handlers
    # (target, channel, case type id or None) -> the definition goals.find_definition returns
    definitions: dict[tuple[str, str, int | None], dict[str, Any] | None] = field(
        default_factory=dict
    )


# ---------------------------------------------------------------- database, schema, organisation


def libpq_url(url: str) -> str:
    """``postgresql+psycopg://`` (SQLAlchemy) -> ``postgresql://`` (libpq)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def recreate_database(url: str) -> None:
    parsed = make_url(url)
    name = parsed.database or ""
    if "bench" not in name:
        raise SystemExit(f"--recreate only drops databases with 'bench' in the name, not {name!r}")
    admin = libpq_url(parsed.set(database="postgres").render_as_string(hide_password=False))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def create_app_for(url: str):
    from kontaktcenter import create_app
    from kontaktcenter.core.config import normalise_database_url

    return create_app(
        overrides={
            "SQLALCHEMY_DATABASE_URI": normalise_database_url(libpq_url(url)),
            "SECRET_KEY": SECRET_KEY,
            "SCHEDULER_ENABLED": False,
        }
    )


def migrate_and_create_org(url: str) -> Org:
    """Schema by the Alembic migrations, then departments, case types, staff and service goals."""
    from flask_migrate import upgrade
    from werkzeug.security import generate_password_hash

    import kontaktcenter
    from kontaktcenter.cases.enums import Channel
    from kontaktcenter.cases.models import Case
    from kontaktcenter.core.extensions import db
    from kontaktcenter.core.roles import Role
    from kontaktcenter.goals import engine as goals
    from kontaktcenter.goals.models import GoalTarget, ServiceGoal
    from kontaktcenter.organisation.models import CaseType, Department, User

    app = create_app_for(url)
    with app.app_context():
        upgrade(directory=str(Path(kontaktcenter.__file__).resolve().parent.parent / "migrations"))
        if db.session.query(Case.id).first() is not None:
            raise SystemExit("The database already has cases: use --recreate (or another name).")
        password_hash = generate_password_hash(BENCH_PASSWORD)  # one hash, every user
        rng = random.Random(1)

        def person() -> str:
            return f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"

        handlers: list[tuple[Department, list[User]]] = []
        types: list[tuple[CaseType, tuple[str, ...]]] = []
        for slug, name, case_types in ORGANISATION:
            dept = Department(
                slug=slug,
                name=name,
                contact_email=f"{slug}@kommun.example",
                phone_hours="Mån–fre 9–12",
            )
            for ct_slug, ct_name, number, hours, summaries in case_types:
                ct = CaseType(
                    department=dept,
                    slug=ct_slug,
                    name=ct_name,
                    direct_number=number,
                    direct_number_answered_by=f"{ct_name}, handläggare" if number else None,
                    direct_number_hours="Mån–tor 10–12" if number else None,
                    guidance=f"Fråga efter personuppgifter och vad det gäller ({ct_name}).",
                    callback_promise_hours=hours,
                )
                types.append((ct, summaries))
            users = [
                User(
                    email=handler_email(slug, n),
                    name=person(),
                    role=Role.HANDLER,
                    password_hash=password_hash,
                    departments=[dept],
                )
                for n in range(1, HANDLERS_PER_DEPARTMENT + 1)
            ]
            db.session.add_all([dept, *users])
            handlers.append((dept, users))
        agents = [
            User(email=agent_email(n), name=person(), role=Role.AGENT, password_hash=password_hash)
            for n in range(1, AGENTS + 1)
        ]
        others = [
            User(
                email="chef1@kommun.example",
                name=person(),
                role=Role.MANAGER,
                password_hash=password_hash,
            ),
            User(
                email="admin@kommun.example",
                name="Bench Admin",
                role=Role.ADMIN,
                password_hash=password_hash,
            ),
        ]
        service_goals = [
            ServiceGoal(target=GoalTarget(target), channel=channel, amount=amount, unit=unit)
            for target, channel, amount, unit in SERVICE_GOALS
        ]
        db.session.add_all([ct for ct, _ in types] + agents + others + service_goals)
        db.session.commit()
        definitions = {
            (target.value, channel.value, ct.id if ct else None): goals.find_definition(
                target, channel, ct
            )
            for target in GoalTarget
            for channel in Channel
            for ct in [None, *(ct for ct, _ in types)]
        }
        org = Org(
            case_types=[
                CaseTypeInfo(
                    id=ct.id,
                    department_id=ct.department_id,
                    department=ct.department.name,
                    direct_number=ct.direct_number,
                    answered_by=ct.direct_number_answered_by or "",
                    summaries=summaries,
                )
                for ct, summaries in types
            ],
            agents=[(u.id, u.name) for u in agents],
            handlers={d.id: [(u.id, u.name) for u in us] for d, us in handlers},
            definitions=definitions,
        )
        db.session.remove()
        db.engine.dispose()
    return org


# ------------------------------------------------------------------------------------ contacts


def _luhn_digit(digits: str) -> int:
    total = 0
    for i, ch in enumerate(digits):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return (10 - total % 10) % 10


def _personnummer(rng: random.Random) -> str:
    born = date(1940, 1, 1) + timedelta(days=rng.randrange(0, 365 * 65))
    serial = f"{rng.randrange(0, 1000):03d}"
    return f"{born:%Y%m%d}-{serial}{_luhn_digit(born.strftime('%y%m%d') + serial)}"


def _organisation_number(rng: random.Random) -> str:
    body = f"55{rng.randrange(0, 10**7):07d}"
    return f"{body[:6]}-{body[6:]}{_luhn_digit(body)}"


def contact_rows(n: int, start: datetime, rng: random.Random):
    """Contacts with unique mobile numbers (+4670…, +4672…, …) derived from the id."""
    prefixes = "0236"
    for cid in range(1, n + 1):
        prefix, rest = prefixes[(cid // 10**7) % 4], f"{cid % 10**7:07d}"
        business = rng.random() < 0.07
        if business:
            name = f"{rng.choice(LAST_NAMES)}s {rng.choice(('Bygg', 'Städ', 'Måleri'))} AB"
        else:
            name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
        yield (
            cid,
            "business" if business else "citizen",
            name,
            name.lower(),
            f"07{prefix}-{rest[:3]} {rest[3:5]} {rest[5:]}",
            f"+467{prefix}{rest}",
            f"kontakt{cid}@example.se" if rng.random() < 0.4 else None,
            _organisation_number(rng) if business else None,
            _personnummer(rng) if not business and rng.random() < 0.05 else None,
            start,
        )


# ------------------------------------------------------------------------------ arrivals, plan


def _pick(rng: random.Random, shares: tuple[tuple[str, float], ...]) -> str:
    x = rng.random()
    for value, share in shares:
        x -= share
        if x < 0:
            return value
    return shares[-1][0]


def _age_band(age_days: float) -> int:
    for i, (limit, _) in enumerate(AGE_WEIGHTS):
        if age_days < limit:
            return i
    return len(AGE_WEIGHTS) - 1


Arrival = tuple[float, float, str, "str | None"]  # created, received (epoch), channel, outcome


def arrival_times(n: int, now: datetime, years: float, rng: random.Random) -> list[Arrival]:
    """n arrivals in creation order (the order of ids and references).

    Calls and visits arrive on weekdays 08–16:30 Stockholm time and are logged as they happen;
    e-mail and web forms arrive at any hour (mostly daytime) and become cases within two minutes.
    """
    first = (now - timedelta(days=365 * years)).astimezone(TZ).date()
    days = [first + timedelta(days=i) for i in range((now.astimezone(TZ).date() - first).days + 1)]
    midnight = [datetime(d.year, d.month, d.day, tzinfo=TZ).timestamp() for d in days]
    weekdays = [i for i, d in enumerate(days) if d.weekday() < 5]
    limit, low = now.timestamp() - 180, (now - timedelta(days=365 * years)).timestamp()
    out: list[Arrival] = []
    while len(out) < n:
        channel = _pick(rng, CHANNELS)
        if channel in ("phone", "visit"):
            received = midnight[rng.choice(weekdays)] + rng.uniform(8 * 3600, 16.5 * 3600)
            created, outcome = received, _pick(rng, PHONE_OUTCOMES)
        else:
            hour = rng.gauss(13, 4) % 24
            received = midnight[rng.randrange(len(days))] + hour * 3600 + rng.uniform(0, 60)
            created, outcome = received + rng.uniform(1, 120), None
        if low <= received and created <= limit:
            out.append((created, received, channel, outcome))
    out.sort(key=lambda item: item[0])
    return out


def open_probabilities(arrivals: list[Arrival], now: float, open_share: float) -> list[float]:
    """Chance of still being open per age band, so that about open_share of all cases are open.

    Only cases that their first-line outcome did not close can still be open.
    """
    eligible = Counter(
        _age_band((now - received) / 86400)
        for _, received, _, outcome in arrivals
        if outcome not in CLOSING_OUTCOMES
    )
    target = open_share * len(arrivals)
    lo, hi = 0.0, 1.0
    for _ in range(60):
        k = (lo + hi) / 2
        got = sum(n * min(0.95, k * AGE_WEIGHTS[b][1]) for b, n in eligible.items())
        lo, hi = (k, hi) if got < target else (lo, k)
    return [min(0.95, lo * w) for _, w in AGE_WEIGHTS]


# ------------------------------------------------------------------------------- goal engine


def cached_calendar():
    """The app's business calendar (the default, as load_calendar gives with no opening hours
    configured), with each day's intervals cached: the generator asks about the same thousand
    days millions of times. The results are the calendar's own."""
    from kontaktcenter.calendar.business_calendar import BusinessCalendar

    class CachedCalendar(BusinessCalendar):
        @functools.cache  # noqa: B019 - one calendar per process, kept for good
        def _open_intervals(self, d):
            return super()._open_intervals(d)

        @functools.cache  # noqa: B019
        def _counting_intervals(self, d, unit):
            return super()._counting_intervals(d, unit)

    return CachedCalendar.default()


class Goals:
    """One case's goals, taken through the lifecycle of services/goals.py. As there, start, meet
    and cancel change goals and refresh() (called where the on_* hooks call it) moves the case's
    due time. No pauses: the generated cases that wait on the citizen are still waiting, so no
    clock has resumed and every running goal keeps the due time it was given."""

    def __init__(self, gen: CaseGenerator, channel: str, case_type_id: int | None, due: datetime):
        self.gen, self.channel, self.case_type_id = gen, channel, case_type_id
        self.items: list[dict[str, Any]] = []
        self.due: datetime = due
        self.at_risk: datetime | None = None

    def _active(self, target: str) -> dict[str, Any] | None:
        return next(
            (g for g in self.items if g["target"] == target and g["met"] is g["cancelled"] is None),
            None,
        )

    def start(self, target: str, at: datetime) -> dict[str, Any] | None:
        definition = self.gen.org.definitions[(target, self.channel, self.case_type_id)]
        if definition is None:
            return None
        current = self._active(target)
        if current is not None:
            current["cancelled"] = at
        due, at_risk = self.gen.compute(self.gen.calendar, definition, at, [], at)
        goal = {
            "target": target,
            "definition": definition,
            "started": at,
            "due": due,
            "at_risk": at_risk,
            "met": None,
            "cancelled": None,
        }
        self.items.append(goal)
        return goal

    def meet(self, target: str, at: datetime) -> None:
        goal = self._active(target)
        if goal is not None:
            goal["met"] = max(at, goal["started"])

    def close(self, at: datetime) -> None:
        """goals.on_closed"""
        for target in ("first_response", "second_line", "resolution"):
            self.meet(target, at)
        goal = self._active("callback")
        if goal is not None:
            goal["cancelled"] = at
        self.refresh()

    def refresh(self) -> None:
        running = [g for g in self.items if g["met"] is None and g["cancelled"] is None]
        if running:
            nearest = min(running, key=lambda g: g["due"])
            self.due, self.at_risk = nearest["due"], nearest["at_risk"]
        else:  # every promise kept, or none applies: the case sorts last
            self.due, self.at_risk = self.gen.no_promise, None

    def rows(self, case_id: int, sweepable_until: datetime, rng: random.Random):
        """COPY rows, with the marks the minutely sweep (services/goal_sweep.py) would have
        recorded before the goal was met or cancelled, or its case closed or set waiting."""
        phase = rng.uniform(0, SWEEP_SECONDS)

        def swept(at: datetime) -> datetime:  # the first sweep at or after `at`
            return at + timedelta(seconds=(phase - at.timestamp()) % SWEEP_SECONDS)

        for g in self.items:
            end = min(t for t in (g["met"], g["cancelled"], sweepable_until) if t is not None)
            flagged = swept(g["at_risk"]) if swept(g["at_risk"]) < end else None
            breached = swept(g["due"]) if swept(g["due"]) < end else None
            alerts = []
            if flagged is not None and (breached is None or flagged < breached):
                alerts.append("at_risk")  # flagged in the same sweep as breached: no alert
            if breached is not None:
                alerts.append("breached")
            business = calendar = None
            if g["met"] is not None:
                clock = self.gen.clocks[g["definition"]["unit"]]
                business = max(self.gen.calendar.elapsed(g["started"], g["met"], clock), 0)
                calendar = max(int((g["met"] - g["started"]).total_seconds() // 60), 0)
            yield (
                case_id,
                g["target"],
                self.gen.json(g["definition"]),
                g["started"],
                g["due"],
                g["at_risk"],
                g["met"],
                g["cancelled"],
                breached,
                flagged,
                json.dumps(alerts),
                business,
                calendar,
            )


# --------------------------------------------------------------------------------------- cases


class CaseGenerator:
    """Turns an arrival into a case row, its timeline and its goals, as the services would."""

    def __init__(self, org: Org, contacts: int, now: datetime, p_open: list[float]):
        from kontaktcenter.calendar.business_calendar import Unit
        from kontaktcenter.goals.engine import NO_PROMISE, _clock, _compute  # the engine's own

        self.org, self.contacts, self.now, self.p_open = org, contacts, now, p_open
        self.compute, self.no_promise = _compute, NO_PROMISE
        self.clocks = {unit.value: _clock(unit) for unit in Unit}
        self.calendar = cached_calendar()
        self.with_number = [t for t in org.case_types if t.direct_number]
        self._json: dict[tuple[Any, ...], str] = {}

    def json(self, data: dict[str, Any]) -> str:
        key = tuple(data.items())  # the values are strings, numbers or None
        text = self._json.get(key)
        if text is None:
            text = json.dumps(data, ensure_ascii=False)
            if "due_at" not in data:
                self._json[key] = text
        return text

    def _later(self, rng: random.Random, after: datetime, mean_hours: float) -> datetime:
        """A moment after `after` (exponentially distributed), never in the future."""
        t = after + timedelta(hours=rng.expovariate(1 / mean_hours), minutes=1)
        return max(after, min(t, self.now - timedelta(seconds=30)))

    def chunk(self, first_id: int, arrivals: list[Arrival], references: list[str], seed: int):
        """Cases first_id… as COPY text for cases, activities and case_goals (formatting in the
        workers keeps the single loading connection busy), with counts by status and table."""
        rng = random.Random(seed)
        cases, activities, goals = [], [], []
        for offset, (arrival, reference) in enumerate(zip(arrivals, references, strict=True)):
            row, timeline, case_goals = self.case(rng, first_id + offset, reference, *arrival)
            cases.append(row)
            activities.extend(timeline)
            goals.extend(case_goals)
        counts = Counter(row[3] for row in cases)
        counts.update(cases=len(cases), activities=len(activities), case_goals=len(goals))
        return copy_text(cases), copy_text(activities), copy_text(goals), counts

    def case(
        self,
        rng: random.Random,
        cid: int,
        reference: str,
        created_ts: float,
        received_ts: float,
        channel: str,
        outcome: str | None,
    ):
        now = self.now
        received = datetime.fromtimestamp(received_ts, UTC)
        created = datetime.fromtimestamp(created_ts, UTC)
        spoken = channel in ("phone", "visit")
        agent_id, _ = rng.choice(self.org.agents)
        creator = agent_id if spoken else None  # e-mail and web forms come in by integration
        acts: list[tuple[Any, ...]] = []
        version = 1

        def act(kind: str, actor: int | None, at: datetime, text: str | None = None, **data: Any):
            acts.append((cid, kind, actor, at, text, self.json(data)))

        if outcome == "handed_off":
            ctype: CaseTypeInfo | None = rng.choice(self.with_number)
        elif outcome in ("routed", "callback") or rng.random() < 0.8:
            ctype = rng.choice(self.org.case_types)
        else:
            ctype = None
        summary = rng.choice(ctype.summaries) if ctype else "Allmän fråga om kommunens service"
        if rng.random() < 0.5:
            summary += f" ({rng.choice(('ringde igen', 'brådskande', 'hänvisad från webben'))})"
        status, department_id, assignee_id = "new", None, None
        resolution = referred_to = closed_at = callback_due = callback_done = waiting_since = None
        first_response = received if spoken else None

        # services.cases.create_case
        goals = Goals(self, channel, ctype.id if ctype else None, due=received)
        act("call_logged" if channel == "phone" else "created", creator, created, channel=channel)
        if spoken and rng.random() < 0.12:
            act("note", creator, created, rng.choice(NOTES))
        goals.start("first_response", received)  # goals.on_created
        if first_response is not None:
            goals.meet("first_response", first_response)
        goals.start("resolution", received)
        goals.refresh()
        if outcome == "answered":
            act("answered", creator, created)
        elif outcome == "handed_off":
            assert ctype is not None
            department_id = ctype.department_id
            act(
                "handed_off",
                creator,
                created,
                number=ctype.direct_number,
                to=ctype.answered_by,
                transfer="warm" if rng.random() < 0.7 else "cold",
                department=ctype.department,
            )
        elif outcome == "referred":
            referred_to = rng.choice(AUTHORITIES)
            act("referred", creator, created, authority=referred_to)
        elif outcome == "routed":
            assert ctype is not None
            department_id = ctype.department_id
            act("routed", creator, created, department=ctype.department)
            goals.start("second_line", received)  # goals.on_routed at the contact's time
            goals.refresh()
        elif outcome == "callback":
            assert ctype is not None
            department_id = ctype.department_id
            goal = goals.start("callback", received)  # goals.on_callback_booked
            goals.refresh()
            assert goal is not None
            callback_due = goal["due"]
            act(
                "callback_booked",
                creator,
                created,
                rng.choice(CALLBACK_NOTES),
                due_at=callback_due.isoformat(),
                department=ctype.department,
            )
        if outcome in CLOSING_OUTCOMES:
            status, closed_at, resolution = "closed", created, summary
            act("closed", creator, created)
            goals.close(created)
        else:
            # Still with someone: the first line (e-mail, web) or a department. From here on
            # services/case_actions.py: one commit, one version and one activity per action.
            age = (now - received).total_seconds() / 86400
            final = "closed"
            if rng.random() < self.p_open[_age_band(age)]:
                final = _pick(rng, OPEN_STATUS_SHARES)
            t = created
            if department_id is None and rng.random() < 0.3:
                # route(): keeps the case type; the department's second-line goal starts.
                target = ctype or rng.choice(self.org.case_types)
                t = self._later(rng, t, 4)
                department_id, outcome = target.department_id, "routed"
                act("routed", agent_id, t, department=target.department)
                goals.start("second_line", t)
                goals.refresh()
                version += 1
            people = self.org.handlers[department_id] if department_id else self.org.agents
            worker_id, worker_name = rng.choice(people)
            if final != "new":
                # assign(): a handler of the case's department meets the second-line goal.
                t = self._later(rng, t, 6)
                assignee_id, status = worker_id, "open"
                act("assigned", worker_id, t, assignee=worker_name)
                if department_id is not None:
                    goals.meet("second_line", t)
                    goals.refresh()
                version += 1
            if (
                callback_due is not None
                and final != "new"
                and (final == "closed" or rng.random() < 0.5)
            ):
                # record_callback_attempt(): reached when the case is then closed.
                t = self._later(rng, t, 8)
                reached = final == "closed"
                act("callback_attempt", worker_id, t, result="reached" if reached else "no_answer")
                if reached:
                    callback_done = t
                    act("callback_done", worker_id, t)
                    goals.meet("callback", t)  # goals.on_callback_done
                    goals.meet("first_response", t)
                goals.refresh()
                version += 1
            if final == "waiting":
                t = waiting_since = self._later(rng, t, 12)
                status = "waiting"
                act("status_changed", worker_id, t, old="open", new="waiting")
                version += 1
            if final == "closed":
                t = self._later(rng, t, 48 if department_id else 12)
                if outcome is None:
                    outcome = "answered"  # close() on a first-line case
                status, closed_at, resolution = "closed", t, rng.choice(RESOLUTIONS)
                act("closed", worker_id, t, resolution)
                goals.close(t)
                version += 1
        row = (
            cid,
            reference,
            channel,
            status,
            outcome,
            ctype.id if ctype else None,
            department_id,
            assignee_id,
            None if rng.random() < 0.08 else 1 + int(self.contacts * rng.random() ** 2),
            creator,
            summary,
            resolution,
            referred_to,
            received,
            created,
            acts[-1][3],
            first_response,
            closed_at,
            goals.due,
            goals.at_risk,
            callback_due,
            callback_done,
            version,
        )
        sweepable = min(t for t in (closed_at, waiting_since, now) if t is not None)
        return row, acts, list(goals.rows(cid, sweepable, rng))


_GENERATOR: CaseGenerator | None = None  # set before the worker processes fork


def _chunk(args: tuple[int, list[Arrival], list[str], int]):
    assert _GENERATOR is not None
    return _GENERATOR.chunk(*args)


def _copy_field(value: Any) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, str):
        if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
            value = (
                value.replace("\\", "\\\\")
                .replace("\t", "\\t")
                .replace("\n", "\\n")
                .replace("\r", "\\r")
            )
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def copy_text(rows: list[tuple[Any, ...]]) -> str:
    """Rows in COPY's text format (tab-separated, \\N for NULL, backslash escapes)."""
    return "".join("\t".join(map(_copy_field, row)) + "\n" for row in rows)


def references(arrivals: list[Arrival], now: datetime) -> tuple[list[str], Counter[int]]:
    """KC-YYYY-NNNNNN in creation order, numbered per Stockholm year (services/references.py)."""
    starts = [(y, datetime(y, 1, 1, tzinfo=TZ).timestamp()) for y in range(now.year, 1999, -1)]
    sequences: Counter[int] = Counter()
    out = []
    for created, *_ in arrivals:
        year = next(y for y, start in starts if start <= created)
        sequences[year] += 1
        out.append(f"KC-{year}-{sequences[year]:06d}")
    return out, sequences


# -------------------------------------------------------------------------------------- loading


def _drop_secondary(cur: psycopg.Cursor) -> list[str]:
    """Drop foreign keys, unique constraints and non-primary indexes of the big tables.

    Returns the statements that recreate them exactly as the migrations made them.
    """
    restore: list[str] = []
    for table in BIG_TABLES:
        cur.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = %s::regclass AND contype IN ('f', 'u')",
            (table,),
        )
        for name, definition in cur.fetchall():
            cur.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
            restore.append(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
        cur.execute(
            "SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index "
            "WHERE indrelid = %s::regclass AND NOT indisprimary",
            (table,),
        )
        for name, definition in cur.fetchall():
            cur.execute(f'DROP INDEX "{name}"')
            restore.insert(0, definition)  # plain indexes first, then the constraints
    return restore


def _copy(cur: psycopg.Cursor, table: str, columns: str, text: str) -> None:
    with cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        copy.write(text)


def load(url: str, org: Org, args: argparse.Namespace) -> dict[str, Any]:
    global _GENERATOR
    n = args.cases
    rng = random.Random(args.seed)
    now = datetime.now(UTC)
    timings: dict[str, float] = {}
    started = time.perf_counter()
    arrivals = arrival_times(n, now, args.years, rng)
    p_open = open_probabilities(arrivals, now.timestamp(), args.open_share)
    n_contacts = max(1000, n // 3)
    _GENERATOR = CaseGenerator(org, n_contacts, now, p_open)
    refs, sequences = references(arrivals, now)
    counts: Counter[str] = Counter()
    timings["plan"] = time.perf_counter() - started

    # Fork the workers before any connection is open: no socket is shared across fork().
    pool = multiprocessing.get_context("fork").Pool(args.workers)
    with pool, psycopg.connect(libpq_url(url)) as conn, conn.cursor() as cur:
        cur.execute("SET maintenance_work_mem = '512MB'")
        cur.execute("SET synchronous_commit = off")
        restore = _drop_secondary(cur)
        t0 = time.perf_counter()
        _copy(
            cur,
            "contacts",
            "id, kind, name, name_lower, phone, phone_e164, email, organisation_number, "
            "personnummer, created_at",
            copy_text(list(contact_rows(n_contacts, now - timedelta(days=365 * args.years), rng))),
        )
        timings["contacts"] = time.perf_counter() - t0

        def write(result) -> None:
            cases, activities, goals, chunk_counts = result
            _copy(cur, "cases", CASE_COLUMNS, cases)
            _copy(cur, "activities", ACTIVITY_COLUMNS, activities)
            _copy(cur, "case_goals", GOAL_COLUMNS, goals)
            counts.update(chunk_counts)
            print(f"  {counts['cases']:>9,} cases  {time.perf_counter() - t0:6.1f} s", flush=True)

        t0 = time.perf_counter()
        jobs = [
            (
                start + 1,
                arrivals[start : start + args.batch],
                refs[start : start + args.batch],
                args.seed * 1_000_003 + start,
            )
            for start in range(0, n, args.batch)
        ]
        pending: deque = deque()
        for job in jobs:
            pending.append(pool.apply_async(_chunk, (job,)))
            if len(pending) > args.workers + 1:  # bounded: finished chunks do not pile up
                write(pending.popleft().get())
        while pending:
            write(pending.popleft().get())
        timings["cases, activities, goals"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        for statement in restore:
            cur.execute(statement)
        timings["indexes and constraints"] = time.perf_counter() - t0
        for table in BIG_TABLES:
            cur.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"
            )
        cur.executemany(
            "INSERT INTO case_sequences (year, last_value) VALUES (%s, %s) "
            "ON CONFLICT (year) DO UPDATE SET last_value = excluded.last_value",
            sorted(sequences.items()),
        )
        conn.commit()

    t0 = time.perf_counter()
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        # VACUUM as autovacuum would have by now (visibility map, hint bits), then statistics.
        conn.execute("VACUUM (ANALYZE)")
    timings["vacuum analyze"] = time.perf_counter() - t0
    return {
        "cases": n,
        "contacts": n_contacts,
        "activities": counts["activities"],
        "case_goals": counts["case_goals"],
        "statuses": {k: counts[k] for k in ("new", "open", "waiting", "closed")},
        "open share": round(1 - counts["closed"] / n, 4),
        "references": {str(y): v for y, v in sorted(sequences.items())},
        "seconds": {k: round(v, 1) for k, v in timings.items()},
    }


def check_against_engine(url: str, sample: int, seed: int) -> dict[str, Any]:
    """Recompute the due times of random generated cases with the app's goal engine
    (goals.refresh) and count those that come out different. Cases waiting on the citizen are
    left out: their clocks are paused, so a recompute now moves them on purpose."""
    import sqlalchemy as sa

    from kontaktcenter.cases.enums import CaseStatus
    from kontaktcenter.cases.models import Case
    from kontaktcenter.core.extensions import db, utcnow
    from kontaktcenter.goals import engine as goals

    app = create_app_for(url)
    mismatches = []
    with app.app_context():
        top = db.session.scalar(sa.select(sa.func.max(Case.id))) or 0
        rng = random.Random(seed)
        ids = {rng.randint(1, top) for _ in range(sample)}
        open_ids = db.session.scalars(
            sa.select(Case.id)
            .where(Case.status.in_([CaseStatus.NEW, CaseStatus.OPEN]))
            .order_by(sa.func.random())
            .limit(sample)
        )
        cases = db.session.scalars(sa.select(Case).where(Case.id.in_(ids | set(open_ids))))
        checked = 0
        for case in cases:
            if case.status == CaseStatus.WAITING:
                continue
            stored = (case.due_at, case.at_risk_at, [(g.due_at, g.at_risk_at) for g in case.goals])
            goals.refresh(case, utcnow())
            again = (case.due_at, case.at_risk_at, [(g.due_at, g.at_risk_at) for g in case.goals])
            checked += 1
            if stored != again:
                mismatches.append(
                    {"case": case.reference, "stored": str(stored), "engine": str(again)}
                )
        db.session.rollback()
        db.engine.dispose()
    return {"checked": checked, "mismatches": len(mismatches), "examples": mismatches[:3]}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--database-url", required=True, help="postgresql://user@host:port/db")
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--years", type=float, default=3.0, help="spread of received_at")
    parser.add_argument("--open-share", type=float, default=0.04, help="share of open cases")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--batch", type=int, default=20_000, help="cases per COPY round")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument(
        "--recreate", action="store_true", help="drop and create the database (name with 'bench')"
    )
    parser.add_argument(
        "--check", type=int, default=500, help="cases to recompute with the goal engine after"
    )
    args = parser.parse_args(argv)

    started = time.perf_counter()
    if args.recreate:
        recreate_database(args.database_url)
    org = migrate_and_create_org(args.database_url)
    print(f"schema and organisation: {time.perf_counter() - started:.1f} s", flush=True)
    summary = load(args.database_url, org, args)
    summary["seconds"]["total"] = round(time.perf_counter() - started, 1)
    if args.check:
        summary["engine check"] = check_against_engine(args.database_url, args.check, args.seed)
    print(json.dumps(summary, indent=2, ensure_ascii=False))
    print(
        f"log in as {agent_email(1)} … {agent_email(AGENTS)}, "
        f"{handler_email('stadsbyggnad', 1)} … (password {BENCH_PASSWORD!r})"
    )


if __name__ == "__main__":
    main()
