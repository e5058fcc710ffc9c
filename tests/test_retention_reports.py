"""Every report gives the same figures before and after gallring (issue #15)."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from kontaktcenter.cases import actions
from kontaktcenter.cases.contacts import ContactData
from kontaktcenter.cases.enums import Channel, Outcome
from kontaktcenter.cases.models import Case
from kontaktcenter.compliance.retention_models import CaseRetention
from kontaktcenter.core.extensions import db, utcnow
from kontaktcenter.reports import compliance as goal_compliance
from kontaktcenter.reports import contact_list, overview, report, service, volumes
from kontaktcenter.reports.period_counts import period_counts, response_times
from kontaktcenter.reports.periods import ReportFilters, custom
from tests import factories
from tests.test_retention_anonymise import age, mail_case, rule, run


def plain(value: Any) -> Any:
    """A report as plain data: ORM objects (the breaches' goals) by their id."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {plain(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if hasattr(value, "__table__"):
        return (type(value).__name__, value.id)
    return value


def every_report(filters: ReportFilters) -> dict[str, Any]:
    ids = None
    return {
        "full": plain(report.full_report(filters)),
        "service": plain(report.service_report(filters)),
        "api": report.api_json(report.service_report(filters)),
        "phone": plain(service.phone_measures(filters)),
        "email": plain(service.email_measures(filters)),
        "resolution": plain(service.resolution(filters)),
        "callbacks": plain(service.callback_measures(filters)),
        "volumes": plain(volumes.volumes(filters)),
        "top": volumes.top_case_types(filters),
        "forwarded": volumes.forwarded_per_department(filters),
        "backlog": volumes.backlog(filters),
        "agents": plain(volumes.per_agent(filters)),
        "counts": plain(period_counts(filters, [filters.period])),
        "response_times": plain(response_times(filters, [filters.period])),
        "compliance": plain(goal_compliance.compliance_all(filters)),
        "breaches": plain(goal_compliance.breaches(filters, ids)),
        "load": plain(overview.department_load()),
        "board": {k: v for k, v in plain(overview.board()).items() if k != "computed_at"},
    }


def test_every_report_is_the_same_after_gallring(db_session, org, outbox):
    people = [
        ContactData(name=f"Person {n} Rapportsson", phone=f"070-555 00 {n:02d}", verified=True)
        for n in range(6)
    ]
    old = [
        factories.make_case(org.agent, org.bygglov, outcome=Outcome.ANSWERED, contact=people[0]),
        factories.make_case(org.agent, org.miljotillsyn, outcome=Outcome.ROUTED, contact=people[1]),
        factories.make_case(org.agent, org.bygglov, outcome=Outcome.CALLBACK, contact=people[2]),
        factories.make_case(
            org.agent, None, outcome=Outcome.REFERRED, contact=people[3], referred_to="Skatteverket"
        ),
        factories.make_case(
            org.agent,
            org.miljotillsyn,
            outcome=Outcome.HANDED_OFF,
            channel=Channel.VISIT,
            contact=people[4],
        ),
    ]
    mail = mail_case(org)
    actions.add_note(db.session.get(Case, old[1].id), org.handler_miljo, "Ringde Rapportsson")
    for case in [*old, mail]:
        age(case, 200, org.admin)
    # Kept: recent, open, and an old one of another person on the same days.
    factories.make_case(org.agent, org.bygglov, outcome=Outcome.ROUTED, contact=people[5])
    factories.make_case(org.agent, org.bygglov, outcome=Outcome.ANSWERED, contact=people[5])
    rule(months=3)
    today = utcnow().date()
    filters = ReportFilters(period=custom(today - timedelta(days=400), today))
    day = (utcnow() - timedelta(days=200)).date()

    before = every_report(filters)
    listed_before = contact_list.rows(day)
    done = run()
    assert done.processed == 6
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(CaseRetention)) == 6
    after = every_report(filters)

    for name in before:
        assert after[name] == before[name], name
    # The one exception: the survey's contact list is itself personal data. The gallrade
    # people leave it (their numbers are gone); nobody else does.
    assert listed_before and all("Rapportsson" not in str(r) for r in contact_list.rows(day))
    assert len(contact_list.rows(day)) < len(listed_before)
