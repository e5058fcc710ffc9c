"""The embedded default runs jobs in threads of the process that caused them: a command such as
``flask import-mail`` must finish that work (receipts and their delivery) before it exits,
or it is left to whenever the web process next runs its recovery."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import sqlalchemy as sa

from kontaktcenter.core import jobs
from tests.mailutil import SWEDISH

ROOT = Path(__file__).resolve().parent.parent
MESSAGES = ["01_bygglov_utf8_8bit.eml", "02_sophamtning_latin1_qp.eml"]


def test_import_mail_in_the_embedded_default_sends_its_receipts_before_it_exits(tmp_path):
    """The real command in its own process: SQLite, jobs in threads, nothing mocked."""
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'kc.db'}",
        "SECRET_KEY": "x" * 40,
        "KONTAKTCENTER_OUTBOX_DIR": str(tmp_path / "sent"),
        "FLASK_APP": "wsgi",
    }
    for name in ("REDIS_URL", "SMTP_URL", "KONTAKTCENTER_JOBS_MODE"):
        env.pop(name, None)
    flask = [sys.executable, "-m", "flask"]
    subprocess.run([*flask, "db", "upgrade"], env=env, cwd=ROOT, check=True, capture_output=True)
    result = subprocess.run(
        [*flask, "import-mail", *(str(SWEDISH / name) for name in MESSAGES)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "Nya ärenden: 2" in result.stdout
    engine = sa.create_engine(env["DATABASE_URL"])
    try:
        with engine.connect() as conn:
            states = conn.scalars(sa.text("SELECT state FROM outbox_jobs")).all()
    finally:
        engine.dispose()
    assert states and set(states) == {"done"}, states  # each receipt composed and delivered
    assert len(list((tmp_path / "sent").glob("*.eml"))) == len(MESSAGES)
    assert "Could not hand" not in result.stderr


def test_drain_reports_work_still_running_after_its_timeout(app, monkeypatch):
    monkeypatch.setitem(app.config, "JOBS_MODE", "thread")
    started, release = threading.Event(), threading.Event()

    def job() -> None:
        started.set()
        release.wait(5)

    with app.app_context():
        jobs.enqueue(job)
    started.wait(5)
    try:
        assert jobs.drain(timeout=0.05) is False
    finally:
        release.set()
    assert jobs.drain(timeout=5) is True
