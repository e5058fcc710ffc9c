"""The queue's and the inboxes' counts of open cases by channel, shared by a process's requests
for QUEUE_COUNTS_CACHE_SECONDS (#16).

Counting reads every open case of the filter (an index-only scan: ~40,000 entries and 5-8 ms of
database CPU per page at 1M cases, the largest part of a queue page's), while the list itself is
a keyset page of 50. The counts may lag a few seconds in the other processes, as the overview's
board does (OVERVIEW_CACHE_SECONDS); the process that changes a case forgets them at its flush,
so an agent's own change shows at once. The list, and the newest case id that the "new cases"
notice counts from, are always read live.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from time import monotonic

import sqlalchemy as sa
from flask import current_app, has_app_context

from kontaktcenter.cases import access
from kontaktcenter.cases.models import Case
from kontaktcenter.organisation.models import User

_MAX_ENTRIES = 1024
_KEY = "kontaktcenter.queue_counts"
_Cache = dict[tuple[object, ...], tuple[float, dict[str, int]]]


def _cache() -> _Cache:
    """The app's own (kept in ``app.extensions``: two apps in one process never share)."""
    found: _Cache = current_app.extensions.setdefault(_KEY, {})
    return found


def cached_counts(
    user: User, filters: object, count: Callable[[], dict[str, int]]
) -> dict[str, int]:
    """The counts for `user`'s view of `filters`: `count()`, unless this process counted the
    same within QUEUE_COUNTS_CACHE_SECONDS (0: always counted)."""
    ttl = current_app.config["QUEUE_COUNTS_CACHE_SECONDS"]
    if not ttl:
        return count()
    cache = _cache()
    key = (access.access_key(user), _frozen(filters))
    hit = cache.get(key)
    if hit is not None and monotonic() - hit[0] < ttl:
        return hit[1]
    counts = count()
    if len(cache) >= _MAX_ENTRIES:
        cache.clear()
    cache[key] = (monotonic(), counts)
    return counts


def _frozen(filters: object) -> tuple[object, ...]:
    """A QueueFilters as a key (its list of departments as a tuple)."""
    values = dataclasses.astuple(filters)  # type: ignore[call-overload]
    return tuple(tuple(v) if isinstance(v, list) else v for v in values)


@sa.event.listens_for(sa.orm.Session, "after_flush")
def _forget_on_case_change(session: sa.orm.Session, _context: object) -> None:
    """A case made, changed or removed in this process: count again (status, channel,
    department and assignee decide which counts a case is in)."""
    if not has_app_context():
        return
    cache = current_app.extensions.get(_KEY)
    if cache and any(
        isinstance(obj, Case) for obj in (*session.new, *session.dirty, *session.deleted)
    ):
        cache.clear()
