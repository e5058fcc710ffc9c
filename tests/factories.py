"""Test data builders: a small municipality, users of each role, cases."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

from flask.testing import FlaskClient
from werkzeug.security import generate_password_hash

from kontaktcenter.cases.contacts import ContactData
from kontaktcenter.cases.enums import Channel, Outcome
from kontaktcenter.cases.models import Case
from kontaktcenter.cases.services import NewCase, create_case
from kontaktcenter.core.extensions import db
from kontaktcenter.core.roles import Role
from kontaktcenter.organisation.models import CaseType, Department, User

PASSWORD = "korrekt-hast-batteri"
_HASH = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")  # fast in tests
_seq = itertools.count(1)


@dataclass
class Org:
    bygg: Department
    miljo: Department
    bygglov: CaseType
    strandskydd: CaseType
    miljotillsyn: CaseType
    agent: User
    handler_bygg: User
    handler_miljo: User
    manager: User
    admin: User


def make_user(
    role: Role, departments: list[Department] | None = None, name: str | None = None
) -> User:
    n = next(_seq)
    user = User(
        email=f"{role.value}{n}@kommun.example",
        name=name or f"{role.label} {n}",
        role=role,
        password_hash=_HASH,
        departments=list(departments or []),
    )
    db.session.add(user)
    db.session.commit()
    return user


def make_department(name: str, slug: str) -> Department:
    dept = Department(
        name=name, slug=slug, contact_email=f"{slug}@kommun.example", phone_hours="Mån–fre 9–12"
    )
    db.session.add(dept)
    return dept


def make_case_type(
    dept: Department, name: str, slug: str, number: str | None = "08-123 456 78"
) -> CaseType:
    ct = CaseType(
        department=dept,
        name=name,
        slug=slug,
        direct_number=number,
        direct_number_answered_by=f"{name}shandläggare",
        direct_number_hours="Mån–tor 10–12",
        guidance=f"Fråga efter fastighetsbeteckning. ({name})",
        callback_promise_hours=24,
    )
    db.session.add(ct)
    return ct


def make_org() -> Org:
    bygg = make_department("Stadsbyggnadskontoret", "stadsbyggnad")
    miljo = make_department("Miljöförvaltningen", "miljo")
    bygglov = make_case_type(bygg, "Bygglov", "bygglov")
    strandskydd = make_case_type(bygg, "Strandskydd", "strandskydd", number=None)
    miljotillsyn = make_case_type(miljo, "Miljötillsyn", "miljotillsyn", "08-555 000 11")
    db.session.commit()
    return Org(
        bygg=bygg,
        miljo=miljo,
        bygglov=bygglov,
        strandskydd=strandskydd,
        miljotillsyn=miljotillsyn,
        agent=make_user(Role.AGENT, name="Agnes Agent"),
        handler_bygg=make_user(Role.HANDLER, [bygg], name="Hugo Bygg"),
        handler_miljo=make_user(Role.HANDLER, [miljo], name="Hanna Miljö"),
        manager=make_user(Role.MANAGER, name="Maja Chef"),
        admin=make_user(Role.ADMIN, name="Adam Admin"),
    )


def make_case(
    by: User,
    case_type: CaseType | None = None,
    outcome: Outcome | None = Outcome.ROUTED,
    channel: Channel = Channel.PHONE,
    summary: str = "Fråga om altan",
    contact: ContactData | None = None,
    **kwargs,
) -> Case:
    if channel in (Channel.EMAIL, Channel.WEB) and outcome is Outcome.ROUTED and case_type is None:
        outcome = None
    return create_case(
        NewCase(
            channel=channel,
            summary=summary,
            case_type=case_type,
            outcome=outcome,
            contact=contact or ContactData(name="Sven Svensson", phone="070-123 45 67"),
            **kwargs,
        ),
        by=by,
    )


_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_token(client: FlaskClient, path: str = "/login") -> str:
    html = client.get(path, follow_redirects=True).get_data(as_text=True)
    match = _CSRF.search(html)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def post(client: FlaskClient, url: str, data: dict | None = None, **kwargs):
    """POST a form the way a browser does: with the CSRF token of the session."""
    payload = dict(data or {})
    payload.setdefault("csrf_token", csrf_token(client))
    return client.post(url, data=payload, **kwargs)
