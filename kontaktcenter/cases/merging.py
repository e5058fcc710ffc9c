"""Two cases about one matter: merge them, or link related ones.

A merge keeps the older case (its reference is the one the citizen has had longest) and closes
the newer one, pointing it at the survivor (``merged_into``). The newer case's mail moves to the
survivor, so the page shows every message and a reply quoting any of their Message-IDs threads
there (the automatic receipt stays, one per case); mail citing the newer reference, or a
Message-ID still on the newer case, is followed to the survivor at filing. Timelines are
append-only and stay where they were written: the survivor's page reads both. Only cases held by
the same unit (the contact center, or one department) can be merged: a merge must not carry one
nämnd's mail into another's case. Every change is on both timelines and in the audit log, and
each function commits once (or not at all).
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from kontaktcenter.cases import access, events
from kontaktcenter.cases.actions import _text, acting
from kontaktcenter.cases.enums import ActivityKind, CaseStatus
from kontaktcenter.cases.models import Case, CaseLink
from kontaktcenter.cases.references import parse_reference
from kontaktcenter.cases.services import add_activity
from kontaktcenter.core.audit import AuditEvent
from kontaktcenter.core.errors import ValidationError
from kontaktcenter.core.extensions import db, utcnow
from kontaktcenter.organisation.models import User

ALREADY_LINKED = "Ärendena är redan kopplade."


def _holder(case: Case) -> str:
    return case.department.name if case.department is not None else "Kontaktcenter"


def find_other(by: User, case: Case, text: str | None, field: str = "reference") -> Case:
    """The case `by` means by the reference they typed: one they can see, not this one, not
    merged away."""
    reference = parse_reference(text)
    if reference is None:
        raise ValidationError("Skriv ett ärendenummer, till exempel KC-2026-000123.", field)
    other = db.session.scalars(sa.select(Case).where(Case.reference == reference)).first()
    if other is None or not access.can_view(by, other):
        raise ValidationError(
            f"Det finns inget ärende {reference} som du har tillgång till.", field
        )
    if other.id == case.id:
        raise ValidationError("Välj ett annat ärende än det här.", field)
    if other.merged_into is not None:
        target = other.merged_into
        where = target.reference if access.can_view(by, target) else "ett annat ärende"
        raise ValidationError(
            f"{other.reference} är redan sammanslaget med {where}. Välj det ärendet i stället.",
            field,
        )
    return other


def _audit(by: User, action: str, case: Case, **detail: str) -> None:
    db.session.add(
        AuditEvent(
            user_id=by.id, action=action, case_id=case.id, contact_id=case.contact_id, detail=detail
        )
    )


def merge(
    case: Case,
    by: User,
    reference: str | None,
    note: str | None = None,
    expected_version: int | None = None,
) -> Case:
    """Merge `case` and the case `reference` names. Returns the surviving (older) case."""
    body = _text(note, "note", label="Anteckningen")
    with acting(case, by, "merge", expected_version):
        other = find_other(by, case, reference)
        access.ensure(by, "merge", other)
        if other.department_id != case.department_id:
            raise ValidationError(
                f"Ärendena hålls av olika enheter ({_holder(case)} och {_holder(other)}). "
                "Skicka dem till samma enhet först, eller koppla dem i stället.",
                "reference",
            )
        survivor, absorbed = sorted((case, other), key=lambda c: (c.received_at, c.id))
        _merge(survivor, absorbed, by, body, utcnow())
    return survivor


def _merge(survivor: Case, absorbed: Case, by: User, note: str | None, now: datetime) -> None:
    was_open = absorbed.is_open
    # The automatic receipt stays with its case (one per case, a unique index): the survivor's
    # timeline shows it, and filing follows its Message-ID to the survivor.
    moved = [m for m in absorbed.messages if m.kind.value != "acknowledgement"]
    for message in moved:
        message.case = survivor
    # Cases merged into the absorbed one before now point at the survivor: one hop, always.
    for earlier in db.session.scalars(sa.select(Case).where(Case.merged_into_id == absorbed.id)):
        earlier.merged_into = survivor
        earlier.merged_at = earlier.merged_at or now
    _move_links(absorbed, survivor)
    absorbed.merged_into = survivor
    absorbed.merged_at = now
    if survivor.contact is None and absorbed.contact is not None:
        survivor.contact = absorbed.contact
    if absorbed.is_secret and not survivor.is_secret:
        # The secret messages and timeline move to the survivor: so does their secrecy.
        ground = absorbed.effective_secrecy_ground
        survivor.secrecy_ground = ground
        survivor.secrecy_set_by = by
        survivor.secrecy_set_at = now
        add_activity(
            survivor,
            ActivityKind.SECRECY_CHANGED,
            by,
            f"Sekretessen följer med från {absorbed.reference}.",
            secrecy=ground,
            previous=None,
        )
    add_activity(
        survivor, ActivityKind.MERGED, by, note, other=absorbed.reference, messages=len(moved)
    )
    add_activity(
        absorbed,
        ActivityKind.MERGED_INTO,
        by,
        note or f"Sammanslaget med {survivor.reference}.",
        other=survivor.reference,
        messages=len(moved),
    )
    if was_open:
        if not survivor.is_open:  # the work goes on in the survivor
            survivor.status = CaseStatus.OPEN
            survivor.closed_at = None
            add_activity(
                survivor,
                ActivityKind.REOPENED,
                by,
                f"Det öppna ärendet {absorbed.reference} slogs ihop med det här.",
            )
            events.reopened.send(survivor, at=now)
        # Keep the promise: the callbacks area moves the absorbed case's callback row with its
        # number, slot and attempts (a receiver of callback_booked).
        if absorbed.callback_pending and not survivor.callback_pending:
            due_at = absorbed.callback_due_at
            survivor.callback_done_at = None  # a callback it made before is not this one
            promised = events.book_callback(survivor, now, due_at)
            add_activity(
                survivor,
                ActivityKind.CALLBACK_BOOKED,
                by,
                f"Från {absorbed.reference}",
                due_at=promised.isoformat(),
            )
        absorbed.status = CaseStatus.CLOSED
        absorbed.closed_at = now
        absorbed.resolution = f"Sammanslaget med {survivor.reference}."
        add_activity(absorbed, ActivityKind.CLOSED, by, absorbed.resolution)
        events.closed.send(absorbed, at=now)
    survivor.updated_at = now  # a new version: a page open on either case is now stale
    absorbed.updated_at = now
    _audit(by, "merge_case", survivor, merged=absorbed.reference, survivor=survivor.reference)
    _audit(by, "merge_case", absorbed, merged=absorbed.reference, survivor=survivor.reference)


def _move_links(absorbed: Case, survivor: Case) -> None:
    """The absorbed case's links now belong to the survivor (once each, never to itself)."""
    links = db.session.scalars(
        sa.select(CaseLink).where(
            sa.or_(CaseLink.case_id == absorbed.id, CaseLink.other_case_id == absorbed.id)
        )
    ).all()
    taken = set(_linked_ids(survivor))
    for link in links:
        other_id = link.other_case_id if link.case_id == absorbed.id else link.case_id
        db.session.delete(link)
        if other_id == survivor.id or other_id in taken:
            continue
        taken.add(other_id)
        low, high = sorted((survivor.id, other_id))
        db.session.add(
            CaseLink(
                case_id=low,
                other_case_id=high,
                created_by_id=link.created_by_id,
                created_at=link.created_at,
            )
        )
    db.session.flush()  # the deletes before the inserts that may reuse their pair


def _linked_ids(case: Case) -> list[int]:
    rows = db.session.execute(
        sa.select(CaseLink.case_id, CaseLink.other_case_id).where(
            sa.or_(CaseLink.case_id == case.id, CaseLink.other_case_id == case.id)
        )
    ).all()
    return [b if a == case.id else a for a, b in rows]


def are_linked(case: Case, other: Case) -> bool:
    return (
        other.id in _linked_ids(case)
        or case.linked_case_id == other.id
        or other.linked_case_id == case.id
    )


def link(case: Case, by: User, reference: str | None, expected_version: int | None = None) -> Case:
    """Mark `case` and the case `reference` names as related. Returns the other case."""
    with acting(case, by, "link", expected_version):
        other = find_other(by, case, reference)
        access.ensure(by, "link", other)
        if are_linked(case, other):
            raise ValidationError(ALREADY_LINKED, "reference")
        now = utcnow()
        low, high = sorted((case.id, other.id))
        db.session.add(CaseLink(case_id=low, other_case_id=high, created_by=by, created_at=now))
        try:
            db.session.flush()
        except IntegrityError:  # someone linked them a moment ago
            raise ValidationError(ALREADY_LINKED, "reference") from None
        add_activity(case, ActivityKind.LINKED, by, other=other.reference)
        add_activity(other, ActivityKind.LINKED, by, other=case.reference)
        case.updated_at = now
        _audit(by, "link_cases", case, other=other.reference)
        _audit(by, "link_cases", other, other=case.reference)
    return other


def unlink(case: Case, by: User, other_id: int | None, expected_version: int | None = None) -> Case:
    """Remove the link between `case` and the case with id `other_id`."""
    with acting(case, by, "unlink", expected_version):
        other = db.session.get(Case, other_id) if other_id else None
        if other is None or not access.can_view(by, other) or not are_linked(case, other):
            raise ValidationError("Ärendena är inte kopplade.")
        access.ensure(by, "unlink", other)
        low, high = sorted((case.id, other.id))
        stored = db.session.scalars(
            sa.select(CaseLink).where(CaseLink.case_id == low, CaseLink.other_case_id == high)
        ).first()
        if stored is not None:
            db.session.delete(stored)
        # A link made at filing (mail citing another case's reference) is a column.
        if case.linked_case_id == other.id:
            case.linked_case = None
        if other.linked_case_id == case.id:
            other.linked_case = None
        add_activity(case, ActivityKind.UNLINKED, by, other=other.reference)
        add_activity(other, ActivityKind.UNLINKED, by, other=case.reference)
        case.updated_at = utcnow()
        _audit(by, "unlink_cases", case, other=other.reference)
        _audit(by, "unlink_cases", other, other=case.reference)
    return other
