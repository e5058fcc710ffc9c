"""Gallring leaves no personal data anywhere, keeps what statistics need, and is restartable."""

from __future__ import annotations

from datetime import date, timedelta
from email.message import EmailMessage

import pytest
import sqlalchemy as sa

from kontaktcenter.cases import actions
from kontaktcenter.cases.contacts import ContactData
from kontaktcenter.cases.enums import Channel, Outcome
from kontaktcenter.cases.models import Activity, Case, Contact
from kontaktcenter.channels.email.intake import ingest
from kontaktcenter.channels.email.models import Blob, MailAttachment, MailMessage
from kontaktcenter.channels.phone.models import Call, CallEvent, CallEventKind
from kontaktcenter.compliance import retention
from kontaktcenter.compliance.retention_models import (
    CaseRetention,
    RetentionMode,
    RetentionRun,
    RunState,
)
from kontaktcenter.compliance.retention_rules import RuleData, create_rule
from kontaktcenter.core.extensions import db, utcnow
from kontaktcenter.search.models import NameWord, SearchDocument
from tests import factories

NAME = "Örjan Gallringsson"
PHONE = "070-987 65 43"
EMAIL = "orjan.gallringsson@example.se"
PNR = "19121212-1212"
SECRETS = (
    "Gallringsson",
    "gallringsson",
    "9876543",
    "987 65 43",
    "orjan.gallringsson",
    "1212-1212",
)


def person(name: str = NAME, phone: str = PHONE, email: str = EMAIL) -> ContactData:
    return ContactData(name=name, phone=phone, email=email, personnummer=PNR, verified=True)


def age(case: Case, days: int, by=None) -> Case:
    """Closed `days` ago (the services close at once; move the times back)."""
    case = db.session.get(Case, case.id)
    if case.is_open:
        actions.close(case, by, "Klart, ringde Örjan Gallringsson")
    then = utcnow() - timedelta(days=days)
    case.received_at = then - timedelta(hours=2)
    case.closed_at = then
    db.session.commit()
    return case


def rule(case_type=None, months: int | None = 12, mode=RetentionMode.MONTHS):
    return create_rule(
        RuleData(
            case_type_id=case_type.id if case_type else None,
            mode=mode,
            months=months if mode == RetentionMode.MONTHS else None,
            decision_name="Dokumenthanteringsplan för kontaktcenter",
            decision_date=date(2025, 1, 15),
            decision_reference="KS 2025/123",
        ),
        None,
    )


def run(dry_run: bool = False) -> RetentionRun:
    started = retention.start(dry_run=dry_run, trigger="cli", by=None)
    db.session.expire_all()
    return db.session.get(RetentionRun, started.id)


def mail_case(org, subject="Fråga från Örjan Gallringsson", attachment=b"ritning-gallringsson"):
    message = EmailMessage()
    message["From"] = f"{NAME} <{EMAIL}>"
    message["To"] = "kontakt@kommun.example"
    message["Subject"] = subject
    message["Message-ID"] = "<gallring-1@example.se>"
    message.set_content(f"Hej, jag heter {NAME}, nr {PHONE}, pnr {PNR}.")
    message.add_attachment(
        attachment, maintype="application", subtype="octet-stream", filename="gallringsson.bin"
    )
    result = ingest(message.as_bytes())
    return db.session.scalars(sa.select(Case).where(Case.reference == result.reference)).one()


def dump() -> str:
    """Every row of every table (and SQLite's FTS tables), as text."""
    parts = []
    inspector = sa.inspect(db.session.connection())
    for table in inspector.get_table_names():
        if table.endswith(("_data", "_idx", "_docsize", "_config", "_content")):
            continue
        for row in db.session.execute(sa.text(f'SELECT * FROM "{table}"')):
            parts.append(
                f"{table}: "
                + " | ".join(
                    bytes(v).decode("latin-1") if isinstance(v, (bytes, memoryview)) else str(v)
                    for v in row
                )
            )
    return "\n".join(parts)


@pytest.fixture
def gallrad_case(db_session, org, outbox):
    case = factories.make_case(
        org.agent,
        org.bygglov,
        outcome=Outcome.CALLBACK,
        summary=f"Bygglov för {NAME}, ring {PHONE}",
        contact=person(),
    )
    actions.add_note(case, org.agent, f"{NAME} ringde igen från {PHONE}, pnr {PNR}")
    call = Call(platform_call_id="gallring-1", caller_e164="+46709876543", case_id=case.id)
    db.session.add(call)
    db.session.flush()
    db.session.add(
        CallEvent(
            call_id=call.id,
            kind=CallEventKind.ANSWERED,
            occurred_at=utcnow(),
            caller_e164="+46709876543",
        )
    )
    db.session.commit()
    age(case, 500, org.admin)
    mail = mail_case(org)
    age(mail, 500, org.admin)
    rule()
    return case, mail


def test_gallring_leaves_no_personal_data_in_any_table(gallrad_case):
    case, mail = gallrad_case
    before = dump()
    assert all(secret in before for secret in ("Gallringsson", "orjan.gallringsson", "1212-1212"))
    done = run()
    assert done.state == RunState.FINISHED, done.error
    assert done.processed == 2
    after = dump()
    leaks = [line for line in after.splitlines() if any(s in line for s in SECRETS)]
    assert leaks == []
    kept = db.session.get(Case, case.id)
    assert kept.summary == "[Gallrat]" and kept.contact_id is None
    assert kept.channel == Channel.PHONE and kept.case_type_id is not None
    assert db.session.scalar(sa.select(sa.func.count()).select_from(MailAttachment)) == 0
    messages = db.session.scalars(
        sa.select(MailMessage).where(MailMessage.case_id == mail.id)
    ).all()
    assert len(messages) == 2  # the citizen's and our receipt: rows kept, contents gone
    assert {bytes(db.session.get(Blob, m.raw_sha256).data) for m in messages} == {b""}
    assert db.session.get(CaseRetention, case.id).gallrad_at is not None
    assert "gallringsson" not in db.session.scalars(sa.select(NameWord.word)).all()
    body = db.session.scalar(
        sa.select(SearchDocument.body).where(SearchDocument.case_id == case.id)
    )
    assert "Gallringsson" not in body


def test_timeline_keeps_kinds_times_and_structure(gallrad_case):
    case, _ = gallrad_case
    before = [(a.kind, a.created_at, a.actor_id) for a in db.session.get(Case, case.id).activities]
    run()
    db.session.expire_all()
    after = db.session.scalars(
        sa.select(Activity).where(Activity.case_id == case.id).order_by(Activity.id)
    ).all()
    assert [(a.kind, a.created_at, a.actor_id) for a in after] == before
    assert {a.text for a in after} <= {None, "[Gallrat]"}


def test_the_orm_still_refuses_to_change_the_timeline(gallrad_case):
    case, _ = gallrad_case
    activity = db.session.get(Case, case.id).activities[0]
    activity.text = "ändrad"
    with pytest.raises(RuntimeError, match="append-only"):
        db.session.flush()
    db.session.rollback()


def test_a_contact_shared_with_a_kept_case_stays_intact(db_session, org, outbox):
    old = age(
        factories.make_case(org.agent, org.bygglov, outcome=Outcome.ANSWERED, contact=person()), 500
    )
    new = factories.make_case(org.agent, org.bygglov, outcome=Outcome.ANSWERED, contact=person())
    assert old.contact_id == new.contact_id
    rule()
    run()
    db.session.expire_all()
    assert db.session.get(Case, old.id).contact_id is None
    contact = db.session.get(Contact, new.contact_id)
    assert contact.name == NAME and contact.personnummer == PNR.replace("-", "-")
    assert db.session.get(Case, new.id).summary == "Fråga om altan"


def test_an_unshared_contact_is_erased(db_session, org):
    """Deleted when nothing refers to it; else (the audit log names it) kept, empty."""
    case = factories.make_case(org.agent, org.bygglov, outcome=Outcome.ANSWERED, contact=person())
    age(case, 500)
    contact_id = case.contact_id
    rule()
    run()
    db.session.expire_all()
    contact = db.session.get(Contact, contact_id)
    if contact is not None:
        assert [
            contact.name,
            contact.phone,
            contact.phone_e164,
            contact.email,
            contact.personnummer,
        ] == [None] * 5
