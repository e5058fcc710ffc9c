"""Parsing the next batch of mail while this one is filed (issue #16).

A poll with a backlog and ``import-mail`` file their messages a batch per transaction. Parsing
(pure Python, about a third of a message's CPU) and filing (the ORM, the database) used to take
turns in one process. Here the next batch is parsed in a helper process while this process files
the current one, so a worker keeps both cores of a small machine busy (bench/README.md, E-mail
ingestion). A thread would not do: parsing holds the GIL.

Nothing about filing changes: the batches are filed in order, one after the other, by this
process, exactly as :func:`intake.ingest_batch` files them; it only receives the messages
already parsed. Messages above MAIL_ASYNC_BYTES are not parsed (they are stored first and
filed by a job). A single batch is parsed here, with no helper (a poll without a backlog pays
nothing). If the helper fails in any way (killed, out of memory, a message that cannot be
pickled), this process parses the batch itself and goes on without a helper: a message is
never lost or skipped because of the helper.

The helper only runs :func:`parse_for_parent` (``mime`` is pure: no app, no database). It is
forked (``forkserver`` or ``spawn`` would import the app in it, and re-run the main script of
some callers), so it holds copies of this process's open sockets, its database connection
among them. It never uses them, and it ends with ``os._exit`` (multiprocessing's workers do),
so it never closes them either. It must not outlive this process: a helper left over from a
killed worker would keep that worker's database session open, with its transaction and
locks. A watchdog thread in the helper ends it within half a second of this process going.
It is sent only the messages it parses and returns them without their raw bytes (this
process has them). A failure reading the next batch (an IMAP fetch) surfaces only after the
current batch is handed out, so the batch already read is still filed.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from types import TracebackType
from typing import TypeVar

from kontaktcenter.channels.email.mime.parsing import ParsedMessage, parse_message

T = TypeVar("T")
log = logging.getLogger(__name__)
Parsed = list[ParsedMessage | None]  # None: too large to parse here (stored first)
# How long to wait for the helper's batch before parsing it here (a batch takes about a second).
HELPER_TIMEOUT = 120


def parse_all(raws: Sequence[bytes], limit: int) -> Parsed:
    """Each message parsed, or None where it is larger than `limit` bytes."""
    return [parse_message(raw) if len(raw) <= limit else None for raw in raws]


def parse_for_parent(raws: Sequence[bytes]) -> list[ParsedMessage]:
    """What the helper runs: each message parsed, without the raw bytes the parent holds."""
    parsed = [parse_message(raw) for raw in raws]
    for message in parsed:
        message.raw = b""
    return parsed


def _end_with_parent() -> None:
    """In the helper: exit once the process that forked it is gone, and with it the sockets
    it inherited. Reading its work from the pipe would not notice: the helper holds that
    pipe's other end too."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, name="kc-parse-ahead-watch", daemon=True).start()


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
        work: Callable[[Sequence[bytes]], list[ParsedMessage]] = parse_for_parent,
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
        pending: Future[list[ParsedMessage]] | None = None  # the current group's, if sent
        while current is not None:
            failed: Exception | None = None
            try:
                following = next(found, None)
            except Exception as error:  # noqa: BLE001 - raised once the current group is handed out
                following, failed = None, error
            later = self._submit(following) if following is not None else None
            yield current, self._result(current, pending)
            if failed is not None:
                raise failed
            current, pending = following, later

    def _submit(self, group: list[tuple[T, bytes]]) -> Future[list[ParsedMessage]] | None:
        if not self.enabled:
            return None
        try:
            if self.pool is None:
                self.pool = ProcessPoolExecutor(
                    max_workers=1,
                    mp_context=multiprocessing.get_context("fork"),
                    initializer=_end_with_parent,
                )
            small = [raw for _label, raw in group if len(raw) <= self.limit]
            return self.pool.submit(self.work, small)
        except Exception:  # noqa: BLE001 - no helper: this process parses, as before
            log.warning("Could not start parsing mail ahead; parsing here", exc_info=True)
            self._give_up()
            return None

    def _result(
        self, group: list[tuple[T, bytes]], pending: Future[list[ParsedMessage]] | None
    ) -> Parsed:
        raws = [raw for _label, raw in group]
        if pending is not None:
            small = [raw for raw in raws if len(raw) <= self.limit]
            try:
                parsed = pending.result(timeout=HELPER_TIMEOUT)
            except Exception:  # noqa: BLE001 - the helper failed: parse here, go on without it
                log.warning("Parsing mail ahead failed; parsing here", exc_info=True)
                self._give_up()
            else:
                if len(parsed) == len(small):
                    for message, raw in zip(parsed, small, strict=True):
                        message.raw = raw
                    self.parsed_by_helper += len(parsed)
                    answers = iter(parsed)
                    return [next(answers) if len(raw) <= self.limit else None for raw in raws]
                log.warning("Mail parsed ahead: %d of %d; parsing here", len(parsed), len(small))
                self._give_up()
        return parse_all(raws, self.limit)

    def _give_up(self) -> None:
        self.enabled = False
        pool, self.pool = self.pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
