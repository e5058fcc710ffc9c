"""Distribution listens to new cases and callbacks, to calls (answered, transferred, ended)
and to signing out.

A new case is announced before it is flushed (no id yet) and may still be routed in the same
transaction, so the receivers only note the new items; just before the commit the ones still
waiting in the first line get a ``distribution.assign`` outbox row, committed with them. None
of this commits: the transaction belongs to whoever created the items.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import Flask
from flask_login import user_logged_out
from sqlalchemy.orm import Session

from kontaktcenter.callbacks import events as callback_events
from kontaktcenter.callbacks.models import Callback, CallbackStatus
from kontaktcenter.cases import events as case_events
from kontaktcenter.cases.enums import Channel
from kontaktcenter.cases.models import Case
from kontaktcenter.channels.phone.models import Call, CallEvent, CallEventKind, CallState
from kontaktcenter.channels.phone.signals import call_changed, call_updated
from kontaktcenter.core import outbox
from kontaktcenter.core.extensions import db
from kontaktcenter.distribution import assignment, presence
from kontaktcenter.distribution.models import AgentPresence, AgentStatus
from kontaktcenter.organisation.models import User

_NEW = "distribution_new_items"


def _note(item: object) -> None:
    db.session.info.setdefault(_NEW, []).append(item)


@case_events.created.connect
def _case_created(case: Case, at: datetime) -> None:
    if case.channel == Channel.EMAIL:
        _note(case)


@callback_events.created.connect
def _callback_created(callback: Callback, **_: Any) -> None:
    _note(callback)


@sa.event.listens_for(Session, "before_commit")
def _write_outbox_rows(session: Session) -> None:
    items = session.info.pop(_NEW, None)
    if not items:
        return
    config = assignment.settings()
    wanted = [
        item
        for item in items
        if assignment.enabled_for(config, "case" if isinstance(item, Case) else "callback")
    ]
    if not wanted:
        return
    session.flush()  # the new cases get their ids
    for item in wanted:
        if isinstance(item, Case):
            if item.department_id is None and item.assignee_id is None and item.is_open:
                outbox.add("distribution.assign", kind="case", item_id=item.id)
        elif (
            item.status == CallbackStatus.PENDING
            and item.assigned_to_id is None
            and item.case.department_id is None
        ):
            outbox.add("distribution.assign", kind="callback", item_id=item.id)


@sa.event.listens_for(Session, "after_soft_rollback")
def _forget(session: Session, previous: Any) -> None:
    if not previous.nested:
        session.info.pop(_NEW, None)


# A call event says the softphone is in use, not that the browser is open: the status it sets
# does not make the agent seen (presence.apply_status with by_system), so an agent whose browser
# closed stays out of distribution however many calls they take.


def _in_call(user_id: int | None) -> None:
    row = db.session.get(AgentPresence, user_id) if user_id is not None else None
    if row is not None and row.status == AgentStatus.AVAILABLE:
        presence.apply_status(row.user, AgentStatus.IN_CALL, by_system=True)


def _off_the_call(user_id: int | None) -> None:
    """Available again, unless the agent chose another status during the call."""
    row = db.session.get(AgentPresence, user_id) if user_id is not None else None
    if row is not None and row.status == AgentStatus.IN_CALL and row.set_by_system:
        presence.apply_status(row.user, AgentStatus.AVAILABLE, by_system=True)


@call_changed.connect
def _call_changed(call: Call, before: CallState, **_: Any) -> None:
    """An answered call makes its available agent "i samtal"; its end makes them available
    again, unless the agent chose another status meanwhile."""
    if call.state == CallState.ANSWERED:
        _in_call(call.handled_by_id)
    elif before == CallState.ANSWERED:
        for user_id in {call.agent_id, call.transferred_to_id} - {None}:
            _off_the_call(user_id)


@call_updated.connect
def _call_updated(call: Call, event: CallEvent, **_: Any) -> None:
    """A transfer leaves the call answered (no `call_changed`): the agent who passed it on is
    off the call, the one who took it is on it. A transfer that arrives after the end, or
    before the answer (then `call_changed` sets its agent), changes nothing here."""
    if event.kind != CallEventKind.TRANSFERRED or call.state != CallState.ANSWERED:
        return
    if call.agent_id != event.agent_id:
        _off_the_call(call.agent_id)
    _in_call(event.agent_id)


def _signed_out(_app: Flask, user: User | None = None, **_: Any) -> None:
    if user is not None and getattr(user, "id", None) is not None:
        presence.set_status(user, AgentStatus.SIGNED_OUT)


def init_app(app: Flask) -> None:
    user_logged_out.connect(_signed_out, app)
