"""Gallring runs: the dry run (what would go, what is held back and why, a sample) and the real
run, which anonymises the due cases in batches.

Every run is a ``retention_runs`` row (who, when, dry or not, counts per rule and case type,
skipped counts, finished or failed), started from the admin page, the API, the CLI or the
schedule. The work itself runs as the outbox task ``retention.run``: a slice of batches at a
time (``RETENTION_SLICE_SECONDS``), then the task queues its own continuation, so a long run
never exceeds a job's time limit; the CLI runs the whole loop in its own process.

Restartable and safe against two workers:
- each batch (``RETENTION_BATCH`` cases) is one transaction: the cases' anonymisation, their
  ``case_retention`` marks and the run's counters commit together or not at all;
- a run goes on from its keyset position (``last_case_id``); a crash loses at most the batch in
  flight, which the resumed run (the outbox re-runs a task whose worker died) does again;
- the batch is selected ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, and the marks are checked again
  once the rows are locked, so a second worker never processes a case twice.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import current_app

from kontaktcenter.cases.models import Case
from kontaktcenter.compliance import anonymise
from kontaktcenter.compliance.retention_models import (
    CaseRetention,
    RetentionRun,
    RunState,
)
from kontaktcenter.compliance.retention_selection import (
    RuleSet,
    block_reason,
    due_clause,
)
from kontaktcenter.core import audit, outbox
from kontaktcenter.core.errors import Conflict
from kontaktcenter.core.extensions import db, upsert, utcnow
from kontaktcenter.organisation.models import CaseType, User
from kontaktcenter.search.indexing import prune_name_words

log = logging.getLogger(__name__)

TASK = "retention.run"
SAMPLE_SIZE = 20
TRIGGERS = ("admin", "api", "cli", "schedule")
UNFINISHED = (RunState.QUEUED, RunState.RUNNING)


def _batch_size() -> int:
    return int(current_app.config.get("RETENTION_BATCH", 500))


# --- starting --------------------------------------------------------------------------------


_START_LOCK = 0x6A11_0001  # the advisory lock that makes starting a real run one at a time


def start(*, dry_run: bool, trigger: str, by: User | None, dispatch: bool = True) -> RetentionRun:
    """Log a new run and queue it (the outbox task). A real run is refused while another real
    run is unfinished: two would be safe, but one is enough."""
    assert trigger in TRIGGERS
    if not dry_run and db.session.get_bind().dialect.name == "postgresql":
        # Two requests at once would both find no unfinished run: the check and the insert
        # are one at a time (until this transaction ends). SQLite has one writer anyway.
        db.session.execute(sa.select(sa.func.pg_advisory_xact_lock(_START_LOCK)))
    if not dry_run and unfinished_real_run() is not None:
        raise Conflict("En gallring pågår redan. Vänta tills den är klar.")
    run = RetentionRun(
        dry_run=dry_run,
        trigger=trigger,
        requested_by_id=by.id if by else None,
        as_of=utcnow(),
        state=RunState.QUEUED,
    )
    db.session.add(run)
    db.session.flush()
    audit.add(by, "retention_dry_run" if dry_run else "retention_run", run=run.id)
    if dispatch:
        outbox.add(TASK, run_id=run.id)
        outbox.commit()
    else:
        db.session.commit()
    return run


def resume(run: RetentionRun, by: User | None) -> RetentionRun:
    """Go on with a failed real run from where it stopped."""
    if run.state != RunState.FAILED:
        raise Conflict("Bara en misslyckad körning kan återupptas.")
    run.state = RunState.QUEUED
    run.error = None
    audit.add(by, "retention_resume", run=run.id)
    outbox.add(TASK, run_id=run.id)
    outbox.commit()
    return run


def unfinished_real_run() -> RetentionRun | None:
    return db.session.scalars(
        sa.select(RetentionRun)
        .where(~RetentionRun.dry_run, RetentionRun.state.in_(UNFINISHED))
        .order_by(RetentionRun.id)
        .limit(1)
    ).first()


# --- running ---------------------------------------------------------------------------------


@outbox.task(TASK)
def run_task(run_id: int) -> None:
    """The outbox task: one slice of the run, then its own continuation if work is left."""
    seconds = float(current_app.config.get("RETENTION_SLICE_SECONDS", 120))
    if execute(run_id, deadline=time.monotonic() + seconds) == "more":
        outbox.add(TASK, run_id=run_id)
        db.session.commit()


def execute(run_id: int, deadline: float | None = None, *, crash_after: int | None = None) -> str:
    """Run (or go on with) `run_id` until done or past `deadline` (monotonic seconds; None: no
    limit). Returns "done" (finished, failed, or nothing to do) or "more". `crash_after` is
    for the tests: raise after that many batches, as a killed process would stop."""
    if not _claim(run_id):
        return "done"
    run = db.session.get(RetentionRun, run_id)
    assert run is not None
    try:
        if run.dry_run:
            _dry_run(run)
            return "done"
        batches = 0
        while True:
            if not _batch(run):
                _finish(run)
                return "done"
            batches += 1
            if crash_after is not None and batches >= crash_after:
                raise SystemExit("simulated crash")
            if deadline is not None and time.monotonic() >= deadline:
                return "more"
    except SystemExit:
        db.session.rollback()
        raise
    except Exception as error:
        db.session.rollback()
        log.exception("Gallring run %s failed", run_id)
        _failed(run_id, error)
        return "done"


def _claim(run_id: int) -> bool:
    """Mark the run running (a queued one, or a running one whose worker died): False when it
    is finished or failed, so a repeated task does nothing."""
    now = utcnow()
    result = db.session.execute(
        sa.update(RetentionRun)
        .where(RetentionRun.id == run_id, RetentionRun.state.in_(UNFINISHED))
        .values(state=RunState.RUNNING, started_at=sa.func.coalesce(RetentionRun.started_at, now))
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return bool(getattr(result, "rowcount", 0))


def _finish(run: RetentionRun) -> None:
    if run.processed:
        prune_name_words(db.session())
    run.state = RunState.FINISHED
    run.finished_at = utcnow()
    db.session.commit()


def _failed(run_id: int, error: Exception) -> None:
    # The message names the error's type and text: hide_parameters keeps values out of SQL.
    db.session.execute(
        sa.update(RetentionRun)
        .where(RetentionRun.id == run_id)
        .values(
            state=RunState.FAILED,
            finished_at=utcnow(),
            error=f"{type(error).__name__}: {error}"[:2000],
        )
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def _type_names() -> dict[int | None, str]:
    names: dict[int | None, str] = {None: "Utan ärendetyp"}
    names.update(
        (row[0], row[1]) for row in db.session.execute(sa.select(CaseType.id, CaseType.name))
    )
    return names


def _add_count(
    counts: dict[str, Any], rules: RuleSet, type_name: str, case_type_id: int | None, n: int
) -> None:
    rule = rules.rule_for(case_type_id)
    assert rule is not None  # due only under a rule
    part = counts.setdefault(
        str(rule.id),
        {"rule": f"{rule.scope_label}: {rule.period_label}", "case_types": {}, "total": 0},
    )
    part["case_types"][type_name] = part["case_types"].get(type_name, 0) + n
    part["total"] += n


def _dry_run(run: RetentionRun) -> None:
    rules = RuleSet.load()
    names = _type_names()
    reason = block_reason().label("reason")
    counts: dict[str, Any] = {}
    skipped: dict[str, int] = {}
    for case_type_id, why, n in db.session.execute(
        sa.select(Case.case_type_id, reason, sa.func.count())
        .where(due_clause(rules, run.as_of))
        .group_by(Case.case_type_id, reason)
    ):
        if why is None:
            _add_count(counts, rules, names.get(case_type_id, "?"), case_type_id, n)
        else:
            skipped[why] = skipped.get(why, 0) + n
    sample = db.session.execute(
        sa.select(Case.reference, Case.closed_at, Case.case_type_id)
        .where(due_clause(rules, run.as_of), block_reason().is_(None))
        .order_by(Case.closed_at, Case.id)
        .limit(SAMPLE_SIZE)
    ).all()
    run.counts = counts
    run.skipped = skipped
    run.sample = [
        {
            "reference": row.reference,
            "closed_at": row.closed_at.isoformat(),
            "case_type": names.get(row.case_type_id, "?"),
        }
        for row in sample
    ]
    run.state = RunState.FINISHED
    run.finished_at = utcnow()
    db.session.commit()


def _batch(run: RetentionRun) -> bool:
    """Anonymise the next batch of due cases; False when there is none. One transaction, which
    first locks the run's row: two workers on one run take turns, each from the position the
    other committed."""
    locked = db.session.get(RetentionRun, run.id, with_for_update=True, populate_existing=True)
    assert locked is not None
    run = locked
    rules = RuleSet.load()
    query = (
        sa.select(Case.id, Case.case_type_id, Case.reference, Case.closed_at, block_reason())
        .where(due_clause(rules, run.as_of), Case.id > run.last_case_id)
        .order_by(Case.id)
        .limit(_batch_size())
    )
    if db.session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(of=Case, skip_locked=True)
    rows = db.session.execute(query).all()
    if not rows:
        db.session.rollback()
        return False
    due = {row.id: row for row in rows if row[4] is None}
    skipped = dict(run.skipped)
    for row in rows:
        if row[4] is not None:
            skipped[row[4]] = skipped.get(row[4], 0) + 1
    # Locked now: a case another worker finished meanwhile is left alone.
    if due:
        done = set(
            db.session.scalars(
                sa.select(CaseRetention.case_id).where(
                    CaseRetention.case_id.in_(sorted(due)), CaseRetention.gallrad_at.is_not(None)
                )
            )
        )
        for case_id in done:
            due.pop(case_id)
    ids = sorted(due)
    now = utcnow()
    anonymise.anonymise_cases(ids, db.session())
    if ids:
        _mark(ids, {i: rules.rule_for(due[i].case_type_id) for i in ids}, run, now)
    names = _type_names()
    counts = {k: {**part, "case_types": dict(part["case_types"])} for k, part in run.counts.items()}
    for case_id in ids:
        type_id = due[case_id].case_type_id
        _add_count(counts, rules, names.get(type_id, "?"), type_id, 1)
    sample = list(run.sample)
    for case_id in ids[: max(0, SAMPLE_SIZE - len(sample))]:
        row = due[case_id]
        sample.append(
            {
                "reference": row.reference,
                "closed_at": row.closed_at.isoformat(),
                "case_type": names.get(row.case_type_id, "?"),
            }
        )
    run.counts, run.skipped, run.sample = counts, skipped, sample
    run.processed += len(ids)
    run.last_case_id = rows[-1].id
    db.session.commit()
    return True


def _mark(ids: list[int], rule_of: dict[int, Any], run: RetentionRun, now: datetime) -> None:
    statement = upsert(CaseRetention)
    statement = statement.on_conflict_do_update(
        index_elements=["case_id"],
        set_={
            "gallrad_at": statement.excluded.gallrad_at,
            "rule_id": statement.excluded.rule_id,
            "run_id": statement.excluded.run_id,
        },
    )
    db.session.execute(
        statement,
        [
            {"case_id": i, "gallrad_at": now, "rule_id": rule_of[i].id, "run_id": run.id}
            for i in ids
        ],
    )


def run_to_end(run_id: int, progress: Callable[[RetentionRun], None] | None = None) -> None:
    """The CLI: the whole run in this process, with progress after each slice."""
    while execute(run_id, deadline=time.monotonic() + 10) == "more":
        run = db.session.get(RetentionRun, run_id)
        if progress is not None and run is not None:
            progress(run)
