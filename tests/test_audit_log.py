"""The audit log is append-only, verifiably: the hash chain, its seal and verification, the
ORM guard, PostgreSQL's triggers, the retention purge and its anchor, and the case changes
logged in the transaction that makes them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from kontaktcenter.cases import actions, events
from kontaktcenter.cases.enums import ActivityKind, Channel
from kontaktcenter.cases.services import add_activity
from kontaktcenter.core import audit, audit_chain
from kontaktcenter.core.audit import CHAIN_ID, GENESIS, AuditChain, AuditEvent
from kontaktcenter.core.extensions import db, utcnow
from tests.factories import make_case

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


def _postgres() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def _events(user, count: int, **when) -> list[AuditEvent]:
    made = [audit.add(user, "view_case", n=i, **when) for i in range(count)]
    db.session.commit()
    return made


def _raw(sql: str, **params) -> None:
    """A statement behind the app's back; on PostgreSQL with the guard trigger switched off
    for this (rolled back) transaction, as a table owner could."""
    if _postgres():
        db.session.execute(sa.text("ALTER TABLE audit_events DISABLE TRIGGER audit_events_guard"))
    db.session.execute(sa.text(sql), params)
    if _postgres():
        db.session.execute(sa.text("ALTER TABLE audit_events ENABLE TRIGGER audit_events_guard"))


def _chain() -> AuditChain:
    chain = db.session.get(AuditChain, CHAIN_ID, populate_existing=True)
    assert chain is not None
    return chain


def _refused(sql: str, **params) -> bool:
    """Run `sql` in a savepoint: True if the database refused it."""
    try:
        with db.session.begin_nested():
            db.session.execute(sa.text(sql), params)
    except sa.exc.DBAPIError as error:
        assert "append-only" in str(error) or "audit_chain" in str(error), error
        return True
    return False


# -- The chain -----------------------------------------------------------------------------------


def test_the_seal_chains_events_in_id_order_and_verification_recomputes_it(org):
    made = _events(org.admin, 3)
    assert all(event.seq is None for event in made)
    assert audit_chain.seal() == 3
    rows = db.session.execute(
        sa.select(AuditEvent.__table__).where(AuditEvent.id.in_([e.id for e in made]))
    ).all()
    rows.sort(key=lambda row: row.id)
    assert [row.seq for row in rows] == [row.seq for row in sorted(rows, key=lambda r: r.seq)]
    previous = _previous_hash(rows[0].seq)
    for row in rows:
        assert row.hash == audit_chain.chained_hash(previous, row)
        previous = row.hash
    assert _chain().last_seq == rows[-1].seq and _chain().last_hash == rows[-1].hash
    result = audit_chain.verify()
    assert result.intact and result.checked >= 3 and result.problem is None
    assert _chain().verified_intact is True


def _previous_hash(seq: int) -> str:
    if seq == 1:
        return GENESIS
    found = db.session.scalar(sa.select(AuditEvent.hash).where(AuditEvent.seq == seq - 1))
    return found or _chain().purged_hash


def test_an_event_committed_late_takes_the_next_place_in_the_chain(org):
    base = db.session.scalar(sa.select(sa.func.max(AuditEvent.id))) or 0
    later = AuditEvent(id=base + 10, user_id=org.admin.id, action="view_case", detail={})
    db.session.add(later)
    db.session.commit()
    audit_chain.seal()
    # A request that took its id earlier commits now, after `later` was sealed.
    first = AuditEvent(id=base + 5, user_id=org.admin.id, action="view_case", detail={})
    db.session.add(first)
    db.session.commit()
    assert audit_chain.seal() == 1
    seq_first, seq_later = (
        db.session.scalar(sa.select(AuditEvent.seq).where(AuditEvent.id == e.id))
        for e in (first, later)
    )
    assert seq_first == seq_later + 1
    assert audit_chain.verify().intact


def test_a_changed_field_breaks_the_chain_where_it_was_changed(org):
    made = _events(org.admin, 3)
    audit_chain.seal()
    middle = db.session.scalar(sa.select(AuditEvent.seq).where(AuditEvent.id == made[1].id))
    _raw("UPDATE audit_events SET action = 'search' WHERE id = :id", id=made[1].id)
    result = audit_chain.verify()
    assert not result.intact and result.broken_seq == middle
    assert "har ändrats" in (result.problem or "")
    assert _chain().verified_intact is False


def test_a_changed_detail_breaks_the_chain(org):
    made = _events(org.admin, 2)
    audit_chain.seal()
    _raw("UPDATE audit_events SET detail = :d WHERE id = :id", d='{"n": 7}', id=made[0].id)
    assert not audit_chain.verify().intact


def test_a_removed_event_breaks_the_chain(org):
    made = _events(org.admin, 3)
    audit_chain.seal()
    seq = db.session.scalar(sa.select(AuditEvent.seq).where(AuditEvent.id == made[1].id))
    _raw("DELETE FROM audit_events WHERE id = :id", id=made[1].id)
    result = audit_chain.verify()
    assert not result.intact and result.broken_seq == seq and "saknas" in (result.problem or "")


def test_a_cut_off_tail_breaks_the_chain(org):
    made = _events(org.admin, 2)
    audit_chain.seal()
    _raw("DELETE FROM audit_events WHERE id = :id", id=made[-1].id)
    result = audit_chain.verify()
    assert not result.intact and "slutar" in (result.problem or "")


def test_a_deleted_chain_row_is_a_broken_chain_and_stops_the_seal(org):
    _events(org.admin, 1)
    audit_chain.seal()
    db.session.execute(sa.delete(AuditChain.__table__))
    db.session.commit()
    result = audit_chain.verify()
    assert not result.intact and result.problem == "Kedjans huvudrad saknas."
    with pytest.raises(audit_chain.ChainMissing):
        audit_chain.seal()


def test_an_emptied_log_starts_a_new_chain(org):
    db.session.execute(sa.delete(AuditChain.__table__))
    db.session.commit()
    _events(org.admin, 2)
    assert audit_chain.verify().intact
    assert _chain().last_seq == 2 and _chain().purged_hash == GENESIS


def test_the_cli_says_whether_the_chain_is_intact(app, org):
    made = _events(org.admin, 2)
    runner = app.test_cli_runner()
    ok = runner.invoke(args=["audit", "verify"])
    assert ok.exit_code == 0, ok.output
    assert "intact" in ok.output
    _raw("UPDATE audit_events SET user_id = NULL WHERE id = :id", id=made[0].id)
    broken = runner.invoke(args=["audit", "verify"])
    assert broken.exit_code == 1 and "BROKEN" in broken.output


# -- Nothing changes an event -------------------------------------------------------------------


def test_the_orm_refuses_to_change_or_delete_an_event(org):
    event = _events(org.admin, 1)[0]
    event.action = "search"
    with pytest.raises(RuntimeError, match="append-only"):
        db.session.flush()
    db.session.rollback()
    event = db.session.get(AuditEvent, event.id)
    db.session.delete(event)
    with pytest.raises(RuntimeError, match="append-only"):
        db.session.flush()
    db.session.rollback()


def test_the_database_refuses_an_update_or_the_chain_detects_it(org):
    made = _events(org.admin, 2)
    audit_chain.seal()
    refused = _refused("UPDATE audit_events SET action = 'x' WHERE id = :id", id=made[0].id)
    assert refused == _postgres()
    assert audit_chain.verify().intact == _postgres()


def test_the_database_refuses_a_delete_or_the_chain_detects_it(org):
    made = _events(org.admin, 2)
    audit_chain.seal()
    refused = _refused("DELETE FROM audit_events WHERE id = :id", id=made[0].id)
    assert refused == _postgres()
    assert audit_chain.verify().intact == _postgres()


# -- Retention -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "months", "expected"),
    [
        (datetime(2026, 3, 31, tzinfo=UTC), 1, datetime(2026, 2, 28, tzinfo=UTC)),
        (datetime(2024, 3, 31, tzinfo=UTC), 1, datetime(2024, 2, 29, tzinfo=UTC)),
        (datetime(2026, 1, 15, tzinfo=UTC), 60, datetime(2021, 1, 15, tzinfo=UTC)),
        (datetime(2026, 1, 15, tzinfo=UTC), 13, datetime(2024, 12, 15, tzinfo=UTC)),
    ],
)
def test_months_before(moment, months, expected):
    assert audit_chain.months_before(moment, months) == expected


def _aged(user, created: datetime) -> AuditEvent:
    event = audit.add(user, "view_case")
    event.created_at = created
    db.session.commit()
    return event


def test_the_purge_removes_old_events_as_a_prefix_and_the_rest_still_verifies(app, org):
    audit_chain.seal()  # whatever the database held already is younger than the horizon
    base = _chain().last_seq
    old = [_aged(org.admin, NOW - timedelta(days=800 + i)).id for i in range(3)]
    young = _aged(org.admin, NOW - timedelta(days=10)).id
    older_after_young = _aged(org.admin, NOW - timedelta(days=900)).id
    audit_chain.seal()
    assert base == 0, "the test database holds events of another test"
    removed = audit_chain.purge(now=NOW, months=24)
    assert removed == 3
    left = set(db.session.scalars(sa.select(AuditEvent.id)))
    assert not left & set(old)
    assert {young, older_after_young} <= left  # the prefix stops at the young event
    chain = _chain()
    assert chain.purged_seq == 3 and chain.purged_at is not None
    assert audit_chain.verify().intact
    assert audit_chain.purge(now=NOW, months=24) == 0  # idempotent


def test_the_purge_uses_the_setting(app, org):
    _aged(org.admin, NOW - timedelta(days=400))
    audit_chain.seal()
    app.config["AUDIT_RETENTION_MONTHS"] = 24
    try:
        assert audit_chain.purge(now=NOW) == 0
        app.config["AUDIT_RETENTION_MONTHS"] = 12
        assert audit_chain.purge(now=NOW) == 1
    finally:
        app.config["AUDIT_RETENTION_MONTHS"] = 60


# -- Changes are logged with the change ----------------------------------------------------------


def _actions_for(case) -> list[tuple[str, int | None]]:
    return [
        (event.action, event.user_id)
        for event in db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.case_id == case.id).order_by(AuditEvent.id)
        )
    ]


def test_creating_routing_and_closing_a_case_are_logged_with_who_did_it(org):
    case = make_case(org.agent, org.bygglov)
    logged = _actions_for(case)
    assert ("create_case", org.agent.id) in logged
    assert ("route_case", org.agent.id) in logged
    actions.close(case, org.handler_bygg, "Klart.")
    db.session.commit()
    assert _actions_for(case)[-1] == ("close_case", org.handler_bygg.id)
    event = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "close_case")).one()
    assert event.detail == {"reference": case.reference} and event.contact_id == case.contact_id


def test_a_change_rolled_back_leaves_no_audit_row(org):
    case = make_case(org.agent, None, outcome=None, channel=Channel.EMAIL)
    before = _actions_for(case)
    # A change announced, then rolled back (a conflict, a failure after the signal).
    add_activity(case, ActivityKind.CLOSED, org.agent, "Besvarat.")
    events.closed.send(case, at=utcnow())
    db.session.rollback()
    db.session.commit()
    assert _actions_for(case) == before
    actions.close(case, org.agent, "Besvarat.")
    assert _actions_for(case) == [*before, ("close_case", org.agent.id)]


def test_add_does_not_commit_and_record_does(org):
    event = audit.add(org.admin, "view_case", n=1)
    db.session.flush()
    event_id = event.id
    db.session.rollback()
    assert db.session.get(AuditEvent, event_id) is None
    audit.record(org.admin, "view_case", n=2)
    db.session.rollback()
    assert db.session.scalars(sa.select(AuditEvent).where(AuditEvent.user_id == org.admin.id)).all()
