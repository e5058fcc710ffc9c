"""The callbacks worklist queries (#14) the pages and the API read: scope, order, counts,
letters, today's closed ones, masking; and the promise kept in step whatever order the
receivers of a booking run in."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from kontaktcenter.callbacks import booking, hooks, services, worklist
from kontaktcenter.callbacks.models import Callback, CallbackSource
from kontaktcenter.callbacks.services import CallbackRequest
from kontaktcenter.cases.contacts import ContactData
from kontaktcenter.cases.enums import CallbackResult, Channel, Outcome
from kontaktcenter.core.extensions import db, utcnow
from kontaktcenter.organisation.models import CaseType
from tests import factories

assert hooks


def request(org, number: str, hours: float, case_type=None) -> Callback:
    start = utcnow() + timedelta(minutes=5)
    return services.request(
        CallbackRequest(
            CallbackSource.PLATFORM,
            number=number,
            case_type=case_type,
            slot_start=start,
            slot_end=utcnow() + timedelta(hours=hours),
        ),
        org.agent,
    ).callback


def department_callback(org, case_type: CaseType, phone: str) -> Callback:
    case = factories.make_case(
        org.agent, case_type, outcome=Outcome.CALLBACK, contact=ContactData(phone=phone)
    )
    callback = services.open_callback(case)
    assert callback is not None
    return callback


def test_pending_lists_the_scope_by_promise_with_what_the_page_shows(org):
    later = request(org, "070-100 00 01", 5, org.bygglov)
    sooner = request(org, "070-100 00 02", 1)
    department_callback(org, org.miljotillsyn, "070-100 00 03")
    rows = worklist.pending(org.agent, worklist.CONTACT_CENTER)
    assert [r.callback.id for r in rows] == [sooner.id, later.id]
    row = rows[1]
    assert row.reference == later.case.reference and row.case_type == "Bygglov"
    assert row.number == "070-100 00 01" and row.number_e164 == "+46701000001"
    assert (row.attempts, row.max_attempts) == (0, 3)
    assert row.slot_start == later.slot_start and not row.callable and not row.overdue
    assert len(worklist.pending(org.agent)) == 3


def test_a_handler_sees_only_their_departments_callbacks(org):
    request(org, "070-100 00 01", 1)
    bygg = department_callback(org, org.bygglov, "070-100 00 02")
    department_callback(org, org.miljotillsyn, "070-100 00 03")
    assert [r.callback.id for r in worklist.pending(org.handler_bygg)] == [bygg.id]
    assert worklist.pending(org.handler_bygg, org.miljo.id) == []
    assert worklist.counts(org.handler_bygg).waiting == 1


def test_a_secret_cases_number_is_masked_outside_its_department(org):
    org.bygglov.secrecy_ground = "OSL 26:1"
    db.session.commit()
    department_callback(org, org.bygglov, "070-123 45 67")
    [row] = worklist.pending(org.agent)
    assert row.number == "070-*** ** 67" and row.number_e164 is None and row.note is None
    [own] = worklist.pending(org.handler_bygg)
    assert own.number == "070-123 45 67"


def test_counts_tell_waiting_overdue_and_due_soon_apart(org):
    request(org, "070-100 00 01", 1)  # due within two hours
    request(org, "070-100 00 02", 5)
    overdue = request(org, "070-100 00 03", 5)
    overdue.due_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    counts = worklist.counts(org.agent, worklist.CONTACT_CENTER)
    assert (counts.waiting, counts.overdue, counts.due_soon, counts.letters) == (3, 1, 1, 0)


def test_letters_to_send_and_todays_closed(org):
    letter = request(org, "070-100 00 01", 1)
    letter.next_attempt_at = None
    reached = request(org, "070-100 00 02", 1)
    db.session.commit()
    services.record_attempt(letter, org.agent, CallbackResult.WRONG_NUMBER)
    services.record_attempt(reached, org.agent, CallbackResult.REACHED)
    assert [r.callback.id for r in worklist.letters(org.agent)] == [letter.id]
    assert worklist.counts(org.agent).letters == 1
    assert {r.callback.id for r in worklist.closed_today(org.agent)} == {letter.id, reached.id}
    services.mark_letter_sent(letter, org.agent)
    assert worklist.letters(org.agent) == []
    assert worklist.closed_today(org.agent, now=utcnow() + timedelta(days=1)) == []


def test_the_row_follows_a_promise_set_after_the_booking_receiver_ran(org):
    """Blinker calls receivers in no set order: the goals may set the promise after the row
    was made; the row must follow."""
    case = factories.make_case(org.agent, None, outcome=None, channel=Channel.EMAIL)
    case.callback_due_at = None
    callback = booking.booked(case, utcnow(), None)
    promised = utcnow() + timedelta(hours=7)
    case.callback_due_at = promised
    assert callback.due_at == promised


@pytest.mark.parametrize("number", ["+46701234567", "+4660191000"])
def test_a_masked_number_keeps_only_its_start_and_end(number):
    masked = worklist.mask_number(number)
    digits = [ch for ch in masked if ch.isdigit()]
    assert len(digits) == 5 and "*" in masked


def test_the_worklist_query_uses_the_pending_index(org):
    query = "SELECT id FROM callbacks WHERE status = 'pending' ORDER BY due_at, id LIMIT 1"
    if db.session.get_bind().dialect.name == "sqlite":
        plan = db.session.execute(sa.text(f"EXPLAIN QUERY PLAN {query}")).all()
    else:  # an empty table: tell the planner a scan is no option, so only an index can serve
        db.session.execute(sa.text("SET LOCAL enable_seqscan = off"))
        plan = db.session.execute(sa.text(f"EXPLAIN {query}")).all()
    assert "ix_callbacks_pending_due" in str(plan)
