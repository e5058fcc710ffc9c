"""Changes to cases in the audit log: who created, routed, classified, closed, reopened or
changed a case, written in the transaction that made the change.

The case events (``cases/events.py``) are sent inside the transaction, often before the case
has an id (a new case is numbered and flushed last). A receiver notes the change on the
session; just before the commit the notes become audit rows, after the flush that gives the
cases their ids, so the rows commit with the change or roll back with it. The actor is the
person on the timeline entry the change added (``Activity.actor``); changes nobody made (mail
filed by the poller, a routing rule) are the system's and are on the timeline, not here.
"""

from __future__ import annotations

from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kontaktcenter.cases import events
from kontaktcenter.cases.models import Activity, Case
from kontaktcenter.core import audit
from kontaktcenter.core.extensions import db, utcnow

_PENDING = "kontaktcenter.audit.pending"
_ACTORS = "kontaktcenter.audit.actors"

# The case events that are changes a person makes, and the action each is logged as.
ACTIONS = {
    events.created: "create_case",
    events.routed: "route_case",
    events.classified: "classify_case",
    events.closed: "close_case",
    events.reopened: "reopen_case",
    events.changed: "change_case",
}


def _actor_id(case: Case) -> int | None:
    """The person on the newest timeline entry added to `case` in this transaction."""
    actor = db.session.info.get(_ACTORS, {}).get(case)
    return actor.id if actor is not None else None


@sa.event.listens_for(Session, "transient_to_pending")
def _note_actor(session: Session, obj: object) -> None:
    """Remember who acted on a case as its timeline entry is added (the signal may come after
    a flush has already written the entry)."""
    if isinstance(obj, Activity) and obj.case is not None and obj.actor is not None:
        session.info.setdefault(_ACTORS, {})[obj.case] = obj.actor


def _note(action: str) -> Any:
    def receiver(case: Case, **_kwargs: Any) -> None:
        actor = _actor_id(case)
        if actor is None:
            return
        pending: list[tuple[int, str, Case]] = db.session.info.setdefault(_PENDING, [])
        pending.append((actor, action, case))

    receiver.__name__ = f"audit_{action}"
    return receiver


_receivers = [(signal, _note(action)) for signal, action in ACTIONS.items()]


def connect() -> None:
    """Subscribe to the case events (idempotent: blinker keeps one connection per receiver)."""
    for signal, receiver in _receivers:
        signal.connect(receiver, weak=False)


# The rows by one Core INSERT in the commit's own transaction (as the API's case read writes
# its row): added to the session, they would need a second flush of their own after the one
# that gave the cases their ids (issue #16: ~5 % of the function calls of logging a call).
_INSERT = sa.insert(cast(sa.Table, audit.AuditEvent.__table__))


@sa.event.listens_for(Session, "before_commit")
def _write(session: Session) -> None:
    session.info.pop(_ACTORS, None)
    pending: list[tuple[int, str, Case]] = session.info.pop(_PENDING, [])
    if not pending:
        return
    session.flush()  # the new cases get their ids
    seen: set[tuple[int, str, int]] = set()
    rows: list[dict[str, Any]] = []
    now = utcnow()
    for actor, action, case in pending:
        if case.id is None or (actor, action, case.id) in seen:
            continue
        seen.add((actor, action, case.id))
        detail: dict[str, Any] = {"reference": case.reference}
        if action == "route_case" and case.department_id is not None:
            detail["department_id"] = case.department_id
        rows.append(
            {
                "user_id": actor,
                "action": action,
                "case_id": case.id,
                "contact_id": case.contact_id,
                "created_at": now,
                "detail": detail,
            }
        )
    if rows:
        session.execute(_INSERT, rows)


@sa.event.listens_for(Session, "after_soft_rollback")
def _forget(session: Session, previous: Any) -> None:
    if not previous.nested:
        session.info.pop(_PENDING, None)
        session.info.pop(_ACTORS, None)
