"""Anonymising a batch of cases (gallring): the personal data goes, the statistics stay.

Removed or replaced:
- the case's free text (summary, resolution, referred_to) and its link to the contact;
- the contact itself once no case that is still kept refers to it: every identifying field
  emptied, the row deleted when nothing else (the audit log, a register-extract request) refers
  to it. A contact shared with a kept case stays intact for that case;
- the timeline's text, and every value of an entry's data except the few structural keys the
  pages and reports read (department, status, result, …). The entries, their kinds, actors and
  times stay: the timeline is append-only for the app (the ORM guard in cases/models.py); this
  module is the one sanctioned writer, with plain UPDATE statements;
- e-mail: subject, bodies, addresses, headers, flags; the raw message is replaced by the empty
  tombstone blob and the attachments are deleted, with their bytes when no other message uses
  them; the rate-limit grants for the erased addresses;
- the caller's number on the telephony platform's calls logged on the case;
- the free text of released legal holds;
- the search index: the documents are rebuilt from what is left. The words of erased names
  leave the misspelt-name list at the end of the run (retention.py: one read of all names
  then, instead of a LIKE per word per batch), unless another contact's name has them.

Kept: channel, case type, department, status, outcome, assignee, every time, the goals
(``case_goals``), the response times, the links and merges, the message rows' kind, direction,
status, times and size: every report counts the same after gallring.

The audit log is not touched: it is append-only and has its own retention period.
"""

from __future__ import annotations

from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kontaktcenter.callbacks.models import Callback, CallbackAttempt
from kontaktcenter.cases.models import Activity, Case, Contact
from kontaktcenter.channels.email import store
from kontaktcenter.channels.email.models import Blob, MailAttachment, MailMessage, ReceiptGrant
from kontaktcenter.channels.phone.models import Call, CallEvent
from kontaktcenter.compliance.retention_models import LegalHold
from kontaktcenter.search.indexing import index_cases

GALLRAD = "[Gallrat]"
TOMBSTONE = b""  # what a gallrad message's raw bytes become (content-addressed: stored once)
# Timeline data keys whose values are not personal data (structure, our own organisation).
KEPT_DATA_KEYS = frozenset(
    {
        "channel",
        "department",
        "old",
        "new",
        "result",
        "transfer",
        "due_at",
        "message",
        "auto_reply",
        "via",
        "other",
        "reply_to",
        "number",
        "assignee",
        "legal_hold",
    }
)
_CONTACT_FIELDS = (
    "name",
    "name_lower",
    "phone",
    "phone_e164",
    "email",
    "organisation_number",
    "personnummer",
)


def _replaced(column: Any) -> sa.ColumnElement[Any]:
    """NULL stays NULL (the report of what was there stays honest), anything else: GALLRAD."""
    return sa.case((column.is_(None), sa.null()), else_=sa.literal(GALLRAD))


def clean_data(data: dict[str, Any] | None) -> dict[str, Any]:
    return {key: value for key, value in (data or {}).items() if key in KEPT_DATA_KEYS}


def anonymise_cases(case_ids: list[int], session: Session) -> None:
    """Anonymise these cases in the caller's transaction (the caller holds their row locks)."""
    if not case_ids:
        return
    contact_ids = sorted(
        {
            contact_id
            for contact_id in session.scalars(
                sa.select(Case.contact_id).where(Case.id.in_(case_ids))
            )
            if contact_id is not None
        }
    )
    session.execute(
        sa.update(Case)
        .where(Case.id.in_(case_ids))
        .values(
            summary=GALLRAD,
            resolution=_replaced(Case.resolution),
            referred_to=_replaced(Case.referred_to),
            contact_id=None,
            version=Case.version + 1,
        )
        .execution_options(synchronize_session=False)
    )
    _timeline(case_ids, session)
    _mail(case_ids, session)
    _calls(case_ids, session)
    _callbacks(case_ids, session)
    session.execute(
        sa.update(LegalHold)
        .where(LegalHold.case_id.in_(case_ids))
        .values(reason=GALLRAD, release_reason=_replaced(LegalHold.release_reason))
        .execution_options(synchronize_session=False)
    )
    _contacts(contact_ids, session)
    index_cases(case_ids, session)


def _timeline(case_ids: list[int], session: Session) -> None:
    session.execute(
        sa.update(Activity)
        .where(Activity.case_id.in_(case_ids), Activity.text.is_not(None))
        .values(text=GALLRAD)
        .execution_options(synchronize_session=False)
    )
    changed = []
    for activity_id, data in session.execute(
        sa.select(Activity.id, Activity.data).where(Activity.case_id.in_(case_ids))
    ):
        cleaned = clean_data(data)
        if cleaned != (data or {}):
            changed.append({"activity_id": activity_id, "cleaned": cleaned})
    if changed:
        table = cast(sa.Table, Activity.__table__)
        session.execute(
            sa.update(table)
            .where(table.c.id == sa.bindparam("activity_id"))
            .values(data=sa.bindparam("cleaned")),
            changed,
        )


def _mail(case_ids: list[int], session: Session) -> None:
    messages = session.execute(
        sa.select(MailMessage.id, MailMessage.raw_sha256).where(MailMessage.case_id.in_(case_ids))
    ).all()
    if not messages:
        return
    message_ids = [row.id for row in messages]
    blobs = {row.raw_sha256 for row in messages}
    blobs.update(
        session.scalars(
            sa.select(MailAttachment.blob_sha256).where(MailAttachment.message_id.in_(message_ids))
        )
    )
    tombstone = store.store(TOMBSTONE)
    session.execute(
        sa.update(MailMessage)
        .where(MailMessage.id.in_(message_ids))
        .values(
            subject="",
            text_body="",
            html_body=None,
            from_addr=None,
            from_name=None,
            to_addrs=[],
            cc_addrs=[],
            reply_to=None,
            recipient=None,
            message_id=None,
            in_reply_to=None,
            references=None,
            fingerprint=None,
            flags={},
            reason=_replaced(MailMessage.reason),
            raw_sha256=tombstone,
        )
        .execution_options(synchronize_session=False)
    )
    session.execute(
        sa.delete(MailAttachment)
        .where(MailAttachment.message_id.in_(message_ids))
        .execution_options(synchronize_session=False)
    )
    blobs.discard(tombstone)
    _delete_unused_blobs(sorted(blobs), session)


def _calls(case_ids: list[int], session: Session) -> None:
    """The telephony platform's record of the calls logged on these cases: the caller's number
    goes (the times, queue and agent stay for the statistics)."""
    _erase_callers(sa.select(Call.id).where(Call.case_id.in_(case_ids)), session)


def _erase_callers(calls: sa.Select[Any], session: Session) -> None:
    """The caller's number on these calls and on each of their events."""
    erased = {"caller_e164": None, "caller_raw": None}
    ids = calls.scalar_subquery()
    for table, key in ((CallEvent, CallEvent.call_id), (Call, Call.id)):
        session.execute(
            sa.update(table)
            .where(key.in_(ids))
            .values(erased)
            .execution_options(synchronize_session=False)
        )


def _callbacks(case_ids: list[int], session: Session) -> None:
    """The callbacks on these cases: the number to call, what to call about and the attempts'
    notes go, and the caller's number on the abandoned calls they came from (status, times,
    attempts and results stay for the reports)."""
    of_cases = sa.select(Callback.id).where(Callback.case_id.in_(case_ids)).scalar_subquery()
    _erase_callers(
        sa.select(Callback.call_id).where(
            Callback.case_id.in_(case_ids), Callback.call_id.is_not(None)
        ),
        session,
    )
    session.execute(
        sa.update(CallbackAttempt)
        .where(CallbackAttempt.callback_id.in_(of_cases))
        .values(note=None)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        sa.update(Callback)
        .where(Callback.case_id.in_(case_ids))
        .values(number_e164=None, note=None)
        .execution_options(synchronize_session=False)
    )


def _delete_unused_blobs(digests: list[str], session: Session) -> None:
    if not digests:
        return
    session.execute(
        sa.delete(Blob)
        .where(
            Blob.sha256.in_(digests),
            ~sa.exists().where(MailMessage.raw_sha256 == Blob.sha256),
            ~sa.exists().where(MailAttachment.blob_sha256 == Blob.sha256),
        )
        .execution_options(synchronize_session=False)
    )


def _contacts(contact_ids: list[int], session: Session) -> None:
    """Erase the contacts no kept case refers to any more."""
    if not contact_ids:
        return
    # Lock the contacts first: a case linked to one of them meanwhile (its foreign key takes a
    # KEY SHARE lock) has committed before this returns, or waits until the batch commits. The
    # NOT EXISTS below is a new statement, so it sees such a link (READ COMMITTED).
    session.execute(
        sa.select(Contact.id)
        .where(Contact.id.in_(contact_ids))
        .order_by(Contact.id)
        .with_for_update()
    ).all()
    unused = session.execute(
        sa.select(Contact.id, Contact.name, Contact.email).where(
            Contact.id.in_(contact_ids), ~sa.exists().where(Case.contact_id == Contact.id)
        )
    ).all()
    if not unused:
        return
    ids = [row.id for row in unused]
    emails = sorted({row.email for row in unused if row.email})
    session.execute(
        sa.update(Contact)
        .where(Contact.id.in_(ids))
        .values(dict.fromkeys(_CONTACT_FIELDS))
        .execution_options(synchronize_session=False)
    )
    session.execute(
        sa.delete(Contact)
        .where(Contact.id.in_(ids), *_unreferenced(cast(sa.Table, Contact.__table__)))
        .execution_options(synchronize_session=False)
    )
    if emails:
        session.execute(
            sa.delete(ReceiptGrant)
            .where(ReceiptGrant.address.in_(emails))
            .execution_options(synchronize_session=False)
        )


def _unreferenced(target: sa.Table) -> list[sa.ColumnElement[bool]]:
    """NOT EXISTS for every foreign key in the schema that points at `target` (the audit log,
    register extracts, whatever a later area adds): a row still referred to is kept, emptied."""
    conditions = []
    for table in target.metadata.sorted_tables:
        for fk in table.foreign_keys:
            if fk.column.table is target:
                conditions.append(~sa.exists().where(fk.parent == fk.column))
    return conditions
