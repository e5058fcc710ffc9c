"""The transactional outbox: work a change causes, written in the change's own transaction.

A service that causes work to be done after its commit (an acknowledgement, a reply's delivery,
a breach alert, later webhooks and survey mails) calls :func:`add` before it commits: the row is
committed with the change or rolled back with it, so the work can neither be lost nor done for
a change that never happened. After the commit the row is handed to the job runner (RQ, the
in-process thread pool, or at once in tests); :func:`recover`, run every minute, hands over rows
that were left behind (a process killed after its commit, Redis down) and rows whose worker
died while running them.

A row's state decides what runs: :func:`run` claims a pending row with a conditional UPDATE, so
two runners never both run it, and marks it done after the task. A task itself is idempotent
(a retry after success does nothing), because a worker can die between the task's own commit
and the row being marked done. Failures are retried with backoff, in every job mode, and a row
that fails ``OUTBOX_MAX_ATTEMPTS`` times is kept as failed for the admin health page.

Areas register their tasks by name with :func:`task`, so a service names the work it causes
without importing the code that does it.

A **batch task** (``task(name, batch=N)``) does the same work for many rows at once (filing
stored e-mail: one transaction for a hundred messages instead of a hundred). Its rows are not
handed over one job each: a commit hands over one :func:`drain` job per task, unless one is
already waiting (a flag in Redis, or in the process in thread mode), and that job claims up to
N due rows at a time (``FOR UPDATE SKIP LOCKED``: several workers share the rows) until none
are left. The flag is cleared before the first claim, so a row committed while a drain runs
either is claimed by it or hands over the next one. Each row still has its own state, attempts,
backoff and failure. A **drained task** (``task(name, drain=True)``) is handed over the same
way but runs one row per claim, as an ordinary task does: many small jobs (acknowledgements,
deliveries) cost one job instead of one forked RQ work-horse each.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, cast

import sqlalchemy as sa
from flask import Flask, current_app
from sqlalchemy.orm import Mapped, Session, mapped_column

from kontaktcenter.core import jobs, periodic
from kontaktcenter.core.extensions import Model, UTCDateTime, db, utcnow
from kontaktcenter.core.identifiers import mask_personal_data

log = logging.getLogger(__name__)

PENDING, RUNNING, DONE, FAILED = "pending", "running", "done", "failed"
BACKOFF_SECONDS = (10, 60, 300, 1800, 3600)
_UNFINISHED = sa.text("state IN ('pending', 'running')")


class OutboxJob(Model):
    __tablename__ = "outbox_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    task: Mapped[str] = mapped_column(sa.String(80))
    args: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    state: Mapped[str] = mapped_column(sa.String(10), default=PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    run_after: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(sa.Text)

    __table_args__ = (
        # What recover() and the health page read: only unfinished rows, however many are done.
        sa.Index(
            "ix_outbox_jobs_unfinished",
            "state",
            "run_after",
            postgresql_where=_UNFINISHED,
            sqlite_where=_UNFINISHED,
        ),
        sa.Index(
            "ix_outbox_jobs_failed",
            "finished_at",
            postgresql_where=sa.text("state = 'failed'"),
            sqlite_where=sa.text("state = 'failed'"),
        ),
    )


_TASKS: dict[str, Callable[..., object]] = {}
# Batch tasks: rows claimed per run. Their function takes the rows' arguments as a list and
# returns, by position, None for a row done or the error of a row to retry (see `task`).
_BATCH: dict[str, int] = {}
_EACH: set[str] = set()  # drained tasks: their function takes one row's arguments
# A drain job waits for these (thread mode: in this process) and a drain's flag in Redis lives
# at most this long, so a drain that was lost (Redis emptied) is handed over again by recover().
DRAIN_FLAG_SECONDS = 60
# A drain hands itself over again after this long, so one job never outlives its timeout.
DRAIN_SECONDS = 60
_draining: set[str] = set()
_draining_lock = threading.Lock()
# Per task: the arguments that are personal data (a phone number), erased from the row once it
# has finished, done or failed for good: rows are kept for the health page, their data not.
_PRIVATE: dict[str, tuple[str, ...]] = {}


def task(
    name: str, private: tuple[str, ...] = (), *, batch: int = 0, drain: bool = False
) -> Callable[[Callable[..., object]], Callable[..., object]]:
    """Register `func` as the task `name` (``area.verb``), run with the row's arguments.
    `private` names arguments that are personal data: set to null when the row finishes.

    `batch`: run up to this many rows at once. `func` then takes one argument, the rows'
    arguments as a list, and returns a list with one item per row: None for a row that is
    done, or the error (a string) of a row to retry with backoff. Raising retries them all.
    `drain`: `func` runs a row at a time, as usual, but the rows are handed over as one drain
    job per task instead of one job each."""

    def decorator(func: Callable[..., object]) -> Callable[..., object]:
        if _TASKS.get(name, func) is not func:
            raise RuntimeError(f"Two outbox tasks are named {name!r}")
        _TASKS[name] = func
        if private:
            _PRIVATE[name] = private
        if batch:
            _BATCH[name] = batch
        elif drain:
            _BATCH[name] = 1
            _EACH.add(name)
        return func

    return decorator


def _erased(name: str, args: dict[str, Any]) -> dict[str, Any] | None:
    """The row's arguments with its task's private ones set to null (None: nothing to erase)."""
    private = [key for key in _PRIVATE.get(name, ()) if args.get(key) is not None]
    return {**args, **dict.fromkeys(private)} if private else None


def add(name: str, **args: Any) -> OutboxJob:
    """Have `name` run with `args` (JSON values) once the current transaction commits."""
    if name not in _TASKS:
        raise LookupError(f"No outbox task named {name!r}")
    row = OutboxJob(task=name, args=args)
    db.session.add(row)
    return row


def add_many(name: str, args: Sequence[dict[str, Any]]) -> list[int]:
    """`add` for many rows without ORM objects (a hot path: mail stored first, the HTTP door's
    above all; one INSERT on PostgreSQL, one per row on SQLite, which keeps their order): the
    rows are handed over after the commit as `add`'s are, and forgotten with a rollback of the
    transaction or of the savepoint they were written in. Returns their ids, in the order of
    `args`."""
    if name not in _TASKS:
        raise LookupError(f"No outbox task named {name!r}")
    if not args:
        return []
    now = utcnow()
    table = cast(sa.Table, OutboxJob.__table__)
    statement = sa.insert(table).returning(table.c.id, sort_by_parameter_order=True)
    ids = list(
        db.session.execute(
            statement,
            [{"task": name, "args": a, "created_at": now, "run_after": now} for a in args],
        ).scalars()
    )
    _note(db.session(), [(i, name) for i in ids])
    return ids


def commit() -> None:
    """Commit the session and run what it added at once where jobs run eagerly (tests); the
    other job modes were handed the rows by the commit itself."""
    db.session.commit()
    dispatch()


def dispatch() -> None:
    """Run the rows committed in this session that wait for an eager run. A task that commits
    rows of its own while this runs (a receipt's delivery) adds them to the same list, which
    this loop then runs: not nested inside the task, so a long chain cannot exhaust the stack."""
    info = db.session.info
    if info.get("outbox_dispatching"):
        return
    ready: list[int] = info.setdefault("outbox_ready", [])
    info["outbox_dispatching"] = True
    try:
        while ready:
            run(ready.pop(0))
    finally:
        info["outbox_dispatching"] = False


# --- handing rows over after the commit ------------------------------------------------------


def _note(session: Session, rows: list[tuple[int, str]]) -> None:
    """Remember rows written in this transaction, to hand over once it commits, with the
    savepoint they were written in (None: none), so that rolling it back forgets them."""
    savepoint = session.get_nested_transaction()
    session.info.setdefault("outbox_flushed", []).extend((*row, savepoint) for row in rows)


@sa.event.listens_for(Session, "after_flush")
def _remember(session: Session, _context: object) -> None:
    rows = [(obj.id, obj.task) for obj in session.new if isinstance(obj, OutboxJob)]
    if rows:
        _note(session, rows)


@sa.event.listens_for(Session, "after_soft_rollback")
def _forget(session: Session, previous: sa.orm.SessionTransaction) -> None:
    if not previous.nested:
        session.info.pop("outbox_flushed", None)
        return
    noted = session.info.get("outbox_flushed", [])
    for row in list(noted):  # a savepoint: the rows written in it or in one inside it
        savepoint = row[2]
        while savepoint is not None and savepoint is not previous:
            savepoint = savepoint.parent
        if savepoint is previous:
            noted.remove(row)


@sa.event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    if session.in_nested_transaction():  # a savepoint released (SQLAlchemy 2.1 says so too)
        return
    noted = session.info.pop("outbox_flushed", None)
    if not noted:
        return
    if current_app.config["JOBS_MODE"] == "eager":
        session.info.setdefault("outbox_ready", []).extend(row[0] for row in noted)
        return
    _hand_over_all([(job_id, name) for job_id, name, _savepoint in noted])


def _hand_over_all(rows: Sequence[tuple[int, str]], *, force: bool = False) -> None:
    """Hand over rows: one job per row, one drain per batch task (`force`: even if one seems to
    be waiting already, as recover() does: the job may have been lost with its flag left)."""
    drains: list[str] = []
    for job_id, name in rows:
        if name in _BATCH:
            if name not in drains:
                drains.append(name)
        else:
            _hand_over(job_id)
    for name in drains:
        _hand_over_drain(name, force=force)


def _hand_over(job_id: int) -> None:
    """Give a committed row to the job runner. A runner that is down loses nothing: the row
    stays pending and recover() hands it over again."""
    try:
        # The queue's name in the id: two installations (or test runs) may share one Redis.
        queue = current_app.config["JOB_QUEUE"]
        timeout = current_app.config["OUTBOX_JOB_TIMEOUT"]
        jobs.enqueue(run, job_id, rq_job_id=f"{queue}-outbox-{job_id}", rq_job_timeout=timeout)
    except Exception:  # noqa: BLE001 - e.g. Redis down; the row is safe in the database
        log.exception("Could not hand outbox job %s to the job runner; it will be retried", job_id)


def _drain_flag(name: str) -> str:
    return f"{current_app.config['JOB_QUEUE']}-outbox-drain-{name}"


def _hand_over_drain(name: str, *, force: bool = False) -> None:
    """Have a drain of `name`'s rows run, unless one is waiting to start already (`force`:
    regardless; a drain more only finds nothing to claim)."""
    mode = current_app.config["JOBS_MODE"]
    try:
        if mode == "rq":
            flag = _drain_flag(name)
            redis = jobs.redis_connection()
            if not redis.set(flag, 1, nx=True, ex=DRAIN_FLAG_SECONDS) and not force:
                return
            try:
                jobs.enqueue(drain, name, rq_job_timeout=current_app.config["OUTBOX_JOB_TIMEOUT"])
            except Exception:
                redis.delete(flag)
                raise
        else:
            with _draining_lock:
                if name in _draining and not force:
                    return
                _draining.add(name)
            jobs.enqueue(drain, name)
    except Exception:  # noqa: BLE001 - e.g. Redis down; the rows are safe in the database
        with _draining_lock:
            _draining.discard(name)
        log.exception("Could not hand the %s rows to the job runner; they will be retried", name)


@jobs.app_job
def drain(name: str, now: datetime | None = None) -> int:
    """Run the due rows of the batch task `name`, a batch at a time, until none are left (or
    DRAIN_SECONDS have passed: then the next drain is handed over). Several drains may run
    side by side: each claims rows no other holds. Returns how many rows it ran."""
    if current_app.config["JOBS_MODE"] == "rq":
        jobs.redis_connection().delete(_drain_flag(name))
    else:
        with _draining_lock:
            _draining.discard(name)
    started = time.monotonic()
    ran = 0
    while claimed := _claim_batch(name, now or utcnow()):
        _run_claimed(name, claimed)
        ran += len(claimed)
        if time.monotonic() - started > DRAIN_SECONDS:
            _hand_over_drain(name)
            break
    return ran


def _claim_batch(name: str, now: datetime) -> list[tuple[int, dict[str, Any], int]]:
    """Claim up to the task's batch of due pending rows, oldest first, skipping rows another
    runner has locked; (id, args, attempts) of each, committed as running. A row run before
    (it failed, or its runner died) is claimed alone, first: a row that kills its worker must
    not hold up, or count against, the rows claimed with it."""
    due_rows = (
        sa.select(OutboxJob.id)
        .where(OutboxJob.task == name, OutboxJob.state == PENDING, OutboxJob.run_after <= now)
        .order_by(OutboxJob.id)
        .with_for_update(skip_locked=True)
    )
    # Two statements: with the locking SELECT as a subquery of the UPDATE, PostgreSQL claimed
    # more rows than the LIMIT (tests/test_outbox.py, on PostgreSQL).
    size = _BATCH[name]
    if size == 1:  # a drained task: every row is claimed alone anyway, oldest first
        due = db.session.scalars(due_rows.limit(1)).all()
    else:
        due = db.session.scalars(due_rows.where(OutboxJob.attempts > 0).limit(1)).all()
        if not due:
            due = db.session.scalars(due_rows.where(OutboxJob.attempts == 0).limit(size)).all()
    if not due:
        db.session.commit()
        return []
    rows = db.session.execute(
        sa.update(OutboxJob)
        .where(OutboxJob.id.in_(due), OutboxJob.state == PENDING)
        .values(state=RUNNING, claimed_at=now, attempts=OutboxJob.attempts + 1)
        .returning(OutboxJob.id, OutboxJob.args, OutboxJob.attempts)
        .execution_options(synchronize_session=False)
    ).all()
    db.session.commit()
    return sorted((row.id, dict(row.args), row.attempts) for row in rows)


def _run_claimed(name: str, claimed: Sequence[tuple[int, dict[str, Any], int]]) -> None:
    """Run claimed rows of one task and record each row's result."""
    func = _TASKS[name]
    try:
        if name in _BATCH and name not in _EACH:
            errors = list(cast("Sequence[str | None]", func([args for _, args, _ in claimed])))
            if len(errors) != len(claimed):
                raise RuntimeError(f"{name} returned {len(errors)} results for {len(claimed)}")
        else:
            ((_, args, _),) = claimed
            func(**args)
            errors = [None]
    except Exception as error:  # noqa: BLE001 - recorded on the rows and retried
        db.session.rollback()
        errors = [f"{type(error).__name__}: {error}"] * len(claimed)
    finished = utcnow()
    done = {"state": DONE, "finished_at": finished, "last_error": None}
    plain: list[int] = []  # done, nothing of theirs to erase: one UPDATE for them all
    for (job_id, args, attempts), failure in zip(claimed, errors, strict=True):
        if failure is not None:
            _failed(job_id, attempts, failure, name, args)
        elif (erased := _erased(name, args)) is not None:
            _set([job_id], done | {"args": erased})
        else:
            plain.append(job_id)
    if plain:
        _set(plain, done)
    db.session.commit()


def _set(job_ids: Sequence[int], values: dict[str, Any]) -> None:
    db.session.execute(
        sa.update(OutboxJob)
        .where(OutboxJob.id.in_(job_ids))
        .values(**values)
        .execution_options(synchronize_session=False)
    )


# --- running a row ---------------------------------------------------------------------------


@jobs.app_job
def run(job_id: int, now: datetime | None = None) -> None:
    """Claim the row, run its task, record the result. Does nothing for a row that is done,
    failed, claimed by another runner, or not yet due (at `now`)."""
    now = now or utcnow()
    claimed = _updated(
        sa.update(OutboxJob)
        .where(OutboxJob.id == job_id, OutboxJob.state == PENDING, OutboxJob.run_after <= now)
        .values(state=RUNNING, claimed_at=now, attempts=OutboxJob.attempts + 1)
    )
    db.session.commit()
    if claimed != 1:
        return
    row = db.session.get(OutboxJob, job_id, populate_existing=True)
    assert row is not None
    _run_claimed(row.task, [(job_id, dict(row.args), row.attempts)])


def _failed(
    job_id: int, attempts: int, error: str, name: str = "", args: dict[str, Any] | None = None
) -> None:
    final = attempts >= current_app.config["OUTBOX_MAX_ATTEMPTS"]
    delay = BACKOFF_SECONDS[min(attempts, len(BACKOFF_SECONDS)) - 1]
    values: dict[str, Any] = {"last_error": error[:2000]}
    logged = mask_personal_data(error)  # e.g. an SMTP refusal quotes the citizen's address
    if final:
        values.update(state=FAILED, finished_at=utcnow())
        if (erased := _erased(name, args or {})) is not None:
            values["args"] = erased
        log.error("Outbox job %s failed for good after %s attempts: %s", job_id, attempts, logged)
    else:
        values.update(state=PENDING, run_after=utcnow() + timedelta(seconds=delay))
        log.warning(
            "Outbox job %s failed (attempt %s), retried in %s s: %s",
            job_id,
            attempts,
            delay,
            logged,
        )
    _set([job_id], values)
    db.session.commit()


# --- recovery and health ---------------------------------------------------------------------


@jobs.app_job
def recover(now: datetime | None = None) -> int:
    """Hand over pending rows that are due and were not run (their process died after the
    commit, the queue was down, a retry is due), and free rows whose runner died while running
    them. Idempotent; runs every minute. Returns how many rows were handed over."""
    now = now or utcnow()
    config = current_app.config
    stuck = now - timedelta(seconds=config["OUTBOX_STUCK_SECONDS"])
    db.session.execute(
        sa.update(OutboxJob)
        .where(OutboxJob.state == RUNNING, OutboxJob.claimed_at < stuck)
        .values(state=PENDING, run_after=now)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    # A fresh row is normally handed over by its own commit: leave it that long.
    settled = now - timedelta(seconds=config["OUTBOX_GRACE_SECONDS"])
    rows = db.session.execute(
        sa.select(OutboxJob.id, OutboxJob.task)
        .where(
            OutboxJob.state == PENDING,
            OutboxJob.run_after <= now,
            sa.or_(OutboxJob.created_at <= settled, OutboxJob.attempts > 0),
        )
        .order_by(OutboxJob.run_after)
        .limit(config["OUTBOX_RECOVER_BATCH"])
    ).all()
    if config["JOBS_MODE"] == "eager":
        for job_id, _ in rows:
            run(job_id, now)
    else:
        # Forced: a drain whose flag is set may have been lost (a worker killed before it
        # started it, Redis emptied of its queue); the flag lives DRAIN_FLAG_SECONDS at most.
        _hand_over_all([(job_id, name) for job_id, name in rows], force=True)
    return len(rows)


def _updated(statement: sa.Update) -> int:
    """Run an UPDATE; how many rows it changed (the claim's test)."""
    # An UPDATE without RETURNING gives a CursorResult; Session.execute is typed as Result.
    result = cast(
        "sa.CursorResult[Any]",
        db.session.execute(statement.execution_options(synchronize_session=False)),
    )
    return result.rowcount


def init_app(app: Flask) -> None:
    if app.config["OUTBOX_STUCK_SECONDS"] <= app.config["OUTBOX_JOB_TIMEOUT"]:
        log.warning(
            "OUTBOX_STUCK_SECONDS (%s) is not above OUTBOX_JOB_TIMEOUT (%s): a slow job may be run "
            "a second time while it still runs",
            app.config["OUTBOX_STUCK_SECONDS"],
            app.config["OUTBOX_JOB_TIMEOUT"],
        )
    periodic.register(recover, seconds=60)
    app.after_request(_dispatch_after_request)


def _dispatch_after_request(response: Any) -> Any:
    dispatch()
    return response
