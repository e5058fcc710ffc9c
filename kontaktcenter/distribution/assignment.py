"""Handing new e-mails and callbacks of the first line to available agents (issue #14).

An item (a case or a callback) goes to a signed-in agent marked available whose load (open
cases assigned + pending callbacks assigned) is under the cap: round-robin picks the one given
an item longest ago, least-loaded the one with the smallest load (ties: longest ago, then id).

Race-free: :func:`assign` locks every candidate's presence row (``FOR UPDATE`` on PostgreSQL;
SQLite writes one transaction at a time) before it counts the loads, so a second job waits and
then counts what the first one gave out; the item is taken with a conditional UPDATE that only
succeeds while it is still unassigned and open, so a job run twice assigns once. Each function
here owns its transaction, except :func:`give_back`, which the status change commits.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, cast

import sqlalchemy as sa
from flask import current_app

from kontaktcenter.callbacks.models import Callback, CallbackStatus
from kontaktcenter.cases.enums import OPEN_STATUSES, ActivityKind, CaseStatus, Channel
from kontaktcenter.cases.models import Case
from kontaktcenter.cases.services import add_activity
from kontaktcenter.core.extensions import db, utcnow
from kontaktcenter.core.roles import Role
from kontaktcenter.distribution.models import (
    AgentPresence,
    AgentStatus,
    DistributedItem,
    DistributionMode,
    DistributionSettings,
)
from kontaktcenter.organisation.models import User

Kind = Literal["case", "callback"]
# Who can take first-line work (cases.actions.assignable_users for a first-line case).
AGENT_ROLES = (Role.AGENT, Role.ADMIN)
DEFAULT_PRESENCE_MINUTES = 20
# The timeline's entries say `via="distribution"` in their data (the template words it), not
# in their text: a text would be indexed, and every distributed case found by "fördelningen".
VIA = "distribution"
_NEVER = datetime(1970, 1, 1, tzinfo=UTC)
_TAKEABLE = (CaseStatus.NEW, CaseStatus.OPEN)  # as "ta nästa" takes them


def settings() -> DistributionSettings:
    """The stored settings, or the defaults (off) when none were saved."""
    row = db.session.get(DistributionSettings, 1)
    if row is None:
        return DistributionSettings(
            id=1, mode=DistributionMode.OFF, emails=True, callbacks=True, cap=5
        )
    return row


def enabled_for(config: DistributionSettings, kind: Kind) -> bool:
    if config.mode == DistributionMode.OFF:
        return False
    return config.emails if kind == "case" else config.callbacks


def presence_cutoff(now: datetime) -> datetime:
    """Seen after this: signed in (a closed browser stops getting work after the window)."""
    minutes = current_app.config.get("DISTRIBUTION_PRESENCE_MINUTES", DEFAULT_PRESENCE_MINUTES)
    return now - timedelta(minutes=minutes)


def _candidates(now: datetime, lock: bool) -> list[AgentPresence]:
    query = (
        sa.select(AgentPresence)
        .join(User, User.id == AgentPresence.user_id)
        .where(
            AgentPresence.status == AgentStatus.AVAILABLE,
            AgentPresence.seen_at >= presence_cutoff(now),
            User.active.is_(True),
            User.role.in_(AGENT_ROLES),
        )
        .order_by(AgentPresence.user_id)  # one lock order for every job: no deadlock
        .execution_options(populate_existing=True)
    )
    if lock:
        query = query.with_for_update(of=AgentPresence)
    return list(db.session.scalars(query))


def loads(user_ids: Iterable[int]) -> dict[int, int]:
    """Open cases assigned + pending callbacks assigned, per user (0 for none)."""
    ids = sorted(set(user_ids))
    result = dict.fromkeys(ids, 0)
    if not ids:
        return result
    cases = db.session.execute(
        sa.select(Case.assignee_id, sa.func.count())
        .where(Case.assignee_id.in_(ids), Case.status.in_(OPEN_STATUSES))
        .group_by(Case.assignee_id)
    ).all()
    callbacks = db.session.execute(
        sa.select(Callback.assigned_to_id, sa.func.count())
        .where(Callback.assigned_to_id.in_(ids), Callback.status == CallbackStatus.PENDING)
        .group_by(Callback.assigned_to_id)
    ).all()
    for user_id, count in (*cases, *callbacks):
        if user_id is not None:
            result[user_id] += count
    return result


def pick(
    candidates: Sequence[AgentPresence], load: dict[int, int], mode: DistributionMode, cap: int
) -> AgentPresence | None:
    """The agent the next item goes to, or None when everyone is at the cap."""

    def longest_ago(p: AgentPresence) -> tuple[datetime, int]:
        return (p.last_assigned_at or _NEVER, p.user_id)

    room = [p for p in candidates if load.get(p.user_id, 0) < cap]
    if mode == DistributionMode.LEAST_LOADED:
        return min(room, key=lambda p: (load.get(p.user_id, 0), *longest_ago(p)), default=None)
    return min(room, key=longest_ago, default=None)


def _updated(statement: Any) -> int:
    result = cast("sa.CursorResult[Any]", db.session.execute(statement))
    return result.rowcount


def _case_waiting() -> list[sa.ColumnElement[bool]]:
    return [
        Case.channel == Channel.EMAIL,
        Case.department_id.is_(None),
        Case.assignee_id.is_(None),
        Case.status.in_(_TAKEABLE),
    ]


def _callback_waiting(now: datetime) -> list[sa.ColumnElement[bool]]:
    first_line = sa.select(Case.id).where(Case.id == Callback.case_id, Case.department_id.is_(None))
    return [
        Callback.status == CallbackStatus.PENDING,
        Callback.assigned_to_id.is_(None),
        sa.or_(Callback.next_attempt_at.is_(None), Callback.next_attempt_at <= now),
        first_line.exists(),
    ]


def _forget_given(where: sa.ColumnElement[bool]) -> None:
    db.session.execute(
        sa.delete(DistributedItem).where(where).execution_options(synchronize_session=False)
    )


def _claim(kind: Kind, item_id: int, user: User, now: datetime) -> bool:
    """Give the item to `user` if it still waits; its timeline says distribution did it."""
    if kind == "case":
        claimed = _updated(
            sa.update(Case)
            .where(Case.id == item_id, *_case_waiting())
            .values(assignee_id=user.id, version=Case.version + 1, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        if claimed != 1:
            return False
        case = db.session.scalars(
            sa.select(Case).where(Case.id == item_id).execution_options(populate_existing=True)
        ).one()
        add_activity(case, ActivityKind.ASSIGNED, None, assignee=user.name, via=VIA)
        _forget_given(DistributedItem.case_id == item_id)  # given before, then unassigned
        db.session.add(DistributedItem(user_id=user.id, case_id=item_id, assigned_at=now))
        return True
    claimed = _updated(
        sa.update(Callback)
        .where(Callback.id == item_id, *_callback_waiting(now))
        .values(assigned_to_id=user.id, assigned_at=now)
        .execution_options(synchronize_session=False)
    )
    if claimed != 1:
        return False
    callback = db.session.scalars(
        sa.select(Callback).where(Callback.id == item_id).execution_options(populate_existing=True)
    ).one()
    add_activity(
        callback.case, ActivityKind.ASSIGNED, None, assignee=user.name, via=VIA, callback=item_id
    )
    _forget_given(DistributedItem.callback_id == item_id)
    db.session.add(DistributedItem(user_id=user.id, callback_id=item_id, assigned_at=now))
    return True


Result = Literal["assigned", "nobody", "gone", "off"]


def _assign(kind: Kind, item_id: int, now: datetime) -> tuple[Result, int | None]:
    config = settings()
    if not enabled_for(config, kind):
        return "off", None
    try:
        candidates = _candidates(now, lock=True)
        chosen = pick(candidates, loads(p.user_id for p in candidates), config.mode, config.cap)
        if chosen is None:
            db.session.rollback()
            return "nobody", None
        if not _claim(kind, item_id, chosen.user, now):
            db.session.rollback()
            return "gone", None
        chosen.last_assigned_at = now
        user_id = chosen.user_id
        db.session.commit()
        return "assigned", user_id
    except Exception:
        db.session.rollback()
        raise


def assign(kind: Kind, item_id: int, now: datetime | None = None) -> int | None:
    """Give one waiting item to an agent (the outbox task ``distribution.assign``). Returns
    the agent's id, or None: distribution is off for it, nobody has room (it stays in the
    queue for the sweep), or it is no longer waiting (taken, routed, closed, run twice)."""
    return _assign(kind, item_id, now or utcnow())[1]


def free_room(now: datetime | None = None) -> int:
    """How many more items the available agents can take under the cap."""
    config = settings()
    candidates = _candidates(now or utcnow(), lock=False)
    load = loads(p.user_id for p in candidates)
    return sum(max(0, config.cap - load[p.user_id]) for p in candidates)


def waiting(limit: int, now: datetime | None = None) -> list[tuple[Kind, int]]:
    """The oldest items waiting in the first line that distribution hands out, oldest first."""
    now = now or utcnow()
    config = settings()
    found: list[tuple[datetime, Kind, int]] = []
    if enabled_for(config, "case"):
        rows = db.session.execute(
            sa.select(Case.received_at, Case.id)
            .where(*_case_waiting())
            .order_by(Case.received_at, Case.id)
            .limit(limit)
        ).all()
        found += [(at, "case", item_id) for at, item_id in rows]
    if enabled_for(config, "callback"):
        rows = db.session.execute(
            sa.select(Callback.created_at, Callback.id)
            .where(*_callback_waiting(now))
            .order_by(Callback.created_at, Callback.id)
            .limit(limit)
        ).all()
        found += [(at, "callback", item_id) for at, item_id in rows]
    found.sort(key=lambda row: (row[0], row[1] != "case", row[2]))
    return [(kind, item_id) for _at, kind, item_id in found[:limit]]


def sweep(now: datetime | None = None) -> int:
    """Give back what absent agents were given, then hand out the oldest waiting items while
    someone has room (every minute, and when an agent becomes available). Returns how many
    were assigned. Idempotent."""
    now = now or utcnow()
    if settings().mode == DistributionMode.OFF:
        return 0
    _give_back_absent(now)
    assigned = 0
    room = free_room(now)
    for kind, item_id in waiting(room, now) if room else []:
        result, _user = _assign(kind, item_id, now)
        if result == "assigned":
            assigned += 1
        elif result == "nobody":
            break
    return assigned


@dataclass(frozen=True)
class GivenBack:
    """What went back to the queue: cases and callbacks."""

    cases: int = 0
    callbacks: int = 0

    @property
    def total(self) -> int:
        return self.cases + self.callbacks

    def __bool__(self) -> bool:
        return self.total > 0


def give_back(user_id: int, now: datetime | None = None) -> GivenBack:
    """Return what distribution gave `user_id` and they have not started (a case still new, a
    callback not yet tried) to the queue; each says so on its case's timeline. Does not commit
    (the status change does)."""
    now = now or utcnow()
    rows = list(
        db.session.scalars(sa.select(DistributedItem).where(DistributedItem.user_id == user_id))
    )
    cases = callbacks = 0
    for row in rows:
        if row.case_id is not None:
            freed = _updated(
                sa.update(Case)
                .where(
                    Case.id == row.case_id,
                    Case.assignee_id == user_id,
                    Case.status == CaseStatus.NEW,
                )
                .values(assignee_id=None, version=Case.version + 1, updated_at=now)
                .execution_options(synchronize_session=False)
            )
            if freed:
                case = db.session.scalars(
                    sa.select(Case)
                    .where(Case.id == row.case_id)
                    .execution_options(populate_existing=True)
                ).one()
                add_activity(case, ActivityKind.ASSIGNED, None, assignee=None, via=VIA)
                cases += 1
        else:
            freed = _updated(
                sa.update(Callback)
                .where(
                    Callback.id == row.callback_id,
                    Callback.assigned_to_id == user_id,
                    Callback.status == CallbackStatus.PENDING,
                    Callback.attempts == 0,
                )
                .values(assigned_to_id=None, assigned_at=None)
                .execution_options(synchronize_session=False)
            )
            if freed:
                callback = db.session.scalars(
                    sa.select(Callback)
                    .where(Callback.id == row.callback_id)
                    .execution_options(populate_existing=True)
                ).one()
                add_activity(
                    callback.case,
                    ActivityKind.ASSIGNED,
                    None,
                    assignee=None,
                    via=VIA,
                    callback=callback.id,
                )
                callbacks += 1
    if rows:
        # Not session.delete: a sweep giving back the same agent's items at the same moment
        # may have deleted them already (0 rows is fine here, not a stale-data warning).
        _forget_given(DistributedItem.id.in_([row.id for row in rows]))
        for row in rows:
            db.session.expunge(row)
    return GivenBack(cases, callbacks)


def _give_back_absent(now: datetime) -> None:
    """Agents whose browser closed (not seen within the window) give back untouched items."""
    absent = db.session.scalars(
        sa.select(DistributedItem.user_id)
        .join(AgentPresence, AgentPresence.user_id == DistributedItem.user_id, isouter=True)
        .where(
            sa.or_(
                AgentPresence.user_id.is_(None),
                AgentPresence.seen_at.is_(None),
                AgentPresence.seen_at < presence_cutoff(now),
                AgentPresence.status.in_([s for s in AgentStatus if s.gives_back]),
            )
        )
        .distinct()
    ).all()
    for user_id in absent:
        try:
            give_back(user_id, now)
            db.session.commit()
        except Exception:
            db.session.rollback()
            raise
