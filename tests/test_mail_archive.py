"""``flask import-mail --keep-received-time`` (issue #13, item 6): history moved from an old
system keeps the time each message reached it; its cases are closed history, with no running
service goal (never breached), no receipt, and replies in the archive do not reopen them. The
default import is unchanged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from kontaktcenter.cases.enums import ActivityKind, CaseStatus
from kontaktcenter.cases.models import Case
from kontaktcenter.channels.email.models import Direction, MailKind, MailMessage
from kontaktcenter.core.extensions import db, utcnow
from kontaktcenter.core.outbox import OutboxJob
from kontaktcenter.goals.engine import NO_PROMISE
from kontaktcenter.goals.sweep import sweep
from tests.mailutil import make_mail

RECEIVED_2019 = datetime(2019, 3, 4, 10, 0, 5, tzinfo=UTC)  # the old server's Received, in UTC


def _archive(folder: Path) -> Path:
    folder.mkdir()
    (folder / "1.eml").write_bytes(
        make_mail(
            message_id="<arkiv-1@example.se>",
            subject="Fråga om bygglov 2019",
            when=datetime(2019, 3, 4, 9, 58, tzinfo=UTC),  # Date: when it was written
            headers={
                "Received": "from mx.gamla.example by mx.kommun.example with ESMTP id 1AbC;"
                " Mon, 4 Mar 2019 11:00:05 +0100"
            },
        )
    )
    (folder / "2.eml").write_bytes(
        make_mail(
            message_id="<arkiv-2@example.se>",
            in_reply_to="<arkiv-1@example.se>",
            subject="Re: Fråga om bygglov 2019",
            when=datetime(2019, 3, 6, 8, 0, tzinfo=UTC),
        )
    )
    (folder / "3.eml").write_bytes(
        make_mail(
            sender="bo@example.se",
            message_id="<arkiv-3@example.se>",
            subject="Buller förra veckan",
            when=utcnow().replace(microsecond=0) - timedelta(days=7),
        )
    )
    return folder


@pytest.fixture
def import_mail(app, db_session, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "OUTBOX_DIR", str(tmp_path / "outbox"))
    runner = app.test_cli_runner()

    def run(*args: str):
        result = runner.invoke(args=["import-mail", *args])
        assert result.exit_code == 0, result.output
        return result

    return run


def _case(message_id: str) -> Case:
    return db.session.scalars(
        sa.select(Case).join(MailMessage).where(MailMessage.message_id == message_id)
    ).one()


def test_an_archive_keeps_its_received_times_and_becomes_closed_history(import_mail, tmp_path):
    import_mail("--keep-received-time", str(_archive(tmp_path / "arkiv")))

    case = _case("<arkiv-1@example.se>")
    assert case.received_at == RECEIVED_2019  # the old server's time, not the import's
    assert (case.status, case.closed_at) == (CaseStatus.CLOSED, RECEIVED_2019)
    assert case.due_at == NO_PROMISE
    assert case.goals and all(g.cancelled_at is not None for g in case.goals)
    assert not any(g.met_at or g.breached_at for g in case.goals)
    kinds = [a.kind for a in case.activities]
    assert ActivityKind.REOPENED not in kinds and ActivityKind.STATUS_CHANGED not in kinds
    (closed,) = [a for a in case.activities if a.kind == ActivityKind.CLOSED]
    assert "Importerat från arkiv" in closed.text and "2019-03-04 11:00" in closed.text
    # The archive's reply joins its thread without reopening it, and keeps its own time.
    reply = db.session.scalars(
        sa.select(MailMessage).where(MailMessage.message_id == "<arkiv-2@example.se>")
    ).one()
    assert reply.case_id == case.id and case.status == CaseStatus.CLOSED
    assert reply.received_at == datetime(2019, 3, 6, 8, 0, tzinfo=UTC)
    recent = _case("<arkiv-3@example.se>")
    assert recent.status == CaseStatus.CLOSED and recent.due_at == NO_PROMISE

    # Nobody gets a receipt for history, and no goal of it is ever breached or alerted.
    outbound = db.session.scalars(
        sa.select(MailMessage).where(MailMessage.direction == Direction.OUTBOUND)
    ).all()
    assert outbound == []
    assert not (tmp_path / "outbox").exists() or not list((tmp_path / "outbox").iterdir())
    assert sweep(utcnow() + timedelta(days=30)).breached == []
    alerts = db.session.scalars(
        sa.select(OutboxJob).where(
            OutboxJob.task.in_(("goals.send_alert", "email.send_acknowledgement"))
        )
    ).all()
    assert alerts == []


def test_the_default_import_still_counts_old_mail_as_received_now(import_mail, tmp_path):
    before = utcnow()
    import_mail(str(_archive(tmp_path / "arkiv")))

    case = _case("<arkiv-1@example.se>")
    assert case.received_at >= before  # more than five years back: not believed
    assert case.status == CaseStatus.NEW and case.due_at != NO_PROMISE
    assert _case("<arkiv-3@example.se>").status == CaseStatus.NEW
    receipts = db.session.scalars(
        sa.select(MailMessage.recipient).where(MailMessage.kind == MailKind.ACKNOWLEDGEMENT)
    ).all()
    assert set(receipts) == {"anna@example.se", "bo@example.se"}
