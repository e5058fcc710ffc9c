"""Import per-call statistics from the phone platform as CSV (issue #14, phone statistics).

The file is read and checked by :mod:`.stats_parsing`: all or nothing, every row is checked
before anything is stored, and the errors come back with their line numbers. Rows are upserted
by the platform's call id into ``calls`` (a call known from its events is the same row) and the
file's values are kept in ``call_statistics``, replaced by a later (corrected) file.

The file's values are never written into the call's event fields (times, queue, wait, agent):
those stay what the events said, and the report puts the two together in its query (the
events win where both have a value, the file fills the gaps), so a corrected file changes the
report. What the import does set on ``calls``: a call it creates gets the file's caller and a
final state; a known call whose events never said how it ended gets its state from the file
(a call nobody answered: abandoned). A call that already existed never gets the file's caller
(gallring may have erased it). Importing the same file again changes nothing.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from kontaktcenter.channels.phone import integration
from kontaktcenter.channels.phone.call_events import parse_number
from kontaktcenter.channels.phone.models import Call, CallEvent, CallEventKind, CallState
from kontaktcenter.channels.phone.stats_parsing import (
    MAX_BYTES,
    MAX_ROWS,
    ImportRejected,
    Row,
    RowError,
    check_size,
    parse,
    parse_time,
)
from kontaktcenter.core.extensions import Model, UTCDateTime, db, upsert, utcnow
from kontaktcenter.organisation.models import User

__all__ = [
    "MAX_BYTES",
    "MAX_ROWS",
    "CallStatistic",
    "ImportRejected",
    "ImportResult",
    "RowError",
    "check_size",
    "import_statistics",
    "parse",
    "parse_time",
]

CHUNK = 500


class CallStatistic(Model):
    """What the platform's statistics file said about one call."""

    __tablename__ = "call_statistics"

    call_id: Mapped[int] = mapped_column(
        sa.ForeignKey("calls.id", ondelete="CASCADE"), primary_key=True
    )
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    queue: Mapped[str | None] = mapped_column(sa.String(100))
    wait_seconds: Mapped[int | None] = mapped_column()
    answered: Mapped[bool] = mapped_column()
    talk_seconds: Mapped[int | None] = mapped_column()
    agent_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    agent_ref: Mapped[str | None] = mapped_column(sa.String(254))  # as in the file
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


@dataclass
class ImportResult:
    rows: int = 0
    created: int = 0  # calls nobody knew
    updated: int = 0  # known calls whose statistics (or state) changed: more or corrected
    unchanged: int = 0
    unknown_agents: list[str] = field(default_factory=list)


# --- storing it --------------------------------------------------------------------------------


def import_statistics(data: bytes) -> ImportResult:
    """Check the whole file, then upsert every call in one transaction (all or nothing)."""
    rows = parse(data)
    result = ImportResult(rows=len(rows))
    agents: dict[str, User | None] = {}
    for row in rows:
        if row.agent_ref is not None:
            if row.agent_ref not in agents:
                email = row.agent_ref if "@" in row.agent_ref else None
                agents[row.agent_ref] = integration.agent_for(
                    email, None if email else row.agent_ref
                )
            row.agent = agents[row.agent_ref]
    result.unknown_agents = sorted(ref for ref, user in agents.items() if user is None)
    now = utcnow()
    try:
        for start in range(0, len(rows), CHUNK):
            _store(rows[start : start + CHUNK], now, result)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return result


def _final_state(answered: bool) -> str:
    return (CallState.ENDED if answered else CallState.ABANDONED).value


def _new_call(row: Row, now: datetime) -> dict[str, object]:
    """A call nobody knew: the file's caller and how it ended (its times stay in the file's
    statistics row)."""
    number = parse_number(row.caller) if row.caller else None
    return {
        "platform_call_id": row.call_id,
        "state": _final_state(row.answered),
        "caller_e164": number.e164 if number else None,
        "caller_raw": number.raw if number else None,
        "caller_hidden": number.hidden if number else False,
        "created_at": now,
    }


def _store(rows: list[Row], now: datetime, result: ImportResult) -> None:
    ids = [row.call_id for row in rows]
    known = set(
        db.session.scalars(sa.select(Call.platform_call_id).where(Call.platform_call_id.in_(ids)))
    )
    db.session.execute(
        upsert(Call)
        .values([_new_call(row, now) for row in rows])
        .on_conflict_do_nothing(index_elements=["platform_call_id"])
    )
    calls = {
        call.platform_call_id: call
        for call in db.session.scalars(
            sa.select(Call)
            .where(Call.platform_call_id.in_(ids))
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    }
    call_ids = [c.id for c in calls.values()]
    stats = {
        stat.call_id: stat
        for stat in db.session.scalars(
            sa.select(CallStatistic).where(CallStatistic.call_id.in_(call_ids))
        )
    }
    kinds: dict[int, set[CallEventKind]] = defaultdict(set)
    for call_id, kind in db.session.execute(
        sa.select(CallEvent.call_id, CallEvent.kind).where(CallEvent.call_id.in_(call_ids))
    ):
        kinds[call_id].add(kind)
    for row in rows:
        call = calls[row.call_id]
        changed = _keep(stats.get(call.id), call, row, now)
        if row.call_id not in known:
            result.created += 1
            continue
        changed = _settle(call, kinds[call.id], row) or changed
        result.updated += changed
        result.unchanged += not changed
    db.session.flush()


def _keep(stat: CallStatistic | None, call: Call, row: Row, now: datetime) -> bool:
    """The file's word on the call, replaced when a later file says something else."""
    values = {
        "started_at": row.started_at,
        "queue": row.queue,
        "wait_seconds": row.wait_seconds,
        "answered": row.answered,
        "talk_seconds": row.talk_seconds,
        "agent_id": row.agent.id if row.agent else None,
        "agent_ref": row.agent_ref,
    }
    if stat is None:
        db.session.add(CallStatistic(call_id=call.id, imported_at=now, **values))
        return True
    if all(getattr(stat, name) == value for name, value in values.items()):
        return False
    for name, value in values.items():
        setattr(stat, name, value)
    stat.imported_at = now
    return True


def _settle(call: Call, kinds: set[CallEventKind], row: Row) -> bool:
    """A known call's state where its events leave it open: answered and not ended (the file
    lists finished calls: ended), or never answered nor abandoned (the file says which; an
    `ended` alone may be a missed `answered` event). An `abandoned` event stands."""
    if CallEventKind.ANSWERED in kinds:
        state = CallState.ENDED
    elif CallEventKind.ABANDONED in kinds:
        return False
    else:
        state = CallState.ENDED if row.answered else CallState.ABANDONED
    if call.state == state:
        return False
    call.state = state
    return True
