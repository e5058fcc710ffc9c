"""Gallring: the rules decide what is due, holds and pending extracts block, runs are logged,
and a run killed half-way finishes the rest without doing anything twice."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from kontaktcenter.cases.enums import Outcome
from kontaktcenter.cases.models import Case
from kontaktcenter.compliance import extracts, retention, retention_holds
from kontaktcenter.compliance.extract_models import ExtractStatus
from kontaktcenter.compliance.retention_models import (
    CaseRetention,
    RetentionMode,
    RetentionRun,
    RunState,
)
from kontaktcenter.compliance.retention_rules import RuleData, create_rule, update_rule
from kontaktcenter.compliance.retention_selection import months_before
from kontaktcenter.core.errors import Conflict, Forbidden, NotFound, ValidationError
from kontaktcenter.core.extensions import db
from tests import factories
from tests.test_retention_anonymise import age, person, rule, run


def closed(org, days: int, case_type=None, contact=None):
    case = factories.make_case(
        org.agent,
        case_type if case_type is not None else org.bygglov,
        outcome=Outcome.ANSWERED,
        contact=contact
        or person(
            name=f"Person {days}", phone=f"070-111 {days:02d} 00", email=f"p{days}@example.se"
        ),
    )
    return age(case, days)


def gallrad(case) -> bool:
    state = db.session.get(CaseRetention, case.id)
    return state is not None and state.gallrad_at is not None


def test_months_before_keeps_to_the_month_end():
    moment = datetime(2026, 3, 31, 12, tzinfo=UTC)
    assert months_before(moment, 1) == datetime(2026, 2, 28, 12, tzinfo=UTC)
    assert months_before(moment, 12) == datetime(2025, 3, 31, 12, tzinfo=UTC)
    assert months_before(moment, 15) == datetime(2024, 12, 31, 12, tzinfo=UTC)


def test_a_case_is_due_only_past_its_types_months(db_session, org):
    young = closed(org, 300)  # 10 months
    old = closed(org, 400)  # 13 months
    rule(org.bygglov, months=12)
    done = run()
    db.session.expire_all()
    assert (gallrad(young), gallrad(old)) == (False, True)
    assert done.processed == 1
    (part,) = done.counts.values()
    assert part["case_types"] == {"Bygglov": 1} and part["total"] == 1


def test_the_type_rule_wins_over_the_default(db_session, org):
    bygg = closed(org, 400, org.bygglov)
    miljo = closed(org, 400, org.miljotillsyn)
    untyped = age(
        factories.make_case(
            org.agent,
            None,
            outcome=Outcome.ANSWERED,
            contact=person(name="Utan Typ", phone="070-222 33 44", email="u@example.se"),
        ),
        400,
    )
    rule(org.bygglov, months=24)
    rule(None, months=6)
    run()
    db.session.expire_all()
    assert (gallrad(bygg), gallrad(miljo), gallrad(untyped)) == (False, True, True)


def test_open_cases_and_cases_without_a_rule_are_kept(db_session, org):
    open_case = factories.make_case(org.agent, org.bygglov, contact=person())
    db.session.get(Case, open_case.id).received_at -= timedelta(days=900)
    db.session.commit()
    other = closed(org, 900, org.miljotillsyn)
    rule(org.bygglov, months=1)
    run()
    db.session.expire_all()
    assert not gallrad(open_case) and not gallrad(other)


def test_vid_inaktualitet_waits_for_a_decision_on_the_case(db_session, org):
    case = closed(org, 2000)
    rule(org.bygglov, mode=RetentionMode.INACTUAL)
    assert run().processed == 0
    case = db.session.get(Case, case.id)
    case.department_id = org.bygg.id
    db.session.commit()
    with pytest.raises(Forbidden):
        retention_holds.declare_inactual(case, org.agent)
    retention_holds.declare_inactual(case, org.handler_bygg)
    assert run().processed == 1
    db.session.expire_all()
    assert gallrad(case)


def test_a_legal_hold_blocks_and_its_release_unblocks(db_session, org):
    case = closed(org, 400)
    db.session.get(Case, case.id).department_id = org.bygg.id
    db.session.commit()
    rule(org.bygglov, months=12)
    retention_holds.set_hold(db.session.get(Case, case.id), org.handler_bygg, "Överklagat")
    dry = run(dry_run=True)
    assert dry.total == 0 and dry.skipped == {"legal_hold": 1}
    done = run()
    assert done.processed == 0 and done.skipped == {"legal_hold": 1}
    db.session.expire_all()
    assert not gallrad(case)
    assert any(a.data.get("legal_hold") == "set" for a in db.session.get(Case, case.id).activities)
    retention_holds.release_hold(db.session.get(Case, case.id), org.admin, "Avgjort")
    assert run().processed == 1


def test_who_may_set_a_hold(db_session, org):
    case = closed(org, 10)
    case = db.session.get(Case, case.id)
    case.department_id = org.bygg.id
    db.session.commit()
    with pytest.raises(Forbidden):
        retention_holds.set_hold(case, org.agent, "Nej")  # the contact center does not decide
    with pytest.raises(NotFound):
        retention_holds.set_hold(case, org.handler_miljo, "Nej")  # another department
    with pytest.raises(ValidationError):
        retention_holds.set_hold(case, org.handler_bygg, "  ")  # a reason is required
    retention_holds.set_hold(case, org.handler_bygg, "Tvist")
    with pytest.raises(ValidationError):
        retention_holds.set_hold(case, org.admin, "Igen")  # one at a time


def test_a_pending_register_extract_blocks(db_session, org):
    case = closed(org, 400)
    rule(org.bygglov, months=12)
    request = extracts.create_request(
        org.admin, extracts.PersonQuery.parse(None, case.contact.email)
    )
    done = run()
    assert done.processed == 0 and done.skipped == {"pending_extract": 1}
    request.status = ExtractStatus.DELIVERED
    db.session.commit()
    assert run().processed == 1


def test_a_case_merged_into_a_kept_case_waits_for_it(db_session, org):
    absorbed = closed(org, 400)
    survivor = closed(org, 100)
    db.session.get(Case, absorbed.id).merged_into_id = survivor.id
    db.session.commit()
    rule(org.bygglov, months=12)
    done = run()
    assert done.processed == 0 and done.skipped == {"merged_into_kept": 1}


def test_the_dry_run_changes_nothing_and_gives_a_sample(db_session, org):
    cases = [closed(org, 400 + n) for n in range(3)]
    rule(org.bygglov, months=12)
    dry = run(dry_run=True)
    assert dry.state == RunState.FINISHED and dry.total == 3
    assert sorted(s["reference"] for s in dry.sample) == sorted(c.reference for c in cases)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(CaseRetention)) == 0


def test_a_killed_run_resumes_and_does_nothing_twice(db_session, org, app, monkeypatch):
    cases = [closed(org, 400 + n) for n in range(7)]
    rule(org.bygglov, months=12)
    monkeypatch.setitem(app.config, "RETENTION_BATCH", 2)
    started = retention.start(dry_run=False, trigger="cli", by=None, dispatch=False)
    with pytest.raises(SystemExit):
        retention.execute(started.id, crash_after=2)  # killed after two committed batches
    db.session.expire_all()
    half = db.session.get(RetentionRun, started.id)
    assert half.state == RunState.RUNNING and half.processed == 4
    marked = {c.case_id: c.gallrad_at for c in db.session.scalars(sa.select(CaseRetention))}
    assert len(marked) == 4
    with pytest.raises(Conflict):
        retention.start(dry_run=False, trigger="cli", by=None)  # one real run at a time
    assert retention.execute(started.id) == "done"
    db.session.expire_all()
    done = db.session.get(RetentionRun, started.id)
    assert done.state == RunState.FINISHED and done.processed == 7
    after = {c.case_id: c.gallrad_at for c in db.session.scalars(sa.select(CaseRetention))}
    assert set(after) == {c.id for c in cases}
    assert all(after[i] == when for i, when in marked.items())  # the first four not again
    assert retention.execute(started.id) == "done"  # a repeated task does nothing
    assert run(dry_run=True).total == 0  # gallrad cases are never due again
    assert run().processed == 0


def test_a_failed_run_is_logged_and_can_be_resumed(db_session, org, monkeypatch):
    closed(org, 400)
    rule(org.bygglov, months=12)

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(retention.anonymise, "anonymise_cases", broken)
    failed = run()
    assert failed.state == RunState.FAILED and "disk full" in failed.error
    monkeypatch.undo()
    retention.resume(failed, org.admin)
    db.session.expire_all()
    assert db.session.get(RetentionRun, failed.id).state == RunState.FINISHED


def test_rules_need_a_decision_and_one_per_case_type(db_session, org):
    data = dict(
        case_type_id=org.bygglov.id,
        mode=RetentionMode.MONTHS,
        months=12,
        decision_name="Plan",
        decision_date=date(2025, 1, 1),
    )
    first = create_rule(RuleData(**data), org.admin)
    with pytest.raises(ValidationError, match="redan en aktiv regel"):
        create_rule(RuleData(**data), org.admin)
    with pytest.raises(ValidationError):
        create_rule(RuleData(**{**data, "case_type_id": None, "decision_name": " "}), org.admin)
    with pytest.raises(ValidationError):
        create_rule(RuleData(**{**data, "case_type_id": None, "months": 0}), org.admin)
    with pytest.raises(ValidationError):
        update_rule(first, RuleData(**{**data, "decision_date": date(2999, 1, 1)}), org.admin)
    inactual = create_rule(
        RuleData(**{**data, "case_type_id": None, "mode": RetentionMode.INACTUAL}), org.admin
    )
    assert inactual.months is None


def test_cli_dry_run_and_run(db_session, org, app):
    closed(org, 400)
    rule(org.bygglov, months=12)
    runner = app.test_cli_runner()
    dry = runner.invoke(args=["gallring", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "1 skulle gallras" in dry.output and "Bygglov: 1" in dry.output
    real = runner.invoke(args=["gallring", "--run"])
    assert real.exit_code == 0, real.output
    assert "1 gallrade" in real.output
    assert runner.invoke(args=["gallring"]).exit_code != 0


def test_the_schedule_is_off_by_default_and_runs_once_a_day(db_session, org, app, monkeypatch):
    from kontaktcenter.compliance.retention_views import scheduled_gallring

    closed(org, 400)
    rule(org.bygglov, months=12)
    assert app.config["RETENTION_SCHEDULE"] is False
    scheduled_gallring()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(RetentionRun)) == 0
    monkeypatch.setitem(app.config, "RETENTION_SCHEDULE", True)
    scheduled_gallring()
    scheduled_gallring()  # within the day: nothing more
    runs = db.session.scalars(sa.select(RetentionRun)).all()
    assert [(r.trigger, r.dry_run, r.processed) for r in runs] == [("schedule", False, 1)]
