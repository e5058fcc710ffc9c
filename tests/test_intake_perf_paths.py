"""E-mail intake's hot path (issue #16): what a message costs in statements and repeated work,
without changing what it files. The routing rules are kept per process like the
organisation's names (ORGANISATION_CACHE_SECONDS), yet a case type made inactive is never
given to a case; the receipt lock is taken and counted in two statements; a sender's address
is validated and its Authentication-Results read once per message."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from kontaktcenter.cases.models import Case
from kontaktcenter.channels.email import lookups, receipts, routing, trust
from kontaktcenter.channels.email.intake import ingest
from kontaktcenter.channels.email.models import (
    MailMessage,
    MailStatus,
    ReceiptGrant,
    RoutingRule,
    RuleKind,
)
from kontaktcenter.channels.email.receipts import ReceiptLimits
from kontaktcenter.core.extensions import db, utcnow
from kontaktcenter.organisation.models import CaseType
from tests import factories
from tests.mailutil import make_mail
from tests.statements import statements

ANNA = "anna@example.se"


@pytest.fixture(autouse=True)
def _senders_believed(app, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_SENDER_TRUST", "as_before")


@pytest.fixture
def cached_rules(app, monkeypatch):
    """Rules kept per process, as in production (the tests' default is 0: read each time)."""
    monkeypatch.setitem(app.config, "ORGANISATION_CACHE_SECONDS", 60)
    routing.forget_rules()
    yield
    routing.forget_rules()


def _rule(org: factories.Org) -> RoutingRule:
    rule = RoutingRule(
        position=1,
        kind=RuleKind.RECIPIENT,
        pattern="Bygglov@kommun.example",
        case_type=org.bygglov,
        to_department=True,
    )
    db.session.add(rule)
    db.session.commit()
    return rule


def _case(reference: str | None) -> Case:
    return db.session.scalars(sa.select(Case).where(Case.reference == reference)).one()


# --- routing rules per process ------------------------------------------------------------


def test_routing_rules_are_read_once_per_process_within_the_cache_time(db_session, cached_rules):
    org = factories.make_org()
    _rule(org)
    first = ingest(make_mail(to="bygglov@kommun.example"))
    with statements() as sent:
        second = ingest(make_mail(to="bygglov@kommun.example", sender="per@example.se"))
    assert not [s for s in sent if "FROM routing_rules" in s]
    assert len([s for s in sent if s.startswith("SELECT case_types.")]) == 1  # read fresh
    for result in (first, second):
        case = _case(result.reference)
        assert (case.case_type_id, case.department_id) == (org.bygglov.id, org.bygg.id)


def test_a_rule_changed_in_this_process_applies_to_the_next_message(db_session, cached_rules):
    org = factories.make_org()
    rule = _rule(org)
    ingest(make_mail(to="bygglov@kommun.example"))  # the rules are now cached
    rule.active = False
    db.session.commit()
    result = ingest(make_mail(to="bygglov@kommun.example", sender="per@example.se"))
    assert _case(result.reference).case_type_id is None


def test_a_case_type_made_inactive_elsewhere_is_never_given_to_a_case(db_session, cached_rules):
    org = factories.make_org()
    _rule(org)
    db.session.add(
        RoutingRule(position=2, kind=RuleKind.SUBJECT, pattern="altan", case_type=org.miljotillsyn)
    )
    db.session.commit()
    ingest(make_mail(to="bygglov@kommun.example"))  # the rules are now cached
    # Another process makes Bygglov inactive (this one's cache does not hear of it).
    db.session.execute(
        sa.update(CaseType).where(CaseType.id == org.bygglov.id).values(active=False)
    )
    db.session.commit()
    db.session.expire_all()
    result = ingest(
        make_mail(to="bygglov@kommun.example", sender="per@example.se", subject="Altan")
    )
    assert result.result == "created"
    case = _case(result.reference)
    assert case.case_type_id == org.miljotillsyn.id  # the next rule that matches
    assert case.department_id is None  # a subject may classify, never route


def test_no_rule_matching_reads_no_case_type(db_session, cached_rules):
    org = factories.make_org()
    _rule(org)
    ingest(make_mail(to="bygglov@kommun.example"))
    with statements() as sent:
        result = ingest(make_mail(to="kontakt@kommun.example", sender="per@example.se"))
    assert result.result == "created"
    assert not [s for s in sent if s.startswith("SELECT case_types.")]


# --- the receipt lock ----------------------------------------------------------------------


def test_the_receipt_lock_is_taken_and_counted_in_two_statements(db_session):
    now = utcnow()
    db.session.add(ReceiptGrant(address=ANNA, granted_at=now - timedelta(minutes=5)))
    db.session.flush()
    limits = ReceiptLimits({ANNA, "per@example.se"})
    with statements() as sent:
        assert limits.grant(ANNA) is True
        assert limits.grant("per@example.se") is True
    assert len(sent) == 2, sent
    assert "mail_receipt_lock" in sent[0]
    counts = limits.per_address
    assert counts is not None
    assert (limits.total, counts[ANNA], counts["per@example.se"]) == (3, 2, 1)


def test_grants_are_deleted_only_when_some_are_old_enough(db_session, monkeypatch):
    stopped = utcnow().replace(microsecond=0)
    monkeypatch.setattr(receipts, "utcnow", lambda: stopped)
    db.session.add(ReceiptGrant(address=ANNA, granted_at=stopped - timedelta(hours=2)))
    db.session.flush()
    with statements() as sent:
        assert ReceiptLimits({ANNA}).grant(ANNA) is True
    assert not [s for s in sent if s.startswith("DELETE")]
    db.session.add(ReceiptGrant(address="old@example.se", granted_at=stopped - timedelta(hours=3)))
    db.session.flush()
    with statements() as sent:
        assert ReceiptLimits({ANNA}).grant(ANNA) is True
    assert [s for s in sent if s.startswith("DELETE FROM mail_receipt_grants")]
    addresses = db.session.scalars(sa.select(ReceiptGrant.address).order_by(ReceiptGrant.id))
    assert list(addresses) == [ANNA, ANNA, ANNA]


def test_many_addresses_are_counted_in_chunks(db_session, monkeypatch):
    monkeypatch.setattr(receipts, "LOOKUP_CHUNK", 2)
    db.session.add(ReceiptGrant(address=ANNA, granted_at=utcnow() - timedelta(minutes=5)))
    db.session.flush()
    limits = ReceiptLimits({ANNA, "per@example.se", "eva@example.se"})
    assert limits.grant("eva@example.se") is True
    assert limits.per_address is not None
    assert (limits.total, limits.per_address[ANNA]) == (2, 1)


# --- work done once per message ------------------------------------------------------------


def test_a_sender_is_validated_and_checked_once_per_message(db_session, app, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_SENDER_TRUST", "verified")
    lookups._contact_address.cache_clear()
    validated: list[str | None] = []
    checked: list[tuple] = []
    read_again: list[str | None] = []
    real_is_email, real_weigh, real_read = lookups.is_email, trust.weigh, trust.read_results

    def is_email(raw):
        validated.append(raw)
        return real_is_email(raw)

    def weigh(findings, servers):
        checked.append(tuple(findings))
        return real_weigh(findings, servers)

    def read_results(headers, from_addr):
        read_again.append(from_addr)
        return real_read(headers, from_addr)

    monkeypatch.setattr(lookups, "is_email", is_email)
    monkeypatch.setattr(trust, "weigh", weigh)
    monkeypatch.setattr(trust, "read_results", read_results)
    verdict = "mx.kommun.example; dmarc=pass header.from=example.se"
    raw = make_mail(sender="Sven Svensson <sven@example.se>")
    result = ingest(b"Authentication-Results: " + verdict.encode() + b"\n" + raw)
    assert result.result == "created"
    contact = _case(result.reference).contact
    assert contact is not None and contact.email == "sven@example.se"
    assert validated == ["sven@example.se"]
    # Checked once, on what the headers said when the message was parsed (in parse-ahead's
    # helper for a backlog): the costly reading of the headers is not done again here.
    assert [[f.text for f in findings] for findings in checked] == [
        ["dmarc=pass header.from=example.se"]
    ]
    assert read_again == []


def test_routing_rules_can_be_read_for_every_batch(db_session, cached_rules, app, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_ROUTING_CACHE_SECONDS", 0)  # decision 35 as before
    org = factories.make_org()
    _rule(org)
    ingest(make_mail(to="bygglov@kommun.example"))
    with statements() as sent:
        ingest(make_mail(to="bygglov@kommun.example", sender="per@example.se"))
    assert len([s for s in sent if "FROM routing_rules" in s]) == 1


# --- the HTTP door, stored first -----------------------------------------------------------


def test_a_message_stored_first_costs_three_inserts_and_no_read(app, db_session, monkeypatch):
    """What the door does before it answers 202 (#16): the bytes, the pending row and the
    outbox row, nothing read back; the sender and subject the admin's list shows are read
    from the headers."""
    from kontaktcenter.channels.email.intake import store_first

    monkeypatch.setitem(app.config, "JOBS_MODE", "thread")  # not run here
    monkeypatch.setattr("kontaktcenter.core.jobs.enqueue", lambda *args, **kwargs: None)
    raw = make_mail(message_id="<door@example.se>", subject="Fråga om =?", sender=ANNA)
    with statements(ours_only=True) as sent:
        (result,) = store_first([raw], None)
    verbs = [s.split(" (")[0].split(" VALUES")[0] for s in sent]
    assert verbs == [
        "INSERT INTO blobs",
        "INSERT INTO mail_messages",
        "INSERT INTO outbox_jobs",
    ]
    db.session.expire_all()
    row = db.session.get(MailMessage, result.message_pk)
    assert (row.status, row.from_addr, row.subject) == (MailStatus.PENDING, ANNA, "Fråga om =?")
