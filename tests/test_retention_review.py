"""Gallring, found in review: what a merge moved stays under the absorbed case's hold or
extract, and (PostgreSQL) a contact linked, a hold set or an extract requested while a batch
runs is not lost to the batch."""

from __future__ import annotations

import contextlib
import threading

import pytest
import sqlalchemy as sa

from kontaktcenter.cases import merging
from kontaktcenter.cases.enums import Outcome
from kontaktcenter.cases.models import Activity, Case, Contact
from kontaktcenter.channels.email.models import MailMessage
from kontaktcenter.compliance import anonymise, extracts, retention, retention_holds
from kontaktcenter.compliance.extract_models import (
    ExtractStatus,
    RegisterExtractContact,
    RegisterExtractRequest,
)
from kontaktcenter.compliance.retention_models import (
    SKIP_REASONS,
    CaseRetention,
    LegalHold,
    RetentionMode,
    RetentionRule,
    RetentionRun,
)
from kontaktcenter.compliance.retention_rules import RuleData, update_rule
from kontaktcenter.core.errors import ValidationError
from kontaktcenter.core.extensions import db
from kontaktcenter.organisation.models import User
from tests import factories
from tests.test_retention_anonymise import EMAIL, NAME, age, mail_case, person, rule, run

HELD_SUBJECT = "Fråga från Örjan Gallringsson"


def _merged(org):
    """A mail case merged into an older answered case; both closed 500 days ago."""
    survivor = factories.make_case(org.agent, None, outcome=Outcome.ANSWERED)
    absorbed = mail_case(org)
    merging.merge(db.session.get(Case, absorbed.id), org.admin, survivor.reference)
    db.session.commit()
    moved = db.session.scalars(
        sa.select(MailMessage).where(MailMessage.subject == HELD_SUBJECT)
    ).one()
    assert moved.case_id == survivor.id  # the merge moved the citizen's message
    return survivor, absorbed, moved


def _age_both(org, survivor, absorbed):
    age(survivor, 500, org.admin)
    age(absorbed, 500, org.admin)
    rule()


# --- 8: a hold or extract on an absorbed case keeps the survivor -----------------------------


def test_a_hold_on_the_absorbed_case_keeps_its_messages(db_session, org, outbox):
    survivor, absorbed, moved = _merged(org)
    retention_holds.set_hold(db.session.get(Case, absorbed.id), org.admin, "Tvist, spara e-posten")
    _age_both(org, survivor, absorbed)
    dry = run(dry_run=True)
    assert dry.skipped == {"legal_hold": 1, "absorbed_held": 1}
    done = run()
    assert done.processed == 0
    assert done.skipped == {"legal_hold": 1, "absorbed_held": 1}
    db.session.expire_all()
    assert db.session.get(MailMessage, moved.id).subject == HELD_SUBJECT
    assert db.session.get(CaseRetention, survivor.id) is None
    # Released: the survivor goes, and the absorbed case with the next run.
    retention_holds.release_hold(db.session.get(Case, absorbed.id), org.admin, "Tvisten avgjord")
    assert run().processed == 1
    assert run().processed == 1
    db.session.expire_all()
    assert db.session.get(MailMessage, moved.id).subject == ""


def test_a_pending_extract_on_the_absorbed_case_keeps_its_messages(db_session, org, outbox):
    survivor, absorbed, moved = _merged(org)
    assert db.session.get(Case, absorbed.id).contact_id is not None
    request = extracts.create_request(org.admin, extracts.PersonQuery.parse(None, EMAIL))
    assert request.contact_ids
    _age_both(org, survivor, absorbed)
    done = run()
    assert done.processed == 0
    assert done.skipped == {"pending_extract": 1, "absorbed_held": 1}
    db.session.expire_all()
    assert db.session.get(MailMessage, moved.id).subject == HELD_SUBJECT
    request = db.session.get(RegisterExtractRequest, request.id)
    request.status = ExtractStatus.DELIVERED
    db.session.commit()
    assert run().processed == 1
    assert run().processed == 1


def test_the_new_reason_has_a_label():
    assert "absorbed_held" in SKIP_REASONS


# --- 7: no "inaktuell" decision on a gallrad case ---------------------------------------------


def test_a_gallrad_case_cannot_be_declared_inactual(db_session, org):
    case = age(
        factories.make_case(org.agent, org.bygglov, outcome=Outcome.ANSWERED, contact=person()), 500
    )
    months = rule(org.bygglov)
    assert run().processed == 1
    # The rule changes to "vid inaktualitet" afterwards.
    update_rule(
        db.session.get(RetentionRule, months.id),
        RuleData(
            case_type_id=org.bygglov.id,
            mode=RetentionMode.INACTUAL,
            months=None,
            decision_name="Dokumenthanteringsplan för kontaktcenter",
            decision_date=months.decision_date,
            decision_reference="KS 2025/124",
        ),
        None,
    )
    with pytest.raises(ValidationError, match="redan gallrat"):
        retention_holds.declare_inactual(db.session.get(Case, case.id), org.admin)
    state = db.session.get(CaseRetention, case.id)
    assert state.inactual_at is None


# --- races: PostgreSQL only ---------------------------------------------------------------------


def _postgres_only() -> None:
    if db.engine.dialect.name != "postgresql":
        pytest.skip("a race: PostgreSQL only")


def _old_case(org) -> Case:
    return age(
        factories.make_case(org.agent, org.bygglov, outcome=Outcome.ANSWERED, contact=person()), 500
    )


def _during_batch(app, monkeypatch, work) -> list[threading.Thread]:
    """Run `work` in another thread (its own session) while the batch holds its cases, before
    it anonymises them; give it a second, then let the batch go on."""
    real = anonymise.anonymise_cases
    threads: list[threading.Thread] = []

    def other() -> None:
        with app.app_context():
            try:
                work()
            finally:
                db.session.remove()

    def during(ids, session):
        thread = threading.Thread(target=other)
        thread.start()
        thread.join(1.0)  # it waits for the batch's row lock (or is done)
        threads.append(thread)
        real(ids, session)

    monkeypatch.setattr(anonymise, "anonymise_cases", during)
    return threads


def test_a_contact_linked_to_a_new_case_during_the_run_is_kept(app, committed_db, monkeypatch):
    _postgres_only()
    org = factories.make_org()
    old = _old_case(org)
    contact_id = old.contact_id
    new_id = factories.make_case(org.agent, org.bygglov, outcome=Outcome.ANSWERED).id
    rule()
    started = retention.start(dry_run=False, trigger="cli", by=None, dispatch=False)

    real = anonymise._contacts
    linked = threading.Event()
    threads = []

    def agent_saves() -> None:
        # Another request links the contact to a new case: its foreign key check holds a key
        # share lock on the contact until it commits, a moment later.
        with app.app_context(), db.engine.begin() as other:
            other.execute(
                sa.text("UPDATE cases SET contact_id = :c WHERE id = :n"),
                {"c": contact_id, "n": new_id},
            )
            linked.set()
            threading.Event().wait(1.0)

    def contacts(ids, session):
        thread = threading.Thread(target=agent_saves)
        thread.start()
        threads.append(thread)
        assert linked.wait(10)
        real(ids, session)

    monkeypatch.setattr(anonymise, "_contacts", contacts)
    retention.execute(started.id)
    threads[0].join(10)
    db.session.expire_all()
    assert db.session.get(CaseRetention, old.id).gallrad_at is not None
    assert db.session.get(Case, new_id).contact_id == contact_id
    contact = db.session.get(Contact, contact_id)
    assert contact.name == NAME, "the kept case's contact was emptied"


def test_a_hold_set_during_the_batch_is_refused(app, committed_db, monkeypatch):
    _postgres_only()
    org = factories.make_org()
    case_id, admin_id = _old_case(org).id, org.admin.id
    rule()
    started = retention.start(dry_run=False, trigger="cli", by=None, dispatch=False)
    outcome: dict = {}

    def set_hold() -> None:
        try:
            retention_holds.set_hold(
                db.session.get(Case, case_id),
                db.session.get(User, admin_id),
                "Tvist: Örjan Gallringsson har stämt kommunen",
            )
            outcome["ok"] = True
        except ValidationError as error:
            outcome["refused"] = str(error)
        except Exception as error:  # noqa: BLE001
            outcome["error"] = repr(error)

    threads = _during_batch(app, monkeypatch, set_hold)
    retention.execute(started.id)
    threads[0].join(10)
    db.session.expire_all()
    assert db.session.get(CaseRetention, case_id).gallrad_at is not None
    active = db.session.scalars(
        sa.select(LegalHold).where(LegalHold.case_id == case_id, LegalHold.released_at.is_(None))
    ).all()
    texts = db.session.scalars(sa.select(Activity.text).where(Activity.case_id == case_id)).all()
    assert "refused" in outcome and not active, (outcome, [h.reason for h in active], texts)
    assert not any("Tvist" in (text or "") for text in texts)


def test_an_extract_requested_during_the_batch_covers_nothing_gallrad(
    app, committed_db, monkeypatch
):
    _postgres_only()
    org = factories.make_org()
    case = _old_case(org)
    case_id, contact_id, admin_id = case.id, case.contact_id, org.admin.id
    rule()
    started = retention.start(dry_run=False, trigger="cli", by=None, dispatch=False)
    outcome: dict = {}

    def request() -> None:
        created = extracts.create_request(
            db.session.get(User, admin_id), extracts.PersonQuery.parse(None, EMAIL)
        )
        outcome["contacts"] = list(created.contact_ids)

    threads = _during_batch(app, monkeypatch, request)
    retention.execute(started.id)
    threads[0].join(10)
    db.session.expire_all()
    assert db.session.get(CaseRetention, case_id).gallrad_at is not None
    covering = db.session.scalars(
        sa.select(RegisterExtractContact.request_id).where(
            RegisterExtractContact.contact_id == contact_id
        )
    ).all()
    # The request was made once the batch had committed: the emptied contact no longer
    # matches, so no pending request claims data that gallring has already taken.
    assert outcome == {"contacts": []} and not covering, (outcome, covering)


def test_two_real_runs_requested_at_once_start_one(app, committed_db, monkeypatch):
    """Both requests check for an unfinished run before either has written its own: without
    the check and the insert being one at a time, both would start."""
    _postgres_only()
    factories.make_org()
    db.session.commit()
    checked = threading.Barrier(2)
    real_check = retention.unfinished_real_run

    def check_then_wait():
        found = real_check()
        # The other request checks meanwhile if it can; if it cannot, it waits for this one.
        with contextlib.suppress(threading.BrokenBarrierError):
            checked.wait(timeout=2)
        return found

    monkeypatch.setattr(retention, "unfinished_real_run", check_then_wait)
    outcomes: list[str] = []

    def request_run() -> None:
        with app.app_context():
            try:
                retention.start(dry_run=False, trigger="api", by=None, dispatch=False)
                outcomes.append("started")
            except retention.Conflict:
                outcomes.append("refused")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=request_run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(outcomes) == ["refused", "started"]
    runs = db.session.scalars(sa.select(RetentionRun).where(~RetentionRun.dry_run)).all()
    assert len(runs) == 1
