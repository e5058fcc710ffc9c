"""Creating cases: a logged call, an API intake, a visit. Actions on cases: case_actions.py."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm.attributes import set_committed_value

from kontaktcenter.cases import events
from kontaktcenter.cases.contacts import ContactData, EmailIndex, resolve_contact
from kontaktcenter.cases.enums import ActivityKind, CaseStatus, Channel, Outcome, TransferKind
from kontaktcenter.cases.models import Activity, Case
from kontaktcenter.cases.references import next_reference
from kontaktcenter.core.errors import ValidationError
from kontaktcenter.core.extensions import db, utcnow
from kontaktcenter.organisation.models import CaseType, User

SUMMARY_MAX = 4000
# Outcomes that hand the case to the case type's department.
DEPARTMENT_OUTCOMES = {Outcome.HANDED_OFF, Outcome.ROUTED, Outcome.CALLBACK}
# Outcomes that complete the first line's part at once.
CLOSING_OUTCOMES = {Outcome.ANSWERED, Outcome.HANDED_OFF, Outcome.REFERRED}


@dataclass
class NewCase:
    channel: Channel
    summary: str
    case_type: CaseType | None = None
    outcome: Outcome | None = None
    contact: ContactData | None = None
    contact_id: int | None = None
    received_at: datetime | None = None
    transfer: TransferKind | None = None  # handed_off: warm or cold
    handed_to: str | None = None  # handed_off: who took the call
    referred_to: str | None = None  # referred: the other authority
    callback_note: str | None = None  # callback: preferred time, what to call about
    answer: str | None = None  # answered: the answer given (the case's resolution)
    note: str | None = None  # internal note


def add_activity(
    case: Case, kind: ActivityKind, by: User | None, text: str | None = None, **data: Any
) -> Activity:
    activity = Activity(
        case=case, kind=kind, actor=by, text=text or None, data=data, created_at=utcnow()
    )
    db.session.add(activity)
    return activity


def validate_summary(summary: str | None) -> str:
    summary = (summary or "").strip()
    if not summary:
        raise ValidationError("Skriv en kort sammanfattning av ärendet.", "summary")
    if len(summary) > SUMMARY_MAX:
        raise ValidationError(f"Sammanfattningen får vara högst {SUMMARY_MAX} tecken.", "summary")
    return summary


def _validate(data: NewCase, now: datetime) -> None:
    data.summary = validate_summary(data.summary)
    if data.case_type is not None and not data.case_type.active:
        raise ValidationError("Ärendetypen används inte längre.", "case_type")
    if data.outcome in DEPARTMENT_OUTCOMES and data.case_type is None:
        raise ValidationError(
            "Välj ärendetyp: den avgör vilken förvaltning som tar över.", "case_type"
        )
    if data.outcome == Outcome.HANDED_OFF and data.case_type and not data.case_type.direct_number:
        raise ValidationError("Ärendetypen har inget direktnummer att koppla till.", "case_type")
    if data.outcome == Outcome.REFERRED and not (data.referred_to or "").strip():
        raise ValidationError("Ange vilken myndighet du hänvisade till.", "referred_to")
    for field, value, limit in (
        ("referred_to", data.referred_to, 200),
        ("handed_to", data.handed_to, 120),
        ("callback_note", data.callback_note, 500),
        ("answer", data.answer, SUMMARY_MAX),
        ("note", data.note, SUMMARY_MAX),
    ):
        if value is not None and len(value.strip()) > limit:
            raise ValidationError(f"Texten får vara högst {limit} tecken.", field)
    if data.outcome is None and data.channel in (Channel.PHONE, Channel.VISIT):
        raise ValidationError("Välj hur kontakten avslutades.", "outcome")
    if data.received_at is not None:
        if data.received_at.tzinfo is None:
            raise ValidationError("Mottagningstiden måste ha en tidszon.", "received_at")
        if data.received_at > now + timedelta(minutes=5):
            raise ValidationError("Mottagningstiden kan inte ligga i framtiden.", "received_at")
        if data.received_at < now - timedelta(days=5 * 366):
            raise ValidationError("Mottagningstiden ligger för långt tillbaka.", "received_at")


def create_case(data: NewCase, *, by: User | None) -> Case:
    """Register a contact as a case with its outcome, in one transaction: all of it, or (on a
    refusal) nothing, so that a later commit in the same request cannot save half a case."""
    try:
        case = build_case(data, by=by)
        commit_keeping_state()
    except Exception:
        db.session.rollback()
        raise
    return case


def commit_keeping_state() -> None:
    """Commit without expiring what the session holds. The caller answers with the case it
    has just written (the API's JSON, the call form's confirmation); expired, it would be read
    back table by table (the API's answer: eight SELECTs of what is in memory). What the
    session holds is what this transaction committed: a new case, its timeline and goals, the
    rows it read. The next request starts with a new session."""
    session = db.session()
    session.expire_on_commit = False
    try:
        session.commit()
    finally:
        session.expire_on_commit = True


def build_case(
    data: NewCase,
    *,
    by: User | None,
    contacts: EmailIndex | None = None,
    numbered: bool = True,
) -> Case:
    """Everything create_case does except the commit: for callers that add more to the same
    transaction (e-mail intake stores the message together with its case).

    A caller creating many cases in one transaction passes `contacts` (look-ups for the batch)
    and ``numbered=False``, and then numbers them all at once (references.next_references)."""
    now = utcnow()
    _validate(data, now)
    # In UTC, as the database gives it back: the case is answered from memory after the
    # commit (commit_keeping_state), and must read the same as when it is read again.
    received = (data.received_at or now).astimezone(UTC)
    # Nothing is flushed until the reference is taken, last: the counter row's lock (which
    # serialises every case creation) is then held only for the rest of the transaction.
    with db.session.no_autoflush:
        contact = resolve_contact(data.contact, data.contact_id, index=contacts)
        case = Case(
            channel=data.channel,
            status=CaseStatus.NEW,
            case_type=data.case_type,
            summary=data.summary,
            contact=contact,
            created_by=by,
            received_at=received,
            created_at=now,
            due_at=received,  # replaced by the service goals below
        )
        set_committed_value(case, "messages", [])  # a new case has no e-mail: nothing to load
        if data.channel in (Channel.PHONE, Channel.VISIT):
            # The citizen spoke to us: that is the first response.
            case.first_response_at = received
        db.session.add(case)
        kind = ActivityKind.CALL_LOGGED if data.channel == Channel.PHONE else ActivityKind.CREATED
        add_activity(case, kind, by, channel=data.channel.value)
        if data.note and data.note.strip():
            add_activity(case, ActivityKind.NOTE, by, data.note.strip())
        events.created.send(case, at=now)
        if data.outcome is not None:
            _apply_outcome(case, data, by, now, received)
        if numbered:
            case.reference = next_reference(now)
    return case


def _apply_outcome(
    case: Case, data: NewCase, by: User | None, now: datetime, contact_time: datetime
) -> None:
    """The outcome happened during the contact: its goals count from the contact's time."""
    case.outcome = data.outcome
    case_type = data.case_type
    if data.outcome in DEPARTMENT_OUTCOMES:
        assert case_type is not None
        case.department = case_type.department
    answer = (data.answer or "").strip() if data.outcome == Outcome.ANSWERED else ""
    if data.outcome == Outcome.ANSWERED:
        add_activity(case, ActivityKind.ANSWERED, by, answer)
    elif data.outcome == Outcome.HANDED_OFF:
        assert case_type is not None
        add_activity(
            case,
            ActivityKind.HANDED_OFF,
            by,
            number=case_type.direct_number,
            to=(data.handed_to or "").strip() or case_type.direct_number_answered_by,
            transfer=(data.transfer or TransferKind.WARM).value,
            department=case_type.department.name,
        )
    elif data.outcome == Outcome.ROUTED:
        assert case_type is not None
        add_activity(case, ActivityKind.ROUTED, by, department=case_type.department.name)
        events.routed.send(case, at=contact_time)
    elif data.outcome == Outcome.CALLBACK:
        assert case_type is not None
        due_at = events.book_callback(case, contact_time)
        add_activity(
            case,
            ActivityKind.CALLBACK_BOOKED,
            by,
            data.callback_note,
            due_at=due_at.isoformat(),
            department=case_type.department.name,
        )
    elif data.outcome == Outcome.REFERRED:
        case.referred_to = (data.referred_to or "").strip()
        add_activity(case, ActivityKind.REFERRED, by, authority=case.referred_to)
    if data.outcome in CLOSING_OUTCOMES:
        case.status = CaseStatus.CLOSED
        case.closed_at = now
        case.resolution = answer or case.summary
        add_activity(case, ActivityKind.CLOSED, by)
        events.closed.send(case, at=max(now, contact_time))
