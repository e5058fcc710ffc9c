"""Background jobs through real Redis and a real RQ worker process (`flask worker --burst`),
the way production runs them: the web side enqueues after its commit, a forking worker with its
own database connections runs the job. The Redis db may be shared with other runs: this run
has a queue of its own (``JOB_QUEUE``), and the worker listens on that one only."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

from kontaktcenter.channels.email.intake import ingest
from kontaktcenter.channels.email.models import MailKind, MailMessage, MailStatus
from kontaktcenter.core.extensions import db
from tests.conftest import redis_url
from tests.mailutil import make_mail

ROOT = Path(__file__).resolve().parent.parent


def test_acknowledgement_is_sent_by_an_rq_worker(app, committed_db, database_url, tmp_path):
    url = redis_url()
    saved = {key: app.config[key] for key in ("JOBS_MODE", "REDIS_URL", "OUTBOX_DIR")}
    app.config.update(JOBS_MODE="rq", REDIS_URL=url, OUTBOX_DIR=str(tmp_path))
    app.extensions["kontaktcenter.core.jobs"].pop("redis", None)
    try:
        result = ingest(make_mail(message_id="<rq1@example.se>"))
        assert result.result == "created"
        ack = sa.select(MailMessage).where(MailMessage.kind == MailKind.ACKNOWLEDGEMENT)
        assert db.session.scalars(ack).first() is None  # queued in Redis, not run here

        worker = _burst_worker(app, url, database_url, tmp_path)
        assert worker.returncode == 0, worker.stderr[-2000:]
        assert "Successfully completed" in worker.stdout + worker.stderr
        assert app.config["JOB_QUEUE"] in worker.stdout + worker.stderr, "not this run's queue"

        db.session.rollback()  # end our read transaction: see what the worker committed
        sent = db.session.scalars(ack).one()
        assert sent.status == MailStatus.SENT and sent.recipient == "anna@example.se"
        assert list(tmp_path.glob("*.eml")), "the worker wrote the receipt to the outbox"
    finally:
        app.config.update(saved)
        app.extensions["kontaktcenter.core.jobs"].pop("redis", None)


def test_mail_stored_first_is_filed_by_one_drain_job_per_backlog(
    app, committed_db, database_url, tmp_path
):
    """Twenty messages handed in with `Prefer: respond-async` enqueue one drain job, not
    twenty, and a real worker files them all."""
    from kontaktcenter.core import jobs
    from kontaktcenter.core.roles import Role
    from tests.api_client import api_as
    from tests.factories import make_user

    url = redis_url()
    saved = {key: app.config[key] for key in ("JOBS_MODE", "REDIS_URL", "OUTBOX_DIR")}
    app.config.update(JOBS_MODE="rq", REDIS_URL=url, OUTBOX_DIR=str(tmp_path))
    app.extensions["kontaktcenter.core.jobs"].pop("redis", None)
    try:
        queue = jobs.rq_queue(app)
        queue.empty()
        api = api_as(app.test_client(), make_user(Role.AGENT))  # real commits: not `client`
        ids = []
        for n in range(20):
            response = api.open(
                "POST",
                "/inbound/email",
                data=make_mail(message_id=f"<drain{n}@example.se>", subject=f"Fråga {n}"),
                content_type="message/rfc822",
                headers={"Prefer": "respond-async"},
            )
            assert response.status_code == 202
            ids.append(response.get_json()["id"])
        assert [job.func_name for job in queue.get_jobs()] == ["kontaktcenter.core.outbox.drain"]
        db.session.rollback()  # end our read transaction: SQLite would lock the worker out

        worker = _burst_worker(app, url, database_url, tmp_path)
        assert worker.returncode == 0, worker.stderr[-2000:]

        db.session.rollback()
        filed = db.session.scalars(sa.select(MailMessage).where(MailMessage.id.in_(ids))).all()
        assert sorted(message.id for message in filed) == sorted(ids)
        assert {message.status for message in filed} == {MailStatus.RECEIVED}
        assert len({message.case_id for message in filed}) == 20
    finally:
        app.config.update(saved)
        app.extensions["kontaktcenter.core.jobs"].pop("redis", None)


def _burst_worker(app, url: str, database_url: str, tmp_path: Path):
    """`flask worker --burst` in a process of its own, on this run's queue, to the end."""
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url,
        REDIS_URL=url,
        SECRET_KEY="x" * 40,
        KONTAKTCENTER_OUTBOX_DIR=str(tmp_path),
        KONTAKTCENTER_INSTANCE_PATH=str(tmp_path / "instance"),
        KONTAKTCENTER_JOB_QUEUE=app.config["JOB_QUEUE"],
    )
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "worker", "--burst"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
