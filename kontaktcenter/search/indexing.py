"""Keeping the search index: in the transaction that changes a case, whoever changes it.

A session hook notes, at each flush, which cases got new searchable text (a new case, a
changed summary or resolution, a note, a filed or sent e-mail, a contact's new name or
address); before the commit, their documents are rebuilt from the database with one read and
one upsert per batch. So the index can never disagree with a committed case, and no service
has to remember to call it. Writes that bypass the ORM (the benchmark's COPY, an old database
before migration 0010) are caught up by :func:`reindex` (``flask search reindex --missing``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kontaktcenter.cases import access
from kontaktcenter.cases.models import Activity, Case, Contact
from kontaktcenter.channels.email.models import MailMessage
from kontaktcenter.core.extensions import db, upsert, utcnow
from kontaktcenter.organisation.models import CaseType
from kontaktcenter.search.models import FILTER_COLUMNS, MAX_BODY, NameWord, SearchDocument
from kontaktcenter.search.text import stems_text, words

MAX_PART = 20_000  # characters of one e-mail body or note
BATCH = 500
# What the document holds of a case: its text, and the columns a search narrows by.
_CASE_FIELDS = (
    "summary",
    "resolution",
    "referred_to",
    "contact_id",
    "department_id",
    "case_type_id",
    "channel",
    "status",
    "received_at",
    "secrecy_ground",
)
_CONTACT_FIELDS = ("name", "email", "organisation_number")
_PENDING = "search_pending_cases"
_PENDING_CONTACTS = "search_pending_contacts"
_PENDING_NAMES = "search_pending_name_words"
_PENDING_TYPES = "search_pending_secret_types"  # case types whose secrecy changed
_NEW_CASES = "search_new_cases"  # cases inserted by this transaction, by id
_NEW_NOTES = "search_new_notes"  # timeline entries with text inserted by it, by case id
_NEW_MAIL = "search_new_mail"  # the transaction inserted e-mail


def _changed(obj: object, fields: Iterable[str]) -> bool:
    state = sa.inspect(obj)
    return any(state.attrs[f].history.has_changes() for f in fields)


def _case_with_new_text(obj: object) -> int | None:
    """The case a new object adds text to: a new case, a timeline entry with text, an e-mail."""
    if isinstance(obj, Case):
        return obj.id
    if isinstance(obj, Activity):
        return obj.case_id if obj.text else None
    if isinstance(obj, MailMessage):
        return obj.case_id
    return None


@sa.event.listens_for(Session, "after_flush")
def _note(session: Session, _context: object) -> None:
    cases: set[int] = session.info.setdefault(_PENDING, set())
    contacts: set[int] = session.info.setdefault(_PENDING_CONTACTS, set())
    names: set[str] = session.info.setdefault(_PENDING_NAMES, set())
    types: set[int] = session.info.setdefault(_PENDING_TYPES, set())
    new_cases: dict[int, Case] = session.info.setdefault(_NEW_CASES, {})
    new_notes: dict[int, list[Activity]] = session.info.setdefault(_NEW_NOTES, {})
    for obj in session.new:
        case_id = _case_with_new_text(obj)
        if case_id is not None:
            cases.add(case_id)
        if isinstance(obj, Case):
            new_cases[obj.id] = obj
        elif isinstance(obj, Activity) and case_id is not None:
            new_notes.setdefault(case_id, []).append(obj)
        elif isinstance(obj, MailMessage):
            session.info[_NEW_MAIL] = True
        if isinstance(obj, Contact) and obj.name:
            names.update(name_words(obj.name))
    for obj in session.dirty:
        if isinstance(obj, Case) and _changed(obj, _CASE_FIELDS):
            cases.add(obj.id)
        elif isinstance(obj, MailMessage) and _changed(obj, ("case_id", "case")):
            # Moved (a merge): the case it left loses its text, the one it joined gains it.
            state = sa.inspect(obj).attrs
            left = [*state.case_id.history.deleted]
            left += [c.id for c in state.case.history.deleted if isinstance(c, Case)]
            cases.update(i for i in (*left, obj.case_id) if i is not None)
        elif isinstance(obj, Contact) and _changed(obj, _CONTACT_FIELDS):
            contacts.add(obj.id)
            names.update(name_words(obj.name or ""))
        elif isinstance(obj, CaseType) and _changed(obj, ("secrecy_ground",)):
            types.add(obj.id)


@sa.event.listens_for(Session, "before_commit")
def _index(session: Session) -> None:
    session.flush()  # the commit's own flush, early: it notes what it writes (_note)
    names: set[str] = session.info.pop(_PENDING_NAMES, set())
    if names:
        add_name_words(names, session)
    types: set[int] = session.info.pop(_PENDING_TYPES, set())
    if types:
        mark_secret(sorted(types), session)
    cases: set[int] = session.info.pop(_PENDING, set())
    contacts: set[int] = session.info.pop(_PENDING_CONTACTS, set())
    new_cases: dict[int, Case] = session.info.pop(_NEW_CASES, {})
    new_notes: dict[int, list[Activity]] = session.info.pop(_NEW_NOTES, {})
    mail = session.info.pop(_NEW_MAIL, False)
    if not cases and not contacts:
        return
    if contacts:
        for chunk in _chunks(sorted(contacts)):
            cases.update(
                session.scalars(sa.select(Case.id).where(Case.contact_id.in_(chunk))).all()
            )
    known = {} if mail else _in_memory(cases, new_cases, new_notes)
    if known:
        _upsert(known, session)
    rest = sorted(cases - known.keys())
    if rest:
        index_cases(rest, session)


@sa.event.listens_for(Session, "after_soft_rollback")
def _forget(session: Session, previous: Any) -> None:
    if not previous.nested:
        for key in (_PENDING, _PENDING_CONTACTS, _PENDING_NAMES, _PENDING_TYPES):
            session.info.pop(key, None)
        for key in (_NEW_CASES, _NEW_NOTES, _NEW_MAIL):
            session.info.pop(key, None)


def _in_memory(
    case_ids: set[int], new_cases: dict[int, Case], new_notes: dict[int, list[Activity]]
) -> dict[int, dict[str, Any]]:
    """The documents of cases this transaction created, composed from the objects it wrote
    (as compose() would read them back: logging a call saves two SELECTs). Only where all of
    a case's text is in memory: its whole timeline, no e-mail; else compose() reads it."""
    documents: dict[int, dict[str, Any]] = {}
    for case_id in case_ids:
        case = new_cases.get(case_id)
        if case is None or case.id != case_id:
            continue
        state = sa.inspect(case)
        if not state.persistent or "activities" not in state.dict:
            continue
        if state.dict.get("messages", None) != []:  # e-mail (or not known): read it back
            continue
        timeline = case.activities
        if any(note not in timeline for note in new_notes.get(case_id, [])):
            continue  # an entry written without the relationship: read it back
        contact = case.contact
        parts = [case.summary, case.resolution, case.referred_to]
        if contact is not None:
            parts += [contact.name, contact.email, contact.organisation_number]
        parts += [
            a.text[:MAX_PART] for a in sorted(timeline, key=lambda a: a.id) if a.text is not None
        ]
        case_type = case.case_type
        secret = case.secrecy_ground is not None or (
            case_type is not None and case_type.secrecy_ground is not None
        )
        documents[case_id] = {
            "body": "\n".join(part for part in parts if part)[:MAX_BODY],
            **{name: getattr(case, name) for name in FILTER_COLUMNS},
            "secret": secret,
        }
    return documents


def _chunks(ids: list[int]) -> Iterable[list[int]]:
    for start in range(0, len(ids), BATCH):
        yield ids[start : start + BATCH]


def compose(case_ids: list[int], session: Session) -> dict[int, dict[str, Any]]:
    """Each case's document: its searchable text (one query, a UNION of its parts, per batch)
    and the columns a search narrows by (one more)."""
    null = sa.null()
    cases = sa.select(
        Case.id,
        Case.summary,
        Case.resolution,
        Case.referred_to,
        Contact.name,
        Contact.email,
        Contact.organisation_number,
    ).outerjoin(Contact, Contact.id == Case.contact_id)
    notes = sa.select(
        Activity.case_id, sa.func.substr(Activity.text, 1, MAX_PART), null, null, null, null, null
    ).where(Activity.text.is_not(None))
    mails = sa.select(
        MailMessage.case_id,
        MailMessage.from_name,
        MailMessage.subject,
        sa.func.substr(MailMessage.text_body, 1, MAX_PART),
        null,
        null,
        null,
    )
    texts: dict[int, list[str]] = {case_id: [] for case_id in case_ids}
    columns: dict[int, dict[str, Any]] = {}
    for chunk in _chunks(case_ids):
        query = sa.union_all(
            cases.where(Case.id.in_(chunk)),
            notes.where(Activity.case_id.in_(chunk)),
            mails.where(MailMessage.case_id.in_(chunk)),
        )
        for case_id, *parts in session.execute(query):
            texts[case_id].extend(part for part in parts if part)
        for row in session.execute(
            sa.select(
                Case.id,
                *(getattr(Case, name) for name in FILTER_COLUMNS),
                access.secret_clause().label("secret"),
            ).where(Case.id.in_(chunk))
        ):
            columns[row[0]] = dict(zip((*FILTER_COLUMNS, "secret"), row[1:], strict=True))
    return {
        case_id: {"body": "\n".join(parts)[:MAX_BODY], **columns[case_id]}
        for case_id, parts in texts.items()
        if case_id in columns  # a case deleted meanwhile has no document
    }


def name_words(name: str) -> set[str]:
    return {w for w in words(name) if 2 <= len(w) <= 100}


def add_name_words(names: set[str], session: Session | None = None) -> None:
    """Remember the words of contacts' names (each once) for misspelt-name search."""
    session = session or db.session()
    statement = upsert(NameWord, session).on_conflict_do_nothing()
    session.execute(statement, [{"word": w} for w in sorted(names)])


def index_cases(case_ids: list[int], session: Session | None = None) -> int:
    """Rebuild the documents of these cases (in the caller's transaction). Returns how many."""
    session = session or db.session()
    return _upsert(compose(case_ids, session), session)


def _upsert(documents: dict[int, dict[str, Any]], session: Session) -> int:
    now = utcnow()
    rows = [
        {"case_id": case_id, **doc, "stems": stems_text(doc["body"]), "indexed_at": now}
        for case_id, doc in documents.items()
    ]
    if not rows:
        return 0
    session.execute(_document_upsert(session), rows)
    return len(rows)


_DOCUMENT_UPSERTS: dict[str, Any] = {}


def _document_upsert(session: Session) -> Any:
    """The documents' ``INSERT … ON CONFLICT DO UPDATE``, built once per dialect: composing it
    (``excluded`` makes a proxy of every column) cost ~6 % of logging a call (issue #16)."""
    dialect = session.get_bind().dialect.name
    statement = _DOCUMENT_UPSERTS.get(dialect)
    if statement is None:
        statement = upsert(SearchDocument, session)
        statement = statement.on_conflict_do_update(
            index_elements=["case_id"],
            set_={
                name: getattr(statement.excluded, name)
                for name in ("body", "stems", "indexed_at", "secret", *FILTER_COLUMNS)
            },
        )
        _DOCUMENT_UPSERTS[dialect] = statement
    return statement


def mark_secret(case_type_ids: list[int], session: Session | None = None) -> None:
    """A case type's secrecy changed: its cases' documents learn whether they are secret now
    (in the transaction that changed it)."""
    session = session or db.session()
    session.execute(
        sa.update(SearchDocument)
        .where(SearchDocument.case_type_id.in_(case_type_ids))
        .values(secret=sa.exists().where(Case.id == SearchDocument.case_id, access.secret_clause()))
        .execution_options(synchronize_session=False)
    )


def reindex(*, missing_only: bool, batch: int = 2000) -> int:
    """Index every case (or those without a document), committing per batch: resumable; and
    the words of every contact's name."""
    last_contact = 0
    while True:
        rows = db.session.execute(
            sa.select(Contact.id, Contact.name)
            .where(Contact.id > last_contact, Contact.name.is_not(None))
            .order_by(Contact.id)
            .limit(batch * 5)
        ).all()
        if not rows:
            break
        add_name_words({w for row in rows for w in name_words(row.name)})
        db.session.commit()
        last_contact = rows[-1].id
    done = 0
    last_id = 0
    while True:
        query = sa.select(Case.id).where(Case.id > last_id).order_by(Case.id).limit(batch)
        if missing_only:
            query = query.where(
                ~sa.exists().where(SearchDocument.case_id == Case.id)  # anti-join on the pk
            )
        ids = list(db.session.scalars(query))
        if not ids:
            return done
        done += index_cases(ids)
        db.session.commit()
        last_id = ids[-1]


def prune_name_words(session: Session | None = None, batch: int = 10_000) -> int:
    """Forget the words no contact's name holds any more (gallring erased the names): one read
    of the names, then the stale words deleted. Returns how many went."""
    session = session or db.session()
    used: set[str] = set()
    names = session.execute(sa.select(Contact.name).where(Contact.name.is_not(None)))
    for (name,) in names.yield_per(batch):
        used.update(name_words(name or ""))
    stale = [w for w in session.scalars(sa.select(NameWord.word)) if w not in used]
    for start in range(0, len(stale), BATCH):
        session.execute(
            sa.delete(NameWord)
            .where(NameWord.word.in_(stale[start : start + BATCH]))
            .execution_options(synchronize_session=False)
        )
    return len(stale)
