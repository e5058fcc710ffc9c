"""Screen pop: tell an agent's browser that a call was just answered by (or transferred to) them.

The database is the source of truth: a pop is a ``call_events`` row (`answered` or
`transferred`) naming the agent, and its id is the server-sent event's id. The broker only
wakes the agent's open streams: an in-process condition for the embedded default (one
process), Redis pub/sub when jobs run on Redis (``JOBS_MODE=rq``: several web processes, the
event may be posted to another one than the agent's stream). A wake-up that is lost (a process
killed between its commit and its publish, Redis briefly away) costs latency, not the pop: each
stream also reads the database when it starts and every ``POLL_SECONDS``, from the browser's
Last-Event-ID.

Streams are short (``STREAM_SECONDS``; the browser reconnects with Last-Event-ID at once), so a
web worker is never held for long; on a server that is not threaded (gunicorn's sync worker,
``wsgi.multithread`` false) a stream answers what is due and ends at once, and the browser asks
again after ``SYNC_RETRY_MS``: polling, slower but never starving the workers.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

import sqlalchemy as sa
from flask import Flask, current_app, url_for

from kontaktcenter.channels.phone.models import Call, CallEvent, CallEventKind, CallState
from kontaktcenter.core.extensions import db, utcnow

STREAM_SECONDS = 25.0  # a threaded server holds a stream this long
POLL_SECONDS = 5.0  # a held stream also reads the database this often (lost wake-ups)
RETRY_MS = 1000  # the browser reconnects this soon after a held stream ends
SYNC_RETRY_MS = 3000  # ... and polls this often from a server that is not threaded
REPLAY = timedelta(minutes=2)  # a reconnecting browser gets pops at most this old
CHANNEL = "kontaktcenter:screen-pop"
POP_KINDS = (CallEventKind.ANSWERED, CallEventKind.TRANSFERRED)


@dataclass(frozen=True)
class Pop:
    event_id: int
    call_id: int
    caller: str
    url: str

    def message(self) -> str:
        data = json.dumps({"call": self.call_id, "caller": self.caller, "url": self.url})
        return f"id: {self.event_id}\nevent: pop\ndata: {data}\n\n"


class Broker(Protocol):
    def publish(self, user_id: int, event_id: int) -> None: ...

    def listen(self, user_id: int) -> Listener: ...


class Listener(Protocol):
    def wait(self, timeout: float) -> bool:
        """Block until a pop may be due for the user (True) or `timeout` seconds passed."""

    def close(self) -> None: ...


class LocalBroker:
    """One process: a counter per user and a condition every stream of the process waits on."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._counts: dict[int, int] = {}

    def publish(self, user_id: int, event_id: int) -> None:
        with self._condition:
            self._counts[user_id] = self._counts.get(user_id, 0) + 1
            self._condition.notify_all()

    def listen(self, user_id: int) -> _LocalListener:
        with self._condition:
            return _LocalListener(self, user_id, self._counts.get(user_id, 0))


class _LocalListener:
    def __init__(self, broker: LocalBroker, user_id: int, seen: int) -> None:
        self.broker, self.user_id, self.seen = broker, user_id, seen

    def wait(self, timeout: float) -> bool:
        broker = self.broker
        with broker._condition:
            woke = broker._condition.wait_for(
                lambda: broker._counts.get(self.user_id, 0) != self.seen, timeout
            )
            self.seen = broker._counts.get(self.user_id, 0)
        return bool(woke)

    def close(self) -> None:
        pass


class RedisBroker:
    """Several processes: one pub/sub channel per user on the app's Redis."""

    def __init__(self, url: str) -> None:
        from redis import Redis

        self.redis = Redis.from_url(url)

    def publish(self, user_id: int, event_id: int) -> None:
        self.redis.publish(f"{CHANNEL}:{user_id}", str(event_id))

    def listen(self, user_id: int) -> _RedisListener:
        pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        pubsub.subscribe(f"{CHANNEL}:{user_id}")
        return _RedisListener(pubsub)


class _RedisListener:
    def __init__(self, pubsub: Any) -> None:
        self.pubsub = pubsub

    def wait(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            if self.pubsub.get_message(timeout=left) is not None:
                return True
        return False

    def close(self) -> None:
        self.pubsub.close()


def init_app(app: Flask) -> None:
    """The broker for this app: Redis when jobs run on Redis, else this process's own."""
    if app.config.get("JOBS_MODE") == "rq" and app.config.get("REDIS_URL"):
        app.extensions["screen_pop"] = RedisBroker(app.config["REDIS_URL"])
    else:
        app.extensions["screen_pop"] = LocalBroker()


def broker() -> Broker:
    result: Broker = current_app.extensions["screen_pop"]
    return result


def publish(user_id: int, event_id: int) -> None:
    """Wake the user's streams (after the pop's event is committed). Best effort: a failure is
    logged, and the stream's own reading of the database delivers the pop later."""
    try:
        broker().publish(user_id, event_id)
    except Exception:  # noqa: BLE001 - Redis away: the poll in the stream catches up
        current_app.logger.warning("screen pop: publish failed", exc_info=True)


# The namespace of the advisory locks that keep one agent's pop events in commit order.
_POP_LOCK_NAMESPACE = 0x5C9E


def serialise_pops_of(agent_id: int) -> None:
    """Before inserting a pop event (`answered`/`transferred`) for `agent_id`: wait for any
    other transaction inserting one for the same agent to end.

    A stream reads pops after an event id (its watermark: the `hello`, then each pop sent).
    Ids come from a sequence when the row is inserted, so on PostgreSQL two transactions can
    commit out of id order; a stream that read id N+1 while N was still in flight would skip N
    for good. Holding this lock from before the insert until the commit makes one agent's pop
    events commit in id order: every committed pop id is below any still to come. (Other
    agents' events do not matter: a stream reads only its agent's, and its watermark is the
    newest of its agent's, :func:`latest_event_id`.) SQLite has one writer at a time anyway.
    """
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(sa.select(sa.func.pg_advisory_xact_lock(_POP_LOCK_NAMESPACE, agent_id)))


def latest_event_id(user_id: int) -> int:
    """The newest pop event of the user: where a new stream starts. Only the user's own,
    never the newest of all: another agent's event can commit before one of this user's that
    has a smaller id (see :func:`serialise_pops_of`)."""
    return (
        db.session.scalar(
            sa.select(sa.func.max(CallEvent.id)).where(
                CallEvent.agent_id == user_id, CallEvent.kind.in_(POP_KINDS)
            )
        )
        or 0
    )


def due_pops(user_id: int, after: int) -> list[Pop]:
    """The pops for `user_id` after event id `after`: calls answered by or transferred to the
    user in the last REPLAY, still going, and still the user's (a call transferred on is the
    new agent's), oldest first."""
    since = utcnow() - REPLAY
    rows = db.session.execute(
        sa.select(CallEvent.id, Call)
        .join(Call, Call.id == CallEvent.call_id)
        .where(
            CallEvent.agent_id == user_id,
            CallEvent.id > after,
            CallEvent.kind.in_(POP_KINDS),
            CallEvent.received_at >= since,
            Call.state == CallState.ANSWERED,
        )
        .order_by(CallEvent.id)
    ).all()
    pops = []
    for event_id, call in rows:
        if call.handled_by_id != user_id:
            continue  # answered, then transferred to someone else
        url = url_for("phone_calls.open_call", call_id=call.id)
        pops.append(Pop(event_id, call.id, call.caller_label, url))
    return pops


def stream(user_id: int, after: int | None, threaded: bool) -> Iterator[str]:
    """The server-sent events for one connection: a `hello` carrying the newest event id (so
    the browser's Last-Event-ID is set even if no pop comes), then pops as they are committed.
    Between reads it ends its transaction, so a waiting stream holds no database connection."""
    listener = broker().listen(user_id) if threaded else None
    try:
        retry = f"retry: {RETRY_MS if threaded else SYNC_RETRY_MS}\n"
        if after is None:
            after = latest_event_id(user_id)
            yield f"{retry}id: {after}\nevent: hello\ndata: {{}}\n\n"
        else:
            yield f"{retry}\n"
        deadline = time.monotonic() + (STREAM_SECONDS if threaded else 0)
        while True:
            for pop in due_pops(user_id, after):
                after = pop.event_id
                yield pop.message()
            db.session.rollback()  # no transaction (or connection) held while waiting
            left = deadline - time.monotonic()
            if listener is None or left <= 0:
                return
            if not listener.wait(min(left, POLL_SECONDS)):
                yield ": keep-alive\n\n"
    finally:
        if listener is not None:
            listener.close()
