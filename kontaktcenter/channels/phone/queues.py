"""Administration of the phone platform's queues (issue #14): what an abandoned call in a queue
leads to (a callback, after a minimum wait) and the queue's answer goal.

A queue is named as the platform's call events name it (``queue``); nothing is deleted, a queue
is deactivated (the statistics keep referring to it). Queues the platform has reported but
nobody has configured are offered as suggestions, so the admin does not have to type names.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from kontaktcenter.channels.phone.models import Call, PhoneQueue
from kontaktcenter.core.errors import ValidationError
from kontaktcenter.core.extensions import db
from kontaktcenter.organisation.models import CaseType

NAME_MAX = 100
LABEL_MAX = 120
MIN_WAIT_MAX = 3600  # an hour: any longer and no abandoned call would become a callback
ANSWER_GOAL_MIN, ANSWER_GOAL_MAX = 1, 3600
# Suggestions come from the latest calls only: a bounded range of the primary key, so the
# page stays fast with millions of calls (a queue renamed years ago is no suggestion).
SUGGESTION_WINDOW = 50_000
SUGGESTIONS_MAX = 50


@dataclass
class QueueData:
    name: str | None
    label: str | None
    case_type: CaseType | None = None
    abandoned_callback: bool = False
    abandoned_min_wait_seconds: int | None = 10
    answer_goal_seconds: int | None = 60
    active: bool = True


def list_queues() -> list[PhoneQueue]:
    return list(
        db.session.scalars(
            sa.select(PhoneQueue).order_by(PhoneQueue.active.desc(), PhoneQueue.label)
        )
    )


def counts() -> dict[str, int]:
    queues = list_queues()
    return {
        "queues": len(queues),
        "active": sum(1 for q in queues if q.active),
        "abandoned_callback": sum(1 for q in queues if q.active and q.abandoned_callback),
    }


def by_name(name: str | None) -> PhoneQueue | None:
    """The active queue the events call `name` (None for no name or no such active queue)."""
    if not name:
        return None
    return db.session.scalar(
        sa.select(PhoneQueue).where(PhoneQueue.name == name, PhoneQueue.active.is_(True))
    )


def reported_unconfigured() -> list[str]:
    """Queue names in the latest calls that no queue (active or not) is configured for."""
    newest = db.session.scalar(sa.select(sa.func.max(Call.id)))
    if newest is None:
        return []
    configured = sa.select(PhoneQueue.name)
    return list(
        db.session.scalars(
            sa.select(Call.queue)
            .where(
                Call.id > newest - SUGGESTION_WINDOW,
                Call.queue.is_not(None),
                Call.queue != "",
                Call.queue.not_in(configured),
            )
            .group_by(Call.queue)
            .order_by(Call.queue)
            .limit(SUGGESTIONS_MAX)
        )
    )


def create(data: QueueData) -> PhoneQueue:
    queue = PhoneQueue()
    _apply(queue, data)
    db.session.add(queue)
    db.session.commit()
    return queue


def update(queue: PhoneQueue, data: QueueData) -> PhoneQueue:
    _apply(queue, data)
    db.session.commit()
    return queue


def _apply(queue: PhoneQueue, data: QueueData) -> None:
    name = (data.name or "").strip()
    if not name:
        raise ValidationError(
            "Ange köns namn så som telefoniplattformen skriver det i sina händelser.", "name"
        )
    if len(name) > NAME_MAX:
        raise ValidationError(f"Namnet får vara högst {NAME_MAX} tecken.", "name")
    if any(not c.isprintable() for c in name):
        raise ValidationError("Namnet får inte innehålla styrtecken.", "name")
    taken = db.session.scalar(
        sa.select(PhoneQueue.id).where(PhoneQueue.name == name, PhoneQueue.id != (queue.id or 0))
    )
    if taken is not None:
        raise ValidationError("Det finns redan en kö med det namnet.", "name")
    label = (data.label or "").strip() or name
    if len(label) > LABEL_MAX:
        raise ValidationError(f"Benämningen får vara högst {LABEL_MAX} tecken.", "label")
    case_type = data.case_type
    if case_type is not None and not case_type.active and case_type.id != queue.case_type_id:
        raise ValidationError("Välj en aktiv ärendetyp.", "case_type")
    wait = data.abandoned_min_wait_seconds
    if wait is None or not 0 <= wait <= MIN_WAIT_MAX:
        raise ValidationError(
            f"Ange en väntetid mellan 0 och {MIN_WAIT_MAX} sekunder.", "abandoned_min_wait_seconds"
        )
    goal = data.answer_goal_seconds
    if goal is None or not ANSWER_GOAL_MIN <= goal <= ANSWER_GOAL_MAX:
        raise ValidationError(
            f"Ange ett svarsmål mellan {ANSWER_GOAL_MIN} och {ANSWER_GOAL_MAX} sekunder.",
            "answer_goal_seconds",
        )
    queue.name = name
    queue.label = label
    queue.case_type = case_type
    queue.abandoned_callback = data.abandoned_callback
    queue.abandoned_min_wait_seconds = wait
    queue.answer_goal_seconds = goal
    queue.active = data.active
