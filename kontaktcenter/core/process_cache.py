"""Values read from small tables that change rarely, kept per process (issue #16).

A :class:`Kept` holds what a function read (plain values: never ORM objects, which belong to one
session) for ORGANISATION_CACHE_SECONDS (default: CALENDAR_CACHE_SECONDS; 0 in the tests: always
read). Other processes see a change within that
time. The process that makes the change sees it at once: a transaction that has added,
changed or deleted an instance of a watched model (pending or flushed) neither uses nor fills
the cache, as it reads what it wrote, which may still roll back; its commit forgets the kept
values. Only ORM writes are seen: a Core UPDATE of a watched table is not (none is made).

Only for what a page shows: a decision that must not act on a stale value reads the table.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Hashable
from time import monotonic
from typing import Any, Generic, TypeVar

import sqlalchemy as sa
from flask import current_app, has_app_context
from sqlalchemy.orm import Session

from kontaktcenter.core.extensions import db

T = TypeVar("T")


class Kept(Generic[T]):
    """Values of `load()` per key, kept per app and process (see the module's docstring)."""

    def __init__(self, name: str, watches: tuple[type, ...]) -> None:
        self.key = f"kontaktcenter.kept.{name}"
        self.watches = watches
        sa.event.listen(Session, "after_flush", self._flushed)
        sa.event.listen(Session, "after_commit", self._committed)
        sa.event.listen(Session, "after_soft_rollback", self._rolled_back)

    def get(self, load: Callable[[], T], key: Hashable = None) -> T:
        """What `load()` gives, kept under `key` for the cache time."""
        ttl = self._seconds()
        if ttl and self._writing(db.session()):
            ttl = 0
        store: dict[Hashable, tuple[float, T]] = (
            current_app.extensions.setdefault(self.key, {}) if ttl else {}
        )
        found = store.get(key)
        if found is not None and monotonic() - found[0] < ttl:
            return found[1]
        value = load()
        if ttl:
            store[key] = (monotonic(), value)
        return value

    def forget(self) -> None:
        """Drop what this process keeps (the next :meth:`get` reads again)."""
        if has_app_context():
            current_app.extensions.pop(self.key, None)

    def _seconds(self) -> float:
        config = current_app.config
        seconds: float = config.get(
            "ORGANISATION_CACHE_SECONDS", config.get("CALENDAR_CACHE_SECONDS", 0)
        )
        return seconds

    def _changing(self, session: Session) -> bool:
        changed = itertools.chain(session.new, session.dirty, session.deleted)
        return any(isinstance(obj, self.watches) for obj in changed)

    def _writing(self, session: Session) -> bool:
        return bool(session.info.get(self.key)) or self._changing(session)

    # Until its commit, what other sessions keep is the committed value, still right; this
    # session reads its own (it is writing). So the kept values are forgotten at the commit
    # only, after the database's COMMIT (a value another thread read before it is dropped).

    def _flushed(self, session: Session, _context: Any) -> None:
        if self._changing(session):
            session.info[self.key] = True

    def _committed(self, session: Session) -> None:
        if session.info.pop(self.key, False):
            self.forget()

    def _rolled_back(self, session: Session, previous: Any) -> None:
        if not previous.nested:  # to a savepoint: what was flushed before it is still written
            session.info.pop(self.key, None)
