"""Parsing the next batch of mail while this one is filed (issue #16).

A poll with a backlog and ``import-mail`` file their messages a batch per transaction. Parsing
(pure Python, about a third of a message's CPU) and filing (the ORM, the database) used to take
turns in one process. Here the next batch is parsed in a helper process, started with ``fork``,
while this process files the current one, so a worker keeps both cores of a small machine busy
(bench/README.md, E-mail ingestion). A thread would not do: parsing holds the GIL.

Nothing about filing changes: the batches are filed in order, one after the other, by this
process, exactly as :func:`intake.ingest_batch` files them; it only receives the messages
already parsed. Messages above MAIL_ASYNC_BYTES are not parsed (they are stored first and
filed by a job). A single batch is parsed here, with no helper (a poll without a backlog pays
nothing). If the helper fails in any way (killed, out of memory, a message that cannot be
pickled), this process parses the batch itself and goes on without a helper: a message is
never lost or skipped because of the helper.

The helper only runs :func:`parse_all` (``mime`` is pure: no app, no database). It is forked
from a process that holds database connections and never touches them: it ends with
``os._exit``, as multiprocessing's workers do, so no connection is closed from the child.
"""

from __future__ import annotations

import logging
import multiprocessing
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from types import TracebackType
from typing import TypeVar

from kontaktcenter.channels.email.mime.parsing import ParsedMessage, parse_message

T = TypeVar("T")
log = logging.getLogger(__name__)
Parsed = list[ParsedMessage | None]  # None: too large to parse here (stored first)


def parse_all(raws: Sequence[bytes], limit: int) -> Parsed:
    """Each message parsed, or None where it is larger than `limit` bytes."""
    return [parse_message(raw) if len(raw) <= limit else None for raw in raws]


def available() -> bool:
    """Whether this platform can fork a helper (Linux and macOS; not Windows)."""
    return "fork" in multiprocessing.get_all_start_methods()


class ParseAhead:
    """Groups of (label, raw) with their messages parsed, the next group in a helper process.

    ``with ParseAhead(limit) as ahead: for group, parsed in ahead.groups(batches(...)): …``
    Reading a group from `groups` reads the next one from the iterable before this one is
    handed out (an IMAP poll fetches the next batch meanwhile). `enabled` False parses every
    group here, as before. `work` is what the helper runs (tests give one that fails)."""

    def __init__(
        self,
        limit: int,
        *,
        enabled: bool = True,
        work: Callable[[Sequence[bytes], int], Parsed] = parse_all,
    ) -> None:
        self.limit = limit
        self.enabled = enabled and available()
        self.work = work
        self.pool: ProcessPoolExecutor | None = None
        self.parsed_by_helper = 0  # messages the helper parsed (for tests and the bench)

    def __enter__(self) -> ParseAhead:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None

    def groups(
        self, groups: Iterable[list[tuple[T, bytes]]]
    ) -> Iterator[tuple[list[tuple[T, bytes]], Parsed]]:
        found = iter(groups)
        current = next(found, None)
        pending: Future[Parsed] | None = None  # the current group's parsing, if in the helper
        while current is not None:
            following = next(found, None)
            later = self._submit(following) if following is not None else None
            yield current, self._result(current, pending)
            current, pending = following, later

    def _submit(self, group: list[tuple[T, bytes]]) -> Future[Parsed] | None:
        if not self.enabled:
            return None
        try:
            if self.pool is None:
                context = multiprocessing.get_context("fork")
                self.pool = ProcessPoolExecutor(max_workers=1, mp_context=context)
            return self.pool.submit(self.work, [raw for _label, raw in group], self.limit)
        except Exception:  # noqa: BLE001 - no helper: this process parses, as before
            log.warning("Could not start parsing mail ahead; parsing here", exc_info=True)
            self._give_up()
            return None

    def _result(self, group: list[tuple[T, bytes]], pending: Future[Parsed] | None) -> Parsed:
        raws = [raw for _label, raw in group]
        if pending is not None:
            try:
                parsed = pending.result()
            except Exception:  # noqa: BLE001 - the helper failed: parse here, go on without it
                log.warning("Parsing mail ahead failed; parsing here", exc_info=True)
                self._give_up()
            else:
                if len(parsed) == len(raws):
                    self.parsed_by_helper += sum(p is not None for p in parsed)
                    return parsed
                log.warning(
                    "Parsing mail ahead gave %d of %d; parsing here", len(parsed), len(raws)
                )
                self._give_up()
        return parse_all(raws, self.limit)

    def _give_up(self) -> None:
        self.enabled = False
        pool, self.pool = self.pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
