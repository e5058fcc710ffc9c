"""Background jobs through real Redis and a real RQ worker process (`flask worker --burst`),
the way production runs them: the web side enqueues after its commit, a forking worker with its
own database connections runs the job."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

from kontaktcenter.extensions import db
from kontaktcenter.models import MailKind, MailMessage, MailStatus
from kontaktcenter.services.mail_intake import ingest
from tests.conftest import redis_url
from tests.mailutil import make_mail

ROOT = Path(__file__).resolve().parent.parent


def test_acknowledgement_is_sent_by_an_rq_worker(app, committed_db, database_url, tmp_path):
    url = redis_url()
    saved = {key: app.config[key] for key in ("JOBS_MODE", "REDIS_URL", "OUTBOX_DIR")}
    app.config.update(JOBS_MODE="rq", REDIS_URL=url, OUTBOX_DIR=str(tmp_path))
    app.extensions["kontaktcenter.jobs"].pop("redis", None)
    try:
        result = ingest(make_mail(message_id="<rq1@example.se>"))
        assert result.result == "created"
        ack = sa.select(MailMessage).where(MailMessage.kind == MailKind.ACKNOWLEDGEMENT)
        assert db.session.scalars(ack).first() is None  # queued in Redis, not run here

        env = dict(os.environ)
        env.update(
            DATABASE_URL=database_url,
            REDIS_URL=url,
            SECRET_KEY="x" * 40,
            KONTAKTCENTER_OUTBOX_DIR=str(tmp_path),
            KONTAKTCENTER_INSTANCE_PATH=str(tmp_path / "instance"),
        )
        worker = subprocess.run(
            [sys.executable, "-m", "flask", "--app", "wsgi", "worker", "--burst"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert worker.returncode == 0, worker.stderr[-2000:]
        assert "Successfully completed" in worker.stdout + worker.stderr

        db.session.rollback()  # end our read transaction: see what the worker committed
        sent = db.session.scalars(ack).one()
        assert sent.status == MailStatus.SENT and sent.recipient == "anna@example.se"
        assert list(tmp_path.glob("*.eml")), "the worker wrote the receipt to the outbox"
    finally:
        app.config.update(saved)
        app.extensions["kontaktcenter.jobs"].pop("redis", None)
