"""Crash test of the transactional outbox, with real processes on PostgreSQL and Redis.

`flask import-mail` and two RQ workers (`flask worker`) run at the same time and are killed with
SIGKILL at random moments of the import (half of them just after one of its commits), several
rounds over, and started again (import-mail on the same files: what was filed before is recognised
as a duplicate). Redis then loses its queue, and `outbox.recover()` with burst workers finishes
what the dead processes left. It proves that crashes at random points lose or
double nothing: every mail is exactly one case, every case has exactly one receipt, sent, and
every outbox row is done. A failure names its seed: rerun it with KONTAKTCENTER_CRASH_SEED=<seed>.
"""

from __future__ import annotations

import itertools
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from email import message_from_bytes
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade

from kontaktcenter import create_app
from kontaktcenter.cases.models import Case
from kontaktcenter.channels.email.models import Direction, MailKind, MailMessage, MailStatus
from kontaktcenter.core import jobs, outbox
from kontaktcenter.core.config import TestConfig
from kontaktcenter.core.extensions import db
from kontaktcenter.core.outbox import OutboxJob
from tests.conftest import JOB_QUEUE, delete_run_redis_keys, postgres_url, redis_url
from tests.mailutil import make_mail

pytestmark = pytest.mark.postgres
ROOT = Path(__file__).resolve().parent.parent
MAILS = 120
WORKERS = 2
KILL_ROUNDS = 8  # rounds that end in SIGKILL; the next import-mail is let finish
# A guard against a hang, not a speed target: every wait is bounded by what is left of it.
# Under a loaded machine (two cores, other suites) the whole test has taken up to ~100 s.
TIME_LIMIT = 300
# Recover at once and free rows after 1 s; many small transactions.
SETTINGS = {"OUTBOX_GRACE_SECONDS": 0, "OUTBOX_STUCK_SECONDS": 1, "MAIL_BATCH_MESSAGES": 3}


def _descendants(pid: int) -> list[int]:
    """The processes below `pid` (an RQ worker's work horse and scheduler), read from /proc."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile
        if ppid == pid:
            children.append(int(stat.parent.name))
    return children + [d for child in children for d in _descendants(child)]


def _kill(proc: subprocess.Popen) -> None:
    """SIGKILL `proc` and all it started: a work horse has a process group of its own and would
    otherwise finish its job as an orphan. Stopped first, so that it forks nothing more."""
    if proc.poll() is None:
        try:
            os.kill(proc.pid, signal.SIGSTOP)
            for pid in [proc.pid, *_descendants(proc.pid)]:
                os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait(timeout=10)


def _cases() -> int:
    try:  # a fresh snapshot each time: what the processes have committed by now
        return db.session.scalar(sa.select(sa.func.count()).select_from(Case))
    finally:
        db.session.rollback()


def _outbox() -> Counter[str]:
    try:  # the outbox rows per state, as committed by now
        return Counter(db.session.scalars(sa.select(OutboxJob.state)))
    finally:
        db.session.rollback()


def test_killed_importers_and_workers_lose_and_double_nothing(tmp_path):
    seed = int(os.environ.get("KONTAKTCENTER_CRASH_SEED") or random.randrange(2**32))
    rng, deadline = random.Random(seed), time.monotonic() + TIME_LIMIT
    log: list[str] = []

    def note(line: str) -> None:  # printed as it happens: shown with a failure, even a timeout
        log.append(line)
        print(f"{time.strftime('%H:%M:%S')} {TIME_LIMIT - left():5.1f} s  {line}")

    def left() -> float:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"over {TIME_LIMIT} s, seed={seed}\n" + "\n".join(log)
        return remaining

    note(f"seed={seed}")
    url, redis = postgres_url("kontaktcenter_crash"), redis_url()
    queue, outdir, maildir = f"{JOB_QUEUE}_crash", tmp_path / "outbox", tmp_path / "mail"
    maildir.mkdir()
    senders = {f"<crash{i}@example.se>": f"medborgare{i}@example.se" for i in range(MAILS)}
    for i, (message_id, sender) in enumerate(senders.items()):
        raw = make_mail(sender=sender, message_id=message_id, subject=f"Fråga nummer {i}")
        (maildir / f"{i:03}.eml").write_bytes(raw)
    app = create_app(
        TestConfig,
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "JOBS_MODE": "rq",  # recover() hands rows to the queue of the worker processes
            "REDIS_URL": redis,
            "JOB_QUEUE": queue,
            "OUTBOX_DIR": str(outdir),
            **SETTINGS,
        },
    )
    env = dict(
        os.environ,
        DATABASE_URL=url,
        REDIS_URL=redis,
        SECRET_KEY="x" * 40,
        KONTAKTCENTER_INSTANCE_PATH=str(tmp_path / "instance"),
        KONTAKTCENTER_JOB_QUEUE=queue,
        KONTAKTCENTER_OUTBOX_DIR=str(outdir),
        # Read as JSON by from_prefixed_env: "0" is the int 0.
        **{f"KONTAKTCENTER_{key}": str(value) for key, value in SETTINGS.items()},
    )
    procs: list[subprocess.Popen] = []

    def start(*args: str) -> subprocess.Popen:
        command = [sys.executable, "-m", "flask", "--app", "wsgi", *args]
        with open(tmp_path / f"{len(procs):03}-{args[0]}.log", "wb") as out:
            procs.append(subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=out))
        return procs[-1]

    def finished(proc: subprocess.Popen) -> None:
        (path,) = tmp_path.glob(f"{procs.index(proc):03}-*.log")
        quit_at = None
        while proc.poll() is None and left():
            # rq 3.0 with redis-py 8.2 may hang up to 60 s after "done, quitting": its pubsub
            # thread can go back to a 60 s read before Worker.unsubscribe() stops it.
            if quit_at is None and "done, quitting" in path.read_text(errors="replace"):
                quit_at = time.monotonic()
            if quit_at is not None and time.monotonic() - quit_at > 3:
                note(f"{proc.args[5:]} hung after its last job: killed")
                _kill(proc)
                return
            time.sleep(0.1)
        failure = f"{proc.args[5:]} exited {proc.returncode}\n{path.read_text()[-3000:]}"
        assert proc.returncode == 0, "\n".join([*log, failure])

    context = app.app_context()
    context.push()
    try:
        upgrade(directory=str(ROOT / "migrations"))
        # 1. Import with the workers running. Once a round's import-mail is seen to commit,
        # kill it and some of the workers, at once (just after that commit) or at a random
        # moment later; start them again, until an import-mail run finishes.
        workers: list[subprocess.Popen] = []
        for round_ in itertools.count(1):
            workers = [w for w in workers if w.poll() is None]
            workers += [start("worker") for _ in range(WORKERS - len(workers))]
            importer, before = start("import-mail", str(maildir)), _cases()
            if round_ > KILL_ROUNDS:
                finished(importer)
                note(f"round {round_}: import-mail finished")
                break
            while importer.poll() is None and _cases() == before and left():
                time.sleep(0.005)
            delay = rng.choice([0.0, rng.uniform(0, 0.4)])  # 0: between two of its commits
            time.sleep(delay)
            if importer.poll() is not None:
                finished(importer)
                note(f"round {round_}: import-mail finished before it was killed")
                break
            victims = [importer] + [w for w in workers if rng.random() < 0.5]
            for proc in victims:
                _kill(proc)
            note(
                f"round {round_}: killed import-mail {delay:.2f} s after a commit, at"
                f" {_cases()} cases, and {len(victims) - 1} worker(s); outbox: {dict(_outbox())}"
            )
        time.sleep(rng.uniform(0, 1.0))  # the last workers die at a random moment, too
        for worker in workers:
            _kill(worker)
        # Redis loses what was queued (a restart without persistence): the rows must suffice.
        jobs.rq_queue(app).empty()
        note(f"workers killed, queue emptied; outbox: {dict(_outbox())}")
        on_disk = {message_from_bytes(p.read_bytes())["Message-ID"] for p in outdir.glob("*.eml")}
        queued = sa.select(MailMessage.message_id).where(MailMessage.status == MailStatus.QUEUED)
        # Written by a worker killed before its commit: recovery writes them again.
        note(f"receipts written, not marked sent: {len(on_disk & set(db.session.scalars(queued)))}")

        # 2. Recovery: rows left pending (their process died after the commit, before the
        # hand-over) or running (their worker died) go to burst workers until none is left.
        for _attempt in range(5):
            time.sleep(SETTINGS["OUTBOX_STUCK_SECONDS"] + 0.2)
            if not _outbox().keys() & {outbox.PENDING, outbox.RUNNING}:
                break
            outbox.recover()
            for burst in [start("worker", "--burst") for _ in range(WORKERS)]:
                finished(burst)
        note(f"recovered; outbox: {dict(_outbox())}")
        why = "\n".join(log)
        assert set(_outbox()) == {outbox.DONE}, why

        # 3. Every mail is exactly one case ...
        inbound = db.session.execute(
            sa.select(MailMessage.message_id, MailMessage.case_id).where(
                MailMessage.direction == Direction.INBOUND
            )
        ).all()
        assert sorted(message_id for message_id, _ in inbound) == sorted(senders), why
        case_of = dict(inbound)
        assert None not in case_of.values() and len(set(case_of.values())) == MAILS, why
        # ... with exactly one receipt, sent to the citizen.
        acks = db.session.scalars(
            sa.select(MailMessage).where(MailMessage.kind == MailKind.ACKNOWLEDGEMENT)
        ).all()
        doubled = {case: n for case, n in Counter(ack.case_id for ack in acks).items() if n > 1}
        assert not doubled, f"cases with more than one receipt: {doubled}\n{why}"
        missing = set(case_of.values()) - {ack.case_id for ack in acks}
        assert not missing, f"{len(missing)} cases without a receipt: {sorted(missing)}\n{why}"
        for ack in acks:
            assert ack.direction == Direction.OUTBOUND and ack.status == MailStatus.SENT, why
            assert ack.recipient == senders[ack.in_reply_to], why
        reruns = sa.select(OutboxJob.task).where(OutboxJob.attempts > 1)
        note(f"outbox rows claimed more than once: {dict(Counter(db.session.scalars(reruns)))}")

        # 4. The receipts reached the outbox directory: per case one file, with the Message-ID
        # of its receipt. A worker killed between writing a receipt and committing it as sent
        # writes it again (at least once, not exactly once), but the file is named by the
        # Message-ID, so the repeat replaces it: count distinct Message-IDs per case, not files.
        written: dict[str, set[str]] = defaultdict(set)  # the citizen's Message-ID -> receipts
        for path in outdir.glob("*.eml"):
            receipt = message_from_bytes(path.read_bytes())
            written[receipt["In-Reply-To"]].add(receipt["Message-ID"])
        assert written == {ack.in_reply_to: {ack.message_id} for ack in acks}, why
    finally:
        for proc in procs:
            _kill(proc)
        db.session.remove()
        db.engine.dispose()
        context.pop()
        if (connection := app.extensions["kontaktcenter.core.jobs"].pop("redis", None)) is not None:
            connection.close()
        delete_run_redis_keys(redis, queue)
